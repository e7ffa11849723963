//! `switchboard serve` with no configuration, exactly as a new user runs it: the built-in
//! simulator's customers write in, the demo answers, and status ticks come back, all through the
//! real webhook receiver and the real Cloud API client.

use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard_e2e::{binary, free_port, wait_for};

/// The server, killed if the test fails before its graceful stop (no orphan left serving).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_runs_the_whole_loop_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Running(
        Command::new(binary("switchboard"))
            .arg("serve")
            .current_dir(dir.path())
            .env("SWITCHBOARD__LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD__SIMULATOR__CHAT_INTERVAL_MS", "150")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start switchboard"),
    );
    // The one-time setup link is printed on standard output; keep draining it after.
    let stdout = child.0.stdout.take().unwrap();
    let (link_tx, link_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(at) = line
                .find("http://")
                .filter(|_| line.contains("/setup?token="))
            {
                let _ = link_tx.send(line[at..].trim().to_owned());
            }
        }
    });
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
    // `/` is the PWA (embedded by `cargo xtask test` and `dist`): the page is revalidated on
    // every load, its hashed assets are immutable and precompressed.
    let client = reqwest::blocking::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let page = client
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .unwrap();
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let index = page.text().unwrap();
    assert!(index.contains(r#"<link rel="manifest""#), "{index}");
    let script = index
        .split(r#"<script type="module" src=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads its module");
    let asset = client
        .get(format!("http://127.0.0.1:{port}{script}"))
        .header("accept-encoding", "br, gzip")
        .send()
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.headers()["content-encoding"], "br");
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

    // No default credentials: the printed link creates the owner, who can then sign in.
    let link: String = link_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a setup link on stdout");
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port}/setup?token=setup_")),
        "{link}"
    );
    let client = reqwest::blocking::Client::new();
    let token = link.split("token=").nth(1).unwrap();
    let setup = client
        .post(format!("http://127.0.0.1:{port}/api/v1/setup"))
        .json(
            &serde_json::json!({"token": token, "name": "Ada", "email": "ada@demo.example",
                                 "password": "a long passphrase"}),
        )
        .send()
        .unwrap();
    assert_eq!(setup.status(), 201);
    let login: serde_json::Value = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/token"))
        .json(&serde_json::json!({"email": "ada@demo.example", "password": "a long passphrase"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(login["me"]["tenant"], "demo");
    assert_eq!(login["me"]["user"]["role"], "owner");

    // SIGTERM: a graceful exit.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    let status = wait_for("a graceful exit", Duration::from_secs(30), || {
        child.0.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}
