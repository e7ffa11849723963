//! `e2e`: how long a customer's message takes from the webhook's POST to the assigned agent's
//! socket, at 500, 2,500 and 5,000 messages/s, with 500 agents and 5 supervisors connected to the
//! real `switchboard` binary (durable embedded store). And `slow_consumer`: the same at twice the
//! spec while one supervisor's socket stops reading.
//!
//! Each agent follows `inbox:<their id>`; each supervisor follows `tenant` (every event). The
//! customers' conversations are assigned first (a warm-up message each), then every conversation
//! sends its messages one after another on an open-loop schedule: latency runs from the moment
//! a message was due (so a late send counts against us) to the frame read on the socket.
//!
//! Correctness: every acknowledged message reaches exactly one agent and every supervisor exactly
//! once (`lost`, `duplicated`), in its conversation's order, and every webhook is acknowledged
//! (`violations`).
//!
//! And `e2e_campaign`: the same at 500 messages/s twice, first idle, then while a campaign sends
//! on the same number (tier 80) into the real simulator, whose status webhooks come back: the
//! campaign's traffic must leave chat alone (agent p99 at most twice the idle run's).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_shared::protocol::Topic;

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::crowd::{self, percentile_ms, Frame, Person};
use crate::idle::{default_number, open, serve_seeded, Served, Socket};
use crate::ingest::{pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

/// Conversations one agent may hold: room for every customer of the run.
const CAPACITY: usize = 5;

/// What one side (all agents together, or one supervisor) received in the current run.
#[derive(Default)]
struct Side {
    latencies_us: Vec<u32>,
    seen: HashMap<(u32, u32), u32>,
    last: HashMap<u32, u32>,
    out_of_order: u64,
}

impl Side {
    fn record(&mut self, conversation: u32, seq: u32, latency_us: u32) {
        self.latencies_us.push(latency_us);
        *self.seen.entry((conversation, seq)).or_default() += 1;
        // Against the highest seen so far: a late or repeated message counts, not what follows it.
        match self.last.get(&conversation) {
            Some(&highest) if seq <= highest => self.out_of_order += 1,
            _ => {
                self.last.insert(conversation, seq);
            }
        }
    }

    fn lost(&self, acked: &HashSet<(u32, u32)>) -> usize {
        acked.iter().filter(|k| !self.seen.contains_key(k)).count()
    }

    fn duplicated(&self) -> u64 {
        self.seen.values().map(|&n| u64::from(n - 1)).sum()
    }
}

#[derive(Default)]
struct Tally {
    run: String,
    agents: Side,
    supervisors: Vec<Side>,
}

/// Who a reader reads for.
#[derive(Clone, Copy)]
enum Who {
    Agent,
    Supervisor(usize),
}

struct Shared {
    origin: Instant,
    tally: Mutex<Tally>,
    /// Sockets the server closed that reconnected and resumed.
    resumes: AtomicU64,
    failed_resumes: AtomicU64,
    resyncs: AtomicU64,
}

/// `wamid.e2e.<run>.<conversation>.<seq>.<due, µs after origin>`.
fn wamid(run: &str, conversation: u32, seq: u32, due_us: u64) -> String {
    format!("wamid.e2e.{run}.{conversation}.{seq}.{due_us}")
}

fn parse_wamid(wamid: &str) -> Option<(&str, u32, u32, u64)> {
    let mut parts = wamid.strip_prefix("wamid.e2e.")?.split('.');
    let run = parts.next()?;
    let conversation = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let due = parts.next()?.parse().ok()?;
    Some((run, conversation, seq, due))
}

fn customer(conversation: u32) -> String {
    format!("1777{conversation:07}")
}

/// Where a reader reconnects to, as a client following the protocol does.
#[derive(Clone)]
struct Resume {
    url: String,
    token: String,
    topic: String,
}

/// Connects again and subscribes with `after`: missed events are replayed before `subscribed`.
async fn reconnect(resume: &Resume, after: u64) -> Option<Socket> {
    let mut request = resume.url.as_str().into_client_request().ok()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", resume.token).parse().ok()?,
    );
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .ok()?
    .ok()?;
    let frame = json!({"type": "subscribe", "topic": resume.topic, "after": after});
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .ok()?;
    Some(socket)
}

