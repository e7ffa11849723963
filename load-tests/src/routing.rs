//! `routing`: how soon a customer's first message is decided (given to an agent, or queued when
//! every agent is full), measured from the moment the signed webhook is posted to the moment the
//! decision reaches a supervisor's socket. End to end on the real `switchboard` binary: the
//! webhook is made durable, routed, the conversation's state stored, and the event fanned out.
//!
//! Correctness, which the smoke run asserts: every customer gets exactly one decision (`lost`,
//! `duplicated`), and no agent is given more conversations than their capacity or is anyone but
//! a connected agent (`violations`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use switchboard_shared::protocol::Topic;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::crowd;
use crate::idle::{default_number, open, serve_with_owner, Socket};
use crate::ingest::{pin_self, sign, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const CAPACITY: usize = 10;

fn message(customer: &str, seq: usize) -> Bytes {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Load Test"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": format!("wamid.routing-{seq}"),
                "timestamp": "1750000000", "type": "text", "text": {"body": "Hello, I need help"}}]}}]}]});
    Bytes::from(serde_json::to_vec(&body).expect("serialisable"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len());
    (sorted[rank - 1] * 100.0).round() / 100.0
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let (agents, customers, per_second) = if cli.smoke {
        (4, 60, 100u64)
    } else {
        (50, 2_000, 200u64)
    };
    let served = serve_with_owner(
        &switchboard,
        &default_number(SECRET),
        &format!("[routing]\ncapacity = {CAPACITY}\n"),
    )
    .await?;
    let ws = format!("ws://127.0.0.1:{}/ws", served.port);
    let agent_list = crowd::people(&served.base, &served.token, "agent", agents).await?;
    let agent_ids: HashSet<String> = agent_list.iter().map(|p| p.id.clone()).collect();

    // The supervisor's view: every decision of the tenant.
    let mut watch: Socket = open(
        &ws,
        Some(&served.token),
        Some(&Topic::Tenant.to_string()),
        1,
    )
    .await
    .pop()
    .context("the supervisor socket did not open")?;
    // Every agent online, each on their own socket.
    let mut agent_sockets = Vec::with_capacity(agents);
    for agent in &agent_list {
        let mut held = open(&ws, Some(&agent.token), None, 1).await;
        agent_sockets.push(held.pop().context("an agent socket did not open")?);
    }
    // Presence reaches routing through the inbox task; make sure it has by asking the board.
    let client = reqwest::Client::new();
    crowd::until_routing_knows(
        &client,
        &served.base,
        &served.token,
        agents,
        Duration::from_secs(30),
    )
    .await?;

    // The reader: decisions as they arrive, keyed by customer.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant, Value)>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = watch.next().await {
            if let Message::Text(text) = message {
                let Ok(f) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if f["event"]["kind"] == "conversation_changed" {
                    let customer = f["event"]["customer"].as_str().unwrap_or("").to_owned();
                    let _ = tx.send((customer, Instant::now(), f["event"].clone()));
                }
            }
        }
        let _ = watch.close(None).await;
    });

    let url = format!("{}/webhooks/whatsapp", served.base);
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
    let mut posted: HashMap<String, Instant> = HashMap::new();
    let mut refused = 0usize;
    let mut posts = Vec::with_capacity(customers);
    for seq in 0..customers {
        ticker.tick().await;
        let customer = format!("1666{seq:07}");
        let body = message(&customer, seq);
        let signature = sign(&body);
        posted.insert(customer, Instant::now());
        let (client, url) = (client.clone(), url.clone());
        posts.push(tokio::spawn(async move {
            client
                .post(url)
                .header("x-hub-signature-256", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }));
    }
    for p in posts {
        if !p.await.unwrap_or(false) {
            refused += 1;
        }
    }

    // Collect decisions until every customer has one, or 10 s of silence.
    let mut decided: HashMap<String, (Instant, Value)> = HashMap::new();
    let mut duplicated = 0usize;
    while decided.len() < customers {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some((customer, at, event))) => {
                if !posted.contains_key(&customer) {
                    continue;
                }
                if decided.insert(customer, (at, event)).is_some() {
                    duplicated += 1;
                }
            }
            _ => break,
        }
    }
    reader.abort();
    for mut s in agent_sockets {
        let _ = s.send(Message::Close(None)).await;
    }
    drop(served);

    let mut latencies: Vec<f64> = decided
        .iter()
        .map(|(c, (at, _))| at.duration_since(posted[c]).as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let mut per_agent: HashMap<String, usize> = HashMap::new();
    let mut violations = 0usize;
    let (mut assigned, mut queued) = (0usize, 0usize);
    for (_, event) in decided.values() {
        match event["state"].as_str() {
            Some("assigned") => {
                assigned += 1;
                let agent = event["assignee"].as_str().unwrap_or("").to_owned();
                if !agent_ids.contains(&agent) {
                    violations += 1;
                }
                *per_agent.entry(agent).or_default() += 1;
            }
            Some("queued") => queued += 1,
            _ => violations += 1,
        }
    }
    violations += per_agent.values().filter(|&&n| n > CAPACITY).count();
    // With room for agents × capacity, exactly that many are assigned and the rest wait.
    if assigned != customers.min(agents * CAPACITY) {
        violations += 1;
    }
    Ok(json!({
        "scenario": "routing",
        "smoke": cli.smoke,
        "what": "webhook posted → routing decision (assigned or queued) received on a supervisor's socket",
        "agents": agents,
        "capacity": CAPACITY,
        "customers": customers,
        "offered_per_second": per_second,
        "assigned": assigned,
        "queued": queued,
        "decision_ms": {
            "p50": percentile(&latencies, 50.0),
            "p90": percentile(&latencies, 90.0),
            "p99": percentile(&latencies, 99.0),
            "max": percentile(&latencies, 100.0),
        },
        "target_p99_ms": 50,
        "webhooks_refused": refused,
        "lost": customers - decided.len() + refused,
        "duplicated": duplicated,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
