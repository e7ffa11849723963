//! `switchboard-wa-sim`: the WhatsApp Cloud API simulator as a standalone server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use switchboard_server::config::{LogConfig, LogFormat};
use switchboard_server::secret::Secret;
use switchboard_server::simulator::{
    self, CustomerBehaviour, RetryBehaviour, SimConfig, SimNumber, StatusBehaviour,
};
use switchboard_server::telemetry;
use url::Url;

#[derive(Parser)]
#[command(
    name = "switchboard-wa-sim",
    version,
    about = "A WhatsApp Cloud API simulator: Meta's endpoints, limits, errors and signed webhooks, on your machine"
)]
struct Cli {
    /// Address to listen on, e.g. 127.0.0.1:4004 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:4004")]
    listen: SocketAddr,
    /// Where to POST webhooks, e.g. http://127.0.0.1:8080/webhooks/whatsapp.
    #[arg(long)]
    webhook_url: Url,
    /// The Meta app secret that signs webhooks (X-Hub-Signature-256).
    #[arg(long, env = "SIM_APP_SECRET")]
    app_secret: String,
    /// A business number to simulate; repeat for several.
    #[arg(long = "phone-number-id", required = true)]
    phone_number_ids: Vec<String>,
    /// The display number of each --phone-number-id, in the same order.
    #[arg(long = "display-phone-number")]
    display_phone_numbers: Vec<String>,
    /// The bearer token clients must present. A random one is generated and printed if omitted.
    #[arg(long, env = "SIM_ACCESS_TOKEN")]
    access_token: Option<String>,
    #[arg(long, default_value = "102290129340398")]
    waba_id: String,
    /// Messages per second per number before 130429.
    #[arg(long, default_value_t = 80)]
    mps: u32,
    /// The tier of each --phone-number-id, in the same order (default: --mps).
    #[arg(long = "number-mps")]
    number_mps: Vec<u32>,
    /// Perform Meta's verification handshake against --webhook-url with this token at start.
    #[arg(long)]
    verify_token: Option<String>,
    /// Simulated customers writing in on their own (0 for none).
    #[arg(long, default_value_t = 0)]
    customers: usize,
    /// Mean pause between simulated customers' messages.
    #[arg(long, default_value_t = 4000)]
    chat_interval_ms: u64,
    #[arg(long, default_value_t = 150)]
    sent_after_ms: u64,
    #[arg(long, default_value_t = 600)]
    delivered_after_ms: u64,
    #[arg(long, default_value_t = 1800)]
    read_after_ms: u64,
    /// Chance that `delivered` is skipped (only `read` arrives).
    #[arg(long, default_value_t = 0.1)]
    skip_delivered_rate: f64,
    /// Chance that a recipient never reads.
    #[arg(long, default_value_t = 0.0)]
    unread_rate: f64,
    /// Chance that each status webhook is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    duplicate_rate: f64,
    /// Deliver each message's statuses newest first.
    #[arg(long)]
    out_of_order: bool,
    /// Delivery attempts per webhook before it is dropped.
    #[arg(long, default_value_t = 15)]
    max_attempts: u32,
    /// `text` or `json` logs.
    #[arg(long, default_value = "text")]
    log_format: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_logging(&LogConfig {
        format: if cli.log_format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        },
        filter: "info".into(),
    });
    let access_token = cli.access_token.clone().unwrap_or_else(|| {
        let token = hex::encode(rand::random::<[u8; 20]>());
        eprintln!("access token: {token}");
        token
    });
    let numbers = cli
        .phone_number_ids
        .iter()
        .enumerate()
        .map(|(i, id)| SimNumber {
            phone_number_id: id.clone(),
            display_phone_number: cli
                .display_phone_numbers
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("1555{:0>7}", &id[id.len().saturating_sub(7)..])),
            access_token: Secret::new(access_token.clone()),
            waba_id: cli.waba_id.clone(),
            mps: cli.number_mps.get(i).copied().unwrap_or(cli.mps),
            chatting: true,
        })
        .collect();
    let config = SimConfig {
        numbers,
        webhook_url: cli.webhook_url,
        app_secret: Secret::new(cli.app_secret),
        verify_token: cli.verify_token.map(Secret::new),
        statuses: StatusBehaviour {
            sent_after: Duration::from_millis(cli.sent_after_ms),
            delivered_after: Duration::from_millis(cli.delivered_after_ms),
            read_after: Duration::from_millis(cli.read_after_ms),
            skip_delivered_rate: cli.skip_delivered_rate,
            unread_rate: cli.unread_rate,
            duplicate_rate: cli.duplicate_rate,
            out_of_order: cli.out_of_order,
        },
        retries: RetryBehaviour {
            max_attempts: cli.max_attempts,
            ..RetryBehaviour::default()
        },
        customers: CustomerBehaviour {
            count: cli.customers,
            interval: Duration::from_millis(cli.chat_interval_ms.max(1)),
        },
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("listening on {}", cli.listen))?;
        let handle = simulator::start(config, listener).await?;
        // One line on stdout that scripts can read to find the port.
        println!("listening on http://{}", handle.addr);
        tokio::signal::ctrl_c().await.ok();
        handle.stop().await;
        anyhow::Ok(())
    })
}
