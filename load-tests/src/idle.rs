//! `idle_memory`: server memory per idle, authenticated, subscribed WebSocket, at 1k, 5k and 10k
//! sockets (200 in a smoke run), against the real `switchboard` binary. The baseline, in the same
//! run, is a bare tokio-tungstenite server with the same buffer sizes that only holds its sockets:
//! what a socket costs with no hub at all.
//!
//! Memory is the server's own resident memory (`RssAnon`, see `crowd::rss_bytes`) after every
//! socket has been answered, minus the same before the first connected, divided by the count. A socket that never got its
//! `ready` (or, for the baseline, its upgrade) counts as lost.

use std::process::{Command, Stdio};
use std::time::Duration;
use switchboard_shared::protocol::Topic;

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::ingest::{free_port, pin_self, pinned, wait_ready, Killed};
use crate::{procinfo, sibling_binary, Cli};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `n` sockets (64 at a time), each authenticated by `token` and subscribed to `topic` when
/// given; returns the open ones.
pub async fn open(url: &str, token: Option<&str>, topic: Option<&str>, n: usize) -> Vec<Socket> {
    let mut sockets = Vec::with_capacity(n);
    let mut pending = futures_util::stream::iter(0..n)
        .map(|_| async move {
            let mut request = url.into_client_request().ok()?;
            if let Some(token) = token {
                request
                    .headers_mut()
                    .insert("authorization", format!("Bearer {token}").parse().ok()?);
            }
            let (mut socket, _) = tokio::time::timeout(
                Duration::from_secs(30),
                tokio_tungstenite::connect_async(request),
            )
            .await
            .ok()?
            .ok()?;
            if token.is_some() {
                expect(&mut socket, "ready").await?;
            }
            if let Some(topic) = topic {
                let frame = json!({"type": "subscribe", "topic": topic}).to_string();
                socket.send(Message::Text(frame.into())).await.ok()?;
                expect(&mut socket, "subscribed").await?;
            }
            Some(socket)
        })
        .buffer_unordered(64);
    while let Some(result) = pending.next().await {
        if let Some(socket) = result {
            sockets.push(socket);
        }
    }
    sockets
}

async fn expect(socket: &mut Socket, kind: &str) -> Option<()> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = message {
            let v: Value = serde_json::from_str(text.as_str()).ok()?;
            return (v["type"] == kind).then_some(());
        }
    }
}

/// Waits for memory to settle after connecting (allocators return nothing, but in-flight
/// handshakes finish).
async fn settled_rss(pid: u32) -> u64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    crate::crowd::rss_bytes(pid).unwrap_or(0)
}

struct Point {
    sockets: usize,
    opened: usize,
    bytes_per_socket: f64,
}

/// Measures a running server at every count, opening more sockets as it goes.
async fn measure(
    pid: u32,
    url: &str,
    token: Option<&str>,
    topic: Option<&str>,
    counts: &[usize],
) -> Vec<Point> {
    let before = settled_rss(pid).await;
    let mut held: Vec<Socket> = Vec::new();
    let mut points = Vec::new();
    for &count in counts {
        let missing = count.saturating_sub(held.len());
        let mut more = open(url, token, topic, missing).await;
        held.append(&mut more);
        let after = settled_rss(pid).await;
        points.push(Point {
            sockets: count,
            opened: held.len(),
            bytes_per_socket: after.saturating_sub(before) as f64 / held.len().max(1) as f64,
        });
    }
    drop(held);
    points
}

async fn setup_owner(base: &str, link: &str) -> Result<String> {
    let token = link
        .split("token=")
        .nth(1)
        .context("no token in the setup link")?;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/v1/setup"))
        .json(
            &json!({"token": token, "name": "Load", "email": "load@example.com",
                      "password": "a long load-test passphrase"}),
        )
        .send()
        .await?;
    if !created.status().is_success() {
        bail!("setup failed: {}", created.text().await?);
    }
    let login: Value = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"email": "load@example.com", "password": "a long load-test passphrase"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(login["token"]
        .as_str()
        .context("no token in the sign-in answer")?
        .to_owned())
}

