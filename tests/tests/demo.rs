//! `switchboard serve` with no configuration, exactly as a new user runs it: the built-in
//! simulator's customers write in, the demo answers, and status ticks come back, all through the
//! real webhook receiver and the real Cloud API client.

use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard_e2e::{binary, free_port, wait_for};

#[test]
fn the_demo_runs_the_whole_loop_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(binary("switchboard"))
        .arg("serve")
        .current_dir(dir.path())
        .env("SWITCHBOARD__LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD__SIMULATOR__CHAT_INTERVAL_MS", "150")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start switchboard");
    let export = || {
        let out = dir.path().join("export.jsonl");
        let ok = Command::new(binary("switchboard"))
            .args(["export", "--format", "jsonl", "--out"])
            .arg(&out)
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Vec::new();
        }
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect()
    };
    let records = wait_for(
        "inbound, outbound and read receipts in ./data",
        Duration::from_secs(60),
        || {
            let records = export();
            let inbound = records
                .iter()
                .filter(|r| r["direction"] == "inbound")
                .count();
            let read = records
                .iter()
                .filter(|r| r["direction"] == "outbound" && r["status"] == "read")
                .count();
            (inbound >= 3 && read >= 2).then_some(records)
        },
    );
    assert!(records.iter().all(|r| r["tenant"] == "demo"));
    let index = reqwest::blocking::get(format!("http://127.0.0.1:{port}/"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        index.starts_with("Switchboard") && index.contains(" messages, "),
        "{index}"
    );
    let health = reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("switchboard_webhook_ingest_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_cloud_api_sends_total"),
        "{metrics}"
    );

    // SIGTERM: a graceful exit.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = wait_for("a graceful exit", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}
