//! Project automation, so that a fresh clone needs exactly two commands:
//!
//! - `cargo xtask run [ARGS…]`: installs what is missing, builds in release mode and starts
//!   `switchboard serve` (the demo with the built-in simulator unless ARGS say otherwise).
//! - `cargo xtask test`: the whole suite: format, lints, the PWA's release build (within its
//!   size budget), every test (unit, conformance, end-to-end against the real binaries, the
//!   browser tests in headless Chromium), an interop check with pywa (another project's Cloud
//!   API client) against the simulator, and the load-test smoke run that asserts nothing is
//!   lost, duplicated or in violation.
//! - `cargo xtask dist`: the PWA and one release `switchboard` binary that embeds it.
//! - `cargo xtask dev`: the demo serving a dev build of the PWA, rebuilt when client code changes.
//! - `cargo xtask layers`: the module graph of `server` and `shared`, checked (no cycles, layers).
//! - `cargo xtask browser [N]`: the browser tests N times in a row (5 by default).
//! - `cargo xtask fuzz [--secs N] [TARGET…]`: each fuzz target (`fuzz/`) for N seconds.
//! - `cargo xtask api-fuzz [--examples N]`: schemathesis against the server, from its OpenAPI
//!   document, N examples per operation.
//!
//! Installs are idempotent and use only rustup (the wasm target; the nightly toolchain for
//! fuzzing), crates.io (cargo-fuzz, pinned, into cargo's bin directory), PyPI (pywa and schemathesis,
//! pinned, in `.tools/`), npm (binaryen and playwright-core, pinned by `tests/browser/package-lock.json`)
//! and Debian's chromium package; nothing is downloaded twice.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};

mod fuzz;
mod layers;
mod pwa;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_owned()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// On a clone whose server was never built (CI's case), the builds below skip incremental
/// compilation: a first build gains nothing from it, and the workspace's big crates compile
/// in fewer, larger units without it. The cargo commands this process starts inherit it.
fn fresh_build_without_incremental() {
    let built_before = std::fs::read_dir(root().join("target/debug/incremental"))
        .map(|dir| {
            dir.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("switchboard_server-")
            })
        })
        .unwrap_or(false);
    if !built_before && std::env::var_os("CARGO_INCREMENTAL").is_none() {
        eprintln!(
            "NOTE: a first build: incremental compilation is off for it (CARGO_INCREMENTAL=0)"
        );
        // Set before any thread starts: the fuzz build and the steps below read it.
        std::env::set_var("CARGO_INCREMENTAL", "0");
    }
}

