//! Bot flows end to end, on the real server, its simulator and a local HTTP server standing in
//! for a shop's order API: a keyword starts a flow; a menu goes out as reply buttons and the
//! customer taps one; a question retries a bad answer; an HTTP lookup (signed, to an allowed
//! loopback host) answers with the order's status; the flow hands off with a note of the
//! answers. Bad flows are refused with the step and field named.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn text_of(body: &Value) -> String {
    body["text"]["body"]
        .as_str()
        .or_else(|| body["interactive"]["body"]["text"].as_str())
        .unwrap_or("")
        .to_owned()
}

async fn until_sent(api: &Api, sim: &str, to: &str, wanted: &str) -> Vec<Value> {
    eventually(
        &format!("a message with {wanted:?}"),
        Duration::from_secs(10),
        || async {
            let sent = sent_bodies(api, sim, to).await;
            sent.iter()
                .any(|b| text_of(b).contains(wanted))
                .then_some(sent)
        },
    )
    .await
}

/// A one-route order API on loopback: `GET /orders/<n>` answers `{"status": "shipped"}`; each
/// request's first line and headers are kept.
async fn order_api() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                    match socket.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                kept.lock().unwrap().push(head);
                let body = r#"{"order": {"status": "shipped", "eta": "2026-12-09"}}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

