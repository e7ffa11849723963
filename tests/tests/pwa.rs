//! Issue 6's acceptance: the PWA embedded in the real `switchboard` binary, in Debian's headless
//! Chromium (driven by playwright-core, `tests/browser/pwa.test.mjs`), against the real server
//! and simulator: boot to login, installable, a customer writes and the conversation appears
//! live, the reply's ticks turn to read, offline replies wait and go; a supervisor sees the
//! agent on the board and reads the transcript live; an admin sees users, roles and the audit
//! log, and connects a second number whose customer is then routed, without a restart; in
//! English and in Russian. A local test CRM fills the conversation's CRM card, and a local
//! receiver verifies the webhooks of an endpoint the admin adds in the app, and a replay.
//! Screenshots land in `artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchboard_e2e::*;

/// What `cargo xtask test` provides: playwright-core and Chromium. Without them the test says it
/// was skipped (a plain `cargo test` has no browser).
fn browser() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let modules = std::env::var_os("SWITCHBOARD_NODE_MODULES")?;
    let chromium = std::env::var_os("SWITCHBOARD_CHROMIUM")?;
    let artifacts = std::env::var_os("SWITCHBOARD_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("switchboard-artifacts"));
    Some((modules.into(), chromium.into(), artifacts))
}

fn run_in_browser(lang: &str) {
    let Some((modules, chromium, artifacts)) = browser() else {
        eprintln!(
            "SKIPPED: the browser test needs SWITCHBOARD_NODE_MODULES and SWITCHBOARD_CHROMIUM \
             (set by `cargo xtask test`)"
        );
        return;
    };
    let sim_port = free_port();
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    // The test CRM and the webhook receiver listen on this machine, over plain HTTP.
    let server = ServerProcess::start(&format!(
        "{}\n[outgoing_webhooks]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]\n\
         [push]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]\n",
        numbers_toml(&graph)
    ));
    let page = server
        .client
        .get(server.url("/"))
        .send()
        .and_then(|r| r.text())
        .expect("GET /");
    assert!(
        page.contains(r#"<link rel="manifest""#),
        "this switchboard binary carries no PWA: build it through `cargo xtask test` or \
         `cargo xtask dist`, which embed client/dist. `/` answered:\n{page}"
    );
    let sim = SimProcess::start_on(
        sim_port,
        &server.url("/webhooks/whatsapp"),
        &[
            "--sent-after-ms",
            "100",
            "--delivered-after-ms",
            "300",
            "--read-after-ms",
            "600",
            // A second number of the account, which the admin connects in the app.
            "--phone-number-id",
            "106540352242923",
            "--display-phone-number",
            "15550783882",
        ],
    );
    let email = format!("agent-{lang}@demo.example");
    server.create_user(&email, "agent", "agent password 12");
    let supervisor = format!("supervisor-{lang}@demo.example");
    server.create_user(&supervisor, "supervisor", "supervisor password 12");
    let admin = format!("admin-{lang}@demo.example");
    server.create_user(&admin, "admin", "admin password 1234");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/pwa.test.mjs");
    let out = Command::new("node")
        .arg(&script)
        .args([
            &server.url(""),
            &email,
            "agent password 12",
            &sim.url(""),
            lang,
            &artifacts.display().to_string(),
            &supervisor,
            "supervisor password 12",
            &admin,
            "admin password 1234",
        ])
        .env("NODE_PATH", &modules)
        .env("SWITCHBOARD_CHROMIUM", &chromium)
        .current_dir(script.parent().expect("tests/browser"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "the browser test ({lang}) failed");
    assert!(stdout.contains(&format!("pwa {lang}: OK")), "{stdout}");
}

#[test]
fn an_agent_works_a_conversation_in_the_pwa_in_english() {
    run_in_browser("en");
}

#[test]
fn an_agent_works_a_conversation_in_the_pwa_in_russian() {
    run_in_browser("ru");
}
