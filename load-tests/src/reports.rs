//! `reports`: the conversation report over a month of a busy workspace: 2,000,000 episodes
//! holding 10,000,000 messages (5 each: 3 in, 2 out), grouped by agent, team, country and day,
//! from the real `switchboard` binary over REST (`--smoke`: 20,000 episodes).
//!
//! The store is seeded before the server starts, through the store's own API (`put_thread`,
//! which writes a conversation and its episode as the inbox does), with every conversation
//! resolved so the start has no routing to restore. The baseline is the same report over a
//! workspace a hundred times smaller, from the same binary: the ratio says how the report
//! scales.
//!
//! Correctness: the report's total counts every episode and message once, and its median and
//! p90 first response equal a computation of our own over the seeded values (`violations`
//! otherwise).

use std::time::Instant;

use anyhow::Result;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use switchboard_server::domain::{EpisodeFigures, ThreadRecord, ThreadState, UnixMillis, DAY_MS};
use switchboard_server::store::InboxStore as _;
use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId, WaId};

use crate::idle::{default_number, serve_seeded};
use crate::ingest::pin_self;
use crate::{procinfo, sibling_binary, Cli};

const NUMBER: &str = "106540352242922";
const MESSAGES_PER_EPISODE: u64 = 5;
const AGENTS: usize = 40;
/// Customers' number prefixes (countries: DE, RU, US, GB, BR, IN).
const PREFIXES: [&str; 6] = ["4915100", "7916", "1650555", "447700", "5511", "9198"];

/// A deterministic spread of first response times: mostly seconds to minutes, a long tail.
fn first_response_ms(i: u64) -> i64 {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
    let base = (h % 120_000) as i64 + 2_000;
    if h.is_multiple_of(20) {
        base * 30
    } else {
        base
    }
}

fn thread(tenant: &TenantId, i: u64, now: UnixMillis) -> ThreadRecord {
    let prefix = PREFIXES[(i % PREFIXES.len() as u64) as usize];
    let customer = format!("{prefix}{:07}", i % 10_000_000);
    // Spread over the last 28 days, newest last.
    let opened_at = now - 28 * DAY_MS + (i as i64 * 7_919) % (28 * DAY_MS);
    let frt = first_response_ms(i);
    let agent = UserId::new(format!("u_agent{}", i % AGENTS as u64));
    ThreadRecord {
        tenant: tenant.clone(),
        conversation: ConversationId::new(format!("c_load{i:010}")),
        number: PhoneNumberId::from(NUMBER),
        customer: WaId::new(customer),
        state: ThreadState::Resolved,
        assignee: None,
        last_agent: Some(agent.clone()),
        tags: Vec::new(),
        waiting_since: None,
        last_inbound_at: Some(opened_at),
        last_inbound_wamid: None,
        opened_at,
        updated_at: opened_at + frt + 600_000,
        episode: EpisodeFigures {
            first_response_at: Some(opened_at + frt),
            first_responder: Some(agent),
            messages_in: 3,
            messages_out: 2,
            survey: None,
        },
    }
}

/// Seeds `episodes` resolved conversations; returns their first response times.
async fn seed(data_dir: &std::path::Path, episodes: u64) -> Result<Vec<i64>> {
    let store = crate::seed::open(data_dir)?;
    let tenant = TenantId::from("load");
    let now = switchboard_server::domain::now_ms();
    let failed = futures_util::stream::iter(0..episodes)
        .map(|i| {
            let t = thread(&tenant, i, now);
            let store = &store;
            async move { store.put_thread(&t, None).await.is_err() }
        })
        .buffer_unordered(1_024)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    anyhow::ensure!(failed == 0, "{failed} seeded conversations were not stored");
    // Every write was answered after its commit; the writer thread ends with the store.
    drop(store);
    Ok((0..episodes).map(first_response_ms).collect())
}

/// Interpolated between ranks, as the report defines it; written again here.
fn percentile(sorted: &[i64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] as f64 + (h - lo as f64) * (sorted[hi] - sorted[lo]) as f64
}

struct Measured {
    episodes: u64,
    seed_secs: f64,
    /// group_by → the slowest of the runs, ms.
    latencies: Vec<(String, f64)>,
    violations: u64,
}

async fn measure(cli: &Cli, episodes: u64) -> Result<Measured> {
    let switchboard = sibling_binary("switchboard")?;
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let mut values = seed(&dir.path().join("data"), episodes).await?;
    let served = serve_seeded(&switchboard, &default_number("unused-secret"), "", dir).await?;
    let seed_secs = started.elapsed().as_secs_f64();
    values.sort_unstable();
    let client = reqwest::Client::new();
    let mut violations = 0;
    let mut latencies = Vec::new();
    for group_by in ["agent", "team", "country", "day"] {
        let mut slowest = 0f64;
        for _ in 0..cli.repeats() {
            let t = Instant::now();
            let report = served
                .api(
                    &client,
                    reqwest::Method::GET,
                    &format!("reports/conversations?group_by={group_by}"),
                    None,
                )
                .await?;
            slowest = slowest.max(t.elapsed().as_secs_f64() * 1e3);
            let total = &report["total"];
            let ok = total["conversations"] == episodes
                && total["messages_in"].as_u64().unwrap_or(0)
                    + total["messages_out"].as_u64().unwrap_or(0)
                    == episodes * MESSAGES_PER_EPISODE
                && close(
                    &total["first_response"]["median_ms"],
                    percentile(&values, 0.5),
                )
                && close(&total["first_response"]["p90_ms"], percentile(&values, 0.9));
            if !ok {
                eprintln!("reports: {group_by}: the total disagrees: {total}");
                violations += 1;
            }
        }
        latencies.push((group_by.to_owned(), (slowest * 10.0).round() / 10.0));
    }
    Ok(Measured {
        episodes,
        seed_secs,
        latencies,
        violations,
    })
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|v| (v - expected).abs() < 1e-6)
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let episodes = if cli.smoke { 20_000 } else { 2_000_000 };
    let baseline = measure(cli, episodes / 100).await?;
    let full = measure(cli, episodes).await?;
    let as_json = |m: &Measured| {
        json!({
            "episodes": m.episodes,
            "messages": m.episodes * MESSAGES_PER_EPISODE,
            "seed_secs": (m.seed_secs * 10.0).round() / 10.0,
            "slowest_ms": m.latencies.iter().map(|(g, ms)| (g.clone(), json!(ms))).collect::<serde_json::Map<_, _>>(),
        })
    };
    Ok(json!({
        "scenario": "reports",
        "report": as_json(&full),
        "baseline": as_json(&baseline),
        "load_average_before": load_before,
        "lost": 0,
        "duplicated": 0,
        "violations": baseline.violations + full.violations,
    }))
}
