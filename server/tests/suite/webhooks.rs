//! Outbound webhooks end to end: a receiver on loopback verifies every delivery with the
//! documented secret (through Standard Webhooks' own library), each fact arrives once, a
//! receiver that fails is retried until it answers, a replay from the log re-delivers one, and
//! bad endpoints are refused naming the field.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What the receiver answers: 200, 503, or a redirect to the cloud metadata address.
const OK: u8 = 0;
const DOWN: u8 = 1;
const REDIRECT: u8 = 2;

#[derive(Default)]
struct Receiver {
    mode: AtomicU8,
    /// Every request it answered 2xx: its headers and body.
    taken: Mutex<Vec<(hyper::HeaderMap, Bytes)>>,
    refused: Mutex<u32>,
}

impl Receiver {
    fn taken(&self) -> Vec<(hyper::HeaderMap, Bytes)> {
        self.taken.lock().unwrap().clone()
    }

    /// The bodies taken, by `webhook-id`, and how often each came.
    fn by_id(&self) -> BTreeMap<String, (Value, usize)> {
        let mut out: BTreeMap<String, (Value, usize)> = BTreeMap::new();
        for (headers, body) in self.taken() {
            let id = headers["webhook-id"].to_str().unwrap().to_owned();
            let body: Value = serde_json::from_slice(&body).unwrap();
            out.entry(id).or_insert((body, 0)).1 += 1;
        }
        out
    }
}

async fn receiver() -> (String, Arc<Receiver>) {
    let state = Arc::new(Receiver::default());
    let shared = Arc::clone(&state);
    let addr = third_party(move |req: hyper::Request<hyper::body::Incoming>| {
        let state = Arc::clone(&shared);
        async move {
            let headers = req.headers().clone();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut answer = hyper::Response::new(Full::new(Bytes::from_static(b"thanks")));
            match state.mode.load(Ordering::SeqCst) {
                OK => state.taken.lock().unwrap().push((headers, body)),
                DOWN => {
                    *state.refused.lock().unwrap() += 1;
                    *answer.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                }
                _ => {
                    *answer.status_mut() = hyper::StatusCode::FOUND;
                    answer.headers_mut().insert(
                        "location",
                        hyper::header::HeaderValue::from_static("http://169.254.169.254/latest"),
                    );
                }
            }
            answer
        }
    })
    .await;
    (format!("http://{addr}/hook"), state)
}

