//! Templates made from the API (issue 23): checked against Meta's rules before anything reaches
//! Meta, submitted, reviewed by the simulator as Meta would (approved or rejected, with the
//! status webhook), listed with their status, and sendable once approved.

use crate::common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_with_a_header_named_values_and_a_button_goes_out_whole() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    customer_writes(&api, &sim, "4915122224444", "Where is my parcel?").await;
    let conversation = conversation_of(&api, &owner, "4915122224444").await;

    // The list tells a sender which parts take values, and the template's quality.
    let offered = api
        .get(&format!("conversations/{conversation}/templates"), &owner)
        .await;
    let tracking = offered.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "delivery_tracking")
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", offered.body));
    assert_eq!(tracking["names"], json!(["customer_name", "day"]));
    assert_eq!(tracking["quality"], "green");
    assert_eq!(
        (
            tracking["header"]["format"].as_str(),
            tracking["header"]["takes_value"].as_bool()
        ),
        (Some("text"), Some(true))
    );
    let takes: Vec<bool> = tracking["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["takes_value"].as_bool().unwrap())
        .collect();
    assert_eq!(takes, vec![true, false]);

    let send = |template: Value, key: &str| {
        let body = json!({"template": template, "key": key});
        let path = format!("conversations/{conversation}/messages");
        let api = &api;
        let owner = &owner;
        async move { api.send(Method::POST, &path, owner, body).await }
    };
    let whole = json!({
        "name": "delivery_tracking", "language": "en_US",
        "named": {"customer_name": "Olga", "day": "tomorrow"},
        "header": {"type": "text", "text": "A-1042"},
        "buttons": [{"index": 0, "value": "A-1042"}],
    });
    // What is missing or wrong is refused before it reaches WhatsApp, and says what.
    for (edit, says) in [
        ("header", "header needs a value"),
        ("buttons", "needs a value"),
        ("named", "needs a value"),
    ] {
        let mut t = whole.clone();
        t.as_object_mut().unwrap().remove(edit);
        let a = send(t, &format!("bad-{edit}")).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{edit}: {:?}",
            a.body
        );
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(says),
            "{edit}: {:?}",
            a.body
        );
    }
    let mut positional = whole.clone();
    positional["params"] = json!(["Olga", "tomorrow"]);
    positional.as_object_mut().unwrap().remove("named");
    let a = send(positional, "bad-positional").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);

    let a = send(whole, "tracking-1").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let sent = eventually(
        "the template at the simulator",
        Duration::from_secs(10),
        || async {
            sent_bodies(&api, &sim, "4915122224444")
                .await
                .into_iter()
                .find(|b| b["type"] == "template")
        },
    )
    .await;
    assert_eq!(
        sent["template"]["components"],
        json!([
            {"type": "header", "parameters": [
                {"type": "text", "text": "A-1042", "parameter_name": "order_id"}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Olga", "parameter_name": "customer_name"},
                {"type": "text", "text": "tomorrow", "parameter_name": "day"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [
                {"type": "text", "text": "A-1042"}]}
        ])
    );
    // History shows what the customer reads: the header, then the body, filled in.
    let shown = eventually(
        "the message in history",
        Duration::from_secs(10),
        || async {
            let h = api
                .get(&format!("conversations/{conversation}/messages"), &owner)
                .await;
            h.body["items"].as_array()?.iter().find_map(|m| {
                m["text"]
                    .as_str()
                    .filter(|t| t.starts_with("Order"))
                    .map(str::to_owned)
            })
        },
    )
    .await;
    assert_eq!(
        shown,
        "Order A-1042\nHi Olga, your parcel is with the courier and arrives tomorrow."
    );
    running.shutdown().await;
}