async fn inbound(api: &Api, sim: &str, from: &str, message: Value) {
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(&json!({"from": from, "name": "Olga", "message": message}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_with_a_menu_a_question_and_a_lookup_runs_and_hands_off_with_a_note() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let (port, requests) = order_api().await;
    let flow = api
        .send(
            Method::POST,
            "automation/flows",
            &owner,
            json!({
                "name": "Orders",
                "start": "menu",
                "allow_hosts": [format!("127.0.0.1:{port}")],
                "secret": "a-long-shared-secret-1234",
                "nodes": {
                    "menu": {"type": "menu", "text": "Hello {{contact.name}}! What do you need?",
                             "options": [{"id": "track", "title": "Track an order", "next": "ask"},
                                         {"id": "human", "title": "Talk to us", "next": "people"}]},
                    "ask": {"type": "question", "text": "Your order number?", "variable": "order",
                            "expect": "pattern", "pattern": "[0-9]{4,8}",
                            "retry_text": "Digits only, please: your order number?",
                            "next": "lookup"},
                    "lookup": {"type": "http",
                               "url": format!("http://127.0.0.1:{port}/orders/{{{{order}}}}"),
                               "map": {"status": "$.order.status"},
                               "next": "tell", "fallback": "people"},
                    "tell": {"type": "message", "text": "Order {{order}}: {{status}}.",
                             "next": "people"},
                    "people": {"type": "handoff", "skill": "orders",
                               "text": "A colleague will take it from here."}
                }
            }),
        )
        .await;
    assert_eq!(flow.status, StatusCode::CREATED, "{:?}", flow.body);
    assert_eq!(flow.body["has_secret"], true);
    assert!(flow.body.get("secret").is_none());
    let id = flow.body["id"].as_str().unwrap().to_owned();
    let rule = api
        .send(
            Method::POST,
            "automation/rules",
            &owner,
            json!({"name": "Orders bot", "match": {"keywords": ["order", "заказ"]},
                   "actions": [{"start_flow": {"flow": id}}]}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);

    let olga = "79161234567";
    customer_writes(&api, &sim, olga, "Where is my order?").await;
    let sent = until_sent(&api, &sim, olga, "What do you need?").await;
    let menu = &sent[0];
    assert_eq!(menu["type"], "interactive", "{menu}");
    assert_eq!(
        menu["interactive"]["action"]["buttons"][0]["reply"]["id"],
        "track"
    );
    assert!(text_of(menu).starts_with("Hello Olga!"), "{menu}");

    inbound(
        &api,
        &sim,
        olga,
        json!({"type": "interactive", "interactive": {"type": "button_reply",
               "button_reply": {"id": "track", "title": "Track an order"}}}),
    )
    .await;
    until_sent(&api, &sim, olga, "Your order number?").await;
    // A bad answer, while in the flow: the question again, and no rule fires on "order".
    customer_writes(&api, &sim, olga, "my order is the blue one").await;
    until_sent(&api, &sim, olga, "Digits only").await;
    customer_writes(&api, &sim, olga, "123456").await;
    let sent = until_sent(&api, &sim, olga, "A colleague will take it").await;
    let texts: Vec<String> = sent.iter().map(text_of).collect();
    assert!(
        texts.contains(&"Order 123456: shipped.".to_owned()),
        "{texts:?}"
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("What do you need"))
            .count(),
        1,
        "{texts:?}"
    );
    {
        let seen = requests.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].starts_with("GET /orders/123456 "), "{}", seen[0]);
        assert!(seen[0]
            .to_lowercase()
            .contains("x-switchboard-signature: sha256="));
    }

    // Handed off: the conversation carries the skill, and a note lists the answers.
    let list = api.get("conversations", &owner).await;
    let conversation = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer"].as_str() == Some(olga))
        .unwrap()
        .clone();
    let cid = conversation["id"].as_str().unwrap();
    let tagged = eventually("the skill tag", Duration::from_secs(10), || async {
        let c = api.get(&format!("conversations/{cid}"), &owner).await;
        let tags = c.body["tags"].as_array()?.clone();
        tags.iter().any(|t| t == "skill:orders").then_some(tags)
    })
    .await;
    assert!(!tagged.is_empty());
    let notes = api.get(&format!("conversations/{cid}/notes"), &owner).await;
    let note = notes.body["items"][0]["text"].as_str().unwrap_or("");
    assert!(
        note.contains("order: 123456") && note.contains("status: shipped"),
        "{:?}",
        notes.body
    );
    let flow = api.get(&format!("automation/flows/{id}"), &owner).await;
    assert_eq!(flow.body["started"], 1, "{:?}", flow.body);
    assert_eq!(flow.body["handed_off"], 1, "{:?}", flow.body);

    // A flow a rule starts is not deleted from under it.
    let gone = api
        .call(
            Method::DELETE,
            &format!("automation/flows/{id}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::CONFLICT, "{:?}", gone.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flows_are_refused_with_the_step_and_field_named() {
    let (_running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let good = json!({"name": "F", "start": "a", "nodes": {
        "a": {"type": "menu", "text": "Pick", "options": [
            {"id": "x", "title": "X", "next": "b"}]},
        "b": {"type": "http", "url": "https://shop.example/o/{{a}}", "next": "c", "fallback": "c"},
        "c": {"type": "end"}}});
    let with = |path: &[&str], value: Value| {
        let mut v = good.clone();
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = value;
        v
    };
    let r = api
        .send(Method::POST, "automation/flows", &owner, good.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let four: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("o{i}"), "title": format!("Option {i}"), "next": "b"}))
        .collect();
    for (body, field) in [
        (with(&["start"], json!("zz")), "start"),
        (
            with(
                &["nodes", "c"],
                json!({"type": "message", "text": "hi", "next": "nowhere"}),
            ),
            "nodes.c.next",
        ),
        (
            with(&["nodes", "a", "options"], json!(four)),
            "nodes.a.options",
        ),
        (
            with(
                &["nodes", "a", "options"],
                json!([{"id": "x", "title": "A title far too long for it", "next": "b"}]),
            ),
            "nodes.a.options[0].title",
        ),
        (
            with(
                &["nodes", "b", "url"],
                json!("http://169.254.169.254/latest/meta-data"),
            ),
            "nodes.b.url",
        ),
        (
            with(
                &["nodes", "c"],
                json!({"type": "condition", "variable": "v", "compare": "exists",
                                         "then": "b", "otherwise": "c"}),
            ),
            "nodes.b",
        ),
    ] {
        let r = api
            .send(Method::POST, "automation/flows", &owner, body)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{:?}", r.body);
    }
}
