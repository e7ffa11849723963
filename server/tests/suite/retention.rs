//! Retention end to end on the real server and its simulator: a policy, a hold on a contact
//! and one on a date range, a dry run whose counts equal an independent count of what the test
//! sent, a purge that does exactly what the dry run said (same counts, same digest) and leaves
//! everything held, a receipt in the audit log, a file that no longer opens, search that no
//! longer finds what went, and a second purge that finds nothing. Bad policies and holds are
//! refused with the field they got wrong.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DAY: u64 = 86_400;

async fn writes(api: &Api, sim: &str, from: &str, text: &str, days_ago: u64) {
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(&json!({"from": from, "name": "Olga", "text": text, "age_secs": days_ago * DAY}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The conversation's messages, oldest first, once there are `n`.
async fn history(api: &Api, owner: &Auth, from: &str, n: usize) -> (String, Vec<Value>) {
    let id = conversation_of(api, owner, from).await;
    let items = eventually(
        &format!("{n} messages from {from}"),
        Duration::from_secs(20),
        || async {
            let h = api
                .get(&format!("conversations/{id}/messages"), owner)
                .await;
            let mut items = h.body["items"].as_array()?.clone();
            (items.len() == n).then(|| {
                items.reverse();
                items
            })
        },
    )
    .await;
    (id, items)
}

/// The figures of a report that say what was removed (not when, nor whether it was a dry run).
fn figures(r: &Value) -> Value {
    json!({
        "conversations": r["conversations"], "messages": r["messages"], "texts": r["texts"],
        "files": r["files"], "bytes": r["bytes"], "held_conversations": r["held_conversations"],
        "held_messages": r["held_messages"], "digest": r["digest"],
        "policy_version": r["policy_version"],
    })
}

#[tokio::test]
async fn a_purge_removes_exactly_what_its_dry_run_said_and_nothing_held() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let (ada, bea, cid) = ("79161110001", "79161110002", "79161110003");
    writes(&api, &sim, ada, "zebra alpha", 400).await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(5_000, 4);
    let image = customer_sends_image(&api, &sim, ada, png.clone(), 200 * DAY).await;
    writes(&api, &sim, ada, "zebra beta", 200).await;
    writes(&api, &sim, ada, "zebra gamma", 1).await;
    writes(&api, &sim, bea, "zebra held contact", 400).await;
    writes(&api, &sim, cid, "zebra out of range", 400).await;
    writes(&api, &sim, cid, "zebra in range", 300).await;
    let (a, before) = history(&api, &owner, ada, 4).await;
    history(&api, &owner, bea, 1).await;
    history(&api, &owner, cid, 2).await;
    let image_key = before[1]["key"].as_str().unwrap().to_owned();
    eventually("the image kept", Duration::from_secs(20), || async {
        let h = api
            .get(&format!("conversations/{a}/messages"), &owner)
            .await;
        h.body["items"]
            .as_array()?
            .iter()
            .any(|m| m["media"]["copy"] == "kept")
            .then_some(())
    })
    .await;

    // Bad policies name their field; a good one is saved.
    for (body, field) in [
        (json!({"default": {"text_days": 30}}), "default.text_days"),
        (
            json!({"default": {"text_days": 200, "metadata_days": 100}}),
            "default.metadata_days",
        ),
        (
            json!({"default": {}, "numbers": [{"number": "999", "text_days": 90, "metadata_days": 90}]}),
            "numbers[0].number",
        ),
        (json!({"audit_days": 5000}), "audit_days"),
    ] {
        let r = api
            .send(Method::PUT, "retention/policy", &owner, body)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{:?}", r.body);
    }
    let r = api
        .send(
            Method::PUT,
            "retention/policy",
            &owner,
            json!({"default": {"text_days": 90, "media_days": 90, "metadata_days": 365}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["version"], 1);

    // Holds: on Bea (a contact) and on the days around Cid's 300-day-old message.
    let contacts = api.get(&format!("contacts?q={bea}"), &owner).await;
    let bea_contact = contacts.body["items"][0]["id"].as_str().unwrap().to_owned();
    let now = switchboard_server::domain::now_ms();
    let day_ms = DAY as i64 * 1000;
    for (target, field) in [
        (
            json!({"kind": "contact", "contact": "c_nobody"}),
            "target.contact",
        ),
        (json!({"kind": "range", "from": 10, "to": 10}), "target.to"),
    ] {
        let r = api
            .send(
                Method::POST,
                "retention/holds",
                &owner,
                json!({"target": target, "reason": "case 7"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], field);
    }
    for target in [
        json!({"kind": "contact", "contact": bea_contact}),
        json!({"kind": "range", "from": now - 301 * day_ms, "to": now - 299 * day_ms}),
    ] {
        let r = api
            .send(
                Method::POST,
                "retention/holds",
                &owner,
                json!({"target": target, "reason": "Matter 2026-114"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    assert_eq!(
        api.get("retention/holds", &owner)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = api
        .send(
            Method::DELETE,
            "retention/holds/lh_nothing",
            &owner,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Counted independently from what was sent: Ada loses "alpha" whole, the image's file, and
    // the text of the image and "beta"; Cid loses "out of range" whole and keeps the held one;
    // Bea is held whole.
    let expected = json!({
        "conversations": 2, "messages": 2, "texts": 2, "files": 1, "bytes": png.len(),
        "held_conversations": 1, "held_messages": 1,
    });
    let dry = api
        .send(Method::POST, "retention/dry-run", &owner, json!(null))
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{:?}", dry.body);
    assert_eq!(dry.body["dry_run"], true);
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&dry.body[k], v, "dry run's {k}: {:?}", dry.body);
    }
    assert_eq!(
        history(&api, &owner, ada, 4).await.1.len(),
        4,
        "a dry run removes nothing"
    );

    let r = api
        .send(Method::POST, "retention/purge", &owner, json!(null))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let receipt = eventually("the purge's receipt", Duration::from_secs(30), || async {
        let s = api.get("retention/status", &owner).await;
        (s.body["running"] == false && s.body["last"].is_object()).then(|| s.body["last"].clone())
    })
    .await;
    assert_eq!(receipt["dry_run"], false);
    assert_eq!(figures(&receipt), figures(&dry.body), "{receipt:?}");

    // What is left is what the policy and the holds say.
    let (_, ada_left) = history(&api, &owner, ada, 3).await;
    let texts: Vec<Value> = ada_left.iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [Value::Null, Value::Null, json!("zebra gamma")]);
    assert_eq!(ada_left[0]["media"]["copy"], "purged");
    let (_, bea_left) = history(&api, &owner, bea, 1).await;
    assert_eq!(bea_left[0]["text"], "zebra held contact");
    let (_, cid_left) = history(&api, &owner, cid, 1).await;
    assert_eq!(cid_left[0]["text"], "zebra in range");
    let file = api
        .get(
            &format!("conversations/{a}/messages/{image_key}/media"),
            &owner,
        )
        .await;
    assert_eq!(
        (file.status, file.code()),
        (StatusCode::GONE, "media_gone"),
        "{image}"
    );
    let found = api.get("search?q=zebra", &owner).await;
    let mut hits: Vec<String> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"]["text"].as_str().unwrap().to_owned())
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        ["zebra gamma", "zebra held contact", "zebra in range"]
    );

    // The receipt is in the audit log; a second purge finds nothing more.
    let log = api.get("audit?action=retention.purge", &owner).await;
    let line = &log.body["items"][0];
    assert_eq!(figures(&line["after"]), figures(&receipt), "{line:?}");
    let again = api
        .send(Method::POST, "retention/dry-run", &owner, json!(null))
        .await;
    for k in ["conversations", "messages", "texts", "files"] {
        assert_eq!(again.body[k], 0, "{k} after the purge: {:?}", again.body);
    }

    // Erasure is refused while a hold covers the customer, and works once it is released.
    let r = api
        .send(
            Method::DELETE,
            &format!("contacts/{bea_contact}"),
            &owner,
            json!(null),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "under_legal_hold")
    );
    let holds = api.get("retention/holds", &owner).await;
    let on_bea = holds
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["target"]["kind"] == "contact");
    let hold_id = on_bea.unwrap()["id"].as_str().unwrap().to_owned();
    let r = api
        .send(
            Method::DELETE,
            &format!("retention/holds/{hold_id}"),
            &owner,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .send(
            Method::DELETE,
            &format!("contacts/{bea_contact}"),
            &owner,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    running.shutdown().await;
}
