//! Coverage-guided fuzzing of every parser hostile input reaches (`fuzz/`, cargo-fuzz with
//! libFuzzer): `cargo xtask fuzz [--secs N] [TARGET…]` runs each target for N seconds (60 by
//! default), `cargo xtask fuzz --runs N [--parallel K]` each until it ran N inputs (K targets at
//! a time), and `cargo xtask test` for [`SMOKE_SECS`] each. A crash fails the run and names the
//! input libFuzzer saved; it then belongs in `fuzz/regressions/<target>/`, which every run
//! replays first, beside `fuzz/seeds/<target>/` (and, for the webhook, Meta's published
//! payloads in `../shared/fixtures/whatsapp`).
//!
//! Built without a sanitizer: the workspace forbids `unsafe`, so what a fuzzer can find in our
//! code is a panic, an overflow (overflow checks and debug assertions are on), a hang (an input
//! over [`TIMEOUT_SECS`]) or runaway memory (over [`RSS_MB`]). Nightly is needed for the
//! coverage instrumentation; rustup installs it once when missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{root, run};

/// Every target, in `fuzz/fuzz_targets/<name>.rs`.
pub const TARGETS: &[&str] = &[
    "webhook",
    "ws_frame",
    "config",
    "csv_import",
    "segment_filter",
    "rule",
    "normalize",
    "term_list",
    "schedule",
    "ics",
    "rate_card",
    "survey",
    "retention",
    "template",
    "webhook_endpoint",
    "crm_connector",
    "saved_reply",
    "push_subscription",
];
/// Seconds per target in `cargo xtask test`.
pub const SMOKE_SECS: u64 = 5;
const CARGO_FUZZ_VERSION: &str = "0.13.1";
const TIMEOUT_SECS: u64 = 10;
const RSS_MB: u64 = 2048;
const MAX_LEN: u64 = 16 * 1024;

/// How long each target runs: for a time, or until it ran a number of inputs (libFuzzer's
/// `-runs`), within a time when both are given.
#[derive(Clone, Copy)]
pub struct Budget {
    pub secs: Option<u64>,
    pub runs: Option<u64>,
}

impl Budget {
    pub fn secs(secs: u64) -> Self {
        Self {
            secs: Some(secs),
            runs: None,
        }
    }

    fn flags(&self) -> Vec<String> {
        let mut flags = vec![format!("-max_total_time={}", self.secs.unwrap_or(0))];
        flags.extend(self.runs.map(|n| format!("-runs={n}")));
        flags
    }

    fn describe(&self) -> String {
        match (self.secs, self.runs) {
            (Some(s), None) => format!("for {s} s"),
            (None, Some(n)) => format!("for {n} inputs"),
            (Some(s), Some(n)) => format!("for {n} inputs within {s} s"),
            (None, None) => "without end".to_owned(),
        }
    }
}

/// What one target's run did.
pub struct Outcome {
    pub target: &'static str,
    pub runs: u64,
    pub secs: f64,
    /// The input that crashed it, as libFuzzer saved it.
    pub crash: Option<String>,
}

fn ensure_nightly() -> Result<()> {
    let list = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("rustup is needed for the nightly toolchain")?;
    if String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.starts_with("nightly"))
    {
        return Ok(());
    }
    run(
        "install the nightly toolchain (for libFuzzer's coverage instrumentation)",
        Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]),
    )
}

/// cargo-fuzz, pinned, installed from crates.io into cargo's own bin directory once (a tool of
/// the machine, like the toolchain: a second clone does not build it again).
fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION));
    if installed {
        return Ok(());
    }
    run(
        "install cargo-fuzz",
        Command::new("cargo").args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ]),
    )
}

/// `cargo +nightly fuzz …` through rustup's proxy.
fn cargo_fuzz() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root().join("fuzz"))
        .args(["+nightly", "fuzz"])
        // What `cargo xtask` runs under (stable) must not leak into the nightly build.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC");
    cmd
}

