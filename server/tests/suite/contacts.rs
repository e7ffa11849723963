//! Contacts end to end, against a real server on a loopback port: webhooks make contacts and
//! set consent (Meta's `user_preferences` fixture, a customer's "СТОП", a 131050 failure),
//! CSV imports of real-world files (Windows-1251, `;`, national numbers, quoted new lines) with
//! dry run, commit, re-import, rejected rows, undo; every kind of bad file; segments counted
//! against an independent count; exports with guarded cells; erasure.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Uploads a contact file.
async fn upload(api: &Api, auth: &Auth, query: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let path = format!("contacts/imports?{query}");
    api.raw(Method::POST, &path, auth, content_type, body).await
}

/// Waits for an import to finish and returns its status.
async fn finished(api: &Api, auth: &Auth, id: &str) -> Value {
    eventually("the import to finish", Duration::from_secs(60), || async {
        let a = api.get(&format!("contacts/imports/{id}"), auth).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        (a.body["state"] != "running").then_some(a.body)
    })
    .await
}

async fn raw_get(api: &Api, auth: &Auth, path: &str) -> (StatusCode, String) {
    let mut request = api.client.get(format!("{}/api/v1/{path}", api.base));
    if let Auth::Bearer(token) = auth {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn contact_of<'a>(page: &'a Value, phone: &str) -> Option<&'a Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == phone)
}

