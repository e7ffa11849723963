//! Issue 24: the data directory runs out of space under a running server. Meta retries a webhook
//! that got a 5xx for days, so the one promise that matters is: never a 200 for a message that
//! was not stored. As the disk fills, webhooks get 503 `storage_full`, the API says why, what is
//! stored stays whole, and once space returns the server takes traffic again by itself.
//!
//! The data directory is a tmpfs of a few MiB mounted for the test, which needs root (or
//! CAP_SYS_ADMIN); elsewhere the test says SKIPPED.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// One customer text, `bytes` long, with its own wamid.
fn webhook(wamid: &str, bytes: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1",
        "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Disk Tester"}, "wa_id": "15550001234"}],
            "messages": [{"from": "15550001234", "id": wamid, "timestamp": "1750000000",
                          "type": "text", "text": {"body": "x".repeat(bytes)}}]}}]}]}))
    .unwrap()
}

/// Fills the file system at `dir` with one file, leaving about `leave` bytes free.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = file.flush();
    drop(file);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(written.saturating_sub(leave))
        .unwrap();
    path
}

/// The refusal's code and message.
fn error_code(response: reqwest::blocking::Response) -> String {
    let body: Value = response.json().unwrap_or(Value::Null);
    format!(
        "{} ({})",
        body["error"]["code"].as_str().unwrap_or(""),
        body["error"]["message"].as_str().unwrap_or("")
    )
}

#[test]
fn a_full_disk_gets_503_never_a_false_200_and_the_server_recovers_when_space_returns() {
    let Some(tmpfs) = Tmpfs::mount("48m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CAP_SYS_ADMIN)");
        return;
    };
    let data = tmpfs.path().join("data");
    let server = ServerProcess::start_at(&data, &numbers_toml("http://127.0.0.1:9/v23.0"));
    let owner = server.owner_token("disk full password 1");
    let post = |wamid: &str| {
        let body = webhook(wamid, 2_000);
        server
            .client
            .post(server.url("/webhooks/whatsapp"))
            .header("x-hub-signature-256", sign(APP_SECRET, &body))
            .body(body)
            .send()
            .expect("the server answers")
    };
    let mut acked = HashSet::new();
    for i in 0..20 {
        let wamid = format!("wamid.disk-before-{i}");
        assert_eq!(post(&wamid).status(), 200);
        acked.insert(wamid);
    }
    let filler = fill(tmpfs.path(), 512 * 1024);

    // Post until the disk refuses; every 200 is a promise.
    let mut refused = None;
    for i in 0..5_000 {
        let wamid = format!("wamid.disk-{i}");
        let response = post(&wamid);
        match response.status().as_u16() {
            200 => {
                acked.insert(wamid);
            }
            503 => {
                refused = Some((wamid, error_code(response)));
                break;
            }
            other => panic!("{wamid}: {other} {}", error_code(response)),
        }
    }
    let (refused, code) = refused.expect("the disk filled up within 5,000 webhooks");
    let taken_while_filling = acked.len() - 20;
    assert!(
        code.starts_with("storage_full "),
        "the webhook's refusal says why: {code}"
    );

    // The API says why too, and reads still work.
    let api = |method: reqwest::Method, path: &str, body: Value| {
        let request = server
            .client
            .request(method, server.url(&format!("/api/v1/{path}")))
            .bearer_auth(&owner);
        // A read takes no body.
        match body {
            Value::Null => request,
            body => request.json(&body),
        }
        .send()
        .unwrap()
    };
    // A write smaller than the refused webhook may still fit (SQLite reuses the space its
    // log already holds): each one that is taken is a promise too, checked after recovery;
    // they cannot all fit.
    let mut created = Vec::new();
    let mut api_refused = None;
    for i in 0..2_000 {
        let write = api(
            reqwest::Method::POST,
            "contacts",
            json!({"phone": format!("+49151200{i:05}"), "name": format!("Filler {i}")}),
        );
        match write.status().as_u16() {
            201 => {
                let body: Value = write.json().unwrap();
                created.push(body["id"].as_str().unwrap().to_owned());
            }
            503 => {
                api_refused = Some(error_code(write));
                break;
            }
            other => panic!("contact {i}: {other} {}", error_code(write)),
        }
    }
    let code = api_refused.expect("the API refused a write within 2,000 contacts");
    assert!(code.starts_with("storage_full "), "{code}");
    assert_eq!(
        api(reqwest::Method::GET, "conversations", Value::Null).status(),
        200
    );

    // Space returns: Meta's retry of the refused webhook is taken, with no restart.
    std::fs::remove_file(&filler).unwrap();
    wait_for(
        "the server to take webhooks again",
        Duration::from_secs(30),
        || (post(&refused).status() == 200).then_some(()),
    );
    acked.insert(refused);
    for i in 0..20 {
        let wamid = format!("wamid.disk-after-{i}");
        assert_eq!(post(&wamid).status(), 200);
        acked.insert(wamid);
    }
    let write = api(
        reqwest::Method::POST,
        "contacts",
        json!({"phone": "+4915112345678", "name": "Greta"}),
    );
    assert_eq!(write.status(), 201, "{}", error_code(write));
    for id in &created {
        let read = api(reqwest::Method::GET, &format!("contacts/{id}"), Value::Null);
        assert_eq!(
            read.status(),
            200,
            "contact {id} got a 201 and is not stored"
        );
    }

    // Every acknowledged message is stored once, and the database is whole.
    let stored: Vec<String> = server
        .export()
        .iter()
        .filter_map(|r| r["wamid"].as_str().map(str::to_owned))
        .collect();
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "a message stored twice");
    for wamid in &acked {
        assert!(
            unique.contains(wamid),
            "{wamid} got a 200 and is not stored"
        );
    }
    let db = rusqlite::Connection::open_with_flags(
        data.join("switchboard.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    eprintln!(
        "disk full: {} webhooks acknowledged before the disk filled, the next refused with \
         storage_full; all {} acknowledged stored once after space returned",
        taken_while_filling,
        acked.len()
    );
}

/// A data directory that cannot be written (remounted read-only, as a failing disk gets) is
/// refused at start with a message that says so, in bounded time and without a panic; writable
/// again, the server starts with everything it had.
#[test]
fn a_read_only_data_directory_is_refused_at_start_with_a_clear_message() {
    let Some(tmpfs) = Tmpfs::mount("48m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CAP_SYS_ADMIN)");
        return;
    };
    let data = tmpfs.path().join("data");
    let mut server = ServerProcess::start_at(&data, &numbers_toml("http://127.0.0.1:9/v23.0"));
    let body = webhook("wamid.ro-before", 200);
    assert_eq!(server.post_webhook(&body), 200);
    assert!(server.terminate(), "a clean stop");
    let remount = |mode: &str| {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(tmpfs.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {mode}");
    };
    remount("ro");
    let mut child = Command::new(binary("switchboard"))
        .args(["serve", "--config"])
        .arg(&server.config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for("switchboard to give up", Duration::from_secs(30), || {
        child.try_wait().ok().flatten()
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        !status.success(),
        "it must not run on a store it cannot write"
    );
    assert!(stderr.contains("read-only"), "says why: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    remount("rw");
    server.spawn();
    let stored: HashSet<String> = server
        .export()
        .iter()
        .filter_map(|r| r["wamid"].as_str().map(str::to_owned))
        .collect();
    assert!(stored.contains("wamid.ro-before"));
    eprintln!(
        "read-only data directory: refused at start ({})",
        stderr.trim()
    );
}
