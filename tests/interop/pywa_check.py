"""Interop: pywa, a Cloud API client library from another project, against switchboard-wa-sim.

Run by `cargo xtask test` (which installs a pinned pywa into .tools/). Starts nothing itself: it is
given the simulator's port and token, and a port on which it receives the simulator's webhooks.
Checks that pywa sends text, reply buttons, a list, an image, a location, a reaction and a
template and parses every answer; that an unknown template and a burst over 80/s surface as
pywa's own errors (132001, 130429); and that the status webhooks verify with pywa's own
signature validator. Exits non-zero with a message on the first failure.
"""

import concurrent.futures
import http.server
import json
import sys
import threading
import urllib.request
from collections import Counter

from pywa import WhatsApp, errors, utils
from pywa.types import Button, Section, SectionList, SectionRow
from pywa.types.templates import TemplateLanguage

sim_port, token, app_secret, hook_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

received, bad = [], []


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = utils.webhook_updates_validator(app_secret, body, self.headers["X-Hub-Signature-256"])
        (received if ok else bad).append(json.loads(body))
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()


def check(condition, what):
    if not condition:
        print(f"pywa interop FAILED: {what}", file=sys.stderr)
        sys.exit(1)


wa = WhatsApp(phone_id="106540352242922", token=token)
version = str(wa.api._session.base_url).rstrip("/").rsplit("/", 1)[-1]
wa.api._session.base_url = f"http://127.0.0.1:{sim_port}/{version}"

# The customer writes first, so free-form replies are inside the 24-hour window.
req = urllib.request.Request(
    f"http://127.0.0.1:{sim_port}/_sim/inbound",
    data=json.dumps({"from": "16505551234", "name": "Py Wa", "text": "hello"}).encode(),
    headers={"content-type": "application/json"},
)
inbound = json.load(urllib.request.urlopen(req))["wamid"]

to = "16505551234"
sent = [
    wa.send_message(to=to, text="Hello from pywa"),
    wa.send_message(to=to, text="Pick one", buttons=[Button(title="Yes", callback_data="y"), Button(title="No", callback_data="n")]),
    wa.send_message(
        to=to,
        text="Shipping?",
        buttons=SectionList(button_title="Options", sections=[Section(title="Fast", rows=[SectionRow(title="Express", callback_data="x", description="Next day")])]),
    ),
    wa.send_image(to=to, image="https://example.com/a.jpg", caption="A photo"),
    wa.send_location(to=to, latitude=37.4847, longitude=-122.1481, name="Philz", address="Palo Alto"),
    wa.send_reaction(to=to, emoji="👍", message_id=inbound),
    wa.send_template(to=to, name="hello_world", language=TemplateLanguage.ENGLISH_US),
]
for message in sent:
    check(message.id.startswith("wamid."), f"a wamid in every answer, got {message.id!r}")

try:
    wa.send_template(to=to, name="no_such_template", language=TemplateLanguage.ENGLISH_US)
    check(False, "an unknown template must fail")
except errors.TemplateNotExists as e:
    check(e.code == 132001, f"132001 for an unknown template, got {e.code}")


def burst(i):
    try:
        wa.send_message(to=f"1650555{i:04d}", text="burst")
        return "ok"
    except errors.RateLimitHit as e:
        return f"rate:{e.code}"


with concurrent.futures.ThreadPoolExecutor(32) as pool:
    outcomes = Counter(pool.map(burst, range(300)))
check(outcomes["rate:130429"] > 0, f"a burst over 80/s surfaces as pywa's RateLimitHit (130429): {outcomes}")
check(set(outcomes) <= {"ok", "rate:130429"}, f"only successes and rate limits: {outcomes}")

# Status webhooks for the seven messages, verified by pywa's own validator.
deadline = __import__("time").time() + 20
ids = {m.id for m in sent}
while __import__("time").time() < deadline:
    seen = {s["id"] for b in received for e in b["entry"] for c in e["changes"] for s in c["value"].get("statuses", [])}
    if ids <= seen:
        break
    __import__("time").sleep(0.05)
check(not bad, f"{len(bad)} webhooks failed pywa's signature check")
check(ids <= seen, f"statuses for every message: missing {ids - seen}")
print(f"pywa interop: 7 message types sent and parsed, 132001 and 130429 typed, {len(received)} signed webhooks verified ({dict(outcomes)})")
