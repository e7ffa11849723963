//! What a WebSocket client sends: every frame decoded as the hub decodes it (`ClientFrame`, its
//! topics and commands). Must never panic, and a frame that decodes must encode and decode to
//! the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shared::protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text) {
        let _ = frame.id();
        let again = serde_json::to_string(&frame).expect("a decoded frame encodes");
        let back: ClientFrame = serde_json::from_str(&again).expect("an encoded frame decodes");
        assert_eq!(back, frame);
    }
});
