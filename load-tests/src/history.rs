//! `history`: the first page (50 messages, newest first) of a conversation holding 100,000
//! messages, read over REST from the real `switchboard` binary with the durable embedded store,
//! beside the same read of a conversation holding 1,000 (the baseline: a page should cost the same
//! however long the conversation is). Then the whole conversation is paged through, 50 at a time,
//! to prove paging loses and repeats nothing.
//!
//! The messages arrive as real webhooks, 100 messages per webhook (Meta batches), with WhatsApp
//! timestamps spread over the last 30 days so the time-bucketed partitions are crossed.
//!
//! Correctness: the first page is exactly the 50 newest messages (`violations` otherwise), and
//! the walk sees every message once (`lost`, `duplicated`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde_json::{json, Value};

use crate::crowd::{self, percentile_ms, NUMBER};
use crate::idle::{default_number, serve_with_owner};
use crate::ingest::{pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const BATCH: usize = 100;
const PAGE: usize = 50;

fn wamid(customer: &str, k: usize) -> String {
    format!("wamid.hist.{customer}.{k}")
}

/// Messages `range` of `customer`, in one webhook; message k is `k × spacing` seconds after `from`.
fn batch(customer: &str, range: std::ops::Range<usize>, from: i64, spacing: i64) -> Bytes {
    let messages: Vec<Value> = range
        .map(|k| {
            json!({"from": customer, "id": wamid(customer, k),
                   "timestamp": (from + k as i64 * spacing).to_string(), "type": "text",
                   "text": {"body": format!("History message {k}: the parcel, the invoice, the refund.")}})
        })
        .collect();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
            "contacts": [{"profile": {"name": "History"}, "wa_id": customer}],
            "messages": messages}}]}]});
    Bytes::from(serde_json::to_vec(&body).expect("serialisable"))
}

/// Loads `count` messages from `customer` spread over the last 30 days. Every batch but the last
/// goes 8 at a time; the last goes alone, after them, so it holds the newest messages.
async fn load(client: &reqwest::Client, url: &str, customer: &str, count: usize) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let span = 30 * 86_400;
    let spacing = (span / count as i64).max(1);
    let from = now - span;
    let batches: Vec<std::ops::Range<usize>> = (0..count)
        .step_by(BATCH)
        .map(|s| s..(s + BATCH).min(count))
        .collect();
    let (last, rest) = batches.split_last().context("no messages")?;
    let refused = futures_util::stream::iter(rest)
        .map(|r| crowd::post_webhook(client, url, batch(customer, r.clone(), from, spacing)))
        .buffer_unordered(8)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    anyhow::ensure!(refused == 0, "{refused} history webhooks were refused");
    anyhow::ensure!(
        crowd::post_webhook(client, url, batch(customer, last.clone(), from, spacing)).await,
        "the last history webhook was refused"
    );
    Ok(())
}

async fn page(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    conversation: &str,
    cursor: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    let mut request = client
        .get(format!(
            "{base}/api/v1/conversations/{conversation}/messages"
        ))
        .bearer_auth(token)
        .query(&[("limit", PAGE.to_string())]);
    if let Some(c) = cursor {
        request = request.query(&[("cursor", c)]);
    }
    let answer = request.send().await?;
    if !answer.status().is_success() {
        bail!("history answered {}", answer.status());
    }
    let page: Value = answer.json().await?;
    let wamids = page["items"]
        .as_array()
        .context("no items")?
        .iter()
        .map(|m| m["wamid"].as_str().unwrap_or_default().to_owned())
        .collect();
    Ok((wamids, page["next"].as_str().map(str::to_owned)))
}

