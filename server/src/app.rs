//! Wiring: opens the store, builds the services, starts the HTTP server (and, for the demo, the
//! built-in simulator), and shuts everything down in order: stop being ready, stop accepting,
//! let in-flight requests (webhooks mid-commit) finish, stop the simulator, then let the store's
//! writer drain and close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard_shared::{PhoneNumberId, TenantId, UserId};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::api::ApiState;
use crate::auth::Authenticator;
use crate::config::{Backend, Config, SecureCookies};
use crate::connector::{ClientOptions, CloudApi, NumberEndpoint};
use crate::domain::{NumberRecord, TenantRecord};
use crate::http::{self, HttpState};
use crate::hub::{self, socket::WsGate, Hub};
use crate::limits::{ClientPace, SenderPace};
use crate::secret::Secret;
use crate::service::automation::Automation;
use crate::service::broker::Broker;
use crate::service::commands::Services;
use crate::service::compliance::WordFilter;
use crate::service::contacts::stop_words::StopWords;
use crate::service::contacts::{import::Imports, Contacts};
use crate::service::crm::Crm;
use crate::service::inbox::Inbox;
use crate::service::push::Push;
use crate::service::{
    demo,
    inbound::Inbound,
    media::MediaKeeper,
    numbers::Numbers,
    outbound::Outbound,
    outbox::Outbox,
    retention::Retention,
    webhooks::{Tap, Webhooks},
    Events, NumberDirectory, NumberEntry,
};
use crate::simulator::{self, CustomerBehaviour, SimConfig, SimHandle};
use crate::store::scylla::{ScyllaOptions, ScyllaStore};
use crate::store::sqlite::{SqliteOptions, SqliteStore};
use crate::store::{Store, StoreError};
use crate::web::CookiePolicy;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error("cannot start the simulator: {0}")]
    Simulator(std::io::Error),
    #[error("configuration key `tls`: {0}")]
    Tls(#[from] http::serve::TlsError),
    #[error("configuration key `secrets.key`: {0}")]
    SecretsKey(String),
    #[error("configuration key `media`: {0}")]
    Media(#[from] crate::store::blobs::BlobError),
}

/// Takes a backup whenever the newest scheduled one is `every_hours` old (checked each minute,
/// and at start), keeping the newest `keep`. A failure is logged and counted, and retried at the
/// next check.
fn spawn_backups(
    data_dir: std::path::PathBuf,
    dir: std::path::PathBuf,
    every_hours: u32,
    keep: usize,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let (data_dir, dir) = (data_dir.clone(), dir.clone());
            let taken = tokio::task::spawn_blocking(move || {
                let now = crate::domain::now_ms();
                if !crate::backup::due(&dir, now, every_hours)? {
                    return Ok(None);
                }
                crate::backup::take_scheduled(&data_dir, &dir, now, keep).map(Some)
            })
            .await;
            match taken {
                Ok(Ok(Some((made, pruned)))) => {
                    metrics::gauge!("switchboard_backup_last_success_timestamp_seconds")
                        .set(crate::domain::now_ms() as f64 / 1000.0);
                    tracing::info!(
                        bytes = made.bytes,
                        messages = made.messages,
                        pruned = pruned.len(),
                        "scheduled backup taken"
                    );
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    metrics::counter!("switchboard_backup_failures_total").increment(1);
                    tracing::error!(error = %e, "a scheduled backup failed; it is tried again");
                }
                Err(e) => tracing::error!(error = %e, "the backup task failed"),
            }
        }
    });
}

/// The blob store the configuration names: S3-compatible storage, or the local directory.
pub fn open_blobs(
    config: &Config,
) -> Result<crate::store::blobs::Blobs, crate::store::blobs::BlobError> {
    use crate::store::blobs::{Blobs, S3Target};
    match &config.media.s3 {
        Some(s3) => Blobs::s3(&S3Target {
            bucket: &s3.bucket,
            endpoint: s3.endpoint.as_deref(),
            region: &s3.region,
            access_key_id: &s3.access_key_id,
            secret_access_key: &s3.secret_access_key,
            allow_http: s3.allow_http,
        }),
        None => Blobs::local(&config.media_dir()),
    }
}

