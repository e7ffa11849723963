//! Issue 24: the SQLite file is deleted or damaged under a running server. The open connections
//! would go on writing into a file nobody opens again, so a webhook acknowledged then would be
//! lost at the next start: the server must refuse instead (503 `storage_lost`, which Meta
//! retries), say why on the API and `/readyz`, keep serving reads, and neither crash nor spin.
//! Damaged at rest, the server refuses to start, naming the file and what to do.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

/// One customer text with its own wamid.
fn webhook(wamid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1",
        "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Lost Tester"}, "wa_id": "15550004321"}],
            "messages": [{"from": "15550004321", "id": wamid, "timestamp": "1750000000",
                          "type": "text", "text": {"body": "hello"}}]}}]}]}))
    .unwrap()
}

fn code_of(response: reqwest::blocking::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn a_database_deleted_under_the_server_is_refused_not_written_into_the_void() {
    let mut server = ServerProcess::with_numbers("http://127.0.0.1:9/v23.0");
    let owner = server.owner_token("lost database password 1");
    let post = |wamid: &str| {
        let body = webhook(wamid);
        server
            .client
            .post(server.url("/webhooks/whatsapp"))
            .header("x-hub-signature-256", sign(APP_SECRET, &body))
            .body(body)
            .send()
            .expect("the server answers")
    };
    for i in 0..5 {
        assert_eq!(post(&format!("wamid.lost-before-{i}")).status(), 200);
    }
    std::fs::remove_file(server.dir.path().join("data/switchboard.db")).unwrap();

    // Every webhook from now on is refused, saying why; Meta keeps them and retries.
    for i in 0..50 {
        let (status, code) = code_of(post(&format!("wamid.lost-{i}")));
        assert_eq!(
            (status, code.as_str()),
            (503, "storage_lost"),
            "webhook {i}"
        );
    }
    let api = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = server
            .client
            .request(method, server.url(&format!("/api/v1/{path}")))
            .bearer_auth(&owner);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().unwrap()
    };
    let write = api(
        reqwest::Method::POST,
        "contacts",
        Some(json!({"phone": "+4915112345670", "name": "Nobody"})),
    );
    assert_eq!(code_of(write), (503, "storage_lost".to_owned()));
    // Reads still work (from the connections already open), so agents can still see history.
    assert_eq!(
        api(reqwest::Method::GET, "conversations", None).status(),
        200
    );
    // Not ready: a load balancer stops sending it traffic.
    let ready = server.client.get(server.url("/readyz")).send().unwrap();
    assert_eq!(code_of(ready), (503, "storage_lost".to_owned()));
    // Neither crashed nor stuck: answering promptly (and alive, below).
    let health = server.client.get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    // A file put back at the same path is not the one the server opened: still refused (what
    // was written meanwhile went nowhere, and only a restart opens the new file).
    std::fs::write(server.dir.path().join("data/switchboard.db"), b"").unwrap();
    assert_eq!(
        code_of(post("wamid.lost-after")),
        (503, "storage_lost".to_owned())
    );
    assert!(server.running(), "the server exited");
    assert!(server.terminate(), "a clean shutdown");
}

#[test]
fn a_database_damaged_at_rest_stops_the_start_and_says_what_to_do() {
    let mut server = ServerProcess::with_numbers("http://127.0.0.1:9/v23.0");
    server.owner_token("damaged database password 1");
    assert!(server.terminate(), "a clean shutdown");
    let data = server.dir.path().join("data");
    let db = data.join("switchboard.db");
    // Its header overwritten: no longer an SQLite database. The write-ahead log goes too (a
    // log left by the stop would hold page 1 and mask the damage, or not, by timing).
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..16].copy_from_slice(b"not a database!!");
    std::fs::write(&db, bytes).unwrap();
    for log in ["switchboard.db-wal", "switchboard.db-shm"] {
        let _ = std::fs::remove_file(data.join(log));
    }

    let mut child = Command::new(binary("switchboard"))
        .args(["serve", "--config"])
        .arg(&server.config)
        .current_dir(server.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = poll_until(Duration::from_secs(30), || child.try_wait().ok().flatten());
    if exited.is_none() {
        let _ = child.kill();
    }
    let status = exited.expect("the server refused to start instead of serving");
    let mut said = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut said).unwrap();
    assert!(!status.success(), "a failed start exits non-zero");
    assert!(
        said.contains("switchboard.db") && said.contains("switchboard restore"),
        "the refusal names the file and what to do: {said}"
    );
    assert!(!said.contains("panicked"), "a refusal, not a panic: {said}");
}
