//! The archive (issue 22): every conversation, open or resolved, listed with filters, by what
//! the caller may see, over the REST API of a real server.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every page of `GET conversations?{query}`, as the ids listed.
async fn all_pages(api: &Api, auth: &Auth, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let a = api
            .get(
                &format!("conversations?{query}&limit=2&cursor={cursor}"),
                auth,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{query}: {:?}", a.body);
        for c in a.body["items"].as_array().unwrap() {
            ids.push(c["id"].as_str().unwrap().to_owned());
        }
        match a.body["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return ids,
        }
    }
}

fn set(ids: &[String]) -> BTreeSet<String> {
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "each conversation once: {ids:?}");
    unique
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolved_conversations_stay_findable_by_state_contact_team_tag_and_day() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let first = w.acme.ids["conversation"].clone();
    // Three more customers write in; the first conversation is tagged and resolved.
    for i in 0..3 {
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                &format!("4915100000{i:02}"),
                &format!("wamid.archive-{i}"),
                "Hello",
            ),
        )
        .await;
    }
    let open = eventually("the new conversations", Duration::from_secs(10), || async {
        let ids = all_pages(&w.api, owner, "state=open").await;
        (ids.len() == 4).then_some(ids)
    })
    .await;
    let a = w
        .api
        .send(
            Method::PUT,
            &format!("conversations/{first}/tags"),
            owner,
            json!({"tags": ["refund"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = w
        .api
        .send(
            Method::POST,
            &format!("conversations/{first}/resolve"),
            owner,
            json!({}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);

    // The inbox no longer lists it; the archive does, once, and with everything else.
    let inbox = set(&all_pages(&w.api, owner, "state=open").await);
    assert!(!inbox.contains(&first));
    assert_eq!(inbox.len(), 3);
    let resolved = all_pages(&w.api, owner, "state=resolved").await;
    assert_eq!(resolved, vec![first.clone()]);
    let everything = set(&all_pages(&w.api, owner, "state=all").await);
    assert_eq!(everything, set(&open));
    let one = w.api.get("conversations?state=all&limit=50", owner).await;
    let listed = one.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == first.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(listed["state"], "resolved", "{listed}");

    // Filters: the contact's conversations, a team's numbers, a tag, a number, a day range.
    let contact = w.acme.ids["contact"].clone();
    assert_eq!(
        all_pages(&w.api, owner, &format!("state=all&contact={contact}")).await,
        vec![first.clone()]
    );
    let team = w.acme.ids["team"].clone();
    assert_eq!(
        set(&all_pages(&w.api, owner, &format!("state=all&team={team}")).await),
        everything
    );
    assert_eq!(
        all_pages(&w.api, owner, "state=all&tag=refund").await,
        vec![first.clone()]
    );
    assert!(
        all_pages(&w.api, owner, &format!("state=all&number={GLOBEX_NUMBER}"))
            .await
            .is_empty()
    );
    assert!(
        all_pages(&w.api, owner, "state=all&from=2020-01-01&to=2020-02-01")
            .await
            .is_empty(),
        "nothing was active in January 2020"
    );

    // Visibility: another tenant's owner sees none of it; a viewer who may read everything
    // sees the archive too.
    let globex = all_pages(&w.api, &w.globex.callers["owner"], "state=all").await;
    assert!(globex.iter().all(|id| !everything.contains(id)));
    let supervisor = set(&all_pages(&w.api, &w.acme.callers["supervisor"], "state=all").await);
    assert_eq!(supervisor, everything);
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_queries_outside_their_bounds_name_the_parameter() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    for (query, field) in [
        ("state=closed", "state"),
        ("state=all&from=2026-13-01", "from"),
        ("state=all&to=yesterday", "to"),
        ("state=all&from=2026-03-01&to=2026-03-01", "from"),
        ("state=all&from=2024-01-01&to=2026-01-01", "from"),
        ("state=all&team=tm_nobody", "team"),
        ("state=all&contact=ct_nobody", "contact"),
    ] {
        let a = w.api.get(&format!("conversations?{query}"), owner).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {:?}",
            a.body
        );
        assert_eq!(a.body["error"]["field"], field, "{query}: {:?}", a.body);
    }
    w.running.shutdown().await;
}

/// Every page of `GET search?q=…`: (conversation, snippet) of each hit.
async fn search_all(api: &Api, auth: &Auth, q: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "search?q={}&limit=2&cursor={cursor}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let a = api.get(&url, auth).await;
        assert_eq!(a.status, StatusCode::OK, "{q}: {:?}", a.body);
        for hit in a.body["items"].as_array().unwrap() {
            found.push((
                hit["conversation_id"].as_str().unwrap().to_owned(),
                hit["snippet"].as_str().unwrap().to_owned(),
            ));
        }
        match a.body["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return found,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_conversation_is_found_by_a_word_from_its_middle_by_those_who_may_see_it() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let texts = [
        "Hello, I ordered the blue lamp last week",
        "The delivery never came, the tracking number is RU123456 and it says Москва",
        "Please refund me, it is broken",
    ];
    for (i, text) in texts.iter().enumerate() {
        deliver(
            &w.api,
            webhook(
                ACME_NUMBER,
                "4915111111111",
                &format!("wamid.middle-{i}"),
                text,
            ),
        )
        .await;
    }
    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            "4915122222222",
            "wamid.other",
            "Is the blue lamp in stock?",
        ),
    )
    .await;
    let conversation = eventually("the conversation", Duration::from_secs(10), || async {
        let hits = search_all(&w.api, owner, "tracking").await;
        hits.first().map(|(c, _)| c.clone())
    })
    .await;
    let a = w
        .api
        .send(
            Method::POST,
            &format!("conversations/{conversation}/resolve"),
            owner,
            json!({}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);

    // A word from the middle, folded (case, Cyrillic): found, with the words around it.
    let hits = search_all(&w.api, owner, "TRACKING number").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].0, conversation);
    assert!(
        hits[0].1.contains("tracking number is RU123456"),
        "{}",
        hits[0].1
    );
    assert_eq!(search_all(&w.api, owner, "москва").await.len(), 1);
    // Two conversations say "blue lamp"; newest first.
    let lamps = search_all(&w.api, owner, "blue lamp").await;
    assert_eq!(lamps.len(), 2, "{lamps:?}");
    assert_ne!(lamps[0].0, conversation);
    assert_eq!(lamps[1].0, conversation);
    // Another tenant finds nothing; each role finds it exactly when it may open it.
    assert!(search_all(&w.api, &w.globex.callers["owner"], "blue lamp")
        .await
        .is_empty());
    for role in ["admin", "supervisor", "agent", "viewer"] {
        let auth = &w.acme.callers[role];
        let opens = w
            .api
            .get(&format!("conversations/{conversation}"), auth)
            .await;
        let found = search_all(&w.api, auth, "tracking").await;
        assert_eq!(
            found.len(),
            usize::from(opens.status == StatusCode::OK),
            "{role}: {:?}",
            opens.status
        );
    }

    // Queries that cannot be searched for say so.
    for q in ["", "?!…", &"long ".repeat(2_000)] {
        let url = format!(
            "search?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let a = w.api.get(&url, owner).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q:.20}: {:?}",
            a.body
        );
        assert_eq!(a.body["error"]["field"], "q");
    }
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_holds_every_message_oldest_first_escaped_and_described() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let customer = "4915133333333";
    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            customer,
            "wamid.t-0",
            "Hi <script>alert(1)</script> & bye",
        ),
    )
    .await;
    let location = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_of(ACME_NUMBER), "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1555111", "phone_number_id": ACME_NUMBER},
            "contacts": [{"profile": {"name": "Customer"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": "wamid.t-1", "timestamp": "1749416390",
                          "type": "location", "location": {"latitude": 55.7558,
                          "longitude": 37.6173, "name": "Red Square"}}]
        }}]}]
    })
    .to_string();
    deliver(&w.api, location).await;
    let conversation = eventually("the conversation", Duration::from_secs(10), || async {
        let hits = search_all(&w.api, owner, "alert").await;
        hits.first().map(|(c, _)| c.clone())
    })
    .await;
    let get = |format: &str| {
        let url = format!(
            "{}/api/v1/conversations/{conversation}/transcript?format={format}",
            w.api.base
        );
        let auth = owner.clone();
        let client = w.api.client.clone();
        async move {
            let mut request = client.get(url);
            if let Auth::Bearer(token) = &auth {
                request = request.bearer_auth(token);
            }
            request.send().await.unwrap()
        }
    };
    let page = get("html").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "escaped: {html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; bye"));
    assert!(
        html.contains("Location: Red Square 55.755800, 37.617300"),
        "{html}"
    );
    let hi = html.find("alert(1)").unwrap();
    let square = html.find("Red Square").unwrap();
    assert!(hi < square, "oldest first");

    let lines: Vec<Value> = get("jsonl")
        .await
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "text");
    assert!(lines[0].get("description").is_none());
    assert_eq!(lines[1]["kind"], "location");
    assert!(lines[1]["description"]
        .as_str()
        .unwrap()
        .contains("openstreetmap.org/?mlat=55.755800&mlon=37.617300"));

    let a = w
        .api
        .get(
            &format!("conversations/{conversation}/transcript?format=pdf"),
            owner,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    let a = w
        .api
        .get(
            &format!("conversations/{conversation}/transcript"),
            &w.globex.callers["owner"],
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::NOT_FOUND,
        "another tenant's is not there"
    );
    w.running.shutdown().await;
}
