//! A stop between storing a customer's message and acting on it loses nothing: the message,
//! written to the store as a webhook's commit writes it but never published (the process
//! stopped first), reaches the inbox and the keyword rules at the next start; and a start after
//! that acts on it no more.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::app;
use switchboard_server::config::Config;
use switchboard_server::domain::{
    inbound_message_key, now_ms, InboundEvent, InboundMessage, IngestBatch,
};
use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};
use switchboard_server::store::{DirectoryStore, MessageStore};
use switchboard_shared::{WaId, Wamid};

const CUSTOMER: &str = "15550009876";

async fn restart(dir: &std::path::Path) -> (app::Running, Api) {
    let config = Config::load(Some(&dir.join("switchboard.toml")), []).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config, listener).await.unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
    };
    (running, api)
}

/// The customer's conversation and its messages, oldest first.
async fn thread(api: &Api, owner: &Auth) -> Option<(Value, Vec<Value>)> {
    let list = api.get("conversations", owner).await;
    let conversation = list.body["items"]
        .as_array()?
        .iter()
        .find(|c| c["customer"].as_str() == Some(CUSTOMER))?
        .clone();
    let id = conversation["id"].as_str()?;
    let history = api
        .get(&format!("conversations/{id}/messages?limit=100"), owner)
        .await;
    let mut messages = history.body["items"].as_array()?.clone();
    messages.reverse();
    Some((conversation, messages))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stored_but_not_acted_on_before_a_stop_is_acted_on_at_the_next_start() {
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let rule = api
        .send(
            Method::POST,
            "automation/rules",
            &owner,
            json!({"name": "Prices", "match": {"mode": "word", "keywords": ["price"]},
                   "actions": [{"reply": {"text": "Prices: example.com/prices"}}]}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let rule = api
        .send(
            Method::POST,
            "automation/rules",
            &owner,
            json!({"name": "Delivery", "match": {"mode": "word", "keywords": ["delivery"]},
                   "actions": [{"reply": {"text": "Delivery takes two days"}}], "priority": 1}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    running.shutdown().await;

    // What a webhook's commit writes, without what follows it: the process "stopped" between.
    let store = SqliteStore::open(
        &dir.path().join("data/switchboard.db"),
        SqliteOptions::default(),
    )
    .unwrap();
    let tenant = store.list_tenants().await.unwrap().remove(0).id;
    let number = store.list_numbers(&tenant).await.unwrap()[0]
        .phone_number_id
        .clone();
    let at = now_ms();
    let (wamid, customer) = (Wamid::from("wamid.replay.1"), WaId::from(CUSTOMER));
    let message = InboundMessage {
        key: inbound_message_key(&wamid, &customer, "text", &(at / 1000).to_string()),
        wamid,
        number,
        customer,
        kind: "text".into(),
        text: Some("What is the price?".into()),
        at_ms: at,
        raw: r#"{"type":"text","text":{"body":"What is the price?"}}"#.into(),
    };
    let report = store
        .ingest(IngestBatch {
            received_at: at,
            raw_body: b"{}".to_vec(),
            events: vec![(tenant.clone(), InboundEvent::Message(message))],
        })
        .await
        .unwrap();
    assert_eq!(report.messages_new, 1);
    drop(store);

    // The next start: the conversation is in the inbox, waiting, and the rule answered once.
    let (running, api) = restart(dir.path()).await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let (conversation, messages) = eventually(
        "the replayed message in the inbox, answered by the rule",
        Duration::from_secs(20),
        || async {
            let (c, m) = thread(&api, &owner).await?;
            (m.len() == 2).then_some((c, m))
        },
    )
    .await;
    assert_eq!(messages[0]["text"], "What is the price?");
    assert_eq!(messages[1]["text"], "Prices: example.com/prices");
    assert_ne!(conversation["state"], "resolved", "{conversation}");
    let sent = sent_to(&api, &sim, CUSTOMER).await;
    assert_eq!(sent, vec!["Prices: example.com/prices".to_owned()]);
    // Wait until the replay cursor has passed the message before stopping again.
    eventually(
        "the replay cursor past the message",
        Duration::from_secs(20),
        || async {
            let store = SqliteStore::open(
                &dir.path().join("data/switchboard.db"),
                SqliteOptions::default(),
            )
            .ok()?;
            let cursor = store.cursor("inbox").await.ok()??;
            (cursor > at).then_some(())
        },
    )
    .await;
    running.shutdown().await;

    // And a start after that neither answers again nor changes the conversation.
    let (running, api) = restart(dir.path()).await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let (again, messages) = thread(&api, &owner).await.unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(again["state"], conversation["state"]);
    // The replay (the message is within the margin before the cursor) went to automation before
    // anything newer from this customer, so once a new message is answered, the replayed one
    // would have been answered again already if it were going to be.
    customer_writes(&api, &sim, CUSTOMER, "how long is delivery?").await;
    eventually(
        "the new message answered",
        Duration::from_secs(20),
        || async { (!sent_to(&api, &sim, CUSTOMER).await.is_empty()).then_some(()) },
    )
    .await;
    assert_eq!(
        sent_to(&api, &sim, CUSTOMER).await,
        vec!["Delivery takes two days".to_owned()]
    );
    running.shutdown().await;
}
