//! `switchboard`: the server (`serve`, the default) and operator commands.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use switchboard_server::config::Config;
use switchboard_server::secret::Secret;
use switchboard_server::service::numbers::NumberInput;
use switchboard_server::{admin, app, backup, export, telemetry};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Self-hosted WhatsApp team inbox"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. Without a config: the demo with the built-in simulator, data in ./data.
    Serve {
        /// A TOML file; see server/config/defaults.toml for every key.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply the store's pending migrations (as `serve` does at start) and list the ledger: each
    /// migration applied, its file's checksum and when. Refuses, naming the file, when an applied
    /// migration's file changed or the store was migrated by a newer build.
    Migrate {
        /// The server's TOML file (for data_dir or the Scylla nodes).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write every stored message (or account event) to a file, as JSON lines or CSV.
    Export {
        /// The server's TOML file (for data_dir or the Scylla nodes). Safe while it runs.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: export::Format,
        /// Messages, or account-level events (template, quality, account, preference updates).
        #[arg(long, value_enum, default_value = "messages")]
        kind: export::Kind,
        /// The output file, or - for standard output.
        #[arg(long)]
        out: PathBuf,
    },
    /// Back up the embedded store into one compressed file, consistently, while the server runs
    /// (ScyllaDB: use the cluster's own snapshots).
    Backup {
        /// The server's TOML file (for data_dir).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The backup file to write (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a new or empty data directory (then point data_dir at it).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to fill: absent or empty.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Create and list tenants (workspaces).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Create, list, disable and re-enable users; reset passwords (read from standard input).
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Create, list and revoke API keys for third-party clients.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Connect, list, disable, enable and remove WhatsApp numbers at run time (a running server
    /// picks the change up within seconds).
    Number {
        #[command(subcommand)]
        command: NumberCommand,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
}

impl NumberCommand {
    fn into_request(self, secrets: Vec<String>) -> admin::NumberRequest {
        use admin::NumberRequest as R;
        match self {
            NumberCommand::Add {
                tenant,
                phone_number_id,
                display_phone_number,
                waba_id,
                graph_api_url,
                mps,
            } => {
                let mut secrets = secrets.into_iter().map(Secret::new);
                R::Add {
                    tenant,
                    input: Box::new(NumberInput {
                        phone_number_id: phone_number_id.into(),
                        display_phone_number,
                        waba_id,
                        graph_api_url,
                        mps,
                        access_token: secrets.next().unwrap_or_else(|| Secret::new("")),
                        app_secret: secrets.next().unwrap_or_else(|| Secret::new("")),
                        verify_token: secrets.next().unwrap_or_else(|| Secret::new("")),
                    }),
                }
            }
            NumberCommand::List { tenant } => R::List { tenant },
            NumberCommand::Disable {
                tenant,
                phone_number_id,
            } => R::Enable {
                tenant,
                id: phone_number_id.into(),
                enabled: false,
            },
            NumberCommand::Enable {
                tenant,
                phone_number_id,
            } => R::Enable {
                tenant,
                id: phone_number_id.into(),
                enabled: true,
            },
            NumberCommand::Remove {
                tenant,
                phone_number_id,
            } => R::Remove {
                tenant,
                id: phone_number_id.into(),
            },
        }
    }
}

#[derive(Subcommand)]
enum NumberCommand {
    /// Connect a number. Its access token, app secret and verify token are the first three lines
    /// of standard input (never arguments, which other users of the machine can read).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        phone_number_id: String,
        /// Asked of Meta when left out.
        #[arg(long, default_value = "")]
        display_phone_number: String,
        #[arg(long)]
        waba_id: Option<String>,
        #[arg(long, default_value = "https://graph.facebook.com/v23.0")]
        graph_api_url: url::Url,
        /// The number's tier in messages per second.
        #[arg(long, default_value_t = 80)]
        mps: u32,
    },
    /// List a tenant's numbers (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Take a number out of service (its history stays).
    Disable {
        #[arg(long)]
        tenant: String,
        phone_number_id: String,
    },
    /// Put a disabled number back in service.
    Enable {
        #[arg(long)]
        tenant: String,
        phone_number_id: String,
    },
    /// Remove a number's connection and secrets (its history stays).
    Remove {
        #[arg(long)]
        tenant: String,
        phone_number_id: String,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key; its secret is printed once, on standard output.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// A permission the key grants (repeat for more), e.g. --permission audit.view.
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
    /// List a tenant's keys (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// The key's id (k_…).
        id: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        /// A slug: lowercase letters, digits, '-' or '_'.
        id: String,
        /// A display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is the first line of standard input.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// owner, admin, supervisor, agent, viewer, or a custom role id (r_…).
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// List a tenant's users.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Disable a user and end all their sessions.
    Disable { email: String },
    /// Enable a disabled user again.
    Enable { email: String },
    /// Set a new password (first line of standard input) and end all sessions.
    ResetPassword { email: String },
}

/// The first `n` lines of standard input, without their line endings, each required.
fn lines_from_stdin(names: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for name in names {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .with_context(|| format!("reading the {name} from standard input"))?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!line.is_empty(), "no {name} on standard input");
        out.push(line);
    }
    Ok(out)
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

#[allow(clippy::disallowed_methods)] // main hands the environment to `config`
fn load(config: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(Config::load(config, std::env::vars())?)
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes; never a backtrace for an operator's mistake.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Serve { config } => {
            let config = load(config.as_deref())?;
            telemetry::init_logging(&config.log);
            runtime.block_on(async {
                let running = app::start(config).await?;
                shutdown_signal().await;
                tracing::info!("shutting down: finishing in-flight requests");
                running.shutdown().await;
                anyhow::Ok(())
            })
        }
        Command::Migrate { config } => {
            let config = load(config.as_deref())?;
            runtime.block_on(async {
                let store = app::open_store(&config, false).await?;
                for m in store.schema_ledger().await? {
                    let at = jiff::Timestamp::from_millisecond(m.applied_at)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    println!("{:>4}  {:<28}  {}  {at}", m.version, m.name, m.checksum);
                }
                anyhow::Ok(())
            })
        }
        Command::Export {
            config,
            format,
            kind,
            out,
        } => {
            let config = load(config.as_deref())?;
            runtime.block_on(async {
                let store = app::open_store(&config, true).await?;
                let n = export::export(store.as_ref(), kind, format, &out).await?;
                if out != std::path::Path::new("-") {
                    eprintln!(
                        "exported {n} {} to {}",
                        if kind == export::Kind::Events {
                            "events"
                        } else {
                            "messages"
                        },
                        out.display()
                    );
                }
                anyhow::Ok(())
            })
        }
        Command::Backup { config, out } => {
            let config = load(config.as_deref())?;
            if config.store.backend != switchboard_server::config::Backend::Sqlite {
                anyhow::bail!(
                    "`switchboard backup` copies the embedded store; a ScyllaDB cluster is backed \
                     up with its own snapshots (nodetool snapshot), see docs/operations.md"
                );
            }
            let started = std::time::Instant::now();
            let made = backup::backup(&config.data_dir, &out)?;
            eprintln!(
                "backed up {} messages (schema version {}) to {}: {} bytes in {:.1} s",
                made.messages,
                made.schema_version,
                out.display(),
                made.bytes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Restore { from, data_dir } => {
            let restored = backup::restore(&from, &data_dir)?;
            eprintln!(
                "restored {} messages (schema version {}) into {}; set data_dir to it and start",
                restored.messages,
                restored.schema_version,
                data_dir.display()
            );
            Ok(())
        }
        Command::Tenant { command, config } => {
            let config = load(config.as_deref())?;
            runtime.block_on(async {
                let store = app::open_store(&config, false).await?;
                match command {
                    TenantCommand::Create { id, name } => {
                        let t = admin::create_tenant(store.as_ref(), &id, name.as_deref()).await?;
                        println!("created tenant {} ({})", t.id, t.name);
                    }
                    TenantCommand::List => {
                        for t in store.list_tenants().await? {
                            println!("{}\t{}", t.id, t.name);
                        }
                    }
                }
                anyhow::Ok(())
            })
        }
        Command::User { command, config } => {
            let config = load(config.as_deref())?;
            // Read the password before anything else, so a bad config fails without waiting.
            let password = match &command {
                UserCommand::Create { .. } | UserCommand::ResetPassword { .. } => {
                    Some(password_from_stdin()?)
                }
                _ => None,
            };
            runtime.block_on(async {
                let store = app::open_store(&config, false).await?;
                let store = store.as_ref();
                match command {
                    UserCommand::Create {
                        tenant,
                        email,
                        name,
                        role,
                    } => {
                        let password = password.unwrap_or_default();
                        let u = admin::create_user(
                            store,
                            &tenant,
                            &email,
                            name.as_deref(),
                            &role,
                            password,
                        )
                        .await?;
                        println!(
                            "created user {} ({}) in {} as {}",
                            u.email, u.id, u.tenant, u.role
                        );
                    }
                    UserCommand::List { tenant } => {
                        for u in admin::list_users(store, &tenant).await? {
                            let state = if u.disabled { "disabled" } else { "active" };
                            println!("{}\t{}\t{}\t{}\t{}", u.email, u.name, u.role, state, u.id);
                        }
                    }
                    UserCommand::Disable { email } => {
                        let u = admin::set_disabled(store, &email, true).await?;
                        println!("disabled {}; their sessions are ended", u.email);
                    }
                    UserCommand::Enable { email } => {
                        let u = admin::set_disabled(store, &email, false).await?;
                        println!("enabled {}", u.email);
                    }
                    UserCommand::ResetPassword { email } => {
                        let u = admin::reset_password(store, &email, password.unwrap_or_default())
                            .await?;
                        println!("password reset for {}; their sessions are ended", u.email);
                    }
                }
                anyhow::Ok(())
            })
        }
        Command::Number { command, config } => {
            let config = load(config.as_deref())?;
            let secrets = match &command {
                NumberCommand::Add { .. } => {
                    lines_from_stdin(&["access token", "app secret", "verify token"])?
                }
                _ => Vec::new(),
            };
            runtime.block_on(async {
                let store = app::open_store(&config, false).await?;
                let numbers = app::cli_number_admin(&config, store.clone())?;
                admin::number(store.as_ref(), &numbers, command.into_request(secrets)).await
            })
        }
        Command::ApiKey { command, config } => {
            let config = load(config.as_deref())?;
            runtime.block_on(async {
                let store = app::open_store(&config, false).await?;
                let store = store.as_ref();
                match command {
                    ApiKeyCommand::Create {
                        tenant,
                        name,
                        permissions,
                    } => {
                        let (key, secret) =
                            admin::create_api_key(store, &tenant, &name, &permissions).await?;
                        eprintln!(
                            "created API key {} ({}) in {}; the secret below is shown only now:",
                            key.id, key.name, key.tenant
                        );
                        println!("{secret}");
                    }
                    ApiKeyCommand::List { tenant } => {
                        for k in admin::list_api_keys(store, &tenant).await? {
                            let state = if k.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "live"
                            };
                            let used = k
                                .last_used_at
                                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                                .map(|t| t.to_string())
                                .unwrap_or_else(|| "never used".into());
                            println!(
                                "{}\t{}\t{}\t{}\t{}",
                                k.id,
                                k.name,
                                state,
                                k.permissions.join(","),
                                used
                            );
                        }
                    }
                    ApiKeyCommand::Revoke { tenant, id } => {
                        admin::revoke_api_key(store, &tenant, &id).await?;
                        println!("revoked {id}");
                    }
                }
                anyhow::Ok(())
            })
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
