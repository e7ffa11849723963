//! A campaign survives a crash: the server is killed (SIGKILL, no clean-up) while a campaign is
//! handing its recipients to the outbox; started again, the campaign goes on by itself and
//! completes, and the simulator (Meta) received exactly one template per recipient: nobody twice,
//! nobody skipped. `CAMPAIGN_RECIPIENTS=5000` runs a larger one (the suite runs 600).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::*;

const PASSWORD: &str = "correct horse battery staple";

/// How many campaign templates each customer got at the simulator.
fn templates(sim: &SimProcess) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in sim.sent() {
        if m["body"]["type"] == "template" {
            *counts
                .entry(m["body"]["to"].as_str().unwrap_or("").to_owned())
                .or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn a_killed_campaign_resumes_and_sends_each_recipient_exactly_once() {
    let recipients: usize = std::env::var("CAMPAIGN_RECIPIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
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

    // The audience, imported from CSV.
    let customers: Vec<String> = (0..recipients).map(|i| format!("491512{i:07}")).collect();
    let mut file = String::from("phone,name,tags\n");
    for (i, c) in customers.iter().enumerate() {
        file.push_str(&format!("+{c},Customer {i},crash\n"));
    }
    let import: Value = server
        .client
        .post(server.url("/api/v1/contacts/imports"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .and_then(|r| r.json())
        .expect("import");
    let import = import["id"].as_str().expect("an import id").to_owned();
    let done = wait_for("the import", Duration::from_secs(120), || {
        let i = server.api(
            &token,
            reqwest::Method::GET,
            &format!("contacts/imports/{import}"),
            Value::Null,
        );
        (i["state"] != "running").then_some(i)
    });
    assert_eq!(done["created"], recipients as u64, "{done}");
    let segment = server.api(
        &token,
        reqwest::Method::POST,
        "segments",
        json!({"name": "Crash test", "filter": {"tag": "crash"}}),
    );
    let campaign = server.api(
        &token,
        reqwest::Method::POST,
        "campaigns",
        json!({"name": "Crash", "template": {"name": "seasonal_promo", "language": "en_US"},
               "audience": {"segment": segment["id"]},
               "variables": [{"text": "CRASH10"}],
               "numbers": ["106540352242922"], "max_per_second": 40}),
    );
    let id = campaign["id"].as_str().unwrap().to_owned();
    server.api(
        &token,
        reqwest::Method::POST,
        &format!("campaigns/{id}/start"),
        json!({}),
    );

    // Kill it a third of the way through.
    wait_for("a third of the templates", Duration::from_secs(120), || {
        (templates(&sim).len() >= recipients / 3).then_some(())
    });
    server.kill9();
    let before = templates(&sim).len();
    assert!(
        before < recipients,
        "the campaign finished before the kill; the test proves nothing"
    );

    server.spawn();
    let finished = wait_for("the campaign to complete", Duration::from_secs(240), || {
        let c = server.api(
            &token,
            reqwest::Method::GET,
            &format!("campaigns/{id}"),
            Value::Null,
        );
        (c["state"] == "completed").then_some(c)
    });
    assert_eq!(finished["counts"]["sent"], recipients as u64, "{finished}");
    assert_eq!(finished["counts"]["failed"], 0, "{finished}");
    // A send could only be repeated while the outbox is unsure it went: wait until WhatsApp
    // reported every one delivered, then count.
    let mut last = Value::Null;
    let delivered = poll_until(Duration::from_secs(120), || {
        last = server.api(
            &token,
            reqwest::Method::GET,
            &format!("campaigns/{id}"),
            Value::Null,
        );
        (last["counts"]["delivered"] == recipients as u64).then_some(())
    });
    assert!(delivered.is_some(), "not every template delivered: {last}");
    let counts = templates(&sim);
    for c in &customers {
        assert_eq!(counts.get(c), Some(&1), "{c} got the campaign once");
    }
    assert_eq!(counts.len(), recipients);
    eprintln!(
        "campaign kill test: {recipients} recipients, {before} sent before the kill; simulator stats {}",
        sim.stats()
    );
}
