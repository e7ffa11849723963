//! A contact import survives SIGKILL: the real binary is killed mid-import, restarted on the
//! same data, and the job resumes from its last written chunk and finishes; nothing is written
//! twice, and importing the same file again changes nothing.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::{wait_for, ServerProcess};

const ROWS: u64 = 6_000;

fn file() -> Vec<u8> {
    let mut out = String::from("phone;name;tags\n");
    for i in 0..ROWS {
        // Every 50th row is a duplicate of the row before it: rejected, never written twice.
        let n = if i % 50 == 49 { i - 1 } else { i };
        out.push_str(&format!(
            "8 916 {:03}-{:02}-{:02};Клиент {i};опт\n",
            n / 10_000,
            n / 100 % 100,
            n % 100
        ));
    }
    out.into_bytes()
}

fn token(server: &ServerProcess) -> String {
    server.create_user(
        "owner@demo.example",
        "owner",
        "correct horse battery staple",
    );
    let answer: Value = server
        .client
        .post(server.url("/api/v1/auth/token"))
        .json(&json!({"email": "owner@demo.example", "password": "correct horse battery staple"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    answer["token"].as_str().unwrap().to_owned()
}

fn status(server: &ServerProcess, token: &str, id: &str) -> Value {
    server
        .client
        .get(server.url(&format!("/api/v1/contacts/imports/{id}")))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn start(server: &ServerProcess, token: &str) -> String {
    let answer: Value = server
        .client
        .post(server.url("/api/v1/contacts/imports?default_region=RU"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(file())
        .send()
        .unwrap()
        .json()
        .unwrap();
    answer["id"].as_str().expect("an import id").to_owned()
}

fn finished(server: &ServerProcess, token: &str, id: &str) -> Value {
    wait_for("the import to finish", Duration::from_secs(180), || {
        let s = status(server, token, id);
        (s["state"] != "running").then_some(s)
    })
}

#[test]
fn a_killed_import_resumes_and_writes_nothing_twice() {
    let mut server = ServerProcess::with_numbers("https://graph.facebook.com/v23.0");
    let token = token(&server);
    let id = start(&server, &token);
    // Killed once at least one chunk is written and before the end.
    wait_for("the first chunks", Duration::from_secs(120), || {
        let s = status(&server, &token, &id);
        (s["total"].as_u64().unwrap_or(0) >= 1000).then_some(())
    });
    server.kill9();
    server.spawn();
    let done = finished(&server, &token, &id);
    let duplicates = ROWS / 50;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["total"], ROWS, "{done}");
    assert_eq!(done["created"], ROWS - duplicates, "{done}");
    assert_eq!(done["rejected"], duplicates, "{done}");
    assert_eq!(done["duplicates"], duplicates, "{done}");
    // Every contact once: an independent count of the store.
    let count: Value = server
        .client
        .post(server.url("/api/v1/segments/count"))
        .bearer_auth(&token)
        .json(&json!({"filter": {"all": [{"tag": "опт"}]}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(count["count"], ROWS - duplicates, "{count}");
    // The same file again: nothing changes.
    let again = start(&server, &token);
    let again = finished(&server, &token, &again);
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(ROWS - duplicates)),
        "{again}"
    );
    assert!(server.terminate());
}