/// A `switchboard serve` started for a scenario, with one number (tenant `load`, signed with
/// `app_secret`) and an owner signed in. Stops (SIGTERM, then kill) when dropped.
pub struct Served {
    pub pid: u32,
    pub port: u16,
    pub base: String,
    pub token: String,
    server: Option<Killed>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// `/api/v1/{path}` as the owner, with `body` as JSON; a non-2xx answer is an error with
    /// its body.
    pub async fn api(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = client
            .request(method, format!("{}/api/v1/{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let r = request.send().await?;
        let status = r.status();
        let value: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("{path}: {status} {value}");
        }
        Ok(value)
    }
}

impl Served {
    /// Stops the server (TERM, then kill and wait) and hands over its directory, for reading
    /// what it stored.
    pub fn stop(mut self) -> Result<tempfile::TempDir> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        self.server.take();
        Ok(std::mem::replace(&mut self._dir, tempfile::tempdir()?))
    }
}

impl Served {
    /// Kills the server outright (SIGKILL: nothing drained, nothing flushed) and starts it again
    /// on the same directory and port; the owner's token still works.
    pub async fn kill_and_restart(&mut self, switchboard: &std::path::Path) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        // Reaps it (its `kill` finds it dead already).
        self.server.take();
        let (server, _) = spawn_server(switchboard, &self._dir.path().join("switchboard.toml"))?;
        self.pid = server.0.id();
        self.server = Some(server);
        wait_ready(&format!("{}/readyz", self.base)).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Not again after `stop` (the pid may be someone else's by now).
        if self.server.is_some() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status();
            self.server.take();
        }
    }
}

/// Starts `switchboard serve` on a configuration, pinned to core 0; passes its first warnings
/// on, and the setup link it prints (when a workspace has no user yet) to the receiver.
fn spawn_server(
    switchboard: &std::path::Path,
    config: &std::path::Path,
) -> Result<(Killed, std::sync::mpsc::Receiver<String>)> {
    let mut child = pinned(switchboard, 0)
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting switchboard")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (link_tx, link_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        // The server's own warnings explain a failed run: the first few are passed on.
        let mut warnings = 0usize;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(at) = line
                .find("http://")
                .filter(|_| line.contains("/setup?token="))
            {
                let _ = link_tx.send(line[at..].trim().to_owned());
            } else if line.contains("WARN") || line.contains("ERROR") {
                warnings += 1;
                if warnings <= 10 {
                    eprintln!("switchboard: {line}");
                } else if warnings.is_power_of_two() {
                    eprintln!("switchboard: {warnings} warnings so far");
                }
            }
        }
    });
    Ok((Killed(child), link_rx))
}

/// A business number of the `load` tenant (TOML), its Cloud API calls going to `graph_api_url`.
pub fn number_toml(
    phone_number_id: &str,
    app_secret: &str,
    graph_api_url: &str,
    mps: u32,
) -> String {
    format!(
        "[[whatsapp.numbers]]\ntenant = \"load\"\nphone_number_id = \"{phone_number_id}\"\n\
         display_phone_number = \"1555{}\"\naccess_token = \"load-token\"\n\
         app_secret = \"{app_secret}\"\nverify_token = \"unused\"\n\
         graph_api_url = \"{graph_api_url}\"\nmps = {mps}\n",
        &phone_number_id[phone_number_id.len() - 7..]
    )
}

/// The number every scenario without a simulator uses (its Cloud API calls go nowhere).
pub fn default_number(app_secret: &str) -> String {
    number_toml(
        "106540352242922",
        app_secret,
        "http://127.0.0.1:9/v23.0",
        80,
    )
}

