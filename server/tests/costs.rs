//! The cost ledger end to end, on the real server and its simulator: an admin's rate card is
//! checked whole; messages agents send are priced by the simulator's status webhooks (as Meta
//! prices them), each once; the costs endpoint sums them by country, number and sender to the
//! cent of a computation made here from the same card; the export lists each one.

mod common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

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
    let request = api
        .client
        .put(format!("{}/api/v1/costs/rate-card", api.base))
        .header("content-type", "text/csv")
        .body(text.to_owned());
    let request = match auth {
        Auth::Bearer(t) => request.bearer_auth(t),
        _ => unreachable!("tests upload with a token"),
    };
    let r = request.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        headers,
    }
}

async fn conversation(api: &Api, owner: &Auth, from: &str) -> String {
    eventually(
        "the customer's conversation",
        Duration::from_secs(10),
        || async {
            let list = api.get("conversations", owner).await;
            list.body["items"]
                .as_array()?
                .iter()
                .find(|c| c["customer"].as_str() == Some(from))?["id"]
                .as_str()
                .map(str::to_owned)
        },
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
        let id = conversation(&api, &owner, c).await;
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
