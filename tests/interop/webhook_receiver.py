"""A third-party receiver of Switchboard's outbound webhooks, written from docs/webhooks.md only.

It verifies every delivery with Standard Webhooks' own Python library and the `whsec_` secret
Switchboard showed once, refuses what does not verify (400), processes each `webhook-id` once
(redeliveries and replays are acknowledged, not processed again), and appends one line per
request to OUT_FILE: `processed <webhook-id> <type> <wamid>`, `repeat <webhook-id>` or
`refused <reason>`.

Usage: webhook_receiver.py PORT SECRET OUT_FILE
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT, SECRET, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
verifier = Webhook(SECRET)
seen = set()
lock = threading.Lock()


def note(line):
    with lock, open(OUT, "a", encoding="utf-8") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            event = verifier.verify(body, headers)
        except WebhookVerificationError as e:
            note(f"refused {e}")
            self.send_response(400)
            self.end_headers()
            return
        webhook_id = headers["webhook-id"]
        with lock:
            first = webhook_id not in seen
            seen.add(webhook_id)
        if first:
            wamid = (event.get("data", {}).get("message") or {}).get("wamid", "-")
            note(f"processed {webhook_id} {event['type']} {wamid}")
        else:
            note(f"repeat {webhook_id}")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


print(f"listening on {PORT}", flush=True)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
