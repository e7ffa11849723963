//! `switchboard-load`: load scenarios against the real `switchboard` binary, each measured side by
//! side with a baseline in the same invocation (this machine is shared and noisy: ratios hold,
//! absolute numbers drift). Each scenario prints one JSON line with its metrics and the
//! correctness counters `lost`, `duplicated` and `violations`.
//!
//! `--smoke` runs every scenario for a couple of seconds and exits non-zero only on a
//! correctness failure (never on timings): that is what CI runs. Full runs are explicit:
//! `cargo run --release -p switchboard-load -- --scenario ingest`.
//!
//! Procedure on a 2-core machine: the server is pinned to core 0 and the load generator to core 1
//! (with `taskset`, when present); throughput is the best of `--repeat` runs, latency the median;
//! server CPU per operation comes from /proc; the load average is recorded.
//! Traffic goes to loopback only, in loops bounded by time and count.

mod automation;
mod baselines;
mod campaign;
mod contacts;
mod crm;
mod crowd;
mod e2e;
mod fanout;
mod history;
mod idle;
mod ingest;
mod loopback;
mod media;
mod numbers;
mod procinfo;
mod reconnect;
mod reports;
mod retention;
mod routing;
mod search;
mod seed;
mod send_governor;
mod sim;
mod soak;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Clone)]
#[command(
    name = "switchboard-load",
    about = "Switchboard load scenarios with same-run baselines"
)]
pub struct Cli {
    /// A few seconds per scenario; assert correctness only.
    #[arg(long)]
    pub smoke: bool,
    /// Run one scenario (default: all).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Seconds of load per measured run.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Measured runs per scenario (best of for throughput, median of for latency).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Agents for `reconnect` (default 5,000; 100 with --smoke).
    #[arg(long)]
    pub agents: Option<usize>,
    /// Offered rates for `e2e`, messages per second (default 500,2500,5000; 200 with --smoke).
    #[arg(long, value_delimiter = ',')]
    pub rates: Vec<u64>,
    /// Concurrent connections for maximum-rate runs.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// `search`: take the seeded store from this directory's `data` (moved in, and gone after
    /// the run) instead of seeding one, e.g. one left by an interrupted run: seeding 10,000,000
    /// messages takes some 25 minutes.
    #[arg(long)]
    pub seeded: Option<std::path::PathBuf>,
    /// `search`: messages to seed (default 10,000,000; 20,000 with --smoke).
    #[arg(long)]
    pub messages: Option<u64>,
    /// `soak`: minutes to run, in 5-minute windows (default 30).
    #[arg(long, default_value_t = 30)]
    pub soak_minutes: u64,
    /// Internal: run a baseline server (used by the scenarios themselves).
    #[arg(long, hide = true)]
    pub baseline_server: Option<String>,
    #[arg(long, hide = true)]
    pub listen: Option<String>,
}

impl Cli {
    pub fn duration(&self) -> Duration {
        if self.smoke {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(self.duration_secs.max(1))
        }
    }

    pub fn repeats(&self) -> usize {
        if self.smoke {
            1
        } else {
            self.repeat.max(1)
        }
    }
}

/// A binary built next to this one (`target/<profile>/`).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no parent directory"))?
        .join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build the workspace binaries first (cargo build --workspace --bins, with --release for full runs)",
        path.display()
    );
    Ok(path)
}

/// Every scenario, in the order a full run takes them.
const SCENARIOS: [&str; 22] = [
    "ingest",
    "e2e",
    "e2e_campaign",
    "fanout",
    "idle_memory",
    "reconnect",
    "send_governor",
    "slow_consumer",
    "history",
    "routing",
    "contacts",
    "automation",
    "campaign",
    "reports",
    "retention",
    "media_ack",
    "retention_e2e",
    "search",
    "number_add",
    "webhooks_out",
    "crm_card",
    "soak",
];

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(kind) = &cli.baseline_server {
        let listen = cli.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into());
        return match baselines::run_server(kind, &listen) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("baseline server: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let scenarios: Vec<&str> = match &cli.scenario {
        Some(s) => vec![s.as_str()],
        None => SCENARIOS.to_vec(),
    };
    let mut failed = false;
    for scenario in scenarios {
        let result = match scenario {
            "ingest" => runtime.block_on(ingest::run(&cli)),
            "idle_memory" => runtime.block_on(idle::run(&cli)),
            "routing" => runtime.block_on(routing::run(&cli)),
            "send_governor" => runtime.block_on(send_governor::run(&cli)),
            "e2e" => runtime.block_on(e2e::run(&cli)),
            "e2e_campaign" => runtime.block_on(e2e::during_campaign(&cli)),
            "slow_consumer" => runtime.block_on(e2e::slow_consumer(&cli)),
            "fanout" => runtime.block_on(fanout::run(&cli)),
            "reconnect" => runtime.block_on(reconnect::run(&cli)),
            "history" => runtime.block_on(history::run(&cli)),
            "contacts" => runtime.block_on(contacts::run(&cli)),
            "automation" => runtime.block_on(automation::run(&cli)),
            "campaign" => runtime.block_on(campaign::run(&cli)),
            "reports" => runtime.block_on(reports::run(&cli)),
            "retention" => runtime.block_on(retention::run(&cli)),
            "media_ack" => runtime.block_on(media::run(&cli)),
            "retention_e2e" => runtime.block_on(e2e::during_purge(&cli)),
            "search" => runtime.block_on(search::run(&cli)),
            "number_add" => runtime.block_on(numbers::run(&cli)),
            "webhooks_out" => runtime.block_on(webhooks::run(&cli)),
            "crm_card" => runtime.block_on(crm::run(&cli)),
            "soak" => runtime.block_on(soak::run(&cli)),
            other => Err(anyhow::anyhow!(
                "unknown scenario {other} (this build has: {})",
                SCENARIOS.join(", ")
            )),
        };
        match result {
            Ok(line) => {
                // A pre-flight-only run sends nothing: there is nothing to lose or repeat.
                let correct = line["preflight_only"] == true
                    || (line["lost"] == 0 && line["duplicated"] == 0 && line["violations"] == 0);
                println!("{line}");
                if !correct {
                    eprintln!("{scenario}: correctness failure");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("{scenario}: {e:#}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
