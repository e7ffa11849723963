//! `switchboard`: the server (`serve`, the default) and operator commands.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use switchboard_server::config::Config;
use switchboard_server::{app, export, telemetry};

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
}

fn load(config: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(Config::load(config, std::env::vars())?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
