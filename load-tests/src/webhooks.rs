//! `webhooks_out`: outbound webhooks (issue 23: "≥ 1,000 deliveries/s to a local receiver; 0 lost
//! and 0 duplicated deliveries (by `webhook-id`) across a SIGKILL of Switchboard and a receiver
//! that is down for a minute").
//!
//! A receiver in this process (hyper, keep-alive, on the load generator's core) checks every
//! delivery's Standard Webhooks signature with the secret the API showed once, and counts
//! deliveries by `webhook-id` and by the message they announce. Customers' messages reach
//! Switchboard as signed Meta webhooks (50 messages each, 8 posters at once).
//!
//! 1. Throughput: 20,000 messages (`--smoke`: 2,000) with the receiver up; the rate is the
//!    deliveries received over the time from the first to the last.
//! 2. Outage: the receiver answers 503; half of 5,000 messages (`--smoke`: 1,000) are posted,
//!    Switchboard is SIGKILLed and started again on the same data, the other half is posted;
//!    the receiver stays down 60 s (`--smoke`: 5 s) in all, then answers again. The retry
//!    schedule is the default (5 s, then 5 min): what brings the backlog is the probe a failing
//!    endpoint gets every 30 s, and then every waiting delivery brought forward.
//!
//! Correctness: every message whose webhook was answered 200 arrives (`lost` otherwise); no
//! message arrives under two ids and no id twice (`duplicated`); every signature verifies
//! (`violations`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use switchboard_server::service::webhooks::sign;

use crate::idle::{default_number, serve_with_owner, Served};
use crate::ingest::{pin_self, sign, SECRET};
use crate::loopback;
use crate::{procinfo, sibling_binary, Cli};

const NUMBER: &str = "106540352242922";
const PER_WEBHOOK: usize = 50;
const POSTERS: usize = 8;

#[derive(Default)]
struct Receiver {
    down: AtomicBool,
    key: OnceLock<Vec<u8>>,
    /// `webhook-id` → how often it came, and the message's wamid.
    seen: Mutex<HashMap<String, (u32, String)>>,
    bad_signatures: AtomicU64,
    refused: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

impl Receiver {
    fn take(&self, headers: &hyper::HeaderMap, body: &[u8]) -> bool {
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
        let signed = self.key.get().is_some_and(|key| {
            let expected = sign::signature(
                key,
                &id,
                timestamp.parse().unwrap_or(0),
                std::str::from_utf8(body).unwrap_or(""),
            );
            header("webhook-signature")
                .split(' ')
                .any(|s| s == expected)
        });
        if !signed {
            self.bad_signatures.fetch_add(1, Ordering::Relaxed);
        }
        let wamid = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["data"]["message"]["wamid"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let now = Instant::now();
        self.first.lock().unwrap().get_or_insert(now);
        *self.last.lock().unwrap() = Some(now);
        self.seen.lock().unwrap().entry(id).or_insert((0, wamid)).0 += 1;
        true
    }

    fn delivered(&self) -> HashSet<String> {
        self.seen
            .lock()
            .unwrap()
            .values()
            .map(|(_, w)| w.clone())
            .collect()
    }
}

async fn receiver() -> Result<(String, Arc<Receiver>)> {
    let state = Arc::new(Receiver::default());
    let shared = Arc::clone(&state);
    let port = loopback::serve(move |req: loopback::Request| {
        let state = Arc::clone(&shared);
        async move {
            let headers = req.headers().clone();
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => Bytes::new(),
            };
            let mut answer = hyper::Response::new(Full::new(Bytes::new()));
            if !state.take(&headers, &body) {
                *answer.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
            }
            answer
        }
    })
    .await?;
    Ok((format!("http://127.0.0.1:{port}/hook"), state))
}

/// One Meta webhook carrying messages `from..to` of `run`, each from its own customer.
fn batch(run: &str, from: usize, to: usize) -> (String, Vec<String>) {
    let wamids: Vec<String> = (from..to)
        .map(|i| format!("wamid.hook.{run}.{i}"))
        .collect();
    let messages: Vec<Value> = (from..to)
        .zip(&wamids)
        .map(|(i, w)| {
            json!({"from": format!("49170{:08}", i), "id": w, "timestamp": "1765000000",
                   "type": "text", "text": {"body": format!("message {i}")}})
        })
        .collect();
    let contacts: Vec<Value> = (from..to)
        .map(|i| json!({"profile": {"name": "Load"}, "wa_id": format!("49170{:08}", i)}))
        .collect();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": NUMBER},
            "contacts": contacts, "messages": messages}}]}]});
    (body.to_string(), wamids)
}

