//! `automation`: the outgoing word filter's cost and its effect on the send path.
//!
//! 1. In process: a 10,000-term list (English and Russian words from `tests/corpus/`, embedded
//!    at build time) compiled as the server compiles it, then 1 KB messages scanned one at a
//!    time (half of them carrying a disguised term): µs per scan, p50/p99/max, and the compile
//!    time. This is the figure issue 20 names (≤ 100 µs p99 per 1 KB).
//!    And 1,000 keyword rules (word, contains, starts-with, regex and fuzzy keywords, priorities)
//!    evaluated on the same messages: µs per message (issue 20: ≤ 50 µs p99 per 1 KB).
//! 2. Through the real `switchboard` binary: the same list made over REST, then
//!    `POST /api/v1/compliance/check` with the same messages from `--concurrency` connections:
//!    the latency a composer or an integration sees, and every verdict checked against what the
//!    generator put in the message (`violations` otherwise).
//! 3. Keyword replies end to end: the server with `switchboard-wa-sim` playing Meta, a rule
//!    answering "price", and customers (each a new one) asking at `--rates` (default 500/s):
//!    from the moment the customer's message is posted to the simulator until the simulator
//!    receives the business's reply (both clocks are this machine's), p50/p99; every customer
//!    gets exactly one reply (`lost`, `duplicated` otherwise).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};
use switchboard_shared::compliance::{Filter, FilterAction, TermFit, TermList, Verdict};
use switchboard_shared::normalize::normalize;
use switchboard_shared::TermListId;

use std::collections::HashMap;

use switchboard_server::automation::{Incoming, RuleSet, RuleSpec};
use switchboard_shared::automation::{MatchMode, RuleAction, RuleConditions, RuleMatch};
use switchboard_shared::RuleId;