/// Checks a delivery as a receiver would: Standard Webhooks' library with the secret shown once.
fn verify(secret: &str, headers: &hyper::HeaderMap, body: &[u8]) {
    let hook = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
    hook.verify(body, headers)
        .unwrap_or_else(|e| panic!("the delivery does not verify: {e:?}"));
}

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_verifies_every_delivery_gets_each_fact_once_and_a_replay_redelivers() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let (url, rx) = receiver().await;
    let made = w
        .api
        .send(
            Method::POST,
            "webhooks",
            owner,
            json!({"url": url, "events": ["message.received", "contact.created", "conversation.assigned"],
                   "description": "CRM"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let (id, secret) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    );
    assert!(secret.starts_with("whsec_"));
    // Never shown again.
    let listed = w.api.get("webhooks", owner).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.to_string().contains(&secret));
    assert_eq!(
        listed.body.as_array().unwrap().len(),
        2,
        "{:?}",
        listed.body
    );

    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            "4915111222333",
            "wamid.hook.1",
            "where is my order?",
        ),
    )
    .await;
    // The same webhook again (Meta redelivers): the fact is one delivery.
    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            "4915111222333",
            "wamid.hook.1",
            "where is my order?",
        ),
    )
    .await;
    let c = w
        .api
        .send(
            Method::POST,
            "contacts",
            owner,
            json!({"phone": "+4915199887766", "name": "Ada"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    // Globex's messages are not Acme's subscriber's business.
    deliver(
        &w.api,
        webhook(GLOBEX_NUMBER, "4915111222444", "wamid.hook.g", "hi"),
    )
    .await;

    let seen = eventually("a message and a contact delivered", WAIT, || async {
        let by = rx.by_id();
        let types: Vec<String> = by
            .values()
            .map(|(b, _)| b["type"].as_str().unwrap().to_owned())
            .collect();
        (types.contains(&"message.received".to_owned())
            && types.contains(&"contact.created".to_owned()))
        .then_some(by)
    })
    .await;
    for (headers, body) in rx.taken() {
        verify(&secret, &headers, &body);
        assert_eq!(headers["content-type"], "application/json");
    }
    let received: Vec<&Value> = seen
        .values()
        .filter(|(b, _)| b["type"] == "message.received")
        .map(|(b, _)| b)
        .collect();
    assert_eq!(received.len(), 1, "{seen:?}");
    let m = received[0];
    assert_eq!(m["data"]["message"]["text"], "where is my order?");
    assert_eq!(m["data"]["customer"], "4915111222333");
    assert_eq!(m["data"]["number"], ACME_NUMBER);
    assert!(m["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(seen
        .values()
        .all(|(b, n)| *n == 1 && b["data"]["customer"] != "4915111222444"));
    let contact = seen
        .values()
        .find(|(b, _)| b["type"] == "contact.created")
        .unwrap();
    assert_eq!(contact.0["data"]["contact"], c.body["id"]);

    // The log holds them, delivered, each with its attempt; a replay sends one again, same id.
    let log = w.api.get(&format!("webhooks/{id}/deliveries"), owner).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let items = log.body["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{:?}", log.body);
    let first = items
        .iter()
        .find(|d| d["type"] == "message.received")
        .unwrap();
    assert_eq!(first["state"], "delivered");
    assert_eq!(first["attempts"][0]["status"], 200);
    assert_eq!(first["attempts"][0]["response"], "thanks");
    let delivery = first["id"].as_str().unwrap();
    let replayed = w
        .api
        .send(
            Method::POST,
            &format!("webhooks/{id}/deliveries/{delivery}/replay"),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{:?}", replayed.body);
    assert_eq!(replayed.body["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(replayed.body["attempts"][1]["replay"], true);
    assert_eq!(
        rx.by_id()[delivery].1,
        2,
        "the replay came with the same webhook-id"
    );
    // Another workspace's delivery or endpoint is not found.
    let globex = &w.globex.callers["owner"];
    let other = w
        .api
        .send(
            Method::POST,
            &format!("webhooks/{id}/deliveries/{delivery}/replay"),
            globex,
            json!({}),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // The audit log names every change and never holds the secret.
    let audit = w.api.get("audit?action=webhook", owner).await;
    assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
    let text = audit.body.to_string();
    assert!(
        text.contains("webhook.create") && text.contains("webhook.replay"),
        "{text}"
    );
    assert!(!text.contains(&secret) && !text.contains("whsec_"));

    // Rotation: the new secret verifies; for a day the old one does too.
    let rotated = w
        .api
        .send(
            Method::POST,
            &format!("webhooks/{id}/rotate"),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let before = rx.taken().len();
    let c = w
        .api
        .send(
            Method::POST,
            "contacts",
            owner,
            json!({"phone": "+4915199887700", "name": "Bo"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED);
    let (headers, body) = eventually("a delivery after the rotation", WAIT, || async {
        rx.taken().get(before).cloned()
    })
    .await;
    verify(&new_secret, &headers, &body);
    verify(&secret, &headers, &body);
    assert_eq!(
        headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_until_it_answers_and_redirects_are_not_followed() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let (url, rx) = receiver().await;
    rx.mode.store(DOWN, Ordering::SeqCst);
    let made = w
        .api
        .send(
            Method::POST,
            "webhooks",
            owner,
            json!({"url": url, "events": ["message.received"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    for n in 0..5 {
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                "4915111222555",
                &format!("wamid.down.{n}"),
                "hello?",
            ),
        )
        .await;
    }
    eventually("the receiver refused every first attempt", WAIT, || async {
        (*rx.refused.lock().unwrap() >= 5).then_some(())
    })
    .await;
    let failing = w.api.get(&format!("webhooks/{id}"), owner).await;
    eventually("the endpoint is marked failing", WAIT, || async {
        let e = w.api.get(&format!("webhooks/{id}"), owner).await;
        e.body["failing_since"].is_i64().then_some(())
    })
    .await;
    assert_eq!(failing.status, StatusCode::OK);
    // Back up: each of the five arrives, once, and the streak ends.
    rx.mode.store(OK, Ordering::SeqCst);
    eventually("all five delivered after the outage", WAIT, || async {
        (rx.by_id().len() == 5).then_some(())
    })
    .await;
    assert!(rx.by_id().values().all(|(_, n)| *n == 1));
    eventually("the endpoint's streak ends", WAIT, || async {
        let e = w.api.get(&format!("webhooks/{id}"), owner).await;
        e.body.get("failing_since").is_none().then_some(())
    })
    .await;
    let log = w
        .api
        .get(&format!("webhooks/{id}/deliveries?limit=5"), owner)
        .await;
    for d in log.body["items"].as_array().unwrap() {
        assert_eq!(d["state"], "delivered", "{d}");
        let attempts = d["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 2 && attempts[0]["status"] == 503, "{d}");
    }

    // A redirect is a failed attempt, never followed.
    rx.mode.store(REDIRECT, Ordering::SeqCst);
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "4915111222555", "wamid.redirect", "again"),
    )
    .await;
    let attempt = eventually("the redirect recorded", WAIT, || async {
        let log = w
            .api
            .get(&format!("webhooks/{id}/deliveries?limit=1"), owner)
            .await;
        let d = log.body["items"][0].clone();
        (d["attempts"][0]["status"] == 302).then_some(d["attempts"][0].clone())
    })
    .await;
    assert!(
        attempt["response"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed (to http://169.254.169.254/latest)"),
        "{attempt}"
    );
    assert_eq!(rx.by_id().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoints_are_refused_naming_the_field_and_agents_cannot_subscribe() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    for (body, field) in [
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["message.received"]}),
            "url",
        ),
        (
            json!({"url": "https://10.0.0.7/hook", "events": ["message.received"]}),
            "url",
        ),
        (
            json!({"url": "https://localhost:8443/hook", "events": ["message.received"]}),
            "url",
        ),
        (
            json!({"url": "ftp://127.0.0.1/hook", "events": ["message.received"]}),
            "url",
        ),
        (
            json!({"url": "https://u:p@127.0.0.1/hook", "events": ["message.received"]}),
            "url",
        ),
        (
            json!({"url": "http://127.0.0.1:9/hook", "events": []}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/hook", "events": ["message.received"], "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let a = w
            .api
            .send(Method::POST, "webhooks", owner, body.clone())
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            a.body
        );
        assert_eq!(a.body["error"]["field"], field, "{body}: {:?}", a.body);
    }
    let unknown = w
        .api
        .send(
            Method::POST,
            "webhooks",
            owner,
            json!({"url": "http://127.0.0.1:9/x", "events": ["message.deleted"]}),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        unknown.body
    );
    assert!(
        unknown.body.to_string().contains("message.received"),
        "the known types are named"
    );
    let agent = w
        .api
        .send(
            Method::POST,
            "webhooks",
            &w.acme.callers["agent"],
            json!({"url": "http://127.0.0.1:9/x", "events": ["message.received"]}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
    // Plain http is refused where the deployment does not allow it (the default).
    let strict = switchboard_server::service::webhooks::guard::Rules::default();
    assert!(switchboard_server::service::webhooks::guard::check_url(
        "http://hooks.example.com/",
        &strict
    )
    .is_err());
}
