//! `contacts`: a million-row contact file imported over REST into the real `switchboard`
//! binary (durable embedded store), then segment counts and searches over the million, and
//! webhook acknowledgements with the million stored beside the same webhooks on the empty store
//! (the baseline, same run).
//!
//! The file is what a shop exports: numbers in mixed national and international formats
//! (`8 916 …`, `+7 (916) …`, `7916…`, Kazakh `+7 701 …`), one row in a hundred a number that is
//! not one, names, tags (`vip`, `wholesale`), a city and an order count, a marketing column.
//! Every expected figure is computed here from the generator, independently of the server.
//!
//! Correctness: the import's counts, the segment's count and every search's first hit are what
//! the generator says (`violations` otherwise).

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::crowd::{self, percentile_ms, rss_bytes};
use crate::idle::{default_number, serve_with_owner};
use crate::ingest::{pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const NAMES: &[&str] = &[
    "Анна",
    "Борис",
    "Вера",
    "Глеб",
    "Дарья",
    "Егор",
    "Жанна",
    "Захар",
    "Ирина",
    "Кирилл",
    "Alice",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farid",
    "Gulnara",
    "Hassan",
    "Ivan",
    "Jana",
];
const SURNAMES: &[&str] = &[
    "Иванова",
    "Петров",
    "Сидорова",
    "Кузнецов",
    "Смирнова",
    "Попов",
    "Wagner",
    "Novak",
    "Sultanova",
    "Abenov",
    "Lee",
    "Garcia",
];

/// Row `i` of the generated file and what the server should make of it.
struct Row {
    line: String,
    bad: bool,
    ru: bool,
    vip: bool,
    opted_out: bool,
}

fn row(i: u64) -> Row {
    // A 64-bit mix of i, so neighbouring rows differ in every column.
    let mut h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    let pick = |n: u64, salt: u64| ((h ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9)) >> 7) % n;
    let bad = i % 100 == 99;
    let ru = !i.is_multiple_of(5);
    let subscriber = 1_000_000 + i; // unique 7 digits per row below 9,000,000 rows
    let phone = if bad {
        format!("{}", 10_000 + i % 90_000)
    } else if ru {
        let operator = 900 + (i % 90) as u32; // 900–989: Russian mobile ranges
        let s = format!("{subscriber:07}");
        match i % 3 {
            0 => format!("8 {operator} {}-{}-{}", &s[..3], &s[3..5], &s[5..]),
            1 => format!("+7 ({operator}) {}-{}-{}", &s[..3], &s[3..5], &s[5..]),
            _ => format!("7{operator}{s}"),
        }
    } else {
        format!("+7 701 {subscriber:07}")
    };
    let vip = pick(10, 1) == 0;
    let wholesale = pick(5, 2) == 0;
    let opted_out = pick(20, 3) == 0;
    let tags = match (vip, wholesale) {
        (true, true) => "\"vip, wholesale\"",
        (true, false) => "vip",
        (false, true) => "wholesale",
        (false, false) => "",
    };
    let name = format!(
        "{} {}",
        NAMES[pick(NAMES.len() as u64, 4) as usize],
        SURNAMES[pick(SURNAMES.len() as u64, 5) as usize]
    );
    let city = ["Москва", "Казань", "Almaty", "Новосибирск"][pick(4, 6) as usize];
    let line = format!(
        "{phone},{name},{tags},{city},{},{}\n",
        pick(50, 7),
        if opted_out { "no" } else { "" }
    );
    Row {
        line,
        bad,
        ru,
        vip,
        opted_out,
    }
}

struct Expected {
    rows: u64,
    bad: u64,
    segment: u64,
}

