//! `ingest`: signed, real-shaped webhooks (messages and statuses 1:3) at the maximum rate a
//! closed loop of connections can push, and at a fixed 500/s for acknowledgement latency, into
//! `switchboard serve` with the durable store (fsync on every group commit). Baseline in the same
//! run: a hyper hello-world handler that reads the body and answers 200.
//!
//! Correctness: every message webhook that got a 200 must be in `switchboard export` exactly once
//! after a graceful restart (`lost`, `duplicated`); any answer other than 200 is a `violation`.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{procinfo, sibling_binary, Cli};

pub(crate) const SECRET: &str = "load_test_app_secret";
const NUMBER: &str = "106540352242922";

/// Meta's `X-Hub-Signature-256` of a webhook body, by the load number's app.
pub(crate) fn sign(body: &[u8]) -> String {
    sign_with(SECRET, body)
}

/// [`sign`] by another app.
pub(crate) fn sign_with(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The k-th webhook of a worker: every fourth a customer message, the others statuses.
fn webhook(run: &str, worker: usize, seq: u64) -> (Bytes, Option<String>) {
    let customer = format!("1555{:07}", (worker as u64 * 7919 + seq) % 10_000_000);
    let metadata = json!({"display_phone_number": "15550783881", "phone_number_id": NUMBER});
    let (value, wamid) = if seq.is_multiple_of(4) {
        let wamid = format!("wamid.load-{run}-{worker}-{seq}");
        (
            json!({"messaging_product": "whatsapp", "metadata": metadata,
                "contacts": [{"profile": {"name": "Load Test"}, "wa_id": customer}],
                "messages": [{"from": customer, "id": wamid, "timestamp": "1750000000", "type": "text",
                    "text": {"body": format!("Where is my order {seq}? Где мой заказ?")}}]}),
            Some(wamid),
        )
    } else {
        let status = ["sent", "delivered", "read"][(seq % 4) as usize - 1];
        (
            json!({"messaging_product": "whatsapp", "metadata": metadata,
                "statuses": [{"id": format!("wamid.out-{run}-{worker}-{}", seq / 4), "status": status,
                    "timestamp": "1750000001", "recipient_id": customer,
                    "pricing": {"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}}]}),
            None,
        )
    };
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]});
    (
        Bytes::from(serde_json::to_vec(&body).expect("serialisable")),
        wamid,
    )
}

#[derive(Default)]
struct RunResult {
    ok: u64,
    violations: u64,
    latencies_us: Vec<u32>,
    acked: Vec<String>,
    elapsed: Duration,
}

impl RunResult {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        percentile_ms(&mut self.latencies_us, p)
    }

    fn summary(&mut self) -> Value {
        json!({
            "rate_per_s": round(self.rate()),
            "p50_ms": round(self.percentile_ms(0.50)),
            "p99_ms": round(self.percentile_ms(0.99)),
            "p999_ms": round(self.percentile_ms(0.999)),
            "max_ms": round(self.percentile_ms(1.0)),
            "requests": self.ok + self.violations,
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Posts one signed webhook; returns the latency in microseconds and whether it got a 200.
async fn post(client: &reqwest::Client, url: &str, body: Bytes) -> (u32, bool) {
    let signature = sign(&body);
    let started = Instant::now();
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await;
    let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
    (us, matches!(answer, Ok(a) if a.status() == 200))
}

impl RunResult {
    fn record(&mut self, latency_us: u32, ok: bool, wamid: Option<String>) {
        self.latencies_us.push(latency_us);
        if ok {
            self.ok += 1;
            self.acked.extend(wamid);
        } else {
            self.violations += 1;
        }
    }
}

fn client(concurrency: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// A closed loop: `concurrency` workers each send the next request as soon as the last answered.
async fn max_rate(
    url: &str,
    run: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<RunResult> {
    let client = client(concurrency)?;
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (client, url, run) = (client.clone(), url.to_owned(), run.to_owned());
        workers.push(tokio::spawn(async move {
            let mut r = RunResult::default();
            let mut seq = 0u64;
            // Bounded by time, and by count as a second guard.
            while Instant::now() < deadline && seq < 10_000_000 {
                let (body, wamid) = webhook(&run, worker, seq);
                seq += 1;
                let (us, ok) = post(&client, &url, body).await;
                r.record(us, ok, wamid);
            }
            r
        }));
    }
    let mut total = RunResult::default();
    for w in workers {
        let r = w.await?;
        total.ok += r.ok;
        total.violations += r.violations;
        total.latencies_us.extend(r.latencies_us);
        total.acked.extend(r.acked);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// An open loop at a fixed rate: requests start on schedule whether or not earlier ones answered.
async fn fixed_rate(
    url: &str,
    run: &str,
    per_second: u64,
    duration: Duration,
) -> Result<RunResult> {
    let client = client(64)?;
    let total = (per_second as f64 * duration.as_secs_f64()) as u64;
    let result = Arc::new(Mutex::new(RunResult::default()));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for seq in 0..total {
        ticker.tick().await;
        let (client, url, result) = (client.clone(), url.to_owned(), Arc::clone(&result));
        let (body, wamid) = webhook(run, 0, seq);
        tasks.push(tokio::spawn(async move {
            let (us, ok) = post(&client, &url, body).await;
            result.lock().expect("not poisoned").record(us, ok, wamid);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let mut r = std::mem::take(&mut *result.lock().expect("not poisoned"));
    r.elapsed = started.elapsed();
    Ok(r)
}

/// Runs `cmd` pinned to `core` when `taskset` exists.
pub(crate) fn pinned(program: &std::path::Path, core: usize) -> Command {
    if std::path::Path::new("/usr/bin/taskset").exists() {
        let mut c = Command::new("/usr/bin/taskset");
        c.arg("-c").arg(core.to_string()).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub(crate) fn pin_self(core: usize) {
    if std::path::Path::new("/usr/bin/taskset").exists() {
        let _ = Command::new("/usr/bin/taskset")
            .args([
                "-a",
                "-p",
                "-c",
                &core.to_string(),
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status();
    }
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) async fn wait_ready(url: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(url).await {
            if r.status().is_success() || r.status().as_u16() == 405 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{url} did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) struct Killed(pub(crate) Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn best(mut runs: Vec<RunResult>) -> RunResult {
    runs.sort_by(|a, b| b.rate().total_cmp(&a.rate()));
    runs.into_iter().next().unwrap_or_default()
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    pin_self(1);
    let load_before = procinfo::load_average();
    let duration = cli.duration();

    // Baseline: hyper hello-world, pinned like the server.
    let baseline = crate::baselines::start_rust("hyper-hello").await?;
    let baseline_url = format!("http://127.0.0.1:{}/webhooks/whatsapp", baseline.port);
    let mut baseline_runs = Vec::new();
    for i in 0..cli.repeats() {
        baseline_runs
            .push(max_rate(&baseline_url, &format!("b{i}"), cli.concurrency, duration).await?);
    }
    drop(baseline);
    let mut baseline_best = best(baseline_runs);

    // Switchboard with the durable embedded store.
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
[store.sqlite]
synchronous = "full"
[simulator]
mode = "off"
[log]
filter = "warn"
[[whatsapp.numbers]]
tenant = "load"
phone_number_id = "{NUMBER}"
display_phone_number = "15550783881"
access_token = "unused"
app_secret = "{SECRET}"
verify_token = "unused"
graph_api_url = "http://127.0.0.1:9/v23.0"
"#,
            data = dir.path().join("data").display()
        ),
    )?;
    let server = Killed(
        pinned(&switchboard, 0)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .context("starting switchboard")?,
    );
    let pid = server.0.id();
    let url = format!("http://127.0.0.1:{port}/webhooks/whatsapp");
    wait_ready(&format!("http://127.0.0.1:{port}/readyz")).await?;

    let mut acked: Vec<String> = Vec::new();
    let mut violations = 0;
    let mut runs = Vec::new();
    let cpu_before = procinfo::cpu_seconds(pid).unwrap_or(0.0);
    let mut served = 0u64;
    for i in 0..cli.repeats() {
        let mut r = max_rate(&url, &format!("s{i}"), cli.concurrency, duration).await?;
        acked.append(&mut r.acked);
        violations += r.violations;
        served += r.ok;
        runs.push(r);
    }
    let cpu_used = procinfo::cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
    let mut sb_best = best(runs);
    let mut at_500 = Vec::new();
    for i in 0..cli.repeats() {
        let mut r = fixed_rate(&url, &format!("f{i}"), 500, duration).await?;
        acked.append(&mut r.acked);
        violations += r.violations;
        at_500.push(r);
    }
    at_500.sort_by(|a, b| {
        let (mut a, mut b) = (a.latencies_us.clone(), b.latencies_us.clone());
        a.sort_unstable();
        b.sort_unstable();
        a[a.len() * 99 / 100].cmp(&b[b.len() * 99 / 100])
    });
    let mut at_500_median = at_500.swap_remove(at_500.len() / 2);

    // Graceful stop, then read back what was stored.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let mut server = server;
    let _ = server.0.wait();
    let out = dir.path().join("export.jsonl");
    let status = Command::new(&switchboard)
        .args(["export", "--format", "jsonl", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "export failed");
    let mut stored: HashMap<String, u32> = HashMap::new();
    for line in std::fs::read_to_string(&out)?.lines() {
        let v: Value = serde_json::from_str(line)?;
        *stored
            .entry(v["wamid"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let lost = acked.iter().filter(|w| !stored.contains_key(*w)).count();
    let duplicated = stored.values().filter(|&&n| n > 1).count();

    let ratio = sb_best.rate() / baseline_best.rate().max(1e-9);
    Ok(json!({
        "scenario": "ingest",
        "smoke": cli.smoke,
        "duration_s": duration.as_secs_f64(),
        "runs": cli.repeats(),
        "concurrency": cli.concurrency,
        "switchboard": sb_best.summary(),
        "switchboard_cpu_us_per_webhook": round(cpu_used * 1e6 / served.max(1) as f64),
        "switchboard_webhooks_per_cpu_s": (served as f64 / cpu_used.max(1e-9)).round(),
        "at_500_per_s": at_500_median.summary(),
        "baseline": {"name": "hyper hello-world", "result": baseline_best.summary()},
        "ratio_to_baseline": round(ratio),
        "acked_messages": acked.len(),
        "lost": lost,
        "duplicated": duplicated,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
        "cores": cores,
    }))
}

/// The `p` quantile (nearest rank) of latencies in microseconds, in milliseconds; 0 for none.
pub(crate) fn percentile_ms(latencies_us: &mut [u32], p: f64) -> f64 {
    if latencies_us.is_empty() {
        return 0.0;
    }
    latencies_us.sort_unstable();
    let i = ((latencies_us.len() as f64 - 1.0) * p).round() as usize;
    f64::from(latencies_us[i]) / 1000.0
}