/// Reads one socket, recording every e2e message. When the server closes it (4008, too slow,
/// when the server itself is saturated) it reconnects and resumes after the last `seq`, as
/// the protocol asks of clients; `resync` answers and failed reconnects are counted.
fn spawn_reader(
    mut socket: Socket,
    who: Who,
    shared: Arc<Shared>,
    resume: Resume,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_seq = 0u64;
        loop {
            let message = match socket.next().await {
                Some(Ok(message)) => message,
                _ => {
                    shared.resumes.fetch_add(1, Ordering::Relaxed);
                    match reconnect(&resume, last_seq).await {
                        Some(again) => {
                            socket = again;
                            continue;
                        }
                        None => {
                            shared.failed_resumes.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            };
            let Message::Text(text) = message else {
                continue;
            };
            let at = Instant::now();
            let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                continue;
            };
            match frame.kind.as_str() {
                "event" | "subscribed" => last_seq = last_seq.max(frame.seq),
                "resync" => {
                    shared.resyncs.fetch_add(1, Ordering::Relaxed);
                    last_seq = frame.seq;
                }
                _ => {}
            }
            let marker = frame
                .stored_text()
                .and_then(|text| text.split_whitespace().next());
            let Some((run, conversation, seq, due_us)) = marker.and_then(parse_wamid) else {
                continue;
            };
            let due = shared.origin + Duration::from_micros(due_us);
            let latency = at
                .saturating_duration_since(due)
                .as_micros()
                .min(u32::MAX as u128) as u32;
            let mut tally = shared.tally.lock().expect("not poisoned");
            if tally.run != run {
                continue;
            }
            match who {
                Who::Agent => tally.agents.record(conversation, seq, latency),
                Who::Supervisor(i) => tally.supervisors[i].record(conversation, seq, latency),
            }
        }
    })
}

/// The server with its agents and supervisors connected and every conversation assigned.
pub(crate) struct Crowd {
    pub(crate) served: Served,
    shared: Arc<Shared>,
    /// The agents, each following their own inbox.
    pub(crate) agents: Vec<Person>,
    supervisors: Vec<Person>,
    /// Supervisors created but not connected, for a scenario to use its own way.
    spare: Vec<Person>,
    conversations: u32,
    /// The business numbers the customers write to: conversation `c` is on `c % len`'s.
    inbound: Vec<String>,
    readers: Vec<JoinHandle<()>>,
    pub(crate) client: reqwest::Client,
}

impl Crowd {
    async fn start(
        agents: usize,
        supervisors: usize,
        spare: usize,
        conversations: u32,
    ) -> Result<Self> {
        Self::start_with(
            &default_number(SECRET),
            agents,
            supervisors,
            spare,
            conversations,
        )
        .await
    }

    /// [`Crowd::start`] with the business numbers' configuration given.
    async fn start_with(
        numbers: &str,
        agents: usize,
        supervisors: usize,
        spare: usize,
        conversations: u32,
    ) -> Result<Self> {
        let sizes = Sizes {
            agents,
            supervisors,
            conversations,
            inbound: vec![crowd::NUMBER.to_owned()],
        };
        Self::start_on(tempfile::tempdir()?, numbers, "", &sizes, spare).await
    }

