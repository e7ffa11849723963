//! `soak`: half an hour (`--soak-minutes`) at twice the seed's peak, against the real
//! `switchboard` binary and the real simulator: 1,000 customer messages a second across 10
//! business numbers to 500 agents (each following their own inbox) and 5 supervisors (following
//! everything), while the agents reply (50 a second, each as the conversation's assignee), a
//! campaign sends on one number at its tier's pace with the simulator's status webhooks coming
//! back, and a contact import runs at the start of every window.
//!
//! Measured in 5-minute windows (a third of the run when shorter; `--smoke`: three of 2 s at
//! 100 a second): the e2e latency percentiles (webhook due → the assigned agent's socket, and
//! every supervisor's), the server's RssAnon and open file descriptors after each window. The
//! first half is the warm-up (the resume windows and caches fill): memory drift is the last
//! window's RssAnon against the end of the first half (target: at most 5%), file descriptors
//! should stay flat. Every acknowledged message must
//! reach its agent and every supervisor exactly once, in order (`lost`, `duplicated`,
//! `violations`), and no reply or import may fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use reqwest::Method;
use serde_json::{json, Value};

use crate::crowd::{Importer, Person};
use crate::e2e::{sizes, Crowd};
use crate::ingest::pin_self;
use crate::{procinfo, Cli};

