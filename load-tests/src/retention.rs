//! `retention`: a purge over two years of a workspace's history where a legal hold keeps a
//! tenth of it: 100,000 conversations of 10 messages (1,000,000 messages) spread over 730 days,
//! a policy that keeps text 180 days and messages 365, and a hold on a 73-day range (10% of the
//! history). The real `switchboard` binary runs the dry run and then the purge over REST
//! (`--smoke`: 1,000 conversations).
//!
//! The store is seeded before the server starts, through the store's own API (`ingest` for the
//! messages, `put_thread` for each conversation, `put_item` for the policy and the hold).
//!
//! Correctness, counted independently from the seed: the dry run's and the purge's counts equal
//! the messages the seed made due (removed whole, stripped of text) outside the held range, and
//! equal each other with the same digest; afterwards the store, read back conversation by
//! conversation, holds every held message with its text, no due message outside the range, and
//! every message that was not due untouched (`violations` otherwise).

use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use switchboard_server::domain::{
    AutomationItem, EpisodeFigures, IngestBatch, ItemKind, ThreadRecord, ThreadState, UnixMillis,
    DAY_MS,
};
use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};
use switchboard_server::store::{
    AutomationStore as _, DirectoryStore as _, InboxStore as _, MessageStore as _,
};
use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, WaId};

use crate::idle::{default_number, serve_seeded};
use crate::ingest::pin_self;
use crate::{procinfo, sibling_binary, Cli};

const NUMBER: &str = "106540352242922";
const PER_CONVERSATION: u64 = 10;
const HISTORY_DAYS: i64 = 730;
const TEXT_DAYS: i64 = 180;
const METADATA_DAYS: i64 = 365;
/// The held range: days 400 to 473 ago (a tenth of the history; all of it due).
const HELD_DAYS: (i64, i64) = (473, 400);

/// When message `j` of conversation `i` was sent: spread over the history, whole seconds, and
/// never within an hour of a cut or the held range's ends (the server's clock at the purge is
/// later than the seed's: a message that close could fall on either side).
fn sent_at(i: u64, j: u64, now: UnixMillis) -> UnixMillis {
    let h = (i * PER_CONVERSATION + j).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    let mut age = (h % (HISTORY_DAYS as u64 * 86_400)) as i64 * 1000;
    for days in [TEXT_DAYS, METADATA_DAYS, HELD_DAYS.0, HELD_DAYS.1] {
        if (age - days * DAY_MS).abs() < 3_600_000 {
            age += 7_200_000;
        }
    }
    (now - age) / 1000 * 1000
}

fn customer(i: u64) -> WaId {
    WaId::new(format!("4915100{i:07}"))
}

/// What the seed made due, counted from the times alone.
#[derive(Default, Debug, Clone, Copy, PartialEq)]
struct Due {
    removed: u64,
    stripped: u64,
    held: u64,
    kept: u64,
}

fn classify(at: UnixMillis, now: UnixMillis) -> (bool, bool, bool) {
    let held = (now - HELD_DAYS.0 * DAY_MS..now - HELD_DAYS.1 * DAY_MS).contains(&at);
    let whole = at < now - METADATA_DAYS * DAY_MS;
    let text = at < now - TEXT_DAYS * DAY_MS;
    (held, whole, text)
}

