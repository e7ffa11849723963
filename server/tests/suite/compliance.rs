//! The outgoing word filter end to end, on the real server and its simulator: term lists made
//! and replaced through the API (each bad list refused with the field named), replies over REST
//! and over the socket blocked with the matched spans and nothing sent, warnings confirmed,
//! blocks overridden only by those allowed, with a reason, and every block and override audited.

use crate::common;

use std::time::Duration;

use common::ws::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What the simulator received from the business, as texts.
async fn sent_texts(api: &Api, sim: &str) -> Vec<String> {
    sim_get::<Vec<Value>>(&api.client, sim, "sent")
        .await
        .iter()
        .filter_map(|m| m["body"]["text"]["body"].as_str().map(str::to_owned))
        .collect()
}

async fn reply(api: &Api, auth: &Auth, id: &str, body: Value) -> Answer {
    api.send(
        Method::POST,
        &format!("conversations/{id}/messages"),
        auth,
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_words_never_leave_and_every_block_and_override_is_audited() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    // Someone who reads and answers every conversation but may not override the filter.
    let role = api
        .send(
            Method::POST,
            "roles",
            &owner,
            json!({"name": "Replier", "permissions":
                   ["conversations.read.all", "conversations.reply"]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{:?}", role.body);
    let a = api
        .send(
            Method::POST,
            "users",
            &owner,
            json!({"email": "agent@demo.example", "name": "Agent", "role": role.body["id"],
                   "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let agent = api.token("agent@demo.example").await;

    let spam = api
        .send(
            Method::POST,
            "compliance/term-lists",
            &owner,
            json!({"name": "Spam", "category": "spam", "action": "block",
                   "terms": ["free", "win", "бесплатн*"], "exceptions": ["free shipping"],
                   "patterns": ["card_number"]}),
        )
        .await;
    assert_eq!(spam.status, StatusCode::CREATED, "{:?}", spam.body);
    assert_eq!(spam.body["version"], 1);
    let warn = api
        .send(
            Method::POST,
            "compliance/term-lists",
            &owner,
            json!({"name": "Careful", "action": "warn", "terms": ["cheap"]}),
        )
        .await;
    assert_eq!(warn.status, StatusCode::CREATED, "{:?}", warn.body);

    customer_writes(&api, &sim, "79161234567", "Hello, any offers?").await;
    let id = conversation_of(&api, &owner, "79161234567").await;

    // Blocked, with the span of what matched in the text as written; nothing queued or sent.
    let text = "Get your FR33 gift now";
    let a = reply(&api, &agent, &id, json!({"text": text})).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "blocked_by_filter"),
        "{:?}",
        a.body
    );
    let m = &a.body["error"]["matches"][0];
    let (start, end) = (
        m["start"].as_u64().unwrap() as usize,
        m["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[start..end], "FR33");
    assert_eq!(
        (m["term"].as_str(), m["field"].as_str()),
        (Some("free"), Some("text"))
    );
    // Look-alikes, spacing and Russian endings are caught too; the exception is not.
    for evasion in [
        "f r e e",
        "frее",
        "БЕСПЛАТНАЯ доставка",
        "card 4111 1111 1111 1111",
    ] {
        let a = reply(&api, &agent, &id, json!({"text": evasion})).await;
        assert_eq!(a.code(), "blocked_by_filter", "{evasion}: {:?}", a.body);
    }
    let a = reply(
        &api,
        &agent,
        &id,
        json!({"text": "Free shipping on every order"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);

    // A warning needs the sender's confirmation.
    let a = reply(&api, &agent, &id, json!({"text": "A cheap one?"})).await;
    assert_eq!(a.code(), "needs_confirmation", "{:?}", a.body);
    let a = reply(
        &api,
        &agent,
        &id,
        json!({"text": "A cheap one?", "confirm_warnings": true}),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);

    // An agent cannot override a block; the owner can, with a reason.
    let overriding = json!({"text": "You win a free upgrade", "override_reason": "Contest winner"});
    let a = reply(&api, &agent, &id, overriding.clone()).await;
    assert_eq!(a.code(), "blocked_by_filter", "{:?}", a.body);
    let a = reply(&api, &owner, &id, overriding).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);

    // Over the socket: the same refusal, with the matches in the error frame.
    let mut socket = connect(&api, Some(&agent)).await;
    assert_eq!(next(&mut socket).await["type"], "ready");
    send(
        &mut socket,
        json!({"type": "send_message", "id": "s1", "conversation": id, "text": "w1n big"}),
    )
    .await;
    let refused = until(&mut socket, |f| f["type"] == "error").await;
    assert_eq!(refused["code"], "blocked_by_filter", "{refused}");
    assert_eq!(refused["matches"][0]["text"], "w1n");

    // Exactly the three allowed messages reached the customer.
    let sent = eventually("the allowed replies", Duration::from_secs(10), || async {
        let texts = sent_texts(&api, &sim).await;
        (texts.len() >= 3).then_some(texts)
    })
    .await;
    assert_eq!(
        sent,
        [
            "Free shipping on every order",
            "A cheap one?",
            "You win a free upgrade"
        ]
    );

    // Audited: the blocks (denied), the confirmation and the override with its reason.
    let log = api.get("audit?limit=100", &owner).await;
    let lines: Vec<&Value> = log.body["items"].as_array().unwrap().iter().collect();
    let count = |action: &str| lines.iter().filter(|l| l["action"] == action).count();
    assert!(count("message.filter_block") >= 7, "{:?}", log.body);
    assert_eq!(count("message.filter_confirm"), 1);
    let overridden = lines
        .iter()
        .find(|l| l["action"] == "message.filter_override")
        .unwrap();
    assert_eq!(overridden["after"]["reason"], "Contest winner");
    assert_eq!(overridden["after"]["matches"][0]["term"], "win");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lists_are_refused_with_the_field_named_and_changes_apply_at_once() {
    let (_running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let create = |body: Value| {
        let (api, owner) = (&api, &owner);
        async move {
            api.send(Method::POST, "compliance/term-lists", owner, body)
                .await
        }
    };
    let cases = [
        (json!({"name": "", "terms": ["x"]}), "name"),
        (json!({"name": "A", "terms": ["ok", " -- "]}), "terms[1]"),
        (json!({"name": "A", "terms": []}), "terms"),
        (
            json!({"name": "A", "terms": ["x"], "teams": ["t_nope"]}),
            "teams[0]",
        ),
        (
            json!({"name": "A", "terms": ["x"], "exceptions": ["\u{200B}"]}),
            "exceptions[0]",
        ),
    ];
    for (body, field) in cases {
        let a = create(body.clone()).await;
        assert_eq!(
            (a.status, a.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {:?}",
            a.body
        );
    }
    // A million terms: refused with the limit named, not a vague error.
    let million: Vec<String> = (0..1_000_000).map(|i| format!("t{i}")).collect();
    let a = create(json!({"name": "Huge", "terms": million})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 50000"));
    let a = create(json!({"name": "A", "terms": ["x"], "action": "shout"})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert!(api.get("compliance/term-lists", &owner).await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // Made, checked, replaced over its version, and a stale replacement refused.
    let a = create(json!({"name": "Words", "terms": ["casino"]})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let path = format!("compliance/term-lists/{}", a.body["id"].as_str().unwrap());
    let check = |text: &'static str| {
        let (api, owner) = (&api, &owner);
        async move {
            api.send(
                Method::POST,
                "compliance/check",
                owner,
                json!({"text": text}),
            )
            .await
        }
    };
    assert_eq!(check("Best c4s1n0 in town").await.body["verdict"], "block");
    let a = api
        .send(
            Method::PUT,
            &path,
            &owner,
            json!({"name": "Words", "terms": ["poker"], "version": 1}),
        )
        .await;
    assert_eq!((a.status, &a.body["version"]), (StatusCode::OK, &json!(2)));
    assert_eq!(check("Best casino in town").await.body["verdict"], "clear");
    assert_eq!(check("POKER night").await.body["verdict"], "block");
    let a = api
        .send(
            Method::PUT,
            &path,
            &owner,
            json!({"name": "Words", "terms": ["dice"], "version": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
    let a = api.call(Method::DELETE, &path, &owner, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(check("POKER night").await.body["verdict"], "clear");
}
