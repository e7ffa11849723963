//! Web Push end to end against a local RFC 8030 push endpoint (the real push services cannot be
//! reached here): an agent's browser subscribes with the server's VAPID key, and while none of
//! their apps is in view, a customer's reply, a mention and an assignment are pushed, each
//! encrypted for that browser alone (decrypted here with its private key, per RFC 8291) and
//! signed with a VAPID token for the push service's origin (verified here with the key the
//! browser subscribed with). A subscription the push service says is gone (410) is pruned; bad
//! subscriptions are refused naming the field; nobody reaches another person's devices.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::ws::*;
use common::*;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use p256::ecdsa::signature::Verifier as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_shared::push::{PushNotice, PushReason};

/// The demo with a push service on loopback allowed (the real ones are public and https).
const DEMO: &str = "customers = 0\ndemo_replies = false\n\
    [push]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]";

/// One request the push endpoint received.
#[derive(Clone, Debug)]
struct Pushed {
    path: String,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

/// A push service on loopback: `/gone/…` answers 410 (the subscription ended), anything else
/// 201 Created, as RFC 8030 says a push service accepts a message.
async fn push_service() -> (String, Arc<Mutex<Vec<Pushed>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&got);
    let addr = third_party(move |req: hyper::Request<hyper::body::Incoming>| {
        let got = Arc::clone(&shared);
        async move {
            let path = req.uri().path().to_owned();
            let headers = req.headers().clone();
            let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
            let status = if path.starts_with("/gone/") { 410 } else { 201 };
            got.lock().unwrap().push(Pushed {
                path,
                headers,
                body,
            });
            hyper::Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
    })
    .await;
    (format!("http://{addr}"), got)
}

/// A browser's side of a subscription: its P-256 key pair and auth secret.
struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let secret = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
                break k;
            }
        };
        Self {
            secret,
            auth: rand::random(),
        }
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    fn subscription(&self, endpoint: &str) -> Value {
        let point = self.secret.public_key().to_encoded_point(false);
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(point.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            },
            "device": "Test phone",
        })
    }

    /// What the service worker would read: the message decrypted (RFC 8291), after checking
    /// the request is what a push service takes (RFC 8030 headers, a VAPID token signed by
    /// `vapid_key` for `origin`).
    fn open(&self, pushed: &Pushed, vapid_key: &str, origin: &str) -> PushNotice {
        let header = |name: &str| {
            pushed
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-encoding"), "aes128gcm");
        assert!(header("ttl").parse::<u64>().unwrap() > 0);
        assert_eq!(header("urgency"), "high");
        assert!(!header("topic").is_empty() && header("topic").len() <= 32);
        let authorization = header("authorization");
        let (token, key) = authorization
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .expect("a VAPID authorization");
        assert_eq!(
            key, vapid_key,
            "signed with the key browsers subscribe with"
        );
        let parts: Vec<&str> = token.split('.').collect();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], origin);
        let verifying =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap())
                .unwrap();
        let signature =
            p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        verifying
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the VAPID token verifies");
        assert!(
            !pushed.body.windows(5).any(|w| w == b"title"),
            "the push service sees ciphertext only"
        );
        let plain = web_push_native::decrypt(
            pushed.body.clone(),
            &self.secret,
            web_push_native::Auth::from_slice(&self.auth),
        )
        .expect("the message opens with the browser's key");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// The pushes to `path` so far.
fn pushes_to(got: &Mutex<Vec<Pushed>>, path: &str) -> Vec<Pushed> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|p| p.path == path)
        .cloned()
        .collect()
}

/// Waits for a push to `path` that `wanted` accepts once opened.
async fn pushed(
    got: &Mutex<Vec<Pushed>>,
    path: &str,
    open: impl Fn(&Pushed) -> PushNotice,
    wanted: impl Fn(&PushNotice) -> bool,
) -> PushNotice {
    eventually("a push", Duration::from_secs(15), || {
        let found = pushes_to(got, path).iter().map(&open).find(&wanted);
        async move { found }
    })
    .await
}

/// `who` subscribes `browser` at `endpoint`: the answer.
async fn subscribe(api: &Api, who: &Auth, browser: &Browser, endpoint: &str) -> Answer {
    api.send(
        Method::POST,
        "push/subscriptions",
        who,
        browser.subscription(endpoint),
    )
    .await
}

