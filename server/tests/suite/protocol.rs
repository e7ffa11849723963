//! The WebSocket protocol's promises (docs/protocol.md), held against the real server by our own
//! protocol client (issue 17): sequences that never go backwards across a restart, a long
//! absence caught up on one connection, a second subscribe refused instead of duplicating, and
//! an `id` on every answer.

use crate::common;

use switchboard_shared::protocol::{close, HubEvent};

use std::time::Duration;

use common::ws::*;
use common::*;
use serde_json::{json, Value};

async fn ready(w_api: &Api, auth: &Auth) -> Socket {
    let mut socket = connect(w_api, Some(auth)).await;
    assert_eq!(next(&mut socket).await["type"], "ready");
    socket
}

/// The answer to the command with `id`, skipping events.
async fn answer(socket: &mut Socket, id: &str) -> Value {
    until(socket, |f| f["id"] == id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_is_answered_with_its_id() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let mut s = ready(&w.api, owner).await;

    send(
        &mut s,
        json!({"type": "subscribe", "id": "s1", "topic": "tenant"}),
    )
    .await;
    let a = answer(&mut s, "s1").await;
    assert_eq!(
        (a["type"].as_str(), a["topic"].as_str()),
        (Some("subscribed"), Some("tenant"))
    );
    // A second subscribe to the same topic would replay what was delivered: refused.
    send(
        &mut s,
        json!({"type": "subscribe", "id": "s2", "topic": "tenant", "after": 0}),
    )
    .await;
    let a = answer(&mut s, "s2").await;
    assert_eq!(
        (a["type"].as_str(), a["code"].as_str()),
        (Some("error"), Some("already_subscribed"))
    );
    // An unknown user's inbox does not exist.
    send(
        &mut s,
        json!({"type": "subscribe", "id": "s3", "topic": "inbox:u_doesnotexist"}),
    )
    .await;
    assert_eq!(answer(&mut s, "s3").await["code"], "not_found");
    send(
        &mut s,
        json!({"type": "subscribe", "id": "s4", "topic": "nonsense"}),
    )
    .await;
    assert_eq!(answer(&mut s, "s4").await["code"], "unknown_topic");
    send(
        &mut s,
        json!({"type": "set_status", "id": "st", "status": "busy"}),
    )
    .await;
    assert_eq!(answer(&mut s, "st").await["type"], "ack");
    send(
        &mut s,
        json!({"type": "unsubscribe", "id": "u1", "topic": "tenant"}),
    )
    .await;
    assert_eq!(
        answer(&mut s, "u1").await,
        json!({"type": "unsubscribed", "id": "u1", "topic": "tenant"})
    );
    // Unsubscribing a topic never followed is answered the same way.
    send(
        &mut s,
        json!({"type": "unsubscribe", "id": "u2", "topic": "board"}),
    )
    .await;
    assert_eq!(answer(&mut s, "u2").await["type"], "unsubscribed");
    // A frame that does not parse still has its id echoed.
    send(
        &mut s,
        json!({"type": "send_message", "id": "bad1", "conversation": "c_x"}),
    )
    .await;
    let a = answer(&mut s, "bad1").await;
    assert_eq!(
        (a["type"].as_str(), a["code"].as_str()),
        (Some("error"), Some("bad_frame"))
    );
    send(&mut s, json!({"type": "ping", "id": "bad2", "surprise": 1})).await;
    assert_eq!(answer(&mut s, "bad2").await["code"], "bad_frame");

    // The same key with a different text is refused, not silently dropped. (The customer
    // writes now, so the 24-hour window is open.)
    let now = (switchboard_server::domain::now_ms() / 1000).to_string();
    let fresh = webhook(ACME_NUMBER, &w.acme.ids["customer"], "wamid.fresh", "hi")
        .replace("1749416383", &now);
    deliver(&w.api, fresh).await;
    let conversation = w.acme.ids["conversation"].clone();
    let reply = |id: &str, text: &str| json!({"type": "send_message", "id": id, "conversation": conversation, "text": text, "key": "k-1"});
    // The conversation's reply window opens once routing has stored the customer's message
    // (its bookkeeping is batched): ask until it is (a refusal stores nothing, key included).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let first = loop {
        send(&mut s, reply("m1", "first text")).await;
        let a = answer(&mut s, "m1").await;
        if a["type"] == "ack" || tokio::time::Instant::now() > deadline {
            break a;
        }
        assert_eq!(a["code"], "outside_window", "{a}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(first["type"], "ack", "{first}");
    send(&mut s, reply("m2", "first text")).await;
    assert_eq!(answer(&mut s, "m2").await["outbox"], first["outbox"]);
    send(&mut s, reply("m3", "another text")).await;
    assert_eq!(answer(&mut s, "m3").await["code"], "key_reused");
    w.running.shutdown().await;
}

/// Posts `n` customer messages through signed webhooks.
async fn customers_write(w: &World, n: usize, tag: &str) {
    for i in 0..n {
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                &format!("7916{i:07}"),
                &format!("wamid.{tag}.{i}"),
                tag,
            ),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_missed_events_arrive_on_one_connection() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let mut s = ready(&w.api, owner).await;
    send(
        &mut s,
        json!({"type": "subscribe", "id": "s", "topic": "tenant"}),
    )
    .await;
    let start = answer(&mut s, "s").await["seq"].as_u64().unwrap();
    drop(s);
    // 500 customers write: 1,000 events on the tenant stream (each message, and its
    // conversation being queued), within the 1,024-event window.
    customers_write(&w, 500, "absent").await;
    let latest = eventually(
        "the events to be published",
        Duration::from_secs(30),
        || {
            let api = &w.api;
            async move {
                let mut probe = ready(api, owner).await;
                send(
                    &mut probe,
                    json!({"type": "subscribe", "id": "p", "topic": "tenant"}),
                )
                .await;
                let seq = answer(&mut probe, "p").await["seq"].as_u64().unwrap();
                (seq >= start + 1000).then_some(seq)
            }
        },
    )
    .await;
    assert!(
        latest - start <= 1024,
        "within the window: {}",
        latest - start
    );

    let mut back = ready(&w.api, owner).await;
    send(
        &mut back,
        json!({"type": "subscribe", "id": "r", "topic": "tenant", "after": start}),
    )
    .await;
    let mut expected = start + 1;
    loop {
        let f = next(&mut back).await;
        match f["type"].as_str() {
            Some("event") => {
                assert_eq!(f["seq"].as_u64(), Some(expected), "no gap, no duplicate");
                expected += 1;
            }
            Some("subscribed") => {
                assert_eq!(f["id"], "r");
                assert_eq!(f["seq"].as_u64(), Some(latest));
                break;
            }
            other => panic!("unexpected {other:?}: {f}"),
        }
    }
    assert_eq!(
        expected,
        latest + 1,
        "every missed event, on this one connection"
    );
    // And the connection is live afterwards.
    send(&mut back, json!({"type": "ping", "id": "alive"})).await;
    assert_eq!(answer(&mut back, "alive").await["type"], "pong");
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_an_old_position_gets_resync_and_sequences_go_on_upwards() {
    let w = world().await;
    let owner = w.acme.callers["owner"].clone();
    let mut s = ready(&w.api, &owner).await;
    send(
        &mut s,
        json!({"type": "subscribe", "id": "s", "topic": "tenant"}),
    )
    .await;
    answer(&mut s, "s").await;
    customers_write(&w, 3, "before").await;
    let seen = until_event(&mut s, |e| matches!(e, HubEvent::MessageStored { .. })).await;
    let position = seen["seq"].as_u64().unwrap();
    drop(s);
    let World {
        running, api, _dir, ..
    } = w;
    running.shutdown().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = switchboard_server::app::start_on(config(_dir.path(), ""), listener)
        .await
        .unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: api.client,
    };
    let mut s = ready(&api, &owner).await;
    send(
        &mut s,
        json!({"type": "subscribe", "id": "again", "topic": "tenant", "after": position}),
    )
    .await;
    let a = answer(&mut s, "again").await;
    assert_eq!(a["type"], "resync", "{a}");
    let resync_seq = a["seq"].as_u64().unwrap();
    assert!(
        resync_seq > position,
        "sequences never go backwards: {resync_seq} <= {position}"
    );
    // Live events follow the resync without subscribing again.
    deliver(
        &api,
        webhook(ACME_NUMBER, "79160000099", "wamid.after.restart", "after"),
    )
    .await;
    let live = until_event(&mut s, |e| matches!(e, HubEvent::MessageStored { .. })).await;
    assert!(live["seq"].as_u64().unwrap() > resync_seq);
    // A position beyond the stream's latest cannot be honoured either.
    send(
        &mut s,
        json!({"type": "subscribe", "id": "future", "topic": "board", "after": u64::MAX / 2}),
    )
    .await;
    assert_eq!(answer(&mut s, "future").await["type"], "resync");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_close_with_1009_and_cookie_upgrades_need_an_origin() {
    let w = world().await;
    let mut s = ready(&w.api, &w.acme.callers["owner"]).await;
    send(&mut s, json!({"type": "ping", "id": "x".repeat(20 * 1024)})).await;
    assert_eq!(closed_with(&mut s).await, 1009);

    // A cookie upgrade without Origin (no browser sends one) is refused.
    let (cookie, _) = w.api.cookie_login(&w.acme.emails["agent"]).await;
    let Auth::Cookie { cookie, .. } = cookie else {
        unreachable!()
    };
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url(
            &w.api,
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_sending_too_fast_is_refused_frame_by_frame_then_closed() {
    let w = world_with("[hub]\nframes_per_second = 1\nframe_burst = 5").await;
    let owner = &w.acme.callers["owner"];
    let mut s = ready(&w.api, owner).await;
    // The burst is read; past it each frame is refused, matched by its id, and not read.
    for i in 0..8 {
        send(&mut s, json!({"type": "ping", "id": format!("p{i}")})).await;
    }
    for i in 0..5 {
        assert_eq!(answer(&mut s, &format!("p{i}")).await["type"], "pong");
    }
    for i in 5..8 {
        let refused = answer(&mut s, &format!("p{i}")).await;
        assert_eq!(refused["code"], "rate_limited", "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("send it again in"),
            "{refused}"
        );
    }
    // Another connection has a pace of its own.
    let mut other = ready(&w.api, owner).await;
    send(&mut other, json!({"type": "ping", "id": "other"})).await;
    assert_eq!(answer(&mut other, "other").await["type"], "pong");
    // A client that keeps going past its refusals is let go.
    for i in 0..120 {
        send(&mut s, json!({"type": "ping", "id": format!("q{i}")})).await;
    }
    assert_eq!(closed_with(&mut s).await, close::TOO_FAST);
    w.running.shutdown().await;
}