/// Opens the configured backend.
pub async fn open_store(config: &Config, read_only: bool) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match config.store.backend {
        Backend::Sqlite => Arc::new(SqliteStore::open(
            &config.sqlite_path(),
            SqliteOptions {
                synchronous: config.store.sqlite.synchronous,
                max_batch: config.store.sqlite.max_batch,
                readers: config.store.sqlite.readers,
                cache_mib: config.store.sqlite.cache_mib,
                read_only,
                ..SqliteOptions::default()
            },
        )?),
        Backend::Scylla => Arc::new(
            ScyllaStore::connect(&ScyllaOptions {
                nodes: config.store.scylla.nodes.clone(),
                keyspace: config.store.scylla.keyspace.clone(),
                replication: config.store.scylla.replication.clone(),
                keyspace_options: config.store.scylla.keyspace_options.clone(),
            })
            .await?,
        ),
    })
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// The built-in simulator, when the demo runs one.
    pub simulator: Option<SimHandle>,
    /// The domain events the server publishes (what the hub will fan out).
    pub events: Events,
    /// One-time setup links printed at start (empty when every tenant has a user).
    pub setup_links: Vec<String>,
    /// The store's identifier keys (how conversation ids are derived), for tools and tests.
    pub id_keys: crate::store::IdKeys,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    /// The inbox task, which writes what it holds when told to stop.
    inbox: tokio::task::JoinHandle<()>,
    ready: Arc<AtomicBool>,
}

impl Running {
    /// Graceful shutdown: readiness off, stop accepting, finish in-flight requests, stop the
    /// simulator. The store closes when its last handle drops.
    pub async fn shutdown(self) {
        self.ready.store(false, Ordering::Release);
        self.shutdown.cancel();
        if tokio::time::timeout(Duration::from_secs(30), self.server)
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within 30 s");
        }
        // The inbox's last write (conversations' states, agents' working time) is done before
        // the caller may open the store again.
        if tokio::time::timeout(Duration::from_secs(30), self.inbox)
            .await
            .is_err()
        {
            tracing::warn!("the inbox did not finish its last write within 30 s");
        }
        if let Some(sim) = self.simulator {
            sim.stop().await;
        }
        tracing::info!("stopped");
    }
}

/// The Cloud API client every service shares.
fn cloud_api(config: &Config) -> Result<CloudApi, StartError> {
    let http_client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| StartError::Simulator(std::io::Error::other(e)))?;
    Ok(CloudApi::new(
        http_client,
        ClientOptions {
            timeout: config.whatsapp.request_timeout(),
            max_retries: config.whatsapp.max_retries,
        },
    ))
}

/// The run-time numbers' use cases over a directory of the configuration's numbers (the
/// server loads the stored ones into it; the CLI needs it to refuse the file's).
pub fn number_admin(
    config: &Config,
    store: Arc<dyn Store>,
    api: CloudApi,
) -> Result<Numbers, StartError> {
    Ok(Numbers::new(
        store,
        NumberDirectory::new(config.whatsapp.numbers.iter().map(NumberEntry::from_config)),
        sealer(config)?,
        api,
    ))
}

/// The deployment's secrets key (made on first start when neither configured nor in its file).
fn secrets_key(config: &Config) -> Result<[u8; 32], StartError> {
    crate::secret::load_key(&config.secrets.key, &config.secrets_key_file())
        .map_err(StartError::SecretsKey)
}

/// What seals the secrets saved from the app, with the deployment's key.
fn sealer(config: &Config) -> Result<crate::secret::Sealer, StartError> {
    Ok(crate::secret::Sealer::new(&secrets_key(config)?))
}

/// [`number_admin`] with its own Cloud API client, for the CLI.
pub fn cli_number_admin(config: &Config, store: Arc<dyn Store>) -> Result<Numbers, StartError> {
    number_admin(config, store, cloud_api(config)?)
}

/// The demo's app secret (the simulator signs every number's webhooks with it).
fn app_secret_of(numbers: &NumberDirectory) -> String {
    numbers
        .entries()
        .first()
        .map(|e| e.app_secret.expose().to_owned())
        .unwrap_or_default()
}

fn random_secret() -> Secret {
    Secret::new(hex::encode(rand::random::<[u8; 24]>()))
}

