//! The simulator library in-process, its webhooks captured by a small receiver that checks every
//! signature over the raw bytes: the customer-service window, status sequences, duplicates on
//! demand, retries while the endpoint fails, and Meta's ASCII-escaped wire encoding.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use switchboard_server::connector::wire::{Content, SendRequest};
use switchboard_server::connector::{signature, ClientOptions, CloudApi, NumberEndpoint};
use switchboard_server::secret::Secret;
use switchboard_server::simulator::{self, SimConfig, SimHandle, StatusBehaviour};
use tokio::net::TcpListener;
use warp::Filter;

const SECRET: &str = "sim-test-secret";
const TOKEN: &str = "sim-test-token";

#[derive(Default)]
struct Capture {
    bodies: Mutex<Vec<Vec<u8>>>,
    bad_signatures: AtomicUsize,
    fail_next: AtomicUsize,
    /// Signalled on every webhook received.
    arrived: tokio::sync::Notify,
}

impl Capture {
    fn statuses(&self) -> Vec<(String, String, Value)> {
        let bodies = self.bodies.lock().unwrap();
        let mut out = Vec::new();
        for body in bodies.iter() {
            let v: Value = serde_json::from_slice(body).unwrap();
            for s in v["entry"][0]["changes"][0]["value"]["statuses"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.push((
                    s["id"].as_str().unwrap().to_owned(),
                    s["status"].as_str().unwrap().to_owned(),
                    s.clone(),
                ));
            }
        }
        out
    }
}

