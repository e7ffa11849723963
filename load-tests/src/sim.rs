//! The real simulator as the scenarios that send start it: pinned to core 1 (the server has
//! core 0), signing its webhooks to the server with the load tests' app secret, ready when it
//! answers its health check.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::ingest::{pinned, Killed, SECRET};
use crate::sibling_binary;

/// The campaign scenarios' account and how its statuses follow a send: sent after 0.1 s,
/// delivered after 0.3 s, half of them read after 2 s.
pub const CAMPAIGN_ACCOUNT: [&str; 10] = [
    "--waba-id",
    crate::campaign::WABA,
    "--sent-after-ms",
    "100",
    "--delivered-after-ms",
    "300",
    "--read-after-ms",
    "2000",
    "--unread-rate",
    "0.5",
];

/// A started simulator; it is killed when this is dropped.
pub struct Simulator {
    _process: Killed,
    /// `http://127.0.0.1:{port}`, for its `/_sim/` control API.
    pub url: String,
}

/// Starts `switchboard-wa-sim` on `port`, delivering webhooks to `server_base`, with `extra`
/// arguments (its numbers, tiers and status timings), and waits until it answers.
pub async fn start(port: u16, server_base: &str, extra: &[&str]) -> Result<Simulator> {
    let mut command = pinned(&sibling_binary("switchboard-wa-sim")?, 1);
    command
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--webhook-url", &format!("{server_base}/webhooks/whatsapp")])
        .args(["--app-secret", SECRET, "--access-token", "load-token"])
        .args(extra)
        .stdout(std::process::Stdio::null());
    let process = Killed(command.spawn().context("starting the simulator")?);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client
        .get(format!("{url}/_sim/health"))
        .send()
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the simulator did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Simulator {
        _process: process,
        url,
    })
}
