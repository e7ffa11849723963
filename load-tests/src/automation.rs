//! `automation`: the outgoing word filter's cost and its effect on the send path.
//!
//! 1. In process: a 10,000-term list (English and Russian words from `tests/corpus/`, embedded
//!    at build time) compiled as the server compiles it, then 1 KB messages scanned one at a
//!    time (half of them carrying a disguised term): µs per scan, p50/p99/max, and the compile
//!    time. This is the figure issue 20 names (≤ 100 µs p99 per 1 KB).
//! 2. Through the real `switchboard` binary: the same list made over REST, then
//!    `POST /api/v1/compliance/check` with the same messages from `--concurrency` connections:
//!    the latency a composer or an integration sees, and every verdict checked against what the
//!    generator put in the message (`violations` otherwise).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};
use switchboard_shared::compliance::{Filter, FilterAction, TermFit, TermList, Verdict};
use switchboard_shared::normalize::normalize;
use switchboard_shared::TermListId;

use crate::crowd::percentile_ms;
use crate::idle::{default_number, serve_with_owner};
use crate::ingest::{pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const EN: &str = include_str!("../../tests/corpus/words-en.txt");
const RU: &str = include_str!("../../tests/corpus/words-ru.txt");
const TERMS: usize = 10_000;

/// The list: 5,000 English and 5,000 Russian words from the middle of the frequency lists; the
/// most frequent 2,000 of each language write the messages. A word of the list is left out when
/// it is shorter than three letters or folds to the same letters as a message word (the Russian
/// list holds English words too, and `трёх` is `трех`): those are real matches, not errors.
fn corpus() -> (Vec<String>, Vec<&'static str>) {
    let en: Vec<&str> = EN.lines().collect();
    let ru: Vec<&str> = RU.lines().collect();
    let common: Vec<&str> = en[..2_000].iter().chain(&ru[..2_000]).copied().collect();
    let folded: std::collections::HashSet<String> = common
        .iter()
        .map(|w| normalize(w).text().to_owned())
        .collect();
    let pick = |words: &[&str]| -> Vec<String> {
        words[2_000..]
            .iter()
            .filter(|w| w.chars().count() >= 3 && !folded.contains(normalize(w).text()))
            .take(TERMS / 2)
            .map(|w| (*w).to_owned())
            .collect()
    };
    let mut terms = pick(&en);
    terms.extend(pick(&ru));
    (terms, common)
}

/// Message `i`: about 1 KB of ordinary words; every other one carries a term disguised with
/// leetspeak, a look-alike or spacing. Returns the text and whether it carries a term.
fn message(i: usize, terms: &[String], common: &[&str]) -> (String, bool) {
    let mut h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = |n: usize| {
        h ^= h >> 31;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (h >> 11) as usize % n
    };
    let mut text = String::with_capacity(1100);
    let risky = i % 2 == 1;
    let at = next(40);
    let mut words = 0;
    while text.len() < 1024 {
        if risky && words == at {
            let term = &terms[next(terms.len())];
            let disguised = match next(3) {
                0 => term.replace('e', "3").replace('o', "0"),
                1 => term.replace('а', "a").replace('о', "o").replace('a', "а"),
                _ => term.chars().map(String::from).collect::<Vec<_>>().join(" "),
            };
            text.push_str(&disguised);
        } else {
            text.push_str(common[next(common.len())]);
        }
        text.push_str(if next(8) == 0 { ", " } else { " " });
        words += 1;
    }
    (text, risky)
}

fn list(terms: Vec<String>) -> TermList {
    TermList {
        id: TermListId::new("tl_load"),
        name: "Load".into(),
        category: "spam".into(),
        action: FilterAction::Block,
        fit: TermFit::Word,
        terms,
        exceptions: vec![],
        patterns: vec![],
        teams: vec![],
        numbers: vec![],
        enabled: true,
        version: 1,
        updated_at: 0,
        updated_by: "load".into(),
    }
}

fn stats_us(mut us: Vec<u32>) -> Value {
    us.sort_unstable();
    let at = |p: f64| {
        let rank = ((us.len() as f64 * p / 100.0).ceil() as usize).clamp(1, us.len());
        us[rank - 1]
    };
    json!({"p50": at(50.0), "p99": at(99.0), "max": at(100.0), "n": us.len()})
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let (terms, common) = corpus();
    let messages: Vec<(String, bool)> = (0..if cli.smoke { 400 } else { 4_000 })
        .map(|i| message(i, &terms, &common))
        .collect();
    let mut violations = 0u64;

    // 1. In process.
    let started = Instant::now();
    let filter = Filter::compile(&[list(terms.clone())]).context("compiling the list")?;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rounds = if cli.smoke { 2 } else { 10 };
    let mut scan_us = Vec::with_capacity(messages.len() * rounds);
    for _ in 0..rounds {
        for (text, risky) in &messages {
            let t = Instant::now();
            let found = filter.scan(text, None);
            scan_us.push(t.elapsed().as_micros() as u32);
            if found.is_empty() == *risky {
                if violations < 5 {
                    let hit = found.first().map(|m| (m.term.as_str(), m.text.as_str()));
                    eprintln!("automation: risky {risky}, found {hit:?} in {text:?}");
                }
                violations += 1;
            }
        }
    }
    let mean_kb = messages.iter().map(|(t, _)| t.len()).sum::<usize>() as f64
        / messages.len() as f64
        / 1024.0;
    if violations > 0 {
        eprintln!("automation: {violations} in-process verdicts differ from the generator");
    }

    // 2. Through the server.
    let switchboard = sibling_binary("switchboard")?;
    let served = serve_with_owner(&switchboard, &default_number(SECRET), "").await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let (base, token) = (served.base.clone(), served.token.clone());
    let made = client
        .post(format!("{base}/api/v1/compliance/term-lists"))
        .bearer_auth(&token)
        .json(&json!({"name": "Load", "action": "block", "terms": terms}))
        .send()
        .await?;
    anyhow::ensure!(
        made.status().as_u16() == 201,
        "making the list: {}",
        made.status()
    );
    let deadline = Instant::now() + cli.duration();
    let per_worker = messages.len().div_ceil(cli.concurrency);
    let mut workers = Vec::new();
    for w in 0..cli.concurrency {
        let chunk: Vec<(String, bool)> = messages
            .iter()
            .skip(w * per_worker)
            .take(per_worker)
            .cloned()
            .collect();
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            let mut us = Vec::new();
            let mut wrong = 0u64;
            'outer: loop {
                for (text, risky) in &chunk {
                    if Instant::now() >= deadline {
                        break 'outer;
                    }
                    let t = Instant::now();
                    let answer = client
                        .post(format!("{base}/api/v1/compliance/check"))
                        .bearer_auth(&token)
                        .json(&json!({ "text": text }))
                        .send()
                        .await?;
                    let report: Value = answer.json().await?;
                    us.push(t.elapsed().as_micros() as u32);
                    let blocked = report["verdict"] == json!(Verdict::Block);
                    if blocked != *risky {
                        wrong += 1;
                    }
                }
                if chunk.is_empty() {
                    break;
                }
            }
            anyhow::Ok((us, wrong))
        }));
    }
    let mut check_us = Vec::new();
    for w in workers {
        let (us, wrong) = w.await??;
        check_us.extend(us);
        violations += wrong;
    }
    let seconds = cli.duration().as_secs_f64();
    let server_cpu = procinfo::cpu_seconds(served.pid);
    drop(served);
    check_us.sort_unstable();
    Ok(json!({
        "scenario": "automation",
        "smoke": cli.smoke,
        "terms": TERMS,
        "message_kb": (mean_kb * 100.0).round() / 100.0,
        "filter_in_process": {
            "compile_ms": (compile_ms * 10.0).round() / 10.0,
            "scan_us": stats_us(scan_us),
            "target_p99_us": 100,
        },
        "check_over_rest": {
            "requests": check_us.len(),
            "per_second": (check_us.len() as f64 / seconds).round(),
            "ms": {"p50": percentile_ms(&check_us, 50.0), "p99": percentile_ms(&check_us, 99.0),
                   "max": percentile_ms(&check_us, 100.0)},
            "concurrency": cli.concurrency,
        },
        "server_cpu_seconds": server_cpu,
        "lost": 0,
        "duplicated": 0,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
