//! A workspace's routing settings at run time (issue 23): a change saved through the API is in
//! force for the very next customer, without a restart, and survives one.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const NOTICE: &str = "All agents are busy: you are number {position} (about {minutes} min).";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_notice_saved_at_run_time_reaches_the_next_waiting_customer() {
    // No agent is connected: every customer waits in the queue.
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    customer_writes(&api, &sim, "4915100000001", "hello before").await;
    conversation_of(&api, &owner, "4915100000001").await;

    let a = api
        .send(
            Method::PATCH,
            "settings/routing",
            &owner,
            json!({"queue_notice": NOTICE}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    customer_writes(&api, &sim, "4915100000002", "hello after").await;
    let told = eventually("the queue notice", Duration::from_secs(10), || async {
        sent_to(&api, &sim, "4915100000002")
            .await
            .into_iter()
            .next()
    })
    .await;
    // The second in the queue; the estimate is the queue model's.
    assert!(
        told.starts_with("All agents are busy: you are number 2 (about ")
            && told.ends_with(" min)."),
        "{told}"
    );
    assert!(
        sent_to(&api, &sim, "4915100000001").await.is_empty(),
        "the customer before the change was told nothing"
    );

    // A restart keeps the workspace's settings.
    running.shutdown().await;
    let path = dir.path().join("switchboard.toml");
    let config = switchboard_server::config::Config::load(Some(&path), []).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = switchboard_server::app::start_on(config, listener)
        .await
        .unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
    };
    let owner = api.token("owner@demo.example").await;
    let a = api.get("settings/routing", &owner).await;
    assert_eq!(a.body["queue_notice"], NOTICE, "{:?}", a.body);
    assert_eq!(a.body["version"], 1);
    running.shutdown().await;
}