fn write_file(path: &std::path::Path, rows: u64) -> Result<Expected> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"phone,name,tags,city,orders,marketing\n")?;
    let mut e = Expected {
        rows,
        bad: 0,
        segment: 0,
    };
    for i in 0..rows {
        let r = row(i);
        out.write_all(r.line.as_bytes())?;
        if r.bad {
            e.bad += 1;
        } else if r.vip && r.ru && !r.opted_out {
            e.segment += 1;
        }
    }
    out.flush()?;
    Ok(e)
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Result<Value> {
    let answer = client.get(url).bearer_auth(token).send().await?;
    let status = answer.status();
    let body: Value = answer.json().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {body}");
    }
    Ok(body)
}

/// Webhook acknowledgements, 8 at a time, each a new customer's message; microseconds, sorted.
async fn acks(client: &reqwest::Client, url: &str, n: usize, salt: &str) -> Result<Vec<u32>> {
    use futures_util::StreamExt as _;
    let mut us: Vec<u32> = futures_util::stream::iter(0..n)
        .map(|k| {
            let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
                "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": crowd::NUMBER},
                    "contacts": [{"profile": {"name": "Load"}, "wa_id": format!("4915{:09}", k)}],
                    "messages": [{"from": format!("4915{:09}", k), "id": format!("wamid.c.{salt}.{k}"),
                        "timestamp": "1749416383", "type": "text", "text": {"body": "hello"}}]}}]}]});
            let body = bytes::Bytes::from(serde_json::to_vec(&body).expect("json"));
            async move {
                let started = Instant::now();
                let ok = crowd::post_webhook(client, url, body).await;
                (ok, started.elapsed().as_micros().min(u32::MAX as u128) as u32)
            }
        })
        .buffer_unordered(8)
        .map(|(ok, t)| ok.then_some(t))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Option<Vec<u32>>>()
        .context("a webhook was refused")?;
    us.sort_unstable();
    Ok(us)
}