    /// [`Crowd::start_with`] over `dir`, whose `data` directory the caller may have filled
    /// first, with `extra` configuration sections.
    pub(crate) async fn start_on(
        dir: tempfile::TempDir,
        numbers: &str,
        extra: &str,
        sizes: &Sizes,
        spare: usize,
    ) -> Result<Self> {
        let (agents, supervisors, conversations) =
            (sizes.agents, sizes.supervisors, sizes.conversations);
        let switchboard = sibling_binary("switchboard")?;
        let served = serve_seeded(
            &switchboard,
            numbers,
            &format!(
                "[routing]\ncapacity = {CAPACITY}\nreply_deadline_secs = 0\noffline_grace_secs = 600\n{extra}"
            ),
            dir,
        )
        .await?;
        // People cost two Argon2id hashes each: create them on both cores, measure on one.
        crowd::repin(served.pid, "0-1");
        let agent_people = crowd::people(&served.base, &served.token, "agent", agents).await?;
        let mut supervisor_people = crowd::people(
            &served.base,
            &served.token,
            "supervisor",
            supervisors + spare,
        )
        .await?;
        let spare = supervisor_people.split_off(supervisors);
        crowd::repin(served.pid, "0");

        let shared = Arc::new(Shared {
            origin: Instant::now(),
            tally: Mutex::new(Tally::default()),
            resumes: AtomicU64::new(0),
            failed_resumes: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
        });
        let ws = format!("ws://127.0.0.1:{}/ws", served.port);
        let mut readers = Vec::new();
        let sockets: Vec<Option<Socket>> = futures_util::stream::iter(&agent_people)
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
            .buffered(32)
            .collect()
            .await;
        for (socket, p) in sockets.into_iter().zip(&agent_people) {
            let socket = socket.context("an agent's socket did not open")?;
            let resume = Resume {
                url: ws.clone(),
                token: p.token.clone(),
                topic: Topic::Inbox(p.id.as_str().into()).to_string(),
            };
            readers.push(spawn_reader(
                socket,
                Who::Agent,
                Arc::clone(&shared),
                resume,
            ));
        }
        for (i, p) in supervisor_people.iter().enumerate() {
            let socket = open(&ws, Some(&p.token), Some(&Topic::Tenant.to_string()), 1)
                .await
                .pop()
                .context("a supervisor's socket did not open")?;
            let resume = Resume {
                url: ws.clone(),
                token: p.token.clone(),
                topic: Topic::Tenant.to_string(),
            };
            readers.push(spawn_reader(
                socket,
                Who::Supervisor(i),
                Arc::clone(&shared),
                resume,
            ));
        }
        // Presence reaches routing through the inbox task; wait until the board lists everyone.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()?;
        crowd::until_routing_knows(
            &client,
            &served.base,
            &served.token,
            agents,
            Duration::from_secs(60),
        )
        .await?;
        let mut crowd = Crowd {
            served,
            shared,
            supervisors: supervisor_people,
            spare,
            agents: agent_people,
            conversations,
            inbound: sizes.inbound.clone(),
            readers,
            client,
        };
        // Warm-up: one message per customer, so every conversation is assigned before measuring.
        let warm = crowd
            .measure("w", u64::from(conversations), 500, None)
            .await?;
        if warm.lost > 0 || warm.violations > 0 {
            bail!(
                "the warm-up did not reach every agent: {} of {} conversations lost",
                warm.lost,
                conversations
            );
        }
        Ok(crowd)
    }

    /// Sends `count` messages at `per_second`, spread over the conversations (each sends its own
    /// one after another), then waits until they have all arrived or 10 s pass without progress.
    pub(crate) async fn measure(
        &mut self,
        run: &str,
        count: u64,
        per_second: u64,
        rss_peak: Option<&mut u64>,
    ) -> Result<RunOutcome> {
        {
            let mut tally = self.shared.tally.lock().expect("not poisoned");
            *tally = Tally {
                run: run.to_owned(),
                agents: Side::default(),
                supervisors: (0..self.supervisors.len())
                    .map(|_| Side::default())
                    .collect(),
            };
        }
        let url = format!("{}/webhooks/whatsapp", self.served.base);
        let pid = self.served.pid;
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let sampling = Arc::clone(&sampling);
            tokio::spawn(async move {
                let mut peak = 0;
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(crowd::rss_bytes(pid).unwrap_or(0));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                peak
            })
        };
        let counted_before = self.resume_counts();
        let cpu_before = procinfo::cpu_seconds(pid).unwrap_or(0.0);
        let own_before = procinfo::cpu_seconds(std::process::id()).unwrap_or(0.0);
        let started = Instant::now();

