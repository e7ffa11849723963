//! Numbers at run time (issue 23): an admin connects, changes, disables and removes numbers
//! through the API while the server runs, and the webhook receiver and the sends follow at once;
//! secrets never come back out and are sealed at rest; a number is one workspace's only.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::connector::signature;

const NEW_NUMBER: &str = "333333333333333";
const NEW_SECRET: &str = "a-new-app-of-acme";
const NEW_TOKEN: &str = "EAAG-acme-new-number-token";

/// Posts a webhook for `number` signed with `secret`; the answer's status.
async fn post_webhook(api: &Api, secret: &str, number: &str, customer: &str, wamid: &str) -> u16 {
    // The new number's own WhatsApp Business Account.
    let body = webhook(number, customer, wamid, "hello from the new number")
        .replace(r#""id":"9001""#, r#""id":"9003""#);
    api.client
        .post(format!("{}/webhooks/whatsapp", api.base))
        .header(
            "x-hub-signature-256",
            signature::sign(secret.as_bytes(), body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn new_number(id: &str) -> Value {
    json!({
        "phone_number_id": id,
        "display_phone_number": "15553333333",
        "waba_id": "9003",
        // Nothing listens there: Meta "cannot be reached", and the number is saved flagged.
        "graph_api_url": "http://127.0.0.1:9/v23.0",
        "access_token": NEW_TOKEN,
        "app_secret": NEW_SECRET,
        "verify_token": "a-verify-token",
    })
}

/// Anything in `value` that holds one of the number's secrets.
fn leaks(value: &Value) -> bool {
    let text = value.to_string();
    [NEW_SECRET, NEW_TOKEN, "a-verify-token"]
        .iter()
        .any(|s| text.contains(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_connected_at_run_time_takes_webhooks_at_once_and_survives_a_restart() {
    let world = world_with("[whatsapp]\nmax_retries = 0\nrequest_timeout_secs = 2").await;
    let (api, owner) = (&world.api, &world.acme.callers["owner"]);
    let globex = &world.globex.callers["owner"];

    // Before it is connected, its app's signature is nobody's.
    assert_eq!(
        post_webhook(api, NEW_SECRET, NEW_NUMBER, "79160000001", "wamid.before").await,
        401
    );
    let created = api
        .send(Method::POST, "numbers", owner, new_number(NEW_NUMBER))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["managed_by"], "app");
    assert_eq!(created.body["enabled"], true);
    assert!(
        created.body["problem"]
            .as_str()
            .is_some_and(|p| p.contains("could not be reached")),
        "saved, and flagged: {:?}",
        created.body
    );
    assert!(!leaks(&created.body));
    // The first webhook after saving is taken: the directory changed with the answer.
    assert_eq!(
        post_webhook(api, NEW_SECRET, NEW_NUMBER, "79160000001", "wamid.after").await,
        200
    );
    let conversation = conversation_of(api, owner, "79160000001").await;
    let detail = api
        .get(&format!("conversations/{conversation}"), owner)
        .await;
    assert_eq!(detail.body["number"], NEW_NUMBER, "{:?}", detail.body);

    // One workspace's only; the configuration's are the configuration's.
    for (caller, id, code) in [
        (globex, NEW_NUMBER, "number_taken"),
        (owner, GLOBEX_NUMBER, "number_taken"),
        (owner, ACME_NUMBER, "managed_by_config"),
        (owner, NEW_NUMBER, "number_exists"),
    ] {
        let a = api
            .send(Method::POST, "numbers", caller, new_number(id))
            .await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{id}: {:?}", a.body);
        assert_eq!(a.code(), code, "{id}");
    }
    let a = api
        .send(
            Method::PATCH,
            &format!("numbers/{ACME_NUMBER}"),
            owner,
            json!({"mps": 10}),
        )
        .await;
    assert_eq!(a.code(), "managed_by_config");
    // Another workspace does not see it, nor change it.
    let a = api
        .send(
            Method::PATCH,
            &format!("numbers/{NEW_NUMBER}"),
            globex,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let theirs = api.get("numbers", globex).await;
    assert!(!theirs.body.to_string().contains(NEW_NUMBER));

    // Bad input names its field.
    for (body, field) in [
        (json!({"mps": 0}), "mps"),
        (json!({"phone_number_id": "12ab"}), "phone_number_id"),
        (
            json!({"graph_api_url": "ftp://example.com"}),
            "graph_api_url",
        ),
        (json!({"app_secret": ""}), "app_secret"),
    ] {
        let mut input = new_number("444444444444444");
        for (k, v) in body.as_object().unwrap() {
            input[k] = v.clone();
        }
        let a = api.send(Method::POST, "numbers", owner, input).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert_eq!(a.body["error"]["field"], field, "{:?}", a.body);
    }

    // Sealed at rest: the store's file holds none of the secrets in the clear.
    let listed = api.get("numbers", owner).await;
    assert!(!leaks(&listed.body));
    let managed: Vec<(String, String)> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["phone_number_id"].as_str().unwrap().to_owned(),
                n["managed_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        managed,
        vec![
            (ACME_NUMBER.to_owned(), "config".to_owned()),
            (NEW_NUMBER.to_owned(), "app".to_owned())
        ]
    );
    let audit = api.get("audit?action=number.create", owner).await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        1,
        "{audit:?}",
        audit = audit.body
    );
    assert!(!leaks(&audit.body));

    // A restart: the number is back in service from the store.
    let dir = world._dir;
    world.running.shutdown().await;
    let data = dir.path().join("data");
    for file in std::fs::read_dir(&data).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [NEW_SECRET, NEW_TOKEN] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} in the clear in {}",
                    path.display()
                );
            }
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = switchboard_server::app::start_on(
        config(
            dir.path(),
            "[whatsapp]\nmax_retries = 0\nrequest_timeout_secs = 2",
        ),
        listener,
    )
    .await
    .unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
    };
    assert_eq!(
        post_webhook(
            &api,
            NEW_SECRET,
            NEW_NUMBER,
            "79160000002",
            "wamid.restarted"
        )
        .await,
        200
    );
    let owner = api.token("owner@acme.example").await;

    // Disabled: its webhooks are acknowledged (Meta stops retrying) but go nowhere.
    let a = api
        .send(
            Method::PATCH,
            &format!("numbers/{NEW_NUMBER}"),
            &owner,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["enabled"], false);
    assert_eq!(
        post_webhook(
            &api,
            NEW_SECRET,
            NEW_NUMBER,
            "79160000003",
            "wamid.disabled"
        )
        .await,
        200
    );
    // Removed: its secrets are gone, so its app's signature is nobody's again; history stays.
    let a = api
        .call(
            Method::DELETE,
            &format!("numbers/{NEW_NUMBER}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    assert_eq!(
        post_webhook(&api, NEW_SECRET, NEW_NUMBER, "79160000004", "wamid.removed").await,
        401
    );
    let listed = api.get("numbers", &owner).await;
    let removed = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["phone_number_id"] == NEW_NUMBER)
        .cloned()
        .unwrap();
    assert_eq!(removed["managed_by"], "none");
    let conversations = api.get("conversations", &owner).await;
    let customers: Vec<&str> = conversations.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["customer"].as_str())
        .collect();
    assert!(customers.contains(&"79160000001"), "{customers:?}");
    assert!(
        !customers.contains(&"79160000003"),
        "a disabled number's message reached the inbox: {customers:?}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_s_second_number_is_connected_from_the_api_and_routed_without_a_restart() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let numbers: Value = sim_get(&api.client, &sim, "numbers").await;
    let spare = numbers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["customers_write"] == false)
        .cloned()
        .expect("the simulator holds a number to connect");
    let id = spare["phone_number_id"].as_str().unwrap();
    let mut input = json!({
        "phone_number_id": id,
        "graph_api_url": spare["graph_api_url"],
        "access_token": "not-the-token",
        "app_secret": spare["app_secret"],
        "verify_token": "demo-verify",
    });
    // A token Meta refuses: saved, flagged with Meta's answer (190), display number unknown.
    let a = api
        .send(Method::POST, "numbers", &owner, input.clone())
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_eq!(a.body["error"]["field"], "display_phone_number");
    input["display_phone_number"] = spare["display_phone_number"].clone();
    let a = api.send(Method::POST, "numbers", &owner, input).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert!(
        a.body["problem"]
            .as_str()
            .is_some_and(|p| p.contains("(190)")),
        "{:?}",
        a.body
    );
    // The right token clears the flag.
    let a = api
        .send(
            Method::PATCH,
            &format!("numbers/{id}"),
            &owner,
            json!({"access_token": spare["access_token"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["problem"], Value::Null, "{:?}", a.body);

    // A customer writes to it; an agent's reply leaves from it.
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(
            &json!({"phone_number_id": id, "from": "4915112345678", "name": "Olga", "text": "hi"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let conversation = conversation_of(&api, &owner, "4915112345678").await;
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/messages"),
            &owner,
            json!({"text": "Hello from the second number", "key": "second-number-1"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let sent = eventually(
        "the reply at the simulator",
        Duration::from_secs(10),
        || {
            let (client, sim) = (api.client.clone(), sim.clone());
            async move {
                let sent: Vec<Value> = sim_get(&client, &sim, "sent").await;
                sent.into_iter()
                    .find(|m| m["body"]["to"] == "4915112345678")
            }
        },
    )
    .await;
    assert_eq!(sent["phone_number_id"], id, "{sent:?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_s_throughput_upgrade_raises_the_number_s_tier() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let tier = |body: &Value| body[0]["mps"].as_u64();
    assert_eq!(tier(&api.get("numbers", &owner).await.body), Some(80));
    let r = api
        .client
        .post(format!("{sim}/_sim/account"))
        .json(&json!({"field": "phone_number_quality_update",
                      "value": {"event": "THROUGHPUT_UPGRADE", "current_limit": "TIER_UNLIMITED"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    eventually("the new tier", Duration::from_secs(10), || async {
        (tier(&api.get("numbers", &owner).await.body) == Some(1_000)).then_some(())
    })
    .await;
    running.shutdown().await;
}
