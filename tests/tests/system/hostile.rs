//! The real server under hostile load from one address (issue 16): whatever arrives at once, its
//! memory stays bounded and it keeps answering. Each bound here was broken before its fix.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard_e2e::*;

/// Samples the server's RssAnon until told to stop; the peak in KiB.
fn watch_memory(
    pid: u32,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Acquire) {
            peak.fetch_max(rss_anon_kib(pid), Ordering::AcqRel);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

#[test]
fn concurrent_sign_ins_keep_memory_bounded_and_the_server_answering() {
    // As from many clients at once: one address's pace of sign-in attempts (30 at once) would
    // refuse most of the storm before any password work, which is not what this measures.
    let server = ServerProcess::start(&format!(
        "[simulator]\nmode = \"off\"\n[auth]\nattempt_burst = 1000\n{}",
        numbers_toml("http://127.0.0.1:9/v23.0")
    ));
    server.create_user("owner@demo.example", "owner", "a long owner passphrase");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(sign_in_storm(&server));
}

async fn sign_in_storm(server: &ServerProcess) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let base = format!("http://{}", server.addr);
    // One real sign-in first: the hashing pool's buffers exist before the baseline is read.
    let owner = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"email": "owner@demo.example", "password": "a long owner passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), 200);
    let token = owner.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let pid = server.pid();
    let baseline = rss_anon_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler = watch_memory(pid, Arc::clone(&stop), Arc::clone(&peak));

    // /healthz keeps answering throughout, each within a second.
    let health = {
        let client = client.clone();
        let url = format!("{base}/healthz");
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut checks = 0u32;
            while !stop.load(Ordering::Acquire) {
                let started = std::time::Instant::now();
                let r = client.get(&url).send().await.expect("/healthz answers");
                assert_eq!(r.status(), 200);
                slowest = slowest.max(started.elapsed());
                checks += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (checks, slowest)
        })
    };

    // 500 anonymous sign-ins at once with unknown emails and wrong passwords, and 60 users
    // created at once by the owner: every one is Argon2 work.
    let mut attempts = Vec::new();
    for i in 0..500 {
        let client = client.clone();
        let url = format!("{base}/api/v1/auth/token");
        attempts.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": format!("nobody{i}@example.com"), "password": "wrong password!"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    for i in 0..60 {
        let client = client.clone();
        let url = format!("{base}/api/v1/users");
        let token = token.clone();
        attempts.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(
                    &json!({"email": format!("agent{i}@demo.example"), "name": "Agent",
                              "role": "agent", "password": "an agent passphrase"}),
                )
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for attempt in attempts {
        *statuses.entry(attempt.await.unwrap()).or_default() += 1;
    }
    stop.store(true, Ordering::Release);
    let (checks, slowest) = health.await.unwrap();
    sampler.join().unwrap();
    let grown_mb = (peak.load(Ordering::Acquire).saturating_sub(baseline)) / 1024;
    println!(
        "560 concurrent password checks: answers {statuses:?}; RssAnon {} MB → peak +{grown_mb} MB; \
         /healthz answered {checks} times, slowest {slowest:?}",
        baseline / 1024
    );
    assert!(
        !statuses.contains_key(&0),
        "every request was answered: {statuses:?}"
    );
    assert!(
        statuses.keys().all(|s| [201, 401, 429, 503].contains(s)),
        "only precise answers: {statuses:?}"
    );
    assert!(grown_mb <= 200, "RssAnon grew by {grown_mb} MB");
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?}"
    );
}

/// Reads until the server closes `stream`; how long that took, or `None` if it was still open
/// after `limit`. Whatever the server wrote first is returned too.
fn until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> (Option<Duration>, String) {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => {
                return (
                    Some(started.elapsed()),
                    String::from_utf8_lossy(&seen).into(),
                )
            }
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (
                    Some(started.elapsed()),
                    String::from_utf8_lossy(&seen).into(),
                )
            }
            Err(_) => {} // nothing yet
        }
    }
    (None, String::from_utf8_lossy(&seen).into())
}

#[test]
fn stalled_clients_are_let_go_and_uploads_need_a_caller_first() {
    use std::io::Write;
    let server = ServerProcess::start(&format!(
        "[simulator]\nmode = \"off\"\n[http]\nheader_timeout_secs = 2\nmax_connections = 40\n{}",
        numbers_toml("http://127.0.0.1:9/v23.0")
    ));
    let connect = || std::net::TcpStream::connect(server.addr).unwrap();
    let limit = Duration::from_secs(8);

    // Headers that never finish, an idle keep-alive connection, a body that stalls, and a
    // half-sent WebSocket upgrade: each is closed (or answered) within the header timeout.
    let mut slow_headers = connect();
    slow_headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut idle = connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut stalled_body = connect();
    stalled_body
        .write_all(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .unwrap();
    let mut half_upgrade = connect();
    half_upgrade
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .unwrap();
    let (closed, _) = until_closed(&mut slow_headers, limit);
    assert!(
        closed.is_some(),
        "unfinished headers were still open after {limit:?}"
    );
    let (closed, answer) = until_closed(&mut idle, limit);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed.is_some(),
        "an idle keep-alive connection was still open after {limit:?}"
    );
    let (closed, answer) = until_closed(&mut stalled_body, limit);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(closed.is_some());
    let (closed, _) = until_closed(&mut half_upgrade, limit);
    assert!(
        closed.is_some(),
        "a half-sent upgrade was still open after {limit:?}"
    );

    // An anonymous upload is refused before its body is read: the answer comes while the
    // client has sent only the first bytes of a 16 MiB file.
    let mut upload = connect();
    upload
        .write_all(
            b"POST /api/v1/conversations/c_x/media HTTP/1.1\r\nHost: x\r\n\
              Content-Type: image/jpeg\r\nContent-Length: 16777215\r\n\r\n\xff\xd8\xff",
        )
        .unwrap();
    let (_, answer) = until_closed(&mut upload, limit);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // At most 40 connections: the rest are closed as soon as they are accepted, and the server
    // serves again once they go.
    let held: Vec<_> = (0..40).map(|_| connect()).collect();
    let mut extra = connect();
    let (closed, _) = until_closed(&mut extra, limit);
    assert!(closed.is_some(), "a connection past the limit stayed open");
    drop(held);
    wait_for("the server to serve again", Duration::from_secs(10), || {
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .ok()
            .filter(|r| r.status().is_success())
    });
}
