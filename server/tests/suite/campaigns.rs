//! Broadcast campaigns end to end, on the real server and its simulator: contacts imported from
//! CSV make a segment; the campaign's pre-flight leaves out the opted-out and the +1 number and
//! prices the rest; it runs paced through the outbox, a customer's "СТОП" while it is paused
//! stops their send, and the simulator gets exactly one template per remaining contact with
//! their values; the funnel, the recipients and the costs follow; every bad request is refused
//! with the field named.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CARD: &str = "\
# Test card
effective_from,effective_to,country,category,volume_from,volume_to,price
2025-07-01,,DE,marketing,0,,0.1365
2025-07-01,,RU,marketing,0,,0.0802
2025-07-01,,*,service,0,,0
";

async fn put_body(
    api: &Api,
    auth: &Auth,
    method: Method,
    path: &str,
    ctype: &str,
    body: String,
) -> Answer {
    let Auth::Bearer(token) = auth else {
        unreachable!()
    };
    let r = api
        .client
        .request(method, format!("{}/api/v1/{path}", api.base))
        .header("content-type", ctype)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

/// `POST campaigns/{id}/{verb}` with an empty body.
async fn act(api: &Api, owner: &Auth, id: &str, verb: &str) -> Answer {
    api.send(
        Method::POST,
        &format!("campaigns/{id}/{verb}"),
        owner,
        json!({}),
    )
    .await
}

/// The campaign once it is in `state` (waited for as `what`).
async fn in_state(
    api: &Api,
    owner: &Auth,
    id: &str,
    state: &str,
    what: &str,
    timeout: Duration,
) -> Value {
    eventually(what, timeout, || async {
        let c = api.get(&format!("campaigns/{id}"), owner).await;
        (c.body["state"] == state).then_some(c.body)
    })
    .await
}

/// The workspace's first number (the demo's, which campaigns send from).
async fn first_number(api: &Api, owner: &Auth) -> String {
    api.get("numbers", owner).await.body[0]["phone_number_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The templates the simulator received for `to`: (name, body values).
async fn templates_to(api: &Api, sim: &str, to: &str) -> Vec<(String, Vec<String>)> {
    sent_bodies(api, sim, to)
        .await
        .iter()
        .filter(|b| b["type"] == "template")
        .map(|b| {
            let params = b["template"]["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p["text"].as_str().map(str::to_owned))
                .collect();
            (b["template"]["name"].as_str().unwrap().to_owned(), params)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_gets_a_paced_campaign_that_skips_the_opted_out_and_costs_what_the_card_says() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let number = first_number(&api, &owner).await;
    // What the wizard offers: the number with its approved templates only (the simulator's
    // account also holds a rejected one).
    let offered = api.get("templates", &owner).await;
    assert_eq!(offered.status, StatusCode::OK, "{:?}", offered.body);
    let sender = &offered.body["items"][0];
    assert_eq!(sender["number"]["phone_number_id"], number.as_str());
    let names: Vec<String> = sender["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}|{}|{}", t["name"], t["language"], t["params"]))
        .collect();
    assert!(
        names.contains(&r#""seasonal_promo"|"en_US"|1"#.to_owned()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("follow_up")), "{names:?}");
    let a = put_body(
        &api,
        &owner,
        Method::PUT,
        "costs/rate-card",
        "text/csv",
        CARD.into(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = api
        .send(
            Method::PUT,
            "attributes/code",
            &owner,
            json!({"key": "code", "label": "Promo code", "kind": {"type": "text"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    // Contacts from CSV: six VIPs in Germany and Russia (one without a code), one who opted
    // out, one +1 number, and one who is not a VIP.
    let mut file = String::from("phone,name,tags,code,marketing\n");
    let eligible: Vec<(String, String)> = (1..=6)
        .map(|i| {
            let (phone, code) = if i <= 4 {
                (format!("4915112340{i:03}"), format!("DE{i}"))
            } else if i == 5 {
                (format!("791612345{i:02}"), String::new())
            } else {
                (format!("791612345{i:02}"), format!("RU{i}"))
            };
            (phone, code)
        })
        .collect();
    for (i, (phone, code)) in eligible.iter().enumerate() {
        file.push_str(&format!("+{phone},Customer {i},vip,{code},\n"));
    }
    file.push_str("+4915112349999,Opted Out,vip,X,no\n");
    file.push_str("+12025550143,Joe,vip,Y,\n");
    file.push_str("+4915112348888,Not VIP,,Z,\n");
    let a = put_body(
        &api,
        &owner,
        Method::POST,
        "contacts/imports",
        "text/csv",
        file,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let import = a.body["id"].as_str().unwrap().to_owned();
    let done = eventually("the import", Duration::from_secs(60), || async {
        let a = api.get(&format!("contacts/imports/{import}"), &owner).await;
        (a.body["state"] != "running").then_some(a.body)
    })
    .await;
    assert_eq!(done["created"], 9, "{done}");
    let a = api
        .send(
            Method::POST,
            "segments",
            &owner,
            json!({"name": "VIPs", "filter": {"tag": "vip"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let segment = a.body["id"].as_str().unwrap().to_owned();

    let body = |over: Value| {
        let mut b = json!({
            "name": "Winter sale",
            "template": {"name": "seasonal_promo", "language": "en_US"},
            "audience": {"segment": segment},
            "variables": [{"attribute": "code", "fallback": "WELCOME"}],
            "numbers": [number],
            "max_per_second": 1,
        });
        for (k, v) in over.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    // Bad requests, each refused with the field named.
    for (over, field) in [
        (json!({"name": " "}), "name"),
        (json!({"audience": {}}), "audience"),
        (
            json!({"audience": {"segment": "seg_nope"}}),
            "audience.segment",
        ),
        (json!({"numbers": ["999"]}), "numbers[0]"),
        (
            json!({"variables": [{"attribute": "code", "text": "x"}]}),
            "variables[0]",
        ),
        (
            json!({"variables": [{"attribute": "nope"}]}),
            "variables[0].attribute",
        ),
        (
            json!({"start_at": "2030-01-01T09:00", "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
        (json!({"start_at": "tomorrow"}), "start_at"),
        (json!({"max_per_second": 0}), "max_per_second"),
        (json!({"target_minutes": 0}), "target_minutes"),
    ] {
        let a = api
            .send(Method::POST, "campaigns", &owner, body(over.clone()))
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{over}: {:?}",
            a.body
        );
        assert_eq!(a.body["error"]["field"], field, "{over}: {:?}", a.body);
    }
    for (over, why) in [
        (
            json!({"template": {"name": "follow_up", "language": "en_US"}}),
            "rejected",
        ),
        (
            json!({"template": {"name": "order_update", "language": "de"}}),
            "is not in `de`",
        ),
        (json!({"variables": []}), "takes 1 values"),
    ] {
        let a = api
            .send(Method::POST, "campaigns", &owner, body(over.clone()))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let id = a.body["id"].as_str().unwrap();
        let p = act(&api, &owner, id, "preflight").await;
        assert_eq!(
            p.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{over}: {:?}",
            p.body
        );
        let message = p.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{over}: {message}");
        let s = act(&api, &owner, id, "start").await;
        assert_eq!(s.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let past = api
        .send(
            Method::POST,
            "campaigns",
            &owner,
            body(json!({"start_at": "2020-01-01T09:00:00Z"})),
        )
        .await;
    let past_id = past.body["id"].as_str().unwrap();
    let s = act(&api, &owner, past_id, "start").await;
    assert_eq!(
        (s.status, s.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("start_at"))
    );

    // The campaign, and its pre-flight.
    let a = api
        .send(Method::POST, "campaigns", &owner, body(json!({})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["state"], "draft");
    let id = a.body["id"].as_str().unwrap().to_owned();
    let p = act(&api, &owner, &id, "preflight").await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["audience"], 8, "{}", p.body);
    assert_eq!(p.body["eligible"], 6);
    let skipped: Vec<(String, u64)> = p.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["reason"].as_str().unwrap().to_owned(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![("opted_out".into(), 1), ("us_marketing".into(), 1)]
    );
    assert_eq!(p.body["category"], "marketing");
    // 4 × 0.1365 + 2 × 0.0802
    assert_eq!(p.body["total_cost"], "0.7064");
    assert_eq!(p.body["unpriced"], 0);
    assert_eq!(p.body["eta_seconds"], 6, "one a second");
    // The same campaign spread over an hour: slower than its cap allows, the ETA the hour.
    let spread = api
        .send(
            Method::POST,
            "campaigns",
            &owner,
            body(json!({"name": "Winter sale, spread", "target_minutes": 60})),
        )
        .await;
    assert_eq!(spread.status, StatusCode::CREATED, "{:?}", spread.body);
    let sp = act(
        &api,
        &owner,
        spread.body["id"].as_str().unwrap(),
        "preflight",
    )
    .await;
    let eta = sp.body["eta_seconds"].as_u64().unwrap();
    assert!((3599..=3601).contains(&eta), "{}", sp.body);
    assert!((sp.body["rate_per_second"].as_f64().unwrap() - 6.0 / 3600.0).abs() < 1e-9);
    assert!(p.body["sample"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Our sale is on! Use code "));

    // Start; pause as soon as the first message is out.
    let s = act(&api, &owner, &id, "start").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    assert_eq!(s.body["state"], "running");
    let again = act(&api, &owner, &id, "start").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a campaign starts once");
    eventually(
        "the first template at the simulator",
        Duration::from_secs(20),
        || async {
            let mut n = 0;
            for (phone, _) in &eligible {
                n += templates_to(&api, &sim, phone).await.len();
            }
            (n >= 1).then_some(())
        },
    )
    .await;
    let paused = act(&api, &owner, &id, "pause").await;
    assert_eq!(paused.status, StatusCode::OK, "{:?}", paused.body);
    assert_eq!(paused.body["state"], "paused");
    assert!(paused.body["paused_reason"]
        .as_str()
        .unwrap()
        .contains("paused by"));

    // A customer still queued writes "СТОП": their consent changes, and resuming skips them.
    let queued = api
        .get(&format!("campaigns/{id}/recipients?state=queued"), &owner)
        .await;
    assert_eq!(queued.status, StatusCode::OK, "{:?}", queued.body);
    let queued: Vec<String> = queued.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["wa_id"].as_str().unwrap().to_owned())
        .collect();
    if queued.is_empty() {
        let all = api.get(&format!("campaigns/{id}/recipients"), &owner).await;
        let c = api.get(&format!("campaigns/{id}"), &owner).await;
        panic!(
            "paced at one a second, most wait: {:?} {:?}",
            all.body, c.body
        );
    }
    let stopper = queued.last().unwrap().clone();
    customer_writes(&api, &sim, &stopper, "СТОП").await;
    eventually(
        "the customer's consent",
        Duration::from_secs(20),
        || async {
            let c = api.get(&format!("contacts?q={stopper}"), &owner).await;
            (c.body["items"][0]["consent"]["marketing"] == "opted_out").then_some(())
        },
    )
    .await;
    let resumed = act(&api, &owner, &id, "resume").await;
    assert_eq!(resumed.status, StatusCode::OK, "{:?}", resumed.body);
    let done = in_state(
        &api,
        &owner,
        &id,
        "completed",
        "the campaign to complete",
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["total"], 8);
    assert_eq!(done["counts"]["sent"], 5, "{done}");
    assert_eq!(done["counts"]["skipped"], 3, "{done}");
    assert_eq!(done["counts"]["queued"], 0);
    assert_eq!(done["counts"]["failed"], 0);
    assert_eq!(done["preflight"]["eligible"], 6);

    // Exactly one template per remaining contact, with their code or the fallback.
    for (phone, code) in &eligible {
        let got = templates_to(&api, &sim, phone).await;
        if *phone == stopper {
            assert!(got.is_empty(), "{phone} said STOP: {got:?}");
            continue;
        }
        let value = if code.is_empty() {
            "WELCOME"
        } else {
            code.as_str()
        };
        assert_eq!(
            got,
            vec![("seasonal_promo".to_owned(), vec![value.to_owned()])],
            "{phone}"
        );
    }
    for phone in ["4915112349999", "12025550143", "4915112348888"] {
        assert!(templates_to(&api, &sim, phone).await.is_empty(), "{phone}");
    }
    let skipped = api
        .get(&format!("campaigns/{id}/recipients?state=skipped"), &owner)
        .await;
    let mut reasons: Vec<String> = skipped.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect();
    reasons.sort();
    assert_eq!(reasons, vec!["opted_out", "opted_out", "us_marketing"]);
    let bad_state = api
        .get(&format!("campaigns/{id}/recipients?state=lost"), &owner)
        .await;
    assert_eq!(bad_state.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Delivered and read come in after; the ledger prices what Meta priced.
    let stopped_de = stopper.starts_with("49");
    let expected = if stopped_de { "0.5699" } else { "0.6262" };
    let report = eventually("the campaign's costs", Duration::from_secs(30), || async {
        let r = api.get("costs?group_by=campaign", &owner).await;
        let line = r.body["lines"]
            .as_array()?
            .iter()
            .find(|l| l["key"] == id.as_str())?
            .clone();
        (line["billed"] == 5).then_some(line)
    })
    .await;
    assert_eq!(report["amount"], expected, "{report}");
    assert_eq!(
        report["label"], "Winter sale",
        "the line names the campaign: {report}"
    );
    // The campaign's own page: the estimate it started with against the ledger's actual.
    let cost = api.get(&format!("campaigns/{id}/cost"), &owner).await;
    assert_eq!(cost.status, StatusCode::OK, "{:?}", cost.body);
    assert_eq!(
        (
            &cost.body["estimate"],
            &cost.body["actual"],
            &cost.body["billed"]
        ),
        (&json!("0.7064"), &json!(expected), &json!(5)),
        "{:?}",
        cost.body
    );
    let by_number = api.get("costs?group_by=number", &owner).await;
    assert!(
        by_number.body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["key"] == number.as_str()
                && l["label"].as_str().is_some_and(|d| d.starts_with('+'))),
        "a line by number shows it as dialled: {:?}",
        by_number.body
    );
    let funnel = eventually("the funnel", Duration::from_secs(30), || async {
        let c = api.get(&format!("campaigns/{id}"), &owner).await;
        (c.body["counts"]["delivered"].as_u64()? >= 1).then_some(c.body)
    })
    .await;
    assert!(funnel["counts"]["delivered"].as_u64().unwrap() <= 5);
    assert_eq!(
        act(&api, &owner, &id, "pause").await.status,
        StatusCode::CONFLICT,
        "a completed campaign does not pause"
    );
    let list = api.get("campaigns", &owner).await;
    assert!(list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id.as_str()));
    running.shutdown().await;
}

/// Meta refusing a storm of sends with 131049 pauses the campaign by itself, with the reason;
/// resumed, it finishes; "retry the failed" makes a linked campaign for exactly those, which
/// then reach everyone; a campaign scheduled a moment ahead waits, then runs by itself.
/// Imports `n` German contacts (`+{prefix}000000`, …) tagged `tag`, waits for the import, and
/// returns their numbers.
async fn import_tagged(api: &Api, owner: &Auth, tag: &str, prefix: &str, n: usize) -> Vec<String> {
    let customers: Vec<String> = (0..n).map(|i| format!("{prefix}{i:06}")).collect();
    let mut file = String::from("phone,name,tags\n");
    for c in &customers {
        file.push_str(&format!("+{c},Customer,{tag}\n"));
    }
    let a = put_body(
        api,
        owner,
        Method::POST,
        "contacts/imports",
        "text/csv",
        file,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let import = a.body["id"].as_str().unwrap().to_owned();
    eventually("the import", Duration::from_secs(60), || async {
        let a = api.get(&format!("contacts/imports/{import}"), owner).await;
        (a.body["state"] == "done").then_some(())
    })
    .await;
    customers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_recipient_gets_it_only_within_the_window_in_their_own_country_s_time() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let number = first_number(&api, &owner).await;
    // A customer in Germany and one in Japan, eight hours apart.
    let (berlin, tokyo) = ("4915144000000", "819012345678");
    let file = format!("phone,name,tags\n+{berlin},Anna,window\n+{tokyo},Yuki,window\n");
    let a = put_body(
        &api,
        &owner,
        Method::POST,
        "contacts/imports",
        "text/csv",
        file,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let import = a.body["id"].as_str().unwrap().to_owned();
    eventually("the import", Duration::from_secs(60), || async {
        let a = api.get(&format!("contacts/imports/{import}"), &owner).await;
        (a.body["state"] == "done" && a.body["created"] == 2).then_some(())
    })
    .await;
    // Open from an hour ago to an hour ahead in Berlin: closed in Tokyo.
    let now = jiff::Zoned::now().in_tz("Europe/Berlin").unwrap();
    let from = now.checked_sub(jiff::Span::new().hours(1)).unwrap();
    let to = now.checked_add(jiff::Span::new().hours(1)).unwrap();
    let window = json!({"from": from.strftime("%H:%M").to_string(),
                        "to": to.strftime("%H:%M").to_string()});

    // A bad window or zone is refused with the field named.
    for (extra, field) in [
        (
            json!({"local_window": {"from": "25:00", "to": "20:00"}}),
            "local_window.from",
        ),
        (
            json!({"local_window": {"from": "09:00", "to": "09:00"}}),
            "local_window.from",
        ),
        (
            json!({"local_window": window, "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
    ] {
        let mut body = json!({"name": "Bad", "template": {"name": "seasonal_promo", "language": "en_US"},
            "audience": {"tag": "window"}, "variables": [{"text": "W"}], "numbers": [number]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let a = api.send(Method::POST, "campaigns", &owner, body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert_eq!(a.body["error"]["field"], field, "{:?}", a.body);
    }

    let a = api
        .send(
            Method::POST,
            "campaigns",
            &owner,
            json!({"name": "Window", "template": {"name": "seasonal_promo", "language": "en_US"},
                   "audience": {"tag": "window"}, "variables": [{"text": "W"}],
                   "numbers": [number], "local_window": window}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["local_window"], window);
    let id = a.body["id"].as_str().unwrap().to_owned();
    // Pre-flight's ETA counts the wait: Tokyo's window opens some 15 hours from now (16 while
    // Berlin keeps summer time), not in the second the two sends would take.
    let p = act(&api, &owner, &id, "preflight").await;
    let eta = p.body["eta_seconds"].as_u64().unwrap();
    assert!((13 * 3600..=17 * 3600).contains(&eta), "{}", p.body);
    let s = act(&api, &owner, &id, "start").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    let waiting = eventually(
        "Berlin's send and Tokyo's wait",
        Duration::from_secs(30),
        || async {
            let c = api.get(&format!("campaigns/{id}"), &owner).await;
            (c.body["counts"]["sent"] == 1 && c.body["waiting_until"].is_i64()).then_some(c.body)
        },
    )
    .await;
    assert_eq!(waiting["state"], "running", "{waiting}");
    assert_eq!(waiting["counts"]["queued"], 1, "{waiting}");
    // Tokyo's window opens when Berlin's does, eight hours of clock later: within a day.
    let until = waiting["waiting_until"].as_i64().unwrap();
    let in_ms = until - switchboard_server::domain::now_ms();
    assert!((0..=24 * 3_600_000).contains(&in_ms), "{waiting}");
    assert_eq!(templates_to(&api, &sim, berlin).await.len(), 1);
    assert!(templates_to(&api, &sim, tokyo).await.is_empty());
    let queued = api
        .get(&format!("campaigns/{id}/recipients?state=queued"), &owner)
        .await;
    assert_eq!(
        queued.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        queued.body
    );
    // Cancelled while it waits: it stops waiting.
    let c = act(&api, &owner, &id, "cancel").await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    assert_eq!(c.body["state"], "cancelled");
    assert!(c.body.get("waiting_until").is_none(), "{:?}", c.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_flagged_or_a_template_rated_red_pauses_the_campaigns_it_touches() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let number = first_number(&api, &owner).await;
    import_tagged(&api, &owner, "quality", "4915133", 20).await;
    let create = |name: &str, extra: Value| {
        let mut b = json!({"name": name,
            "template": {"name": "seasonal_promo", "language": "en_US"},
            "audience": {"tag": "quality"}, "variables": [{"text": "Q"}],
            "numbers": [number], "max_per_second": 1});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let account = |field: &'static str, value: Value| {
        let (client, sim) = (api.client.clone(), sim.clone());
        async move {
            let r = client
                .post(format!("{sim}/_sim/account"))
                .json(&json!({"field": field, "value": value}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
    };
    let mut ids = Vec::new();
    for (name, extra) in [
        ("Running", json!({})),
        ("Later", json!({"start_at": "2099-01-01T09:00:00+00:00"})),
    ] {
        let a = api
            .send(Method::POST, "campaigns", &owner, create(name, extra))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let id = a.body["id"].as_str().unwrap().to_owned();
        let s = act(&api, &owner, &id, "start").await;
        assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
        ids.push(id);
    }
    let (running_id, later_id) = (&ids[0], &ids[1]);
    eventually("the first send", Duration::from_secs(30), || async {
        let c = api.get(&format!("campaigns/{running_id}"), &owner).await;
        (c.body["counts"]["sent"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // Good news pauses nothing; a flagged number pauses the campaign sending from it.
    account(
        "phone_number_quality_update",
        json!({"event": "THROUGHPUT_UPGRADE", "current_limit": "TIER_UNLIMITED"}),
    )
    .await;
    account(
        "phone_number_quality_update",
        json!({"event": "FLAGGED", "current_limit": "TIER_10K"}),
    )
    .await;
    let paused = in_state(
        &api,
        &owner,
        running_id,
        "paused",
        "the pause for quality",
        Duration::from_secs(30),
    )
    .await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(reason.contains("FLAGGED"), "{reason}");
    assert!(paused["counts"]["queued"].as_u64().unwrap() > 0, "{paused}");
    // The scheduled one sends from the same number: it pauses too, before it starts.
    let later = in_state(
        &api,
        &owner,
        later_id,
        "paused",
        "the scheduled one's pause",
        Duration::from_secs(30),
    )
    .await;
    assert!(later["paused_reason"].as_str().unwrap().contains("FLAGGED"));

    // Resumed by a person, then the template is rated red: paused again, saying why.
    let r = act(&api, &owner, running_id, "resume").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["state"], "running");
    account(
        "message_template_quality_update",
        json!({"previous_quality_score": "YELLOW", "new_quality_score": "RED",
               "message_template_name": "some_other_template", "message_template_language": "en_US"}),
    )
    .await;
    account(
        "message_template_quality_update",
        json!({"previous_quality_score": "YELLOW", "new_quality_score": "RED",
               "message_template_name": "seasonal_promo", "message_template_language": "en_US"}),
    )
    .await;
    let paused = in_state(
        &api,
        &owner,
        running_id,
        "paused",
        "the pause for the template",
        Duration::from_secs(30),
    )
    .await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(
        reason.contains("RED") && reason.contains("seasonal_promo"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_pauses_the_campaign_and_the_failed_are_retried() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let number = first_number(&api, &owner).await;
    let customers = import_tagged(&api, &owner, "storm", "4915122", 30).await;
    let make = |name: &str, extra: Value| {
        let mut b = json!({"name": name,
            "template": {"name": "seasonal_promo", "language": "en_US"},
            "audience": {"tag": "storm"}, "variables": [{"text": "STORM"}],
            "numbers": [number], "max_per_second": 10});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let a = api
        .send(Method::POST, "campaigns", &owner, make("Storm", json!({})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();

    // Meta answers the next twelve sends with 131049.
    let r = api
        .client
        .put(format!("{sim}/_sim/faults"))
        .json(&json!({"forced_codes": vec![131049; 12]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let s = act(&api, &owner, &id, "start").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    let paused = in_state(
        &api,
        &owner,
        &id,
        "paused",
        "the automatic pause",
        Duration::from_secs(30),
    )
    .await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(
        reason.contains("131049") && reason.contains("automatically"),
        "{reason}"
    );

    // Resumed, it finishes; every recipient either got it once or failed.
    let r = act(&api, &owner, &id, "resume").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let done = in_state(
        &api,
        &owner,
        &id,
        "completed",
        "the campaign to finish",
        Duration::from_secs(60),
    )
    .await;
    let failed = done["counts"]["failed"].as_u64().unwrap();
    assert_eq!(failed, 12, "{done}");
    assert_eq!(done["counts"]["sent"].as_u64().unwrap() + failed, 30);
    let failed_list = api
        .get(
            &format!("campaigns/{id}/recipients?state=failed&limit=100"),
            &owner,
        )
        .await;
    let failed_to: Vec<String> = failed_list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["reason"].as_str().unwrap().contains("131049"), "{r}");
            r["wa_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(failed_to.len(), 12);
    for c in &failed_to {
        assert!(templates_to(&api, &sim, c).await.is_empty(), "{c}");
    }

    // Retry the failed: a linked draft for exactly them.
    let retry = act(&api, &owner, &id, "retry").await;
    assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.body);
    assert_eq!(retry.body["retry_of"], id.as_str());
    let retry_id = retry.body["id"].as_str().unwrap().to_owned();
    let p = act(&api, &owner, &retry_id, "preflight").await;
    assert_eq!(p.body["eligible"], 12, "{:?}", p.body);
    let s = act(&api, &owner, &retry_id, "start").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    eventually("the retry to finish", Duration::from_secs(60), || async {
        let c = api.get(&format!("campaigns/{retry_id}"), &owner).await;
        (c.body["state"] == "completed").then_some(())
    })
    .await;
    for c in &customers {
        assert_eq!(
            templates_to(&api, &sim, c).await.len(),
            1,
            "{c} got it once in all"
        );
    }

    // Scheduled two seconds ahead: it waits, then runs by itself.
    let at = switchboard_server::domain::instant(switchboard_server::domain::now_ms() + 2_000);
    let a = api
        .send(
            Method::POST,
            "campaigns",
            &owner,
            make(
                "Later",
                json!({"start_at": at.to_string(), "max_per_second": 100}),
            ),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let later = a.body["id"].as_str().unwrap().to_owned();
    let s = act(&api, &owner, &later, "start").await;
    assert_eq!(s.body["state"], "scheduled", "{:?}", s.body);
    let finished = in_state(
        &api,
        &owner,
        &later,
        "completed",
        "the scheduled campaign",
        Duration::from_secs(60),
    )
    .await;
    assert!(finished["started_at"].as_i64().unwrap() >= at.as_millisecond());
    assert_eq!(finished["counts"]["sent"], 30);
    running.shutdown().await;
}

/// Meta answering 5xx for longer than an agent's reply is retried: the campaign waits (its few
/// sends in hand keep retrying, the rest are not handed over) and, once Meta is back, finishes
/// with exactly one template per recipient and nobody failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_at_meta_makes_the_campaign_wait_and_loses_nobody() {
    // Two attempts: a chat send would be given up after one retry, a fifth of a second.
    let (running, api, owner, _dir) =
        demo("customers = 0\ndemo_replies = false\n[outbox]\nmax_attempts = 2").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let number = first_number(&api, &owner).await;
    let customers = import_tagged(&api, &owner, "outage", "4915133", 12).await;
    let faults = |rate: f64| {
        let client = api.client.clone();
        let url = format!("{sim}/_sim/faults");
        async move {
            let r = client
                .put(url)
                .json(&json!({"error_5xx_rate": rate}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    faults(1.0).await;
    let a = api
        .send(
            Method::POST,
            "campaigns",
            &owner,
            json!({"name": "Outage", "template": {"name": "seasonal_promo", "language": "en_US"},
                   "audience": {"tag": "outage"}, "variables": [{"text": "DOWN"}],
                   "numbers": [number], "max_per_second": 20}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let s = act(&api, &owner, &id, "start").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);

    // The outage lasts until Meta has refused the campaign's sends many times over: far past
    // the two attempts a chat send gets.
    eventually(
        "sends refused with 5xx",
        Duration::from_secs(60),
        || async {
            let stats: Value = api
                .client
                .get(format!("{sim}/_sim/stats"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (stats["rejected"]["131000"].as_u64().unwrap_or(0) >= 30).then_some(())
        },
    )
    .await;
    let during = api.get(&format!("campaigns/{id}"), &owner).await.body;
    assert_eq!(during["state"], "running", "{during}");
    assert_eq!(during["counts"]["failed"], 0, "{during}");
    assert_eq!(during["counts"]["sent"], 0, "{during}");

    faults(0.0).await;
    let done = in_state(
        &api,
        &owner,
        &id,
        "completed",
        "the campaign after the outage",
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["counts"]["failed"], 0, "{done}");
    assert_eq!(done["counts"]["sent"], 12, "{done}");
    for c in &customers {
        assert_eq!(templates_to(&api, &sim, c).await.len(), 1, "{c}");
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_sends_a_template_with_a_header_named_values_and_a_button() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let number = first_number(&api, &owner).await;
    let customers = import_tagged(&api, &owner, "parcels", "4915155", 2).await;
    // `delivery_tracking`: a header `Order {{order_id}}`, a body with `customer_name` and `day`,
    // a URL button ending in `{{1}}`. The body's values come per recipient, in the body's order;
    // the header's and the button's are the campaign's.
    let campaign = |template: Value| {
        json!({"name": "Parcels", "template": template, "audience": {"tag": "parcels"},
               "variables": [{"field": "name"}, {"text": "tomorrow"}], "numbers": [number]})
    };
    let whole = json!({"name": "delivery_tracking", "language": "en_US",
        "header": {"type": "text", "text": "Autumn"},
        "buttons": [{"index": 0, "value": "autumn"}]});
    // A value the template needs and the campaign lacks stops it at pre-flight.
    let mut headless = whole.clone();
    headless.as_object_mut().unwrap().remove("header");
    let a = api
        .send(Method::POST, "campaigns", &owner, campaign(headless))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let p = act(&api, &owner, a.body["id"].as_str().unwrap(), "preflight").await;
    assert_eq!(
        (p.status, p.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("template")),
        "{:?}",
        p.body
    );
    assert!(
        p.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("header"),
        "{:?}",
        p.body
    );

    let a = api
        .send(Method::POST, "campaigns", &owner, campaign(whole))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let p = act(&api, &owner, &id, "preflight").await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    let s = act(&api, &owner, &id, "start").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    in_state(
        &api,
        &owner,
        &id,
        "completed",
        "the campaign's end",
        Duration::from_secs(30),
    )
    .await;
    for customer in &customers {
        let sent = sent_bodies(&api, &sim, customer)
            .await
            .into_iter()
            .find(|b| b["type"] == "template")
            .unwrap_or_else(|| panic!("no template to {customer}"));
        assert_eq!(
            sent["template"]["components"],
            json!([
                {"type": "header", "parameters": [
                    {"type": "text", "text": "Autumn", "parameter_name": "order_id"}]},
                {"type": "body", "parameters": [
                    {"type": "text", "text": "Customer", "parameter_name": "customer_name"},
                    {"type": "text", "text": "tomorrow", "parameter_name": "day"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [
                    {"type": "text", "text": "autumn"}]}
            ]),
            "{customer}"
        );
    }
    running.shutdown().await;
}
