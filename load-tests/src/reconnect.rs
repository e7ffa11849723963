//! `reconnect`: 5,000 agents, each signed in and following their inbox, lose their connections at
//! once; while they are away every customer writes again; then all reconnect at the same moment
//! and resume with `after`. Measured: the time from that moment until each agent has its
//! `subscribed` frame and every event it missed (p50, p99, and the last agent), against the real
//! `switchboard` binary.
//!
//! Correctness: every missed message reaches its agent exactly once (`lost`, `duplicated`); the
//! replayed sequence numbers continue without a gap from where each agent left off, and no agent
//! is refused or told to `resync` (`violations`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_shared::protocol::Topic;

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::crowd::{self, percentile_ms, Frame, Person};
use crate::idle::{default_number, open, serve_with_owner, Socket};
use crate::ingest::{pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

fn customer(i: usize) -> String {
    format!("1888{i:07}")
}

/// What an agent's socket read before the drop: the inbox stream's last `seq`, and the
/// conversations (by customer index) whose messages it received.
struct Held {
    last_seq: u64,
    customers: HashSet<usize>,
}

/// Reads an agent's socket until told to drop it, then drops it without a close handshake.
async fn hold(
    mut socket: Socket,
    mut drop_now: tokio::sync::watch::Receiver<bool>,
    holding: Arc<AtomicUsize>,
) -> Held {
    let mut held = Held {
        last_seq: 0,
        customers: HashSet::new(),
    };
    loop {
        tokio::select! {
            _ = drop_now.wait_for(|d| *d) => break,
            next = socket.next() => {
                let Some(Ok(Message::Text(text))) = next else { break };
                let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else { continue };
                if frame.kind == "subscribed" || frame.kind == "event" {
                    held.last_seq = held.last_seq.max(frame.seq);
                }
                if let Some(i) = marker(&frame, "first") {
                    if held.customers.insert(i) {
                        holding.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
    // Dropping the stream closes the TCP connection with no WebSocket close frame: the network
    // went away, the app did not say goodbye.
    drop(socket);
    held
}

/// One agent coming back: connect, resume after `held.last_seq`, read until `subscribed` and
/// every missed message for its conversations. Returns the time it took and its tally.
async fn come_back(url: String, agent: Person, held: Held, started: Instant) -> Comeback {
    let mut back = Comeback::default();
    let attempt = async {
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {}", agent.token).parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let subscribe = json!({"type": "subscribe", "topic": Topic::Inbox(agent.id.as_str().into()),
                               "after": held.last_seq});
        socket
            .send(Message::Text(subscribe.to_string().into()))
            .await?;
        let mut next_seq = held.last_seq + 1;
        let mut subscribed = false;
        let mut missing: HashSet<usize> = held.customers.clone();
        while !(subscribed && missing.is_empty()) {
            let Some(message) = socket.next().await else {
                bail!("closed before resuming")
            };
            let Message::Text(text) = message? else {
                continue;
            };
            let frame: Frame = serde_json::from_str(text.as_str())?;
            match frame.kind.as_str() {
                "subscribed" => subscribed = true,
                // Counted by kind: one line per agent would bury the result.
                "resync" => bail!("told to resync"),
                "error" => bail!("answered {text}"),
                "event" => {
                    if frame.seq != next_seq {
                        back.gaps += 1;
                    }
                    next_seq = frame.seq + 1;
                    if let Some(i) = marker(&frame, "missed") {
                        if !missing.remove(&i) {
                            back.duplicated += 1;
                        }
                        back.replayed += 1;
                    }
                }
                _ => {}
            }
        }
        anyhow::Ok(socket)
    };
    match tokio::time::timeout(Duration::from_secs(30), attempt).await {
        Ok(Ok(socket)) => {
            back.took = Some(started.elapsed());
            back.socket = Some(socket);
        }
        Ok(Err(e)) => back.error = Some(format!("{e:#}")),
        Err(_) => back.error = Some("not back within 30 s".into()),
    }
    back.expected = held.customers.len();
    back
}

#[derive(Default)]
struct Comeback {
    took: Option<Duration>,
    expected: usize,
    replayed: usize,
    duplicated: usize,
    gaps: usize,
    error: Option<String>,
    socket: Option<Socket>,
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let agents = cli.agents.unwrap_or(if cli.smoke { 100 } else { 5_000 });
    let served = serve_with_owner(
        &switchboard,
        &default_number(SECRET),
        "[routing]\ncapacity = 5\nreply_deadline_secs = 0\noffline_grace_secs = 600\n",
    )
    .await?;
    crowd::repin(served.pid, "0-1");
    let people = crowd::people(&served.base, &served.token, "agent", agents).await?;
    crowd::repin(served.pid, "0");
    let ws = format!("ws://127.0.0.1:{}/ws", served.port);
    let url = format!("{}/webhooks/whatsapp", served.base);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    // Everyone online and following their inbox.
    let (drop_tx, drop_rx) = tokio::sync::watch::channel(false);
    let holding = Arc::new(AtomicUsize::new(0));
    let sockets: Vec<Option<Socket>> = futures_util::stream::iter(&people)
        .map(|p| {
            let ws = ws.clone();
            async move {
                open(
                    &ws,
                    Some(&p.token),
                    Some(&Topic::Inbox(p.id.as_str().into()).to_string()),
                    1,
                )
                .await
                .pop()
            }
        })
        .buffered(64)
        .collect()
        .await;
    let mut holders = Vec::new();
    for socket in sockets {
        let socket = socket.context("an agent's socket did not open")?;
        holders.push(tokio::spawn(hold(
            socket,
            drop_rx.clone(),
            Arc::clone(&holding),
        )));
    }
    crowd::until_routing_knows(
        &client,
        &served.base,
        &served.token,
        agents,
        Duration::from_secs(120),
    )
    .await?;

    // One customer per agent writes; routing spreads them by load.
    let first = post_all(&client, &url, agents, "first").await;
    anyhow::ensure!(first == 0, "{first} first messages were refused");
    // Wait until the first messages have reached the agents' inboxes: all of them, or nothing
    // new for 3 s (a customer routing queued has no agent to miss anything).
    let mut quiet = (Instant::now(), 0usize);
    loop {
        let now = holding.load(Ordering::Relaxed);
        if now >= agents {
            break;
        }
        if now > quiet.1 {
            quiet = (Instant::now(), now);
        } else if quiet.0.elapsed() > Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The drop: every connection at once.
    drop_tx.send(true)?;
    let mut held = Vec::with_capacity(agents);
    for h in holders {
        held.push(h.await?);
    }
    let holding: usize = held.iter().map(|h| h.customers.len()).sum();
    // While they are away, every customer writes again.
    let refused = post_all(&client, &url, agents, "missed").await;

    // Everyone back at the same moment.
    let cpu_before = procinfo::cpu_seconds(served.pid).unwrap_or(0.0);
    let started = Instant::now();
    let tasks: Vec<_> = people
        .iter()
        .cloned()
        .zip(held)
        .map(|(agent, held)| tokio::spawn(come_back(ws.clone(), agent, held, started)))
        .collect();
    let mut backs = Vec::with_capacity(agents);
    for t in tasks {
        backs.push(t.await?);
    }
    let cpu_used = procinfo::cpu_seconds(served.pid).unwrap_or(0.0) - cpu_before;
    let mut took_us: Vec<u32> = backs
        .iter()
        .filter_map(|b| b.took)
        .map(|d| d.as_micros().min(u32::MAX as u128) as u32)
        .collect();
    took_us.sort_unstable();
    let failed: Vec<&String> = backs.iter().filter_map(|b| b.error.as_ref()).collect();
    let expected: usize = backs.iter().map(|b| b.expected).sum();
    let replayed: usize = backs.iter().map(|b| b.replayed).sum();
    let duplicated: usize = backs.iter().map(|b| b.duplicated).sum();
    let gaps: usize = backs.iter().map(|b| b.gaps).sum();
    let mut errors: HashMap<String, usize> = HashMap::new();
    for e in &failed {
        *errors.entry((*e).clone()).or_default() += 1;
    }
    let not_back = failed.len();
    let lost = backs
        .iter()
        .filter(|b| b.took.is_none())
        .map(|b| b.expected)
        .sum::<usize>()
        + refused;
    drop(backs);
    drop(served);
    Ok(json!({
        "scenario": "reconnect",
        "smoke": cli.smoke,
        "what": "all agents' connections dropped at once, every customer writes, all reconnect at once: time until each is resubscribed with every missed event",
        "agents": agents,
        "conversations_held": holding,
        "conversations_queued": agents - holding,
        "missed_messages": expected,
        "replayed_messages": replayed,
        "back_ms": {
            "p50": percentile_ms(&took_us, 50.0),
            "p99": percentile_ms(&took_us, 99.0),
            "all": percentile_ms(&took_us, 100.0),
        },
        "target_all_ms": 3000,
        "server_cpu_ms": (cpu_used * 1000.0).round(),
        "not_back": not_back,
        "errors": errors,
        "lost": lost,
        "duplicated": duplicated,
        "violations": gaps + not_back,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

/// The customer index a stored message tagged `tag` carries at the head of its text (agents see
/// references, not wamids, so the tag rides in the text).
fn marker(frame: &Frame, tag: &str) -> Option<usize> {
    frame
        .stored_text()?
        .split_whitespace()
        .next()?
        .strip_prefix("rc.")?
        .strip_prefix(tag)?
        .strip_prefix('.')?
        .parse()
        .ok()
}

/// Every customer `0..n` sends one message tagged `tag`; returns how many were refused.
async fn post_all(client: &reqwest::Client, url: &str, n: usize, tag: &str) -> usize {
    futures_util::stream::iter(0..n)
        .map(|i| {
            let body = crowd::text_webhook(
                &customer(i),
                &format!("wamid.rc.{tag}.{i}"),
                &format!("rc.{tag}.{i} Are you there? Вы здесь?"),
            );
            async move { crowd::post_webhook(client, url, body).await }
        })
        .buffer_unordered(32)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await
}
