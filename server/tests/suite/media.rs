//! Files kept: a customer's file is copied after the webhook is acknowledged and still opens
//! once WhatsApp has dropped it (the simulator expires media on demand); the same file is kept
//! once; a blob store that refuses writes loses nothing (the copy is retried until it works);
//! a file over the configured cap is not kept and says so.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A PNG of `n` bytes (a real signature, then filler).
fn png(n: usize, fill: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(n, fill);
    bytes
}

/// The conversation's image message once its copy is `state` (history says where it stands).
async fn image_when(api: &Api, owner: &Auth, id: &str, media: &str, state: &str) -> Value {
    eventually(
        &format!("the file's copy {state}"),
        Duration::from_secs(30),
        || async {
            let history = api
                .get(&format!("conversations/{id}/messages"), owner)
                .await;
            history.body["items"]
                .as_array()?
                .iter()
                .find(|m| m["media"]["id"] == media && m["media"]["copy"] == state)
                .cloned()
        },
    )
    .await
}

async fn expire_at_whatsapp(api: &Api, sim: &str) {
    let r = api
        .client
        .post(format!("{sim}/_sim/media/expire"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// GET the message's file: its status and bytes.
async fn open(api: &Api, owner: &Auth, id: &str, key: &str) -> (StatusCode, Vec<u8>) {
    let path = format!("conversations/{id}/messages/{key}/media");
    let (status, _, bytes) = api.bytes(&path, owner).await;
    (status, bytes)
}

#[tokio::test]
async fn a_customer_s_file_opens_after_whatsapp_dropped_it_and_is_kept_once() {
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let media_dir = dir.path().join("data/media");
    let file = png(20_000, 7);
    let first = customer_sends_image(&api, &sim, "79161230001", file.clone(), 0).await;
    let id = conversation_of(&api, &owner, "79161230001").await;
    let image = image_when(&api, &owner, &id, &first, "kept").await;
    // The same bytes from another customer: a second record, one blob.
    let again = customer_sends_image(&api, &sim, "79161230002", file.clone(), 0).await;
    let other = conversation_of(&api, &owner, "79161230002").await;
    image_when(&api, &owner, &other, &again, "kept").await;
    assert_eq!(blobs(&media_dir), 1, "the same file is kept once");

    expire_at_whatsapp(&api, &sim).await;
    let (status, bytes) = open(&api, &owner, &id, image["key"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, file, "the kept copy, byte for byte");

    // A kept file whose blob went missing (a restored backup without its media) once WhatsApp
    // dropped it too: gone, and said so.
    let lost = customer_sends_image(&api, &sim, "79161230003", png(100, 1), 0).await;
    let third = conversation_of(&api, &owner, "79161230003").await;
    let image = image_when(&api, &owner, &third, &lost, "kept").await;
    let blob = media_dir.join("sha256");
    std::fs::remove_dir_all(&blob).unwrap();
    expire_at_whatsapp(&api, &sim).await;
    let (status, _) = open(&api, &owner, &third, image["key"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::GONE,
        "a missing blob and no file at WhatsApp is a 410, never another file"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_blob_store_that_refuses_writes_loses_no_file() {
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let media_dir = dir.path().join("data/media");
    // Something in the way of every blob: writes fail until it is gone.
    std::fs::write(media_dir.join("sha256"), b"in the way").unwrap();
    let file = png(3_000, 9);
    let media = customer_sends_image(&api, &sim, "79161230010", file.clone(), 0).await;
    let id = conversation_of(&api, &owner, "79161230010").await;
    // The webhook was acknowledged and the message stored; the copy waits, retried.
    image_when(&api, &owner, &id, &media, "pending").await;
    eventually(
        "a failed attempt at the copy",
        Duration::from_secs(30),
        || async {
            let metrics = api
                .client
                .get(format!("{}/metrics", api.base))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            metrics
                .lines()
                .any(|l| l.starts_with("switchboard_media_copies_total{outcome=\"retry\"}"))
                .then_some(())
        },
    )
    .await;
    std::fs::remove_file(media_dir.join("sha256")).unwrap();
    let image = image_when(&api, &owner, &id, &media, "kept").await;
    expire_at_whatsapp(&api, &sim).await;
    let (status, bytes) = open(&api, &owner, &id, image["key"].as_str().unwrap()).await;
    assert_eq!((status, bytes), (StatusCode::OK, file));
    running.shutdown().await;
}

#[tokio::test]
async fn a_file_over_the_cap_is_not_kept_and_says_so() {
    let (running, api, owner, _dir) =
        demo("customers = 0\ndemo_replies = false\n[media]\nmax_file_mib = 1").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let big = png(1024 * 1024 + 1, 3);
    let media = customer_sends_image(&api, &sim, "79161230020", big.clone(), 0).await;
    let id = conversation_of(&api, &owner, "79161230020").await;
    let image = image_when(&api, &owner, &id, &media, "too_large").await;
    let key = image["key"].as_str().unwrap();
    // WhatsApp still has it: it opens from there.
    assert_eq!(
        open(&api, &owner, &id, key).await,
        (StatusCode::OK, big),
        "WhatsApp's copy while it lasts"
    );
    expire_at_whatsapp(&api, &sim).await;
    let (status, _) = open(&api, &owner, &id, key).await;
    assert_eq!(status, StatusCode::GONE);
    running.shutdown().await;
}
