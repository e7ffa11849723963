//! `fanout`: frames per second, and per second of server CPU (one core), delivered to 100 and
//! 1,000 subscribers of one stream. Switchboard's stream is `tenant` and its events come from real
//! signed webhooks (each stored durably, then published). The baselines in the same run, the bare
//! tokio-tungstenite hub and the Node.js `ws` hub (see `baselines.rs`), get publish frames over a
//! WebSocket carrying an event of the same shape and size, so they do strictly less work per
//! event: no HTTP, no signature, no storage.
//!
//! Flow: publishers run at most 16 events ahead of the slowest reader, so no subscriber's queue
//! (256 frames everywhere) overflows; the rate found is the pipeline's own.
//!
//! Correctness: every subscriber sees every event once, in sequence (`lost`, `duplicated`:
//! gaps and repeats in `seq`); a subscriber closed by the server is a `violation`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_shared::protocol::Topic;

use anyhow::{Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::baselines::{self, Baseline};
use crate::crowd;
use crate::idle::{default_number, open, serve_with_owner, Socket};
use crate::ingest::{pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

/// Events a publisher may run ahead of the slowest subscriber.
const WINDOW: u64 = 16;
const CUSTOMER: &str = "15550009999";

/// The `seq` of an event frame, read without parsing the JSON (the reader must not be the
/// bottleneck; every server frame puts `seq` before the event body).
fn event_seq(text: &str) -> Option<u64> {
    if !text.starts_with(r#"{"type":"event""#) {
        return None;
    }
    let at = text.find(r#""seq":"#)? + 6;
    let digits = text[at..].split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

#[derive(Default, Clone, Copy)]
struct Seen {
    first: u64,
    last: u64,
    frames: u64,
    gaps: u64,
    repeats: u64,
    closed: bool,
}

struct Counters {
    delivered: AtomicU64,
    progress: Notify,
}

fn spawn_subscriber(
    mut socket: Socket,
    counters: Arc<Counters>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Seen> {
    tokio::spawn(async move {
        let mut seen = Seen::default();
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                next = socket.next() => match next {
                    Some(Ok(Message::Text(text))) => {
                        let Some(seq) = event_seq(text.as_str()) else { continue };
                        if seen.frames == 0 {
                            seen.first = seq;
                        } else if seq <= seen.last {
                            seen.repeats += 1;
                        } else if seq != seen.last + 1 {
                            seen.gaps += seq - seen.last - 1;
                        }
                        seen.last = seen.last.max(seq);
                        seen.frames += 1;
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                        counters.progress.notify_one();
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        seen.closed = true;
                        break;
                    }
                    Some(Ok(_)) => {}
                }
            }
        }
        seen
    })
}

/// Where events come from.
enum Publisher {
    /// Signed webhooks into Switchboard, `WINDOW` in flight.
    Webhooks {
        client: reqwest::Client,
        url: String,
    },
    /// Publish frames over one WebSocket to a baseline hub.
    Frames { socket: Box<Socket> },
}

/// A message_stored event as Switchboard sends it, for the baselines to carry.
fn event_body(i: u64) -> Value {
    json!({"kind": "message_stored", "conversation": "c_01JZ3Q4W5E6R7T8Y9U0IPASDFG",
           "number": "106540352242922", "customer": "•••••••9999",
           "key": format!("in_01JZ3Q4W5E6R7T8Y9U{i:08}"), "wamid": format!("wamid.fan.{i}"),
           "direction": "inbound", "message_type": "text",
           "text": format!("Message {i}: where is my order? Где мой заказ?"), "at": 1_750_000_000_000u64 + i})
}

struct Point {
    subscribers: usize,
    frames: u64,
    elapsed: Duration,
    server_cpu_s: f64,
    lost: u64,
    duplicated: u64,
    closed: u64,
}

impl Point {
    fn per_s(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn per_cpu_s(&self) -> f64 {
        self.frames as f64 / self.server_cpu_s.max(1e-9)
    }

    fn summary(&self) -> Value {
        json!({
            "frames_per_s": self.per_s().round(),
            "frames_per_server_cpu_s": self.per_cpu_s().round(),
            "server_cpu_share": ((self.server_cpu_s / self.elapsed.as_secs_f64().max(1e-9)) * 100.0).round() / 100.0,
        })
    }
}

/// Opens `subscribers` sockets on `url` and pushes events through them for `duration`.
async fn measure(
    pid: u32,
    url: &str,
    token: Option<&str>,
    publisher: &mut Publisher,
    subscribers: usize,
    duration: Duration,
) -> Result<Point> {
    let sockets = open(url, token, Some(&Topic::Tenant.to_string()), subscribers).await;
    anyhow::ensure!(
        sockets.len() == subscribers,
        "only {} of {subscribers} subscribers connected",
        sockets.len()
    );
    let counters = Arc::new(Counters {
        delivered: AtomicU64::new(0),
        progress: Notify::new(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|s| spawn_subscriber(s, Arc::clone(&counters), stop_rx.clone()))
        .collect();
    let n = subscribers as u64;
    let published = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let cpu_before = procinfo::cpu_seconds(pid).unwrap_or(0.0);
    let started = Instant::now();
    let deadline = started + duration;
    // Waits until every subscriber is within WINDOW events of event `i` (or the run is over: a
    // subscriber the server cut off never catches up, and shows as lost).
    let gate = {
        let counters = Arc::clone(&counters);
        move |i: u64| {
            let counters = Arc::clone(&counters);
            async move {
                let need = i.saturating_sub(WINDOW) * n;
                while counters.delivered.load(Ordering::Relaxed) < need && Instant::now() < deadline
                {
                    let notified = counters.progress.notified();
                    if counters.delivered.load(Ordering::Relaxed) >= need {
                        break;
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(5), notified).await;
                }
            }
        }
    };

    match publisher {
        Publisher::Webhooks { client, url } => {
            let mut tasks = Vec::new();
            // As many webhooks in flight as events may be ahead: a webhook waits for its 200,
            // where a baseline's publish frame does not.
            for _ in 0..WINDOW {
                let (client, url) = (client.clone(), url.clone());
                let (published, running, gate) =
                    (Arc::clone(&published), Arc::clone(&running), gate.clone());
                tasks.push(tokio::spawn(async move {
                    let mut refused = 0u64;
                    while Instant::now() < deadline {
                        let i = published.fetch_add(1, Ordering::SeqCst);
                        gate(i).await;
                        let body = crowd::text_webhook(
                            CUSTOMER,
                            &format!("wamid.fan.{n}.{i}"),
                            &format!("Message {i}: where is my order? Где мой заказ?"),
                        );
                        if !crowd::post_webhook(&client, &url, body).await {
                            refused += 1;
                        }
                    }
                    running.store(false, Ordering::Relaxed);
                    refused
                }));
            }
            for t in tasks {
                anyhow::ensure!(t.await? == 0, "a webhook was refused");
            }
        }
        Publisher::Frames { socket } => {
            let mut i = 0u64;
            while Instant::now() < deadline {
                gate(i).await;
                let frame = json!({"type": "publish", "event": event_body(i)}).to_string();
                socket.send(Message::Text(frame.into())).await?;
                i += 1;
            }
            published.store(i, Ordering::SeqCst);
        }
    }
    let elapsed = started.elapsed();
    let server_cpu_s = procinfo::cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
    let frames = counters.delivered.load(Ordering::Relaxed);

    // Drain: everything published reaches everyone, or 5 s without progress.
    let mut last = (Instant::now(), frames);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        // A webhook may publish more than one event; once the count is reached, wait for quiet.
        let now = counters.delivered.load(Ordering::Relaxed);
        let target = published.load(Ordering::SeqCst);
        if now > last.1 {
            last = (Instant::now(), now);
        } else if (now >= target * n && last.0.elapsed() > Duration::from_millis(300))
            || last.0.elapsed() > Duration::from_secs(5)
        {
            break;
        }
    }
    stop_tx.send(true)?;
    let mut seen = Vec::with_capacity(subscribers);
    for r in readers {
        seen.push(r.await?);
    }
    let first = seen.iter().map(|s| s.first).min().unwrap_or(0);
    let last = seen.iter().map(|s| s.last).max().unwrap_or(0);
    let lost: u64 = seen
        .iter()
        .map(|s| (s.first - first) + s.gaps + (last - s.last))
        .sum();
    Ok(Point {
        subscribers,
        frames,
        elapsed,
        server_cpu_s,
        lost,
        duplicated: seen.iter().map(|s| s.repeats).sum(),
        closed: seen.iter().filter(|s| s.closed).count() as u64,
    })
}

/// Best of `repeats` by frames per server CPU second.
async fn best_of(
    repeats: usize,
    mut one: impl AsyncFnMut() -> Result<Point>,
    totals: &mut (u64, u64, u64),
) -> Result<Point> {
    let mut best: Option<Point> = None;
    for _ in 0..repeats {
        let p = one().await?;
        totals.0 += p.lost;
        totals.1 += p.duplicated;
        totals.2 += p.closed;
        if best.as_ref().is_none_or(|b| p.per_cpu_s() > b.per_cpu_s()) {
            best = Some(p);
        }
    }
    best.context("no runs")
}

async fn baseline_publisher(port: u16) -> Result<Socket> {
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/")).await?;
    Ok(socket)
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let counts: Vec<usize> = if cli.smoke {
        vec![50]
    } else {
        vec![100, 1_000]
    };
    let duration = cli.duration();
    let mut totals = (0u64, 0u64, 0u64);

    let served = serve_with_owner(&switchboard, &default_number(SECRET), "").await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(8)
        .build()?;
    let webhook_url = format!("{}/webhooks/whatsapp", served.base);
    // The customer's first message opens the conversation (and its routing events) beforehand.
    anyhow::ensure!(
        crowd::post_webhook(
            &client,
            &webhook_url,
            crowd::text_webhook(CUSTOMER, "wamid.fan.first", "Hello")
        )
        .await,
        "the first webhook was refused"
    );
    let ws = format!("ws://127.0.0.1:{}/ws", served.port);
    let mut publisher = Publisher::Webhooks {
        client,
        url: webhook_url,
    };
    let mut sb = Vec::new();
    for &n in &counts {
        sb.push(
            best_of(
                cli.repeats(),
                async || {
                    measure(
                        served.pid,
                        &ws,
                        Some(&served.token),
                        &mut publisher,
                        n,
                        duration,
                    )
                    .await
                },
                &mut totals,
            )
            .await?,
        );
    }
    drop(served);

    let mut baseline_points = Vec::new();
    for start in [0, 1] {
        let hub: Baseline = if start == 0 {
            baselines::start_rust("tungstenite-hub").await?
        } else {
            baselines::node_hub().await?
        };
        let url = format!("ws://127.0.0.1:{}/", hub.port);
        let mut publisher = Publisher::Frames {
            socket: Box::new(baseline_publisher(hub.port).await?),
        };
        let mut points = Vec::new();
        for &n in &counts {
            points.push(
                best_of(
                    cli.repeats(),
                    async || measure(hub.pid(), &url, None, &mut publisher, n, duration).await,
                    &mut totals,
                )
                .await?,
            );
        }
        baseline_points.push((hub.name, points));
    }

    let table: Vec<Value> = sb
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut row = json!({"subscribers": p.subscribers, "switchboard": p.summary()});
            for (name, points) in &baseline_points {
                let b = &points[i];
                row[*name] = b.summary();
                row[format!("ratio_to_{name}")] =
                    json!(((p.per_cpu_s() / b.per_cpu_s().max(1e-9)) * 100.0).round() / 100.0);
            }
            row
        })
        .collect();
    Ok(json!({
        "scenario": "fanout",
        "smoke": cli.smoke,
        "what": "event frames delivered to N subscribers of one stream; ratios compare frames per server CPU second (one core)",
        "points": table,
        "runs": cli.repeats(),
        "best_of_runs_by": "frames per server CPU second",
        "targets": {"ratio_to_node-ws": 1.5, "ratio_to_tungstenite-hub": 0.8},
        "lost": totals.0,
        "duplicated": totals.1,
        "violations": totals.2,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seq_is_read_from_event_frames_only() {
        assert_eq!(
            event_seq(r#"{"type":"event","topic":"tenant","seq":4711,"event":{"seq":1}}"#),
            Some(4711)
        );
        assert_eq!(
            event_seq(r#"{"type":"subscribed","topic":"tenant","seq":3}"#),
            None
        );
    }
}
