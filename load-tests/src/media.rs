//! `media_ack`: what keeping files costs a webhook's acknowledgement. The real server (durable
//! store, `synchronous = "full"`) takes signed customer-message webhooks at a fixed 500/s, in
//! alternating phases: plain texts, then images whose files the real simulator holds (a distinct
//! 16 KiB file per message, registered beforehand through `/_sim/media`). A file's copy is only
//! queued with its message before the 200 (the media keeper downloads it afterwards, from the
//! simulator, into the blob store), so the target is the image phase's acknowledgement p50
//! within 1 ms of the text phase's.
//!
//! Correctness: every webhook answered 200 (`violations` otherwise), and every acknowledged
//! image's file is copied into the blob store afterwards (`lost`: the server's
//! `switchboard_media_copies_total{outcome="stored"}` falls short of the images acknowledged
//! within a minute of the last one).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::idle::{number_toml, serve_with_owner};
use crate::ingest::{free_port, pin_self, sign, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const NUMBER: &str = "106540352242930";
const RATE: u64 = 500;
/// Images (and texts) of the smoke run.
const SMOKE_FILES: u64 = 200;
const FILE_BYTES: usize = 16 * 1024;

/// A customer message webhook: a text, or an image carrying `media`.
fn webhook(phase: &str, seq: u64, media: Option<&str>) -> Bytes {
    let customer = format!("4917{:08}", seq % 100_000_000);
    let wamid = format!("wamid.media-{phase}-{seq}");
    let message = match media {
        None => json!({"from": customer, "id": wamid, "timestamp": "1750000000", "type": "text",
            "text": {"body": format!("Photo of my order {seq} comes next")}}),
        Some(id) => json!({"from": customer, "id": wamid, "timestamp": "1750000000",
            "type": "image", "image": {"id": id, "mime_type": "image/jpeg",
                "sha256": "unused-by-the-server", "caption": format!("Order {seq}")}}),
    };
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
            "contacts": [{"profile": {"name": "Media Load"}, "wa_id": customer}],
            "messages": [message]}}]}]});
    Bytes::from(serde_json::to_vec(&body).expect("serialisable"))
}

#[derive(Default)]
struct Phase {
    latencies_us: Vec<u32>,
    ok: u64,
    refused: u64,
}

impl Phase {
    fn percentile_ms(&mut self, p: f64) -> f64 {
        crate::ingest::percentile_ms(&mut self.latencies_us, p)
    }
}

/// Posts `count` webhooks at [`RATE`] (an open loop); `media` gives the i-th image's file.
async fn phase(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    count: u64,
    media: Option<&[String]>,
) -> Result<Phase> {
    let result = Arc::new(Mutex::new(Phase::default()));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count as usize);
    for seq in 0..count {
        ticker.tick().await;
        let body = webhook(name, seq, media.map(|m| m[seq as usize].as_str()));
        let (client, url, result) = (client.clone(), url.to_owned(), Arc::clone(&result));
        tasks.push(tokio::spawn(async move {
            let signature = sign(&body);
            let started = Instant::now();
            let answer = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await;
            let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
            let mut r = result.lock().expect("not poisoned");
            r.latencies_us.push(us);
            if matches!(answer, Ok(a) if a.status() == 200) {
                r.ok += 1;
            } else {
                r.refused += 1;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let r = std::mem::take(&mut *result.lock().expect("not poisoned"));
    Ok(r)
}

/// The server's count of files copied into the blob store.
async fn stored_copies(client: &reqwest::Client, base: &str) -> Result<u64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| {
            l.starts_with("switchboard_media_copies_total") && l.contains("outcome=\"stored\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let switchboard = sibling_binary("switchboard")?;
    // The smoke run checks that nothing is lost, on few enough files that copying them (each
    // synced to disk) does not dominate the run.
    let count = if cli.smoke {
        SMOKE_FILES
    } else {
        RATE * cli.duration().as_secs()
    };
    let sim_port = free_port()?;
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let served = serve_with_owner(
        &switchboard,
        &number_toml(NUMBER, SECRET, &graph, 80),
        "[store.sqlite]\nsynchronous = \"full\"\n",
    )
    .await?;
    let simulator =
        crate::sim::start(sim_port, &served.base, &["--phone-number-id", NUMBER]).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;

    // A distinct file for every image of every phase, held by the simulator as a customer's.
    let repeats = cli.repeats();
    let mut files: Vec<Vec<String>> = Vec::new();
    for r in 0..repeats {
        let mut ids = Vec::with_capacity(count as usize);
        for i in 0..count {
            let mut bytes = vec![0u8; FILE_BYTES];
            let stamp = format!("{r}-{i}-");
            bytes[..stamp.len()].copy_from_slice(stamp.as_bytes());
            let answer: Value = client
                .post(format!(
                    "{}/_sim/media?phone_number_id={NUMBER}",
                    simulator.url
                ))
                .header("content-type", "image/jpeg")
                .body(bytes)
                .send()
                .await?
                .json()
                .await?;
            ids.push(
                answer["id"]
                    .as_str()
                    .context("the simulator gave no media id")?
                    .to_owned(),
            );
        }
        files.push(ids);
    }

    let url = format!("{}/webhooks/whatsapp", served.base);
    let before = stored_copies(&client, &served.base).await?;
    let (mut text_p50, mut media_p50, mut text_p99, mut media_p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut violations, mut images_acked) = (0u64, 0u64);
    // Alternating phases, so that a drift of the machine falls on both alike.
    for (r, ids) in files.iter().enumerate() {
        let mut text = phase(&client, &url, &format!("t{r}"), count, None).await?;
        let mut media = phase(&client, &url, &format!("m{r}"), count, Some(ids)).await?;
        violations += text.refused + media.refused;
        images_acked += media.ok;
        text_p50.push(text.percentile_ms(0.5));
        media_p50.push(media.percentile_ms(0.5));
        text_p99.push(text.percentile_ms(0.99));
        media_p99.push(media.percentile_ms(0.99));
    }
    let finished = Instant::now();
    // Every acknowledged image's file is copied, after the acknowledgements (bounded wait).
    let mut copied = stored_copies(&client, &served.base).await? - before;
    while copied < images_acked && finished.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        copied = stored_copies(&client, &served.base).await? - before;
    }
    let copy_drain_s = finished.elapsed().as_secs_f64();
    let (text_p50, media_p50) = (median(text_p50), median(media_p50));
    Ok(json!({
        "scenario": "media_ack",
        "smoke": cli.smoke,
        "rate_per_s": RATE,
        "webhooks_per_phase": count,
        "runs": repeats,
        "file_bytes": FILE_BYTES,
        "text": {"p50_ms": round(text_p50), "p99_ms": round(median(text_p99))},
        "image": {"p50_ms": round(media_p50), "p99_ms": round(median(media_p99))},
        "p50_added_ms": round(media_p50 - text_p50),
        "images_acked": images_acked,
        "files_copied": copied,
        "copies_done_after_s": round(copy_drain_s),
        "lost": images_acked.saturating_sub(copied),
        "duplicated": 0,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