/// The marketing consent of the contact with `phone` (E.164), as the owner sees it.
async fn marketing_of(api: &Api, owner: &Auth, phone: &str) -> Value {
    let q = api
        .get(&format!("contacts?q={}", &phone[1..9]), owner)
        .await;
    contact_of(&q.body, phone).expect("made")["consent"]["marketing"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_keeps_its_own_stop_words() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let path = "settings/stop-words";
    // The server's list until the workspace saves one.
    let server = w.api.get(path, owner).await;
    assert_eq!(server.status, StatusCode::OK, "{:?}", server.body);
    assert_eq!(server.body["saved"], false);
    assert!(server.body["words"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "СТОП"));
    // Bad lists are refused whole, each with the field named.
    for (bad, field) in [
        (json!({"words": []}), "words"),
        (json!({"words": ["ok", "  !! "]}), "words[1]"),
        (json!({"words": ["x".repeat(65)]}), "words[0]"),
    ] {
        let a = w.api.send(Method::PUT, path, owner, bad).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(field),
            "{:?}",
            a.body
        );
    }
    let unknown = w
        .api
        .send(Method::PUT, path, owner, json!({"word": ["x"]}))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        unknown.body
    );
    // Its own list replaces the server's: "Хватит!" opts out, "STOP" no longer does.
    let saved = w
        .api
        .send(
            Method::PUT,
            path,
            owner,
            json!({"words": ["Хватит", "хватит", "no more messages"]}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.body["words"], json!(["Хватит", "no more messages"]));
    assert_eq!(saved.body["saved"], true);
    let version = saved.body["version"].as_u64().unwrap();
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79162220001", "wamid.acme.sw1", "Хватит!"),
    )
    .await;
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79162220002", "wamid.acme.sw2", "STOP"),
    )
    .await;
    assert_eq!(
        marketing_of(&w.api, owner, "+79162220001").await,
        "opted_out"
    );
    assert_eq!(marketing_of(&w.api, owner, "+79162220002").await, "unknown");
    // Another workspace keeps the server's list.
    let globex = &w.globex.callers["owner"];
    deliver(
        &w.api,
        webhook(GLOBEX_NUMBER, "79162220003", "wamid.globex.sw3", "STOP"),
    )
    .await;
    assert_eq!(
        marketing_of(&w.api, globex, "+79162220003").await,
        "opted_out"
    );
    let theirs = w.api.get(path, globex).await;
    assert_eq!(theirs.body["saved"], false);
    // A change against an old version is refused; an agent may not change it at all.
    let stale = w
        .api
        .send(
            Method::PUT,
            path,
            owner,
            json!({"words": ["enough"], "version": version - 1}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);
    let agent = &w.acme.callers["agent"];
    let refused = w
        .api
        .send(Method::PUT, path, agent, json!({"words": ["enough"]}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    // Back to the server's list: "STOP" opts out again; a second reset has nothing to remove.
    let reset = w.api.call(Method::DELETE, path, owner, None).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    assert_eq!(reset.body["saved"], false);
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79162220004", "wamid.acme.sw4", "stop"),
    )
    .await;
    assert_eq!(
        marketing_of(&w.api, owner, "+79162220004").await,
        "opted_out"
    );
    let again = w.api.call(Method::DELETE, path, owner, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{:?}", again.body);
    // Each change is in the audit log with what it was and became.
    let audit = w.api.get("audit?action=stop_words.replace", owner).await;
    assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
    let changed: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["outcome"] == "ok")
        .collect();
    assert_eq!(changed.len(), 1, "{:?}", audit.body);
    assert_eq!(
        changed[0]["after"]["words"][0], "Хватит",
        "{:?}",
        changed[0]
    );
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_make_contacts_and_set_consent() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    // The populate step's customer wrote "hello": a contact with their profile name and country.
    let c = w
        .api
        .get(&format!("contacts/{}", w.acme.ids["contact"]), owner)
        .await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    assert_eq!(c.body["phone"], "+79161234567");
    assert_eq!(c.body["name"], "Customer");
    assert_eq!(c.body["country"], "RU");
    assert_eq!(c.body["consent"]["marketing"], "unknown");
    // An agent sees the number masked.
    let agent = &w.acme.callers["agent"];
    let masked = w
        .api
        .get(&format!("contacts/{}", w.acme.ids["contact"]), agent)
        .await;
    assert_eq!(masked.body["phone"], "•••••••4567");

    // "СТОП" opts the customer out, with the message as evidence.
    deliver(
        &w.api,
        webhook(ACME_NUMBER, "79161234567", "wamid.acme.stop", "СТОП"),
    )
    .await;
    let c = w
        .api
        .get(&format!("contacts/{}", w.acme.ids["contact"]), owner)
        .await;
    assert_eq!(c.body["consent"]["marketing"], "opted_out", "{:?}", c.body);
    assert_eq!(c.body["consent"]["evidence"]["source"], "keyword");
    assert_eq!(c.body["consent"]["evidence"]["text"], "СТОП");
    // A sentence that merely contains the word does not.
    deliver(
        &w.api,
        webhook(
            ACME_NUMBER,
            "79161230000",
            "wamid.acme.s2",
            "please don't stop the delivery",
        ),
    )
    .await;
    let q = w.api.get("contacts?q=7916123", owner).await;
    let other = contact_of(&q.body, "+79161230000").expect("made");
    assert_eq!(other["consent"]["marketing"], "unknown");

    // Meta's user_preferences fixture (resume marketing) for 16505551234.
    let fixture = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/whatsapp/user_preferences_marketing_resume.json"),
    )
    .unwrap()
    .replace("106540352242922", ACME_NUMBER)
    .replace("102290129340398", "9001");
    deliver(&w.api, fixture).await;
    let q = w.api.get("contacts?q=1650555", owner).await;
    let resumed = contact_of(&q.body, "+16505551234").expect("made by the preference");
    assert_eq!(resumed["consent"]["marketing"], "opted_in");
    assert_eq!(resumed["consent"]["evidence"]["source"], "webhook");
    assert_eq!(
        resumed["consent"]["evidence"]["text"],
        "User requested to resume marketing messages"
    );
    let history = w
        .api
        .get(
            &format!("contacts/{}/consent", resumed["id"].as_str().unwrap()),
            owner,
        )
        .await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);

    // A send refused with 131050 opts the recipient out.
    let failed = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "9001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": format!("1555{ACME_NUMBER}"), "phone_number_id": ACME_NUMBER},
            "statuses": [{"id": "wamid.out.1", "status": "failed", "timestamp": "1749416999",
                "recipient_id": "16505551234",
                "errors": [{"code": 131050, "title": "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."}]}]
        }}]}]
    });
    deliver(&w.api, failed.to_string()).await;
    let c = w
        .api
        .get(
            &format!("contacts/{}", resumed["id"].as_str().unwrap()),
            owner,
        )
        .await;
    assert_eq!(c.body["consent"]["marketing"], "opted_out");
    assert_eq!(c.body["consent"]["evidence"]["source"], "send_failure");
    w.running.shutdown().await;
}