async fn seed(data_dir: &std::path::Path, conversations: u64, now: UnixMillis) -> Result<Due> {
    let store = crate::seed::open(data_dir)?;
    let tenant = TenantId::from("load");
    let failed = futures_util::stream::iter(0..conversations)
        .map(|i| {
            let (store, tenant) = (&store, tenant.clone());
            async move {
                let events = (0..PER_CONVERSATION)
                    .map(|j| {
                        crate::seed::text_message(
                            format!("wamid.ret{i}x{j}"),
                            NUMBER,
                            &customer(i),
                            format!("order {i} question {j}"),
                            sent_at(i, j, now),
                        )
                    })
                    .map(|e| (tenant.clone(), e))
                    .collect();
                let stored = store
                    .ingest(IngestBatch {
                        received_at: now,
                        raw_body: b"{}".to_vec(),
                        events,
                    })
                    .await;
                let last = (0..PER_CONVERSATION).map(|j| sent_at(i, j, now)).max();
                let thread = ThreadRecord {
                    tenant: tenant.clone(),
                    conversation: store.id_keys().conversation_id(
                        &tenant,
                        &PhoneNumberId::from(NUMBER),
                        &customer(i),
                    ),
                    number: PhoneNumberId::from(NUMBER),
                    customer: customer(i),
                    state: ThreadState::Resolved,
                    assignee: None,
                    last_agent: None,
                    tags: Vec::new(),
                    waiting_since: None,
                    last_inbound_at: last,
                    last_inbound_wamid: None,
                    opened_at: last.unwrap_or(now),
                    updated_at: last.unwrap_or(now),
                    episode: EpisodeFigures::default(),
                };
                stored.is_err() || store.put_thread(&thread, None).await.is_err()
            }
        })
        .buffer_unordered(256)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    anyhow::ensure!(failed == 0, "{failed} seeded conversations were not stored");
    // As a server that heard these messages live leaves it: nothing to replay at its start
    // (else every seeded conversation would be reopened and routed again).
    store
        .set_cursor(switchboard_server::service::inbox::REPLAY_CURSOR, now)
        .await?;
    let item = |kind, id: &str, body: Value| AutomationItem {
        tenant: tenant.clone(),
        kind,
        id: id.to_owned(),
        version: 1,
        updated_at: now,
        updated_by: "user:u_load".into(),
        body: body.to_string(),
    };
    store
        .put_item(
            &item(
                ItemKind::Retention,
                "policy",
                json!({"default": {"text_days": TEXT_DAYS, "media_days": TEXT_DAYS,
                                   "metadata_days": METADATA_DAYS}}),
            ),
            None,
        )
        .await?;
    store
        .put_item(
            &item(
                ItemKind::Hold,
                "lh_load",
                json!({"target": {"kind": "range", "from": now - HELD_DAYS.0 * DAY_MS,
                                  "to": now - HELD_DAYS.1 * DAY_MS},
                       "reason": "load"}),
            ),
            None,
        )
        .await?;
    drop(store);
    let mut due = Due::default();
    for i in 0..conversations {
        for j in 0..PER_CONVERSATION {
            match classify(sent_at(i, j, now), now) {
                (true, _, true) => due.held += 1,
                (false, true, _) => due.removed += 1,
                (false, false, true) => due.stripped += 1,
                _ => due.kept += 1,
            }
        }
    }
    Ok(due)
}

/// Reads every conversation back and counts what is there against what must be.
async fn verify(data_dir: &std::path::Path, conversations: u64, now: UnixMillis) -> Result<u64> {
    let store = SqliteStore::open(
        &data_dir.join("switchboard.db"),
        SqliteOptions {
            read_only: true,
            ..SqliteOptions::default()
        },
    )?;
    let tenant = TenantId::from("load");
    let mut violations = 0;
    for i in 0..conversations {
        let id: ConversationId =
            store
                .id_keys()
                .conversation_id(&tenant, &PhoneNumberId::from(NUMBER), &customer(i));
        let page = store.conversation_history(&tenant, &id, None, 100).await?;
        let mut expected: Vec<(UnixMillis, bool)> = (0..PER_CONVERSATION)
            .map(|j| sent_at(i, j, now))
            .filter_map(|at| match classify(at, now) {
                (false, true, _) => None,
                (held, _, text) => Some((at, held || !text)),
            })
            .collect();
        expected.sort_unstable();
        let mut found: Vec<(UnixMillis, bool)> = page
            .items
            .iter()
            .map(|m| (m.at_ms, m.text.is_some()))
            .collect();
        found.sort_unstable();
        if found != expected {
            if violations < 3 {
                eprintln!("retention: conversation {i}: {found:?} != {expected:?}");
            }
            violations += 1;
        }
    }
    Ok(violations)
}

