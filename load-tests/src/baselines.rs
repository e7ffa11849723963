//! The baselines every scenario is measured beside, in the same invocation, pinned to the same
//! core as the server:
//!
//! - `hyper-hello`: a hyper 1 HTTP/1.1 server that reads the request body and answers `200 ok`,
//!   the ceiling for `ingest` (no parsing, no signature, no storage).
//! - `tungstenite-hub`: a bare tokio-tungstenite broadcast hub with Switchboard's small buffers
//!   (4 KiB read, 16 KiB write batching, a 256-frame queue per subscriber), for `fanout` and
//!   `idle_memory`.
//! - Node.js `ws` (`load-tests/baselines/ws-hub.mjs`), the same hub in the most used WebSocket
//!   server library, installed from npm by [`node_hub`].
//!
//! Both hubs speak the same minimal protocol, a subset of Switchboard's: a client sends
//! `{"type":"subscribe","topic":"tenant"}` and gets `{"type":"subscribed","topic":"tenant","seq":N}`;
//! a publisher sends `{"type":"publish","event":{…}}` and every subscriber gets
//! `{"type":"event","topic":"tenant","seq":N,"event":{…}}`, built once per publish. A subscriber
//! whose queue is full is closed with 4008, as Switchboard does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::ingest::{free_port, pinned, Killed};

/// Frames a subscriber may have queued before it counts as too slow (Switchboard's figure).
const QUEUE: usize = 256;

/// A baseline server started as a child process on core 0.
pub struct Baseline {
    pub name: &'static str,
    pub port: u16,
    pub child: Killed,
}