use crate::crowd::percentile_ms;
use crate::idle::{default_number, number_toml, serve_with_owner};
use crate::ingest::{free_port, pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const EN: &str = include_str!("../../tests/corpus/words-en.txt");
const RU: &str = include_str!("../../tests/corpus/words-ru.txt");
const TERMS: usize = 10_000;

/// The list: 5,000 English and 5,000 Russian words from the middle of the frequency lists; the
/// most frequent 2,000 of each language write the messages. A word of the list is left out when
/// it is shorter than four letters, a Roman numeral (`v iii` in a message is `viii` spaced out),
/// or folds to the same letters as a message word (the Russian list holds English words too, and
/// `трёх` is `трех`): those are real matches, not errors.
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
            .filter(|w| {
                w.chars().count() >= 4
                    && !w.chars().all(|c| "ivxlcdm".contains(c))
                    && !folded.contains(normalize(w).text())
            })
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

    // 1b. 1,000 keyword rules on the same messages: without and with ten regular expressions
    //     (Unicode word boundaries in a pattern make the regex crate leave its DFA for a slower
    //     engine on non-ASCII text, so the two are reported apart).
    let number = switchboard_shared::PhoneNumberId::new("106540352242922");
    let mut rules_report = Vec::new();
    for with_regex in [false, true] {
        let started = Instant::now();
        let set = RuleSet::compile(rule_specs(&terms, with_regex))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut rule_us = Vec::with_capacity(messages.len() * rounds);
        let mut firing = 0usize;
        for _ in 0..rounds {
            for (text, _) in &messages {
                let incoming = Incoming {
                    text,
                    number: Some(&number),
                    first_message: Some(false),
                    contact_tags: &[],
                    open: &|_| Some(true),
                };
                let t = Instant::now();
                let e = set.evaluate(&incoming, |_| false);
                rule_us.push(t.elapsed().as_micros() as u32);
                firing += usize::from(!e.fired.is_empty());
            }
        }
        rules_report.push(json!({
            "rules": 1_000,
            "regex_rules": if with_regex { 10 } else { 0 },
            "compile_ms": (compile_ms * 10.0).round() / 10.0,
            "evaluate_us": stats_us(rule_us),
            "messages_with_a_firing_rule": firing,
            "target_p99_us": 50,
        }));
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

    // 3. Keyword replies end to end.
    let rate = cli
        .rates
        .first()
        .copied()
        .unwrap_or(if cli.smoke { 50 } else { 500 });
    let replies = keyword_replies(cli, rate).await?;
    violations += replies.violations;
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
        "rules_in_process": rules_report,
        "keyword_reply_e2e": replies.summary,
        "server_cpu_seconds": server_cpu,
        "lost": replies.lost,
        "duplicated": replies.duplicated,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}

/// 1,000 rules of five keywords each from the term list: mostly whole words, some contains and
/// starts-with, ten fuzzy rules and (`with_regex`) ten regular expressions; priorities spread,
/// none stopping.
fn rule_specs(terms: &[String], with_regex: bool) -> Vec<RuleSpec> {
    (0..1_000)
        .map(|i| {
            let (mode, keywords) = match i % 100 {
                0 if with_regex => (MatchMode::Regex, vec![format!(r"\border\s*#?{i}\d{{3}}\b")]),
                1 => (MatchMode::Fuzzy, vec![terms[(i * 7) % terms.len()].clone()]),
                2..=11 => (
                    MatchMode::Contains,
                    (0..5)
                        .map(|k| terms[(i * 5 + k) % terms.len()].clone())
                        .collect(),
                ),
                12..=16 => (
                    MatchMode::StartsWith,
                    (0..5)
                        .map(|k| terms[(i * 5 + k) % terms.len()].clone())
                        .collect(),
                ),
                _ => (
                    MatchMode::Word,
                    (0..5)
                        .map(|k| terms[(i * 5 + k) % terms.len()].clone())
                        .collect(),
                ),
            };
            RuleSpec {
                id: RuleId::new(format!("ar_{i:04}")),
                name: format!("rule {i}"),
                matcher: RuleMatch {
                    mode,
                    keywords,
                    threshold: None,
                },
                conditions: RuleConditions::default(),
                actions: vec![RuleAction::Reply { text: "ok".into() }],
                numbers: vec![],
                priority: (i % 10) as i32,
                stop: false,
                cooldown_secs: 3600,
                shadow: false,
                enabled: true,
            }
        })
        .collect()
}

struct Replies {
    summary: Value,
    lost: u64,
    duplicated: u64,
    violations: u64,
}

/// Customers ask "price?" through the simulator at `rate` a second, each a new customer; a rule
/// answers. Measured from the post to the simulator until the simulator holds the reply.
async fn keyword_replies(cli: &Cli, rate: u64) -> Result<Replies> {
    const NUMBER: &str = "106540352200009";
    let switchboard = sibling_binary("switchboard")?;
    let sim_port = free_port()?;
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let served =
        serve_with_owner(&switchboard, &number_toml(NUMBER, SECRET, &graph, 1000), "").await?;
    let simulator = crate::sim::start(
        sim_port,
        &served.base,
        &[
            "--mps",
            "1000",
            "--phone-number-id",
            NUMBER,
            "--display-phone-number",
            "15550000009",
        ],
    )
    .await?;
    let sim = simulator.url.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let made = client
        .post(format!("{}/api/v1/automation/rules", served.base))
        .bearer_auth(&served.token)
        .json(
            &json!({"name": "Prices", "match": {"mode": "word", "keywords": ["price", "цена"]},
                      "actions": [{"reply": {"text": "Our prices: example.com/prices"}}]}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        made.status().as_u16() == 201,
        "making the rule: {}",
        made.status()
    );

    let count = (rate * cli.duration().as_secs()).max(1);
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let mut posted: HashMap<String, i64> = HashMap::new();
    let mut tasks = Vec::new();
    let epoch = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    let begin = Instant::now();
    for i in 0..count {
        let due = begin + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let from = format!("7900{:07}", i);
        posted.insert(from.clone(), epoch());
        let (client, sim) = (client.clone(), sim.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{sim}/_sim/inbound"))
                .json(
                    &json!({"phone_number_id": NUMBER, "from": from, "text": "What is the price?"}),
                )
                .send()
                .await
                .map(|r| r.status().is_success())
        }));
    }
    let mut refused = 0u64;
    for t in tasks {
        if !matches!(t.await, Ok(Ok(true))) {
            refused += 1;
        }
    }
    // Every reply, or the deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent: Vec<Value> = loop {
        let sent: Vec<Value> = client
            .get(format!("{sim}/_sim/sent"))
            .send()
            .await?
            .json()
            .await?;
        if sent.len() as u64 >= count || Instant::now() > deadline {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut replies: HashMap<String, Vec<i64>> = HashMap::new();
    for s in &sent {
        if let (Some(to), Some(at)) = (s["body"]["to"].as_str(), s["at_ms"].as_i64()) {
            replies.entry(to.to_owned()).or_default().push(at);
        }
    }
    let mut ms: Vec<u32> = Vec::new();
    let (mut lost, mut duplicated) = (0u64, 0u64);
    for (from, at) in &posted {
        match replies.get(from).map(Vec::as_slice) {
            None | Some([]) => lost += 1,
            Some([one]) => ms.push(((one - at).max(0) * 1000) as u32),
            Some(many) => {
                duplicated += many.len() as u64 - 1;
                ms.push(((many[0] - at).max(0) * 1000) as u32);
            }
        }
    }
    ms.sort_unstable();
    drop(served);
    Ok(Replies {
        summary: json!({
            "rate_per_second": rate,
            "customers": count,
            "replies": ms.len(),
            "ms": {"p50": percentile_ms(&ms, 50.0), "p99": percentile_ms(&ms, 99.0),
                   "max": percentile_ms(&ms, 100.0)},
            "target_p99_ms": 20,
            "what": "customer message posted to the simulator → the rule's reply received by the simulator",
        }),
        lost,
        duplicated,
        violations: refused,
    })
}
