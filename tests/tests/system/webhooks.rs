//! The webhook receiver, end to end against the real `switchboard` binary: every Meta fixture,
//! redelivery, signatures, malformed and oversized bodies, the verification handshake, statuses
//! that never regress, and a crash with SIGKILL in the middle of concurrent deliveries.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use switchboard_e2e::{fixtures, sign, ServerProcess, APP_SECRET, VERIFY_TOKEN};

/// Every webhook fixture, as (file name, compact body).
fn webhook_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixtures directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let value: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::to_vec(&value).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 30,
        "expected Meta's fixtures, found {}",
        out.len()
    );
    out
}

/// What the export must say of each inbound fixture message: (wamid, type, text or caption).
fn expected_messages() -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for (_, body) in webhook_fixtures() {
        let v: Value = serde_json::from_slice(&body).unwrap();
        for change in v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["changes"].as_array().unwrap())
        {
            for m in change["value"]["messages"].as_array().into_iter().flatten() {
                let kind = m["type"].as_str().unwrap().to_owned();
                let text = match kind.as_str() {
                    "text" => m["text"]["body"].as_str(),
                    "image" | "video" | "document" => m[kind.as_str()]["caption"].as_str(),
                    _ => None,
                };
                out.push((
                    m["id"].as_str().unwrap().to_owned(),
                    kind,
                    text.map(str::to_owned),
                ));
            }
        }
    }
    out
}

#[test]
fn every_fixture_is_stored_once_with_its_type_and_text_and_redelivery_changes_nothing() {
    let server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    for (name, body) in webhook_fixtures() {
        assert_eq!(server.post_webhook(&body), 200, "{name}");
    }
    let first = server.export();
    let inbound: Vec<&Value> = first
        .iter()
        .filter(|r| r["direction"] == "inbound")
        .collect();
    let expected = expected_messages();
    assert_eq!(
        inbound.len(),
        expected.len(),
        "each inbound fixture message exactly once"
    );
    for (wamid, kind, text) in &expected {
        let found: Vec<_> = inbound
            .iter()
            .filter(|r| r["wamid"] == wamid.as_str() && r["type"] == kind.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{wamid} {kind}");
        if let Some(text) = text {
            assert_eq!(found[0]["text"], text.as_str(), "{wamid} {kind}");
        }
        for field in [
            "tenant",
            "number",
            "conversation_id",
            "customer",
            "status",
            "timestamp",
        ] {
            assert!(found[0][field].is_string(), "{field} in {}", found[0]);
        }
        assert_eq!(found[0]["tenant"], "demo");
    }
    // RFC 3339 UTC.
    assert_eq!(
        inbound.iter().find(|r| r["type"] == "order").unwrap()["timestamp"],
        "2025-06-16T17:52:05Z"
    );

    for (name, body) in webhook_fixtures() {
        assert_eq!(server.post_webhook(&body), 200, "redelivery of {name}");
    }
    assert_eq!(
        server.export(),
        first,
        "posting everything again changes nothing"
    );
}

#[test]
fn bad_signatures_malformed_and_oversized_bodies_are_refused_and_store_nothing() {
    let server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    let body = std::fs::read(fixtures().join("inbound_text.json")).unwrap();
    let body = serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();

    assert_eq!(
        server.post_webhook_signed(&body, None),
        401,
        "missing signature"
    );
    assert_eq!(
        server.post_webhook_signed(&body, Some(&sign("wrong-secret", &body))),
        401,
        "wrong secret"
    );
    assert_eq!(
        server.post_webhook_signed(&body, Some("sha256=abc")),
        401,
        "garbage signature"
    );
    let mut altered = body.clone();
    let at = altered.len() - 10;
    altered[at] ^= 1;
    assert_eq!(
        server.post_webhook_signed(&altered, Some(&sign(APP_SECRET, &body))),
        401,
        "body altered after signing"
    );

    let malformed = br#"{"object":"whatsapp_business_account","entry":[{"changes":"#;
    assert_eq!(
        server.post_webhook(malformed),
        400,
        "malformed JSON with a valid signature"
    );
    assert_eq!(
        server.post_webhook(br#"{"entry":"nope"}"#),
        400,
        "JSON that is not the envelope"
    );

    let mut huge = Vec::with_capacity(4 * 1024 * 1024 + 64);
    huge.extend_from_slice(br#"{"object":"whatsapp_business_account","entry":[],"pad":""#);
    huge.resize(4 * 1024 * 1024, b'a');
    huge.extend_from_slice(br#""}"#);
    assert_eq!(server.post_webhook(&huge), 413, "a 4 MB body");

    let response = server
        .client
        .post(server.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(APP_SECRET, b"{}"))
        .body(b"{}".to_vec())
        .send()
        .unwrap();
    let error: Value = response.json().unwrap();
    assert_eq!(
        error["error"]["code"], "malformed_webhook",
        "errors are precise and machine-readable"
    );

    assert!(server.export().is_empty(), "nothing refused was stored");
    // And a good webhook afterwards is stored: nothing was left half-written.
    assert_eq!(server.post_webhook(&body), 200);
    assert_eq!(server.export().len(), 1);
}

#[test]
fn verification_handshake_echoes_the_challenge_only_for_the_right_token() {
    let server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    let url = |token: &str| {
        server.url(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
        ))
    };
    let ok = server.client.get(url(VERIFY_TOKEN)).send().unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().unwrap(), "1158201444");
    assert_eq!(
        server.client.get(url("wrong")).send().unwrap().status(),
        403
    );
}

#[test]
fn statuses_never_regress_whatever_order_they_arrive_in() {
    let server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    let status = |wamid: &str, status: &str, ts: u64| {
        serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": [{"id": wamid, "status": status, "timestamp": ts.to_string(), "recipient_id": "16505551234"}]}}]}]}))
        .unwrap()
    };
    for (s, ts) in [
        ("read", 30),
        ("sent", 10),
        ("delivered", 20),
        ("delivered", 20),
    ] {
        assert_eq!(server.post_webhook(&status("wamid.regress", s, ts)), 200);
    }
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("switchboard_webhook_statuses_total"),
        "{metrics}"
    );
}

type Seen = Arc<Mutex<HashSet<String>>>;

/// Posts unique message webhooks from 8 threads until the server stops answering; returns the
/// wamids attempted and those that got a 200.
fn post_from_eight_threads(
    server: &ServerProcess,
) -> (Seen, Seen, Vec<std::thread::JoinHandle<()>>) {
    let acked: Seen = Arc::default();
    let attempted: Seen = Arc::default();
    let url = server.url("/webhooks/whatsapp");
    let threads = (0..8)
        .map(|t| {
            let (acked, attempted, url) = (Arc::clone(&acked), Arc::clone(&attempted), url.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(std::time::Duration::from_secs(5))
                    .build()
                    .unwrap();
                for i in 0..20_000 {
                    let wamid = format!("wamid.crash-{t}-{i}");
                    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                        "contacts": [{"profile": {"name": "Crash Tester"}, "wa_id": format!("1555000{t:04}")}],
                        "messages": [{"from": format!("1555000{t:04}"), "id": wamid, "timestamp": "1750000000", "type": "text", "text": {"body": format!("message {i}")}}]}}]}]}))
                    .unwrap();
                    attempted.lock().unwrap().insert(wamid.clone());
                    let result = client
                        .post(&url)
                        .header("x-hub-signature-256", sign(APP_SECRET, &body))
                        .body(body)
                        .send();
                    match result {
                        Ok(r) if r.status() == 200 => {
                            acked.lock().unwrap().insert(wamid);
                        }
                        Ok(_) => {}
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    (acked, attempted, threads)
}