fn run(step: &str, cmd: &mut Command) -> Result<()> {
    let started = Instant::now();
    eprintln!("==> {step}");
    let status = cmd
        .status()
        .with_context(|| format!("{step}: could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    eprintln!("<== {step} ({:.1}s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// Adds the WASM target through rustup when it is missing (rustup's own download works here).
pub(crate) fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm32 target")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(
        "install the wasm32 target",
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
    )
}

/// The interop checks' Python packages, pinned, in a virtualenv under `.tools/` (created once,
/// reused after): pywa (another project's Cloud API client), websockets (for the third-party
/// client of our WebSocket API, `tests/interop/protocol_client.py`) and standardwebhooks (the
/// third-party receiver of our outbound webhooks, `tests/interop/webhook_receiver.py`).
const INTEROP_PACKAGES: &[&str] = &[
    "pywa==4.5.0",
    "websockets==15.0.1",
    "standardwebhooks==1.1.0",
];

/// schemathesis, for API fuzzing from our OpenAPI document (`tests/tests/api_fuzz.rs`), pinned,
/// in a virtualenv of its own (its dependencies and pywa's need not agree).
const SCHEMATHESIS_PACKAGES: &[&str] = &["schemathesis==4.32.5"];

fn ensure_interop_python() -> Result<PathBuf> {
    Ok(ensure_venv("pywa-venv", INTEROP_PACKAGES)?.join("bin/python"))
}

/// The schemathesis executable.
fn ensure_schemathesis() -> Result<PathBuf> {
    Ok(ensure_venv("schemathesis-venv", SCHEMATHESIS_PACKAGES)?.join("bin/schemathesis"))
}

/// A virtualenv `.tools/<name>` with `packages` installed, made once (a marker file names the
/// pins, so changing a pin installs again).
fn ensure_venv(name: &str, packages: &[&str]) -> Result<PathBuf> {
    let venv = root().join(".tools").join(name);
    let python = venv.join("bin/python");
    let marker = venv.join(format!(".installed-{}", packages.join("-")));
    if marker.exists() {
        return Ok(venv);
    }
    if !python.exists() {
        run(
            &format!("create the {name} virtualenv"),
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
    }
    run(
        &format!("install {} into {name}", packages.join(", ")),
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages),
    )?;
    std::fs::write(&marker, "")?;
    Ok(venv)
}

/// Debian's Chromium for the browser tests (playwright-core drives it; it downloads no browser),
/// with the colour emoji font phones have, so that reactions and the emoji picker render in the
/// screenshots as they do for agents. Installed with apt once; a half-finished install is
/// repaired and retried.
fn ensure_chromium() -> Result<PathBuf> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let emoji = Path::new("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf");
    if chromium.exists() && emoji.exists() {
        return Ok(chromium);
    }
    let sudo = |args: &[&str]| {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let mut cmd = if root {
            Command::new(args[0])
        } else {
            let mut c = Command::new("sudo");
            c.arg(args[0]);
            c
        };
        cmd.args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run("apt-get update", &mut sudo(&["apt-get", "update", "-q"]))?;
    let install = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "chromium",
        "fonts-noto-color-emoji",
    ];
    if run("install Debian's chromium", &mut sudo(&install)).is_err() {
        run(
            "repair the interrupted install",
            &mut sudo(&["apt-get", "--fix-broken", "install", "-y", "-q"]),
        )?;
        run("install Debian's chromium (again)", &mut sudo(&install))?;
    }
    if !chromium.exists() {
        bail!("apt installed chromium, but /usr/bin/chromium is missing");
    }
    Ok(chromium)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// pywa (another project's Cloud API client) against the simulator binary.
fn interop_pywa(python: &Path) -> Result<()> {
    let (sim_port, hook_port) = (free_port()?, free_port()?);
    let sim = root().join("target/debug/switchboard-wa-sim");
    let mut child = Command::new(&sim)
        .args(["--listen", &format!("127.0.0.1:{sim_port}")])
        .args([
            "--webhook-url",
            &format!("http://127.0.0.1:{hook_port}/webhooks"),
        ])
        .args([
            "--app-secret",
            "interop-secret",
            "--access-token",
            "interop-token",
        ])
        .args(["--phone-number-id", "106540352242922"])
        .args([
            "--sent-after-ms",
            "20",
            "--delivered-after-ms",
            "40",
            "--read-after-ms",
            "60",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", sim.display()))?;
    let result = run(
        "interop: pywa against switchboard-wa-sim",
        Command::new(python)
            .arg(root().join("tests/interop/pywa_check.py"))
            .args([
                &sim_port.to_string(),
                "interop-token",
                "interop-secret",
                &hook_port.to_string(),
            ]),
    );
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn test() -> Result<()> {
    let started = Instant::now();
    ensure_wasm_target()?;
    fresh_build_without_incremental();
    run("format check", cargo().args(["fmt", "--all", "--check"]))?;
    run(
        "format check (fuzz targets)",
        cargo().args([
            "fmt",
            "--all",
            "--check",
            "--manifest-path",
            "fuzz/Cargo.toml",
        ]),
    )?;
    eprintln!("==> module layering (no import cycles; see docs/architecture.md)");
    layers::check(&root())?;
    // Built on the cores the steps below leave idle; run after the tests.
    let fuzz_build = fuzz::build_in_background()?;
    // The PWA first: the binaries built below embed it, and the browser tests use them.
    let report = pwa::build(&root().join("client/dist"), true)?;
    let node_modules = pwa::ensure_node_tools()?;
    let chromium = ensure_chromium()?;
    run(
        "clippy (warnings are errors)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Every target in one build: with tests in it, dev-dependencies' features (tokio's
    // test-util, …) are unified in, so `cargo test` and the load tests below find everything
    // built. A `--bins` build resolves features without them and `cargo test` rebuilt the
    // server and a hundred crates under it a second time.
    run(
        "build the binaries and every test",
        cargo().args(["build", "--workspace", "--all-targets"]),
    )?;
    if std::env::var_os("SCYLLA_URI").is_none() {
        eprintln!(
            "NOTE: SCYLLA_URI is not set: the ScyllaDB conformance run is SKIPPED (SQLite runs it)."
        );
    }
    let python = ensure_interop_python()?;
    let schemathesis = ensure_schemathesis()?;
    let (passed, failed) = run_tests(&python, &schemathesis, &node_modules, &chromium)?;
    interop_pywa(&python)?;
    // Every parser of hostile input, coverage-guided, briefly (`cargo xtask fuzz` runs longer).
    let fuzzed = fuzz_build.finish(fuzz::SMOKE_SECS, 2)?;
    run(
        "load-test smoke run (correctness only: lost, duplicated, violations)",
        // Debug build: smoke runs check correctness, never timings. The binary the build above
        // made, run as it is: `cargo run -p` resolves one package's features and would rebuild
        // the server for it. Full runs are `--release` (see docs/benchmarks.md).
        Command::new(root().join("target/debug/switchboard-load")).arg("--smoke"),
    )?;
    eprintln!(
        "all checks passed in {:.0}s; the PWA is {} KB gzipped (budget {} KB); browser \
         screenshots are in artifacts/",
        started.elapsed().as_secs_f64(),
        report.total_gz() / 1024,
        pwa::BUDGET_GZ / 1024,
    );
    eprintln!(
        "fuzzing: {} targets, {} inputs, 0 crashes",
        fuzzed.len(),
        fuzzed.iter().map(|o| o.runs).sum::<u64>()
    );
    // The plain closing line: every test of every crate, counted from cargo's own summaries.
    println!("tests: {passed} passed, {failed} failed");
    Ok(())
}

/// Runs `cargo test --workspace`, echoing its output, and adds up its `test result:` lines.
fn run_tests(
    python: &Path,
    schemathesis: &Path,
    node_modules: &Path,
    chromium: &Path,
) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let started = Instant::now();
    eprintln!("==> tests");
    let mut child = cargo()
        // Every test binary runs even after one fails, so a run reports everything it found.
        .args(["test", "--workspace", "--no-fail-fast", "--", "--nocapture"])
        .env("RUST_LOG", "warn")
        // The third-party protocol client (tests/tests/system/protocol_client.rs) runs with it.
        .env("SWITCHBOARD_INTEROP_PYTHON", python)
        // API fuzzing from the OpenAPI document (tests/tests/api_fuzz.rs).
        .env("SWITCHBOARD_SCHEMATHESIS", schemathesis)
        // The browser tests (tests/tests/pwa.rs) drive this Chromium with playwright-core.
        .env("SWITCHBOARD_NODE_MODULES", node_modules)
        .env("SWITCHBOARD_CHROMIUM", chromium)
        .env("SWITCHBOARD_ARTIFACTS", root().join("artifacts"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("tests: could not start cargo test")?;
    let (mut passed, mut failed) = (0, 0);
    let stdout = child.stdout.take().context("cargo test's output")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            let count = |word: &str| -> u64 {
                summary
                    .split(['.', ';'])
                    .map(str::trim)
                    .find_map(|part| part.strip_suffix(word)?.trim().parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        // The plain closing line even when something failed, then the failure.
        println!("tests: {passed} passed, {failed} failed");
        bail!("tests failed ({status}): {passed} passed, {failed} failed");
    }
    eprintln!("<== tests ({:.1}s)", started.elapsed().as_secs_f64());
    Ok((passed, failed))
}

/// `cargo xtask browser [N]`: the browser tests (`tests/tests/pwa.rs`, both languages) N times in
/// a row (5 by default), each with fresh servers and a fresh Chromium profile; any failure stops
/// it. For the claim that they pass every time, not once.
fn browser(args: &[String]) -> Result<()> {
    let times: u32 = match args.first() {
        Some(n) => n.parse().context("usage: cargo xtask browser [N]")?,
        None => 5,
    };
    ensure_wasm_target()?;
    pwa::build(&root().join("client/dist"), true)?;
    let node_modules = pwa::ensure_node_tools()?;
    let chromium = ensure_chromium()?;
    for run_number in 1..=times {
        run(
            &format!("browser tests, run {run_number} of {times}"),
            cargo()
                .args(["test", "-p", "switchboard-e2e", "--test", "pwa"])
                .env("SWITCHBOARD_NODE_MODULES", &node_modules)
                .env("SWITCHBOARD_CHROMIUM", &chromium)
                .env("SWITCHBOARD_ARTIFACTS", root().join("artifacts")),
        )?;
    }
    eprintln!("browser tests passed {times} times in a row");
    Ok(())
}

/// `cargo xtask api-fuzz [--examples N]`: schemathesis against the real server from its OpenAPI
/// document (`tests/tests/api_fuzz.rs`), N examples per operation (200 by default; `cargo xtask
/// test` runs 10).
fn api_fuzz(args: &[String]) -> Result<()> {
    let examples: u32 = match args {
        [] => 200,
        [flag, n] if flag == "--examples" => n
            .parse()
            .context("usage: cargo xtask api-fuzz [--examples N]")?,
        _ => bail!("usage: cargo xtask api-fuzz [--examples N]"),
    };
    let schemathesis = ensure_schemathesis()?;
    run(
        "build the binaries the API fuzzing starts",
        cargo().args(["build", "--workspace", "--bins"]),
    )?;
    run(
        &format!("API fuzzing, {examples} examples per operation"),
        cargo()
            .args(["test", "-p", "switchboard-e2e", "--test", "api_fuzz", "--"])
            .arg("--nocapture")
            .env("SWITCHBOARD_SCHEMATHESIS", &schemathesis)
            .env("SWITCHBOARD_API_FUZZ_EXAMPLES", examples.to_string()),
    )
}

/// `cargo xtask dist`: the PWA, then one release binary that embeds and serves it
/// (`--pwa-only`: only `client/dist/`, which the next build of any profile embeds).
fn dist(args: &[String]) -> Result<()> {
    pwa::build(&root().join("client/dist"), true)?;
    if args.iter().any(|a| a == "--pwa-only") {
        return Ok(());
    }
    run(
        "build switchboard (release, with the PWA embedded)",
        cargo().args(["build", "--release", "-p", "switchboard-server", "--bins"]),
    )?;
    let binary = root().join("target/release/switchboard");
    eprintln!("the binary: {}", binary.display());
    Ok(())
}

fn run_demo(args: &[String]) -> Result<()> {
    pwa::build(&root().join("client/dist"), true)?;
    run(
        "build switchboard (release)",
        cargo().args(["build", "--release", "-p", "switchboard-server", "--bins"]),
    )?;
    let binary = root().join("target/release/switchboard");
    let mut cmd = Command::new(&binary);
    cmd.current_dir(root());
    if args.is_empty() {
        cmd.arg("serve");
    } else {
        cmd.args(args);
    }
    eprintln!("==> {} {}", binary.display(), args.join(" "));
    let status = cmd.status().context("starting switchboard")?;
    if !status.success() {
        bail!("switchboard exited with {status}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("run") => run_demo(&args[1..]),
        Some("dist") => dist(&args[1..]),
        Some("dev") => pwa::dev(&args[1..]),
        Some("layers") => layers::check(&root()),
        Some("browser") => browser(&args[1..]),
        Some("fuzz") => fuzz::main(&args[1..]),
        Some("api-fuzz") => api_fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <run [switchboard args…] | test | dist [--pwa-only] | dev [switchboard args…] | layers | browser [N] | fuzz [--dev] [--secs N] [TARGET…] | api-fuzz [--examples N]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
