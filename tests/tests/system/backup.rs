//! Issue 22: `switchboard backup` while webhooks flow, and `switchboard restore` into an empty
//! directory: the restored store holds every message acknowledged before the backup began; a
//! restore into a directory with anything in it, or from a truncated file, changes nothing.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(binary("switchboard"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run switchboard")
}

/// `switchboard restore --from FROM --data-dir DIR`.
fn restore(from: &Path, dir: &Path) -> std::process::Output {
    switchboard(&[
        "restore",
        "--from",
        from.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ])
}

/// Fails the test with the command's standard error unless it succeeded.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_backup_taken_under_load_restores_every_acknowledged_message() {
    let server = ServerProcess::with_numbers("http://127.0.0.1:9/v23.0");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let posters: Vec<_> = (0..4)
        .map(|t| {
            let (acked, stop, url) = (
                Arc::clone(&acked),
                Arc::clone(&stop),
                server.url("/webhooks/whatsapp"),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                // Bounded: stops when told, or after 20,000 webhooks.
                for i in 0..20_000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let wamid = format!("wamid.backup-{t}-{i}");
                    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account",
                        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "15550783881",
                                     "phone_number_id": "106540352242922"},
                        "contacts": [{"profile": {"name": "Backup"}, "wa_id": format!("1555100{t:04}")}],
                        "messages": [{"from": format!("1555100{t:04}"), "id": wamid,
                                      "timestamp": "1750000000", "type": "text",
                                      "text": {"body": format!("message {i}")}}]}}]}]}))
                    .unwrap();
                    let response = client
                        .post(&url)
                        .header("x-hub-signature-256", sign(APP_SECRET, &body))
                        .body(body)
                        .send();
                    if response.is_ok_and(|r| r.status() == 200) {
                        acked.lock().unwrap().push(wamid);
                    }
                }
            })
        })
        .collect();
    wait_for("webhooks flowing", Duration::from_secs(60), || {
        (acked.lock().unwrap().len() >= 300).then_some(())
    });
    // Everything acknowledged before the backup begins must be in it.
    let before: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let file = server.dir.path().join("backup.gz");
    let config = server.config.to_str().unwrap().to_owned();
    let out = switchboard(&[
        "backup",
        "--config",
        &config,
        "--out",
        file.to_str().unwrap(),
    ]);
    succeeded(&out);
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for p in posters {
        p.join().unwrap();
    }
    assert!(
        during > before.len(),
        "the server took traffic while the backup ran"
    );

    let restored = server.dir.path().join("restored");
    let out = restore(&file, &restored);
    succeeded(&out);
    let restored_config = server.dir.path().join("restored.toml");
    std::fs::write(
        &restored_config,
        format!("data_dir = \"{}\"\n", restored.display()),
    )
    .unwrap();
    let export = server.dir.path().join("restored.jsonl");
    let out = switchboard(&[
        "export",
        "--config",
        restored_config.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
    ]);
    succeeded(&out);
    let stored: HashSet<String> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["wamid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let missing: Vec<&String> = before.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not restored: {missing:?}"
    );
    eprintln!(
        "backup under load: {} acknowledged before it began, {} by its end, {} restored",
        before.len(),
        during,
        stored.len()
    );

    // Not into a directory with anything in it; not from a truncated file.
    let out = restore(&file, &restored);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let bytes = std::fs::read(&file).unwrap();
    let cut = server.dir.path().join("cut.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let target = server.dir.path().join("from-cut");
    let out = restore(&cut, &target);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a whole backup"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!target.exists(), "a refused restore leaves nothing");
}
