//! Saved replies kept on the server: each person's own stay theirs, a team's reach its members,
//! the workspace's reach everyone who replies; shared ones are changed only with
//! `replies.manage`; shortcuts are checked and unique per owner; every change is audited;
//! another workspace sees none of them. A reply's file is checked by WhatsApp's rules, kept by
//! the server (past a purge of a message's copy of the same bytes), sent with the reply through
//! WhatsApp's upload, and let go when the reply no longer names it.

use std::time::Duration;

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn shortcuts(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["shortcut"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reply_reaches_only_those_it_is_for() {
    let w = world().await;
    let c = &w.acme.callers;
    let (owner, supervisor, agent, viewer) =
        (&c["owner"], &c["supervisor"], &c["agent"], &c["viewer"]);
    let team = w.acme.ids["team"].clone();

    // The agent's own reply, with a variable; a shortcut typed with its slash is kept without it.
    let mine = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            agent,
            json!({"shortcut": "/thanks", "text": "Thank you, {{contact.name}}!"}),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{:?}", mine.body);
    assert_eq!(mine.body["shortcut"], "thanks");
    assert_eq!(mine.body["scope"], "personal");
    let mine_id = mine.body["id"].as_str().unwrap().to_owned();

    // An agent cannot share with the team; a supervisor (replies.manage) can.
    let refused = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            agent,
            json!({"shortcut": "price", "text": "See our prices.", "scope": "team", "team": team}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_eq!(refused.code(), "privilege_escalation");
    let shared = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            supervisor,
            json!({"shortcut": "price", "text": "See our prices.", "scope": "team", "team": team}),
        )
        .await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
    let shared_id = shared.body["id"].as_str().unwrap().to_owned();

    // Who sees what: the agent (a member of Sales) their own, the team's and the workspace's
    // (`hours`, made by the owner when the world was set up); the supervisor (not a member, but
    // manages replies) the team's and the workspace's; the viewer cannot reply at all.
    let list = w.api.get("saved-replies", agent).await;
    assert_eq!(shortcuts(&list.body), ["hours", "price", "thanks"]);
    let list = w.api.get("saved-replies", supervisor).await;
    assert_eq!(shortcuts(&list.body), ["hours", "price"]);
    let list = w.api.get("saved-replies", viewer).await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
    // Another workspace's owner sees none of them, and cannot reach one by id.
    let other = &w.globex.callers["owner"];
    let list = w.api.get("saved-replies", other).await;
    assert!(!shortcuts(&list.body).contains(&"thanks".to_owned()));
    let reach = w
        .api
        .call(
            Method::DELETE,
            &format!("saved-replies/{mine_id}"),
            other,
            None,
        )
        .await;
    assert_eq!(reach.status, StatusCode::NOT_FOUND);
    // The owner does not see the agent's personal reply, nor change it.
    let list = w.api.get("saved-replies", owner).await;
    assert!(!shortcuts(&list.body).contains(&"thanks".to_owned()));
    let change = w
        .api
        .send(
            Method::PUT,
            &format!("saved-replies/{mine_id}"),
            owner,
            json!({"shortcut": "thanks", "text": "changed"}),
        )
        .await;
    assert_eq!(change.status, StatusCode::NOT_FOUND);

    // The agent may not change or remove the team's reply.
    let change = w
        .api
        .send(
            Method::PUT,
            &format!("saved-replies/{shared_id}"),
            agent,
            json!({"shortcut": "price", "text": "Free!", "scope": "team", "team": team}),
        )
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN);
    let remove = w
        .api
        .call(
            Method::DELETE,
            &format!("saved-replies/{shared_id}"),
            agent,
            None,
        )
        .await;
    assert_eq!(remove.status, StatusCode::FORBIDDEN);

    // Changes go against the version read; the agent edits their own.
    let edit = w
        .api
        .send(
            Method::PUT,
            &format!("saved-replies/{mine_id}"),
            agent,
            json!({"shortcut": "thanks", "text": "Many thanks, {{contact.name}}.", "version": 1}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::OK, "{:?}", edit.body);
    assert_eq!(edit.body["version"], 2);
    let stale = w
        .api
        .send(
            Method::PUT,
            &format!("saved-replies/{mine_id}"),
            agent,
            json!({"shortcut": "thanks", "text": "again", "version": 1}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);

    // Audited with what it was and became.
    let audit = w.api.get("audit?action=saved_reply.update", owner).await;
    let line = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["target"] == format!("saved reply:{mine_id}"))
        .unwrap_or_else(|| panic!("no audit line: {:?}", audit.body))
        .clone();
    assert!(line["before"].to_string().contains("Thank you"), "{line}");
    assert!(line["after"].to_string().contains("Many thanks"), "{line}");

    let gone = w
        .api
        .call(
            Method::DELETE,
            &format!("saved-replies/{mine_id}"),
            agent,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let list = w.api.get("saved-replies", agent).await;
    assert_eq!(shortcuts(&list.body), ["hours", "price"]);
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_replies_are_refused_naming_the_field() {
    let w = world().await;
    let agent = &w.acme.callers["agent"];
    let owner = &w.acme.callers["owner"];
    for (body, field) in [
        (json!({"shortcut": "Two Words", "text": "x"}), "shortcut"),
        (json!({"shortcut": "", "text": "x"}), "shortcut"),
        (json!({"shortcut": "a".repeat(33), "text": "x"}), "shortcut"),
        (json!({"shortcut": "ok", "text": "   "}), "text"),
        (json!({"shortcut": "ok", "text": "x".repeat(4097)}), "text"),
        (
            json!({"shortcut": "ok", "text": "x", "scope": "team"}),
            "team",
        ),
        (
            json!({"shortcut": "ok", "text": "x", "team": "t_1"}),
            "team",
        ),
    ] {
        let a = w
            .api
            .send(Method::POST, "saved-replies", owner, body.clone())
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            a.body
        );
        assert_eq!(a.body["error"]["field"], field, "{body}: {:?}", a.body);
    }
    let a = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            owner,
            json!({"shortcut": "ok", "text": "x", "scope": "team", "team": "t_nosuch"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    // Unknown fields are named, not ignored.
    let a = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            agent,
            json!({"shortcut": "ok", "text": "x", "colour": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert!(a.body.to_string().contains("colour"), "{:?}", a.body);
    // The same shortcut twice for the same owner is a conflict; another person may use it.
    let first = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            agent,
            json!({"shortcut": "bye", "text": "Bye!"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            agent,
            json!({"shortcut": "bye", "text": "Bye."}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    let theirs = w
        .api
        .send(
            Method::POST,
            "saved-replies",
            owner,
            json!({"shortcut": "bye", "text": "Ciao"}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{:?}", theirs.body);
    w.running.shutdown().await;
}

/// A small PDF: its signature, then filler.
fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..4000u32).map(|i| (i % 251) as u8));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_s_file_is_checked_kept_sent_and_let_go() {
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let media_dir = dir.path().join("data/media");
    let (_, agent) = new_agent(&api, &owner, "files@demo.example", "Fay").await;
    let reply = api
        .send(
            Method::POST,
            "saved-replies",
            &owner,
            json!({"shortcut": "catalogue", "text": "Our catalogue, {{contact.name}}",
                   "scope": "workspace"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let file = pdf();
    let attach = |auth: &Auth, query: &str, mime: &str, bytes: Vec<u8>| {
        let path = format!("saved-replies/{id}/attachment?{query}");
        let (api, auth, mime) = (&api, auth.clone(), mime.to_owned());
        async move { api.raw(Method::PUT, &path, &auth, &mime, bytes).await }
    };

    let a = attach(
        &owner,
        "filename=C:%5Cfiles%5Ccatalogue.pdf&version=1",
        "application/pdf",
        file.clone(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        a.body["attachment"],
        json!({"kind": "document", "mime_type": "application/pdf",
               "filename": "catalogue.pdf", "bytes": file.len()})
    );
    assert_eq!(a.body["version"], 2);
    assert_eq!(blobs(&media_dir), 1);

    // Refused, each for its reason, and the reply's file stays as it was.
    for (auth, query, mime, bytes, status, code) in [
        (
            &owner,
            "",
            "image/gif",
            b"GIF89a".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (&owner, "", "image/png", file.clone(), 422, "not_that_type"),
        (
            &owner,
            "",
            "application/pdf",
            Vec::new(),
            400,
            "bad_request",
        ),
        (
            &owner,
            "",
            "image/webp",
            vec![0; 600 * 1024],
            413,
            "payload_too_large",
        ),
        (
            &owner,
            "version=1",
            "application/pdf",
            file.clone(),
            409,
            "conflict",
        ),
        (
            &agent,
            "",
            "application/pdf",
            file.clone(),
            403,
            "privilege_escalation",
        ),
    ] {
        let r = attach(auth, query, mime, bytes).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{mime} {query}: {:?}",
            r.body
        );
    }
    let (status, headers, bytes) = api
        .bytes(&format!("saved-replies/{id}/attachment"), &agent)
        .await;
    assert_eq!((status, bytes == file), (StatusCode::OK, true));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"catalogue.pdf\""
    );
    // A change of the words keeps the file.
    let changed = api
        .send(
            Method::PUT,
            &format!("saved-replies/{id}"),
            &owner,
            json!({"shortcut": "catalogue", "text": "The catalogue", "scope": "workspace",
                   "version": 2}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["attachment"]["filename"], "catalogue.pdf");

    // Sent to a customer (by the owner, who sees every conversation): WhatsApp gets the reply's bytes through an upload for
    // the conversation's number, and the message carries them with the text as its caption.
    customer_writes(&api, &sim, "79161230077", "Do you have a catalogue?").await;
    let conversation = conversation_of(&api, &owner, "79161230077").await;
    let media_path = format!("conversations/{conversation}/media?saved_reply={id}");
    let both = api
        .raw(
            Method::POST,
            &media_path,
            &owner,
            "application/pdf",
            file.clone(),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST, "{:?}", both.body);
    let uploaded = api.call(Method::POST, &media_path, &owner, None).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{:?}", uploaded.body);
    assert_eq!(
        (
            &uploaded.body["kind"],
            &uploaded.body["filename"],
            &uploaded.body["bytes"]
        ),
        (
            &json!("document"),
            &json!("catalogue.pdf"),
            &json!(file.len())
        )
    );
    let media = uploaded.body["id"].as_str().unwrap().to_owned();
    let sent = api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/messages"),
            &owner,
            json!({"text": "The catalogue", "media": {"id": media, "kind": "document",
                   "filename": "catalogue.pdf"}}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{:?}", sent.body);
    let document = eventually(
        "the document at WhatsApp",
        Duration::from_secs(10),
        || async {
            sent_bodies(&api, &sim, "79161230077")
                .await
                .into_iter()
                .find_map(|b| (b["type"] == "document").then(|| b["document"].clone()))
        },
    )
    .await;
    assert_eq!(
        document,
        json!({"id": media, "caption": "The catalogue", "filename": "catalogue.pdf"})
    );
    // The same bytes twice (the reply's and the message's copy) are one blob.
    assert_eq!(blobs(&media_dir), 1);

    // Erasing the customer purges the message's copy; the reply still names the bytes.
    let profile = api
        .get(&format!("conversations/{conversation}/customer"), &owner)
        .await;
    let contact = profile.body["contact"].as_str().unwrap().to_owned();
    let erased = api
        .call(Method::DELETE, &format!("contacts/{contact}"), &owner, None)
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{:?}", erased.body);
    let (status, _, bytes) = api
        .bytes(&format!("saved-replies/{id}/attachment"), &agent)
        .await;
    assert_eq!((status, bytes == file), (StatusCode::OK, true));
    assert_eq!(blobs(&media_dir), 1);

    // Taken away: nothing names the bytes any more, so they go.
    let detached = api
        .call(
            Method::DELETE,
            &format!("saved-replies/{id}/attachment?version=3"),
            &owner,
            None,
        )
        .await;
    assert_eq!(detached.status, StatusCode::OK, "{:?}", detached.body);
    assert!(
        detached.body.get("attachment").is_none(),
        "{:?}",
        detached.body
    );
    assert_eq!(blobs(&media_dir), 0);
    let gone = api
        .get(&format!("saved-replies/{id}/attachment"), &agent)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{:?}", gone.body);
    let none = api.call(Method::POST, &media_path, &owner, None).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{:?}", none.body);

    // Every change is in the audit log.
    for action in ["saved_reply.attach", "saved_reply.detach"] {
        let audit = api.get(&format!("audit?action={action}"), &owner).await;
        assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{action}");
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_reply_s_file_is_its_author_s_and_goes_with_the_reply() {
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let media_dir = dir.path().join("data/media");
    let (_, agent) = new_agent(&api, &owner, "own@demo.example", "Oda").await;
    let mine = api
        .send(
            Method::POST,
            "saved-replies",
            &agent,
            json!({"shortcut": "map", "text": "Here is how to find us"}),
        )
        .await;
    let id = mine.body["id"].as_str().unwrap().to_owned();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend([7u8; 2048]);
    let path = format!("saved-replies/{id}/attachment?filename=map.png");
    let a = api
        .raw(
            Method::PUT,
            &path,
            &agent,
            "image/png; charset=binary",
            png.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["attachment"]["kind"], "image");
    // Another person's personal reply does not exist for the owner either.
    for r in [
        api.get(&format!("saved-replies/{id}/attachment"), &owner)
            .await,
        api.raw(Method::PUT, &path, &owner, "image/png", png.clone())
            .await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    }
    let (status, headers, bytes) = api
        .bytes(&format!("saved-replies/{id}/attachment"), &agent)
        .await;
    assert_eq!((status, bytes == png), (StatusCode::OK, true));
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(blobs(&media_dir), 1);
    // Replaced by another file: the first one's bytes go.
    let mut other = png.clone();
    other.push(1);
    let b = api
        .raw(Method::PUT, &path, &agent, "image/png", other.clone())
        .await;
    assert_eq!(b.status, StatusCode::OK, "{:?}", b.body);
    assert_eq!(b.body["attachment"]["bytes"], other.len());
    assert_eq!(blobs(&media_dir), 1);
    // The reply removed: its file goes with it.
    let removed = api
        .call(Method::DELETE, &format!("saved-replies/{id}"), &agent, None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{:?}", removed.body);
    assert_eq!(blobs(&media_dir), 0);
    running.shutdown().await;
}
