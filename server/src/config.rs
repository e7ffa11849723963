//! Configuration: defaults embedded in the binary, then `--config FILE` (TOML), then environment
//! variables `SWITCHBOARD__SECTION__KEY` (double underscores separate levels). Loaded once in
//! `main`, validated into typed values, passed down. A bad value fails start-up with a message
//! naming its key. Secrets are [`Secret`]s and never printed.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::secret::Secret;

/// The defaults, also the documented reference of every key.
pub const DEFAULTS: &str = include_str!("../config/defaults.toml");

pub const ENV_PREFIX: &str = "SWITCHBOARD__";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The URL customers' webhooks reach this server at, when it differs from `listen` (behind a
    /// proxy). Used by the built-in simulator.
    #[serde(default)]
    pub public_url: Option<Url>,
    pub store: StoreConfig,
    pub webhook: WebhookConfig,
    pub whatsapp: WhatsAppConfig,
    pub simulator: SimulatorConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub hub: HubConfig,
    pub routing: RoutingConfig,
    pub outbox: OutboxConfig,
    pub contacts: ContactsConfig,
    pub media: MediaConfig,
    pub retention: RetentionConfig,
    pub backup: BackupConfig,
    pub secrets: SecretsConfig,
    pub outgoing_webhooks: OutgoingWebhooksConfig,
    pub push: PushConfig,
    /// With a certificate and key, `serve` speaks HTTPS and WSS itself (TLS 1.2 and 1.3 only);
    /// without, plain HTTP for a reverse proxy that terminates TLS.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// Sessions and sign-in throttling.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// A session ends this long after sign-in, whatever happens.
    pub session_hours: u64,
    /// A session unused for this long ends.
    pub idle_hours: u64,
    /// Failed sign-ins for one account within `lockout_minutes` before it is locked.
    pub max_failures_per_account: u32,
    /// Failed sign-ins from one address within `lockout_minutes` before it is locked.
    pub max_failures_per_ip: u32,
    /// The window failures are counted in, and how long a lock lasts.
    pub lockout_minutes: u64,
    /// "auto": Secure cookies when this server speaks TLS or `public_url` is https.
    pub secure_cookies: SecureCookies,
    /// Memory Argon2 may use at once across all sign-ins (19 MiB per password being checked);
    /// with the cores, it bounds how many are checked concurrently.
    pub hashing_memory_mib: u64,
    /// How long a sign-in waits for its turn before it is answered 503 `busy`.
    pub hashing_wait_secs: u64,
    /// Sign-in, token and setup attempts one client address may make a minute, steadily...
    pub attempts_per_minute: u32,
    /// ...and at once; past it they are answered 429 `rate_limited` before any password work.
    pub attempt_burst: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    Auto,
    Always,
    Never,
}

/// The WebSocket hub.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// The server pings every socket this often; one silent for three times as long is closed.
    pub heartbeat_secs: u64,
    /// How many past events each stream keeps for clients resuming after a reconnect, however
    /// old (a quiet stream's last ones).
    pub resume_window: usize,
    /// Every event of the last this many seconds is kept besides, within `resume_mb`.
    pub resume_secs: u64,
    /// The most text (MiB, both forms of each event) one stream keeps for `resume_secs`.
    pub resume_mb: usize,
    /// A connected agent with no activity for this long shows as away.
    pub away_after_secs: u64,
    /// Frames one socket may send per second, steadily; past it (and its burst) a frame is
    /// refused with `rate_limited` and not read.
    pub frames_per_second: u32,
    /// Frames one socket may send at once (a reconnect subscribing its streams).
    pub frame_burst: u32,
}

