//! Business hours end to end, on the real server and its simulator: a closed schedule answers a
//! customer once per closed period, with `{{next_open}}` in the customer's language; rules go
//! by inside/outside hours; an open schedule stays quiet; holiday calendars become closed days;
//! every bad schedule or calendar is refused with the field named.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Waits until the business has sent `to` a text containing `wanted`; all texts sent to them.
async fn reply_containing(api: &Api, sim: &str, to: &str, wanted: &str) -> Vec<String> {
    eventually(
        &format!("a reply with {wanted:?}"),
        Duration::from_secs(10),
        || async {
            let sent = sent_to(api, sim, to).await;
            sent.iter().any(|t| t.contains(wanted)).then_some(sent)
        },
    )
    .await
}

/// `HH:MM` in UTC, `minutes` from now.
fn utc_in(minutes: i64) -> String {
    let t = switchboard_server::domain::instant(switchboard_server::domain::now_ms())
        .checked_add(jiff::SignedDuration::from_mins(minutes))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Every day open from `from` to `to` (UTC).
fn every_day(from: &str, to: &str) -> Value {
    let day = json!([{"from": from, "to": to}]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_business_answers_once_per_night_and_rules_go_by_the_hours() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);
    // Opens six hours from now and closes two hours later, every day: closed now, whatever
    // the hour the test runs at.
    let opens = utc_in(6 * 60);
    let made = api
        .send(
            Method::POST,
            "automation/schedules",
            &owner,
            json!({"name": "Shop", "time_zone": "UTC", "default": true,
                   "week": every_day(&opens, &utc_in(8 * 60)),
                   "off_hours_reply": {"text": "We are closed; we open {{next_open}}.",
                                       "texts": {"ru": "Мы закрыты, откроемся {{next_open}}."}}}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(made.body["open_now"], false);
    let schedule = made.body["id"].as_str().unwrap().to_owned();
    // A rule only for open hours, one only for closed hours.
    for (name, hours, reply) in [
        ("Day", "inside", "Our prices: example.com"),
        ("Night", "outside", "Prices tomorrow"),
    ] {
        let r = api
            .send(
                Method::POST,
                "automation/rules",
                &owner,
                json!({"name": name, "match": {"mode": "word", "keywords": ["price", "цена"]},
                       "conditions": {"business_hours": hours},
                       "actions": [{"reply": {"text": reply}}], "stop": false,
                       "cooldown_secs": 0}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    customer_writes(&api, &sim, "79161234567", "Какая цена?").await;
    let sent = reply_containing(&api, &sim, "79161234567", "Prices tomorrow").await;
    let off: Vec<&String> = sent.iter().filter(|t| t.contains("закрыты")).collect();
    assert_eq!(off.len(), 1, "{sent:?}");
    assert!(off[0].contains(&format!("в {opens}")), "{off:?}");
    assert!(!sent.iter().any(|t| t.contains("example.com")), "{sent:?}");

    // The same customer again, the same night: the night rule answers (no cooldown), the
    // off-hours reply does not come twice. It is composed before the rules act on a message,
    // so once the second night reply is there, a second off-hours reply would be too.
    customer_writes(&api, &sim, "79161234567", "price?").await;
    let sent = eventually(
        "the second night reply",
        Duration::from_secs(10),
        || async {
            let sent = sent_to(&api, &sim, "79161234567").await;
            (sent
                .iter()
                .filter(|t| t.contains("Prices tomorrow"))
                .count()
                == 2)
                .then_some(sent)
        },
    )
    .await;
    assert_eq!(
        sent.iter()
            .filter(|t| t.contains("closed") || t.contains("закрыты"))
            .count(),
        1,
        "{sent:?}"
    );
    // Another customer, writing English, gets the English reply.
    customer_writes(&api, &sim, "447700900123", "hello").await;
    let sent = reply_containing(&api, &sim, "447700900123", "We are closed").await;
    assert!(sent[0].contains(&format!("at {opens}")), "{sent:?}");

    // The test bench, at an hour the shop is open: the day rule, no off-hours reply.
    let at = switchboard_server::domain::instant(switchboard_server::domain::now_ms())
        .as_millisecond()
        + 7 * 3_600_000;
    let bench = api
        .send(
            Method::POST,
            "automation/test",
            &owner,
            json!({"text": "price", "at": at}),
        )
        .await;
    assert_eq!(bench.status, StatusCode::OK, "{:?}", bench.body);
    let fired: Vec<&str> = bench.body["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["Day"], "{:?}", bench.body);
    assert_eq!(bench.body["hours"]["open"], true);
    assert!(bench.body["hours"]["off_hours_reply"].is_null());
    assert!(bench.body["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("open"));

    // Open now: a new customer gets the day rule's answer and no off-hours reply.
    let open = api
        .send(
            Method::PUT,
            &format!("automation/schedules/{schedule}"),
            &owner,
            json!({"name": "Shop", "time_zone": "UTC", "default": true,
                   "week": every_day(&utc_in(-60), &utc_in(60)),
                   "off_hours_reply": {"text": "We are closed; we open {{next_open}}."}}),
        )
        .await;
    assert_eq!(open.status, StatusCode::OK, "{:?}", open.body);
    assert_eq!(open.body["open_now"], true);
    assert_eq!(open.body["version"], 2);
    customer_writes(&api, &sim, "4915112345678", "price").await;
    let sent = reply_containing(&api, &sim, "4915112345678", "example.com").await;
    assert_eq!(sent.len(), 1, "{sent:?}");

    // A schedule a rule goes by is not deleted from under it.
    let rule = api
        .send(
            Method::POST,
            "automation/rules",
            &owner,
            json!({"name": "Pinned", "match": {"keywords": ["zzz"]},
                   "conditions": {"business_hours": "inside", "schedule": schedule},
                   "actions": [{"reply": {"text": "z"}}]}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let gone = api
        .call(
            Method::DELETE,
            &format!("automation/schedules/{schedule}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::CONFLICT, "{:?}", gone.body);
    assert!(gone.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Pinned"));
}

/// Posts a calendar file to a schedule.
async fn holidays(api: &Api, owner: &Auth, schedule: &str, query: &str, ics: &str) -> Answer {
    let Auth::Bearer(token) = owner else {
        panic!("a bearer owner")
    };
    let r = api
        .client
        .post(format!(
            "{}/api/v1/automation/schedules/{schedule}/holidays{query}",
            api.base
        ))
        .bearer_auth(token)
        .header("content-type", "text/calendar")
        .body(ics.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        headers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holiday_calendars_close_days_and_bad_schedules_name_their_field() {
    let (_running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let made = api
        .send(
            Method::POST,
            "automation/schedules",
            &owner,
            json!({"name": "Office", "time_zone": "Europe/Moscow",
                   "week": {"mon": [{"from": "09:00", "to": "18:00"}],
                            "fri": [{"from": "22:00", "to": "06:00"}]},
                   "overrides": [{"date": "2099-06-01", "name": "Open Monday",
                                  "hours": [{"from": "10:00", "to": "14:00"}]}]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let next_year = switchboard_server::domain::instant(switchboard_server::domain::now_ms())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year()
        + 1;
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
         BEGIN:VEVENT\r\nUID:ny\r\nDTSTART;VALUE=DATE:{next_year}0101\r\n\
         DTEND;VALUE=DATE:{next_year}0103\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:wd\r\nDTSTART;VALUE=DATE:20000308\r\nRRULE:FREQ=YEARLY\r\n\
         SUMMARY:Women's Day\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:m\r\nDTSTART:{next_year}0610T090000Z\r\nSUMMARY:Meeting\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let imported = holidays(&api, &owner, &id, "", &ics).await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    let b = &imported.body;
    assert_eq!(b["skipped"][0]["event"], "Meeting", "{b:?}");
    let overrides = b["schedule"]["overrides"].as_array().unwrap();
    let dates: Vec<&str> = overrides
        .iter()
        .map(|o| o["date"].as_str().unwrap())
        .collect();
    assert!(
        dates.contains(&format!("{next_year}-01-02").as_str()),
        "{dates:?}"
    );
    assert!(
        dates.contains(&format!("{next_year}-03-08").as_str()),
        "{dates:?}"
    );
    assert!(
        dates.contains(&"2099-06-01"),
        "special days stay: {dates:?}"
    );
    assert_eq!(b["schedule"]["version"], 2);
    // Replacing with a calendar of one day drops the other closed days, keeps the open one.
    let one = format!(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:{next_year}1225\nSUMMARY:X\n\
         END:VEVENT\nEND:VCALENDAR\n"
    );
    let one = one.as_str();
    let replaced = holidays(&api, &owner, &id, "?replace=true", one).await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    let dates: Vec<&str> = replaced.body["schedule"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, [format!("{next_year}-12-25").as_str(), "2099-06-01"]);

    // Bad calendars: refused whole, nothing changed.
    for (bad, query, field) in [
        ("hello, not a calendar", "", "ics"),
        (&"BEGIN:VCALENDAR\n".repeat(40)[..], "", "ics"),
        (one, "?replace=maybe", "replace"),
    ] {
        let r = holidays(&api, &owner, &id, query, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{:?}", r.body);
    }
    let after = api.get(&format!("automation/schedules/{id}"), &owner).await;
    assert_eq!(after.body["version"], 3);

    // Bad schedules: each names its field.
    let good = json!({"name": "Ok", "time_zone": "UTC",
                      "week": {"mon": [{"from": "09:00", "to": "18:00"}]}});
    let with = |path: &[&str], value: Value| {
        let mut v = good.clone();
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = value;
        v
    };
    for (body, field) in [
        (with(&["time_zone"], json!("Mars/Olympus")), "time_zone"),
        (
            with(
                &["week", "tue"],
                json!([{"from": "09:00", "to": "13:00"}, {"from": "12:00", "to": "18:00"}]),
            ),
            "week.tue[1]",
        ),
        (
            with(&["week", "sun"], json!([{"from": "22:00", "to": "10:00"}])),
            "week.sun[0]",
        ),
        (
            with(&["week", "wed"], json!([{"from": "25:00", "to": "26:00"}])),
            "week.wed[0].from",
        ),
        (
            with(&["overrides"], json!([{"date": "2027-02-30"}])),
            "overrides[0].date",
        ),
        (with(&["numbers"], json!(["999"])), "numbers[0]"),
        (
            with(&["off_hours_reply"], json!({"text": "back {{when}}"})),
            "off_hours_reply.text",
        ),
    ] {
        let r = api
            .send(Method::POST, "automation/schedules", &owner, body)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{:?}", r.body);
    }
    // One default schedule a workspace.
    let first = api
        .send(
            Method::POST,
            "automation/schedules",
            &owner,
            with(&["default"], json!(true)),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let second = api
        .send(
            Method::POST,
            "automation/schedules",
            &owner,
            with(&["default"], json!(true)),
        )
        .await;
    assert_eq!(
        second.body["error"]["field"], "default",
        "{:?}",
        second.body
    );
    // A rule naming a schedule that does not exist.
    let r = api
        .send(
            Method::POST,
            "automation/rules",
            &owner,
            json!({"name": "R", "match": {"keywords": ["x"]},
                   "conditions": {"business_hours": "inside", "schedule": "sc_nope"},
                   "actions": [{"reply": {"text": "x"}}]}),
        )
        .await;
    assert_eq!(
        r.body["error"]["field"], "conditions.schedule",
        "{:?}",
        r.body
    );
}