/// Starts the real server pinned to core 0 with `numbers` (see [`number_toml`]) and `extra`
/// TOML sections, and signs an owner in.
pub async fn serve_with_owner(
    switchboard: &std::path::Path,
    numbers: &str,
    extra: &str,
) -> Result<Served> {
    serve_seeded(switchboard, numbers, extra, tempfile::tempdir()?).await
}

/// Every load client signs in from loopback, one address: the per-address pace of sign-in
/// attempts (30 a minute) would make a crowd of 500 wait a quarter of an hour.
const CROWD_SIGNS_IN: &str = "[auth]\nattempts_per_minute = 1000000\nattempt_burst = 1000000\n";

/// [`serve_with_owner`] over `dir`, whose `data` directory the caller may have filled first.
pub async fn serve_seeded(
    switchboard: &std::path::Path,
    numbers: &str,
    extra: &str,
    dir: tempfile::TempDir,
) -> Result<Served> {
    let port = free_port()?;
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n{numbers}\n{extra}\n\
             [simulator]\nmode = \"off\"\n[log]\nfilter = \"warn\"\n{CROWD_SIGNS_IN}",
            dir.path().join("data").display()
        ),
    )?;
    let (server, link_rx) = spawn_server(switchboard, &config)?;
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/readyz")).await?;
    let link = link_rx
        .recv_timeout(Duration::from_secs(30))
        .context("no setup link printed")?;
    let token = setup_owner(&base, &link).await?;
    Ok(Served {
        pid,
        port,
        base,
        token,
        server: Some(server),
        _dir: dir,
    })
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let counts: Vec<usize> = if cli.smoke {
        vec![200]
    } else {
        vec![1_000, 5_000, 10_000]
    };

    // Baselines first, pinned like the server, their sockets subscribed like Switchboard's.
    let mut baselines = Vec::new();
    for node in [false, true] {
        let hub = if node {
            crate::baselines::node_hub().await?
        } else {
            crate::baselines::start_rust("tungstenite-hub").await?
        };
        let points = measure(
            hub.pid(),
            &format!("ws://127.0.0.1:{}/", hub.port),
            None,
            Some(&Topic::Tenant.to_string()),
            &counts,
        )
        .await;
        baselines.push((hub.name, points));
    }

    // Switchboard: an owner's bearer token, each socket subscribed to the tenant stream.
    let served = serve_with_owner(&switchboard, &default_number("unused-secret"), "").await?;
    let (pid, port, token) = (served.pid, served.port, served.token.clone());
    let points = measure(
        pid,
        &format!("ws://127.0.0.1:{port}/ws"),
        Some(&token),
        Some(&Topic::Tenant.to_string()),
        &counts,
    )
    .await;
    drop(served);

    let lost: usize = points
        .iter()
        .chain(baselines.iter().flat_map(|(_, p)| p))
        .map(|p| p.sockets - p.opened)
        .sum();
    let table: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut row = json!({
                "sockets": s.sockets,
                "switchboard_bytes_per_socket": s.bytes_per_socket.round(),
            });
            for (name, b) in &baselines {
                let b = &b[i];
                row[format!("{name}_bytes_per_socket")] = json!(b.bytes_per_socket.round());
                row[format!("ratio_to_{name}")] = json!(
                    ((s.bytes_per_socket / b.bytes_per_socket.max(1.0)) * 100.0).round() / 100.0
                );
            }
            row
        })
        .collect();
    Ok(json!({
        "scenario": "idle_memory",
        "smoke": cli.smoke,
        "what": "server RSS growth per idle authenticated socket subscribed to one stream",
        "points": table,
        "baselines": "tungstenite-hub: a bare tokio-tungstenite broadcast hub with the same buffer sizes; node-ws: the same hub on Node.js ws; both sockets subscribed",
        "target_bytes_per_socket": 16 * 1024,
        "lost": lost,
        "duplicated": 0,
        "violations": 0,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