/// Who gets a conversation (see `routing`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// `least_load` or `round_robin`.
    pub strategy: crate::routing::Strategy,
    /// Conversations an agent holds at once before new ones go to others or wait.
    pub capacity: u32,
    /// An assigned agent who has not answered the customer within this long loses the
    /// conversation to another agent (0: never).
    pub reply_deadline_secs: u64,
    /// An agent whose last socket closed keeps their conversations this long (a phone changing
    /// networks), then they are re-routed.
    pub offline_grace_secs: u64,
    /// Customers waiting longer than this for a first reply are "at risk" on the board.
    pub sla_secs: u64,
    /// Sent to a customer who has to wait for an agent, with `{position}` and `{minutes}`
    /// filled in; empty sends nothing.
    pub queue_notice: String,
    /// A number's own strategy, by phone_number_id (others use `strategy`).
    #[serde(default)]
    pub numbers: std::collections::BTreeMap<String, crate::routing::Strategy>,
}

/// How sends waiting in the outbox are retried (see `service::outbox`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// How long a send whose answer was lost waits for a status webhook naming it before it is
    /// sent again (with the same idempotency key).
    pub in_doubt_grace_secs: u64,
    /// Attempts before a send failing with transient errors is given up (throttling answers do
    /// not count).
    pub max_attempts: u32,
}

impl OutboxConfig {
    pub fn in_doubt_grace(&self) -> Duration {
        Duration::from_secs(self.in_doubt_grace_secs)
    }
}

/// Contacts: imports and consent.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContactsConfig {
    /// The largest contact file an import takes, in MiB.
    pub import_max_mib: u64,
    /// Where import files wait while their job runs (relative paths are under `data_dir`).
    pub import_dir: PathBuf,
    /// A customer's whole message equal to one of these (after Unicode folding: case, width,
    /// surrounding punctuation) opts them out of marketing.
    pub stop_keywords: Vec<String>,
}

impl ContactsConfig {
    pub fn import_max_bytes(&self) -> usize {
        (self.import_max_mib as usize) * 1024 * 1024
    }
}

/// Files kept: where the copies of messages' files go and how large one may be.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// The local blob directory (relative paths are under `data_dir`), used unless `s3` is set.
    pub dir: PathBuf,
    /// A file larger than this (MiB) is not copied; its record says so.
    pub max_file_mib: u64,
    /// S3-compatible object storage (AWS, MinIO, Ceph, R2, …) instead of the local directory.
    #[serde(default)]
    pub s3: Option<S3Config>,
}

impl MediaConfig {
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_mib * 1024 * 1024
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// The service's URL; empty for AWS itself (then `region` picks the endpoint).
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    /// Plain `http://` endpoints (a MinIO on the same host); off by default.
    #[serde(default)]
    pub allow_http: bool,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// Retention: when the daily purge runs, and the webhook journal's period (the operator's: a
/// webhook body may carry several workspaces' numbers).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// The purge window's first hour (UTC, 0–23).
    pub window_start_hour: u32,
    /// How many hours the window lasts (1–24).
    pub window_hours: u32,
    /// Raw webhook bodies older than this many days are deleted (SQLite; on ScyllaDB the
    /// journal table's TTL does it).
    pub journal_days: u32,
    /// The most messages a purge removes or strips per second (0: no limit).
    pub max_per_second: u32,
}

/// Scheduled backups of the embedded store (what `switchboard backup` makes, on a timer).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Hours between backups; 0 turns them off.
    pub every_hours: u32,
    /// How many scheduled backups are kept (the oldest beyond it are deleted).
    pub keep: u32,
    /// Where they go (relative paths are under `data_dir`; better another disk).
    pub dir: PathBuf,
}

/// Outbound webhooks to third parties (each workspace subscribes its endpoints over the API):
/// how deliveries are retried, how long an answer may take, and which addresses they may reach.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutgoingWebhooksConfig {
    /// Seconds between a failed attempt and the next, one per retry: 7 delays make 8 attempts
    /// (the default spans about 27 hours, as Standard Webhooks senders do). A random ±20% is
    /// added to each, so a recovered receiver is not hit by every retry at once.
    pub retry_delays_secs: Vec<u64>,
    /// An attempt succeeds when a 2xx answer arrives within this many seconds.
    pub timeout_secs: u64,
    /// An endpoint whose every attempt failed for this many days is turned off, and its
    /// workspace's admins are told (audit line, the endpoint's `disabled_reason`).
    pub disable_after_days: u32,
    /// Plain `http://` endpoints are refused unless this is true (local development, tests).
    pub allow_http: bool,
    /// Hosts (`name` or `name:port`) a delivery may reach although they resolve to a private,
    /// loopback or link-local address; everything else private is refused, at saving and again
    /// at every attempt (the address is pinned for the attempt, and redirects are not followed).
    pub allow_private_hosts: Vec<String>,
    /// Attempts in flight at once, across endpoints.
    pub concurrency: usize,
    /// Settled deliveries are kept in the log this many days (ScyllaDB: 30, its table's TTL).
    pub keep_days: u32,
}

