//! The WebSocket hub against a real server: authentication three ways, topic permissions,
//! masking, live events from real webhooks, resume with no gap and no duplicate, and sockets that
//! do not outlive their session.

use crate::common;

use switchboard_shared::protocol::HubEvent;

use common::ws::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_reach_permitted_subscribers_masked_as_their_role_requires() {
    let w = world().await;
    let mut owner = connect(&w.api, Some(&w.acme.callers["owner"])).await;
    let ready = next(&mut owner).await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["protocol"], 1);
    assert_eq!(ready["tenant"], "acme");
    send(&mut owner, json!({"type": "subscribe", "topic": "tenant"})).await;
    let subscribed = next(&mut owner).await;
    assert_eq!(subscribed["type"], "subscribed");
    let start = subscribed["seq"].as_u64().unwrap();

    // The agent signs in by first frame (as a browser without cookies would).
    let mut agent = connect(&w.api, None).await;
    send(
        &mut agent,
        json!({"type": "auth", "token": token(&w.acme.callers["agent"])}),
    )
    .await;
    assert_eq!(next(&mut agent).await["type"], "ready");
    send(&mut agent, json!({"type": "subscribe", "topic": "tenant"})).await;
    let refused = next(&mut agent).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );
    let team = format!("team:{}", w.acme.ids["team"]);
    send(&mut agent, json!({"type": "subscribe", "topic": team})).await;
    assert_eq!(next(&mut agent).await["type"], "subscribed");
    // Another tenant's conversation does not exist for them.
    let foreign = format!("conversation:{}", w.globex.ids["conversation"]);
    send(&mut agent, json!({"type": "subscribe", "topic": foreign})).await;
    // (The team stream may deliver the agent's first assignment meanwhile: skipped here.)
    let answer = until(&mut agent, |f| f["type"] != "event").await;
    assert_eq!(answer["code"], "not_found", "{answer}");

    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79161234567", "wamid.live.1", "Где мой заказ?"),
    )
    .await;
    // (The agent's arrival already gave them the waiting conversation: that event came first.)
    let seen = until_event(&mut owner, |e| matches!(e, HubEvent::MessageStored { .. })).await;
    assert!(seen["seq"].as_u64().unwrap() > start);
    assert_eq!(seen["event"]["text"], "Где мой заказ?");
    assert_eq!(seen["event"]["customer"], "79161234567");
    let seen = until_event(&mut agent, |e| matches!(e, HubEvent::MessageStored { .. })).await;
    assert_eq!(seen["topic"], team);
    assert_eq!(
        seen["event"]["customer"], "•••••••4567",
        "masked for agents"
    );

    // Globex's webhooks never reach acme's sockets.
    deliver(
        &w.api,
        webhook(GLOBEX_NUMBER, "4915112345678", "wamid.globex.live", "hallo"),
    )
    .await;
    send(&mut owner, json!({"type": "ping", "id": "p1"})).await;
    assert_eq!(next(&mut owner).await, json!({"type": "pong", "id": "p1"}));
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_resumes_with_no_gap_and_no_duplicate() {
    let w = world().await;
    let conversation = format!("conversation:{}", w.acme.ids["conversation"]);
    let mut socket = connect(&w.api, Some(&w.acme.callers["supervisor"])).await;
    next(&mut socket).await;
    send(
        &mut socket,
        json!({"type": "subscribe", "topic": conversation}),
    )
    .await;
    let mut last = next(&mut socket).await["seq"].as_u64().unwrap();
    for i in 0..3 {
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                "79161234567",
                &format!("wamid.r.{i}"),
                &format!("before {i}"),
            ),
        )
        .await;
        let e = next(&mut socket).await;
        assert_eq!(e["seq"].as_u64().unwrap(), last + 1);
        last += 1;
    }
    drop(socket); // the phone went through a tunnel
    for i in 0..4 {
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                "79161234567",
                &format!("wamid.m.{i}"),
                &format!("missed {i}"),
            ),
        )
        .await;
    }
    let mut socket = connect(&w.api, Some(&w.acme.callers["supervisor"])).await;
    next(&mut socket).await;
    send(
        &mut socket,
        json!({"type": "subscribe", "topic": conversation, "after": last}),
    )
    .await;
    // The replay comes first, then `subscribed` with the stream's latest seq. A webhook is
    // acknowledged once durable and published right after, so the last missed events may still
    // arrive live: either way each comes once, in order, with no gap.
    let mut texts = Vec::new();
    let mut subscribed = false;
    while !subscribed || texts.len() < 4 {
        let f = next(&mut socket).await;
        if f["type"] == "subscribed" {
            assert_eq!(f["seq"].as_u64().unwrap(), last + texts.len() as u64);
            subscribed = true;
            continue;
        }
        assert_eq!(f["seq"].as_u64().unwrap(), last + 1 + texts.len() as u64);
        texts.push(f["event"]["text"].as_str().unwrap().to_owned());
    }
    assert_eq!(texts, vec!["missed 0", "missed 1", "missed 2", "missed 3"]);
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79161234567", "wamid.after", "live again"),
    )
    .await;
    let f = next(&mut socket).await;
    assert_eq!(
        (f["seq"].as_u64().unwrap(), f["event"]["text"].as_str()),
        (last + 5, Some("live again"))
    );
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_need_credentials_and_end_with_their_session() {
    let (running, api, _dir) = start("[hub]\nheartbeat_secs = 1\n").await;
    let a = api
        .send(
            Method::POST,
            "setup",
            &Auth::None,
            json!({"token": setup_token(&running.setup_links[0]), "name": "Ada",
                   "email": "ada@acme.example", "password": PASSWORD}),
        )
        .await;
    assert!(a.status.is_success());
    // A bad credential at the upgrade is a 401, before any socket exists.
    let mut request = ws_url(&api).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer sbs_nope".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    // A bad first frame closes with 4001.
    let mut socket = connect(&api, None).await;
    send(&mut socket, json!({"type": "auth", "token": "sbs_forged"})).await;
    assert_eq!(closed_with(&mut socket).await, 4001);
    // A cookie from another origin is refused at the upgrade.
    let (cookie, _) = api.cookie_login("ada@acme.example").await;
    let Auth::Cookie { cookie, .. } = cookie else {
        unreachable!()
    };
    let mut request = ws_url(&api).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    // Logging out ends a live socket at the next heartbeat.
    let bearer = api.token("ada@acme.example").await;
    let mut socket = connect(&api, Some(&bearer)).await;
    assert_eq!(next(&mut socket).await["type"], "ready");
    let a = api.call(Method::POST, "auth/logout", &bearer, None).await;
    assert!(a.status.is_success());
    assert_eq!(closed_with(&mut socket).await, 4010);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_replies_reach_the_socket_as_outbound_messages_with_their_ticks() {
    let (running, api, owner, _dir) = demo("customers = 1\nchat_interval_ms = 100").await;
    let mut socket = connect(&api, Some(&owner)).await;
    next(&mut socket).await;
    send(&mut socket, json!({"type": "subscribe", "topic": "tenant"})).await;
    assert_eq!(next(&mut socket).await["type"], "subscribed");
    let (mut inbound, mut outbound, mut ticks) = (0, 0, 0);
    while inbound == 0 || outbound == 0 || ticks == 0 {
        let f = next(&mut socket).await;
        match (
            f["event"]["kind"].as_str(),
            f["event"]["direction"].as_str(),
        ) {
            (Some("message_stored"), Some("inbound")) => inbound += 1,
            (Some("message_stored"), Some("outbound")) => outbound += 1,
            (Some("status_changed"), _) => ticks += 1,
            _ => {}
        }
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_follows_presence_and_status_and_a_second_device_counts_once() {
    let w = world().await;
    let supervisor = &w.acme.callers["supervisor"];
    let mut board = connect(&w.api, Some(supervisor)).await;
    next(&mut board).await;
    send(&mut board, json!({"type": "subscribe", "topic": "board"})).await;
    // The supervisor's own connection was an event before the subscription; start after it.
    assert_eq!(next(&mut board).await["type"], "subscribed");
    let agent_id = w.acme.ids["agent"].clone();
    let agent_event = |f: &Value| f["event"]["agent"]["user"] == json!(agent_id);

    let mut phone = connect(&w.api, Some(&w.acme.callers["agent"])).await;
    next(&mut phone).await;
    // The board also shows assignments (the agent's arrival gets them the waiting customer).
    let f = until(&mut board, agent_event).await;
    assert_eq!(f["event"]["agent"]["presence"], "online");
    let mut desktop = connect(&w.api, Some(&w.acme.callers["agent"])).await;
    next(&mut desktop).await;
    send(&mut phone, json!({"type": "set_status", "status": "break"})).await;
    let f = until_event(&mut board, |e| matches!(e, HubEvent::AgentChanged { .. })).await;
    assert_eq!(
        (
            f["event"]["agent"]["status"].as_str(),
            f["event"]["agent"]["connections"].as_u64()
        ),
        (Some("break"), Some(2)),
        "the second device was no event of its own: {f}"
    );
    drop(phone);
    drop(desktop);
    let f = until(&mut board, agent_event).await;
    assert_eq!(f["event"]["agent"]["presence"], "offline");
    assert_eq!(f["event"]["agent"]["status"], "break");

    let agents = w.api.get("agents", supervisor).await;
    let me = agents
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user"] == json!(agent_id))
        .unwrap()
        .clone();
    assert_eq!(
        (me["presence"].as_str(), me["status"].as_str()),
        (Some("offline"), Some("break"))
    );
    // Agents do not watch the board.
    let mut agent = connect(&w.api, Some(&w.acme.callers["agent"])).await;
    next(&mut agent).await;
    send(&mut agent, json!({"type": "subscribe", "topic": "board"})).await;
    assert_eq!(next(&mut agent).await["code"], "forbidden");
    w.running.shutdown().await;
}

/// A client that stops reading while more arrives than its connection can buffer (its queue, the
/// socket's write buffer, the kernel's) is not cut: its subscription is set aside when the queue
/// is full and put back from the window when it reads again, and it gets every event once, in
/// order, without a `resync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pauses_reading_gets_every_event_once_afterwards() {
    use futures_util::StreamExt as _;
    let w = world().await;
    // A small receive buffer on the client's side, so the server's buffers fill first.
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4 * 1024).unwrap();
    let address = w.api.base.trim_start_matches("http://").parse().unwrap();
    let tcp = tcp.connect(address).await.unwrap();
    let mut request = ws_url(&w.api).into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token(&w.acme.callers["supervisor"]))
            .parse()
            .unwrap(),
    );
    let (mut socket, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
    next(&mut socket).await;
    send(&mut socket, json!({"type": "subscribe", "topic": "tenant"})).await;
    let mut last = next(&mut socket).await["seq"].as_u64().unwrap();

    // 1,200 messages of 4,000 Cyrillic letters (8 KB each): some 10 MB, more than the 256-frame
    // queue, the 256 KiB write buffer and the kernel's 4 MiB send buffer hold together.
    const MESSAGES: usize = 1_200;
    let text: String = "ж".repeat(4_000);
    futures_util::stream::iter(0..MESSAGES)
        .map(|i| {
            let body = webhook(
                ACME_NUMBER,
                &format!("7916{:07}", i % 50),
                &format!("wamid.pause.{i}"),
                &format!("{i} {text}"),
            );
            deliver(&w.api, body)
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;

    // Now it reads: every event follows the one before, and each message comes once.
    let mut seen = std::collections::HashSet::new();
    while seen.len() < MESSAGES {
        let f = next(&mut socket).await;
        assert_eq!(f["type"], "event", "nothing but events: {f}");
        let seq = f["seq"].as_u64().unwrap();
        assert_eq!(seq, last + 1, "no gap, no duplicate");
        last = seq;
        if f["event"]["kind"] == "message_stored" {
            let text = f["event"]["text"].as_str().unwrap();
            let i = text.split(' ').next().unwrap().to_owned();
            assert!(seen.insert(i), "each message once");
        }
    }
    // And it is live again.
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79161234567", "wamid.pause.after", "after"),
    )
    .await;
    let f = until_event(&mut socket, |e| matches!(e, HubEvent::MessageStored { .. })).await;
    assert_eq!(f["event"]["text"], "after");
    w.running.shutdown().await;
}
