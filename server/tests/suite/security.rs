//! Regression tests for the security probe's findings (issue 16). Each was written to fail
//! before its fix; docs/security.md states the rule each one holds the server to.

use crate::common;

use switchboard_shared::protocol::HubEvent;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::connector::signature;

/// Posts `body` signed with `secret`; the status and the JSON answer.
async fn post_signed(api: &Api, secret: &str, body: &Value) -> (StatusCode, Value) {
    let body = body.to_string();
    let response = api
        .client
        .post(format!("{}/webhooks/whatsapp", api.base))
        .header(
            "x-hub-signature-256",
            signature::sign(secret.as_bytes(), body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn envelope(waba: &str, value: Value) -> Value {
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": waba, "changes": [{"field": "messages", "value": value}]}]})
}

/// A customer's text to `number`, in an envelope naming `waba`.
fn text_to(waba: &str, number: &str, customer: &str, wamid: &str, text: &str) -> Value {
    envelope(
        waba,
        json!({"messaging_product": "whatsapp",
               "metadata": {"display_phone_number": "1555999", "phone_number_id": number},
               "contacts": [{"profile": {"name": "Customer"}, "wa_id": customer}],
               "messages": [{"from": customer, "id": wamid, "timestamp": "1749416383",
                             "type": "text", "text": {"body": text}}]}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_reaches_only_tenants_whose_app_signed_it() {
    let w = world().await;
    // Globex's one conversation (from its set-up) is routed before anything is compared.
    let before = set_up_conversation_routed(&w, &w.globex).await;
    const UNCONFIGURED: &str = "999999999999999";

    // Signed by Acme's app, naming Globex's WABA and a number nobody configured.
    let forged_message = text_to(
        "9002",
        UNCONFIGURED,
        "15550001111",
        "wamid.forged.1",
        "Forged",
    );
    let (status, body) = post_signed(&w.api, SECRET, &forged_message).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_signature");

    // A status for Globex's number through Globex's WABA, signed by Acme: refused like before.
    let forged_status = envelope(
        "9002",
        json!({"messaging_product": "whatsapp",
               "metadata": {"display_phone_number": "1555999", "phone_number_id": UNCONFIGURED},
               "statuses": [{"id": "wamid.globex.out", "status": "played", "timestamp": "1749416390",
                             "recipient_id": "4915112345678"}]}),
    );
    let (status, _) = post_signed(&w.api, SECRET, &forged_status).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // No metadata at all: an account event naming Globex's WABA.
    let forged_account = json!({"object": "whatsapp_business_account",
        "entry": [{"id": "9002", "changes": [{"field": "account_update",
            "value": {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "DISABLE"}}}]}]});
    let (status, _) = post_signed(&w.api, SECRET, &forged_account).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(all_open(&w, &w.globex).await, before);

    // The signer's own WABA with a number not yet configured still lands with the signer.
    let own = text_to("9001", UNCONFIGURED, "15550002222", "wamid.own.1", "hi");
    let (status, body) = post_signed(&w.api, SECRET, &own).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Globex's own app signing for Globex's WABA is of course fine too.
    let (status, body) = post_signed(&w.api, GLOBEX_SECRET, &forged_message).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually(
        "globex gains the conversation its own app sent",
        Duration::from_secs(10),
        || async { (all_open(&w, &w.globex).await == before + 1).then_some(()) },
    )
    .await;
    w.running.shutdown().await;
}

/// Sends a ping with an id and returns every frame before its pong: what the socket had queued.
async fn frames_before_pong(socket: &mut ws::Socket, id: &str) -> Vec<Value> {
    ws::send(socket, json!({"type": "ping", "id": id})).await;
    let mut seen = Vec::new();
    loop {
        let frame = ws::next(socket).await;
        if frame["type"] == "pong" && frame["id"] == id {
            return seen;
        }
        seen.push(frame);
    }
}

async fn signed_in_socket(w: &World, auth: &Auth) -> ws::Socket {
    let mut socket = ws::connect(&w.api, Some(auth)).await;
    assert_eq!(ws::next(&mut socket).await["type"], "ready");
    socket
}

async fn subscribe(socket: &mut ws::Socket, topic: &str) {
    ws::send(socket, json!({"type": "subscribe", "topic": topic})).await;
    let answer = ws::until(socket, |f| f["type"] != "event").await;
    assert_eq!(answer["type"], "subscribed", "{topic}: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_when_the_right_to_see_does() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let conversation = w.acme.ids["conversation"].clone();
    // A second agent outside every team: they see only what is assigned to them.
    let a = w
        .api
        .send(
            reqwest::Method::POST,
            "users",
            owner,
            json!({"email": "solo@acme.example", "name": "Solo", "role": "agent", "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let solo_id = a.body["id"].as_str().unwrap().to_owned();
    let solo = w.api.token("solo@acme.example").await;
    let mut solo_socket = signed_in_socket(&w, &solo).await;
    let mut agent_socket = signed_in_socket(&w, &w.acme.callers["agent"]).await;

    let assign = |to: String| {
        let path = format!("conversations/{conversation}/assign");
        let api = &w.api;
        async move {
            let a = api
                .send(reqwest::Method::POST, &path, owner, json!({"agent": to}))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        }
    };
    assign(solo_id.clone()).await;
    let topic = format!("conversation:{conversation}");
    subscribe(&mut solo_socket, &topic).await;

    // Transferred to the team's agent: Solo's subscription ends, with the reason, and the
    // transfer itself (and everything after it) is not delivered to them.
    assign(w.acme.ids["agent"].clone()).await;
    let ended = ws::until(&mut solo_socket, |f| f["type"] != "event").await;
    assert_eq!(
        ended,
        json!({"type": "unsubscribed", "topic": topic, "reason": "access_revoked"})
    );
    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            &w.acme.ids["customer"],
            "wamid.secret.1",
            "my card is 4111 1111 1111 1111",
        ),
    )
    .await;
    // The team's agent hears of it on the same topic (so it was published)...
    subscribe(&mut agent_socket, &topic).await;
    let team_topic = format!("team:{}", w.acme.ids["team"]);
    subscribe(&mut agent_socket, &team_topic).await;
    // ...and Solo's socket has nothing of this conversation queued.
    let leaked = frames_before_pong(&mut solo_socket, "p1").await;
    assert!(
        leaked.iter().all(|f| f["topic"] != topic.as_str()),
        "{leaked:?}"
    );
    // Subscribing again is refused like REST: the conversation is not theirs.
    ws::send(
        &mut solo_socket,
        json!({"type": "subscribe", "topic": topic}),
    )
    .await;
    assert_eq!(ws::next(&mut solo_socket).await["code"], "not_found");

    // Removed from the team: the team stream ends at once, before the next event.
    let a = w
        .api
        .send(
            reqwest::Method::PUT,
            &format!("teams/{}", w.acme.ids["team"]),
            owner,
            json!({"name": "Sales", "members": [], "numbers": [ACME_NUMBER]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            "79160000001",
            "wamid.after.team",
            "hello again",
        ),
    )
    .await;
    let ended = ws::until(&mut agent_socket, |f| {
        f["type"] == "unsubscribed" && f["topic"] == team_topic.as_str()
    })
    .await;
    assert_eq!(ended["reason"], "access_revoked");
    let later = frames_before_pong(&mut agent_socket, "p2").await;
    assert!(
        later
            .iter()
            .all(|f| f["topic"] != team_topic.as_str() || f["type"] != "event"),
        "{later:?}"
    );
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_ends_the_socket_before_the_next_event() {
    let w = world().await;
    let mut supervisor = signed_in_socket(&w, &w.acme.callers["supervisor"]).await;
    subscribe(&mut supervisor, "tenant").await;
    let a = w
        .api
        .send(
            reqwest::Method::PATCH,
            &format!("users/{}", w.acme.ids["supervisor"]),
            &w.acme.callers["owner"],
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79160000002", "wamid.after.role", "anyone?"),
    )
    .await;
    // Closed with "session ended" (a role change ends sessions), and nothing came before it.
    loop {
        match tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut supervisor),
        )
        .await
        .expect("closed within 10 s")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 4010);
                break;
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                let f: Value = serde_json::from_str(t.as_str()).unwrap();
                assert_ne!(f["type"], "event", "delivered after the role change: {f}");
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_and_a_wrong_password_get_the_same_answer() {
    let w = world().await;
    let a = w
        .api
        .send(
            reqwest::Method::PATCH,
            &format!("users/{}", w.acme.ids["viewer"]),
            &w.acme.callers["owner"],
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let attempt = |password: &'static str| {
        let api = &w.api;
        let email = w.acme.emails["viewer"].clone();
        async move {
            api.send(
                reqwest::Method::POST,
                "auth/token",
                &Auth::None,
                json!({"email": email, "password": password}),
            )
            .await
        }
    };
    let right = attempt(PASSWORD).await;
    let wrong = attempt("not the password at all").await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
    assert_eq!((right.status, &right.body), (wrong.status, &wrong.body));
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_current_password_is_throttled_and_audited() {
    let w = world().await;
    let agent = &w.acme.callers["agent"];
    let mut last = None;
    for _ in 0..6 {
        let a = w
            .api
            .send(
                reqwest::Method::POST,
                "auth/password",
                agent,
                json!({"current_password": "a guess at the password", "new_password": "a brand new passphrase"}),
            )
            .await;
        last = Some((a.status, a.code().to_owned()));
    }
    // Five wrong guesses lock the account, like sign-in: the sixth is refused unheard.
    assert_eq!(
        last,
        Some((StatusCode::TOO_MANY_REQUESTS, "login_locked".to_owned()))
    );
    let audit = w
        .api
        .get("audit?action=auth", &w.acme.callers["owner"])
        .await;
    let failed = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["outcome"] == "failed" && l["target"] == format!("user:{}", w.acme.ids["agent"])
        })
        .count();
    assert!(failed >= 5, "{:?}", audit.body);
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_link_dies_once_the_workspace_has_an_owner() {
    let (running, api, dir) = start("").await;
    let link = running.setup_links[0].clone();
    // The operator makes an owner with the CLI (its own connection to the same data).
    let config = common::config(dir.path(), "");
    let cli_store = switchboard_server::app::open_store(&config, false)
        .await
        .unwrap();
    switchboard_server::admin::create_user(
        cli_store.as_ref(),
        "acme",
        "ops@acme.example",
        Some("Ops"),
        "owner",
        PASSWORD.into(),
    )
    .await
    .unwrap();
    let a = api
        .send(
            reqwest::Method::POST,
            "setup",
            &Auth::None,
            json!({"token": setup_token(&link), "name": "Intruder",
                   "email": "second@acme.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "invalid_setup_token"),
        "{:?}",
        a.body
    );
    // Withdrawn for good, not merely refused this once.
    let users = switchboard_server::admin::list_users(cli_store.as_ref(), "acme")
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    running.shutdown().await;
}

/// Waits until the tenant's one conversation from its set-up is routed; that count (1).
async fn set_up_conversation_routed(w: &World, tenant: &Tenant) -> usize {
    eventually(
        "the set-up conversation to be routed",
        Duration::from_secs(10),
        || async { (all_open(w, tenant).await == 1).then_some(1) },
    )
    .await
}

/// Every open conversation the owner can list, paged.
async fn all_open(w: &World, tenant: &Tenant) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("conversations?limit=200&cursor={c}"),
            None => "conversations?limit=200".to_owned(),
        };
        let a = w.api.get(&path, &tenant.callers["owner"]).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        count += a.body["items"].as_array().unwrap().len();
        match a.body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return count,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_large_webhook_reaches_the_inbox_whole() {
    let w = world().await;
    let before = set_up_conversation_routed(&w, &w.acme).await;
    const N: usize = 5_000;
    let customers: Vec<String> = (0..N).map(|i| format!("7916{i:07}")).collect();
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": format!("1555{ACME_NUMBER}"), "phone_number_id": ACME_NUMBER},
        "contacts": customers.iter().map(|c| json!({"profile": {"name": "Burst"}, "wa_id": c})).collect::<Vec<_>>(),
        "messages": customers.iter().enumerate().map(|(i, c)| json!({
            "from": c, "id": format!("wamid.burst.{i}"), "timestamp": "1749416383",
            "type": "text", "text": {"body": "hi"}})).collect::<Vec<_>>(),
    });
    let (status, body) = post_signed(&w.api, SECRET, &envelope("9001", value)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Every customer reaches the inbox: none is skipped because the bus overran routing.
    eventually(
        "all 5,000 conversations in the inbox",
        Duration::from_secs(120),
        || async { (all_open(&w, &w.acme).await == before + N).then_some(()) },
    )
    .await;
    w.running.shutdown().await;
}

/// The id a conversation had before ids were keyed: an unsalted digest anyone could recompute.
fn legacy_id(tenant: &str, number: &str, customer: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [tenant, number, customer] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    format!("c_{}", hex::encode(&hasher.finalize()[..16]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_ids_are_keyed_and_old_ids_say_where_they_went() {
    let w = world().await;
    let customer = w.acme.ids["customer"].clone();
    let keyed = w.acme.ids["conversation"].clone();
    let legacy = legacy_id("acme", ACME_NUMBER, &customer);
    assert_ne!(
        keyed, legacy,
        "the id must not be computable without the server's key"
    );
    assert_eq!(keyed.len(), 42);
    let owner = w.acme.callers["owner"].clone();
    let stranger = w.globex.callers["owner"].clone();
    let World {
        running, api, _dir, ..
    } = w;
    running.shutdown().await;

    // Turn the data back into what a server before keyed ids left: legacy ids everywhere, and
    // no migration ledger (it came later).
    let db = _dir.path().join("data/switchboard.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for table in switchboard_server::store::sqlite::CONVERSATION_TABLES {
            conn.execute(
                &format!("UPDATE {table} SET conversation_id = ?1 WHERE conversation_id = ?2"),
                [&legacy, &keyed],
            )
            .unwrap();
        }
        conn.execute_batch(
            "DROP TABLE server_keys; DROP TABLE conversation_aliases; DROP TABLE schema_ledger; \
             PRAGMA user_version = 6;",
        )
        .unwrap();
        // Nor did it have contacts (migration 8): the start makes them from what webhooks
        // recorded, under the new keys.
        // Retention's trigger (migration 17) as migration 3 made it, before its table goes.
        conn.execute_batch(
            "DROP TRIGGER audit_is_append_only_delete;
         CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit_by_tenant
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
        )
        .unwrap();
        for table in [
            "contacts_by_id",
            "contact_tags",
            "contact_attributes",
            "contact_notes_by_contact",
            "consent_by_contact",
            "tags_by_tenant",
            "attributes_by_tenant",
            "segments_by_tenant",
            "imports_by_tenant",
            "import_undo",
            "import_rejects",
            // Nor automation's documents (migration 9).
            "automation_items",
            // Nor the replay index and cursor (migration 10).
            "inbound_by_received",
            "cursors",
            // Nor the cost ledger (migration 11).
            "charge_keys",
            "charges_by_month",
            // Nor campaigns' recipients (migration 12).
            "campaign_recipients",
            // Nor search (migration 14): its start indexes what is stored.
            "message_search",
            "message_search_rows",
            // Nor reports' episodes (migration 15).
            "episodes",
            // Nor files kept (migration 16).
            "media",
            // Nor retention's audit permits (migration 17; its trigger is replaced again).
            "audit_purge_permits",
            // Nor agents' working time (migration 18).
            "agent_days",
            // Nor numbers connected from the app (migration 19).
            "number_connections",
            "webhook_endpoints",
            "webhook_deliveries",
        ] {
            conn.execute_batch(&format!("DROP TABLE {table};")).unwrap();
        }
        conn.execute_batch("DROP INDEX webhook_journal_by_bucket;")
            .unwrap();
        // Nor the archive's index (migration 13).
        conn.execute_batch("DROP INDEX threads_by_activity_day;")
            .unwrap();
        // Nor the episode's figures on the thread (migration 15).
        for column in [
            "first_response_at",
            "first_responder",
            "messages_in",
            "messages_out",
            "survey",
        ] {
            conn.execute_batch(&format!("ALTER TABLE threads_by_id DROP COLUMN {column};"))
                .unwrap();
        }
    }

    // The next start re-keys every stored conversation.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = switchboard_server::app::start_on(common::config(_dir.path(), ""), listener)
        .await
        .unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: api.client,
    };
    let rekeyed = running
        .id_keys
        .conversation_id(
            &"acme".into(),
            &ACME_NUMBER.into(),
            &customer.as_str().into(),
        )
        .into_string();
    assert_ne!(rekeyed, legacy);
    let history = api
        .get(&format!("conversations/{rekeyed}/messages"), &owner)
        .await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    assert_eq!(history.body["items"][0]["text"], "hello");
    let contact = running.id_keys.contact_id(&"acme".into(), &customer);
    let made = api.get(&format!("contacts/{contact}"), &owner).await;
    assert_eq!(
        made.status,
        StatusCode::OK,
        "the customer's contact is made at the start: {:?}",
        made.body
    );
    assert_eq!(made.body["name"], "Customer");
    // A client holding the old id is told the new one, not "not found"...
    let old = api.get(&format!("conversations/{legacy}"), &owner).await;
    assert_eq!(
        (old.status, old.code()),
        (StatusCode::GONE, "conversation_moved"),
        "{:?}",
        old.body
    );
    assert!(old.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&rekeyed));
    // ...and only in its own tenant: elsewhere the old id is simply unknown.
    let foreign = api.get(&format!("conversations/{legacy}"), &stranger).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_callers_never_receive_a_wamid() {
    let w = world().await;
    // A real wamid is base64 that carries the customer's number (here 79161234567).
    const WAMID: &str = "wamid.HBgLNzkxNjEyMzQ1NjcVAgASGBQzQTdCRjM4QzE5QjM3QUYwOTJGMAA=";
    let customer = w.acme.ids["customer"].clone();
    let mut agent = signed_in_socket(&w, &w.acme.callers["agent"]).await;
    let mut owner = signed_in_socket(&w, &w.acme.callers["owner"]).await;
    subscribe(&mut agent, &format!("team:{}", w.acme.ids["team"])).await;
    subscribe(&mut owner, "tenant").await;
    deliver(
        &w.api,
        webhook(ACME_NUMBER, &customer, WAMID, "a quote of me follows"),
    )
    .await;
    let quote = json!({"object": "whatsapp_business_account", "entry": [{"id": "9001", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": format!("1555{ACME_NUMBER}"), "phone_number_id": ACME_NUMBER},
        "contacts": [{"profile": {"name": "Customer"}, "wa_id": customer}],
        "messages": [{"from": customer, "id": "wamid.HBgLNzkxNjEyMzQ1NjcVAgASGBQ0", "timestamp": "1749416390",
                      "type": "text", "text": {"body": "quoting"}, "context": {"id": WAMID}}]}}]}]});
    deliver(&w.api, quote.to_string()).await;

    let is_quote = |f: &Value| {
        ws::is_event(f, |e| matches!(e, HubEvent::MessageStored { .. }))
            && f["event"]["text"] == "quoting"
    };
    let masked = ws::until(&mut agent, is_quote).await;
    let clear = ws::until(&mut owner, is_quote).await;
    assert_eq!(clear["event"]["reply_to"], WAMID);
    let reference = masked["event"]["reply_to"].as_str().unwrap();
    assert!(reference.starts_with("m_"), "{masked}");
    assert!(!masked.to_string().contains("HBgL"), "{masked}");

    // REST history: the same reference for the quoted message's own id, no wamid anywhere.
    let path = format!("conversations/{}/messages", w.acme.ids["conversation"]);
    let history = w.api.get(&path, &w.acme.callers["agent"]).await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(
        !history.body.to_string().contains("HBgL"),
        "{:?}",
        history.body
    );
    let quoted = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "a quote of me follows")
        .expect("the quoted message");
    assert_eq!(quoted["wamid"], reference, "quotes match their message");
    let owners = w.api.get(&path, &w.acme.callers["owner"]).await;
    assert!(owners.body.to_string().contains(WAMID));
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_low_findings_stay_fixed() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];

    // A failed sign-in whose User-Agent is a spreadsheet formula is exported as text.
    let r = w
        .api
        .client
        .post(format!("{}/api/v1/auth/token", w.api.base))
        .header("user-agent", "=HYPERLINK(\"http://evil.example\",\"x\")")
        .json(&json!({"email": w.acme.emails["agent"], "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let csv = w
        .api
        .client
        .get(format!("{}/api/v1/audit/export?format=csv", w.api.base))
        .bearer_auth(common::ws::token(owner))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");

    // Probing another tenant's conversation is answered 404 and leaves a trace.
    let probe = format!("conversations/{}", w.globex.ids["conversation"]);
    let a = w.api.get(&probe, &w.acme.callers["agent"]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let audit = w.api.get("audit?outcome=not_found", owner).await;
    assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["action"] == "conversation.read"
                && l["actor"] == format!("user:{}", w.acme.ids["agent"])),
        "{:?}",
        audit.body
    );

    // Names that disguise themselves, and replies with nothing visible, are refused.
    let a = w
        .api
        .send(
            reqwest::Method::POST,
            "users",
            owner,
            json!({"email": "spoof@acme.example", "name": "admin\u{202E}gnp.exe", "role": "agent", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
        "{:?}",
        a.body
    );
    let a = w
        .api
        .send(
            reqwest::Method::POST,
            "teams",
            owner,
            json!({"name": "\u{200B}", "members": [], "numbers": []}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    let a = w
        .api
        .send(
            reqwest::Method::POST,
            &format!("conversations/{}/messages", w.acme.ids["conversation"]),
            owner,
            json!({"text": "\u{200B}\u{200D} \u{2060}"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);

    // The setup form past its limit is 413, not 405; the CSP lets sockets reach only this origin.
    let r = w
        .api
        .client
        .post(format!("{}/setup", w.api.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}", "x".repeat(20 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("connect-src 'self';") && !csp.contains("ws:"),
        "{csp}"
    );
    w.running.shutdown().await;
}