/// The business numbers customers write to; the first also carries the campaign.
fn numbers() -> Vec<String> {
    (0..10).map(|i| format!("10654035240{i:04}")).collect()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The server's own gauges of what it holds in memory, to tell which part of RssAnon moves:
/// the hub's streams and the text their windows keep, and SQLite's heap (its page caches).
async fn memory_gauges(crowd: &Crowd) -> Value {
    const GAUGES: [(&str, &str, f64); 4] = [
        ("switchboard_hub_streams", "hub_streams", 1.0),
        ("switchboard_hub_window_events", "hub_window_events", 1.0),
        ("switchboard_hub_window_bytes", "hub_window_mb", 1048576.0),
        (
            "switchboard_store_sqlite_heap_bytes",
            "sqlite_heap_mb",
            1048576.0,
        ),
    ];
    let url = format!("{}/metrics", crowd.served.base);
    let text = match crowd.client.get(url).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let mut out = serde_json::Map::new();
    for (metric, name, unit) in GAUGES {
        let value = text.lines().find_map(|l| {
            l.strip_prefix(metric)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        });
        out.insert(
            name.into(),
            value.map_or(Value::Null, |v| json!((v / unit * 10.0).round() / 10.0)),
        );
    }
    Value::Object(out)
}

fn importer(crowd: &Crowd) -> Importer {
    Importer::new(&crowd.client, &crowd.served.base, &crowd.served.token)
}

/// Every assigned conversation and its assignee's credential.
async fn assigned(crowd: &Crowd) -> Result<Vec<(String, String)>> {
    let tokens: HashMap<&str, &Person> = crowd.agents.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("conversations?state=assigned&limit=200&cursor={c}"),
            None => "conversations?state=assigned&limit=200".to_owned(),
        };
        let page = crowd
            .served
            .api(&crowd.client, Method::GET, &path, None)
            .await?;
        for c in page["items"].as_array().into_iter().flatten() {
            let agent = c["assignee"].as_str().and_then(|a| tokens.get(a));
            if let (Some(id), Some(agent)) = (c["id"].as_str(), agent) {
                out.push((id.to_owned(), agent.token.clone()));
            }
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Replies as each conversation's assignee, `per_second`, round the conversations, until
/// `stop`: (accepted, refused, refused with a server error).
fn spawn_replier(
    crowd: &Crowd,
    conversations: Vec<(String, String)>,
    per_second: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 3]>,
) -> tokio::task::JoinHandle<()> {
    let (client, base) = (crowd.client.clone(), crowd.served.base.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
        let mut n = 0usize;
        while !stop.load(Ordering::Relaxed) && !conversations.is_empty() {
            tick.tick().await;
            let (id, token) = &conversations[n % conversations.len()];
            n += 1;
            let answer = client
                .post(format!("{base}/api/v1/conversations/{id}/messages"))
                .bearer_auth(token)
                .json(&json!({"text": format!("Reply {n}: it ships today.")}))
                .send()
                .await;
            let slot = match answer {
                Ok(r) if r.status().is_success() => 0,
                Ok(r) => {
                    let status = r.status();
                    let slot = if status.is_client_error() { 1 } else { 2 };
                    // The first refusal of each kind says why.
                    if counts[slot].load(Ordering::Relaxed) == 0 {
                        let body = r.text().await.unwrap_or_default();
                        eprintln!("soak: a reply was refused: {status} {body}");
                    }
                    slot
                }
                Err(e) => {
                    if counts[2].load(Ordering::Relaxed) == 0 {
                        eprintln!("soak: a reply was not answered: {e}");
                    }
                    2
                }
            };
            counts[slot].fetch_add(1, Ordering::Relaxed);
        }
    })
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let (rate, window, windows, replies_per_s, refresh_rows) = if cli.smoke {
        (100u64, Duration::from_secs(2), 3u32, 10u64, 50usize)
    } else {
        let total = cli.soak_minutes.max(3) * 60;
        let window = 300.min(total / 3);
        (
            1_000,
            Duration::from_secs(window),
            (total / window) as u32,
            50,
            2_000,
        )
    };
    let numbers = numbers();
    let sim_port = crate::ingest::free_port()?;
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let config: String = numbers
        .iter()
        .map(|n| crate::campaign::number_toml(n, &graph, 80))
        .collect();
    let mut s = sizes(cli);
    s.inbound = numbers.clone();
    let mut crowd = Crowd::start_on(tempfile::tempdir()?, &config, "", &s, 0).await?;
    let mut extra: Vec<String> = crate::sim::CAMPAIGN_ACCOUNT
        .into_iter()
        .map(str::to_owned)
        .collect();
    for n in &numbers {
        extra.extend(["--phone-number-id".into(), n.clone()]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let _simulator = crate::sim::start(sim_port, &crowd.served.base, &extra).await?;

    // A campaign that outlasts the run at its pace (80% of tier 80).
    let total_secs = window.as_secs() * u64::from(windows);
    let audience = (64 * (total_secs + 60)) as usize;
    let state = importer(&crowd)
        .run(audience, "broadcast".into(), "491518")
        .await?;
    if state != "done" {
        bail!("the campaign's audience import ended {state}");
    }
    let campaign = crowd.start_campaign("Soak", &numbers[0]).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let replies = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let replier = spawn_replier(
        &crowd,
        assigned(&crowd).await?,
        replies_per_s,
        Arc::clone(&stop),
        Arc::clone(&replies),
    );

    let pid = crowd.served.pid;
    let mut table = Vec::new();
    let mut rss = Vec::new();
    let mut fds = Vec::new();
    let (mut lost, mut duplicated, mut violations) = (0, 0, 0);
    let mut failed_imports = 0;
    for w in 0..windows {
        // A refresh import runs beside the window's traffic.
        let importing = tokio::spawn(importer(&crowd).run(
            refresh_rows,
            format!("regulars,window-{w}"),
            "491519",
        ));
        let count = rate * window.as_secs();
        let r = crowd.measure(&format!("s{w}"), count, rate, None).await?;
        match importing.await? {
            Ok(state) if state == "done" => {}
            Ok(state) => {
                eprintln!("soak window {w}: the refresh import ended {state}");
                failed_imports += 1;
            }
            Err(e) => {
                eprintln!("soak window {w}: the refresh import failed: {e:#}");
                failed_imports += 1;
            }
        }
        lost += r.lost;
        duplicated += r.duplicated;
        violations += r.violations;
        let (anon, open) = (crate::crowd::rss_bytes(pid).unwrap_or(0), open_fds(pid));
        rss.push(anon);
        fds.push(open);
        let sent = crowd
            .served
            .api(
                &crowd.client,
                Method::GET,
                &format!("campaigns/{campaign}"),
                None,
            )
            .await?["counts"]["sent"]
            .as_u64()
            .unwrap_or(0);
        let mut row = r.summary();
        row["window"] = json!(w);
        row["minutes"] = json!(format!(
            "{}–{}",
            window.as_secs() * u64::from(w) / 60,
            window.as_secs() * u64::from(w + 1) / 60
        ));
        row["rss_anon_mb_after"] = json!((anon as f64 / 1048576.0 * 10.0).round() / 10.0);
        row["open_fds_after"] = json!(open);
        row["held_after"] = memory_gauges(&crowd).await;
        row["campaign_sent_so_far"] = json!(sent);
        row["lost"] = json!(r.lost);
        row["duplicated"] = json!(r.duplicated);
        row["violations"] = json!(r.violations);
        row["replies_so_far"] = json!(replies[0].load(Ordering::Relaxed));
        eprintln!("soak window {w}: {row}");
        table.push(row);
    }
    stop.store(true, Ordering::Relaxed);
    replier.await?;
    let refused_replies = replies[1].load(Ordering::Relaxed);
    let failed_replies = replies[2].load(Ordering::Relaxed);
    // A reply refused with a reason (a 4xx) is reported; one the server failed is a violation.
    violations += failed_replies + failed_imports;
    // The first half is the warm-up: at this rate every conversation's resume window (1,024
    // events) fills in some 15 minutes, and the streams of the campaign's conversations are
    // kept 10 minutes after their last event. Drift is the last window against the half's end.
    let warm_up = (windows as usize / 2).max(1);
    let settled = rss.get(warm_up - 1).copied().unwrap_or(0).max(1) as f64;
    let last = rss.last().copied().unwrap_or(0) as f64;
    let drift_pct = ((last - settled) / settled * 1000.0).round() / 10.0;
    crowd.stop().await;
    Ok(json!({
        "scenario": "soak",
        "smoke": cli.smoke,
        "what": "windows of e2e (webhook POST due → agent's and supervisors' sockets) at a steady rate across 10 numbers, with agents replying, a campaign sending and an import per window",
        "rate_per_s": rate,
        "numbers": numbers.len(),
        "agents": s.agents,
        "supervisors": s.supervisors,
        "conversations": s.conversations,
        "window_secs": window.as_secs(),
        "windows": table,
        "warm_up_windows": warm_up,
        "rss_anon_drift_pct_after_warm_up": drift_pct,
        "target_drift_pct": 5.0,
        "open_fds": {"min": fds.iter().min(), "max": fds.iter().max()},
        "replies": {"accepted": replies[0].load(Ordering::Relaxed), "refused": refused_replies,
                    "failed": failed_replies},
        "imports_failed": failed_imports,
        "lost": lost,
        "duplicated": duplicated,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
