//! A new message template: any JSON an admin sends, checked against Meta's rules before it is
//! submitted. Must never panic; a refusal names a field, and a template that passes has a
//! body of at most 1,024 characters and at most 10 buttons.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::connector::templates;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match templates::check(&value) {
        Ok(()) => {
            let components = value["components"].as_array().expect("checked");
            for c in components {
                let kind = c["type"].as_str().unwrap_or_default().to_ascii_uppercase();
                if kind == "BODY" {
                    if let Some(text) = c["text"].as_str() {
                        assert!(text.chars().count() <= 1024);
                    }
                }
                if kind == "BUTTONS" {
                    assert!(c["buttons"].as_array().expect("checked").len() <= 10);
                }
            }
        }
        Err(problem) => assert!(!problem.field.is_empty()),
    }
});
