//! Issue 4's acceptance: a third-party client written only from `docs/protocol.md` (and the
//! published OpenAPI document), in another language, logs in, subscribes, receives and sends, and
//! after a forced disconnect resumes with no gap and no duplicate. The client is
//! `tests/interop/protocol_client.py`; this test starts the real server and simulator for it.

use std::process::Command;

use switchboard_e2e::*;

#[test]
fn a_client_written_from_the_protocol_document_receives_sends_and_resumes() {
    // `cargo xtask test` provides a Python with `websockets` (pinned, installed once).
    let Some(python) = std::env::var_os("SWITCHBOARD_INTEROP_PYTHON") else {
        eprintln!(
            "SKIPPED: the third-party protocol client needs SWITCHBOARD_INTEROP_PYTHON \
             (set by `cargo xtask test`)"
        );
        return;
    };
    let sim_port = free_port();
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let server = ServerProcess::with_numbers(&graph);
    let sim = SimProcess::start_on(
        sim_port,
        &server.url("/webhooks/whatsapp"),
        &[
            "--sent-after-ms",
            "30",
            "--delivered-after-ms",
            "60",
            "--read-after-ms",
            "90",
        ],
    );
    server.create_user("integrator@demo.example", "admin", "integrator password 1");
    let out = Command::new(python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/protocol_client.py"))
        .args([
            &server.url(""),
            "integrator@demo.example",
            "integrator password 1",
            &sim.url("/_sim/inbound"),
        ])
        .output()
        .expect("run the protocol client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "the protocol client failed: {stderr}");
    assert!(stdout.contains("protocol client: OK"), "{stdout}");
}
