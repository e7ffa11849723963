//! `search`: two-word queries over 10,000,000 stored messages (`--smoke`: 20,000), from the
//! real `switchboard` binary over REST (`GET /api/v1/search?q=`), one at a time. The messages
//! are 1,000,000 conversations of 10, each message eight words drawn from 5,000 English and
//! 5,000 Russian words with a skew towards the frequent ones (as real texts are), so queries
//! range from pairs found in a hundred thousand messages to pairs found in none. Target: p99
//! ≤ 200 ms.
//!
//! The store is seeded before the server starts, through the store's own API (`ingest`, which
//! indexes each message's terms as webhooks do), and its replay cursor set as a server that
//! heard the messages live leaves it (else the start would replay them all through routing).
//!
//! Correctness, from the seed alone: every hit holds both words, a first page is full when the
//! seed made at least a page of matches, and for pairs the seed made rarer than a page the hits
//! are exactly the seeded matches (`violations` otherwise).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use switchboard_server::domain::{IngestBatch, UnixMillis};
use switchboard_server::store::MessageStore as _;
use switchboard_shared::normalize::search_terms;
use switchboard_shared::{TenantId, WaId};

use crate::idle::{default_number, serve_seeded};
use crate::ingest::pin_self;
use crate::{procinfo, sibling_binary, Cli};

const NUMBER: &str = "106540352242922";
const PER_CONVERSATION: u64 = 10;
const WORDS_PER_MESSAGE: u64 = 8;
/// Words of each language in the vocabulary.
const PER_LANGUAGE: usize = 5_000;
/// Conversations per `ingest` call.
const BATCH: u64 = 10;
const PAGE: usize = 20;

fn vocabulary() -> Vec<&'static str> {
    let en = include_str!("../../tests/corpus/words-en.txt");
    let ru = include_str!("../../tests/corpus/words-ru.txt");
    let take = |text: &'static str| {
        text.lines()
            .map(str::trim)
            .filter(|w| w.chars().count() >= 3)
            .take(PER_LANGUAGE)
            .collect::<Vec<_>>()
    };
    let mut words = take(en);
    words.extend(take(ru));
    words
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A word index skewed towards the start of the list (the frequent words): u² over [0, 1).
fn skewed(h: u64, n: usize) -> usize {
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    ((u * u) * n as f64) as usize % n
}

/// The word indices of message `m`.
fn words_of(m: u64, n: usize) -> impl Iterator<Item = usize> {
    (0..WORDS_PER_MESSAGE).map(move |k| skewed(mix(m * WORDS_PER_MESSAGE + k), n))
}

fn text_of(m: u64, vocabulary: &[&str]) -> String {
    words_of(m, vocabulary.len())
        .map(|i| vocabulary[i])
        .collect::<Vec<_>>()
        .join(" ")
}

fn customer(c: u64) -> WaId {
    WaId::new(format!("4915200{c:07}"))
}

async fn seed(data_dir: &std::path::Path, messages: u64, now: UnixMillis) -> Result<()> {
    let store = crate::seed::open(data_dir)?;
    let vocabulary = vocabulary();
    let tenant = TenantId::from("load");
    let conversations = messages / PER_CONVERSATION;
    let failed = futures_util::stream::iter((0..conversations).step_by(BATCH as usize))
        .map(|first| {
            let (store, tenant, vocabulary) = (&store, tenant.clone(), &vocabulary);
            async move {
                let mut events = Vec::with_capacity((BATCH * PER_CONVERSATION) as usize);
                for c in first..(first + BATCH).min(conversations) {
                    for j in 0..PER_CONVERSATION {
                        let m = c * PER_CONVERSATION + j;
                        // Spread over the last 90 days, in whole seconds.
                        let at = (now - (mix(m) % (90 * 86_400)) as i64 * 1000) / 1000 * 1000;
                        let text = text_of(m, vocabulary);
                        events.push((
                            tenant.clone(),
                            crate::seed::text_message(
                                format!("wamid.s{m}"),
                                NUMBER,
                                &customer(c),
                                text,
                                at,
                            ),
                        ));
                    }
                }
                store
                    .ingest(IngestBatch {
                        received_at: now,
                        raw_body: b"{}".to_vec(),
                        events,
                    })
                    .await
                    .is_err()
            }
        })
        .buffer_unordered(64)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    anyhow::ensure!(failed == 0, "{failed} seeded batches were not stored");
    // As a server that heard these messages live leaves it: nothing to replay at its start.
    store
        .set_cursor(switchboard_server::service::inbox::REPLAY_CURSOR, now)
        .await?;
    Ok(())
}

