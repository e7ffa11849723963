//! `send_governor`: agents' replies offered at twice the limits of several numbers, against the
//! real simulator (which enforces Meta's throughput and pair-rate buckets), with storms of
//! injected 130429 answers, through the real server's durable outbox and governor.
//!
//! Correctness, which the smoke run asserts: every reply reaches WhatsApp exactly once (`lost`,
//! `duplicated`), and WhatsApp refuses nothing beyond the injected answers (`violations`: real
//! 130429 throughput refusals plus 131056 pair-rate refusals). Reported: the rate each number
//! achieved while saturated, against its tier.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::idle::{number_toml, serve_with_owner};
use crate::ingest::{free_port, pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const NUMBERS: [&str; 3] = ["106540352200001", "106540352200002", "106540352200003"];
/// Replies to one customer per number beyond the pair-rate burst, so pacing is exercised.
const HOT_REPLIES: usize = 22;

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let (mps, customers, storm) = if cli.smoke {
        (10u32, 10usize, 4usize)
    } else {
        (40u32, 100usize, 40usize)
    };
    let seconds = cli.duration().as_secs().max(2);

    // The simulator plays Meta for three numbers at `mps` each; the server sends through it.
    let sim_port = free_port()?;
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let numbers: String = NUMBERS
        .iter()
        .map(|n| number_toml(n, SECRET, &graph, mps))
        .collect();
    let served = serve_with_owner(
        &switchboard,
        &numbers,
        "[outbox]\nin_doubt_grace_secs = 2\n",
    )
    .await?;
    let mps_text = mps.to_string();
    let mut extra: Vec<String> = ["--mps", &mps_text, "--sent-after-ms", "100"]
        .into_iter()
        .chain(["--delivered-after-ms", "200", "--read-after-ms", "400"])
        .map(str::to_owned)
        .collect();
    for n in NUMBERS {
        extra.extend(["--phone-number-id".into(), n.to_owned()]);
        extra.extend([
            "--display-phone-number".into(),
            format!("1555{}", &n[n.len() - 7..]),
        ]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let simulator = crate::sim::start(sim_port, &served.base, &extra).await?;
    let sim = simulator.url.clone();
    let client = reqwest::Client::new();

    // Customers write first (the 24-hour window), and their conversations open.
    for n in NUMBERS {
        for c in 0..customers {
            let r = client
                .post(format!("{sim}/_sim/inbound"))
                .json(&json!({"phone_number_id": n, "from": customer(n, c), "text": "hello"}))
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("a customer could not write: {}", r.text().await?);
            }
        }
    }
    let expected = NUMBERS.len() * customers;
    let mut conversations: HashMap<(String, usize), String> = HashMap::new();
    let started = Instant::now();
    while conversations.len() < expected {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "only {} of {expected} conversations opened",
                conversations.len()
            );
        }
        conversations.clear();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/api/v1/conversations?limit=200", served.base);
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = client
                .get(url)
                .bearer_auth(&served.token)
                .send()
                .await?
                .json()
                .await?;
            for item in page["items"].as_array().into_iter().flatten() {
                let (number, wa) = (
                    item["number"].as_str().unwrap_or(""),
                    item["customer"].as_str().unwrap_or(""),
                );
                if let Some(c) = (0..customers).find(|&c| customer(number, c) == wa) {
                    conversations.insert(
                        (number.to_owned(), c),
                        item["id"].as_str().unwrap_or("").to_owned(),
                    );
                }
            }
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The offer: twice each number's tier for `seconds`, one customer per number hot; a storm of
    // 130429 at the start and another halfway.
    let per_number = (2 * mps as usize) * seconds as usize;
    let mut plan: Vec<(String, usize)> = Vec::new();
    for i in 0..per_number {
        for n in NUMBERS {
            let c = if i < HOT_REPLIES {
                0
            } else {
                1 + i % (customers - 1)
            };
            plan.push((n.to_owned(), c));
        }
    }
    let storm_faults = |count: usize| json!({"forced_codes": vec![130429; count]});
    client
        .put(format!("{sim}/_sim/faults"))
        .json(&storm_faults(storm))
        .send()
        .await?;
    let offered_per_second = 2 * mps as u64 * NUMBERS.len() as u64;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / offered_per_second));
    let mut queued: HashMap<String, String> = HashMap::new();
    let mut refused = 0usize;
    let offer_started = Instant::now();
    // Injected answers actually given (a storm not used up is replaced by the next).
    let mut consumed = 0usize;
    let mut posts = Vec::with_capacity(plan.len());
    for (i, (number, c)) in plan.iter().enumerate() {
        ticker.tick().await;
        if i == plan.len() / 2 {
            consumed += storm - remaining_forced(&client, &sim).await?;
            client
                .put(format!("{sim}/_sim/faults"))
                .json(&storm_faults(storm))
                .send()
                .await?;
        }
        let text = format!("governed reply {i}");
        let url = format!(
            "{}/api/v1/conversations/{}/messages",
            served.base,
            conversations[&(number.clone(), *c)]
        );
        let (client, token) = (client.clone(), served.token.clone());
        let body = json!({"text": text, "key": text});
        posts.push(tokio::spawn(async move {
            let answer = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .ok()?;
            (answer.status().as_u16() == 202).then_some(text)
        }));
    }
    for p in posts {
        match p.await.ok().flatten() {
            Some(text) => {
                queued.insert(text.clone(), text);
            }
            None => refused += 1,
        }
    }
    let offered_for = offer_started.elapsed();

    // Drain: every queued reply should reach the simulator; the hot customers are paced at one
    // per 6 s after their burst.
    let deadline = Instant::now()
        + Duration::from_secs(30 + (plan.len() as u64 / (mps as u64 * NUMBERS.len() as u64)))
        + Duration::from_secs(6 * (HOT_REPLIES as u64));
    let mut seen: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    loop {
        let sent: Vec<Value> = client
            .get(format!("{sim}/_sim/sent"))
            .send()
            .await?
            .json()
            .await?;
        seen.clear();
        for s in &sent {
            if let Some(text) = s["body"]["text"]["body"].as_str() {
                seen.entry(text.to_owned()).or_default().push((
                    s["phone_number_id"].as_str().unwrap_or("").to_owned(),
                    s["at_ms"].as_i64().unwrap_or(0),
                ));
            }
        }
        let arrived = queued.keys().filter(|t| seen.contains_key(*t)).count();
        if arrived == queued.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    consumed += storm - remaining_forced(&client, &sim).await?;
    let stats: Value = client
        .get(format!("{sim}/_sim/stats"))
        .send()
        .await?
        .json()
        .await?;
    drop(served);

    let lost = queued.keys().filter(|t| !seen.contains_key(*t)).count() + refused;
    let duplicated: usize = seen.values().map(|v| v.len().saturating_sub(1)).sum();
    let throttled = stats["rejected"]["130429"].as_u64().unwrap_or(0) as usize;
    let paced = stats["rejected"]["131056"].as_u64().unwrap_or(0) as usize;
    let violations = throttled.saturating_sub(consumed) + paced;
    // The most sends one number made in any second: at most its tier plus the governor's burst
    // (a quarter of a second's worth).
    let mut peaks = serde_json::Map::new();
    for n in NUMBERS {
        let mut times: Vec<i64> = seen
            .values()
            .flat_map(|v| v.iter())
            .filter(|(number, _)| number == n)
            .map(|(_, at)| *at)
            .collect();
        times.sort_unstable();
        let mut peak = 0usize;
        let mut start = 0usize;
        for end in 0..times.len() {
            while times[end] - times[start] >= 1000 {
                start += 1;
            }
            peak = peak.max(end - start + 1);
        }
        peaks.insert(n.to_owned(), json!(peak));
    }
    let drained_s = offer_started.elapsed().as_secs_f64();
    Ok(json!({
        "scenario": "send_governor",
        "smoke": cli.smoke,
        "what": "replies offered at twice each number's tier, with 130429 storms injected, through the outbox and governor to the simulator",
        "numbers": NUMBERS.len(),
        "tier_mps": mps,
        "offered_per_second": offered_per_second,
        "offered_for_s": (offered_for.as_secs_f64() * 10.0).round() / 10.0,
        "replies": plan.len(),
        "injected_130429_answered": consumed,
        "refused_by_whatsapp": {"130429": throttled, "131056": paced},
        "peak_sends_in_1s": peaks,
        "all_sent_after_s": (drained_s * 10.0).round() / 10.0,
        "lost": lost,
        "duplicated": duplicated,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

fn customer(number: &str, c: usize) -> String {
    format!("49{}{c:04}", &number[number.len() - 3..])
}

/// How many injected answers the simulator still holds.
async fn remaining_forced(client: &reqwest::Client, sim: &str) -> Result<usize> {
    let faults: Value = client
        .get(format!("{sim}/_sim/faults"))
        .send()
        .await?
        .json()
        .await?;
    Ok(faults["forced_codes"].as_array().map_or(0, Vec::len))
}
