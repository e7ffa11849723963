//! Messages beyond plain text, end to end on the real server and its simulator: a reply that
//! quotes the customer, reactions, a file uploaded and sent and fetched back, and templates, the
//! only thing WhatsApp delivers once the 24-hour window has closed. Each refusal is checked for
//! its precise status and code, and for sending nothing.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A customer writes through the simulator, `age_secs` ago.
async fn customer_writes(api: &Api, sim: &str, from: &str, text: &str, age_secs: u64) {
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(&json!({"from": from, "name": "Olga", "text": text, "age_secs": age_secs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The conversation with `from` once its message is stored, and that message's key and wamid.
async fn conversation_of(api: &Api, owner: &Auth, from: &str) -> (String, String, String) {
    eventually(
        "the customer's conversation",
        Duration::from_secs(10),
        || async {
            let list = api.get("conversations", owner).await;
            let c = list.body["items"]
                .as_array()?
                .iter()
                .find(|c| c["customer"].as_str() == Some(from))?
                .clone();
            let id = c["id"].as_str()?.to_owned();
            let history = api
                .get(&format!("conversations/{id}/messages"), owner)
                .await;
            let m = history.body["items"].as_array()?.first()?.clone();
            Some((
                id,
                m["key"].as_str()?.to_owned(),
                m["wamid"].as_str()?.to_owned(),
            ))
        },
    )
    .await
}

/// The simulator's record of what the business sent, newest last.
async fn sent(api: &Api, sim: &str) -> Vec<Value> {
    sim_get::<Vec<Value>>(&api.client, sim, "sent").await
}

/// The conversation's history once a message of `kind` is in it.
async fn stored(api: &Api, owner: &Auth, id: &str, kind: &str) -> Value {
    eventually(kind, Duration::from_secs(10), || async {
        let history = api
            .get(&format!("conversations/{id}/messages"), owner)
            .await;
        history.body["items"]
            .as_array()?
            .iter()
            .find(|m| m["kind"] == kind)
            .cloned()
    })
    .await
}

/// Reacts to `message` (a key) with `emoji`.
async fn react(api: &Api, auth: &Auth, id: &str, message: Value, emoji: &str) -> Answer {
    let body = json!({"message": message, "emoji": emoji});
    api.send(
        Method::POST,
        &format!("conversations/{id}/reactions"),
        auth,
        body,
    )
    .await
}

/// Uploads `bytes` as `mime` to the conversation.
async fn upload(api: &Api, auth: &Auth, id: &str, mime: &str, bytes: Vec<u8>) -> Answer {
    let path = format!("conversations/{id}/media?filename=price%20list.png");
    api.raw(Method::POST, &path, auth, mime, bytes).await
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(len, 7);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_reactions_files_and_templates_reach_the_customer() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    customer_writes(&api, &sim, "79161234567", "Is the price list ready?", 0).await;
    let (id, key, wamid) = conversation_of(&api, &owner, "79161234567").await;
    let messages = format!("conversations/{id}/messages");

    // A reply quoting the customer's message carries WhatsApp's context.
    let a = api
        .send(
            Method::POST,
            &messages,
            &owner,
            json!({"text": "Yes, here it is", "reply_to": key, "key": "q1"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let quoted = eventually("the quoting reply", Duration::from_secs(10), || async {
        let history = api.get(&messages, &owner).await;
        history.body["items"]
            .as_array()?
            .iter()
            .find(|m| m["direction"] == "outbound" && m["kind"] == "text")
            .cloned()
    })
    .await;
    assert_eq!(quoted["reply_to"], wamid.as_str(), "{quoted:?}");
    let out = sent(&api, &sim).await;
    assert_eq!(
        out.last().unwrap()["body"]["context"]["message_id"],
        wamid.as_str()
    );

    // Quoting a message of another conversation (or none) is refused, and nothing goes out.
    let a = api
        .send(
            Method::POST,
            &messages,
            &owner,
            json!({"text": "x", "reply_to": "m_not_here"}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_message")
    );

    // A reaction lands on the customer's message; a bad emoji is refused.
    let a = react(&api, &owner, &id, json!(key), "👍").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let reaction = stored(&api, &owner, &id, "reaction").await;
    assert_eq!(
        (reaction["text"].as_str(), reaction["reaction_to"].as_str()),
        (Some("👍"), Some(wamid.as_str()))
    );
    let a = react(&api, &owner, &id, json!(key), "thumbs up").await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "rejected")
    );
    let a = react(&api, &owner, &id, json!(reaction["key"]), "👍").await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "rejected")
    );

    // Files: refused for a type WhatsApp does not take, for contents that are not what they
    // claim, when empty, and over WhatsApp's limit for the kind (5 MB for images).
    let before = sent(&api, &sim).await.len();
    let a = upload(&api, &owner, &id, "image/gif", b"GIF89a....".to_vec()).await;
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let a = upload(
        &api,
        &owner,
        &id,
        "image/png",
        b"MZ\x90\x00 not a png".to_vec(),
    )
    .await;
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_that_type"))
    );
    let a = upload(&api, &owner, &id, "image/png", Vec::new()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = upload(&api, &owner, &id, "image/png", png(5 * 1024 * 1024 + 1)).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", a.body);
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("5242880"));
    // Beyond the server's own upload limit (16 MiB) the body is drained, never kept.
    let a = upload(&api, &owner, &id, "application/pdf", vec![b'%'; 17 << 20]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);

    // A real upload, then the image sent with a caption, then fetched back by its message.
    let file = png(4096);
    let a = upload(&api, &owner, &id, "image/png", file.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(
        (
            a.body["kind"].as_str(),
            a.body["filename"].as_str(),
            a.body["bytes"].as_u64()
        ),
        (Some("image"), Some("price list.png"), Some(4096))
    );
    let media = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(sent(&api, &sim).await.len(), before, "uploads send nothing");
    let a = api
        .send(
            Method::POST,
            &messages,
            &owner,
            json!({"media": {"id": media, "kind": "image"}, "text": "Prices for December"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let image = stored(&api, &owner, &id, "image").await;
    assert_eq!(image["text"], "Prices for December");
    assert_eq!(image["media"]["id"], media.as_str());
    let out = sent(&api, &sim).await;
    assert_eq!(out.last().unwrap()["body"]["image"]["id"], media.as_str());
    let Auth::Bearer(token) = &owner else {
        unreachable!()
    };
    let file_url = format!(
        "{}/api/v1/conversations/{id}/messages/{}/media",
        api.base,
        image["key"].as_str().unwrap()
    );
    let fetch = || api.client.get(&file_url).bearer_auth(token).send();
    let fetched = fetch().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.headers()["x-content-type-options"], "nosniff");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), file.as_slice());
    // The agent's file was kept as it was uploaded: it opens after WhatsApp's 30 days too.
    let kept = stored(&api, &owner, &id, "image").await;
    assert_eq!(kept["media"]["copy"], "kept");
    let r = api
        .client
        .post(format!("{sim}/_sim/media/expire"))
        .json(&json!({"media_id": media}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let again = fetch().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.bytes().await.unwrap().as_ref(), file.as_slice());
    // A message without a file has none to fetch.
    let a = api
        .get(&format!("conversations/{id}/messages/{key}/media"), &owner)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // A caption on audio, or a kind that does not exist, is refused.
    for (body, code) in [
        (
            json!({"media": {"id": media, "kind": "audio"}, "text": "listen"}),
            "rejected",
        ),
        (
            json!({"media": {"id": media, "kind": "hologram"}}),
            "rejected",
        ),
        (
            json!({"media": {"id": "../x", "kind": "image"}}),
            "rejected",
        ),
    ] {
        let a = api.send(Method::POST, &messages, &owner, body).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    // Ambiguous or empty messages are a 400.
    for body in [
        json!({}),
        json!({"media": {"id": media, "kind": "image"},
               "template": {"name": "hello_world", "language": "en_US"}}),
    ] {
        let a = api.send(Method::POST, &messages, &owner, body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    }

    // The number's approved templates (a rejected one is not offered).
    let templates = api
        .get(&format!("conversations/{id}/templates"), &owner)
        .await;
    assert_eq!(templates.status, StatusCode::OK, "{:?}", templates.body);
    let items = templates.body["items"].as_array().unwrap();
    let names: Vec<(&str, &str, u64)> = items
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["language"].as_str().unwrap(),
                t["params"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(names.contains(&("order_update", "ru", 2)), "{names:?}");
    assert!(!names.iter().any(|(n, ..)| *n == "follow_up"), "{names:?}");

    // A customer who last wrote two days ago: free text is refused, a template goes, and history
    // shows the text the customer received.
    customer_writes(&api, &sim, "79990001122", "Old question", 2 * 86_400).await;
    let (old, _, _) = conversation_of(&api, &owner, "79990001122").await;
    let old_messages = format!("conversations/{old}/messages");
    let a = api
        .send(
            Method::POST,
            &old_messages,
            &owner,
            json!({"text": "Hello?"}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "outside_window")
    );
    for (template, why) in [
        (
            json!({"name": "order_update", "language": "en_US", "params": ["Olga"]}),
            "takes 2",
        ),
        (
            json!({"name": "follow_up", "language": "en_US", "params": ["Olga"]}),
            "no approved",
        ),
        (
            json!({"name": "order_update", "language": "en_US", "params": ["Olga", "A\nB"]}),
            "new lines",
        ),
    ] {
        let a = api
            .send(
                Method::POST,
                &old_messages,
                &owner,
                json!({"template": template}),
            )
            .await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "rejected")
        );
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
    let a = api
        .send(
            Method::POST,
            &old_messages,
            &owner,
            json!({"template": {"name": "order_update", "language": "en_US",
                                "params": ["Olga", "A-1042"]}, "key": "t1"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let template = stored(&api, &owner, &old, "template").await;
    assert_eq!(
        template["text"],
        "Hi Olga, your order A-1042 is on its way. Reply here if you have any questions."
    );
    let out = sent(&api, &sim).await;
    let last = &out.last().unwrap()["body"]["template"];
    assert_eq!(last["name"], "order_update");
    assert_eq!(last["components"][0]["parameters"][1]["text"], "A-1042");
    running.shutdown().await;
}