/// Tells the server whether this connection's app is in view, and waits for its answer.
async fn in_view(socket: &mut Socket, visible: bool) {
    send(
        socket,
        json!({"type": "visibility", "id": "v", "visible": visible}),
    )
    .await;
    let ack = until(socket, |f| f["type"] == "ack" && f["id"] == "v").await;
    assert_eq!(ack["type"], "ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_reach_an_agent_with_no_app_in_view_encrypted_and_signed() {
    let (running, api, owner, _dir) = demo(DEMO).await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let (service, got) = push_service().await;
    let (agent_id, agent) = new_agent(&api, &owner, "agent@demo.example", "Agent").await;
    let (_, second) = new_agent(&api, &owner, "second@demo.example", "Second").await;

    let key = api.get("push/key", &agent).await;
    assert_eq!(key.status, StatusCode::OK, "{:?}", key.body);
    assert_eq!(key.body["enabled"], true);
    let vapid = key.body["public_key"].as_str().unwrap().to_owned();
    assert_eq!(URL_SAFE_NO_PAD.decode(&vapid).unwrap().len(), 65);

    // The agent's phone subscribes; the same endpoint again is the same device.
    let phone = Browser::new();
    let endpoint = format!("{service}/ok/agent-phone");
    let a = subscribe(&api, &agent, &phone, &endpoint).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let device = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (a.body["device"].as_str(), a.body["service"].as_str()),
        (Some("Test phone"), Some("127.0.0.1"))
    );
    assert!(
        a.body.get("endpoint").is_none(),
        "the endpoint is never shown"
    );
    let again = subscribe(&api, &agent, &phone, &endpoint).await;
    assert_eq!(again.body["id"], device.as_str());
    let list = api.get("push/subscriptions", &agent).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1, "{:?}", list.body);
    assert_eq!(
        api.get("push/subscriptions", &owner).await.body,
        json!([]),
        "each person sees their own devices"
    );

    // A test notification, answered with what the push service said.
    let t = api
        .send(
            Method::POST,
            &format!("push/subscriptions/{device}/test"),
            &agent,
            json!({}),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    assert_eq!(
        (t.body["delivered"].as_bool(), t.body["status"].as_u64()),
        (Some(true), Some(201))
    );
    let path = "/ok/agent-phone";
    let open = |p: &Pushed| phone.open(p, &vapid, &service);
    let test = pushed(&got, path, open, |n| n.reason == PushReason::Test).await;
    assert_eq!(test.url, "/");

    // The agent works with the app in view: a customer is routed to them, nothing is pushed.
    let mut socket = connect(&api, Some(&agent)).await;
    assert_eq!(next(&mut socket).await["type"], "ready");
    customer_writes(&api, &sim, "4915550001", "Hello, is my order shipped?").await;
    let conversation = conversation_of(&api, &owner, "4915550001").await;
    eventually("the assignment", Duration::from_secs(10), || async {
        let c = api
            .get(&format!("conversations/{conversation}"), &owner)
            .await;
        (c.body["assignee"] == agent_id.as_str()).then_some(())
    })
    .await;

    // The app goes to the background (the phone locks): the customer's next message is pushed.
    in_view(&mut socket, false).await;
    customer_writes(&api, &sim, "4915550001", "Are you there?").await;
    let reply = pushed(&got, path, open, |n| n.reason == PushReason::CustomerWrote).await;
    assert_eq!(reply.body, "Are you there?");
    assert_eq!(reply.name, "Olga", "the customer's name, not their number");
    assert_eq!(reply.url, format!("/?c={conversation}"));
    assert_eq!(reply.tag, format!("c-{conversation}"));
    assert!(
        pushes_to(&got, path)
            .iter()
            .map(open)
            .all(|n| n.body != "Hello, is my order shipped?"),
        "nothing was pushed while the app was in view"
    );

    // A colleague mentions them in a note.
    let n = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/notes"),
            &owner,
            json!({"text": format!("@{{{agent_id}}} please offer a refund")}),
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED, "{:?}", n.body);
    let mention = pushed(&got, path, open, |n| n.reason == PushReason::Mentioned).await;
    assert_eq!(mention.title, "Owner mentioned you");
    assert_eq!(mention.body, "@Agent please offer a refund");

    // A device whose subscription the push service ended (410) is removed.
    let old = Browser::new();
    let a = subscribe(&api, &agent, &old, &format!("{service}/gone/old-tablet")).await;
    let gone = a.body["id"].as_str().unwrap().to_owned();
    let t = api
        .send(
            Method::POST,
            &format!("push/subscriptions/{gone}/test"),
            &agent,
            json!({}),
        )
        .await;
    assert_eq!(
        (t.body["delivered"].as_bool(), t.body["status"].as_u64()),
        (Some(false), Some(410))
    );
    let ids: Vec<Value> = api
        .get("push/subscriptions", &agent)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(device)], "pruned at once");
    // … and so is one that ends while notifications go out.
    let a = subscribe(&api, &agent, &old, &format!("{service}/gone/old-tablet")).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let n = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/notes"),
            &owner,
            json!({"text": format!("@{{{agent_id}}} one more thing")}),
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED, "{:?}", n.body);
    eventually(
        "the ended subscription pruned",
        Duration::from_secs(15),
        || async {
            let list = api.get("push/subscriptions", &agent).await.body;
            (list.as_array().map(Vec::len) == Some(1)).then_some(())
        },
    )
    .await;

    // A second agent, connected with the app hidden, is given the conversation.
    let laptop = Browser::new();
    let a = subscribe(
        &api,
        &second,
        &laptop,
        &format!("{service}/ok/second-laptop"),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let second_id = api.get("auth/me", &second).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut other = connect(&api, Some(&second)).await;
    assert_eq!(next(&mut other).await["type"], "ready");
    in_view(&mut other, false).await;
    let moved = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/assign"),
            &owner,
            json!({"agent": second_id}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let assigned = pushed(
        &got,
        "/ok/second-laptop",
        |p| laptop.open(p, &vapid, &service),
        |n| n.reason == PushReason::Assigned,
    )
    .await;
    assert_eq!(
        (assigned.name.as_str(), assigned.body.as_str()),
        ("Olga", "Conversation assigned to you")
    );

    // Nobody reaches another person's devices.
    for (method, path) in [
        (Method::DELETE, format!("push/subscriptions/{device}")),
        (Method::POST, format!("push/subscriptions/{device}/test")),
    ] {
        let a = api.call(method, &path, &owner, Some(json!({}))).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let a = api
        .call(
            Method::DELETE,
            &format!("push/subscriptions/{device}"),
            &agent,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("push/subscriptions", &agent).await.body, json!([]));
    drop(socket);
    drop(other);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_are_refused_naming_the_field() {
    let (running, api, owner, _dir) = demo(DEMO).await;
    let good = push_subscription("http://127.0.0.1:9/push/x");
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    for (body, field) in [
        (with("/endpoint", json!("ftp://push.example/x")), "endpoint"),
        (with("/endpoint", json!("not a url")), "endpoint"),
        // A private address no allowance names: a push would be a probe of the server's network.
        (
            with("/endpoint", json!("http://10.1.2.3/push/x")),
            "endpoint",
        ),
        (
            with("/endpoint", json!("http://user:pw@127.0.0.1:9/x")),
            "endpoint",
        ),
        (with("/keys/p256dh", json!("c2hvcnQ")), "keys.p256dh"),
        // 65 bytes, but not a point on the curve.
        (
            with("/keys/p256dh", json!(URL_SAFE_NO_PAD.encode([4u8; 65]))),
            "keys.p256dh",
        ),
        (
            with("/keys/auth", json!(URL_SAFE_NO_PAD.encode([1u8; 15]))),
            "keys.auth",
        ),
        (
            {
                let mut b = good.clone();
                b["device"] = json!("x".repeat(81));
                b
            },
            "device",
        ),
    ] {
        let a = api
            .send(Method::POST, "push/subscriptions", &owner, body.clone())
            .await;
        assert_eq!(
            (a.status, a.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {:?}",
            a.body
        );
    }
    let mut unknown = good.clone();
    unknown["extra"] = json!(1);
    let a = api
        .send(Method::POST, "push/subscriptions", &owner, unknown)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert_eq!(api.get("push/subscriptions", &owner).await.body, json!([]));
    running.shutdown().await;
}