async fn receiver(capture: Arc<Capture>) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let route = warp::post()
        .and(warp::header::<String>("x-hub-signature-256"))
        .and(warp::body::bytes())
        .map(move |sig: String, body: Bytes| {
            if !signature::verify(SECRET.as_bytes(), &body, &sig) {
                capture.bad_signatures.fetch_add(1, Ordering::SeqCst);
                return warp::http::StatusCode::UNAUTHORIZED;
            }
            let fail = capture.fail_next.load(Ordering::SeqCst);
            if fail > 0 {
                capture.fail_next.store(fail - 1, Ordering::SeqCst);
                return warp::http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            capture.bodies.lock().unwrap().push(body.to_vec());
            capture.arrived.notify_waiters();
            warp::http::StatusCode::OK
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    url::Url::parse(&format!("http://{addr}/webhooks/whatsapp")).unwrap()
}

async fn start(
    capture: Arc<Capture>,
    statuses: StatusBehaviour,
) -> (SimHandle, NumberEndpoint, CloudApi) {
    let mut config = SimConfig::demo(
        receiver(capture).await,
        Secret::new(SECRET),
        Secret::new(TOKEN),
    );
    config.statuses = statuses;
    config.retries.first_delay = Duration::from_millis(10);
    let sim = simulator::start(config, TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();
    let endpoint = NumberEndpoint {
        graph_api_url: sim.graph_api_url(),
        phone_number_id: "106540352242922".into(),
        access_token: Secret::new(TOKEN),
    };
    let api = CloudApi::new(
        reqwest::Client::new(),
        ClientOptions {
            timeout: Duration::from_secs(5),
            max_retries: 0,
        },
    );
    (sim, endpoint, api)
}

fn fast() -> StatusBehaviour {
    StatusBehaviour {
        sent_after: Duration::from_millis(5),
        delivered_after: Duration::from_millis(10),
        read_after: Duration::from_millis(15),
        skip_delivered_rate: 0.0,
        ..StatusBehaviour::default()
    }
}

/// Waits, woken by each webhook that arrives, until `done` holds; panics after 10 s.
async fn wait_until(capture: &Capture, what: &str, done: impl Fn(&Capture) -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            // Register interest before checking, so an arrival in between is not missed.
            let arrived = capture.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if done(capture) {
                return;
            }
            arrived.await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

async fn send_text(api: &CloudApi, endpoint: &NumberEndpoint, to: &str, key: &str) -> String {
    let response = api
        .send(endpoint, &SendRequest::new(to, Content::text("hello")), key)
        .await
        .expect("accepted");
    response.messages[0].id.clone()
}

#[tokio::test]
async fn free_form_outside_the_window_is_accepted_then_fails_with_131047() {
    let capture = Arc::new(Capture::default());
    let (sim, endpoint, api) = start(Arc::clone(&capture), fast()).await;
    let wamid = send_text(&api, &endpoint, "16505550100", "a").await;
    wait_until(&capture, "the failed status", |c| !c.statuses().is_empty()).await;
    let statuses = capture.statuses();
    assert_eq!(statuses.len(), 1);
    let (id, status, body) = &statuses[0];
    assert_eq!((id.as_str(), status.as_str()), (wamid.as_str(), "failed"));
    assert_eq!(body["errors"][0]["code"], 131047);
    sim.stop().await;
}

#[tokio::test]
async fn inside_the_window_statuses_go_sent_delivered_read_with_pricing_once() {
    let capture = Arc::new(Capture::default());
    let (sim, endpoint, api) = start(Arc::clone(&capture), fast()).await;
    let inbound = sim
        .customer_says(
            "106540352242922",
            "16505550101",
            "Ada",
            "Hi there / привет 👋",
        )
        .unwrap();
    let wamid = send_text(&api, &endpoint, "16505550101", "b").await;
    wait_until(&capture, "three statuses", |c| c.statuses().len() == 3).await;
    let statuses = capture.statuses();
    let order: Vec<&str> = statuses.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(order, ["sent", "delivered", "read"]);
    assert!(statuses.iter().all(|(id, ..)| *id == wamid));
    // v23 webhooks: pricing with sent and delivered, conversation present; service is free.
    assert_eq!(statuses[0].2["pricing"]["type"], "free_customer_service");
    assert!(statuses[0].2["conversation"]["expiration_timestamp"].is_string());
    assert!(statuses[2].2.get("pricing").is_none());

    // The inbound webhook: ASCII-only on the wire, `/` escaped, and it round-trips.
    let bodies = capture.bodies.lock().unwrap().clone();
    let raw = bodies
        .iter()
        .find(|b| String::from_utf8_lossy(b).contains(inbound.as_str()))
        .expect("the inbound webhook");
    assert!(raw.is_ascii());
    let text = String::from_utf8_lossy(raw);
    assert!(
        text.contains(r"Hi there \/ \u043f\u0440\u0438\u0432\u0435\u0442 \ud83d\udc4b"),
        "{text}"
    );
    let parsed: Value = serde_json::from_slice(raw).unwrap();
    assert_eq!(
        parsed["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"],
        "Hi there / привет 👋"
    );
    assert_eq!(capture.bad_signatures.load(Ordering::SeqCst), 0);
    sim.stop().await;
}

#[tokio::test]
async fn failing_endpoints_get_retries_and_duplicates_come_on_demand() {
    let capture = Arc::new(Capture::default());
    capture.fail_next.store(4, Ordering::SeqCst);
    let statuses = StatusBehaviour {
        duplicate_rate: 1.0,
        out_of_order: true,
        ..fast()
    };
    let (sim, endpoint, api) = start(Arc::clone(&capture), statuses).await;
    sim.customer_says("106540352242922", "16505550102", "Bo", "hello")
        .unwrap();
    let wamid = send_text(&api, &endpoint, "16505550102", "c").await;
    // 1 inbound + 3 statuses × 2 copies, all eventually delivered despite 4 failures.
    wait_until(&capture, "every webhook", |c| {
        c.bodies.lock().unwrap().len() == 7
    })
    .await;
    let stats = sim.stats();
    assert_eq!(stats.webhook_attempts_failed, 4);
    assert_eq!(stats.webhooks_dropped, 0);
    let mine: Vec<_> = capture
        .statuses()
        .into_iter()
        .filter(|(id, ..)| *id == wamid)
        .collect();
    assert_eq!(mine.len(), 6);
    for status in ["sent", "delivered", "read"] {
        assert_eq!(
            mine.iter().filter(|(_, s, _)| s == status).count(),
            2,
            "{status} twice"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn a_template_send_is_checked_part_by_part_as_meta_does() {
    let capture = Arc::new(Capture::default());
    let (sim, endpoint, api) = start(Arc::clone(&capture), fast()).await;
    // `delivery_tracking`: a header `Order {{order_id}}`, a named body, a URL button whose
    // address ends in `{{1}}`, and a quick reply.
    let send = |template: Value| {
        let request = SendRequest::new(
            "16505550102",
            serde_json::from_value::<Content>(serde_json::json!({
                "type": "template", "template": template,
            }))
            .unwrap(),
        );
        let (api, endpoint) = (&api, &endpoint);
        // A key of its own each (the same key again would answer the first send's outcome).
        let key = format!("t-{}", rand::random::<u64>());
        async move { api.send(endpoint, &request, &key).await }
    };
    let whole = serde_json::json!({
        "name": "delivery_tracking", "language": {"code": "en_US"},
        "components": [
            {"type": "header", "parameters": [
                {"type": "text", "text": "A-1042", "parameter_name": "order_id"}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Ada", "parameter_name": "customer_name"},
                {"type": "text", "text": "tomorrow", "parameter_name": "day"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [
                {"type": "text", "text": "A-1042"}]}
        ]
    });
    assert!(send(whole.clone()).await.is_ok());
    let refused = |mut t: Value, edit: fn(&mut Value)| {
        edit(&mut t);
        t
    };
    for (template, code) in [
        // No header value.
        (
            refused(whole.clone(), |t| {
                t["components"].as_array_mut().unwrap().remove(0);
            }),
            132000,
        ),
        // A body value without its name.
        (
            refused(whole.clone(), |t| {
                t["components"][1]["parameters"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("parameter_name");
            }),
            132000,
        ),
        // The URL button's value missing.
        (
            refused(whole.clone(), |t| {
                t["components"].as_array_mut().unwrap().remove(2);
            }),
            131008,
        ),
        // A media value for a text header.
        (
            refused(whole.clone(), |t| {
                t["components"][0]["parameters"][0] = serde_json::json!({"type": "image", "image": {"link": "https://x.example/a.jpg"}});
            }),
            132012,
        ),
    ] {
        match send(template.clone()).await {
            Err(switchboard_server::connector::errors::CloudApiError::Api {
                code: got, ..
            }) => {
                assert_eq!(got, code, "{template}")
            }
            other => panic!("{template}: {other:?}"),
        }
    }
    sim.stop().await;
}
