"""A third-party Switchboard client, written from docs/protocol.md and the OpenAPI document only.

It signs in over REST, opens the WebSocket API with a bearer token, follows the `tenant` stream,
receives a customer's message, replies with its own idempotency key, and sees the reply stored and
ticked. Then the network drops (the TCP connection is cut, no close frame) while customers keep
writing; it reconnects, subscribes with `after` = the last `seq` it processed, and checks it got
every missed event exactly once, in order, with no gap. Finally it resends its first reply with the
same key and checks nothing new went out.

Usage: protocol_client.py BASE_URL EMAIL PASSWORD CUSTOMER_HOOK_URL
CUSTOMER_HOOK_URL is the harness's way to make a customer write (the simulator's /_sim/inbound).
Exits non-zero, with the reason, on any deviation from the documented protocol.
"""

import json
import socket
import sys
import time
import urllib.request

from websockets.sync.client import connect

BASE, EMAIL, PASSWORD, CUSTOMER_HOOK = sys.argv[1:5]
WS_URL = BASE.replace("http://", "ws://", 1) + "/ws"
TIMEOUT = 15.0


def fail(message):
    print(f"protocol client: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        text = response.read()
        return response.status, (json.loads(text) if text else None)


def customer_writes(phone, text):
    http("POST", CUSTOMER_HOOK, {"from": phone, "name": "Protocol Client", "text": text})


class Stream:
    """One socket, with the documented frame handling: JSON text frames, each with a `type`."""

    def __init__(self, token):
        self.ws = connect(WS_URL, additional_headers={"Authorization": f"Bearer {token}"},
                          open_timeout=TIMEOUT)
        ready = self.next()
        if ready.get("type") != "ready" or ready.get("protocol") != 1:
            fail(f"expected ready for protocol 1, got {ready}")
        self.ready = ready

    def send(self, frame):
        self.ws.send(json.dumps(frame))

    def next(self, deadline=TIMEOUT):
        raw = self.ws.recv(timeout=deadline)
        if not isinstance(raw, str):
            fail("the server sent a binary frame")
        return json.loads(raw)

    def until(self, wanted, what):
        end = time.monotonic() + TIMEOUT
        seen = []
        while time.monotonic() < end:
            frame = self.next(max(0.1, end - time.monotonic()))
            seen.append(frame)
            if wanted(frame):
                return frame, seen
        fail(f"timed out waiting for {what}; saw {seen[-5:]}")

    def cut(self):
        """The network goes away: the TCP connection ends without a WebSocket close."""
        self.ws.socket.shutdown(socket.SHUT_RDWR)
        self.ws.socket.close()


def main():
    status, answer = http("POST", f"{BASE}/api/v1/auth/token", {"email": EMAIL, "password": PASSWORD})
    token = answer["token"]
    status, doc = http("GET", f"{BASE}/api/openapi.json")
    if doc.get("openapi", "").split(".")[0] != "3" or "/api/v1/conversations" not in doc["paths"]:
        fail("no usable OpenAPI document")

    stream = Stream(token)
    stream.send({"type": "subscribe", "topic": "tenant"})
    subscribed, _ = stream.until(lambda f: f.get("type") == "subscribed", "subscribed")
    last_seq = subscribed["seq"]

    def processed(frame):
        nonlocal last_seq
        if frame.get("type") == "event" and frame["topic"] == "tenant":
            if frame["seq"] != last_seq + 1:
                fail(f"live stream jumped from seq {last_seq} to {frame['seq']}")
            last_seq = frame["seq"]

    # A customer writes; the message arrives as an event.
    customer_writes("4930123456", "Guten Tag, protocol client here")
    inbound, seen = stream.until(
        lambda f: f.get("type") == "event" and f["event"]["kind"] == "message_stored"
        and f["event"]["direction"] == "inbound", "the customer's message")
    for f in seen:
        processed(f)
    conversation = inbound["event"]["conversation"]

    # Reply with our own key: acknowledged as queued, then stored with the same outbox id, then ticked.
    reply = {"type": "send_message", "id": "c1", "conversation": conversation,
             "text": "Hello from a third-party client", "key": "third-party-1"}
    stream.send(reply)
    outbox, stored, sent_tick = None, None, None
    end = time.monotonic() + TIMEOUT
    while (outbox is None or stored is None or sent_tick is None) and time.monotonic() < end:
        f = stream.next()
        processed(f)
        if f.get("type") == "error":
            fail(f"the reply was refused: {f}")
        if f.get("type") == "ack" and f.get("id") == "c1":
            if f.get("state") != "queued" or not f.get("outbox"):
                fail(f"ack should say queued with an outbox id: {f}")
            outbox = f["outbox"]
        elif f.get("type") == "event":
            e = f["event"]
            if e["kind"] == "message_stored" and e["direction"] == "outbound":
                stored = e
            elif e["kind"] == "status_changed" and stored and e["wamid"] == stored["wamid"]:
                sent_tick = e
    if outbox is None or stored is None or sent_tick is None:
        fail(f"ack {outbox}, stored {stored}, tick {sent_tick}")
    if stored.get("outbox") != outbox:
        fail(f"message_stored names outbox {stored.get('outbox')}, the ack {outbox}")
    status, send = http("GET", f"{BASE}/api/v1/sends/{outbox}", token=token)
    if send["state"] != "sent" or send["wamid"] != stored["wamid"]:
        fail(f"GET sends/{outbox}: {send}")

    # The network drops. Customers keep writing meanwhile.
    stream.cut()
    missed_texts = [f"while you were away {i}" for i in range(3)]
    for text in missed_texts:
        customer_writes("4930123456", text)

    # Reconnect and resume from the last seq processed.
    stream = Stream(token)
    stream.send({"type": "subscribe", "topic": "tenant", "after": last_seq})
    replayed = []
    while True:
        f = stream.next()
        if f.get("type") == "resync":
            fail(f"resync inside the documented window: {f}")
        if f.get("type") == "subscribed":
            resumed_at = f["seq"]
            break
        if f.get("type") == "event":
            replayed.append(f)
    seqs = [f["seq"] for f in replayed]
    if seqs != list(range(last_seq + 1, last_seq + 1 + len(seqs))):
        fail(f"replay is not contiguous after {last_seq}: {seqs}")
    if (seqs[-1] if seqs else last_seq) != resumed_at:
        fail(f"subscribed says seq {resumed_at}, replay ended at {seqs[-1] if seqs else last_seq}")
    last_seq = resumed_at
    # A message the server took just before we subscribed may still be on its way to the stream:
    # it then arrives live, right after `subscribed`. Either way: each once, in order, no gap.
    received = list(replayed)

    def texts():
        return [f["event"].get("text") for f in received
                if f["event"]["kind"] == "message_stored" and f["event"]["direction"] == "inbound"]

    end = time.monotonic() + TIMEOUT
    while any(t not in texts() for t in missed_texts) and time.monotonic() < end:
        f = stream.next()
        processed(f)
        if f.get("type") == "event":
            received.append(f)
    for text in missed_texts:
        if texts().count(text) != 1:
            fail(f"`{text}` arrived {texts().count(text)} times after the resume: {texts()}")

    # The first reply again, same key (a client unsure it went): the same send, nothing new.
    stream.send(dict(reply, id="c2"))
    ack, seen = stream.until(lambda f: f.get("type") == "ack" and f.get("id") == "c2", "the second ack")
    for f in seen:
        processed(f)
    if ack.get("outbox") != outbox or ack.get("state") != "sent" or ack.get("wamid") != stored["wamid"]:
        fail(f"a resent key should name the first send, sent: {ack}")
    # Live events continue from the resumed seq, and no second outbound message appears.
    customer_writes("4930123456", "one more")
    _, seen = stream.until(
        lambda f: f.get("type") == "event" and f["event"].get("text") == "one more", "a live event")
    for f in seen:
        processed(f)
        if f.get("type") == "event" and f["event"]["kind"] == "message_stored" \
                and f["event"]["direction"] == "outbound":
            fail(f"a resent key sent again: {f}")
    print(f"protocol client: OK (outbox {outbox}, resumed after a cut with {len(replayed)} "
          f"missed events, seq {last_seq})")


main()
