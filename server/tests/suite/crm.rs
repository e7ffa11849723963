//! The CRM card end to end: a workspace saves its connector (the header's value never shown
//! again), a conversation's card comes from a local test CRM asked server-side, each role sees
//! its fields, an old card is shown with its age while a slow CRM is asked again, and a CRM
//! answer that is huge or not JSON is named, never shown.

use crate::common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http_body_util::Full;
use hyper::body::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::json;

const JSON: u8 = 0;
const HUGE: u8 = 1;
const NOT_JSON: u8 = 2;

struct TestCrm {
    mode: AtomicU8,
    /// While false, the CRM holds every answer back (a CRM that has become slow).
    open: tokio::sync::watch::Sender<bool>,
    /// Each request's path and query, and its Authorization header.
    asked: Mutex<Vec<(String, String)>>,
}

async fn test_crm() -> (u16, Arc<TestCrm>) {
    let state = Arc::new(TestCrm {
        mode: AtomicU8::new(JSON),
        open: tokio::sync::watch::channel(true).0,
        asked: Mutex::new(Vec::new()),
    });
    let shared = Arc::clone(&state);
    let addr = third_party(move |req: hyper::Request<hyper::body::Incoming>| {
        let state = Arc::clone(&shared);
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let uri = req.uri().to_string();
            state.asked.lock().unwrap().push((uri.clone(), auth));
            let mut open = state.open.subscribe();
            let _ = open.wait_for(|open| *open).await;
            let body = match state.mode.load(Ordering::SeqCst) {
                JSON => {
                    let phone = uri.split("phone=").nth(1).unwrap_or("").to_owned();
                    json!({"customer": {"name": "Ada Lovelace", "phone": phone, "tier": "gold"},
                           "orders": [{"id": "A-1001", "total": 59.9}], "revenue": 1200})
                    .to_string()
                    .into_bytes()
                }
                HUGE => vec![b' '; 50 * 1024 * 1024],
                _ => b"<html>login</html>".to_vec(),
            };
            hyper::Response::new(Full::new(Bytes::from(body)))
        }
    })
    .await;
    (addr.port(), state)
}

fn connector(port: u16) -> serde_json::Value {
    json!({
        "url": format!("http://127.0.0.1:{port}/customers?phone={{{{contact.phone}}}}"),
        "header_name": "Authorization",
        "header_value": "Bearer crm-token-123",
        "fields": [
            {"label": "Name", "path": "$.customer.name"},
            {"label": "Last order", "path": "$.orders[0].id"},
            {"label": "Revenue", "path": "$.revenue", "roles": ["owner", "admin"]}
        ],
        "fresh_secs": 1
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_shows_its_customers_card_from_the_crm_each_role_its_fields() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let (port, crm) = test_crm().await;
    let conversation = w.acme.ids["conversation"].clone();
    let before = w
        .api
        .get(&format!("conversations/{conversation}/crm"), owner)
        .await;
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(before.body["state"], "not_configured");

    let saved = w
        .api
        .call(Method::PUT, "settings/crm", owner, Some(connector(port)))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.body["header_set"], true);
    assert!(!saved.body.to_string().contains("crm-token-123"));
    let read = w.api.get("settings/crm", owner).await;
    assert!(!read.body.to_string().contains("crm-token-123"));

    let card = w
        .api
        .get(&format!("conversations/{conversation}/crm"), owner)
        .await;
    assert_eq!(card.status, StatusCode::OK, "{:?}", card.body);
    assert_eq!(card.body["state"], "fresh", "{:?}", card.body);
    let labels: Vec<&str> = card.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Name", "Last order", "Revenue"]);
    assert_eq!(card.body["fields"][0]["value"], "Ada Lovelace");
    assert_eq!(card.body["fields"][1]["value"], "A-1001");
    assert_eq!(card.body["fields"][2]["value"], 1200);
    {
        let asked = crm.asked.lock().unwrap();
        assert_eq!(
            asked[0].0,
            format!("/customers?phone={}", w.acme.ids["customer"])
        );
        assert_eq!(asked[0].1, "Bearer crm-token-123");
    }
    // A supervisor reads every conversation but not the revenue.
    let supervisor = w
        .api
        .get(
            &format!("conversations/{conversation}/crm"),
            &w.acme.callers["supervisor"],
        )
        .await;
    assert_eq!(supervisor.status, StatusCode::OK);
    let labels: Vec<&str> = supervisor.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Name", "Last order"]);
    // Another workspace cannot ask for it.
    let other = w
        .api
        .get(
            &format!("conversations/{conversation}/crm"),
            &w.globex.callers["owner"],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // The CRM stops answering: once the card is older than `fresh_secs`, it is shown at once
    // with its age while the CRM is asked again behind it.
    crm.open.send_replace(false);
    let stale = eventually(
        "the card shown old, not waited for",
        Duration::from_secs(10),
        || async {
            let c = w
                .api
                .get(&format!("conversations/{conversation}/crm"), owner)
                .await;
            (c.body["state"] == "stale").then_some(c.body)
        },
    )
    .await;
    assert_eq!(stale["fields"][0]["value"], "Ada Lovelace");
    assert!(stale["age_ms"].as_i64().unwrap() >= 1_000, "{stale}");
    crm.open.send_replace(true);

    // The audit log has the change, never the header's value.
    let audit = w.api.get("audit?action=crm", owner).await;
    assert!(audit.body.to_string().contains("crm.update"));
    assert!(!audit.body.to_string().contains("crm-token-123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_or_foreign_answer_is_named_and_a_private_crm_refused() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let (port, crm) = test_crm().await;
    let saved = w
        .api
        .call(Method::PUT, "settings/crm", owner, Some(connector(port)))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    for (mode, customer, reason) in [
        (HUGE, "4915100000001", "over 1024 KiB"),
        (NOT_JSON, "4915100000002", "not JSON"),
    ] {
        crm.mode.store(mode, Ordering::SeqCst);
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                customer,
                &format!("wamid.crm.{customer}"),
                "hi",
            ),
        )
        .await;
        let conversation = conversation_of(&w.api, owner, customer).await;
        let card = eventually(
            "the CRM's failure named",
            Duration::from_secs(20),
            || async {
                let c = w
                    .api
                    .get(&format!("conversations/{conversation}/crm"), owner)
                    .await;
                c.body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(reason))
                    .then_some(c.body)
            },
        )
        .await;
        assert_eq!(card["state"], "unavailable", "{card}");
        assert!(card["fields"].as_array().unwrap().is_empty());
    }
    let mut private = connector(port);
    private["url"] = json!("https://10.1.2.3/customers?phone={{contact.phone}}");
    let refused = w
        .api
        .call(Method::PUT, "settings/crm", owner, Some(private))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        refused.body
    );
    assert_eq!(refused.body["error"]["field"], "url");
    let mut bad = connector(port);
    bad["fields"][0]["path"] = json!("$.customer[");
    let refused = w
        .api
        .call(Method::PUT, "settings/crm", owner, Some(bad))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["error"]["field"], "fields[0].path");
    // The agent may not change it.
    let agent = w
        .api
        .call(
            Method::PUT,
            "settings/crm",
            &w.acme.callers["agent"],
            Some(connector(port)),
        )
        .await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN);
}
