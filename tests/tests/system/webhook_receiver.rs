//! Issue 23's acceptance for outbound webhooks: a third-party receiver written from
//! `docs/webhooks.md` (`tests/interop/webhook_receiver.py`, Standard Webhooks' Python library)
//! verifies every delivery with the documented secret, gets each customer message exactly once
//! across a SIGKILL of Switchboard in the middle of a burst, and a replay from the delivery log
//! re-delivers one with the same `webhook-id`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

fn text_webhook(from: usize, to: usize) -> Vec<u8> {
    let messages: Vec<Value> = (from..to)
        .map(|i| {
            json!({"from": format!("49160{i:08}"), "id": format!("wamid.receiver.{i}"),
                   "timestamp": "1765000000", "type": "text", "text": {"body": format!("order {i}?")}})
        })
        .collect();
    let contacts: Vec<Value> = (from..to)
        .map(|i| json!({"profile": {"name": "Buyer"}, "wa_id": format!("49160{i:08}")}))
        .collect();
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": contacts, "messages": messages}}]}]}))
    .unwrap()
}

/// The receiver's lines: `processed` ones by webhook-id (type, wamid), and the count of others.
fn read_out(path: &std::path::Path) -> (BTreeMap<String, (String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut processed = BTreeMap::new();
    let mut other = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["processed", id, kind, wamid] => {
                assert!(
                    processed
                        .insert(id.to_string(), (kind.to_string(), wamid.to_string()))
                        .is_none(),
                    "{id} processed twice"
                );
            }
            _ => other.push(line.to_owned()),
        }
    }
    (processed, other)
}

#[test]
fn a_third_party_receiver_verifies_every_delivery_and_gets_each_message_once_across_a_kill() {
    let Some(python) = std::env::var_os("SWITCHBOARD_INTEROP_PYTHON") else {
        eprintln!(
            "SKIPPED: the third-party webhook receiver needs SWITCHBOARD_INTEROP_PYTHON \
             (set by `cargo xtask test`)"
        );
        return;
    };
    let mut server = ServerProcess::start(&format!(
        "{}\n[outgoing_webhooks]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]\n\
         retry_delays_secs = [1, 1, 1, 1, 1, 1, 1]\n",
        numbers_toml("http://127.0.0.1:9/v23.0")
    ));
    let token = server.owner_token("receiver owner password");
    let port = free_port();
    let made = server.api(
        &token,
        reqwest::Method::POST,
        "webhooks",
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["message.received"],
               "description": "the third-party receiver"}),
    );
    let (endpoint, secret) = (
        made["id"].as_str().unwrap().to_owned(),
        made["secret"].as_str().unwrap().to_owned(),
    );
    let out = server.dir.path().join("receiver.log");
    let mut receiver = Command::new(python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/webhook_receiver.py"))
        .args([&port.to_string(), &secret, &out.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the receiver");
    {
        use std::io::BufRead as _;
        let mut first = String::new();
        std::io::BufReader::new(receiver.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("listening"), "{first}");
    }

    // A first burst, all delivered; a second one with a SIGKILL right behind it; a third after.
    assert_eq!(server.post_webhook(&text_webhook(0, 20)), 200);
    wait_for("the first burst processed", Duration::from_secs(30), || {
        (read_out(&out).0.len() == 20).then_some(())
    });
    assert_eq!(server.post_webhook(&text_webhook(20, 40)), 200);
    server.kill9();
    server.spawn();
    assert_eq!(server.post_webhook(&text_webhook(40, 60)), 200);
    let processed = wait_for("every message processed", Duration::from_secs(60), || {
        let (p, _) = read_out(&out);
        (p.len() >= 60).then_some(p)
    });
    let mut wamids: Vec<&str> = processed.values().map(|(_, w)| w.as_str()).collect();
    wamids.sort();
    wamids.dedup();
    assert_eq!(wamids.len(), 60, "each message under one webhook-id");
    assert!(processed
        .values()
        .all(|(kind, _)| kind == "message.received"));
    let (_, other) = read_out(&out);
    assert!(
        other.iter().all(|l| !l.starts_with("refused")),
        "every delivery verifies: {other:?}"
    );

    // A replay from the log: the same webhook-id again, which the receiver recognises.
    let log = server.api(
        &token,
        reqwest::Method::GET,
        &format!("webhooks/{endpoint}/deliveries?limit=1"),
        Value::Null,
    );
    let delivery = log["items"][0]["id"].as_str().unwrap().to_owned();
    let replayed = server.api(
        &token,
        reqwest::Method::POST,
        &format!("webhooks/{endpoint}/deliveries/{delivery}/replay"),
        json!({}),
    );
    assert_eq!(
        replayed["attempts"].as_array().unwrap().last().unwrap()["status"],
        204
    );
    wait_for("the replay received", Duration::from_secs(10), || {
        read_out(&out)
            .1
            .contains(&format!("repeat {delivery}"))
            .then_some(())
    });
    let _ = receiver.kill();
    let _ = receiver.wait();
}