/// Every acknowledged wamid is in the export exactly once, nothing appears twice or uninvited.
fn assert_stored_exactly_once(
    server: &ServerProcess,
    acked: &HashSet<String>,
    attempted: &HashSet<String>,
) {
    let export = server.export();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for record in &export {
        *counts
            .entry(record["wamid"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for wamid in acked {
        assert_eq!(
            counts.get(wamid),
            Some(&1),
            "{wamid} got a 200 but is not stored exactly once"
        );
    }
    assert!(
        counts.values().all(|&n| n == 1),
        "no message is stored twice"
    );
    assert!(
        counts.keys().all(|w| attempted.contains(w)),
        "nothing was invented"
    );
}

fn wait_for_acks(acked: &Seen, n: usize) {
    switchboard_e2e::wait_for(
        "acknowledged webhooks",
        std::time::Duration::from_secs(60),
        || (acked.lock().unwrap().len() >= n).then_some(()),
    );
}

/// Webhooks from 8 threads while the server is killed with SIGKILL: after a restart, every
/// webhook that got a 200 is in the export, and none is there twice.
#[test]
fn acknowledged_webhooks_survive_sigkill_and_none_is_stored_twice() {
    let mut server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    let (acked, attempted, threads) = post_from_eight_threads(&server);
    wait_for_acks(&acked, 400);
    server.kill9();
    for t in threads {
        t.join().unwrap();
    }
    let (acked, attempted) = (
        acked.lock().unwrap().clone(),
        attempted.lock().unwrap().clone(),
    );
    server.spawn();
    assert_stored_exactly_once(&server, &acked, &attempted);
    assert!(server.terminate(), "a graceful shutdown after the restart");
}

/// SIGTERM under the same load: in-flight webhooks finish (each 200 is stored), then the process
/// exits successfully.
#[test]
fn sigterm_lets_in_flight_webhooks_finish() {
    let mut server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    let (acked, attempted, threads) = post_from_eight_threads(&server);
    wait_for_acks(&acked, 400);
    assert!(server.terminate(), "exit status 0 after SIGTERM");
    for t in threads {
        t.join().unwrap();
    }
    let (acked, attempted) = (
        acked.lock().unwrap().clone(),
        attempted.lock().unwrap().clone(),
    );
    server.spawn();
    assert_stored_exactly_once(&server, &acked, &attempted);
}
