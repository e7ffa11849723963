//! Templates made from the API (issue 23): checked against Meta's rules before anything reaches
//! Meta, submitted, reviewed by the simulator as Meta would (approved or rejected, with the
//! status webhook), listed with their status, and sendable once approved.

mod common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const NUMBER: &str = "106540352242922";

fn template(name: &str, body: &str) -> Value {
    json!({
        "name": name,
        "category": "UTILITY",
        "language": "en_US",
        "components": [
            {"type": "BODY", "text": body, "example": {"body_text": [["Olga", "tomorrow"]]}},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
        ],
    })
}

/// Waits until the workspace's template list offers `name` (it offers approved ones only).
async fn approved(api: &Api, owner: &Auth, name: &str) {
    eventually("Meta's approval", Duration::from_secs(10), || async {
        let list = api.get("templates", owner).await;
        list.body["items"][0]["templates"]
            .as_array()?
            .iter()
            .any(|t| t["name"] == name)
            .then_some(())
    })
    .await
}

/// The status Meta (the simulator) gives template `name`.
async fn status_at_meta(api: &Api, sim: &str, name: &str) -> Option<String> {
    let numbers: Value = sim_get(&api.client, sim, "numbers").await;
    let token = numbers["data"][0]["access_token"].as_str()?.to_owned();
    let list: Value = api
        .client
        .get(format!(
            "{sim}/v23.0/102290129340398/message_templates?limit=100"
        ))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    list["data"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["status"].as_str())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_made_in_the_api_is_reviewed_and_then_sent() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);

    // Broken rules name their field; nothing reaches Meta.
    let mut bad = template(
        "delivery_window",
        "Hello {{1}}, your delivery arrives {{2}}.",
    );
    bad["components"][1]["buttons"] = json!((0..11)
        .map(|i| json!({"type": "QUICK_REPLY", "text": format!("Option {i}")}))
        .collect::<Vec<_>>());
    let a = api
        .send(
            Method::POST,
            "templates",
            &owner,
            json!({"number": NUMBER, "template": bad}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_eq!(a.body["error"]["field"], "template.components[1].buttons");
    let a = api
        .send(
            Method::POST,
            "templates",
            &owner,
            json!({"number": NUMBER, "template": template("Delivery Window", "Hi {{1}} and {{2}}.")}),
        )
        .await;
    assert_eq!(a.body["error"]["field"], "template.name", "{:?}", a.body);

    let a = api
        .send(
            Method::POST,
            "templates",
            &owner,
            json!({"number": NUMBER,
                   "template": template("delivery_window", "Hello {{1}}, your delivery arrives {{2}}.")}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["status"], "PENDING");
    approved(&api, &owner, "delivery_window").await;
    // The same name and language again: Meta refuses it, and says why.
    let a = api
        .send(
            Method::POST,
            "templates",
            &owner,
            json!({"number": NUMBER,
                   "template": template("delivery_window", "Hello {{1}}, it arrives {{2}}.")}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "rejected"),
        "{:?}",
        a.body
    );

    // A promise Meta does not allow: rejected at review, never offered to send.
    let a = api
        .send(
            Method::POST,
            "templates",
            &owner,
            json!({"number": NUMBER,
                   "template": template("sure_win", "Hello {{1}}, a guaranteed win {{2}}!")}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);

    // Approved: offered in a conversation, and sent with its parameters.
    customer_writes(&api, &sim, "4915122223333", "hello").await;
    let conversation = conversation_of(&api, &owner, "4915122223333").await;
    let offered = api
        .get(&format!("conversations/{conversation}/templates"), &owner)
        .await;
    let names: Vec<&str> = offered.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"delivery_window"), "{names:?}");
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/messages"),
            &owner,
            json!({"template": {"name": "delivery_window", "language": "en_US",
                                "params": ["Olga", "tomorrow"]}, "key": "tpl-1"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let sent = eventually(
        "the template at the simulator",
        Duration::from_secs(10),
        || async {
            sent_bodies(&api, &sim, "4915122223333")
                .await
                .into_iter()
                .find(|b| b["type"] == "template")
        },
    )
    .await;
    assert_eq!(sent["template"]["name"], "delivery_window");
    // The other was rejected at review, and is never offered.
    eventually("the rejection", Duration::from_secs(10), || async {
        (status_at_meta(&api, &sim, "sure_win").await? == "REJECTED").then_some(())
    })
    .await;
    let offered = api
        .get(&format!("conversations/{conversation}/templates"), &owner)
        .await;
    assert!(
        !offered.body.to_string().contains("sure_win"),
        "{:?}",
        offered.body
    );
    // The full list shows it with its review status; the default list (what campaigns may
    // send) leaves it out; an unknown filter is refused.
    eventually(
        "the rejection in the full list",
        Duration::from_secs(10),
        || async {
            let all = api.get("templates?status=all", &owner).await;
            all.body["items"][0]["templates"]
                .as_array()?
                .iter()
                .any(|t| t["name"] == "sure_win" && t["status"] == "rejected")
                .then_some(())
        },
    )
    .await;
    let default = api.get("templates", &owner).await;
    assert!(!default.body.to_string().contains("sure_win"));
    let bad = api.get("templates?status=maybe", &owner).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    let audit = api.get("audit?action=template.create", &owner).await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        2,
        "{:?}",
        audit.body
    );
    running.shutdown().await;
}
