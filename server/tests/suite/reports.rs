//! Reports (issue 22) on a real server and its simulator: first response and resolution spreads
//! grouped by country and agent equal a computation of our own over the conversations' stored
//! histories, come back the same after a restart, and export as CSV; bad queries name their
//! parameter.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::{app, config::Config};

/// The median and p90 as a spreadsheet's PERCENTILE.INC computes them, written here again so
/// the server's own code is not what checks it.
fn inc_percentile(values: &[i64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort();
    let rank = p * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    v[lo] as f64 + (rank - lo as f64) * (v[hi] - v[lo]) as f64
}

/// The first response of a conversation from its history: its first outbound message's time
/// less its first inbound message's.
async fn first_response_from_history(api: &Api, owner: &Auth, id: &str) -> Option<i64> {
    let a = api
        .get(&format!("conversations/{id}/messages?limit=100"), owner)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let messages = a.body["items"].as_array().unwrap();
    let first = |direction: &str| {
        messages
            .iter()
            .filter(|m| m["direction"] == direction)
            .filter_map(|m| m["at"].as_i64())
            .min()
    };
    Some(first("outbound")? - first("inbound")?)
}

fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key}: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_response_spreads_equal_the_histories_and_survive_a_restart() {
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    // Three German and two Russian customers write in.
    let customers = [
        "4915100000001",
        "4915100000002",
        "4915100000003",
        "79161234501",
        "79161234502",
    ];
    let mut ids = Vec::new();
    for (i, customer) in customers.iter().enumerate() {
        customer_writes(&api, &sim, customer, &format!("Hello {i}")).await;
        ids.push(conversation_of(&api, &owner, customer).await);
    }
    // The owner answers four (one of them twice: only the first counts); the last Russian
    // customer waits.
    for (i, id) in ids.iter().take(4).enumerate() {
        let times = if i == 0 { 2 } else { 1 };
        for n in 0..times {
            let a = api
                .send(
                    Method::POST,
                    &format!("conversations/{id}/messages"),
                    &owner,
                    json!({"text": format!("Answer {n}")}),
                )
                .await;
            assert!(a.status.is_success(), "{:?}", a.body);
        }
    }
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{}/resolve", ids[1]),
            &owner,
            json!({}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);

    // Independently: each answered conversation's first response from its history.
    let mut expected: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, customer) in ids.iter().zip(customers).take(4) {
        let ms = eventually("the answer in the history", Duration::from_secs(10), || {
            first_response_from_history(&api, &owner, id)
        })
        .await;
        let country = if customer.starts_with("49") {
            "DE"
        } else {
            "RU"
        };
        expected.entry(country).or_default().push(ms);
    }
    let all: Vec<i64> = expected.values().flatten().copied().collect();

    let report = eventually("four first responses", Duration::from_secs(10), || async {
        let a = api
            .get("reports/first-response?group_by=country", &owner)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        (a.body["total"]["n"] == 4).then_some(a.body)
    })
    .await;
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-6;
    assert!(
        close(&report["total"]["median_ms"], inc_percentile(&all, 0.5)),
        "{report}"
    );
    assert!(
        close(&report["total"]["p90_ms"], inc_percentile(&all, 0.9)),
        "{report}"
    );
    assert_eq!(report["total"]["pending"], 1, "one customer still waits");
    for (country, values) in &expected {
        let g = row(&report, country);
        assert_eq!(g["n"], values.len(), "{g}");
        assert!(close(&g["median_ms"], inc_percentile(values, 0.5)), "{g}");
        assert!(close(&g["p99_ms"], inc_percentile(values, 0.99)), "{g}");
    }
    assert_eq!(row(&report, "RU")["pending"], 1);

    // In business hours: a schedule that opens six hours from now was closed the whole time,
    // so every first response took no business time at all.
    let utc_in = |hours: i64| {
        let t = switchboard_server::domain::instant(switchboard_server::domain::now_ms())
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC);
        format!("{:02}:{:02}", t.hour(), t.minute())
    };
    let day = json!([{"from": utc_in(6), "to": utc_in(8)}]);
    let made = api
        .send(
            Method::POST,
            "automation/schedules",
            &owner,
            json!({"name": "Office", "time_zone": "UTC", "default": true,
                   "week": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day,
                            "sat": day, "sun": day}}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let business = api
        .get(
            "reports/first-response?group_by=country&clock=business",
            &owner,
        )
        .await;
    assert_eq!(business.status, StatusCode::OK, "{:?}", business.body);
    assert_eq!(business.body["clock"], "business");
    assert_eq!(business.body["total"]["n"], 4);
    assert_eq!(business.body["total"]["max_ms"], 0, "{}", business.body);
    let wall = api
        .get("reports/first-response?group_by=country", &owner)
        .await;
    assert_eq!(wall.body["clock"], "wall");
    assert_eq!(
        wall.body["total"], report["total"],
        "the wall clock is unchanged"
    );

    // The whole report by agent: the owner answered all four; one was resolved.
    let whole = api
        .get("reports/conversations?group_by=agent", &owner)
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{:?}", whole.body);
    assert_eq!(whole.body["total"]["conversations"], 5);
    assert_eq!(whole.body["total"]["resolved"], 1);
    assert_eq!(whole.body["total"]["messages_in"], 5);
    assert_eq!(whole.body["total"]["messages_out"], 5);
    let answered: u64 = whole.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["label"] == "Owner")
        .map(|g| g["first_response"]["n"].as_u64().unwrap())
        .sum();
    assert_eq!(answered, 4, "{}", whole.body);

    // CSV: a header, one line per group and the total.
    let Auth::Bearer(token) = &owner else {
        unreachable!("signed in with a token")
    };
    let csv = api
        .client
        .get(format!(
            "{}/api/v1/reports/first-response?group_by=country&format=csv",
            api.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "key,label,pending,n,median_ms,p90_ms,p99_ms,mean_ms,stddev_ms,min_ms,max_ms"
    );
    assert_eq!(lines.len(), 1 + 2 + 1, "{text}");
    assert!(lines[3].starts_with(",total,1,4,"), "{text}");

    // After a restart, the same figures, and the board still counts today's four.
    let board = api.get("board", &owner).await;
    assert_eq!(board.body["first_responses_today"], 4, "{:?}", board.body);
    running.shutdown().await;
    let config = Config::load(Some(&dir.path().join("switchboard.toml")), []).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config, listener).await.unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: api.client,
    };
    let again = api
        .get("reports/first-response?group_by=country", &owner)
        .await;
    assert_eq!(again.body, report);
    let board = api.get("board", &owner).await;
    assert_eq!(board.body["first_responses_today"], 4, "{:?}", board.body);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_queries_outside_their_bounds_name_the_parameter() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    for (query, field) in [
        ("group_by=month", "group_by"),
        ("from=2026-13-01", "from"),
        ("to=soon", "to"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "from"),
        ("format=xlsx", "format"),
    ] {
        for report in ["conversations", "first-response", "resolution", "csat"] {
            let a = w.api.get(&format!("reports/{report}?{query}"), owner).await;
            assert_eq!(
                a.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{report}?{query}: {:?}",
                a.body
            );
            assert_eq!(a.body["error"]["field"], field, "{query}: {:?}", a.body);
        }
    }
    for report in ["conversations", "first-response", "resolution"] {
        let a = w
            .api
            .get(&format!("reports/{report}?clock=sundial"), owner)
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
        assert_eq!(a.body["error"]["field"], "clock", "{report}: {:?}", a.body);
    }
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("format=csv", "format"),
        ("format=html&lang=de", "lang"),
    ] {
        let a = w.api.get(&format!("reports/overview?{query}"), owner).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(a.body["error"]["field"], field, "{query}: {:?}", a.body);
    }
    // An agent may not read reports; a supervisor may.
    let a = w
        .api
        .get("reports/first-response", &w.acme.callers["agent"])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = w
        .api
        .get("reports/first-response", &w.acme.callers["supervisor"])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    w.running.shutdown().await;
}

