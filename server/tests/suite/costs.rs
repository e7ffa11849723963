//! The cost ledger end to end, on the real server and its simulator: an admin's rate card is
//! checked whole; messages agents send are priced by the simulator's status webhooks (as Meta
//! prices them), each once; the costs endpoint sums them by country, number and sender to the
//! cent of a computation made here from the same card; the export lists each one.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const CARD: &str = "\
# Test card, 2026-12-06
effective_from,effective_to,country,category,volume_from,volume_to,price
2025-07-01,,DE,marketing,0,,0.1365
2025-07-01,,DE,utility,0,,0.0500
2025-07-01,,RU,marketing,0,1,0.0802
2025-07-01,,RU,marketing,1,,0.0700
2025-07-01,,*,service,0,,0
";

async fn upload(api: &Api, auth: &Auth, text: &str) -> Answer {
    api.raw(
        Method::PUT,
        "costs/rate-card",
        auth,
        "text/csv",
        text.to_owned(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priced_statuses_are_booked_once_and_summed_to_the_cent() {
    let (running, api, owner, _dir) = demo("customers = 0\ndemo_replies = false").await;
    let sim = format!("http://{}", running.simulator.as_ref().unwrap().addr);

    // The shipped card until an admin uploads one; a bad file changes nothing.
    let shipped = api.get("costs/rate-card", &owner).await;
    assert_eq!(shipped.status, StatusCode::OK, "{:?}", shipped.body);
    assert_eq!(shipped.body["origin"], "shipped");
    assert!(shipped.body["source"]
        .as_str()
        .unwrap()
        .contains("2025-07-01"));
    let bad = upload(
        &api,
        &owner,
        "effective_from,effective_to,country,category,volume_from,volume_to,price\n\
         2025-07-01,,DE,marketing,0,,-1\n\
         2025-07-01,,DE,promo,0,,0.1\n\
         2025-07-01,,XX,utility,0,,0.1\n",
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_file")),
        "{:?}",
        bad.body
    );
    let lines: Vec<u64> = bad.body["error"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3, 4]);
    assert_eq!(
        api.get("costs/rate-card", &owner).await.body["origin"],
        "shipped"
    );
    let agent = {
        let a = api
            .send(
                Method::POST,
                "users",
                &owner,
                json!({"name": "Ann", "email": "ann@demo.example", "role": "agent",
                       "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        api.token("ann@demo.example").await
    };
    assert_eq!(
        upload(&api, &agent, CARD).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(api.get("costs", &agent).await.status, StatusCode::FORBIDDEN);
    let card = upload(&api, &owner, CARD).await;
    assert_eq!(card.status, StatusCode::OK, "{:?}", card.body);
    assert_eq!(card.body["origin"], "uploaded");
    assert_eq!(card.body["countries"], 2);

    // Three customers write; the business answers each with a text (free, service), a
    // marketing template (billed) and a utility template inside the window (free).
    let customers = ["4915112345678", "79161234567", "79161234568"];
    for c in customers {
        customer_writes(&api, &sim, c, "Hello").await;
    }
    for c in customers {
        let id = conversation_of(&api, &owner, c).await;
        let path = format!("conversations/{id}/messages");
        for body in [
            json!({"text": "Hi! How can we help?"}),
            json!({"template": {"name": "seasonal_promo", "language": "en_US", "params": ["SALE25"]}}),
            json!({"template": {"name": "order_update", "language": "en_US", "params": ["Olga", "A-1"]}}),
        ] {
            let a = api.send(Method::POST, &path, &owner, body).await;
            assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
        }
    }

    // Nine priced messages, three billed: DE 0.1365, and RU's first and second of the month
    // in their volume bands (0.0802, then 0.0700).
    let report = eventually("nine priced messages", Duration::from_secs(30), || async {
        let r = api.get("costs?group_by=country", &owner).await;
        (r.body["total"]["messages"] == 9).then_some(r.body)
    })
    .await;
    assert_eq!(report["total"]["billed"], 3, "{report}");
    assert_eq!(report["total"]["unpriced"], 0);
    assert_eq!(report["total"]["amount"], "0.2867");
    assert_eq!(report["currency"], "USD");
    let by_country: Vec<(String, String)> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().to_owned(),
                l["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_country,
        vec![
            ("DE".into(), "0.1365".into()),
            ("RU".into(), "0.1502".into())
        ]
    );
    // Every status the simulator sent later (read receipts, duplicates) changes nothing.
    let number = api.get("costs?group_by=number", &owner).await;
    assert_eq!(number.body["lines"].as_array().unwrap().len(), 1);
    assert_eq!(number.body["lines"][0]["amount"], "0.2867");
    assert_eq!(number.body["lines"][0]["messages"], 9);
    let month = api.get("costs", &owner).await;
    assert_eq!(month.body["group_by"], "month");
    assert_eq!(month.body["total"]["amount"], "0.2867");
    let bad_group = api.get("costs?group_by=planet", &owner).await;
    assert_eq!(bad_group.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_range = api.get("costs?from=2026-12-01&to=2026-11-01", &owner).await;
    assert_eq!(
        (bad_range.status, bad_range.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("to"))
    );

    // The reconciliation export: one line per priced message, with who sent it.
    let export = api
        .client
        .get(format!("{}/api/v1/costs/charges", api.base))
        .bearer_auth(match &owner {
            Auth::Bearer(t) => t.clone(),
            _ => unreachable!(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    let text = export.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 9, "{text}");
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert!(
        rows.iter().all(|r| r[col("sender")].starts_with("user:")),
        "{text}"
    );
    let billed: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[col("pricing_type")] == "regular")
        .collect();
    assert_eq!(billed.len(), 3);
    assert!(billed.iter().all(|r| &r[col("category")] == "marketing"));
    let sum: rust_decimal::Decimal = rows
        .iter()
        .filter(|r| !r[col("price_usd")].is_empty())
        .map(|r| {
            r[col("price_usd")]
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum.to_string(), "0.2867");
    running.shutdown().await;
}

/// The ledger figure: a generated month of priced statuses (five countries, every
/// category, free and billed, volume tiers, each message priced twice as before v24, the month's
/// edges), posted as Meta's webhooks; the report's totals equal a computation made here from the
/// same card, to the cent (exactly, in fact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_month_sums_to_an_independent_computation() {
    use rust_decimal::Decimal;
    use std::collections::HashMap;
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let card = "\
# Generated-month card
effective_from,effective_to,country,category,volume_from,volume_to,price
2025-07-01,,DE,marketing,0,,0.1365
2025-07-01,,DE,utility,0,20,0.0500
2025-07-01,,DE,utility,20,,0.0400
2025-07-01,,RU,marketing,0,,0.0802
2025-07-01,,RU,authentication,0,,0.0300
2025-07-01,,IN,authentication,0,,0.0014
2025-07-01,,IN,authentication_international,0,,0.0280
2025-07-01,,*,marketing,0,,0.0600
2025-07-01,,*,service,0,,0
";
    let a = upload(&w.api, owner, card).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let dec = |s: &str| s.parse::<Decimal>().unwrap();
    // The card, as this test reads it (independently of the server's lookup).
    let price = |country: &str, category: &str, volume: u64| -> Option<Decimal> {
        match (country, category) {
            ("DE", "marketing") => Some(dec("0.1365")),
            ("DE", "utility") if volume < 20 => Some(dec("0.05")),
            ("DE", "utility") => Some(dec("0.04")),
            ("RU", "marketing") => Some(dec("0.0802")),
            ("RU", "authentication") => Some(dec("0.03")),
            ("IN", "authentication") => Some(dec("0.0014")),
            ("IN", "authentication-international") => Some(dec("0.028")),
            (_, "marketing") => Some(dec("0.06")),
            (_, "service") => Some(Decimal::ZERO),
            _ => None,
        }
    };
    let recipients = [
        ("DE", "4915112340"),
        ("RU", "7916123450"),
        ("IN", "9198765430"),
        ("BR", "5511987650"),
        ("US", "1202555010"),
    ];
    let categories = [
        "marketing",
        "utility",
        "authentication",
        "authentication-international",
        "service",
    ];
    // 2026-11-01T00:00:00Z.
    let november = 1_793_491_200i64;
    let mut expected_nov = Decimal::ZERO;
    let (mut billed_nov, mut unpriced_nov, mut messages_nov) = (0u64, 0u64, 0u64);
    let mut volumes: HashMap<(String, String, String), u64> = HashMap::new();
    let mut statuses = Vec::new();
    for i in 0..1_500u64 {
        let (country, prefix) = recipients[(i % 5) as usize];
        let category = categories[((i / 5) % 5) as usize];
        let free = category == "service" || i % 9 == 0;
        // Spread over November, a few on the evening of October 31 and the night of December 1.
        let at = match i % 50 {
            0 => november - 60,
            1 => november + 30 * 86_400 + 60,
            _ => november + (i as i64 * 1_700) % (30 * 86_400),
        };
        let month = if at < november {
            "2026-10"
        } else if at >= november + 30 * 86_400 {
            "2026-12"
        } else {
            "2026-11"
        };
        let pricing = json!({"billable": !free, "pricing_model": "PMP",
            "type": if free { "free_customer_service" } else { "regular" },
            "category": category});
        let wamid = format!("wamid.ledger.{i:05}");
        let to = format!("{prefix}{:02}", i % 97);
        // Priced on `sent` and again on `delivered`, as webhooks before v24 do.
        for (status, when) in [("sent", at), ("delivered", at + 5)] {
            statuses.push(
                json!({"id": wamid, "status": status, "timestamp": when.to_string(),
                "recipient_id": to, "pricing": pricing}),
            );
        }
        if month == "2026-11" {
            messages_nov += 1;
            if !free {
                billed_nov += 1;
                let v = volumes
                    .entry((month.into(), country.into(), category.replace('-', "_")))
                    .or_default();
                match price(country, category, *v) {
                    Some(p) => expected_nov += p,
                    None => unpriced_nov += 1,
                }
                *v += 1;
            }
        } else if !free {
            // Other months count their own volume.
            *volumes
                .entry((month.into(), country.into(), category.replace('-', "_")))
                .or_default() += 1;
        }
    }
    for chunk in statuses.chunks(60) {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": waba_of(ACME_NUMBER), "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": format!("1555{ACME_NUMBER}"),
                             "phone_number_id": ACME_NUMBER},
                "statuses": chunk}}]}]
        })
        .to_string();
        deliver(&w.api, body.clone()).await;
        // Meta redelivers: nothing changes.
        deliver(&w.api, body).await;
    }
    let report = w
        .api
        .get(
            "costs?group_by=country&from=2026-11-01&to=2026-12-01",
            owner,
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    let total = &report.body["total"];
    assert_eq!(total["messages"], messages_nov, "{total}");
    assert_eq!(total["billed"], billed_nov);
    assert_eq!(total["unpriced"], unpriced_nov);
    assert_eq!(
        dec(total["amount"].as_str().unwrap()),
        expected_nov,
        "{total}"
    );
    let sum: Decimal = report.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| dec(l["amount"].as_str().unwrap()))
        .sum();
    assert_eq!(sum, expected_nov, "the lines add up to the total");
    let months = w
        .api
        .get("costs?group_by=month&from=2026-10-01&to=2027-01-01", owner)
        .await;
    let keys: Vec<&str> = months.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["2026-10", "2026-11", "2026-12"]);
    assert!(
        volumes[&("2026-11".to_owned(), "DE".to_owned(), "utility".to_owned())] > 20,
        "the second volume band is used"
    );
    eprintln!(
        "ledger figure: {messages_nov} priced messages in November, {billed_nov} billed, \
         {unpriced_nov} not on the card, {expected_nov} USD"
    );
    // Another workspace sees none of it.
    let other = w.api.get("costs", &w.globex.callers["owner"]).await;
    assert_eq!(other.body["total"]["messages"], 0);
}
