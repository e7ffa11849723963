//! What the hub scenarios (`e2e`, `slow_consumer`, `reconnect`, `soak`) share: signing in many
//! people on a running server, the frames they read, the webhooks customers send, and contact
//! imports.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};

/// The business number every crowd scenario's customers write to.
pub const NUMBER: &str = "106540352242922";
const PASSWORD: &str = "a long load-test passphrase";

/// Moves every thread of a running process to `cpus` (a taskset list such as `0` or `0-1`).
/// Setup that is CPU-bound on the server (Argon2id hashing while people are created and sign
/// in) runs on both cores; measurements run with the server back on core 0.
pub fn repin(pid: u32, cpus: &str) {
    if std::path::Path::new("/usr/bin/taskset").exists() {
        let _ = Command::new("/usr/bin/taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

/// Someone created and signed in: their user id and bearer token.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub token: String,
}

/// Creates `n` users with `role` (`agent`, `supervisor`) through the REST API as `owner`, and
/// signs each in. Two at a time: each costs the server two Argon2id hashes.
pub async fn people(base: &str, owner: &str, role: &str, n: usize) -> Result<Vec<Person>> {
    let client = reqwest::Client::new();
    let mut created: Vec<(usize, Person)> = futures_util::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let email = format!("{role}{i}@load.example");
                let answer: Value = client
                    .post(format!("{base}/api/v1/users"))
                    .bearer_auth(owner)
                    .json(&json!({"email": email, "name": format!("{role} {i}"),
                                  "role": role, "password": PASSWORD}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = answer["id"]
                    .as_str()
                    .with_context(|| format!("creating {email}: {answer}"))?
                    .to_owned();
                let login: Value = client
                    .post(format!("{base}/api/v1/auth/token"))
                    .json(&json!({"email": email, "password": PASSWORD}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let token = login["token"]
                    .as_str()
                    .with_context(|| format!("signing {email} in: {login}"))?
                    .to_owned();
                anyhow::Ok((i, Person { id, token }))
            }
        })
        .buffer_unordered(2)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    created.sort_by_key(|(i, _)| *i);
    Ok(created.into_iter().map(|(_, p)| p).collect())
}

/// Waits until routing knows `agents` agents (presence reaches it through the inbox task), by
/// asking the supervisor board every 50 ms for at most `within`.
pub async fn until_routing_knows(
    client: &reqwest::Client,
    base: &str,
    owner: &str,
    agents: usize,
    within: std::time::Duration,
) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let board: Value = client
            .get(format!("{base}/api/v1/board"))
            .bearer_auth(owner)
            .send()
            .await?
            .json()
            .await?;
        let known = board["agents"].as_array().map_or(0, Vec::len);
        if known >= agents {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < within,
            "routing knows {known} of {agents} agents after {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The part of a server frame the scenarios read; serde skips the rest.
#[derive(Deserialize, Debug)]
pub struct Frame {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub event: Option<EventHead>,
}

#[derive(Deserialize, Debug)]
pub struct EventHead {
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

impl Frame {
    /// The text of a `message_stored` event, if this frame is one. (Agents without
    /// `contacts.phone.view` get references, not wamids, so scenarios mark messages in their
    /// text.)
    pub fn stored_text(&self) -> Option<&str> {
        let event = self.event.as_ref()?;
        (self.kind == "event" && event.kind == "message_stored")
            .then_some(event.text.as_deref())
            .flatten()
    }
}

/// A customer's text message as Meta delivers it, to [`NUMBER`].
pub fn text_webhook(customer: &str, wamid: &str, text: &str) -> Bytes {
    text_webhook_to(NUMBER, customer, wamid, text)
}

/// [`text_webhook`] to the business number `number` (of the same account).
pub fn text_webhook_to(number: &str, customer: &str, wamid: &str, text: &str) -> Bytes {
    // Written now, as Meta stamps it: the customer's 24-hour window is open for replies.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": number},
            "contacts": [{"profile": {"name": "Load Test"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": wamid, "timestamp": now.to_string(),
                "type": "text", "text": {"body": text}}]}}]}]});
    Bytes::from(serde_json::to_vec(&body).expect("serialisable"))
}