/// Web Push to agents' devices (RFC 8030, encrypted per RFC 8291, signed per RFC 8292): who is
/// notified of what, and where a notification may be sent.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Off: no notification is sent, and the app offers none.
    pub enabled: bool,
    /// Who runs this server, for the push services (VAPID's `sub`): a `mailto:` or `https:` URL.
    /// Empty: `public_url`'s origin, else `mailto:admin@localhost`.
    pub subject: String,
    /// How long a push service keeps a notification for a device that is off (seconds).
    pub ttl_secs: u64,
    /// Whether a notification shows the start of the customer's message (else only who wrote).
    pub preview: bool,
    /// A push service answers within this many seconds, or the attempt failed.
    pub timeout_secs: u64,
    /// Plain `http://` push endpoints (a local test endpoint only).
    pub allow_http: bool,
    /// Hosts a push endpoint may be at although they resolve to private or loopback addresses
    /// (a local test endpoint); push services are public, so nothing else private is reached.
    pub allow_private_hosts: Vec<String>,
}

/// The key that seals secrets saved from the app (numbers' access tokens, app secrets).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// 32 bytes in base64 (`openssl rand -base64 32`), best given as the environment variable
    /// `SWITCHBOARD__SECRETS__KEY`. Empty: a key file in `data_dir` is made on first start
    /// (readable by its owner only); every server sharing a ScyllaDB store needs the same key.
    pub key: Secret,
}

impl Config {
    /// Where the secrets key is kept when the configuration gives none.
    pub fn secrets_key_file(&self) -> PathBuf {
        self.data_dir.join("secrets.key")
    }
}

/// The HTTP front: proxies and body limits.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Addresses (CIDR) of reverse proxies whose `X-Forwarded-For` is believed. Empty: the peer
    /// address is the client, and forwarded headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The largest JSON body any REST endpoint accepts (webhooks have their own limit).
    pub max_api_body_bytes: usize,
    /// The largest file an agent may upload to send (WhatsApp's own limits per kind apply
    /// within it: images 5 MB, audio and video 16 MB, documents 100 MB).
    pub max_upload_bytes: usize,
    /// Open connections at most (WebSockets included); more are accepted and closed at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, which is also how long an idle
    /// keep-alive connection is kept.
    pub header_timeout_secs: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub backend: Backend,
    pub sqlite: SqliteConfig,
    pub scylla: ScyllaConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Scylla,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    pub synchronous: Synchronous,
    pub max_batch: usize,
    pub readers: usize,
    pub cache_mib: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScyllaConfig {
    pub nodes: Vec<String>,
    pub keyspace: String,
    pub replication: String,
    /// CQL appended to `CREATE KEYSPACE` (see the defaults for why tablets are off).
    pub keyspace_options: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Larger bodies get 413. Meta's payloads are at most 3 MB.
    pub max_body_bytes: usize,
    /// MiB of webhook bodies held at once before their signatures are checked.
    pub max_unverified_mib: u32,
    /// Webhooks a minute, steadily, from an address that sent one with a missing or wrong
    /// signature (and has not delivered a valid one since)...
    pub suspect_per_minute: u32,
    /// ...and at once; past it they are answered 429 before their bodies are read.
    pub suspect_burst: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    pub request_timeout_secs: u64,
    pub max_retries: u32,
    #[serde(default)]
    pub numbers: Vec<NumberConfig>,
}

