//! The webhook path as Meta's bytes meet it: the signature header checked against the body,
//! then the envelope and every change and message parsed (and each message's text and parts
//! read). Input: `header \0 body`. Must never panic; a valid signature of the body must verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::connector::{parts, signature, webhook};

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let secret = b"fuzz-app-secret";
    let header = String::from_utf8_lossy(header);
    let _ = signature::verify(secret, body, &header);
    assert!(signature::verify(
        secret,
        body,
        &signature::sign(secret, body)
    ));
    if let Ok(parsed) = webhook::parse(body, 1_700_000_000_000) {
        let _ = parsed.numbers().count();
        for change in &parsed.changes {
            let _ = format!("{change:?}");
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = parts::message_parts(text);
        let _ = parts::media_kind(text);
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            for kind in [
                "text",
                "image",
                "interactive",
                "button",
                "location",
                "contacts",
            ] {
                let _ = webhook::message_text(kind, &value);
            }
        }
    }
});