/// Posts messages `range` in webhooks of [`PER_WEBHOOK`] from [`POSTERS`] tasks; the wamids of
/// the webhooks answered 200.
async fn post(base: &str, run: &str, range: std::ops::Range<usize>) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let starts: Vec<usize> = range.clone().step_by(PER_WEBHOOK).collect();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..POSTERS {
        let (client, next, starts) = (client.clone(), Arc::clone(&next), starts.clone());
        let (url, run, end) = (
            format!("{base}/webhooks/whatsapp"),
            run.to_owned(),
            range.end,
        );
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&from) = starts.get(i) else { break };
                let (body, wamids) = batch(&run, from, (from + PER_WEBHOOK).min(end));
                let answer = client
                    .post(&url)
                    .header("x-hub-signature-256", sign(body.as_bytes()))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().as_u16() == 200) {
                    acked.extend(wamids);
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap_or_default());
    }
    acked
}

/// Waits (bounded) until every wamid of `acked` was delivered; the ones that never were.
async fn missing_after(rx: &Receiver, acked: &[String], limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let delivered = rx.delivered();
        let missing: Vec<String> = acked
            .iter()
            .filter(|w| !delivered.contains(*w))
            .cloned()
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let switchboard = sibling_binary("switchboard")?;
    let mut served: Served = serve_with_owner(
        &switchboard,
        &default_number(SECRET),
        // The default retry schedule (5 s, then 5 min, …): the receiver back from its outage
        // is noticed by a probe (every 30 s while an endpoint fails), not by a short schedule.
        "[outgoing_webhooks]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]\n",
    )
    .await?;
    let (url, rx) = receiver().await?;
    let client = reqwest::Client::new();
    let made = served
        .api(
            &client,
            reqwest::Method::POST,
            "webhooks",
            Some(json!({"url": url, "events": ["message.received"], "description": "load"})),
        )
        .await?;
    let secret = made["secret"].as_str().context("no secret")?;
    let key = sign::key_of(secret).context("not a whsec_ secret")?;
    let _ = rx.key.set(key);

    // 1. Throughput.
    let count = if cli.smoke { 2_000 } else { 20_000 };
    let cpu_before = procinfo::cpu_seconds(served.pid).unwrap_or(0.0);
    let acked = post(&served.base, "a", 0..count).await;
    let missing = missing_after(&rx, &acked, Duration::from_secs(120)).await;
    let cpu = procinfo::cpu_seconds(served.pid).unwrap_or(0.0) - cpu_before;
    let (first, last) = (*rx.first.lock().unwrap(), *rx.last.lock().unwrap());
    let window = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64().max(0.001),
        _ => bail!("nothing was delivered"),
    };
    let delivered_a = rx.seen.lock().unwrap().len();
    let rate = delivered_a as f64 / window;

    // 2. A receiver down across a SIGKILL.
    let half = if cli.smoke { 500 } else { 2_500 };
    let down_for = Duration::from_secs(if cli.smoke { 5 } else { 60 });
    rx.down.store(true, Ordering::SeqCst);
    let went_down = Instant::now();
    let mut acked_b = post(&served.base, "b", 0..half).await;
    served.kill_and_restart(&switchboard).await?;
    acked_b.extend(post(&served.base, "b", half..2 * half).await);
    tokio::time::sleep(down_for.saturating_sub(went_down.elapsed())).await;
    let refused = rx.refused.load(Ordering::Relaxed);
    rx.down.store(false, Ordering::SeqCst);
    let back_at = Instant::now();
    let missing_b = missing_after(&rx, &acked_b, Duration::from_secs(300)).await;
    let caught_up_s = back_at.elapsed().as_secs_f64();

    let seen = rx.seen.lock().unwrap();
    let repeated_ids = seen.values().filter(|(n, _)| *n > 1).count();
    let mut ids_per_message: HashMap<&str, u32> = HashMap::new();
    for (_, w) in seen.values() {
        *ids_per_message.entry(w.as_str()).or_default() += 1;
    }
    let two_ids = ids_per_message.values().filter(|n| **n > 1).count();
    Ok(json!({
        "scenario": "webhooks_out",
        "messages": count,
        "delivered": delivered_a,
        "deliveries_per_second": (rate * 10.0).round() / 10.0,
        "server_cpu_us_per_delivery": (cpu * 1e6 / delivered_a.max(1) as f64).round(),
        "outage": {
            "messages": 2 * half,
            "acked": acked_b.len(),
            "receiver_down_s": down_for.as_secs(),
            "attempts_refused_while_down": refused,
            "caught_up_s_after_back": (caught_up_s * 10.0).round() / 10.0,
            "killed": "SIGKILL after the first half",
        },
        "repeated_ids": repeated_ids,
        "messages_under_two_ids": two_ids,
        "bad_signatures": rx.bad_signatures.load(Ordering::Relaxed),
        "lost": missing.len() + missing_b.len(),
        "duplicated": repeated_ids + two_ids,
        "violations": rx.bad_signatures.load(Ordering::Relaxed),
        "load_average_before": load_before,
    }))
}
