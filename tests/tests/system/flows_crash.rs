//! Bot-flow runs survive a crash: many customers start a flow whose HTTP lookup answers slowly;
//! the server is killed (SIGKILL, no clean-up) while lookups are in flight and replies are
//! queued; started again, every run finishes, and every customer got each of the flow's messages
//! exactly once. `FLOW_RUNS=1000` runs the issue's figure (the suite runs 300).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

const PASSWORD: &str = "correct horse battery staple";

/// An order API on loopback that takes its time (so lookups are in flight at the kill).
fn slow_api(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                std::thread::sleep(delay);
                let body = r#"{"status": "shipped"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                count.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, served)
}

/// How many times each (customer, text) reached WhatsApp.
fn delivered(sim: &SimProcess) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for m in sim.sent() {
        let to = m["body"]["to"].as_str().unwrap_or("").to_owned();
        if let Some(text) = m["body"]["text"]["body"].as_str() {
            *counts.entry((to, text.to_owned())).or_insert(0) += 1;
        }
    }
    counts
}

/// Every open conversation's id, page by page.
fn open_conversations(server: &ServerProcess, token: &str) -> Vec<String> {
    let mut conversations = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("conversations?limit=200&cursor={c}"),
            None => "conversations?limit=200".to_owned(),
        };
        let page = server.api(token, reqwest::Method::GET, &path, Value::Null);
        for c in page["items"].as_array().unwrap() {
            conversations.push(c["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return conversations,
        }
    }
}

#[test]
fn flow_runs_continue_after_a_kill_and_send_each_message_once() {
    let runs: usize = std::env::var("FLOW_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (api_port, served) = slow_api(Duration::from_secs(6));
    let sim_port = free_port();
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let mut server = ServerProcess::start(&format!(
        "{}[outbox]\nin_doubt_grace_secs = 1\n",
        numbers_toml(&graph)
    ));
    let sim = SimProcess::start_on(
        sim_port,
        &server.url("/webhooks/whatsapp"),
        &["--sent-after-ms", "50", "--delivered-after-ms", "100"],
    );
    let token = server.owner_token(PASSWORD);
    let flow = server.api(
        &token,
        reqwest::Method::POST,
        "automation/flows",
        json!({"name": "Orders", "start": "hello",
        "allow_hosts": [format!("127.0.0.1:{api_port}")],
        "nodes": {
            "hello": {"type": "message", "text": "Looking it up…", "next": "lookup"},
            "lookup": {"type": "http",
                       "url": format!("http://127.0.0.1:{api_port}/orders/{{{{contact.phone}}}}"),
                       "timeout_ms": 10000,
                       "map": {"status": "$.status"}, "next": "tell", "fallback": "sorry"},
            "tell": {"type": "message", "text": "Your order is {{status}}.", "next": "bye"},
            "sorry": {"type": "end", "text": "Sorry, the lookup failed."},
            "bye": {"type": "end", "text": "Anything else? Just write."}
        }}),
    );
    let flow_id = flow["id"].as_str().unwrap().to_owned();
    server.api(
        &token,
        reqwest::Method::POST,
        "automation/rules",
        json!({"name": "Orders", "match": {"keywords": ["order"]},
               "actions": [{"start_flow": {"flow": flow_id}}]}),
    );

    let customers: Vec<String> = (0..runs).map(|i| format!("4915200{i:05}")).collect();
    for c in &customers {
        sim.customer_says(c, "where is my order?");
    }
    // Every run has started (its first message went), and some are still looking up.
    wait_for(
        "every run's first message",
        Duration::from_secs(120),
        || {
            let d = delivered(&sim);
            customers
                .iter()
                .all(|c| d.contains_key(&(c.clone(), "Looking it up…".to_owned())))
                .then_some(())
        },
    );
    let finished_before = delivered(&sim)
        .keys()
        .filter(|(_, t)| t == "Anything else? Just write.")
        .count();
    // And the inbox has every conversation: what this test kills is flow runs, not the inbox's
    // own window between storing a message and writing its conversation (docs/flows.md).
    wait_for(
        "every conversation in the inbox",
        Duration::from_secs(60),
        || (open_conversations(&server, &token).len() == runs).then_some(()),
    );
    let looked_up_before = served.load(Ordering::SeqCst);
    server.kill9();
    assert!(
        looked_up_before < runs,
        "every lookup was answered before the kill ({looked_up_before}); the test proves nothing"
    );

    server.spawn();
    let counts = wait_for("every run's last message", Duration::from_secs(180), || {
        let d = delivered(&sim);
        customers
            .iter()
            .all(|c| d.contains_key(&(c.clone(), "Anything else? Just write.".to_owned())))
            .then_some(d)
    });
    // A send could only be repeated while the outbox is unsure it went: wait until every
    // conversation holds its three replies with WhatsApp's delivery receipts, then count again.
    let conversations = open_conversations(&server, &token);
    assert_eq!(conversations.len(), runs);
    wait_for("every reply delivered", Duration::from_secs(120), || {
        conversations
            .iter()
            .all(|c| {
                let history = server.api(
                    &token,
                    reqwest::Method::GET,
                    &format!("conversations/{c}/messages?limit=100"),
                    Value::Null,
                );
                let outbound: Vec<&Value> = history["items"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter(|m| m["direction"] == "outbound")
                            .collect()
                    })
                    .unwrap_or_default();
                outbound.len() == 3
                    && outbound
                        .iter()
                        .all(|m| m["status"] == "delivered" || m["status"] == "read")
            })
            .then_some(())
    });
    let settled = delivered(&sim);
    assert_eq!(
        settled, counts,
        "nothing more reached WhatsApp once everything settled"
    );
    for c in &customers {
        for text in [
            "Looking it up…",
            "Your order is shipped.",
            "Anything else? Just write.",
        ] {
            assert_eq!(
                settled.get(&(c.clone(), text.to_owned())),
                Some(&1),
                "{c} got `{text}` once"
            );
        }
        assert_eq!(
            settled.get(&(c.clone(), "Sorry, the lookup failed.".to_owned())),
            None
        );
    }
    eprintln!(
        "flow kill test: {runs} runs, {finished_before} finished and {looked_up_before} lookups \
         answered before the kill; {} lookups in all (a run stopped mid-lookup asks again); \
         simulator stats {}",
        served.load(Ordering::SeqCst),
        sim.stats()
    );
}
