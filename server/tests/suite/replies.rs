//! Saved replies kept on the server: each person's own stay theirs, a team's reach its members,
//! the workspace's reach everyone who replies; shared ones are changed only with
//! `replies.manage`; shortcuts are checked and unique per owner; every change is audited;
//! another workspace sees none of them.

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
