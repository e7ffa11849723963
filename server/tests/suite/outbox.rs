//! The governed, durable send path on the real server and simulator: replies offered at twice a
//! number's limit through a storm of 130429 answers all go out, once each, with no violation of
//! WhatsApp's limits beyond the injected answers.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CUSTOMERS: usize = 40;
const PER_CUSTOMER: usize = 4;
/// Injected throughput refusals, answered to the first sends.
const STORM: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_the_limit_through_a_130429_storm_sends_everything_once_within_limits() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let client = reqwest::Client::new();

    // Customers write first (the 24-hour window), and their conversations appear.
    for i in 0..CUSTOMERS {
        let r = client
            .post(format!("{sim}/_sim/inbound"))
            .json(&json!({"from": format!("7916000{i:04}"), "name": "C", "text": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let conversations: Vec<String> = eventually(
        "every customer's conversation",
        Duration::from_secs(10),
        || async {
            let list = api.get("conversations?limit=200", &owner).await;
            let ids: Vec<String> = list.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect();
            (ids.len() == CUSTOMERS).then_some(ids)
        },
    )
    .await;
    assert_eq!(conversations.len(), CUSTOMERS);

    // The storm: the next sends are refused with 130429 whatever the rate.
    let r = client
        .put(format!("{sim}/_sim/faults"))
        .json(&json!({"forced_codes": vec![130429; STORM]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    // 160 replies at once: twice the number's 80 per second.
    let mut queued = Vec::new();
    for round in 0..PER_CUSTOMER {
        for (i, c) in conversations.iter().enumerate() {
            let text = format!("reply {round} to {i}");
            let a = api
                .send(
                    Method::POST,
                    &format!("conversations/{c}/messages"),
                    &owner,
                    json!({"text": text, "key": text}),
                )
                .await;
            assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
            assert_eq!(a.body["state"], "queued");
            queued.push((text, a.body["id"].as_str().unwrap().to_owned()));
        }
    }
    let total = CUSTOMERS * PER_CUSTOMER;

    // Everything arrives, each once.
    let sent: Vec<Value> = eventually("every reply sent", Duration::from_secs(30), || async {
        let sent: Vec<Value> = sim_get(&client, &sim, "sent").await;
        (sent.len() >= total).then_some(sent)
    })
    .await;
    let mut times: HashMap<String, Vec<i64>> = HashMap::new();
    for s in &sent {
        let body = s["body"]["text"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        times
            .entry(body)
            .or_default()
            .push(s["at_ms"].as_i64().unwrap());
    }
    for (text, _) in &queued {
        assert_eq!(
            times.get(text).map(Vec::len),
            Some(1),
            "`{text}` reached WhatsApp once"
        );
    }
    assert_eq!(sent.len(), total, "nothing else was sent");

    // WhatsApp refused nothing but the injected answers: no real throughput or pair-rate
    // violation.
    let stats: Value = sim_get(&client, &sim, "stats").await;
    assert_eq!(
        stats["rejected"],
        json!({"130429": STORM}),
        "only the storm was refused: {stats}"
    );
    // At the limit, not above it: the sends after the storm span at least what 80/s allows.
    let mut at: Vec<i64> = sent.iter().map(|s| s["at_ms"].as_i64().unwrap()).collect();
    at.sort_unstable();
    let span = at[at.len() - 1] - at[0];
    assert!(
        span >= ((total - 25) * 1000 / 80) as i64,
        "{total} sends in {span} ms"
    );

    // Each send says so, and the storm shows in its attempts.
    let mut attempts = 0;
    for (_, id) in &queued {
        let s = api.get(&format!("sends/{id}"), &owner).await;
        assert_eq!(s.body["state"], "sent", "{:?}", s.body);
        attempts += s.body["attempts"].as_u64().unwrap() as usize;
    }
    assert_eq!(attempts, total + STORM, "one more attempt per refusal");
    running.shutdown().await;
}