/// The queries: pairs of words drawn as the texts draw them (so most are found), and every
/// fourth with a word from the rare end of the list.
fn queries(n: usize, count: usize) -> Vec<(usize, usize)> {
    (0..count as u64)
        .map(|q| {
            let a = skewed(mix(1 << 40 | q), n);
            let b = if q % 4 == 3 {
                n / 2 + (mix(1 << 41 | q) as usize) % (n / 2)
            } else {
                skewed(mix(1 << 42 | q), n)
            };
            (a, if a == b { (b + 1) % n } else { b })
        })
        .collect()
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let messages: u64 = cli
        .messages
        .unwrap_or(if cli.smoke { 20_000 } else { 10_000_000 });
    let switchboard = sibling_binary("switchboard")?;
    let dir = tempfile::tempdir()?;
    let now = switchboard_server::domain::now_ms();
    let seeded = Instant::now();
    match &cli.seeded {
        // The same deterministic history, seeded before (by `messages` alone).
        Some(earlier) => std::fs::rename(earlier.join("data"), dir.path().join("data"))
            .context("moving the earlier seed in")?,
        None => seed(&dir.path().join("data"), messages, now).await?,
    }
    let seed_secs = seeded.elapsed().as_secs_f64();
    let served = serve_seeded(&switchboard, &default_number("unused-secret"), "", dir).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let vocabulary = vocabulary();
    let n = vocabulary.len();
    let asked = queries(n, if cli.smoke { 40 } else { 400 });
    // Words the search takes as one (it folds case, ё/е and look-alike letters, as documented)
    // are one word here too: each word's class is the first word folded the same.
    let folded: Vec<String> = vocabulary
        .iter()
        .map(|w| search_terms(w).join(" "))
        .collect();
    let class: Vec<usize> = (0..n)
        .map(|i| folded.iter().position(|f| *f == folded[i]).unwrap_or(i))
        .collect();
    let class_of_word = |w: &str| {
        let f = search_terms(w).join(" ");
        folded.iter().position(|g| *g == f)
    };

    // What the seed made: for each query, every message holding both words (counted up to a
    // page and one, kept whole below a page).
    let mut expected: Vec<(u64, Vec<u64>)> = vec![(0, Vec::new()); asked.len()];
    for m in 0..messages {
        let words: HashSet<usize> = words_of(m, n).map(|i| class[i]).collect();
        for (q, (a, b)) in asked.iter().enumerate() {
            if words.contains(&class[*a]) && words.contains(&class[*b]) {
                let e = &mut expected[q];
                e.0 += 1;
                if e.1.len() <= PAGE {
                    e.1.push(m);
                }
            }
        }
    }

    let mut latencies_ms = Vec::with_capacity(asked.len());
    let mut violations = 0u64;
    let mut found_total = 0u64;
    for (q, (a, b)) in asked.iter().enumerate() {
        let query = format!("{} {}", vocabulary[*a], vocabulary[*b]);
        let started = Instant::now();
        let answer = client
            .get(format!("{}/api/v1/search", served.base))
            .query(&[("q", query.as_str()), ("limit", &PAGE.to_string())])
            .bearer_auth(&served.token)
            .send()
            .await?;
        let status = answer.status();
        let page: Value = answer.json().await?;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() {
            eprintln!("search: `{query}` answered {status}: {page}");
            violations += 1;
            continue;
        }
        let items = page["items"].as_array().cloned().unwrap_or_default();
        found_total += items.len() as u64;
        let (count, ref matches) = expected[q];
        for item in &items {
            let text = item["message"]["text"].as_str().unwrap_or_default();
            let words: HashSet<Option<usize>> = text.split(' ').map(class_of_word).collect();
            if !words.contains(&Some(class[*a])) || !words.contains(&Some(class[*b])) {
                eprintln!("search: `{query}` found `{text}`");
                violations += 1;
            }
        }
        let wanted = (count as usize).min(PAGE);
        if items.len() != wanted {
            eprintln!(
                "search: `{query}` found {} on its first page; the seed made {count}",
                items.len()
            );
            violations += 1;
        } else if (count as usize) < PAGE {
            let got: HashSet<String> = items
                .iter()
                .filter_map(|i| i["message"]["wamid"].as_str().map(str::to_owned))
                .collect();
            let seeded: HashSet<String> = matches.iter().map(|m| format!("wamid.s{m}")).collect();
            if got != seeded {
                eprintln!("search: `{query}` found other messages than the seed made");
                violations += 1;
            }
        }
    }
    drop(served);
    let mut sorted = latencies_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let mut sizes: Vec<u64> = expected.iter().map(|e| e.0).collect();
    sizes.sort_unstable();
    let median_matches = sizes[sizes.len() / 2];
    Ok(json!({
        "scenario": "search",
        "smoke": cli.smoke,
        "messages": messages,
        "seed_secs": round(seed_secs),
        "queries": asked.len(),
        "query_words": 2,
        "matches_per_query": {
            "none": sizes.iter().filter(|&&s| s == 0).count(),
            "under_a_page": sizes.iter().filter(|&&s| s > 0 && s < PAGE as u64).count(),
            "median": median_matches,
            "max": sizes.iter().max(),
        },
        "hits_returned": found_total,
        "latency_ms": {"p50": round(at(0.5)), "p90": round(at(0.9)), "p99": round(at(0.99)), "max": round(at(1.0))},
        "target_p99_ms": 200,
        "lost": 0,
        "duplicated": 0,
        "violations": violations,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