        // One task per conversation posts its messages in order; the schedule feeds them.
        let mut lanes = Vec::new();
        let mut tasks = Vec::new();
        for conversation in 0..self.conversations {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u32, u64)>();
            lanes.push(tx);
            let (client, url, run) = (self.client.clone(), url.clone(), run.to_owned());
            let number = self.inbound[conversation as usize % self.inbound.len()].clone();
            tasks.push(tokio::spawn(async move {
                let (mut acked, mut refused) = (Vec::new(), 0u64);
                let customer = customer(conversation);
                while let Some((seq, due_us)) = rx.recv().await {
                    // The marker rides in the text too: agents see references, not wamids.
                    let marker = wamid(&run, conversation, seq, due_us);
                    let body = crowd::text_webhook_to(
                        &number,
                        &customer,
                        &marker,
                        &format!("{marker} Message {seq}: where is my order? Где мой заказ?"),
                    );
                    if crowd::post_webhook(&client, &url, body).await {
                        acked.push((conversation, seq));
                    } else {
                        refused += 1;
                    }
                }
                (acked, refused)
            }));
        }
        let interval_us = 1_000_000.0 / per_second as f64;
        for k in 0..count {
            let due = started + Duration::from_micros((k as f64 * interval_us) as u64);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            let due_us = due.duration_since(self.shared.origin).as_micros() as u64;
            let conversation = (k % u64::from(self.conversations)) as usize;
            let seq = (k / u64::from(self.conversations)) as u32;
            let _ = lanes[conversation].send((seq, due_us));
        }
        drop(lanes);
        let mut acked = HashSet::new();
        let mut refused = 0;
        for task in tasks {
            let (a, r) = task.await?;
            acked.extend(a);
            refused += r;
        }
        let sent_in = started.elapsed();
        let cpu_used = procinfo::cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
        let own_used = procinfo::cpu_seconds(std::process::id()).unwrap_or(0.0) - own_before;

        // Drain: until everyone has everything, or 10 s without anything new.
        let expected = acked.len();
        let mut last_progress = (Instant::now(), 0usize);
        loop {
            let got = {
                let tally = self.shared.tally.lock().expect("not poisoned");
                tally.agents.seen.len()
                    + tally
                        .supervisors
                        .iter()
                        .map(|s| s.seen.len())
                        .sum::<usize>()
            };
            if got >= expected * (1 + self.supervisors.len()) {
                break;
            }
            if got > last_progress.1 {
                last_progress = (Instant::now(), got);
            } else if last_progress.0.elapsed() > Duration::from_secs(10) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.await?;
        if let Some(out) = rss_peak {
            *out = peak;
        }

        let mut tally = std::mem::take(&mut *self.shared.tally.lock().expect("not poisoned"));
        let lost = tally.agents.lost(&acked)
            + tally
                .supervisors
                .iter()
                .map(|s| s.lost(&acked))
                .sum::<usize>();
        let duplicated =
            tally.agents.duplicated() + tally.supervisors.iter().map(Side::duplicated).sum::<u64>();
        let out_of_order = tally.agents.out_of_order
            + tally
                .supervisors
                .iter()
                .map(|s| s.out_of_order)
                .sum::<u64>();
        tally.agents.latencies_us.sort_unstable();
        let mut supervisor_us: Vec<u32> = tally
            .supervisors
            .iter()
            .flat_map(|s| s.latencies_us.iter().copied())
            .collect();
        supervisor_us.sort_unstable();
        let counted = self.resume_counts();
        Ok(RunOutcome {
            resumed: counted.0 - counted_before.0,
            offered: per_second,
            acked: expected as u64,
            achieved_per_s: expected as f64 / sent_in.as_secs_f64().max(1e-9),
            agent_us: tally.agents.latencies_us,
            supervisor_us,
            server_cpu_us_per_message: cpu_used * 1e6 / expected.max(1) as f64,
            generator_cpu_share: own_used / sent_in.as_secs_f64().max(1e-9),
            peak_rss: peak,
            lost: lost as u64,
            duplicated,
            // A resync means events were beyond the window: the client must reload.
            violations: out_of_order
                + refused
                + (counted.1 - counted_before.1)
                + (counted.2 - counted_before.2),
        })
    }

    /// Creates and starts a campaign of the simulator's `seasonal_promo` template to the
    /// contacts tagged `broadcast`, on `number`: its id.
    pub(crate) async fn start_campaign(&self, name: &str, number: &str) -> Result<String> {
        let campaign = self
            .served
            .api(
                &self.client,
                reqwest::Method::POST,
                "campaigns",
                Some(json!({"name": name,
                            "template": {"name": "seasonal_promo", "language": "en_US"},
                            "audience": {"tag": "broadcast"}, "variables": [{"field": "name"}],
                            "numbers": [number]})),
            )
            .await?;
        let id = campaign["id"]
            .as_str()
            .context("no campaign id")?
            .to_owned();
        self.served
            .api(
                &self.client,
                reqwest::Method::POST,
                &format!("campaigns/{id}/start"),
                None,
            )
            .await?;
        Ok(id)
    }

    /// Resumes, failed resumes and resyncs so far.
    fn resume_counts(&self) -> (u64, u64, u64) {
        (
            self.shared.resumes.load(Ordering::Relaxed),
            self.shared.failed_resumes.load(Ordering::Relaxed),
            self.shared.resyncs.load(Ordering::Relaxed),
        )
    }

    pub(crate) async fn stop(self) {
        for r in &self.readers {
            r.abort();
        }
        drop(self.served);
    }
}