/// Posts a signed webhook; true when the server acknowledged it (it is durable).
pub async fn post_webhook(client: &reqwest::Client, url: &str, body: Bytes) -> bool {
    let signature = crate::ingest::sign(&body);
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await;
    let why = match answer {
        Ok(r) if r.status().is_success() => return true,
        Ok(r) => {
            let status = r.status();
            format!("{status} {}", r.text().await.unwrap_or_default())
        }
        Err(e) => format!("no answer: {e}"),
    };
    // The first few refusals say why (a 503 is safe, Meta retries; anything else is a bug).
    static TOLD: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if TOLD.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
        eprintln!("a webhook was not acknowledged: {why}");
    }
    false
}

/// A process's own resident memory in bytes: `RssAnon`, its heap, stacks and buffers. `VmRSS`
/// also counts the pages of files it maps, which for the server is its database read through
/// `mmap` (shared, clean page cache the kernel takes back under pressure): at 500 msg/s that was
/// hundreds of MB that grew with the data, not with sockets or queues.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The value at percentile `p` (0–100) of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted_us.len());
    (f64::from(sorted_us[rank - 1]) / 10.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let us: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 50.0), 500.0);
        assert_eq!(percentile_ms(&us, 99.0), 990.0);
        assert_eq!(percentile_ms(&us, 99.9), 999.0);
        assert_eq!(percentile_ms(&us, 100.0), 1000.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn only_message_events_carry_a_stored_text() {
        let stored: Frame = serde_json::from_str(
            r#"{"type":"event","topic":"inbox:u_1","seq":3,"event":{"kind":"message_stored","wamid":"m_1","text":"hi"}}"#,
        )
        .unwrap();
        assert_eq!(stored.stored_text(), Some("hi"));
        assert_eq!(stored.seq, 3);
        let status: Frame = serde_json::from_str(
            r#"{"type":"event","seq":4,"event":{"kind":"status_changed","wamid":"m_1","text":"x"}}"#,
        )
        .unwrap();
        assert_eq!(status.stored_text(), None);
    }
}

/// Who starts contact imports: the owner.
#[derive(Clone)]
pub struct Importer {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Importer {
    pub fn new(client: &reqwest::Client, base: &str, token: &str) -> Self {
        Self {
            client: client.clone(),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Imports `rows` contacts `+{prefix}0000000`… tagged `tag` (the same ones each time with
    /// the same prefix: a refresh that updates them) and waits for the import to end: its
    /// final state.
    pub async fn run(self, rows: usize, tag: String, prefix: &'static str) -> Result<String> {
        let mut file = String::from("phone,name,tags\n");
        for i in 0..rows {
            file.push_str(&format!("+{prefix}{i:07},Customer {i},{tag}\n"));
        }
        let done = self.file(file, Duration::from_secs(300)).await?;
        match done["state"].as_str() {
            Some(state) => Ok(state.to_owned()),
            None => bail!("an import without a state: {done}"),
        }
    }

    /// Imports a CSV file and waits, at most `limit`, for the import to end: the import as the
    /// API shows it then.
    pub async fn file(&self, file: String, limit: Duration) -> Result<Value> {
        let answer: Value = self
            .client
            .post(format!("{}/api/v1/contacts/imports", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "text/csv")
            .body(file)
            .send()
            .await?
            .json()
            .await?;
        let id = answer["id"]
            .as_str()
            .with_context(|| format!("no import id: {answer}"))?
            .to_owned();
        let started = Instant::now();
        loop {
            let state: Value = self
                .client
                .get(format!("{}/api/v1/contacts/imports/{id}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await?
                .json()
                .await?;
            if state["state"] != "running" {
                return Ok(state);
            }
            if started.elapsed() > limit {
                bail!("the import did not end in {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
