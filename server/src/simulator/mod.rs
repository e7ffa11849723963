//! A WhatsApp Cloud API simulator that plays Meta faithfully enough to develop, test and load
//! test against: the real endpoints and wire shapes, realistic `wamid.` ids, signed webhooks in
//! Meta's ASCII-escaped encoding, statuses sent → delivered → read, Meta's limits with their real
//! error codes (130429, 131056, 131047), templates, media, fault injection, simulated customers,
//! and a small control API under `/_sim/` to script customers and inspect what was sent.
//!
//! Used by the `switchboard-wa-sim` binary, by `switchboard serve` for the demo, and in-process by
//! tests. Concurrency: one `std::sync::Mutex` around the state, never held across `.await`;
//! webhook deliveries run as tasks bounded by a semaphore.

mod customers;
mod http;
pub mod limits;
mod state;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::secret::Secret;

pub use state::{Faults, SentRecord, SimStats};

/// One simulated business number.
#[derive(Clone, Debug)]
pub struct SimNumber {
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub access_token: Secret,
    pub waba_id: String,
    /// Messages per second before 130429 (Meta: 80 by default, up to 1,000).
    pub mps: u32,
    /// Whether the simulated customers write to it (a number the business has not connected
    /// yet gets messages only through `/_sim/inbound`).
    pub chatting: bool,
}

/// The demo's number: Meta's own example identity.
pub const DEMO_NUMBER: &str = "106540352242922";
/// The demo's WhatsApp Business Account.
pub const DEMO_WABA: &str = "102290129340398";
/// A second number of the demo's account, for an admin to connect at run time.
pub const SPARE_NUMBER: &str = "106540352242923";

/// How statuses follow an accepted send.
#[derive(Clone, Debug)]
pub struct StatusBehaviour {
    pub sent_after: Duration,
    pub delivered_after: Duration,
    pub read_after: Duration,
    /// Chance that `delivered` is skipped (Meta sends only `read` when both happen together).
    pub skip_delivered_rate: f64,
    /// Chance that the recipient never reads.
    pub unread_rate: f64,
    /// Chance each status webhook is delivered twice.
    pub duplicate_rate: f64,
    /// Deliver a message's statuses newest first.
    pub out_of_order: bool,
}

impl Default for StatusBehaviour {
    fn default() -> Self {
        Self {
            sent_after: Duration::from_millis(150),
            delivered_after: Duration::from_millis(600),
            read_after: Duration::from_millis(1800),
            skip_delivered_rate: 0.1,
            unread_rate: 0.0,
            duplicate_rate: 0.0,
            out_of_order: false,
        }
    }
}

/// How failed webhook deliveries are retried (Meta retries for up to 7 days).
#[derive(Clone, Debug)]
pub struct RetryBehaviour {
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryBehaviour {
    fn default() -> Self {
        Self {
            max_attempts: 15,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Simulated customers who write in on their own.
#[derive(Clone, Debug)]
pub struct CustomerBehaviour {
    /// How many customers chat (0: none; script them with the control API instead).
    pub count: usize,
    /// Mean pause between two messages from the crowd.
    pub interval: Duration,
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub numbers: Vec<SimNumber>,
    /// Where the business receives webhooks.
    pub webhook_url: Url,
    /// The Meta app secret webhooks are signed with.
    pub app_secret: Secret,
    /// When set, the simulator performs Meta's verification handshake against `webhook_url`
    /// at start (and logs the outcome).
    pub verify_token: Option<Secret>,
    pub statuses: StatusBehaviour,
    pub retries: RetryBehaviour,
    pub customers: CustomerBehaviour,
}

impl SimConfig {
    /// One number with Meta's demo identity, for `switchboard serve` and tests.
    pub fn demo(webhook_url: Url, app_secret: Secret, access_token: Secret) -> Self {
        Self {
            numbers: vec![SimNumber {
                phone_number_id: DEMO_NUMBER.into(),
                display_phone_number: "15550783881".into(),
                access_token,
                waba_id: DEMO_WABA.into(),
                mps: 80,
                chatting: true,
            }],
            webhook_url,
            app_secret,
            verify_token: None,
            statuses: StatusBehaviour::default(),
            retries: RetryBehaviour::default(),
            customers: CustomerBehaviour {
                count: 0,
                interval: Duration::from_secs(4),
            },
        }
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    state: Arc<state::SimState>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The Graph API base URL clients should use, e.g. `http://127.0.0.1:4004/v23.0`.
    pub fn graph_api_url(&self) -> Url {
        Url::parse(&format!("http://{}/v23.0", self.addr))
            .expect("a socket address makes a valid URL")
    }

    /// Every accepted send, oldest first.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.state.sent()
    }

    pub fn stats(&self) -> SimStats {
        self.state.stats()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// A customer writes a text message to a number. Returns its wamid once the webhook is
    /// queued for delivery.
    pub fn customer_says(
        &self,
        phone_number_id: &str,
        from: &str,
        name: &str,
        text: &str,
    ) -> Option<String> {
        self.state.inbound_text(phone_number_id, from, name, text)
    }

    /// Stops the simulator and waits for its server to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Starts a simulator on `listener`.
pub async fn start(config: SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let base_url =
        Url::parse(&format!("http://{addr}")).expect("a socket address makes a valid URL");
    let state = state::SimState::new(config.clone(), base_url, shutdown.clone());
    if let Some(token) = &config.verify_token {
        webhooks::verify_endpoint(&config.webhook_url, token).await;
    }
    customers::spawn(
        Arc::clone(&state),
        config.customers.clone(),
        shutdown.clone(),
    );
    let routes = http::routes(Arc::clone(&state));
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move { stop.cancelled().await })
            .run()
            .await;
    });
    tracing::info!(%addr, numbers = config.numbers.len(), "WhatsApp Cloud API simulator listening");
    Ok(SimHandle {
        addr,
        state,
        shutdown,
        task,
    })
}