/// Seeds the history of [`run`] (`conversations` of 10 messages over two years, the policy and
/// the hold), as of now, for a scenario that purges it beside other traffic.
pub async fn seed_history(data_dir: &std::path::Path, conversations: u64) -> Result<()> {
    seed(
        data_dir,
        conversations,
        switchboard_server::domain::now_ms(),
    )
    .await?;
    Ok(())
}

pub async fn run(cli: &Cli) -> Result<Value> {
    pin_self(1);
    let load_before = procinfo::load_average();
    let conversations = if cli.smoke { 1_000 } else { 100_000 };
    let switchboard = sibling_binary("switchboard")?;
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let now = switchboard_server::domain::now_ms();
    let due = seed(&data, conversations, now).await?;
    let seed_secs = started.elapsed().as_secs_f64();
    // Unpaced: the scenario measures how fast a purge can go.
    let served = serve_seeded(
        &switchboard,
        &default_number("unused-secret"),
        &format!(
            "[retention]\nmax_per_second = 0\n{}",
            window_away_from_now()
        ),
        dir,
    )
    .await?;
    let client = reqwest::Client::new();
    let t = Instant::now();
    let dry = served
        .api(&client, reqwest::Method::POST, "retention/dry-run", None)
        .await?;
    let dry_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    served
        .api(&client, reqwest::Method::POST, "retention/purge", None)
        .await?;
    let receipt = loop {
        let status = served
            .api(&client, reqwest::Method::GET, "retention/status", None)
            .await?;
        if status["running"] == false && status["last"].is_object() {
            break status["last"].clone();
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(3_600),
            "the purge did not finish within an hour"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let purge_secs = t.elapsed().as_secs_f64();
    let dir = served.stop()?;
    let mut violations = verify(&dir.path().join("data"), conversations, now).await?;
    let counts = |r: &Value| {
        (
            r["messages"].as_u64().unwrap_or(u64::MAX),
            r["texts"].as_u64().unwrap_or(u64::MAX),
            r["held_messages"].as_u64().unwrap_or(u64::MAX),
        )
    };
    let independent = (due.removed, due.stripped, due.held);
    for (what, r) in [("dry run", &dry), ("purge", &receipt)] {
        if counts(r) != independent {
            eprintln!(
                "retention: the {what} counted {:?}, the seed made {independent:?} due",
                counts(r)
            );
            violations += 1;
        }
    }
    if dry["digest"] != receipt["digest"] {
        eprintln!("retention: the dry run's digest differs from the purge's");
        violations += 1;
    }
    let touched = due.removed + due.stripped;
    Ok(json!({
        "scenario": "retention",
        "messages": conversations * PER_CONVERSATION,
        "removed": due.removed,
        "stripped": due.stripped,
        "held": due.held,
        "kept": due.kept,
        "seed_secs": (seed_secs * 10.0).round() / 10.0,
        "dry_run_secs": (dry_secs * 100.0).round() / 100.0,
        "purge_secs": (purge_secs * 100.0).round() / 100.0,
        "purged_per_hour": (touched as f64 / purge_secs * 3_600.0).round(),
        "load_average_before": load_before,
        "lost": 0,
        "duplicated": 0,
        "violations": violations,
    }))
}

/// `[retention]` keys that put the daily purge's window twelve hours away from now, so that it
/// never runs into a scenario's own purge (the default window, 02:00 to 06:00 UTC, made a run
/// inside it answer 409 "a purge is running").
pub(crate) fn window_away_from_now() -> String {
    let hour = (switchboard_server::domain::now_ms() / 3_600_000).rem_euclid(24);
    format!(
        "window_start_hour = {}\nwindow_hours = 1\n",
        (hour + 12) % 24
    )
}
