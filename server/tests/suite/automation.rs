//! Keyword rules end to end, on the real server and its simulator: a rule made through the API
//! answers a customer's "Какая ЦЕНА?" through WhatsApp (the simulator), once per cooldown; a
//! shadow rule counts without acting; tags, skills and resolving act on the contact and the
//! conversation; a chatty customer trips the circuit breaker; the test bench explains; every bad
//! rule is refused with the field named.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Waits until the conversation with `from` holds `n` messages (so the next customer message
/// is a later one, not a concurrent one).
async fn stored(api: &Api, owner: &Auth, from: &str, n: usize) -> String {
    eventually(
        "the conversation's messages",
        Duration::from_secs(10),
        || async {
            let list = api.get("conversations", owner).await;
            let id = list.body["items"]
                .as_array()?
                .iter()
                .find(|c| c["customer"].as_str() == Some(from))?["id"]
                .as_str()?
                .to_owned();
            let history = api
                .get(&format!("conversations/{id}/messages?limit=100"), owner)
                .await;
            (history.body["items"].as_array()?.len() >= n).then_some(id)
        },
    )
    .await
}

async fn make(api: &Api, owner: &Auth, rule: Value) -> Answer {
    api.send(Method::POST, "automation/rules", owner, rule)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_answers_a_price_question_once_per_cooldown_and_shadow_rules_only_count() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let price = make(
        &api,
        &owner,
        json!({"name": "Prices", "match": {"mode": "word", "keywords": ["цена", "price"]},
               "actions": [{"reply": {"text": "Цены на сайте: example.com/prices"}}],
               "priority": 10}),
    )
    .await;
    assert_eq!(price.status, StatusCode::CREATED, "{:?}", price.body);
    let shadow = make(
        &api,
        &owner,
        json!({"name": "Watching", "match": {"mode": "contains", "keywords": ["цен"]},
               "actions": [{"reply": {"text": "never sent"}}], "shadow": true, "priority": 20}),
    )
    .await;
    assert_eq!(shadow.status, StatusCode::CREATED, "{:?}", shadow.body);

    customer_writes(&api, &sim, "79161234567", "Какая ЦЕНА?").await;
    let replies = eventually("the keyword reply", Duration::from_secs(10), || async {
        let sent = sent_to(&api, &sim, "79161234567").await;
        (!sent.is_empty()).then_some(sent)
    })
    .await;
    assert_eq!(replies, ["Цены на сайте: example.com/prices"]);
    stored(&api, &owner, "79161234567", 2).await;

    // Within the cooldown the same customer gets no second answer; another customer does.
    customer_writes(&api, &sim, "79161234567", "а цена со скидкой?").await;
    customer_writes(&api, &sim, "79035550000", "price please").await;
    eventually(
        "the second customer's reply",
        Duration::from_secs(10),
        || async { (!sent_to(&api, &sim, "79035550000").await.is_empty()).then_some(()) },
    )
    .await;
    stored(&api, &owner, "79161234567", 3).await;
    assert_eq!(sent_to(&api, &sim, "79161234567").await.len(), 1);

    // The shadow rule counted the two Russian questions and sent nothing; the real one fired
    // for the first customer's first question and for the second customer.
    let hits = |rules: &Value, name: &str| {
        rules["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["name"] == name))
            .and_then(|r| r["hits"].as_u64())
    };
    eventually("the hit counts", Duration::from_secs(10), || async {
        let rules = api.get("automation/rules", &owner).await.body;
        (hits(&rules, "Watching") == Some(2) && hits(&rules, "Prices") == Some(2)).then_some(())
    })
    .await;
    assert!(!sent_to(&api, &sim, "79035550000")
        .await
        .iter()
        .any(|t| t == "never sent"));

    // The test bench explains, without sending.
    let report = api
        .send(
            Method::POST,
            "automation/test",
            &owner,
            json!({"text": "Какая цена?"}),
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    let fired: Vec<&str> = report.body["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["Watching", "Prices"]);
    assert_eq!(report.body["fired"][1]["keyword"], "цена");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_tag_route_and_resolve_and_a_chatty_customer_trips_the_breaker() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let a = api
        .send(
            Method::PUT,
            "tags",
            &owner,
            json!({"name": "wholesale", "colour": "#3366ff"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let rule = make(
        &api,
        &owner,
        json!({"name": "Bulk", "match": {"mode": "fuzzy", "keywords": ["wholesale"]},
               "actions": [{"add_tags": ["WHOLESALE"]}, {"route": {"skill": "sales"}}]}),
    )
    .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let echo = make(
        &api,
        &owner,
        json!({"name": "Echo", "match": {"mode": "regex", "keywords": [r"\bping\b"]},
               "actions": [{"reply": {"text": "pong"}}], "cooldown_secs": 0}),
    )
    .await;
    assert_eq!(echo.status, StatusCode::CREATED, "{:?}", echo.body);

    customer_writes(&api, &sim, "79161112233", "do you sell wholsale?").await;
    let id = stored(&api, &owner, "79161112233", 1).await;
    let conversation = eventually("the skill tag", Duration::from_secs(10), || async {
        let c = api.get(&format!("conversations/{id}"), &owner).await;
        c.body["tags"]
            .as_array()?
            .iter()
            .any(|t| t == "skill:sales")
            .then_some(c.body)
    })
    .await;
    assert_eq!(conversation["tags"], json!(["skill:sales"]));
    let contact = eventually("the contact's tag", Duration::from_secs(10), || async {
        let page = api.get("contacts?q=79161112233", &owner).await;
        let c = page.body["items"].as_array()?.first()?.clone();
        c["tags"]
            .as_array()?
            .iter()
            .any(|t| t == "wholesale")
            .then_some(c)
    })
    .await;
    assert_eq!(contact["tags"], json!(["wholesale"]));

    // Seven pings, no cooldown: the breaker lets five replies through in ten minutes.
    for i in 0..7 {
        customer_writes(&api, &sim, "79161112233", &format!("ping {i}")).await;
        stored(&api, &owner, "79161112233", 2 + i).await;
    }
    eventually("all seven evaluated", Duration::from_secs(10), || async {
        let rules = api.get("automation/rules", &owner).await.body;
        rules["items"]
            .as_array()?
            .iter()
            .any(|r| r["name"] == "Echo" && r["hits"] == 7)
            .then_some(())
    })
    .await;
    let pongs = eventually("the replies", Duration::from_secs(10), || async {
        let sent = sent_to(&api, &sim, "79161112233").await;
        (sent.len() >= 5).then_some(sent)
    })
    .await;
    assert_eq!(pongs, ["pong"; 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_refused_with_the_field_named() {
    let (_running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let base = || {
        json!({"name": "R", "match": {"mode": "word", "keywords": ["price"]},
               "actions": [{"reply": {"text": "ok"}}]})
    };
    let with = |path: &[&str], value: Value| {
        let mut rule = base();
        let mut at = &mut rule;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = value;
        rule
    };
    let cases = [
        (with(&["name"], json!("")), "name"),
        (with(&["match", "keywords"], json!([])), "match.keywords"),
        (
            with(
                &["match"],
                json!({"mode": "regex", "keywords": ["ok", "(unclosed"]}),
            ),
            "match.keywords[1]",
        ),
        (
            with(
                &["match"],
                json!({"mode": "regex", "keywords": ["(a{1000}){1000}"]}),
            ),
            "match.keywords[0]",
        ),
        (
            with(
                &["match"],
                json!({"mode": "fuzzy", "keywords": ["x"], "threshold": 0.2}),
            ),
            "match.threshold",
        ),
        (with(&["actions"], json!([])), "actions"),
        (
            with(&["actions"], json!([{"add_tags": ["no-such-tag"]}])),
            "actions[0].add_tags[0]",
        ),
        (
            with(
                &["actions"],
                json!([{"set_attribute": {"key": "nope", "value": 1}}]),
            ),
            "actions[0].set_attribute",
        ),
        (with(&["numbers"], json!(["999"])), "numbers[0]"),
        (
            with(&["conditions"], json!({"language": "de"})),
            "conditions.language",
        ),
        (with(&["cooldown_secs"], json!(99_999_999)), "cooldown_secs"),
    ];
    for (rule, field) in cases {
        let a = make(&api, &owner, rule.clone()).await;
        assert_eq!(
            (a.status, a.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{rule}: {:?}",
            a.body
        );
    }
    let a = make(&api, &owner, with(&["match", "mode"], json!("telepathy"))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert!(api.get("automation/rules", &owner).await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // Replaced over its version; a stale replacement is refused.
    let a = make(&api, &owner, base()).await;
    let path = format!("automation/rules/{}", a.body["id"].as_str().unwrap());
    let mut next = base();
    next["version"] = json!(1);
    next["name"] = json!("R2");
    let b = api.send(Method::PUT, &path, &owner, next.clone()).await;
    assert_eq!((b.status, &b.body["version"]), (StatusCode::OK, &json!(2)));
    let c = api.send(Method::PUT, &path, &owner, next).await;
    assert_eq!(c.status, StatusCode::CONFLICT, "{:?}", c.body);
    let d = api.call(Method::DELETE, &path, &owner, None).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
}