/// The first page read `n` times in a row; microseconds each, sorted.
async fn first_pages(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    conversation: &str,
    n: usize,
) -> Result<Vec<u32>> {
    let mut us = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        page(client, base, token, conversation, None).await?;
        us.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    us.sort_unstable();
    Ok(us)
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let (big, small) = if cli.smoke {
        (5_000, 1_000)
    } else {
        (100_000, 1_000)
    };
    let reads = if cli.smoke { 50 } else { 500 };
    let served = serve_with_owner(&switchboard, &default_number(SECRET), "").await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = format!("{}/webhooks/whatsapp", served.base);
    // Customers whose masked numbers (last four digits shown) tell them apart.
    let (big_customer, small_customer) = ("15557770001", "15557770002");
    let started = Instant::now();
    load(&client, &url, big_customer, big).await?;
    load(&client, &url, small_customer, small).await?;
    let load_secs = started.elapsed().as_secs_f64();

    // The inbox opens conversations as it works through what was stored: wait for both.
    let mut ids: HashMap<String, String> = HashMap::new();
    let listing = Instant::now();
    while ids.len() < 2 {
        let list: Value = client
            .get(format!("{}/api/v1/conversations?limit=10", served.base))
            .bearer_auth(&served.token)
            .send()
            .await?
            .json()
            .await?;
        for c in list["items"].as_array().context("no conversations")? {
            let customer = c["customer"].as_str().unwrap_or_default();
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            for full in [big_customer, small_customer] {
                if customer.ends_with(&full[full.len() - 4..]) {
                    ids.insert(full.to_owned(), id.clone());
                }
            }
        }
        if listing.elapsed() > Duration::from_secs(120) {
            bail!("the conversations were not listed within 2 minutes: {list}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let inbox_caught_up_s = listing.elapsed().as_secs_f64();
    let big_id = ids
        .get(big_customer)
        .context("the big conversation is not listed")?;
    let small_id = ids
        .get(small_customer)
        .context("the small conversation is not listed")?;

    // Alternate so drift on a shared machine hits both alike.
    let (mut at_big, mut at_small) = (Vec::new(), Vec::new());
    for _ in 0..cli.repeats() {
        at_big.push(first_pages(&client, &served.base, &served.token, big_id, reads).await?);
        at_small.push(first_pages(&client, &served.base, &served.token, small_id, reads).await?);
    }
    let median = |mut runs: Vec<Vec<u32>>| {
        runs.sort_by_key(|r| r[r.len() / 2]);
        runs.swap_remove(runs.len() / 2)
    };
    let (at_big, at_small) = (median(at_big), median(at_small));

    // The first page is the newest 50, and the whole walk sees every message once.
    let mut violations = 0usize;
    let (first, _) = page(&client, &served.base, &served.token, big_id, None).await?;
    let newest: HashSet<String> = (big - PAGE..big).map(|k| wamid(big_customer, k)).collect();
    if first.len() != PAGE || first.iter().any(|w| !newest.contains(w)) {
        violations += 1;
    }
    let walk_started = Instant::now();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0usize;
    loop {
        let (wamids, next) = page(
            &client,
            &served.base,
            &served.token,
            big_id,
            cursor.as_deref(),
        )
        .await?;
        pages += 1;
        for w in wamids {
            *seen.entry(w).or_default() += 1;
        }
        match next {
            Some(n) if pages < big / PAGE + 10 => cursor = Some(n),
            _ => break,
        }
    }
    let walk = walk_started.elapsed();
    let lost = (0..big)
        .filter(|&k| !seen.contains_key(&wamid(big_customer, k)))
        .count();
    let duplicated: u32 = seen.values().map(|n| n - 1).sum();
    drop(served);

    let p50_big = percentile_ms(&at_big, 50.0);
    let p50_small = percentile_ms(&at_small, 50.0);
    Ok(json!({
        "scenario": "history",
        "smoke": cli.smoke,
        "what": "GET /api/v1/conversations/{id}/messages?limit=50 (newest first), sequential reads, median run of",
        "messages": big,
        "loaded_in_s": (load_secs * 10.0).round() / 10.0,
        "inbox_caught_up_after_s": (inbox_caught_up_s * 10.0).round() / 10.0,
        "first_page_ms": {
            "p50": p50_big,
            "p99": percentile_ms(&at_big, 99.0),
            "max": percentile_ms(&at_big, 100.0),
            "reads": reads,
        },
        "baseline": {
            "name": format!("the same read of a conversation of {small} messages"),
            "first_page_ms": {"p50": p50_small, "p99": percentile_ms(&at_small, 99.0)},
        },
        "ratio_to_baseline": ((p50_big / p50_small.max(0.001)) * 100.0).round() / 100.0,
        "target_first_page_ms": 5,
        "walk": {
            "pages": pages,
            "seconds": (walk.as_secs_f64() * 100.0).round() / 100.0,
            "ms_per_page": ((walk.as_secs_f64() * 1000.0 / pages.max(1) as f64) * 100.0).round() / 100.0,
        },
        "lost": lost,
        "duplicated": duplicated,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