impl WhatsAppConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NumberConfig {
    pub tenant: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub access_token: Secret,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub graph_api_url: Url,
    /// The WhatsApp Business Account id, to attribute account-level webhooks (template and
    /// account updates carry no phone number).
    #[serde(default)]
    pub waba_id: Option<String>,
    /// The number's throughput tier in messages per second (Meta's default is 80; up to 1,000).
    /// The send governor stays within it.
    #[serde(default = "default_mps")]
    pub mps: u32,
}

fn default_mps() -> u32 {
    80
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimulatorMode {
    /// Run the built-in simulator when no number is configured.
    Auto,
    On,
    Off,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    pub mode: SimulatorMode,
    /// Simulated customers chatting in the demo.
    pub customers: usize,
    /// Mean pause between a demo customer's messages.
    pub chat_interval_ms: u64,
    /// Whether the demo answers customers automatically, so outbound traffic and status ticks
    /// flow too (until agents exist to answer them).
    pub demo_replies: bool,
    /// Where the in-process simulator (its Graph API and its `/_sim/…` control API) listens on
    /// loopback; 0 picks a free port. The address is printed at start.
    pub port: u16,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info,switchboard_server=debug`.
    pub filter: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

impl Config {
    /// Loads and validates. `env` is the process environment (injected, for tests).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.exists() {
                return Err(err("--config", format!("no such file: {}", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Serialized::globals(env_overrides(env)));
        Self::extract(figment)
    }

    /// Loads and validates a configuration file's text (over the defaults, without the
    /// environment): what `load` does with a file, for checking a text before it is written.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Self::extract(Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(text)))
    }

    fn extract(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            let e = e
                .into_iter()
                .next()
                .expect("figment errors are never empty");
            let key = if e.path.is_empty() {
                "(file)".to_owned()
            } else {
                e.path.iter().fold(String::new(), |mut key, part| {
                    if part.chars().all(|c| c.is_ascii_digit()) {
                        key.push_str(&format!("[{part}]"));
                    } else {
                        if !key.is_empty() {
                            key.push('.');
                        }
                        key.push_str(part);
                    }
                    key
                })
            };
            err(key, e.kind.to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.webhook.max_unverified_mib == 0
            || u64::from(self.webhook.max_unverified_mib) * 1024 * 1024
                < self.webhook.max_body_bytes as u64
        {
            return Err(err(
                "webhook.max_unverified_mib",
                "must hold at least one webhook of webhook.max_body_bytes",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.webhook.max_body_bytes) {
            return Err(err(
                "webhook.max_body_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        let hooks = &self.outgoing_webhooks;
        if hooks.retry_delays_secs.is_empty()
            || hooks.retry_delays_secs.len() > 20
            || hooks
                .retry_delays_secs
                .iter()
                .any(|d| *d == 0 || *d > 7 * 86_400)
        {
            return Err(err(
                "outgoing_webhooks.retry_delays_secs",
                "must list 1 to 20 delays, each 1 s to 7 days",
            ));
        }
        if !(1..=60).contains(&hooks.timeout_secs) {
            return Err(err(
                "outgoing_webhooks.timeout_secs",
                "must be between 1 and 60",
            ));
        }
        if !(1..=4096).contains(&hooks.concurrency) {
            return Err(err(
                "outgoing_webhooks.concurrency",
                "must be between 1 and 4096",
            ));
        }
        if hooks.disable_after_days == 0 || hooks.keep_days == 0 {
            return Err(err(
                "outgoing_webhooks.disable_after_days",
                "disable_after_days and keep_days must be at least 1",
            ));
        }
        let push = &self.push;
        let contact = push.subject.starts_with("mailto:") || push.subject.starts_with("https://");
        if !push.subject.is_empty() && !contact {
            return Err(err("push.subject", "must be a mailto: or https:// URL"));
        }
        if !(1..=60).contains(&push.timeout_secs) {
            return Err(err("push.timeout_secs", "must be between 1 and 60"));
        }
        if push.ttl_secs > 28 * 86_400 {
            return Err(err("push.ttl_secs", "must be at most 28 days (2419200)"));
        }
        if self.backup.every_hours > 24 * 366 {
            return Err(err(
                "backup.every_hours",
                "must be at most a year (8784), or 0 for off",
            ));
        }
        if !(1..=1000).contains(&self.backup.keep) {
            return Err(err("backup.keep", "must be between 1 and 1000"));
        }
        if self.retention.window_start_hour > 23 {
            return Err(err(
                "retention.window_start_hour",
                "must be an hour, 0 to 23",
            ));
        }
        if !(1..=24).contains(&self.retention.window_hours) {
            return Err(err("retention.window_hours", "must be between 1 and 24"));
        }
        if !(1..=3650).contains(&self.retention.journal_days) {
            return Err(err("retention.journal_days", "must be between 1 and 3650"));
        }
        if !(1..=4096).contains(&self.media.max_file_mib) {
            return Err(err("media.max_file_mib", "must be between 1 and 4096"));
        }
        if let Some(s3) = &self.media.s3 {
            if s3.bucket.trim().is_empty() {
                return Err(err("media.s3.bucket", "must name the bucket"));
            }
            if let Some(endpoint) = &s3.endpoint {
                match Url::parse(endpoint) {
                    Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && s3.allow_http) => {}
                    _ => {
                        return Err(err(
                            "media.s3.endpoint",
                            "must be an https URL (or http with media.s3.allow_http = true)",
                        ))
                    }
                }
            }
        }
        if !(1..=65_536).contains(&self.store.sqlite.cache_mib) {
            return Err(err("store.sqlite.cache_mib", "must be between 1 and 65536"));
        }
        if self.store.sqlite.max_batch == 0 || self.store.sqlite.readers == 0 {
            return Err(err(
                "store.sqlite",
                "max_batch and readers must be at least 1",
            ));
        }
        if self.store.backend == Backend::Scylla && self.store.scylla.nodes.is_empty() {
            return Err(err(
                "store.scylla.nodes",
                "at least one host:port is needed for the scylla backend",
            ));
        }
        if !self
            .store
            .scylla
            .keyspace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(err(
                "store.scylla.keyspace",
                "letters, digits and underscores only",
            ));
        }
        if !(1..=100).contains(&self.outbox.max_attempts) {
            return Err(err("outbox.max_attempts", "must be between 1 and 100"));
        }
        if self.http.max_connections == 0 {
            return Err(err("http.max_connections", "must be at least 1"));
        }
        if !(1..=3600).contains(&self.http.header_timeout_secs) {
            return Err(err("http.header_timeout_secs", "must be 1 to 3600 seconds"));
        }
        if !(1..=2048).contains(&self.contacts.import_max_mib) {
            return Err(err("contacts.import_max_mib", "must be between 1 and 2048"));
        }
        if self
            .contacts
            .stop_keywords
            .iter()
            .any(|w| w.trim().is_empty())
        {
            return Err(err(
                "contacts.stop_keywords",
                "must not hold an empty keyword",
            ));
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.http.max_upload_bytes) {
            return Err(err(
                "http.max_upload_bytes",
                "must be between 1024 and 104857600 (WhatsApp's largest file)",
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.http.max_api_body_bytes) {
            return Err(err(
                "http.max_api_body_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if !(1..=300).contains(&self.hub.heartbeat_secs) {
            return Err(err("hub.heartbeat_secs", "must be between 1 and 300"));
        }
        if self.hub.frames_per_second == 0 {
            return Err(err("hub.frames_per_second", "must be at least 1"));
        }
        if self.hub.frame_burst == 0 {
            return Err(err("hub.frame_burst", "must be at least 1"));
        }
        if !(10..=86_400).contains(&self.hub.away_after_secs) {
            return Err(err("hub.away_after_secs", "must be between 10 and 86400"));
        }
        if !(16..=1_000_000).contains(&self.hub.resume_window) {
            return Err(err("hub.resume_window", "must be between 16 and 1000000"));
        }
        if !(1..=3_600).contains(&self.hub.resume_secs) {
            return Err(err("hub.resume_secs", "must be between 1 and 3600"));
        }
        if !(1..=4_096).contains(&self.hub.resume_mb) {
            return Err(err("hub.resume_mb", "must be between 1 and 4096"));
        }
        for (key, value) in [
            ("auth.session_hours", self.auth.session_hours),
            ("auth.idle_hours", self.auth.idle_hours),
            ("auth.lockout_minutes", self.auth.lockout_minutes),
            (
                "auth.max_failures_per_account",
                self.auth.max_failures_per_account as u64,
            ),
            (
                "auth.max_failures_per_ip",
                self.auth.max_failures_per_ip as u64,
            ),
            (
                "auth.attempts_per_minute",
                self.auth.attempts_per_minute as u64,
            ),
            ("auth.attempt_burst", self.auth.attempt_burst as u64),
            (
                "webhook.suspect_per_minute",
                self.webhook.suspect_per_minute as u64,
            ),
            ("webhook.suspect_burst", self.webhook.suspect_burst as u64),
        ] {
            if value == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        if self.whatsapp.request_timeout_secs == 0 {
            return Err(err("whatsapp.request_timeout_secs", "must be at least 1"));
        }
        if let Some(tls) = &self.tls {
            for (key, path) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
                if !path.is_file() {
                    return Err(err(key, format!("no such file: {}", path.display())));
                }
            }
        }
        let mut seen = HashSet::new();
        for (i, n) in self.whatsapp.numbers.iter().enumerate() {
            let key = |field: &str| format!("whatsapp.numbers[{i}].{field}");
            if !valid_tenant(&n.tenant) {
                return Err(err(
                    key("tenant"),
                    "a slug of 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
                ));
            }
            if n.phone_number_id.is_empty()
                || !n.phone_number_id.chars().all(|c| c.is_ascii_digit())
            {
                return Err(err(
                    key("phone_number_id"),
                    "Meta's numeric phone number id",
                ));
            }
            if !seen.insert(n.phone_number_id.as_str()) {
                return Err(err(key("phone_number_id"), "configured twice"));
            }
            for (field, secret) in [
                ("access_token", &n.access_token),
                ("app_secret", &n.app_secret),
                ("verify_token", &n.verify_token),
            ] {
                if secret.is_empty() {
                    return Err(err(key(field), "must not be empty"));
                }
            }
            if !(1..=1000).contains(&n.mps) {
                return Err(err(
                    key("mps"),
                    "messages per second of the number's tier: 1 to 1000 (Meta's default is 80)",
                ));
            }
            if !matches!(n.graph_api_url.scheme(), "http" | "https")
                || n.graph_api_url.host().is_none()
            {
                return Err(err(
                    key("graph_api_url"),
                    "must be an http(s) URL such as https://graph.facebook.com/v23.0",
                ));
            }
        }
        Ok(())
    }

    /// Where scheduled backups go.
    pub fn backup_dir(&self) -> PathBuf {
        self.data_dir.join(&self.backup.dir)
    }

    /// The local blob directory for the files messages carry.
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join(&self.media.dir)
    }

    /// Where import files wait.
    pub fn import_dir(&self) -> PathBuf {
        self.data_dir.join(&self.contacts.import_dir)
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("switchboard.db")
    }

    /// Whether `serve` should start the built-in simulator.
    pub fn runs_simulator(&self) -> bool {
        match self.simulator.mode {
            SimulatorMode::On => true,
            SimulatorMode::Off => false,
            SimulatorMode::Auto => self.whatsapp.numbers.is_empty(),
        }
    }
}

pub fn valid_tenant(slug: &str) -> bool {
    let mut chars = slug.chars();
    slug.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `SWITCHBOARD__STORE__BACKEND=scylla` becomes `{store: {backend: "scylla"}}`. Values are read
/// as TOML-ish scalars (numbers, booleans, arrays) where they parse, else as strings.
fn env_overrides(env: impl IntoIterator<Item = (String, String)>) -> Dict {
    let mut root = Dict::new();
    for (name, raw) in env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            continue;
        }
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
        // Keys that are strings by nature stay strings even when they look like numbers.
        let value = match parts.last().map(String::as_str) {
            Some("filter" | "keyspace" | "replication" | "key") => Value::from(raw),
            _ => value,
        };
        insert_path(&mut root, &parts, value);
    }
    root
}

fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// The operator running a CLI command, for the audit log (`sudo`'s caller first).
#[allow(clippy::disallowed_methods)] // config is where the environment is read
pub fn os_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "operator".into())
}

/// A directory to serve the PWA from instead of the embedded build (`cargo xtask dev`).
#[allow(clippy::disallowed_methods)] // config is where the environment is read
pub fn pwa_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("SWITCHBOARD_PWA_DIR")
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
}

/// How hard commits hit the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync on every commit: survives power loss. The default.
    Full,
    /// WAL without fsync per commit: survives a killed process, not a power cut.
    Normal,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("switchboard.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    const NUMBER: &str = r#"
listen = "127.0.0.1:8080"
data_dir = "./data"
[[whatsapp.numbers]]
tenant = "demo"
phone_number_id = "106540352242922"
display_phone_number = "15550783881"
access_token = "token-123"
app_secret = "secret-456"
verify_token = "verify-789"
graph_api_url = "https://graph.facebook.com/v23.0"
"#;

    #[test]
    fn defaults_alone_are_valid_and_run_the_simulator() {
        let c = Config::load(None, []).unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.store.backend, Backend::Sqlite);
        assert!(c.runs_simulator());
    }

    #[test]
    fn file_then_env_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), NUMBER);
        let c = Config::load(
            Some(&path),
            [
                (
                    "SWITCHBOARD__LISTEN".to_owned(),
                    "127.0.0.1:9999".to_owned(),
                ),
                (
                    "SWITCHBOARD__STORE__SQLITE__SYNCHRONOUS".to_owned(),
                    "normal".to_owned(),
                ),
                ("SWITCHBOARD__LOG__FILTER".to_owned(), "debug".to_owned()),
                ("UNRELATED".to_owned(), "x".to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.store.sqlite.synchronous, Synchronous::Normal);
        assert_eq!(c.whatsapp.numbers[0].tenant, "demo");
        assert!(!c.runs_simulator());
        assert!(
            !format!("{c:?}").contains("secret-456"),
            "secrets never appear in Debug"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                NUMBER.replace("https://graph.facebook.com/v23.0", "not a url"),
                "whatsapp.numbers[0].graph_api_url",
            ),
            (
                NUMBER.replace("https://graph.facebook.com/v23.0", "ftp://graph"),
                "whatsapp.numbers[0].graph_api_url",
            ),
            (
                NUMBER.replace("\"demo\"", "\"Demo Tenant\""),
                "whatsapp.numbers[0].tenant",
            ),
            (
                NUMBER.replace("\"secret-456\"", "\"\""),
                "whatsapp.numbers[0].app_secret",
            ),
            (NUMBER.replace("127.0.0.1:8080", "localhost"), "listen"),
            (format!("unknown_key = 1\n{NUMBER}"), "unknown_key"),
            (
                format!("{NUMBER}\nunknown_key = 1\n"),
                "whatsapp.numbers[0].unknown_key",
            ),
            (
                format!("{NUMBER}[webhook]\nmax_body_bytes = 10\n"),
                "webhook.max_body_bytes",
            ),
        ];
        for (text, key) in cases {
            let path = write(dir.path(), &text);
            let e = Config::load(Some(&path), []).unwrap_err();
            assert!(
                e.key.starts_with(key) || e.key == key,
                "expected key {key}, got {e}"
            );
            assert!(!e.to_string().contains("secret-456"));
        }
        let e = Config::load(
            None,
            [("SWITCHBOARD__STORE__BACKEND".to_owned(), "mongo".to_owned())],
        )
        .unwrap_err();
        assert_eq!(e.key, "store.backend", "{e}");
        let e = Config::load(Some(Path::new("/nonexistent/switchboard.toml")), []).unwrap_err();
        assert_eq!(e.key, "--config");
    }

    #[test]
    fn duplicate_numbers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let twice = format!("{NUMBER}{}", &NUMBER[NUMBER.find("[[").unwrap()..]);
        let e = Config::load(Some(&write(dir.path(), &twice)), []).unwrap_err();
        assert_eq!(e.key, "whatsapp.numbers[1].phone_number_id");
    }
}