pub(crate) struct RunOutcome {
    /// Sockets the server closed as too slow during the run, which resumed with `after`.
    resumed: u64,
    offered: u64,
    acked: u64,
    achieved_per_s: f64,
    agent_us: Vec<u32>,
    supervisor_us: Vec<u32>,
    server_cpu_us_per_message: f64,
    generator_cpu_share: f64,
    peak_rss: u64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) violations: u64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl RunOutcome {
    fn p99_ms(&self) -> f64 {
        percentile_ms(&self.agent_us, 99.0)
    }

    pub(crate) fn summary(&self) -> Value {
        json!({
            "offered_per_s": self.offered,
            "achieved_per_s": self.achieved_per_s.round(),
            "messages": self.acked,
            "agent_ms": {
                "p50": percentile_ms(&self.agent_us, 50.0),
                "p99": percentile_ms(&self.agent_us, 99.0),
                "p99.9": percentile_ms(&self.agent_us, 99.9),
                "max": percentile_ms(&self.agent_us, 100.0),
            },
            "supervisor_ms": {
                "p50": percentile_ms(&self.supervisor_us, 50.0),
                "p99": percentile_ms(&self.supervisor_us, 99.0),
            },
            "server_cpu_us_per_message": round2(self.server_cpu_us_per_message),
            "server_peak_anon_rss_mb": round2(self.peak_rss as f64 / 1048576.0),
            "generator_cpu_share": round2(self.generator_cpu_share),
            "sockets_resumed": self.resumed,
        })
    }
}

/// The run with the median p99 (the runs' own p50s and tails travel with it).
fn median(mut runs: Vec<RunOutcome>) -> RunOutcome {
    runs.sort_by(|a, b| a.p99_ms().total_cmp(&b.p99_ms()));
    let middle = runs.len() / 2;
    runs.swap_remove(middle)
}

#[derive(Default)]
struct Correctness {
    lost: u64,
    duplicated: u64,
    violations: u64,
}

impl Correctness {
    fn add(&mut self, r: &RunOutcome) {
        self.lost += r.lost;
        self.duplicated += r.duplicated;
        self.violations += r.violations;
    }
}

pub(crate) struct Sizes {
    pub(crate) agents: usize,
    pub(crate) supervisors: usize,
    pub(crate) conversations: u32,
    /// The business numbers the customers write to.
    pub(crate) inbound: Vec<String>,
}

