//! docs/protocol.md is the contract third parties write clients from: every frame example in it
//! must be a frame the shared types accept, and every event example an event, so the document
//! cannot drift from the code.

use serde_json::Value;
use switchboard_shared::protocol::{ClientFrame, HubEvent, ServerFrame};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"));

/// Inline code spans that are frames: `{"type":…}`.
fn frame_examples() -> Vec<&'static str> {
    DOC.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("{\"type\":"))
        .collect()
}

#[test]
fn every_frame_example_is_a_frame_of_the_protocol() {
    let examples = frame_examples();
    assert!(
        examples.len() >= 20,
        "found only {} examples",
        examples.len()
    );
    for example in examples {
        if example.contains("{…}") {
            // An abbreviated event (`"event":{…}`); events are checked below.
            continue;
        }
        let value: Value =
            serde_json::from_str(example).unwrap_or_else(|e| panic!("not JSON: {example}: {e}"));
        let client = serde_json::from_value::<ClientFrame>(value.clone());
        let server = serde_json::from_value::<ServerFrame>(value);
        assert!(
            client.is_ok() || server.is_ok(),
            "neither a client nor a server frame: {example}\n client: {client:?}\n server: {server:?}"
        );
    }
}

#[test]
fn every_event_example_is_an_event() {
    let mut checked = 0;
    for block in DOC.split("```json").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        for value in serde_json::Deserializer::from_str(block).into_iter::<Value>() {
            let value = value.unwrap_or_else(|e| panic!("not JSON in a json block: {e}\n{block}"));
            if value.get("kind").is_some() {
                serde_json::from_value::<HubEvent>(value.clone())
                    .unwrap_or_else(|e| panic!("not an event: {value}: {e}"));
                checked += 1;
            } else if value.get("type").is_some() {
                serde_json::from_value::<ServerFrame>(value.clone())
                    .unwrap_or_else(|e| panic!("not a server frame: {value}: {e}"));
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "found only {checked} event examples");
}