/// A Russian shop's export from Excel: Windows-1251, `;`, national numbers, a quoted note with
/// a new line, a fixed line, a number that is not one, a duplicate, a row too wide.
fn cp1251_file() -> Vec<u8> {
    let text = "Телефон;ФИО;Город;Теги\r\n\
        8 916 111-22-33;Анна Петрова;Москва;vip, опт\r\n\
        +7 (916) 111-22-34;Борис;\"Санкт-\r\nПетербург\";vip\r\n\
        89161112235;Вера;;\r\n\
        8 495 123-45-67;Офис;Москва;\r\n\
        позвоните мне;Глеб;;\r\n\
        8 (916) 111-22-33;Анна (дубль);;\r\n\
        89161112236;Дима;Казань;;лишнее\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    bytes.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_dry_run_commit_reimport_errors_and_undo() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let a = w
        .api
        .send(
            Method::PUT,
            "attributes/city",
            owner,
            json!({"key": "city", "label": "Город", "kind": {"type": "text"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    // Dry run: every verdict, nothing written.
    let a = upload(
        &w.api,
        owner,
        "dry_run=true&default_region=RU",
        "text/csv",
        cp1251_file(),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let dry = finished(&w.api, owner, a.body["id"].as_str().unwrap()).await;
    assert_eq!(dry["state"], "done", "{dry:?}");
    assert_eq!(dry["charset"], "windows-1251");
    assert_eq!(dry["delimiter"], ";");
    assert_eq!(
        (
            dry["total"].as_u64(),
            dry["created"].as_u64(),
            dry["rejected"].as_u64(),
            dry["duplicates"].as_u64()
        ),
        (Some(7), Some(3), Some(4), Some(1)),
        "{dry:?}"
    );
    assert_eq!(dry["new_tags"], json!(["vip", "опт"]));
    let reasons: Vec<String> = dry["preview"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["reason"].as_str().map(str::to_owned))
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("fixed line")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not a phone number")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("the same number as line 2")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("5 fields, but the header has 4")),
        "{reasons:?}"
    );
    let listed = w.api.get("contacts?q=7916111", owner).await;
    assert!(
        listed.body["items"].as_array().unwrap().is_empty(),
        "a dry run writes nothing"
    );

    // Commit the dry run's file.
    let a = w
        .api
        .call(
            Method::POST,
            &format!("contacts/imports/{}/commit", dry["id"].as_str().unwrap()),
            owner,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let import_id = a.body["id"].as_str().unwrap().to_owned();
    let done = finished(&w.api, owner, &import_id).await;
    assert_eq!(
        (done["created"].as_u64(), done["rejected"].as_u64()),
        (Some(3), Some(4)),
        "{done:?}"
    );
    let listed = w.api.get("contacts?q=7916111", owner).await;
    let anna = contact_of(&listed.body, "+79161112233").expect("imported");
    assert_eq!(anna["name"], "Анна Петрова");
    assert_eq!(anna["attributes"]["city"], "Москва");
    assert_eq!(anna["tags"], json!(["vip", "опт"]));
    let boris = contact_of(&listed.body, "+79161112234").unwrap();
    assert_eq!(boris["attributes"]["city"], "Санкт-\nПетербург");
    let tags = w.api.get("tags", owner).await;
    assert_eq!(tags.body.as_array().unwrap().len(), 2);

    // The rejected rows, as CSV with their reasons.
    let (status, csv) = raw_get(
        &w.api,
        owner,
        &format!("contacts/imports/{import_id}/errors"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with("\u{feff}line,reason,Телефон,ФИО,Город,Теги"),
        "{csv}"
    );
    assert_eq!(csv.matches("\n").count(), 5, "{csv}");
    assert!(csv.contains("позвоните мне"));

    // The same file again changes nothing.
    let a = upload(
        &w.api,
        owner,
        "default_region=RU",
        "text/csv; charset=windows-1251",
        cp1251_file(),
    )
    .await;
    let again = finished(&w.api, owner, a.body["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3)),
        "{again:?}"
    );

    // Undo the first import: its contacts go; a second undo is refused.
    let a = w
        .api
        .call(
            Method::POST,
            &format!("contacts/imports/{import_id}/undo"),
            owner,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let undone = finished_as(&w.api, owner, &import_id, "undone").await;
    assert_eq!(undone["state"], "undone");
    let listed = w.api.get("contacts?q=7916111", owner).await;
    assert!(
        listed.body["items"].as_array().unwrap().is_empty(),
        "{:?}",
        listed.body
    );
    let a = w
        .api
        .call(
            Method::POST,
            &format!("contacts/imports/{import_id}/undo"),
            owner,
            None,
        )
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "not_undoable"));
    w.running.shutdown().await;
}

async fn finished_as(api: &Api, auth: &Auth, id: &str, state: &str) -> Value {
    eventually("the import's state", Duration::from_secs(60), || async {
        let a = api.get(&format!("contacts/imports/{id}"), auth).await;
        (a.body["state"] == state).then_some(a.body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_get_a_precise_answer_and_write_nothing() {
    let w = world_with("[contacts]\nimport_max_mib = 1\n").await;
    let owner = &w.acme.callers["owner"];
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "empty",
            "text/csv",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_file",
        ),
        (
            "header only",
            "text/csv",
            b"phone,name\r\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_file",
        ),
        (
            "binary",
            "text/csv",
            (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_file",
        ),
        (
            "no phone column",
            "text/csv",
            b"name,email\nAnna,a@b.c\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_file",
        ),
        (
            "unknown charset",
            "text/csv; charset=klingon",
            b"phone\n+79161234567\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unknown_charset",
        ),
        (
            "not a CSV type",
            "application/json",
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "over the limit",
            "text/csv",
            {
                let mut big = b"phone,name\n".to_vec();
                while big.len() < 2 * 1024 * 1024 {
                    big.extend_from_slice(b"+79161234567,Somebody Quite Long\n");
                }
                big
            },
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let a = upload(&w.api, owner, "default_region=RU", content_type, body).await;
        assert_eq!((a.status, a.code()), (status, code), "{what}: {:?}", a.body);
        if what == "over the limit" {
            assert!(a.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("contacts.import_max_mib"));
        }
    }
    let imports = w.api.get("contacts/imports", owner).await;
    assert_eq!(imports.body, json!([]), "nothing was started");
    // A bad region, a bad mapping.
    let a = upload(
        &w.api,
        owner,
        "default_region=XX",
        "text/csv",
        b"phone\n1\n".to_vec(),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    let a = upload(
        &w.api,
        owner,
        "mapping=%7B%22phone%22%3A%22attribute%3Anope%22%7D",
        "text/csv",
        b"phone\n+79161234567\n".to_vec(),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_file"),
        "{:?}",
        a.body
    );
    // Nothing of it left files behind.
    let dir = w._dir.path().join("data/imports");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_count_like_an_independent_count_and_exports_are_guarded() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    for (key, kind) in [
        ("orders", json!({"type": "number"})),
        (
            "plan",
            json!({"type": "choice", "options": ["Free", "Pro"]}),
        ),
    ] {
        let a = w
            .api
            .send(
                Method::PUT,
                &format!("attributes/{key}"),
                owner,
                json!({"key": key, "label": key, "kind": kind}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    }
    // 300 rows of known shape; the expected counts are computed here from the same rows.
    let mut file = String::from("phone,name,tags,orders,plan,marketing\n");
    let mut expected_vip_ru_not_out = 0;
    let mut expected_pro_or_many = 0;
    for i in 0..300u32 {
        let (phone, ru) = if i % 3 == 0 {
            (format!("+7916{:07}", 2_000_000 + i), true)
        } else {
            (format!("+7701{:07}", 1_000_000 + i), false)
        };
        let vip = i % 4 == 0;
        let out = i % 5 == 0;
        let orders = i % 10;
        let pro = i % 7 == 0;
        if vip && ru && !out {
            expected_vip_ru_not_out += 1;
        }
        if pro || orders > 7 {
            expected_pro_or_many += 1;
        }
        file.push_str(&format!(
            "{phone},=HYPERLINK(\"http://evil\"),{},{orders},{},{}\n",
            if vip { "vip" } else { "" },
            if pro { "Pro" } else { "Free" },
            if out { "no" } else { "" },
        ));
    }
    let a = upload(&w.api, owner, "", "text/csv", file.into_bytes()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let done = finished(&w.api, owner, a.body["id"].as_str().unwrap()).await;
    assert_eq!(done["created"], 300, "{done:?}");

    let filter =
        json!({"all": [{"tag": "vip"}, {"country": "RU"}, {"not": {"consent": "opted_out"}}]});
    let a = w
        .api
        .send(
            Method::POST,
            "segments",
            owner,
            json!({"name": "VIP in Russia", "filter": filter}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let segment = a.body["id"].as_str().unwrap().to_owned();
    let count = w.api.get(&format!("segments/{segment}/count"), owner).await;
    assert_eq!(count.body["count"], expected_vip_ru_not_out);
    let any = json!({"filter": {"any": [
        {"attribute": {"key": "plan", "op": "equals", "value": "pro"}},
        {"attribute": {"key": "orders", "op": "greater_than", "value": 7}}]}});
    let count = w.api.send(Method::POST, "segments/count", owner, any).await;
    assert_eq!(
        count.body["count"], expected_pro_or_many,
        "{:?}",
        count.body
    );
    // Members page to the same number; explain says why one is out.
    let mut members = 0;
    let mut cursor = String::new();
    loop {
        let page = w
            .api
            .get(
                &format!("segments/{segment}/contacts?limit=7{cursor}"),
                owner,
            )
            .await;
        members += page.body["items"].as_array().unwrap().len();
        match page.body["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(members, expected_vip_ru_not_out);
    let why = w
        .api
        .get(
            &format!("segments/{segment}/explain/{}", w.acme.ids["contact"]),
            owner,
        )
        .await;
    assert_eq!(why.body["member"], false, "{:?}", why.body);
    assert!(why.body["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["clause"] == "tag is vip" && c["matched"] == false));
    // Bad filters: malformed, nested 100 deep, unknown tag.
    let mut deep = json!({"tag": "vip"});
    for _ in 0..100 {
        deep = json!({"not": deep});
    }
    for (bad, code) in [
        (
            json!({"name": "x", "filter": {"tag": "vip", "country": "RU"}}),
            "bad_request",
        ),
        (json!({"name": "x", "filter": deep}), "invalid_filter"),
        (
            json!({"name": "x", "filter": {"tag": "gold"}}),
            "invalid_filter",
        ),
        (
            json!({"name": "x", "filter": {"attribute": {"key": "orders", "op": "contains", "value": "1"}}}),
            "invalid_filter",
        ),
    ] {
        let a = w
            .api
            .send(Method::POST, "segments", owner, bad.clone())
            .await;
        assert!(a.status.is_client_error(), "{bad}: {:?}", a.body);
        assert_eq!(a.code(), code, "{bad}: {:?}", a.body);
    }

    // The export guards formula cells; the masked export masks numbers.
    let (status, csv) = raw_get(&w.api, owner, "contacts/export?format=csv&tag=vip").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{}",
        &csv[..400.min(csv.len())]
    );
    assert!(csv.contains("'+7916"));
    assert_eq!(csv.lines().count(), 1 + 75, "a header and the 75 VIPs");
    let (_, jsonl) = raw_get(&w.api, owner, "contacts/export?format=jsonl").await;
    assert_eq!(jsonl.lines().count(), 301);
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_edited_merged_and_erased() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let agent = &w.acme.callers["agent"];
    let a = w
        .api
        .send(
            Method::PUT,
            "tags",
            owner,
            json!({"name": "VIP", "colour": "#aa0000"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    // Create: a national number needs its region; a fixed line is refused as such.
    let a = w
        .api
        .send(
            Method::POST,
            "contacts",
            owner,
            json!({"phone": "8 916 555-66-77"}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone")
    );
    let a = w
        .api
        .send(
            Method::POST,
            "contacts",
            owner,
            json!({"phone": "8 495 555-66-77", "default_region": "RU"}),
        )
        .await;
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("fixed line"));
    let a = w
        .api
        .send(Method::POST, "contacts", owner, json!({"phone": "8 916 555-66-77", "default_region": "RU", "name": "Ира", "tags": ["vip"]}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(
        (a.body["phone"].as_str(), a.body["tags"].clone()),
        (Some("+79165556677"), json!(["VIP"]))
    );
    let ira = a.body["id"].as_str().unwrap().to_owned();
    let a = w
        .api
        .send(
            Method::POST,
            "contacts",
            owner,
            json!({"phone": "+79165556677"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    // An agent edits tags and notes; unknown tags and wrong types are refused precisely.
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("contacts/{ira}"),
            agent,
            json!({"tags": ["gold"]}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("contacts/{ira}"),
            agent,
            json!({"attributes": {"nope": 1}}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    for t in &many {
        w.api
            .send(
                Method::PUT,
                "tags",
                owner,
                json!({"name": t, "colour": "#000000"}),
            )
            .await;
    }
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("contacts/{ira}"),
            agent,
            json!({"tags": many}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many")
    );
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("contacts/{ira}"),
            agent,
            json!({"consent": {"marketing": "opted_out", "reason": "asked on the phone"}}),
        )
        .await;
    assert_eq!(
        a.body["consent"]["evidence"]["source"], "manual",
        "{:?}",
        a.body
    );
    let a = w
        .api
        .send(
            Method::POST,
            &format!("contacts/{ira}/notes"),
            agent,
            json!({"body": "prefers mornings"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    // Merge the populate step's customer into Ира.
    let a = w
        .api
        .send(
            Method::POST,
            &format!("contacts/{ira}/merge"),
            owner,
            json!({"from": ira}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // Erasure: the customer from populate, with their conversation; an agent may not.
    let target = &w.acme.ids["contact"];
    let a = w
        .api
        .call(Method::DELETE, &format!("contacts/{target}"), agent, None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = w
        .api
        .call(Method::DELETE, &format!("contacts/{target}"), owner, None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        (
            a.body["messages"].as_u64(),
            a.body["conversations"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let gone = w
        .api
        .get(
            &format!("conversations/{}", w.acme.ids["conversation"]),
            owner,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.api.get(&format!("contacts/{target}"), owner).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.api.get(&format!("contacts/{ira}"), owner).await.status,
        StatusCode::OK
    );
    // Removing a tag from the catalogue removes it from its contacts; an attribute likewise.
    let a = w
        .api
        .call(Method::DELETE, "tags?name=vip", owner, None)
        .await;
    assert_eq!(
        (a.status, a.body["contacts"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{:?}",
        a.body
    );
    let a = w
        .api
        .send(
            Method::PUT,
            "attributes/city",
            owner,
            json!({"key": "city", "label": "City", "kind": {"type": "text"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    w.api
        .send(
            Method::PATCH,
            &format!("contacts/{ira}"),
            owner,
            json!({"attributes": {"city": "Тверь"}}),
        )
        .await;
    let a = w
        .api
        .call(Method::DELETE, "attributes/city", owner, None)
        .await;
    assert_eq!(
        (a.status, a.body["contacts"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{:?}",
        a.body
    );
    let after = w.api.get(&format!("contacts/{ira}"), owner).await;
    assert_eq!(
        (after.body["tags"].clone(), after.body["attributes"].clone()),
        (json!([]), json!({})),
        "{:?}",
        after.body
    );
    let audit = w.api.get("audit?action=contact.erase", owner).await;
    let line = &audit.body["items"][0];
    assert_eq!(line["after"]["messages"], 1, "{line:?}");
    w.running.shutdown().await;
}

/// A campaign's audience from a file: `tag=` gives every row of an import that tag besides its
/// own, and a tag that cannot be one is refused before the file is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_can_tag_every_row_for_a_campaign() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let file = b"phone,tags\n+79165550001,vip\n+79165550002,\n".to_vec();
    let long = "x".repeat(65);
    let a = upload(
        &w.api,
        owner,
        &format!("tag={long}"),
        "text/csv",
        file.clone(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_eq!(a.body["error"]["field"], "tag", "{:?}", a.body);

    let a = upload(&w.api, owner, "tag=Winter%20sale", "text/csv", file).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let done = finished(&w.api, owner, a.body["id"].as_str().unwrap()).await;
    assert_eq!(
        (done["state"].as_str(), done["created"].as_u64()),
        (Some("done"), Some(2)),
        "{done:?}"
    );
    let a = w
        .api
        .get("contacts?tag=Winter%20sale&limit=10", owner)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let mut tags: Vec<String> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tags"].to_string())
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [r#"["Winter sale","vip"]"#, r#"["Winter sale"]"#],
        "{:?}",
        a.body
    );
}