pub(crate) fn sizes(cli: &Cli) -> Sizes {
    if cli.smoke {
        Sizes {
            agents: 10,
            supervisors: 2,
            conversations: 40,
            inbound: vec![crowd::NUMBER.to_owned()],
        }
    } else {
        Sizes {
            agents: 500,
            supervisors: 5,
            conversations: 1_000,
            inbound: vec![crowd::NUMBER.to_owned()],
        }
    }
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let s = sizes(cli);
    let rates: Vec<u64> = if !cli.rates.is_empty() {
        cli.rates.clone()
    } else if cli.smoke {
        vec![200]
    } else {
        vec![500, 2_500, 5_000]
    };
    let mut crowd = Crowd::start(s.agents, s.supervisors, 0, s.conversations).await?;
    let mut ok = Correctness::default();
    let mut table = Vec::new();
    for rate in rates {
        let mut runs = Vec::new();
        for i in 0..cli.repeats() {
            let count = rate * cli.duration().as_secs();
            let r = crowd
                .measure(&format!("r{rate}x{i}"), count, rate, None)
                .await?;
            ok.add(&r);
            runs.push(r);
        }
        table.push(median(runs).summary());
    }
    crowd.stop().await;
    Ok(json!({
        "scenario": "e2e",
        "smoke": cli.smoke,
        "what": "webhook POST due → message_stored read on the assigned agent's inbox socket (and on every supervisor's tenant socket)",
        "agents": s.agents,
        "supervisors": s.supervisors,
        "conversations": s.conversations,
        "runs_per_rate": cli.repeats(),
        "median_of_runs_by": "agent p99",
        "rates": table,
        "target_at_500_ms": {"p50": 2, "p99": 10, "p99.9": 25},
        "lost": ok.lost,
        "duplicated": ok.duplicated,
        "violations": ok.violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

/// A supervisor's socket with a 64 KiB receive buffer (a phone on a poor link, rather than the
/// several megabytes loopback allows), subscribed to `tenant` and then never read.
async fn stalled_socket(
    port: u16,
    token: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpSocket::new_v4()?;
    tcp.set_recv_buffer_size(64 * 1024)?;
    let stream = tcp
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    let mut request = format!("ws://127.0.0.1:{port}/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await?;
    socket
        .send(Message::Text(
            json!({"type": "subscribe", "topic": Topic::Tenant})
                .to_string()
                .into(),
        ))
        .await?;
    // Read up to `subscribed`, then stop reading.
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await?
            .context("closed")??;
        if let Message::Text(text) = message {
            if serde_json::from_str::<Frame>(text.as_str())?.kind == "subscribed" {
                return Ok(socket);
            }
        }
    }
}

/// What a stalled socket gets when it reads again, for up to 10 s: the server keeps it for 30 s
/// of not reading (its subscription set aside and put back from the window), and closes it with
/// 4008 after that. The close code, if it closed; the frames read and the `resync`s among them.
async fn after_stall(
    mut socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut frames, mut resyncs) = (0u64, 0u64);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline.into(), socket.next()).await
    {
        match message {
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                return json!({"closed_with": code, "frames_read": frames, "resyncs": resyncs});
            }
            Message::Text(text) => {
                frames += 1;
                resyncs += u64::from(text.as_str().contains(r#""type":"resync""#));
            }
            _ => {}
        }
    }
    json!({"closed_with": null, "frames_read": frames, "resyncs": resyncs})
}

pub async fn slow_consumer(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let s = sizes(cli);
    // Twice the e2e spec's first rate.
    let rate = if cli.smoke { 400 } else { 1_000 };
    let mut crowd = Crowd::start(s.agents, s.supervisors, 1, s.conversations).await?;
    let stalled_by = crowd.spare.pop().context("no supervisor to stall")?;
    let count = rate * cli.duration().as_secs();
    let mut ok = Correctness::default();
    let (mut normal, mut stalled, mut after) = (Vec::new(), Vec::new(), Vec::new());
    let (mut normal_peak, mut stalled_peak) = (0u64, 0u64);
    for i in 0..cli.repeats() {
        let mut peak = 0;
        let r = crowd
            .measure(&format!("n{i}"), count, rate, Some(&mut peak))
            .await?;
        normal_peak = normal_peak.max(peak);
        ok.add(&r);
        normal.push(r);

        let slow = stalled_socket(crowd.served.port, &stalled_by.token).await?;
        let r = crowd
            .measure(&format!("s{i}"), count, rate, Some(&mut peak))
            .await?;
        stalled_peak = stalled_peak.max(peak);
        ok.add(&r);
        stalled.push(r);
        after.push(after_stall(slow).await);
    }
    crowd.stop().await;
    let (normal, stalled) = (median(normal), median(stalled));
    // The server's queue per socket is bounded (256 frames): a stalled reader must not cost more
    // than a few megabytes, however long it stalls.
    let growth = stalled_peak.saturating_sub(normal_peak);
    let memory_violation = u64::from(growth > 32 * 1024 * 1024);
    Ok(json!({
        "scenario": "slow_consumer",
        "smoke": cli.smoke,
        "what": "others' webhook → socket latency while one tenant-wide supervisor socket stops reading",
        "agents": s.agents,
        "supervisors_reading": s.supervisors,
        "offered_per_s": rate,
        "without_stall": normal.summary(),
        "with_stall": stalled.summary(),
        "others_p99_ratio": round2(stalled.p99_ms() / normal.p99_ms().max(0.01)),
        "stalled_socket_after": after,
        "server_peak_anon_rss_mb": {
            "without_stall": round2(normal_peak as f64 / 1048576.0),
            "with_stall": round2(stalled_peak as f64 / 1048576.0),
        },
        "lost": ok.lost,
        "duplicated": ok.duplicated,
        "violations": ok.violations + memory_violation,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

/// `e2e_campaign`: chat latency at 500 messages/s idle, then while a campaign sends on the same
/// number (see the module head).
pub async fn during_campaign(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let s = sizes(cli);
    let rate = if cli.smoke { 200 } else { 500 };
    let count = rate * cli.duration().as_secs();
    let sim_port = crate::ingest::free_port()?;
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let number = crate::campaign::number_toml(crowd::NUMBER, &graph, 80);
    let mut crowd = Crowd::start_with(&number, s.agents, s.supervisors, 0, s.conversations).await?;
    let _simulator = crate::sim::start(
        sim_port,
        &crowd.served.base,
        &[
            &crate::sim::CAMPAIGN_ACCOUNT[..],
            &["--phone-number-id", crowd::NUMBER, "--number-mps", "80"],
        ]
        .concat(),
    )
    .await?;

    let mut ok = Correctness::default();
    let idle = crowd.measure("idle", count, rate, None).await?;
    ok.add(&idle);

    // A campaign long enough to outlast the measurement at the campaign's pace (80% of 80/s).
    let contacts = (64 * (cli.duration().as_secs() + 30)) as usize;
    let (base, token, client) = (
        crowd.served.base.clone(),
        crowd.served.token.clone(),
        crowd.client.clone(),
    );
    let state = crowd::Importer::new(&client, &base, &token)
        .run(contacts, "broadcast".into(), "491518")
        .await?;
    if state != "done" {
        bail!("the campaign's audience import ended {state}");
    }
    let id = crowd.start_campaign("During chat", crowd::NUMBER).await?;
    // Measured once the campaign is sending.
    let started = Instant::now();
    loop {
        let c = crowd
            .served
            .api(
                &client,
                reqwest::Method::GET,
                &format!("campaigns/{id}"),
                None,
            )
            .await?;
        if c["counts"]["sent"].as_u64().unwrap_or(0) >= 64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the campaign did not start sending: {c}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = crowd.measure("campaign", count, rate, None).await?;
    ok.add(&during);
    let c = crowd
        .served
        .api(
            &client,
            reqwest::Method::GET,
            &format!("campaigns/{id}"),
            None,
        )
        .await?;
    let campaign_sent_while = c["counts"]["sent"].as_u64().unwrap_or(0);
    if c["state"] != "running" {
        bail!("the campaign ended before the measurement did: {c}");
    }
    crowd
        .served
        .api(
            &client,
            reqwest::Method::POST,
            &format!("campaigns/{id}/cancel"),
            None,
        )
        .await?;
    crowd.stop().await;
    let ratio = during.p99_ms() / idle.p99_ms().max(0.001);
    Ok(json!({
        "scenario": "e2e_campaign",
        "smoke": cli.smoke,
        "what": "e2e (webhook POST due → agent's socket) idle, then while a campaign sends on the same number",
        "agents": s.agents,
        "conversations": s.conversations,
        "rate_per_s": rate,
        "idle": idle.summary(),
        "during_campaign": during.summary(),
        "campaign_sent_by_the_end": campaign_sent_while,
        "agent_p99_ratio": (ratio * 100.0).round() / 100.0,
        "target_ratio": 2.0,
        "lost": ok.lost,
        "duplicated": ok.duplicated,
        "violations": ok.violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

/// `retention_e2e`: chat latency at 500 messages/s idle, then while a retention purge works
/// through two years of history at 1,000,000 messages an hour (`[retention] max_per_second =
/// 278`), on the same store. The history is the `retention` scenario's (100,000 conversations
/// of 10 messages, a legal hold on a tenth; `--smoke`: 1,000), seeded before the server starts.
/// Target: the agents' p99 within +10% of idle.
pub async fn during_purge(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let s = sizes(cli);
    let rate = if cli.smoke { 200 } else { 500 };
    let count = rate * cli.duration().as_secs();
    let history = if cli.smoke { 1_000 } else { 100_000 };
    let dir = tempfile::tempdir()?;
    let seeded = Instant::now();
    crate::retention::seed_history(&dir.path().join("data"), history).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let pace = 1_000_000 / 3_600;
    let mut crowd = Crowd::start_on(
        dir,
        &default_number(SECRET),
        &format!(
            "[retention]\nmax_per_second = {pace}\n{}",
            crate::retention::window_away_from_now()
        ),
        &s,
        0,
    )
    .await?;
    let mut ok = Correctness::default();
    let idle = crowd.measure("idle", count, rate, None).await?;
    ok.add(&idle);

    let client = crowd.client.clone();
    crowd
        .served
        .api(&client, reqwest::Method::POST, "retention/purge", None)
        .await?;
    // Measured once the purge is removing messages.
    let status = |served: &Served, client: reqwest::Client| {
        let (base, token) = (served.base.clone(), served.token.clone());
        async move {
            let v: Value = client
                .get(format!("{base}/api/v1/retention/status"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(v)
        }
    };
    let waited = Instant::now();
    let before = loop {
        let v = status(&crowd.served, client.clone()).await?;
        if v["messages_purged"].as_u64().unwrap_or(0) > 0 {
            break v;
        }
        if waited.elapsed() > Duration::from_secs(120) {
            bail!("the purge did not start removing messages: {v}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let started = Instant::now();
    let during = crowd.measure("purge", count, rate, None).await?;
    ok.add(&during);
    let after = status(&crowd.served, client.clone()).await?;
    let elapsed = started.elapsed().as_secs_f64();
    if after["running"] != true {
        bail!("the purge ended before the measurement did: {after}");
    }
    let purged = after["messages_purged"].as_u64().unwrap_or(0)
        - before["messages_purged"].as_u64().unwrap_or(0);
    let per_hour = purged as f64 / elapsed * 3_600.0;
    crowd.stop().await;
    let ratio = during.p99_ms() / idle.p99_ms().max(0.001);
    // The pace is the configuration's; falling well short of it would mean the purge starved.
    let starved = u64::from(!cli.smoke && per_hour < 900_000.0);
    Ok(json!({
        "scenario": "retention_e2e",
        "smoke": cli.smoke,
        "what": "e2e (webhook POST due → agent's socket) idle, then while a retention purge runs",
        "history_messages": history * 10,
        "seed_secs": (seed_secs * 10.0).round() / 10.0,
        "agents": s.agents,
        "conversations": s.conversations,
        "rate_per_s": rate,
        "purge_pace_per_s": pace,
        "purged_during": purged,
        "purged_per_hour": per_hour.round(),
        "idle": idle.summary(),
        "during_purge": during.summary(),
        "agent_p99_ratio": (ratio * 100.0).round() / 100.0,
        "target_ratio": 1.1,
        "lost": ok.lost,
        "duplicated": ok.duplicated,
        "violations": ok.violations + starved,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamids_carry_run_conversation_order_and_due_time() {
        let w = wamid("r500x1", 42, 7, 1_234_567);
        assert_eq!(parse_wamid(&w), Some(("r500x1", 42, 7, 1_234_567)));
        assert_eq!(parse_wamid("wamid.HBgL"), None);
    }

    #[test]
    fn a_side_counts_losses_duplicates_and_reordering() {
        let mut side = Side::default();
        side.record(1, 0, 10);
        side.record(1, 2, 10);
        side.record(1, 1, 10); // late: out of order
        side.record(1, 2, 10); // again: duplicated and out of order
        let acked: HashSet<(u32, u32)> = [(1, 0), (1, 1), (1, 2), (1, 3)].into();
        assert_eq!(side.lost(&acked), 1);
        assert_eq!(side.duplicated(), 1);
        assert_eq!(side.out_of_order, 2);
    }
}
