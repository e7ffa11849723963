//! Meta's published examples (../shared/fixtures/whatsapp, provenance in SOURCES.md) against the
//! connector: request bodies round-trip through our wire types unchanged, responses and errors
//! parse into typed values, every webhook parses, and the signing vectors verify.

use std::path::PathBuf;

use serde_json::Value;
use switchboard_server::connector::wire::{
    GraphErrorBody, MarkRead, MediaInfo, MediaUploaded, SendRequest, SendResponse, SuccessResponse,
};
use switchboard_server::connector::{signature, webhook, CloudApiError, ErrorKind};

#[allow(clippy::disallowed_methods)] // a test setting, not the server's configuration
fn fixtures() -> PathBuf {
    std::env::var_os("SWITCHBOARD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/whatsapp")
        })
}

fn json_files(dir: PathBuf, prefix: &str) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (name, value)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        !files.is_empty(),
        "no {prefix}* fixtures in {}",
        dir.display()
    );
    files
}

#[test]
fn every_request_example_round_trips_through_the_wire_types() {
    for (name, value) in json_files(fixtures().join("outbound"), "req_") {
        if name.starts_with("req_media_upload") {
            continue; // multipart form fields, not a JSON body
        }
        let back = if name.starts_with("req_mark_read") {
            let parsed: MarkRead =
                serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            serde_json::to_value(parsed).unwrap()
        } else {
            let parsed: SendRequest =
                serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            serde_json::to_value(parsed).unwrap()
        };
        let mut expected = value;
        if expected.get("type").is_none() && expected.get("text").is_some() {
            // Meta defaults a missing type to text; we always send it explicitly.
            expected["type"] = "text".into();
        }
        if let Some(location) = expected.get_mut("location") {
            // We send coordinates as strings, as Meta's OpenAPI document types them.
            for axis in ["latitude", "longitude"] {
                if let Some(n) = location[axis].as_f64() {
                    location[axis] = n.to_string().into();
                }
            }
        }
        assert_eq!(back, expected, "{name} changed in a round trip");
    }
}

#[test]
fn every_response_example_parses() {
    for (name, value) in json_files(fixtures().join("outbound"), "resp_") {
        if name.starts_with("resp_error") {
            let body: GraphErrorBody =
                serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let code = body.error.code;
            let error = CloudApiError::from_graph(400, body.error);
            let expected = name
                .trim_start_matches("resp_error_")
                .split('_')
                .next()
                .unwrap();
            assert_eq!(code.to_string(), expected, "{name}");
            if code == 130429 {
                assert_eq!(error.kind(), Some(ErrorKind::ThroughputLimit));
                assert!(error.is_retryable());
            }
        } else if name.starts_with("resp_send_success") {
            let r: SendResponse =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(r.messages[0].id.starts_with("wamid."), "{name}");
        } else if name.starts_with("resp_media_get_url") {
            let _: MediaInfo =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("resp_media_upload") {
            let _: MediaUploaded =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            let _: SuccessResponse =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn every_webhook_example_parses_into_events() {
    for (name, value) in json_files(fixtures(), "") {
        let body = serde_json::to_vec(&value).unwrap();
        let parsed = webhook::parse(&body, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!parsed.changes.is_empty(), "{name}");
        assert!(
            parsed.changes.iter().all(|c| !c.events.is_empty()),
            "{name}: a change produced no event"
        );
    }
}

#[test]
fn signing_vectors_verify() {
    let dir = fixtures().join("signing");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let secret = b"test_app_secret_0123456789abcdef";
    let mut checked = 0;
    for line in readme
        .lines()
        .filter(|l| l.contains(".wire.body") && l.contains("sha256="))
    {
        let cells: Vec<_> = line.split('|').map(str::trim).collect();
        let body = std::fs::read(dir.join(cells[1])).unwrap();
        assert!(signature::verify(secret, &body, cells[3]), "{}", cells[1]);
        assert_eq!(signature::sign(secret, &body), cells[3]);
        checked += 1;
    }
    assert_eq!(checked, 3);
}
