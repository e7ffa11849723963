// The Node.js `ws` baseline for switchboard-load's `fanout` and `idle_memory` scenarios: the same
// minimal hub protocol as the tokio-tungstenite baseline (see load-tests/src/baselines.rs).
//   subscribe: {"type":"subscribe","topic":"tenant"} -> {"type":"subscribed","topic":"tenant","seq":N}
//   publish:   {"type":"publish","event":{...}}      -> every subscriber: {"type":"event","topic":"tenant","seq":N,"event":{...}}
// A subscriber with more than 256 frames' worth of bytes unsent is closed with 4008, as Switchboard does.
// Usage: node ws-hub.mjs <port>
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
const QUEUE_FRAMES = 256;
const subscribers = new Set();
let seq = 0;

// No per-message deflate: Switchboard and the Rust hub do not compress either.
const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      ws.close(4002, "not JSON");
      return;
    }
    if (frame.type === "subscribe") {
      subscribers.add(ws);
      ws.send(`{"type":"subscribed","topic":"tenant","seq":${seq}}`);
    } else if (frame.type === "publish") {
      seq += 1;
      const out = `{"type":"event","topic":"tenant","seq":${seq},"event":${JSON.stringify(frame.event)}}`;
      const limit = out.length * QUEUE_FRAMES;
      for (const s of subscribers) {
        if (s.bufferedAmount > limit) {
          subscribers.delete(s);
          s.close(4008, "too slow");
        } else {
          s.send(out);
        }
      }
    }
  });
  ws.on("close", () => subscribers.delete(ws));
  ws.on("error", () => subscribers.delete(ws));
});
