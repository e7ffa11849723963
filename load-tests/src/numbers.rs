//! `number_add`: numbers connected at run time (issue 23: "the first webhook for it is accepted
//! within 1 s of saving"). For each of 200 numbers (`--smoke`: 10), the owner connects it over
//! REST (`POST /api/v1/numbers`, its own app secret), then a webhook for it, signed by that app,
//! is posted at once; measured is the time from the start of the save to the webhook's `200`.
//! Meta is unreachable here (port 9), so each save's check with Meta fails at once and the
//! number is saved flagged: the figure is Switchboard's part, not Meta's answer time.
//!
//! Correctness: every save answers 201 and every first webhook is taken (`violations`
//! otherwise); afterwards each number's message is in the workspace's inbox (`lost`).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};

use crate::idle::{default_number, serve_with_owner};
use crate::ingest::{percentile_ms, pin_self, sign_with, SECRET};
use crate::{procinfo, sibling_binary, Cli};

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let switchboard = sibling_binary("switchboard")?;
    let served = serve_with_owner(
        &switchboard,
        &default_number(SECRET),
        "[whatsapp]\nmax_retries = 0\nrequest_timeout_secs = 1\n",
    )
    .await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let count: u64 = if cli.smoke { 10 } else { 200 };
    let mut latencies_us = Vec::with_capacity(count as usize);
    let mut violations = 0u64;
    for i in 0..count {
        let number = format!("77{:013}", i);
        let secret = format!("app-secret-of-{number}");
        let waba = format!("88{i}");
        let started = Instant::now();
        let saved = client
            .post(format!("{}/api/v1/numbers", served.base))
            .bearer_auth(&served.token)
            .json(&json!({
                "phone_number_id": number, "display_phone_number": format!("1555{i:07}"),
                "waba_id": waba, "graph_api_url": "http://127.0.0.1:9/v23.0",
                "access_token": "load-token", "app_secret": secret, "verify_token": "v",
            }))
            .send()
            .await?;
        if saved.status().as_u16() != 201 {
            violations += 1;
            continue;
        }
        let body = json!({"object": "whatsapp_business_account",
            "entry": [{"id": waba, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": format!("1555{i:07}"), "phone_number_id": number},
                "contacts": [{"profile": {"name": "New"}, "wa_id": format!("4915{i:09}")}],
                "messages": [{"from": format!("4915{i:09}"), "id": format!("wamid.add.{i}"),
                              "timestamp": "1749416383", "type": "text", "text": {"body": "hi"}}]}}]}]})
        .to_string();
        let taken = client
            .post(format!("{}/webhooks/whatsapp", served.base))
            .header("x-hub-signature-256", sign_with(&secret, body.as_bytes()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let elapsed = started.elapsed();
        if taken.status().as_u16() == 200 {
            latencies_us.push(elapsed.as_micros().min(u128::from(u32::MAX)) as u32);
        } else {
            violations += 1;
        }
    }
    // Every first webhook's customer reached the inbox (bounded wait on state).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0u64;
    while Instant::now() < deadline {
        let page = served
            .api(
                &client,
                reqwest::Method::GET,
                "conversations?limit=200",
                None,
            )
            .await?;
        seen = page["items"].as_array().map_or(0, |items| {
            items
                .iter()
                .filter(|c| c["number"].as_str().is_some_and(|n| n.starts_with("77")))
                .count() as u64
        });
        if seen >= count - violations {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let max_ms = latencies_us
        .iter()
        .max()
        .map_or(0.0, |m| f64::from(*m) / 1000.0);
    Ok(json!({
        "scenario": "number_add",
        "smoke": cli.smoke,
        "numbers": count,
        "save_to_first_webhook_taken_ms": {
            "p50": percentile_ms(&mut latencies_us, 0.5),
            "p99": percentile_ms(&mut latencies_us, 0.99),
            "max": max_ms,
        },
        "target_ms": 1000,
        "violations": violations,
        "lost": (count - violations).saturating_sub(seen),
        "duplicated": 0,
        "load_average_before": load_before,
    }))
}
