//! Resource limits on the public surfaces: every route's body limit, walked from the route
//! table, and the per-client paces of sign-in, setup and webhooks from forgers
//! (docs/security.md, "Body sizes, per route" and rule 7).

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::api::{routes, BodyKind};
use switchboard_server::connector::signature;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UPLOAD: usize = 256 * 1024;
const SPOOL: usize = 1024 * 1024;
const JSON: usize = 65_536;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_a_body_past_its_limit_and_takes_one_at_it() {
    let w = world_with(&format!(
        "[http]\nmax_upload_bytes = {UPLOAD}\n[contacts]\nimport_max_mib = 1\n\
         [auth]\nattempt_burst = 1000"
    ))
    .await;
    let owner = &w.acme.callers["owner"];
    // Signing out last: a body the route ignores still signs the owner out.
    let mut table: Vec<_> = routes().iter().collect();
    table.sort_by_key(|r| r.path.starts_with("auth/logout"));
    for at_limit in [false, true] {
        for route in &table {
            let limit = match route.body {
                BodyKind::Empty => 0,
                BodyKind::Json => JSON,
                BodyKind::LargeJson | BodyKind::Upload => UPLOAD,
                BodyKind::Spool => SPOOL,
            };
            let size = if at_limit { limit } else { limit + 1 };
            let path: String = route
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { "nope" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
            let content_type = match route.body {
                BodyKind::Spool => "text/csv",
                BodyKind::Upload => "application/pdf",
                _ => "application/json",
            };
            let a = w
                .api
                .raw(method, &path, owner, content_type, vec![b'a'; size])
                .await;
            let what = format!(
                "{} {path} with {size} bytes: {} {:?}",
                route.method, a.status, a.body
            );
            if at_limit {
                assert_ne!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{what}");
                assert!(!a.status.is_server_error(), "{what}");
            } else {
                assert_eq!(
                    (a.status, a.code()),
                    (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                    "{what}"
                );
                let says = a.body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    says.contains(&limit.to_string()) || says.contains("no request body"),
                    "{what}: the refusal names the limit"
                );
            }
        }
    }
    w.running.shutdown().await;
}

/// A request as the client at `address` (the test server believes loopback's
/// `X-Forwarded-For`).
fn from(api: &Api, address: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    api.client
        .request(method, format!("{}/{path}", api.base))
        .header("x-forwarded-for", address)
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Option<u64>, String) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (status, retry_after, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_setup_attempts_are_paced_per_client_address() {
    let (running, api, _dir) = start(
        "[auth]\nattempts_per_minute = 1\nattempt_burst = 3\n\
         [http]\ntrusted_proxies = [\"127.0.0.1/32\"]",
    )
    .await;
    let link = running.setup_links[0].clone();
    let wrong = json!({"email": "who@acme.example", "password": "not the password"});
    let pacer = "203.0.113.7";
    // Three attempts of any kind, right or wrong, make the burst...
    for path in ["api/v1/auth/login", "api/v1/auth/token"] {
        let (status, _, _) = answer(from(&api, pacer, Method::POST, path).json(&wrong)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let bad_setup = json!({"token": "nope", "name": "X", "email": "x@acme.example",
                           "password": PASSWORD});
    let (status, _, _) =
        answer(from(&api, pacer, Method::POST, "api/v1/setup").json(&bad_setup)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // ...and the next is refused before its body is looked at: even the right setup link.
    let setup = json!({"token": setup_token(&link), "name": "Owner",
                       "email": "owner@acme.example", "password": PASSWORD});
    let (status, retry_after, text) =
        answer(from(&api, pacer, Method::POST, "api/v1/setup").json(&setup)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        text.contains("at most 1 sign-in attempts a minute from one address (bursts of 3)"),
        "{text}"
    );
    let wait = retry_after.expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    // The setup form shares the pace, and says the link still works.
    let (status, retry_after, text) = answer(
        from(&api, pacer, Method::POST, "setup")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}&name=Owner", setup_token(&link))),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    assert!(
        text.contains("still works") && retry_after.is_some(),
        "{text}"
    );
    // Another address is another client: the link was not used up by the refusals.
    let other = "198.51.100.2";
    let (status, _, text) =
        answer(from(&api, other, Method::POST, "api/v1/setup").json(&setup)).await;
    assert!(status.is_success(), "{status} {text}");
    let (status, _, text) = answer(
        from(&api, other, Method::POST, "api/v1/auth/token")
            .json(&json!({"email": "owner@acme.example", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    running.shutdown().await;
}

/// Posts a webhook from `address`, signed with `secret` (or not signed).
async fn webhook_from(api: &Api, address: &str, secret: Option<&str>, n: usize) -> StatusCode {
    let body = webhook(
        ACME_NUMBER,
        "15550001111",
        &format!("wamid.limits.{n}"),
        "hello",
    );
    let mut request = from(api, address, Method::POST, "webhooks/whatsapp")
        .header("content-type", "application/json");
    if let Some(secret) = secret {
        request = request.header(
            "x-hub-signature-256",
            signature::sign(secret.as_bytes(), body.as_bytes()),
        );
    }
    answer(request.body(body)).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_from_a_forger_are_paced_unread_and_metas_never() {
    let (running, api, _dir) = start(
        "[webhook]\nsuspect_per_minute = 1\nsuspect_burst = 2\n\
         [http]\ntrusted_proxies = [\"127.0.0.1/32\"]",
    )
    .await;
    let (meta, forger) = ("173.252.88.1", "198.51.100.9");
    // Before any forgery, nobody is paced.
    for n in 0..5 {
        assert_eq!(
            webhook_from(&api, meta, Some(SECRET), n).await,
            StatusCode::OK
        );
    }
    // A forgery makes its address a suspect: two more get read (the burst), then 429.
    assert_eq!(
        webhook_from(&api, forger, None, 10).await,
        StatusCode::UNAUTHORIZED
    );
    for n in 11..13 {
        assert_eq!(
            webhook_from(&api, forger, Some("guessed"), n).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        webhook_from(&api, forger, Some("guessed"), 13).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Refused before its body is read: a declared megabyte that never comes is answered at
    // once, not after the body timeout (408).
    let mut socket = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    socket
        .write_all(
            format!(
                "POST /webhooks/whatsapp HTTP/1.1\r\nhost: x\r\nx-forwarded-for: {forger}\r\n\
                 content-type: application/json\r\ncontent-length: 1048576\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
            .await
            .expect("answered without waiting for the body")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    // Meta's address, once it delivered a valid signature, is never paced: not even when one
    // app's secret is wrong and its deliveries fail, over and over.
    for n in 20..30 {
        assert_eq!(
            webhook_from(&api, meta, Some("stale secret"), n).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        webhook_from(&api, meta, Some(SECRET), 30).await,
        StatusCode::OK
    );
    running.shutdown().await;
}
