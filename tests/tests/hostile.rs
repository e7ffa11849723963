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
    let server = ServerProcess::start(&format!(
        "[simulator]\nmode = \"off\"\n{}",
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