/// A customer's choice from a WhatsApp list, through the simulator.
async fn customer_chooses(api: &Api, sim: &str, from: &str, id: &str, title: &str) {
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(
            &json!({"from": from, "name": "Olga", "message": {"type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": id, "title": title}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn state_of(api: &Api, owner: &Auth, id: &str) -> String {
    let a = api.get(&format!("conversations/{id}"), owner).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["state"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_sends_the_survey_and_answers_make_csat_without_reopening() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);

    // The survey is off until an admin switches it on; bad settings name their field.
    let defaults = api.get("surveys/csat", &owner).await;
    assert_eq!(defaults.status, StatusCode::OK, "{:?}", defaults.body);
    assert_eq!(defaults.body["enabled"], false);
    let mut settings = defaults.body.clone();
    settings["enabled"] = json!(true);
    settings["texts"]["en"]["labels"][0] = json!("x".repeat(25));
    let a = api
        .send(Method::PUT, "surveys/csat", &owner, settings.clone())
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_eq!(a.body["error"]["field"], "texts.en.labels.0");
    settings["texts"]["en"]["labels"][0] = json!("1 – Very poor");
    let a = api
        .send(Method::PUT, "surveys/csat", &owner, settings.clone())
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["version"], 1);
    settings["version"] = json!(7);
    let a = api
        .send(Method::PUT, "surveys/csat", &owner, settings.clone())
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);

    // Three customers are answered and their conversations resolved.
    let customers = ["4915100000011", "79161234511", "4915100000012"];
    let mut ids = Vec::new();
    for customer in customers {
        customer_writes(&api, &sim, customer, "Help, please").await;
        let id = conversation_of(&api, &owner, customer).await;
        let a = api
            .send(
                Method::POST,
                &format!("conversations/{id}/messages"),
                &owner,
                json!({"text": "Done!"}),
            )
            .await;
        assert!(a.status.is_success(), "{:?}", a.body);
        eventually("the answer sent", Duration::from_secs(10), || async {
            (sent_to(&api, &sim, customer).await.len() == 1).then_some(())
        })
        .await;
        let a = api
            .send(
                Method::POST,
                &format!("conversations/{id}/resolve"),
                &owner,
                json!({}),
            )
            .await;
        assert!(a.status.is_success(), "{:?}", a.body);
        ids.push(id);
    }
    // Each gets the survey: a list of five, in their country's language.
    for (customer, expected) in customers.iter().zip(["Rate", "Оценить", "Rate"]) {
        let survey = eventually("the survey", Duration::from_secs(10), || async {
            sent_bodies(&api, &sim, customer)
                .await
                .into_iter()
                .find(|b| b["type"] == "interactive")
        })
        .await;
        assert_eq!(survey["interactive"]["type"], "list", "{survey}");
        assert_eq!(
            survey["interactive"]["action"]["button"], expected,
            "{survey}"
        );
        let rows = &survey["interactive"]["action"]["sections"][0]["rows"];
        assert_eq!(rows.as_array().unwrap().len(), 5, "{survey}");
    }

    // The first chooses 5 and adds a comment; the second (in Russian) types 2; the third does
    // not answer.
    customer_chooses(&api, &sim, customers[0], "csat:5", "5 – Excellent").await;
    let prompt = eventually("the comment prompt", Duration::from_secs(10), || async {
        let texts = sent_to(&api, &sim, customers[0]).await;
        texts
            .iter()
            .any(|t| t.starts_with("Anything you would like to add"))
            .then_some(texts)
    })
    .await;
    assert_eq!(
        prompt.len(),
        2,
        "the answer and the prompt (texts): {prompt:?}"
    );
    customer_writes(&api, &sim, customers[0], "Quick and kind, thank you").await;
    eventually("the thanks", Duration::from_secs(10), || async {
        sent_to(&api, &sim, customers[0])
            .await
            .iter()
            .any(|t| t == "Thank you for your feedback!")
            .then_some(())
    })
    .await;
    customer_writes(&api, &sim, customers[1], "2").await;
    eventually("the Russian prompt", Duration::from_secs(10), || async {
        sent_to(&api, &sim, customers[1])
            .await
            .iter()
            .any(|t| t.starts_with("Хотите что-то добавить"))
            .then_some(())
    })
    .await;
    // Answers do not reopen anything.
    for id in &ids {
        assert_eq!(state_of(&api, &owner, id).await, "resolved");
    }

    let report = eventually("two scores", Duration::from_secs(10), || async {
        let a = api.get("reports/csat?group_by=agent", &owner).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        (a.body["total"]["n"] == 2).then_some(a.body)
    })
    .await;
    let total = &report["total"];
    assert_eq!(total["sent"], 3, "{report}");
    assert_eq!(total["mean"], 3.5);
    // σ of {5, 2} with n − 1: √4.5; the interval uses t(0.975, 1) = 12.7062047361747.
    let s = 4.5f64.sqrt();
    assert!(
        (total["stddev"].as_f64().unwrap() - s).abs() < 1e-9,
        "{total}"
    );
    let half = 12.706204736174707 * s / 2f64.sqrt();
    assert!(
        (total["ci95"][0].as_f64().unwrap() - (3.5 - half)).abs() < 1e-6,
        "{total}"
    );
    assert!((total["response_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(total["distribution"], json!([0, 1, 0, 0, 1]));
    assert_eq!(total["comments"][0]["comment"], "Quick and kind, thank you");
    assert_eq!(total["comments"][0]["score"], 5);
    let owner_row = &report["groups"][0];
    assert_eq!(owner_row["label"], "Owner", "{report}");
    assert_eq!(owner_row["n"], 2);

    // The report page's figures agree, in one pass; the page itself is HTML in Russian.
    let overview = api.get("reports/overview", &owner).await;
    assert_eq!(overview.status, StatusCode::OK, "{:?}", overview.body);
    assert_eq!(overview.body["total"]["conversations"], 3);
    assert_eq!(overview.body["csat"]["n"], 2);
    assert_eq!(overview.body["csat"]["mean"], 3.5);
    assert_eq!(overview.body["by_day"].as_array().unwrap().len(), 30);
    let counted: u64 = overview.body["first_response_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3, "every first response in one bucket");
    let Auth::Bearer(token) = &owner else {
        unreachable!("signed in with a token")
    };
    let page = api
        .client
        .get(format!(
            "{}/api/v1/reports/overview?format=html&lang=ru",
            api.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Отчёты</h1>"), "{html}");
    assert!(
        html.contains("Quick and kind, thank you"),
        "the comment is on the page"
    );

    // A new question after the survey reopens the conversation as ever.
    customer_writes(&api, &sim, customers[2], "I have another problem").await;
    eventually("reopened", Duration::from_secs(10), || async {
        (state_of(&api, &owner, &ids[2]).await != "resolved").then_some(())
    })
    .await;
    running.shutdown().await;
}

/// How many conversations the board says `user` holds.
async fn held_by(api: &Api, owner: &Auth, user: &str) -> u64 {
    let board = api.get("board", owner).await;
    assert_eq!(board.status, StatusCode::OK, "{:?}", board.body);
    board.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user"] == user)
        .map_or(0, |a| a["active"].as_u64().unwrap())
}

/// Starts the server again on the same data directory.
async fn restart(dir: &tempfile::TempDir, client: reqwest::Client) -> (app::Running, Api) {
    let config = Config::load(Some(&dir.path().join("switchboard.toml")), []).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config, listener).await.unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client,
    };
    (running, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_online_time_and_concurrency_are_reported_and_continue_after_restarts() {
    use switchboard_server::domain::now_ms;
    let (running, api, owner, dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let made = api
        .send(
            Method::POST,
            "users",
            &owner,
            json!({"email": "smith@demo.example", "name": "Agent Smith", "role": "agent",
                   "password": PASSWORD}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let agent_id = made.body["id"].as_str().unwrap().to_owned();
    let agent = api.token("smith@demo.example").await;

    // The agent opens the app; two customers write and both are theirs (nobody else is online).
    let before = now_ms();
    let mut socket = ws::connect(&api, Some(&agent)).await;
    assert_eq!(ws::next(&mut socket).await["type"], "ready");
    customer_writes(&api, &sim, "4915100000011", "Hallo").await;
    customer_writes(&api, &sim, "4915100000012", "Guten Tag").await;
    eventually("the agent holds both", Duration::from_secs(10), || async {
        (held_by(&api, &owner, &agent_id).await == 2).then_some(())
    })
    .await;
    // They answer one and resolve it.
    let first = conversation_of(&api, &owner, "4915100000011").await;
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{first}/messages"),
            &agent,
            json!({"text": "Guten Tag!"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let a = api
        .send(
            Method::POST,
            &format!("conversations/{first}/resolve"),
            &agent,
            json!({}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    // Their answer counts once WhatsApp (the simulator) accepted it.
    eventually("the answer counted", Duration::from_secs(10), || async {
        let r = api.get("reports/first-response", &owner).await;
        (r.body["total"]["n"] == 1).then_some(())
    })
    .await;
    // A stop stores the day's figures so far (the server credits time every second and
    // writes it every 30 s and at shutdown).
    running.shutdown().await;
    let after = now_ms();
    drop(socket);

    let (running, api) = restart(&dir, api.client).await;
    let report = api.get("reports/agents", &owner).await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    assert_eq!(report.body["group_by"], "agent");
    let row = self::row(&report.body, &agent_id).clone();
    assert_eq!(row["label"], "Agent Smith");
    let online = row["online_ms"].as_i64().unwrap();
    assert!(
        online > 0 && online <= after - before,
        "online {online} ms within the {} ms the socket was open: {row}",
        after - before
    );
    assert_eq!(row["available_ms"], online, "never idle, always available");
    assert_eq!((&row["idle_ms"], &row["break_ms"]), (&json!(0), &json!(0)));
    assert_eq!(row["concurrency_peak"], 2, "{row}");
    let mean = row["concurrency_mean"].as_f64().unwrap();
    assert!((0.0..=2.0).contains(&mean), "{row}");
    assert_eq!(
        (
            &row["conversations"],
            &row["resolved"],
            &row["first_responses"]
        ),
        (&json!(2), &json!(1), &json!(1)),
        "{row}"
    );
    assert_eq!((&row["agents"], &row["days"]), (&json!(1), &json!(1)));

    // The report page's figures carry the same row.
    let overview = api.get("reports/overview", &owner).await;
    assert_eq!(
        self::row(&json!({"groups": overview.body["agents"]}), &agent_id),
        &row
    );

    // By day: today's one row holds the same time; by team: the agent belongs to none.
    let by_day = api.get("reports/agents?group_by=day", &owner).await;
    assert_eq!(by_day.status, StatusCode::OK, "{:?}", by_day.body);
    assert_eq!(
        by_day.body["total"]["online_ms"],
        report.body["total"]["online_ms"]
    );
    let by_team = api.get("reports/agents?group_by=team", &owner).await;
    assert!(by_team.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["key"].is_null() && g["agents"].as_u64() >= Some(1)));
    let bad = api.get("reports/agents?group_by=country", &owner).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["error"]["field"], "group_by", "{:?}", bad.body);

    // CSV: the header, a line per agent and the total.
    let Auth::Bearer(token) = &owner else {
        unreachable!("signed in with a token")
    };
    let csv = api
        .client
        .get(format!("{}/api/v1/reports/agents?format=csv", api.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with(
        "key,label,online_ms,idle_ms,available_ms,break_ms,concurrency_mean,concurrency_peak,"
    ));
    assert!(csv
        .lines()
        .any(|l| l.starts_with(&format!("{agent_id},Agent Smith,{online},"))));

    // The day goes on from what was stored: back online, a third customer is theirs, and after
    // another restart the day holds more time than before.
    let mut socket = ws::connect(&api, Some(&agent)).await;
    assert_eq!(ws::next(&mut socket).await["type"], "ready");
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    customer_writes(&api, &sim, "4915100000013", "Moin").await;
    eventually(
        "the agent holds two again",
        Duration::from_secs(10),
        || async { (held_by(&api, &owner, &agent_id).await == 2).then_some(()) },
    )
    .await;
    running.shutdown().await;
    drop(socket);
    let (running, api) = restart(&dir, api.client).await;
    let again = api.get("reports/agents", &owner).await;
    let row = self::row(&again.body, &agent_id);
    assert!(row["online_ms"].as_i64().unwrap() > online, "{row}");
    assert_eq!(row["conversations"], 3, "{row}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_has_each_teams_view_of_its_numbers() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    let numbers = api.get("numbers", &owner).await;
    let numbers: Vec<String> = numbers.body["items"]
        .as_array()
        .or(numbers.body.as_array())
        .expect("a list of numbers")
        .iter()
        .map(|n| n["phone_number_id"].as_str().unwrap().to_owned())
        .collect();
    let mut teams = Vec::new();
    for body in [
        json!({"name": "Sales", "numbers": [numbers[0]]}),
        json!({"name": "Later", "numbers": []}),
    ] {
        let team = api.send(Method::POST, "teams", &owner, body).await;
        assert_eq!(team.status, StatusCode::CREATED, "{:?}", team.body);
        teams.push(team.body["id"].as_str().unwrap().to_owned());
    }
    // Nobody is online: the customer waits, on the Sales team's number.
    customer_writes(&api, &sim, "4915100000021", "Hallo").await;
    let board = eventually("the customer queued", Duration::from_secs(10), || async {
        let b = api.get("board", &owner).await;
        assert_eq!(b.status, StatusCode::OK, "{:?}", b.body);
        (b.body["queue_depth"] == 1 && b.body["teams"].as_array()?.len() == 2).then_some(b.body)
    })
    .await;
    let view = |id: &str| {
        board["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team"] == id)
            .unwrap_or_else(|| panic!("the team's view: {board}"))
            .clone()
    };
    let (sales, later) = (view(&teams[0]), view(&teams[1]));
    assert_eq!(sales["name"], "Sales");
    assert_eq!(
        sales["board"]["queue_depth"], 1,
        "its number's customer: {sales}"
    );
    assert!(sales["board"]["oldest_queued_since"].is_i64());
    assert_eq!(sales["board"]["teams"], json!([]));
    assert_eq!(
        later["board"]["queue_depth"], 0,
        "no numbers, no queue: {later}"
    );
    running.shutdown().await;
}