/// The build options every `build` and `run` repeat (a `run` with other options rebuilds).
fn options(dev: bool) -> Vec<&'static str> {
    let mut o = vec!["--sanitizer", "none"];
    if dev {
        o.push("--dev");
    }
    o
}

/// The corpus a target grows (`fuzz/corpus/<target>`), and the read-only ones it starts from.
fn corpora(target: &str) -> Result<Vec<PathBuf>> {
    let fuzz = root().join("fuzz");
    let corpus = fuzz.join("corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let mut dirs = vec![corpus];
    for extra in [
        fuzz.join("seeds").join(target),
        fuzz.join("regressions").join(target),
    ] {
        if extra.is_dir() {
            dirs.push(extra);
        }
    }
    if target == "webhook" {
        let fixtures = root().join("../shared/fixtures/whatsapp");
        if fixtures.is_dir() {
            dirs.push(fixtures);
        }
    }
    Ok(dirs)
}

/// `Done 1234 runs in 10 second(s)`: how many inputs libFuzzer ran.
fn runs_of(output: &str) -> u64 {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("Done "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .next_back()
        .or_else(|| {
            output
                .lines()
                .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
                .filter_map(|n| n.trim().parse().ok())
                .next_back()
        })
        .unwrap_or(0)
}

fn run_target(dev: bool, target: &'static str, budget: Budget) -> Result<Outcome> {
    let started = Instant::now();
    eprintln!("==> fuzz {target} {}", budget.describe());
    let mut cmd = cargo_fuzz();
    cmd.args(["run", target]).args(options(dev));
    for dir in corpora(target)? {
        cmd.arg(dir);
    }
    cmd.arg("--").args(budget.flags()).args([
        format!("-timeout={TIMEOUT_SECS}"),
        format!("-rss_limit_mb={RSS_MB}"),
        format!("-max_len={MAX_LEN}"),
        "-print_final_stats=1".to_owned(),
    ]);
    let output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("fuzz {target}: could not start cargo-fuzz"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if text.contains("failed to build fuzz script") {
        eprintln!("{text}");
        bail!("fuzz {target}: the target did not build (sources changed during the campaign?)");
    }
    let crash = (!output.status.success()).then(|| {
        // libFuzzer names the input it kept; anything else is shown whole below.
        text.lines()
            .find_map(|l| l.split("Test unit written to ").nth(1))
            .map(|p| root().join("fuzz").join(p.trim()).display().to_string())
            .unwrap_or_else(|| "(no input saved)".into())
    });
    if crash.is_some() {
        eprintln!("{text}");
    }
    let outcome = Outcome {
        target,
        runs: runs_of(&text),
        secs: started.elapsed().as_secs_f64(),
        crash,
    };
    eprintln!(
        "<== fuzz {target}: {} runs, {}",
        outcome.runs,
        if outcome.crash.is_some() {
            "CRASHED"
        } else {
            "0 crashes"
        }
    );
    Ok(outcome)
}

/// Builds every target (unoptimised with `dev`), then runs each (or those named) within
/// `budget`, `parallel` at a time; fails on any crash.
pub fn campaign(
    dev: bool,
    budget: Budget,
    parallel: usize,
    only: &[String],
) -> Result<Vec<Outcome>> {
    for name in only {
        if !TARGETS.contains(&name.as_str()) {
            bail!("no fuzz target `{name}`; there are: {}", TARGETS.join(", "));
        }
    }
    ensure_nightly()?;
    ensure_cargo_fuzz()?;
    run(
        "build the fuzz targets (nightly, libFuzzer coverage, overflow checks)",
        cargo_fuzz().arg("build").args(options(dev)),
    )?;
    run_all(dev, budget, parallel, only)
}

/// The unoptimised build of every target, started in the background at low priority (so
/// `cargo xtask test` builds it on the cores its other steps leave idle); [`Background::finish`]
/// waits for it.
pub struct Background {
    child: std::process::Child,
    log: PathBuf,
    started: Instant,
}

pub fn build_in_background() -> Result<Background> {
    ensure_nightly()?;
    ensure_cargo_fuzz()?;
    let log = root().join("target/fuzz-build.log");
    std::fs::create_dir_all(root().join("target"))?;
    let out = std::fs::File::create(&log)?;
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "15", "cargo", "+nightly", "fuzz", "build"])
        .args(options(true))
        .current_dir(root().join("fuzz"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .stdout(out.try_clone()?)
        .stderr(out);
    eprintln!(
        "==> build the fuzz targets in the background (log: {})",
        log.display()
    );
    Ok(Background {
        child: cmd.spawn().context("could not start the fuzz build")?,
        log,
        started: Instant::now(),
    })
}

impl Background {
    /// Waits for the build, then runs every target for `secs` (unoptimised), `parallel` at a
    /// time (a libFuzzer run is one thread).
    pub fn finish(mut self, secs: u64, parallel: usize) -> Result<Vec<Outcome>> {
        let status = self.child.wait()?;
        if !status.success() {
            eprintln!("{}", std::fs::read_to_string(&self.log).unwrap_or_default());
            bail!("the fuzz targets did not build ({status})");
        }
        eprintln!(
            "<== build the fuzz targets in the background (done {:.0}s after it started)",
            self.started.elapsed().as_secs_f64()
        );
        run_all(true, Budget::secs(secs), parallel, &[])
    }
}

impl Drop for Background {
    /// A suite that stops early leaves no build running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_all(dev: bool, budget: Budget, parallel: usize, only: &[String]) -> Result<Vec<Outcome>> {
    let queue: Vec<&'static str> = TARGETS
        .iter()
        .copied()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == t))
        .collect();
    // `parallel` workers take the next target in order until none is left.
    let next = std::sync::Mutex::new(queue.into_iter());
    let mut outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<Outcome>> {
                    let mut done = Vec::new();
                    loop {
                        let target = next.lock().expect("no worker panics").next();
                        let Some(target) = target else {
                            return Ok(done);
                        };
                        done.push(run_target(dev, target, budget)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a fuzz worker panicked"))
            .collect::<Result<Vec<_>>>()
            .map(|all| all.into_iter().flatten().collect())
    })?;
    outcomes.sort_by_key(|o| TARGETS.iter().position(|t| *t == o.target));
    eprintln!("fuzzing: target, inputs run, seconds, crashes");
    for o in &outcomes {
        eprintln!(
            "  {:<16} {:>12} {:>6.0} {}",
            o.target,
            o.runs,
            o.secs,
            o.crash.as_deref().unwrap_or("0")
        );
    }
    let crashed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| Some(format!("{}: {}", o.target, o.crash.as_deref()?)))
        .collect();
    if !crashed.is_empty() {
        bail!(
            "fuzzing found crashes (fix them, then keep each input in fuzz/regressions/<target>/): {}",
            crashed.join("; ")
        );
    }
    Ok(outcomes)
}

/// `cargo xtask fuzz [--dev] [--secs N] [--runs N] [--parallel K] [TARGET…]`.
pub fn main(args: &[String]) -> Result<()> {
    let (mut secs, mut runs, mut parallel) = (None, None, 1);
    let mut dev = false;
    let mut only = Vec::new();
    let mut it = args.iter();
    let number = |flag: &str, value: Option<&String>| -> Result<u64> {
        value
            .and_then(|s| s.replace('_', "").parse().ok())
            .with_context(|| format!("{flag} takes a number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dev" => dev = true,
            "--secs" => secs = Some(number("--secs", it.next())?),
            "--runs" => runs = Some(number("--runs", it.next())?),
            "--parallel" => parallel = number("--parallel", it.next())? as usize,
            _ => only.push(a.clone()),
        }
    }
    // A time alone by default; a count of inputs alone runs until it is reached.
    let budget = Budget {
        secs: secs.or(runs.is_none().then_some(60)),
        runs,
    };
    campaign(dev, budget, parallel, &only).map(|_| ())
}
