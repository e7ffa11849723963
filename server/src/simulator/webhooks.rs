//! Delivers the simulator's webhooks the way Meta does: each body serialised in Meta's
//! ASCII-escaped encoding, signed over the exact bytes, POSTed; a delivery that fails (non-200
//! or unreachable) is retried with exponential backoff and jitter until it succeeds or the attempt
//! budget runs out. Deliveries run concurrently (bounded), so order is not guaranteed, as at Meta.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::RetryBehaviour;
use crate::connector::{ascii_json, signature};
use crate::secret::Secret;

/// Deliveries in flight at once.
const CONCURRENCY: usize = 64;

#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    url: Url,
    secret: Secret,
    retries: RetryBehaviour,
    permits: Arc<Semaphore>,
    counts: Arc<Counts>,
    shutdown: CancellationToken,
}

impl Deliverer {
    pub fn start(
        url: Url,
        secret: Secret,
        retries: RetryBehaviour,
        shutdown: CancellationToken,
    ) -> Self {
        // A development server on this machine often has a self-signed certificate; trust it
        // there, and only there.
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(loopback)
            .build()
            .expect("an HTTP client builds");
        Self {
            client,
            url,
            secret,
            retries,
            permits: Arc::new(Semaphore::new(CONCURRENCY)),
            counts: Arc::new(Counts::default()),
            shutdown,
        }
    }

    /// (delivered, failed attempts, dropped after the last attempt).
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.counts.delivered.load(Ordering::Relaxed),
            self.counts.failed_attempts.load(Ordering::Relaxed),
            self.counts.dropped.load(Ordering::Relaxed),
        )
    }

    /// Sends `body` after `delay`, retrying until acknowledged.
    pub fn deliver(&self, body: Value, delay: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = this.shutdown.cancelled() => {}
                _ = this.run(body, delay) => {}
            }
        });
    }

    async fn run(&self, body: Value, delay: Duration) {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let bytes = ascii_json::to_meta_wire(&body);
        let header = signature::sign(self.secret.expose().as_bytes(), &bytes);
        let mut wait = self.retries.first_delay;
        for attempt in 1..=self.retries.max_attempts.max(1) {
            let outcome = {
                let Ok(_permit) = self.permits.acquire().await else {
                    return;
                };
                self.client
                    .post(self.url.clone())
                    .header("content-type", "application/json")
                    .header(signature::HEADER, &header)
                    .body(bytes.clone())
                    .send()
                    .await
            };
            match outcome {
                Ok(response) if response.status().as_u16() == 200 => {
                    self.counts.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(response) => {
                    tracing::debug!(status = %response.status(), attempt, "webhook not acknowledged; will retry");
                }
                Err(error) => {
                    tracing::debug!(%error, attempt, "webhook delivery failed; will retry");
                }
            }
            self.counts.failed_attempts.fetch_add(1, Ordering::Relaxed);
            let jitter = rand::rng().random_range(0..=wait.as_millis() as u64 / 2);
            tokio::time::sleep(wait + Duration::from_millis(jitter)).await;
            wait = (wait * 2).min(self.retries.max_delay);
        }
        self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(url = %self.url, "webhook dropped after the last retry");
    }
}

/// Meta's verification handshake: GET the callback with a challenge, expect it echoed.
pub async fn verify_endpoint(url: &Url, token: &Secret) {
    let challenge = rand::rng()
        .random_range(1_000_000_000u64..9_999_999_999)
        .to_string();
    let mut url = url.clone();
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.challenge", &challenge)
        .append_pair("hub.verify_token", token.expose());
    let result = async {
        let response = reqwest::get(url).await?;
        let status = response.status();
        let text = response.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    }
    .await;
    match result {
        Ok((status, text)) if status.as_u16() == 200 && text == challenge => {
            tracing::info!("webhook endpoint verified (hub.challenge echoed)")
        }
        Ok((status, _)) => tracing::warn!(%status, "webhook endpoint failed verification"),
        Err(error) => tracing::warn!(%error, "webhook endpoint unreachable for verification"),
    }
}
