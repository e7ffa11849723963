//! The outbox survives a crash: replies waiting behind a slow number's governor when the server
//! is killed (SIGKILL, no clean-up) are all sent after it starts again, and none twice.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

const PASSWORD: &str = "correct horse battery staple";
const REPLIES: usize = 12;

fn api(
    server: &ServerProcess,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = server
        .client
        .request(method, server.url(&format!("/api/v1/{path}")))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("API call");
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// What is wrong with an answer according to the server's own OpenAPI document: the schema of
/// `path`'s `method` response with `status`.
fn violations(doc: &Value, method: &str, path: &str, status: &str, body: &Value) -> Vec<String> {
    let schema = &doc["paths"][format!("/api/v1/{path}")][method]["responses"][status]["content"]
        ["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status} is documented");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    validator.iter_errors(body).map(|e| e.to_string()).collect()
}

fn conforms(doc: &Value, method: &str, path: &str, status: &str, body: &Value) {
    let errors = violations(doc, method, path, status, body);
    assert!(errors.is_empty(), "{method} {path}: {errors:?} in {body}");
}

/// How many times each of our replies reached the simulator.
fn delivered(sim: &SimProcess) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for s in sim.sent() {
        if let Some(text) = s["body"]["text"]["body"].as_str() {
            *counts.entry(text.to_owned()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn queued_replies_survive_a_kill_and_are_sent_once() {
    let sim_port = free_port();
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    // Two messages per second: the replies wait in the outbox long enough to kill the server
    // midway. A send in doubt waits a second for its status webhook before it is sent again.
    let mut server = ServerProcess::start(&format!(
        "{}mps = 2\n[outbox]\nin_doubt_grace_secs = 1\n",
        numbers_toml(&graph)
    ));
    let sim = SimProcess::start_on(
        sim_port,
        &server.url("/webhooks/whatsapp"),
        &[
            "--sent-after-ms",
            "50",
            "--delivered-after-ms",
            "100",
            "--read-after-ms",
            "150",
        ],
    );
    let token = server.owner_token(PASSWORD);

    for i in 0..REPLIES {
        sim.customer_says(&format!("4915100{i:04}"), "Hallo");
    }
    let conversations: Vec<String> = wait_for("the conversations", Duration::from_secs(30), || {
        let list = api(
            &server,
            &token,
            reqwest::Method::GET,
            "conversations?limit=100",
            None,
        );
        let ids: Vec<String> = list["items"]
            .as_array()?
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect();
        (ids.len() == REPLIES).then_some(ids)
    });

    // The answers are what the published OpenAPI document says they are.
    let doc: Value = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .and_then(|r| r.json())
        .expect("GET /api/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    let list = api(&server, &token, reqwest::Method::GET, "conversations", None);
    conforms(&doc, "get", "conversations", "200", &list);
    let path = format!("conversations/{}", conversations[0]);
    let one = api(&server, &token, reqwest::Method::GET, &path, None);
    conforms(&doc, "get", "conversations/{id}", "200", &one);
    let me = api(&server, &token, reqwest::Method::GET, "auth/me", None);
    conforms(&doc, "get", "auth/me", "200", &me);
    let bad = json!({"items": [{"id": 1}]});
    assert!(
        !violations(&doc, "get", "conversations", "200", &bad).is_empty(),
        "the check refuses what the document forbids"
    );

    let mut sends = Vec::new();
    for (i, c) in conversations.iter().enumerate() {
        let text = format!("Antwort {i}");
        let send = api(
            &server,
            &token,
            reqwest::Method::POST,
            &format!("conversations/{c}/messages"),
            Some(json!({"text": text, "key": format!("k{i}")})),
        );
        assert_eq!(send["state"], "queued");
        conforms(&doc, "post", "conversations/{id}/messages", "202", &send);
        sends.push((text, send["id"].as_str().unwrap().to_owned()));
    }

    // Some have gone out; kill the server with the rest still queued.
    wait_for("the first sends", Duration::from_secs(30), || {
        (delivered(&sim).len() >= 3).then_some(())
    });
    server.kill9();
    let before = delivered(&sim).len();
    assert!(
        before < REPLIES,
        "the kill came after everything was sent ({before}); the test proves nothing"
    );

    // Started again, it sends the rest.
    server.spawn();
    let counts = wait_for("every reply", Duration::from_secs(60), || {
        let counts = delivered(&sim);
        (counts.len() == REPLIES).then_some(counts)
    });
    // A duplicate could only come from a send the outbox has not settled: wait until every one
    // says `sent` (nothing left to retry), then count again.
    wait_for("every send settled", Duration::from_secs(60), || {
        sends
            .iter()
            .all(|(_, id)| {
                let send = api(
                    &server,
                    &token,
                    reqwest::Method::GET,
                    &format!("sends/{id}"),
                    None,
                );
                send["state"] == "sent"
            })
            .then_some(())
    });
    let counts_after = delivered(&sim);
    assert_eq!(counts, counts_after);
    for (text, id) in &sends {
        assert_eq!(counts.get(text), Some(&1), "`{text}` reached WhatsApp once");
        let send = api(
            &server,
            &token,
            reqwest::Method::GET,
            &format!("sends/{id}"),
            None,
        );
        assert_eq!(send["state"], "sent", "{send}");
        conforms(&doc, "get", "sends/{id}", "200", &send);
    }
    // And each is in its conversation's history once.
    for c in &conversations {
        let history = api(
            &server,
            &token,
            reqwest::Method::GET,
            &format!("conversations/{c}/messages"),
            None,
        );
        conforms(&doc, "get", "conversations/{id}/messages", "200", &history);
        let outbound = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .count();
        assert_eq!(outbound, 1, "{history}");
    }
    eprintln!(
        "outbox kill test: {before} of {REPLIES} sent before the kill, the rest after; simulator stats {}",
        sim.stats()
    );
}