impl Baseline {
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

/// Runs a Rust baseline server in this process until killed (`--baseline-server <kind>`).
pub fn run_server(kind: &str, listen: &str) -> Result<()> {
    let addr: std::net::SocketAddr = listen.parse().context("--listen")?;
    let runtime = tokio::runtime::Runtime::new()?;
    match kind {
        "hyper-hello" => runtime.block_on(hyper_hello(addr)),
        "tungstenite-hub" => runtime.block_on(tungstenite_hub(addr)),
        other => bail!("unknown baseline {other}"),
    }
}

async fn hyper_hello(addr: std::net::SocketAddr) -> Result<()> {
    use http_body_util::{BodyExt as _, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                // Read the whole body, as a webhook receiver must before it can check a signature.
                let _body = request.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The bare hub: one broadcast channel, a sequence number, nothing else.
async fn tungstenite_hub(addr: std::net::SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let (events, _) = tokio::sync::broadcast::channel::<Arc<str>>(QUEUE);
    let seq = Arc::new(AtomicU64::new(0));
    // Switchboard's own socket buffers (server/src/hub/socket.rs), so the comparison is of
    // everything else.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(256 * 1024);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (events, seq) = (events.clone(), Arc::clone(&seq));
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            let (mut sink, mut source) = ws.split();
            let mut feed: Option<tokio::sync::broadcast::Receiver<Arc<str>>> = None;
            loop {
                tokio::select! {
                    incoming = source.next() => {
                        let Some(Ok(Message::Text(text))) = incoming else { break };
                        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else { break };
                        match frame["type"].as_str() {
                            Some("subscribe") => {
                                feed = Some(events.subscribe());
                                let now = seq.load(Ordering::SeqCst);
                                let answer = format!(r#"{{"type":"subscribed","topic":"tenant","seq":{now}}}"#);
                                if sink.send(Message::Text(answer.into())).await.is_err() { break }
                            }
                            Some("publish") => {
                                let n = seq.fetch_add(1, Ordering::SeqCst) + 1;
                                let frame: Arc<str> = format!(
                                    r#"{{"type":"event","topic":"tenant","seq":{n},"event":{}}}"#,
                                    frame["event"]
                                ).into();
                                let _ = events.send(frame);
                            }
                            _ => {}
                        }
                    }
                    next = async { feed.as_mut().expect("guarded").recv().await }, if feed.is_some() => {
                        match next {
                            Ok(frame) => {
                                if sink.feed(Message::Text(frame.as_ref().into())).await.is_err() { break }
                                // Batch what is already queued into one flush, as Switchboard does.
                                let rx = feed.as_mut().expect("guarded");
                                while let Ok(more) = rx.try_recv() {
                                    if sink.feed(Message::Text(more.as_ref().into())).await.is_err() { return }
                                }
                                if sink.flush().await.is_err() { break }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                let _ = sink.send(Message::Close(Some(CloseFrame {
                                    code: CloseCode::Library(4008),
                                    reason: "too slow".into(),
                                }))).await;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
        });
    }
}

/// Starts a Rust baseline (`hyper-hello` or `tungstenite-hub`) on core 0 and waits for its port.
pub async fn start_rust(name: &'static str) -> Result<Baseline> {
    let me = std::env::current_exe()?;
    let port = free_port()?;
    let child = Killed(
        pinned(&me, 0)
            .args([
                "--baseline-server",
                name,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting the {name} baseline"))?,
    );
    wait_port(port).await?;
    Ok(Baseline { name, port, child })
}

async fn wait_port(port: u16) -> Result<()> {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("nothing listens on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn baselines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("baselines")
}

/// `load-tests/baselines/node_modules`: `ws` at the version package-lock.json pins, installed
/// with `npm ci` the first time and again only when the lockfile changes.
fn ensure_node_ws() -> Result<PathBuf> {
    use sha2::Digest as _;
    let dir = baselines_dir();
    let lock = std::fs::read(dir.join("package-lock.json"))
        .context("load-tests/baselines/package-lock.json")?;
    let modules = dir.join("node_modules");
    let marker = modules.join(format!(
        ".switchboard-{}",
        &hex::encode(sha2::Sha256::digest(&lock))[..16]
    ));
    if !marker.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .status()
            .context("running npm (Node.js and npm are needed for the ws baseline)")?;
        anyhow::ensure!(status.success(), "npm ci in {} failed", dir.display());
        std::fs::write(&marker, "")?;
    }
    Ok(modules)
}

/// Starts the Node.js `ws` hub on core 0, installing `ws` first when needed.
pub async fn node_hub() -> Result<Baseline> {
    ensure_node_ws()?;
    let port = free_port()?;
    let script = baselines_dir().join("ws-hub.mjs");
    let child = Killed(
        pinned(Path::new("node"), 0)
            .arg(&script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .context("starting node (Node.js is needed for the ws baseline)")?,
    );
    wait_port(port).await?;
    Ok(Baseline {
        name: "node-ws",
        port,
        child,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bare hub speaks the protocol the scenarios expect: subscribed, then each publish once,
    /// in order, with its sequence number.
    #[tokio::test]
    async fn the_tungstenite_hub_broadcasts_in_order() {
        let port = free_port().unwrap();
        let server = tokio::spawn(tungstenite_hub(
            format!("127.0.0.1:{port}").parse().unwrap(),
        ));
        wait_port(port).await.unwrap();
        let url = format!("ws://127.0.0.1:{port}/");
        let (mut a, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        a.send(Message::Text(
            r#"{"type":"subscribe","topic":"tenant"}"#.into(),
        ))
        .await
        .unwrap();
        let subscribed = a.next().await.unwrap().unwrap();
        assert_eq!(
            subscribed.to_text().unwrap(),
            r#"{"type":"subscribed","topic":"tenant","seq":0}"#
        );
        let (mut publisher, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        for i in 0..3 {
            let frame = format!(r#"{{"type":"publish","event":{{"n":{i}}}}}"#);
            publisher.send(Message::Text(frame.into())).await.unwrap();
        }
        for i in 0..3 {
            let got = a.next().await.unwrap().unwrap();
            let v: Value = serde_json::from_str(got.to_text().unwrap()).unwrap();
            assert_eq!(v["seq"], i + 1);
            assert_eq!(v["event"]["n"], i);
        }
        server.abort();
    }
}