/// One setup link per tenant without users, or one that creates a tenant when there is none.
async fn issue_setup_links(
    store: &dyn Store,
    auth: &Authenticator,
    base: &str,
) -> Result<Vec<String>, StoreError> {
    let tenants = store.list_tenants().await?;
    let mut grants = Vec::new();
    if tenants.is_empty() {
        grants.push(auth.setup.issue(None));
    }
    for tenant in tenants {
        if store
            .list_users(&tenant.id, None, 1)
            .await?
            .items
            .is_empty()
        {
            grants.push(auth.setup.issue(Some(tenant.id)));
        }
    }
    Ok(grants
        .into_iter()
        .map(|token| format!("{base}/setup?token={token}"))
        .collect())
}

/// Binds `config.listen` and starts everything.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    start_on(config, listener).await
}

/// Starts everything on an already bound listener (tests bind port 0).
pub async fn start_on(config: Config, listener: TcpListener) -> Result<Running, StartError> {
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let tls = config
        .tls
        .as_ref()
        .map(|t| http::serve::tls_acceptor(&t.cert, &t.key))
        .transpose()?;
    let store = open_store(&config, false).await?;
    let api = cloud_api(&config)?;
    // The file's numbers, then those connected from the app (the file wins a number both name).
    let number_admin = number_admin(&config, Arc::clone(&store), api.clone())?;
    let numbers = number_admin.directory();
    let connected = number_admin.load().await?;
    if connected > 0 {
        tracing::info!(connected, "numbers connected from the app are in service");
    }

    // The demo: a simulator in-process, playing Meta for one number (or for the configured and
    // connected ones when simulator.mode = "on"), with fresh secrets on every start: no default
    // credentials. It also holds a second number, not yet connected, for an admin to connect.
    let mut sim_setup = None;
    let mut spare = None;
    if config.runs_simulator() {
        let sim_listener = TcpListener::bind(("127.0.0.1", config.simulator.port))
            .await
            .map_err(StartError::Simulator)?;
        let sim_addr = sim_listener.local_addr().map_err(StartError::Simulator)?;
        let graph = Url::parse(&format!("http://{sim_addr}/v23.0")).expect("valid URL");
        let webhook_host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            addr.ip().to_string()
        };
        let webhook_url = config
            .public_url
            .as_ref()
            .and_then(|u| u.join(http::WEBHOOK_PATH).ok())
            .unwrap_or_else(|| {
                let scheme = if tls.is_some() { "https" } else { "http" };
                Url::parse(&format!(
                    "{scheme}://{webhook_host}:{}/{}",
                    addr.port(),
                    http::WEBHOOK_PATH
                ))
                .expect("valid URL")
            });
        let app_secret = random_secret();
        if numbers.is_empty() {
            numbers.put(NumberEntry {
                tenant: TenantId::from("demo"),
                phone_number_id: PhoneNumberId::from(simulator::DEMO_NUMBER),
                display_phone_number: "15550783881".into(),
                waba_id: Some(simulator::DEMO_WABA.into()),
                app_secret: app_secret.clone(),
                verify_token: random_secret(),
                endpoint: NumberEndpoint {
                    graph_api_url: graph.clone(),
                    phone_number_id: simulator::DEMO_NUMBER.into(),
                    access_token: random_secret(),
                },
                mps: 80,
                // The demo's number is the simulator's, remade on every start.
                from_config: true,
                enabled: true,
            });
        }
        // The simulator plays Meta for every number: its URL, its app's secret.
        for entry in numbers.entries() {
            let mut entry = NumberEntry::clone(&entry);
            entry.app_secret = app_secret.clone();
            entry.endpoint.graph_api_url = graph.clone();
            numbers.put(entry);
        }
        let mut sim_config = SimConfig::demo(webhook_url, app_secret, Secret::new(String::new()));
        let mut entries = numbers.entries();
        entries.sort_by(|a, b| a.phone_number_id.cmp(&b.phone_number_id));
        sim_config.numbers = entries
            .iter()
            .map(|e| simulator::SimNumber {
                phone_number_id: e.phone_number_id.to_string(),
                display_phone_number: e.display_phone_number.clone(),
                access_token: e.endpoint.access_token.clone(),
                waba_id: e
                    .waba_id
                    .clone()
                    .unwrap_or_else(|| simulator::DEMO_WABA.into()),
                mps: e.mps,
                chatting: true,
            })
            .collect();
        if numbers
            .get(&PhoneNumberId::from(simulator::SPARE_NUMBER))
            .is_none()
        {
            let number = simulator::SimNumber {
                phone_number_id: simulator::SPARE_NUMBER.into(),
                display_phone_number: "15550783882".into(),
                access_token: random_secret(),
                waba_id: simulator::DEMO_WABA.into(),
                mps: 80,
                chatting: false,
            };
            spare = Some((number.clone(), graph.clone()));
            sim_config.numbers.push(number);
        }
        sim_config.verify_token = entries.first().map(|e| e.verify_token.clone());
        sim_config.customers = CustomerBehaviour {
            count: config.simulator.customers,
            interval: Duration::from_millis(config.simulator.chat_interval_ms.max(1)),
        };
        sim_setup = Some((sim_config, sim_listener));
    }

    for entry in numbers.entries().iter().filter(|e| e.from_config) {
        store
            .upsert_tenant(&TenantRecord {
                id: entry.tenant.clone(),
                name: entry.tenant.to_string(),
                created_at: crate::domain::now_ms(),
            })
            .await?;
        store
            .upsert_number(&NumberRecord {
                tenant: entry.tenant.clone(),
                phone_number_id: entry.phone_number_id.clone(),
                display_phone_number: entry.display_phone_number.clone(),
                waba_id: entry.waba_id.clone(),
            })
            .await?;
    }
    let events = Events::new(4096);
    let shutdown = CancellationToken::new();
    number_admin.follow(&events, shutdown.clone());
    number_admin.spawn_refresh(shutdown.clone());
    let costs = crate::service::costs::Costs::new(Arc::clone(&store));
    let stop_words = Arc::new(StopWords::new(&config.contacts.stop_keywords));
    let inbound = Arc::new(Inbound::new(
        Arc::clone(&store),
        numbers.clone(),
        events.clone(),
        config.runs_simulator(),
        Arc::clone(&stop_words),
        costs.clone(),
    ));
    let outbound = Arc::new(Outbound::new(api, numbers.clone()));
    outbound.follow_templates(&events, shutdown.clone());
    let media = MediaKeeper::new(
        Arc::clone(&store),
        open_blobs(&config)?,
        Arc::clone(&outbound),
        numbers.clone(),
        config.media.max_file_bytes(),
    );
    let filter = Arc::new(WordFilter::new(Arc::clone(&store)));

    let auth = Arc::new(Authenticator::new(Arc::clone(&store), &config.auth));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = config
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            let host = if addr.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                addr.ip().to_string()
            };
            format!("{scheme}://{host}:{}", addr.port())
        });
    let setup_links = issue_setup_links(store.as_ref(), &auth, &base).await?;
    let secure_cookies = match config.auth.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => {
            tls.is_some()
                || config
                    .public_url
                    .as_ref()
                    .is_some_and(|u| u.scheme() == "https")
        }
    };
    // Agents' presence and status go from the hub to routing (the inbox task).
    let (agent_changes, agents) = tokio::sync::mpsc::unbounded_channel();
    let hub = Arc::new(Hub::new(
        crate::hub::ResumeWindow {
            events: config.hub.resume_window,
            keep_ms: config.hub.resume_secs as i64 * 1000,
            bytes: config.hub.resume_mb * 1024 * 1024,
        },
        Duration::from_secs(config.hub.away_after_secs),
        store.id_keys().clone(),
        // Sequences start at the start time in microseconds: never backwards across restarts.
        crate::domain::now_ms().max(0) as u64 * 1000,
        Some(agent_changes),
    ));
    // Outbound webhooks listen before anything that publishes starts, and before the replay.
    let webhooks = Webhooks::start(
        Arc::clone(&store),
        Arc::new(sealer(&config)?),
        config.outgoing_webhooks.clone(),
        &events,
        shutdown.clone(),
    )
    .await?;
    // The CRM card: fetched server-side with the same address rules as webhooks.
    let crm = Crm::new(
        Arc::clone(&store),
        sealer(&config)?,
        crate::service::webhooks::guard::Rules {
            allow_http: config.outgoing_webhooks.allow_http,
            allow_private_hosts: config.outgoing_webhooks.allow_private_hosts.clone(),
        },
    );
    // What the services publish goes to the hub, and through it to webhook subscribers (and an
    // assignment to the CRM card's prefetch).
    // Web Push to people with no app open (the hub knows who has one).
    let push = {
        let hub = Arc::clone(&hub);
        Push::start(
            Arc::clone(&store),
            &secrets_key(&config)?,
            config.push.clone(),
            config.public_url.as_ref(),
            Arc::new(move |tenant: &TenantId, user: &UserId| {
                hub.presence.is_watching(tenant, user)
            }),
            shutdown.clone(),
        )
    };
    let broker: Arc<dyn Broker> = Arc::new(Tap::new(
        Arc::clone(&hub) as Arc<dyn Broker>,
        webhooks.clone(),
        crm.clone(),
        push.clone(),
    ));
    let outbox = Outbox::start(
        Arc::clone(&outbound),
        Arc::clone(&store),
        &events,
        config.outbox.clone(),
        shutdown.clone(),
    );
    let (inbox, inbox_task) = Inbox::spawn(
        Arc::clone(&broker),
        agents,
        &events,
        Arc::clone(&store),
        config.routing.clone(),
        outbox.clone(),
        shutdown.clone(),
    )
    .await?;
    let campaigns = crate::service::campaigns::Campaigns::new(
        Arc::clone(&store),
        Arc::clone(&outbound),
        outbox.clone(),
        costs.clone(),
        Arc::clone(&filter),
        Arc::clone(&broker),
        shutdown.clone(),
    );
    campaigns.follow(&events);
    // After the inbox and campaigns listen, so that they hear what resumed sends become.
    outbox.resume(&numbers).await?;
    let automation = Automation::new(
        Arc::clone(&store),
        Arc::clone(&filter),
        outbox.clone(),
        inbox.clone(),
    );
    automation.spawn(&events, shutdown.clone());
    // Bot-flow runs a stop interrupted between steps go on (their messages are keyed).
    let resumed = automation.resume_flows().await?;
    if resumed > 0 {
        tracing::info!(resumed, "bot-flow runs resumed");
    }
    // Messages stored before the last stop but not yet acted on (the inbox and automation
    // listen now; webhooks are not served yet, so nothing newer overtakes them).
    let replayed = inbound.replay().await?;
    inbox.replayed().await;
    if replayed > 0 {
        tracing::info!(
            replayed,
            "customer messages received before the last stop replayed"
        );
    }
    // Running and scheduled campaigns go on where they stopped (their sends are keyed).
    let resumed = campaigns.resume_all().await?;
    if resumed > 0 {
        tracing::info!(resumed, "campaigns resumed");
    }
    let imports = Imports::new(
        Arc::clone(&store),
        Arc::clone(&broker),
        config.import_dir(),
        shutdown.clone(),
    );
    imports.resume_all().await?;
    let contacts = Contacts::new(
        Arc::clone(&broker),
        imports,
        webhooks.clone(),
        Arc::clone(&stop_words),
    );
    // Files queued before the last stop are copied first, then each new one as it is stored.
    media.spawn(&events, shutdown.clone());
    let retention = Retention::new(
        Arc::clone(&store),
        Arc::clone(&media),
        config.retention.max_per_second,
    );
    retention.spawn_daily(
        (
            config.retention.window_start_hour,
            config.retention.window_hours,
        ),
        config.retention.journal_days,
        shutdown.clone(),
    );
    if config.store.backend == Backend::Sqlite && config.backup.every_hours > 0 {
        spawn_backups(
            config.data_dir.clone(),
            config.backup_dir(),
            config.backup.every_hours,
            config.backup.keep as usize,
            shutdown.clone(),
        );
    }
    let api_state = ApiState {
        numbers: number_admin,
        webhooks,
        crm,
        push,
        media,
        retention,
        costs,
        campaigns,
        store: Arc::clone(&store),
        auth,
        cookies: CookiePolicy {
            secure: secure_cookies,
        },
        trusted_proxies: Arc::new(config.http.trusted_proxies.clone()),
        attempts: Arc::new(ClientPace::new(
            config.auth.attempts_per_minute,
            config.auth.attempt_burst,
        )),
        hub: Arc::clone(&hub),
        max_body: config.http.max_api_body_bytes,
        max_upload: config.http.max_upload_bytes,
        max_spool: config.contacts.import_max_bytes(),
        spool_dir: config.import_dir(),
        inbox,
        outbound: Arc::clone(&outbound),
        outbox: outbox.clone(),
        contacts,
        filter,
        automation,
    };

    let ready = Arc::new(AtomicBool::new(false));
    let routes = http::routes(HttpState {
        inbound,
        store: Arc::clone(&store),
        metrics: crate::telemetry::prometheus(),
        ready: Arc::clone(&ready),
        max_webhook_body: config.webhook.max_body_bytes,
        unverified: Arc::new(tokio::sync::Semaphore::new(
            config.webhook.max_unverified_mib as usize * 1024,
        )),
        senders: Arc::new(SenderPace::new(
            config.webhook.suspect_per_minute,
            config.webhook.suspect_burst,
        )),
        body_idle: Duration::from_secs(config.http.header_timeout_secs),
        tls: tls.is_some(),
        api: api_state.clone(),
    });
    hub::spawn_presence_sweeper(Arc::clone(&hub), shutdown.clone());
    let gate = Arc::new(WsGate {
        hub,
        services: Services {
            store: Arc::clone(&api_state.store),
            inbox: api_state.inbox.clone(),
            outbound: Arc::clone(&api_state.outbound),
            outbox: api_state.outbox.clone(),
            filter: Arc::clone(&api_state.filter),
        },
        auth: Arc::clone(&api_state.auth),
        cookies: api_state.cookies,
        trusted_proxies: Arc::clone(&api_state.trusted_proxies),
        heartbeat: Duration::from_secs(config.hub.heartbeat_secs),
        frames: (config.hub.frames_per_second, config.hub.frame_burst),
        tls: tls.is_some(),
    });
    let server = tokio::spawn(http::serve::serve(
        listener,
        routes,
        tls,
        Some(gate),
        http::serve::Limits {
            max_connections: config.http.max_connections,
            header_timeout: Duration::from_secs(config.http.header_timeout_secs),
        },
        shutdown.clone(),
    ));
    ready.store(true, Ordering::Release);
    tracing::info!(url = %format!("{scheme}://{addr}"), backend = ?config.store.backend, "Switchboard listening");

    let simulator = match sim_setup {
        Some((sim_config, sim_listener)) => {
            if config.simulator.demo_replies {
                demo::spawn(
                    Arc::clone(&outbound),
                    outbox.clone(),
                    &events,
                    shutdown.clone(),
                );
            }
            let sim = simulator::start(sim_config, sim_listener)
                .await
                .map_err(StartError::Simulator)?;
            tracing::info!(
                simulator = %sim.addr,
                "demo: the built-in WhatsApp simulator plays Meta; simulated customers will start writing"
            );
            Some(sim)
        }
        None => None,
    };
    if let Some(sim) = &simulator {
        println!(
            "The built-in WhatsApp simulator's control API: http://{}/_sim/ (see docs/protocol.md)",
            sim.addr
        );
        if let Some((number, graph)) = &spare {
            // Printed so that the admin can connect it from the app, as they would a real one.
            println!(
                "A second number to connect (Admin, Numbers): phone number id {}, display number {}, \
                 Graph API URL {graph}, access token {}, app secret {} (all of it at http://{}/_sim/numbers)",
                number.phone_number_id,
                number.display_phone_number,
                number.access_token.expose(),
                app_secret_of(&numbers),
                sim.addr,
            );
        }
    }
    for link in &setup_links {
        // Printed plainly (not only logged) so that whoever started the server sees it.
        println!("Create the first administrator (this link works once): {link}");
    }
    Ok(Running {
        addr,
        simulator,
        events,
        setup_links,
        id_keys: store.id_keys().clone(),
        shutdown,
        server,
        inbox: inbox_task,
        ready,
    })
}