/// `n` sequential reads of `path`; microseconds, sorted, and the last answer.
async fn timed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    paths: &[String],
    n: usize,
) -> Result<Vec<u32>> {
    let mut us = Vec::with_capacity(n);
    for k in 0..n {
        let path = &paths[k % paths.len()];
        let started = Instant::now();
        get_json(client, &format!("{base}/api/v1/{path}"), token).await?;
        us.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    us.sort_unstable();
    Ok(us)
}

fn ms(us: &[u32]) -> Value {
    json!({"p50": percentile_ms(us, 50.0), "p99": percentile_ms(us, 99.0), "max": percentile_ms(us, 100.0), "n": us.len()})
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let rows: u64 = if cli.smoke { 20_000 } else { 1_000_000 };
    let (acks_n, reads) = if cli.smoke { (200, 50) } else { (2_000, 300) };
    let served = serve_with_owner(
        &switchboard,
        &default_number(SECRET),
        "[contacts]\nimport_max_mib = 200\n",
    )
    .await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let (base, token) = (served.base.clone(), served.token.clone());
    for (key, kind) in [
        ("city", json!({"type": "text"})),
        ("orders", json!({"type": "number"})),
    ] {
        let a = client
            .put(format!("{base}/api/v1/attributes/{key}"))
            .bearer_auth(&token)
            .json(&json!({"key": key, "label": key, "kind": kind}))
            .send()
            .await?;
        anyhow::ensure!(a.status().is_success(), "defining {key}: {}", a.status());
    }

    // The baseline: acknowledgements on the empty store.
    let url = format!("{base}/webhooks/whatsapp");
    let acks_empty = acks(&client, &url, acks_n, "empty").await?;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("contacts.csv");
    let expected = write_file(&path, rows)?;
    let file = std::fs::read(&path)?;
    let file_mb = file.len() as f64 / 1_048_576.0;
    let idle_rss = rss_bytes(served.pid).unwrap_or(0);

    let started = Instant::now();
    let answer = client
        .post(format!(
            "{base}/api/v1/contacts/imports?default_region=RU&file_name=contacts.csv"
        ))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await?;
    if answer.status().as_u16() != 202 {
        bail!(
            "import answered {}: {}",
            answer.status(),
            answer.text().await?
        );
    }
    let id = answer.json::<Value>().await?["id"]
        .as_str()
        .context("no import id")?
        .to_owned();
    let mut peak_rss = idle_rss;
    let status = loop {
        peak_rss = peak_rss.max(rss_bytes(served.pid).unwrap_or(0));
        let s = get_json(
            &client,
            &format!("{base}/api/v1/contacts/imports/{id}"),
            &token,
        )
        .await?;
        if s["state"] != "running" {
            break s;
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("the import did not finish in 15 minutes: {s}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let import_s = started.elapsed().as_secs_f64();
    let mut violations = 0;
    let good = expected.rows - expected.bad;
    if status["state"] != "done"
        || status["created"].as_u64() != Some(good)
        || status["rejected"].as_u64() != Some(expected.bad)
    {
        eprintln!("contacts: import counts {status}");
        violations += 1;
    }

    // The 3-clause segment, counted repeatedly.
    let segment = client
        .post(format!("{base}/api/v1/segments"))
        .bearer_auth(&token)
        .json(&json!({"name": "VIP in Russia, not opted out",
                      "filter": {"all": [{"tag": "vip"}, {"country": "RU"}, {"not": {"consent": "opted_out"}}]}}))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let segment_id = segment["id"].as_str().context("no segment id")?.to_owned();
    let count = get_json(
        &client,
        &format!("{base}/api/v1/segments/{segment_id}/count"),
        &token,
    )
    .await?;
    if count["count"].as_u64() != Some(expected.segment) {
        eprintln!(
            "contacts: segment count {count}, expected {}",
            expected.segment
        );
        violations += 1;
    }
    let count_us = timed(
        &client,
        &base,
        &token,
        &[format!("segments/{segment_id}/count")],
        reads.min(100),
    )
    .await?;

    // Searches: name prefixes and number prefixes.
    let searches: Vec<String> = ["Ан", "Бор", "Ali", "Иван", "Dmi", "Ели"]
        .iter()
        .map(|q| format!("contacts?limit=20&q={q}"))
        .chain((0..6).map(|k| format!("contacts?limit=20&q=79{:02}10000", 10 + k)))
        .collect();
    for q in &searches[..2] {
        let page = get_json(&client, &format!("{base}/api/v1/{q}"), &token).await?;
        if page["items"].as_array().is_none_or(|i| i.is_empty()) {
            eprintln!("contacts: {q} found nothing");
            violations += 1;
        }
    }
    let search_us = timed(&client, &base, &token, &searches, reads).await?;

    // Acknowledgements with the million stored.
    let acks_full = acks(&client, &url, acks_n, "full").await?;
    let server_cpu = procinfo::cpu_seconds(served.pid);
    drop(served);
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "scenario": "contacts",
        "smoke": cli.smoke,
        "rows": rows,
        "file_mb": round(file_mb),
        "import": {
            "seconds": round(import_s),
            "rows_per_second": (rows as f64 / import_s).round(),
            "created": status["created"], "rejected": status["rejected"],
            "server_peak_anon_rss_above_idle_mb": round((peak_rss.saturating_sub(idle_rss)) as f64 / 1_048_576.0),
            "server_idle_anon_rss_mb": round(idle_rss as f64 / 1_048_576.0),
            "target_seconds": 60, "target_memory_mb": 200,
        },
        "segment_count_ms": ms(&count_us),
        "segment": {"filter": "all: tag vip, country RU, not opted out", "count": count["count"], "target_p99_ms": 200},
        "search_ms": ms(&search_us),
        "search_target_p99_ms": 20,
        "webhook_ack_ms": {"with_contacts": ms(&acks_full), "baseline_empty_store": ms(&acks_empty)},
        "server_cpu_seconds": server_cpu,
        "lost": 0,
        "duplicated": 0,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
