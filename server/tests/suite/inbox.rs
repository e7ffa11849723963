//! The inbox end to end, on the real server: routing a customer's message to an agent's socket,
//! the reply over the socket through the simulator and back as ticks, manual transfer,
//! re-routing when an agent is gone, resolve and reopen, the 24-hour window, and who may do what.

use crate::common;

use switchboard_shared::protocol::HubEvent;

use common::ws::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Starts the server with its simulator (no chatty demo customers, no automatic replies) and an
/// owner and an agent signed in.
async fn with_simulator() -> (
    switchboard_server::app::Running,
    Api,
    Auth,
    Auth,
    String,
    tempfile::TempDir,
) {
    with_simulator_and("").await
}

/// [`with_simulator`] with more configuration sections (TOML).
async fn with_simulator_and(
    extra: &str,
) -> (
    switchboard_server::app::Running,
    Api,
    Auth,
    Auth,
    String,
    tempfile::TempDir,
) {
    let (running, api, owner, dir) =
        demo(&format!("customers = 0\ndemo_replies = false\n{extra}")).await;
    let (agent_id, agent) = new_agent(&api, &owner, "agent@demo.example", "Agent").await;
    (running, api, owner, agent, agent_id, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reaches_the_assigned_agent_whose_reply_goes_out_and_ticks_back() {
    let (running, api, owner, agent, agent_id, _dir) = with_simulator().await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let mut watch = connect(&api, Some(&owner)).await;
    next(&mut watch).await;
    send(&mut watch, json!({"type": "subscribe", "topic": "board"})).await;

    let mut socket = connect(&api, Some(&agent)).await;
    assert_eq!(next(&mut socket).await["type"], "ready");
    let inbox = format!("inbox:{agent_id}");
    send(&mut socket, json!({"type": "subscribe", "topic": inbox})).await;
    assert_eq!(next(&mut socket).await["type"], "subscribed");

    // A customer writes to the business on WhatsApp (the simulator plays Meta).
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(
            &json!({"from": "79161234567", "name": "Ivan", "text": "Здравствуйте! Где мой заказ?"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The agent's inbox hears of the assignment first, then the message.
    let assigned = until_event(&mut socket, |e| {
        matches!(e, HubEvent::ConversationChanged { .. })
    })
    .await;
    assert_eq!(assigned["topic"], inbox.as_str());
    assert_eq!(assigned["event"]["state"], "assigned");
    assert_eq!(assigned["event"]["assignee"], agent_id.as_str());
    assert_eq!(
        assigned["event"]["customer"], "•••••••4567",
        "agents see masked numbers"
    );
    let conversation = assigned["event"]["conversation"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = next(&mut socket).await;
    assert!(
        is_event(&message, |e| matches!(e, HubEvent::MessageStored { .. })),
        "{message}"
    );
    assert_eq!(message["event"]["text"], "Здравствуйте! Где мой заказ?");

    // The agent replies over the socket, with its own key for the message.
    let reply = json!({"type": "send_message", "id": "r1", "conversation": conversation,
                       "text": "Добрый день! Заказ уже в пути.", "key": "draft-1"});
    send(&mut socket, reply.clone()).await;
    // The ack (queued), the reply stored and its ticks all reach the agent (the ack races the
    // events).
    let (mut outbox, mut stored, mut ticks) = (None::<String>, None::<Value>, Vec::<Value>::new());
    while outbox.is_none() || stored.is_none() || !ticks.iter().any(|t| t["status"] == "read") {
        let f = next(&mut socket).await;
        match f["type"].as_str() {
            Some("ack") => {
                assert_eq!((&f["id"], &f["state"]), (&json!("r1"), &json!("queued")));
                outbox = Some(f["outbox"].as_str().unwrap().to_owned());
            }
            Some("error") => panic!("the reply was refused: {f}"),
            _ if is_event(&f, |e| matches!(e, HubEvent::MessageStored { .. }))
                && f["event"]["direction"] == "outbound" =>
            {
                stored = Some(f["event"].clone())
            }
            _ if is_event(&f, |e| matches!(e, HubEvent::StatusChanged { .. })) => {
                ticks.push(f["event"].clone())
            }
            _ => {}
        }
    }
    let (outbox, stored) = (outbox.unwrap(), stored.unwrap());
    assert_eq!(stored["outbox"], outbox.as_str(), "{stored}");
    let wamid = stored["wamid"].as_str().unwrap().to_owned();

    // The same key again (a client that lost the ack) gets the same send, now sent: no second
    // message goes out.
    send(&mut socket, reply).await;
    let again = until(&mut socket, |f| f["type"] == "ack").await;
    assert_eq!(
        (&again["outbox"], &again["state"], &again["wamid"]),
        (&json!(outbox), &json!("sent"), &json!(wamid))
    );
    let s = api.get(&format!("sends/{outbox}"), &agent).await;
    assert_eq!(
        (s.status, &s.body["state"], s.body["attempts"].as_u64()),
        (StatusCode::OK, &json!("sent"), Some(1)),
        "{:?}",
        s.body
    );
    assert!(ticks.iter().all(|t| t["wamid"] == wamid.as_str()));
    assert_eq!(ticks[0]["status"], "sent", "{ticks:?}");

    // The simulator received exactly that send (found by the send's id: the agent, who may not
    // see customers' numbers, knows the message by its reference, never by its wamid).
    assert!(wamid.starts_with("m_"), "{wamid}");
    let sent: Vec<Value> = sim_get(&api.client, &sim, "sent").await;
    let ours: Vec<&Value> = sent
        .iter()
        .filter(|s| s["idempotency_key"] == outbox.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{sent:?}");
    assert!(ours[0].to_string().contains("Заказ уже в пути"));

    // The supervisor board counts the first response and the agent's load, pushed and on demand.
    let board = api.get("board", &owner).await;
    assert_eq!(board.status, StatusCode::OK, "{:?}", board.body);
    assert_eq!(board.body["first_responses_today"], 1, "{:?}", board.body);
    assert!(board.body["first_response_median_ms"].as_i64().unwrap() >= 0);
    let load = board.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user"] == agent_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (load["active"].as_u64(), load["capacity"].as_u64()),
        (Some(1), Some(5))
    );
    let pushed = until(&mut watch, |f| {
        is_event(f, |e| matches!(e, HubEvent::BoardChanged { .. }))
            && f["event"]["board"]["first_responses_today"] == 1
    })
    .await;
    assert_eq!(pushed["event"]["board"]["queue_depth"], 0);

    // The customer no longer waits.
    let c = api
        .get(&format!("conversations/{conversation}"), &agent)
        .await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    assert_eq!(c.body["state"], "assigned");
    assert_eq!(c.body["waiting_since"], Value::Null);

    // Refusals are precise and keep the socket open.
    send(
        &mut socket,
        json!({"type": "send_message", "id": "r2", "conversation": conversation, "text": "  "}),
    )
    .await;
    let refused = until(&mut socket, |f| f["type"] == "error").await;
    assert_eq!(
        (refused["id"].as_str(), refused["code"].as_str()),
        (Some("r2"), Some("rejected"))
    );
    send(
        &mut socket,
        json!({"type": "send_message", "id": "r3", "conversation": "c_nope", "text": "hi"}),
    )
    .await;
    let refused = until(&mut socket, |f| f["type"] == "error").await;
    assert_eq!(refused["code"], "not_found");
    send(
        &mut socket,
        json!({"type": "assign", "id": "r4", "conversation": conversation, "agent": agent_id}),
    )
    .await;
    let refused = until(&mut socket, |f| f["type"] == "error").await;
    assert_eq!(
        (refused["id"].as_str(), refused["code"].as_str()),
        (Some("r4"), Some("forbidden")),
        "agents do not assign"
    );
    running.shutdown().await;
}

/// Waits for the next `conversation_changed` on a socket.
async fn changed(socket: &mut Socket) -> Value {
    until_event(socket, |e| {
        matches!(e, HubEvent::ConversationChanged { .. })
    })
    .await["event"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_reroute_resolve_reopen_and_the_window() {
    let w = world_with("[routing]\noffline_grace_secs = 1\n").await;
    let (api, acme) = (&w.api, &w.acme);
    let conversation = acme.ids["conversation"].clone();
    let agent_id = acme.ids["agent"].clone();
    let supervisor_id = acme.ids["supervisor"].clone();

    // Nobody was there when the customer wrote: the conversation waits.
    let c = api
        .get(
            &format!("conversations/{conversation}"),
            &acme.callers["owner"],
        )
        .await;
    assert_eq!(c.body["state"], "queued", "{:?}", c.body);
    // The agent comes online and gets it (from the window: `after: 0` replays it).
    let mut agent = connect(api, Some(&acme.callers["agent"])).await;
    next(&mut agent).await;
    send(
        &mut agent,
        json!({"type": "subscribe", "topic": format!("inbox:{agent_id}"), "after": 0}),
    )
    .await;
    let e = changed(&mut agent).await;
    assert_eq!(
        (e["state"].as_str(), e["reason"].as_str()),
        (Some("assigned"), Some("queue"))
    );
    let mine = api
        .get("conversations?assignee=me", &acme.callers["agent"])
        .await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        mine.body
    );

    // Another agent's inbox is not theirs to follow.
    send(
        &mut agent,
        json!({"type": "subscribe", "topic": format!("inbox:{supervisor_id}")}),
    )
    .await;
    assert_eq!(
        until(&mut agent, |f| f["type"] == "error").await["code"],
        "forbidden"
    );

    // A supervisor transfers it to themselves; only someone connected can receive it.
    let to_supervisor = json!({"agent": supervisor_id});
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/assign"),
            &acme.callers["owner"],
            to_supervisor.clone(),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "agent_not_connected")
    );
    let mut supervisor = connect(api, Some(&acme.callers["supervisor"])).await;
    next(&mut supervisor).await;
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/assign"),
            &acme.callers["supervisor"],
            to_supervisor,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["assignee"], supervisor_id.as_str());
    let e = changed(&mut agent).await;
    assert_eq!(
        (
            e["previous"].as_str(),
            e["assignee"].as_str(),
            e["reason"].as_str()
        ),
        (
            Some(agent_id.as_str()),
            Some(supervisor_id.as_str()),
            Some("manual")
        ),
        "the agent's inbox drops it"
    );
    let audit = api
        .get("audit?action=conversation.assign", &acme.callers["owner"])
        .await;
    let line = &audit.body["items"][0];
    assert_eq!(line["outcome"], "ok", "{:?}", audit.body);
    assert_eq!(line["after"]["assignee"], supervisor_id.as_str());
    assert_eq!(line["before"]["assignee"], agent_id.as_str());

    // The supervisor leaves; after the grace period it goes back to someone who is there.
    drop(supervisor);
    let e = changed(&mut agent).await;
    assert_eq!(
        (e["assignee"].as_str(), e["previous"].as_str()),
        (Some(agent_id.as_str()), Some(supervisor_id.as_str()))
    );

    // The customer last wrote long ago (the fixture's timestamp): free text is refused, and the
    // answer says what to do instead.
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/messages"),
            &acme.callers["agent"],
            json!({"text": "Hello"}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "outside_window")
    );
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("template"));

    // Resolve over the socket: it leaves the open inbox.
    send(
        &mut agent,
        json!({"type": "resolve", "id": "x", "conversation": conversation}),
    )
    .await;
    // The event and the ack may come in either order.
    let (mut acked, mut event) = (false, None);
    while !acked || event.is_none() {
        let f = next(&mut agent).await;
        if f["type"] == "ack" {
            assert_eq!(f["id"], "x");
            acked = true;
        } else if is_event(&f, |e| matches!(e, HubEvent::ConversationChanged { .. })) {
            event = Some(f["event"].clone());
        }
    }
    let e = event.unwrap();
    assert_eq!(
        (e["state"].as_str(), e["assignee"].as_str()),
        (Some("resolved"), None)
    );
    let open = api.get("conversations", &acme.callers["owner"]).await;
    assert_eq!(open.body["items"], json!([]), "{:?}", open.body);
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/resolve"),
            &acme.callers["owner"],
            json!({}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "already_resolved")
    );

    // Another tenant cannot touch it; it does not exist for them.
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/reopen"),
            &w.globex.callers["owner"],
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // Reopened, it goes back to its last agent, who is there.
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/reopen"),
            &acme.callers["owner"],
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let e = changed(&mut agent).await;
    assert_eq!(
        (
            e["state"].as_str(),
            e["assignee"].as_str(),
            e["reason"].as_str()
        ),
        (Some("assigned"), Some(agent_id.as_str()), Some("sticky"))
    );
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_status_tags_and_notes_with_mentions() {
    let (running, api, owner, agent, agent_id, _dir) = with_simulator_and(
        "[routing]\nqueue_notice = \"You are number {position} in the queue (about {minutes} min).\"",
    )
    .await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let owner_id = api.get("auth/me", &owner).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (second_id, second) = new_agent(&api, &owner, "second@demo.example", "Agent").await;

    // The first agent holds one conversation at a time; the second is on a break.
    let p = api
        .send(
            Method::PUT,
            &format!("agents/{agent_id}/profile"),
            &owner,
            json!({"skills": ["lang:ru"], "capacity": 1}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    let bad = api
        .send(
            Method::PUT,
            &format!("agents/{agent_id}/profile"),
            &owner,
            json!({"skills": ["vip"], "capacity": 1}),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "skills are lang: or skill:"
    );
    let denied = api
        .send(
            Method::PUT,
            &format!("agents/{agent_id}/profile"),
            &agent,
            json!({"skills": [], "capacity": 9}),
        )
        .await;
    assert_eq!(
        denied.status,
        StatusCode::FORBIDDEN,
        "agents do not set profiles"
    );

    let mut a = connect(&api, Some(&agent)).await;
    next(&mut a).await;
    send(
        &mut a,
        json!({"type": "subscribe", "topic": format!("inbox:{agent_id}")}),
    )
    .await;
    assert_eq!(next(&mut a).await["type"], "subscribed");
    let mut s = connect(&api, Some(&second)).await;
    next(&mut s).await;
    let st = api
        .send(
            Method::PUT,
            "agents/me/status",
            &second,
            json!({"status": "break"}),
        )
        .await;
    assert_eq!(
        (st.status, &st.body["status"], &st.body["user"]),
        (StatusCode::OK, &json!("break"), &json!(second_id)),
        "{:?}",
        st.body
    );

    customer_writes(&api, &sim, "79160000001", "Привет").await;
    let first = changed(&mut a).await;
    assert_eq!(first["state"], "assigned");
    let c1 = first["conversation"].as_str().unwrap().to_owned();
    // At capacity 1 (not the default 5), the next customer waits.
    customer_writes(&api, &sim, "79160000002", "Здравствуйте").await;
    let c2 = eventually(
        "the second customer waits",
        std::time::Duration::from_secs(5),
        || async {
            let q = api.get("conversations?state=queued", &owner).await;
            q.body["items"]
                .as_array()
                .and_then(|i| i.first())
                .map(|c| c["id"].as_str().unwrap().to_owned())
        },
    )
    .await;
    // The waiting customer is told their place; that notice is not an answer.
    let told = eventually(
        "the queue notice reached the customer",
        std::time::Duration::from_secs(5),
        || async {
            let sent: Vec<Value> = sim_get(&api.client, &sim, "sent").await;
            sent.iter()
                .any(|s| {
                    s["to"] == "79160000002"
                        && s["body"]["text"]["body"]
                            .as_str()
                            .is_some_and(|b| b.starts_with("You are number 1 in the queue (about "))
                })
                .then_some(true)
        },
    )
    .await;
    assert!(told, "the queue notice reached the customer");
    let c = api.get(&format!("conversations/{c2}"), &owner).await;
    assert!(
        c.body["waiting_since"].is_i64(),
        "still waiting: {:?}",
        c.body
    );
    assert_eq!(
        api.get("board", &owner).await.body["first_responses_today"],
        0,
        "an automatic notice is no first response"
    );

    // Tags: validated, stored, announced, and visible on the conversation.
    let t = api
        .send(
            Method::PUT,
            &format!("conversations/{c1}/tags"),
            &agent,
            json!({"tags": ["vip", "lang:ru", "vip"]}),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    assert_eq!(t.body["tags"], json!(["vip", "lang:ru"]));
    let e = until_event(&mut a, |e| matches!(e, HubEvent::TagsChanged { .. })).await;
    assert_eq!(
        (&e["event"]["tags"], &e["event"]["by"]),
        (&json!(["vip", "lang:ru"]), &json!(agent_id))
    );
    let t = api
        .send(
            Method::PUT,
            &format!("conversations/{c1}/tags"),
            &agent,
            json!({"tags": ["Not Valid"]}),
        )
        .await;
    assert_eq!(t.status, StatusCode::BAD_REQUEST);

    // Raising the capacity gives the waiting customer to the agent at once.
    let p = api
        .send(
            Method::PUT,
            &format!("agents/{agent_id}/profile"),
            &owner,
            json!({"skills": ["lang:ru"], "capacity": 2}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let e = changed(&mut a).await;
    assert_eq!(
        (e["conversation"].as_str(), e["reason"].as_str()),
        (Some(c2.as_str()), Some("queue"))
    );
    let got = api.get(&format!("agents/{agent_id}/profile"), &owner).await;
    assert_eq!(got.body, json!({"skills": ["lang:ru"], "capacity": 2}));

    // The colleagues a note may mention: those who may read the conversation (the owner, the
    // agent holding it), never the second agent, who may not.
    let who = api
        .get(&format!("conversations/{c1}/mentionable"), &agent)
        .await;
    assert_eq!(who.status, StatusCode::OK, "{:?}", who.body);
    let ids: Vec<&str> = who
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&owner_id.as_str()) && ids.contains(&agent_id.as_str()),
        "{ids:?}"
    );
    assert!(!ids.contains(&second_id.as_str()), "{ids:?}");
    assert!(who
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"].is_string()));

    // Notes: a mention of someone who may read the conversation reaches their inbox; a
    // colleague who may not read it, or nobody, is refused.
    let mut o = connect(&api, Some(&owner)).await;
    next(&mut o).await;
    send(
        &mut o,
        json!({"type": "subscribe", "topic": format!("inbox:{owner_id}")}),
    )
    .await;
    assert_eq!(next(&mut o).await["type"], "subscribed");
    let text = format!("@{{{owner_id}}} this customer asks for a refund");
    let n = api
        .send(
            Method::POST,
            &format!("conversations/{c1}/notes"),
            &agent,
            json!({"text": text}),
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED, "{:?}", n.body);
    assert_eq!(n.body["mentions"], json!([owner_id]));
    let heard = until_event(&mut o, |e| matches!(e, HubEvent::NoteAdded { .. })).await;
    assert_eq!(heard["event"]["note"]["text"], text.as_str());
    until_event(&mut a, |e| matches!(e, HubEvent::NoteAdded { .. })).await;
    for (mention, code) in [
        (second_id.as_str(), "mention_cannot_read"),
        ("u_nobody", "unknown_mention"),
    ] {
        let n = api
            .send(
                Method::POST,
                &format!("conversations/{c1}/notes"),
                &agent,
                json!({"text": format!("@{{{mention}}} look")}),
            )
            .await;
        assert_eq!(
            (n.status, n.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    let list = api.get(&format!("conversations/{c1}/notes"), &owner).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "refused notes are not stored: {items:?}");
    assert_eq!(items[0]["author"], agent_id.as_str());
    let n = api
        .send(
            Method::POST,
            &format!("conversations/{c1}/notes"),
            &second,
            json!({"text": "x"}),
        )
        .await;
    assert_eq!(
        n.status,
        StatusCode::NOT_FOUND,
        "the second agent cannot see it"
    );
    drop(s);
    running.shutdown().await;
}
