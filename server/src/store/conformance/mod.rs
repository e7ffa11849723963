//! The store conformance suite: one set of checks every backend must pass (SQLite always,
//! ScyllaDB when `SCYLLA_URI` is set). It lives in the library so every backend's test binary
//! runs the very same code. Checks use fresh random tenants, so they run against a shared,
//! long-lived database (a Scylla cluster) without interfering with its data or each other.
//!
//! One file per aggregate: `messages` (the directory, messages, statuses, events), `identity`
//! (users, sessions, roles, teams, API keys, the audit log), `inbox` (threads, the outbox,
//! notes and profiles), `contacts` (contacts, segments, imports, merge and erasure),
//! `compliance` (automation's documents: keyword rules, term lists), `media` (files kept), `retention` (purges),
//! `activity` (agents' working time), `numbers` (numbers connected from the app), `webhooks` (outbound webhooks' endpoints and
//! deliveries).

mod activity;
mod compliance;
mod contacts;
mod identity;
mod inbox;
mod media;
mod messages;
mod numbers;
mod retention;
mod webhooks;

pub use activity::*;
pub use compliance::*;
pub use contacts::*;
pub use identity::*;
pub use inbox::*;
pub use media::*;
pub use messages::*;
pub use numbers::*;
pub use retention::*;
pub use webhooks::*;

use switchboard_shared::{MessageStatus, PhoneNumberId, TenantId, WaId, Wamid};

use crate::domain::*;

/// One `#[tokio::test]` per check, for a backend: `$open` is an async function returning
/// `Option<S>` where `S: AsRef<dyn Store>` (`None` skips, for a backend that is not configured
/// here). Each check is its own test, so a failure names its check and the others still run.
#[macro_export]
macro_rules! store_conformance_tests {
    ($open:path) => {
        $crate::store_conformance_tests!(@each $open;
            directory_upserts_are_idempotent,
            ingest_is_idempotent_and_keeps_recycled_wamids_apart,
            statuses_never_regress,
            outbound_messages_carry_their_latest_status,
            history_pages_newest_first_across_buckets,
            messages_of_one_second_keep_their_arrival_order,
            a_webhook_without_a_name_keeps_the_contacts_name,
            tenants_are_isolated,
            scan_returns_every_message_once,
            search_finds_every_message_holding_all_terms_newest_first,
            account_events_are_deduplicated_and_paged,
            bad_pages_are_refused,
            users_are_unique_by_email_paged_and_tenant_scoped,
            changes_carry_their_audit_lines_and_failures_none,
            sessions_live_until_deleted,
            roles_and_teams_are_tenant_scoped,
            api_keys_are_unique_revocable_and_scoped,
            audit_log_pages_newest_first_with_filters,
            threads_keep_their_state_and_only_open_ones_are_listed,
            the_archive_lists_every_conversation_once_by_its_last_day,
            episodes_are_kept_per_opening_and_read_back_by_day,
            outbox_sends_are_claimed_once_and_finished_into_history,
            notes_page_newest_first_and_profiles_carry_their_audit,
            webhooks_make_and_update_contacts,
            contacts_are_unique_searchable_and_listed_by_tag,
            contacts_are_found_by_any_word_of_their_name_once,
            segments_count_what_the_filter_means,
            imports_write_chunks_with_their_undo_log,
            merges_move_history_and_erasure_removes_the_customer,
            catalogue_definitions_and_segments_are_per_tenant,
            automation_items_are_versioned_and_per_tenant,
            received_messages_are_indexed_for_replay,
            the_ledger_keeps_one_line_per_priced_message,
            campaign_recipients_page_over_buckets_and_stay_apart,
            files_are_queued_with_their_message_and_kept_once,
            purges_remove_what_is_due_and_nothing_held,
            agent_days_are_rewritten_whole_and_read_back_by_day,
            numbers_connect_once_across_tenants_with_their_audit,
            webhook_deliveries_are_added_once_logged_and_settled,
        );
    };
    (@each $open:path; $($check:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(store) = $open().await {
                    $crate::store::conformance::$check(store.as_ref()).await;
                }
            }
        )*
    };
}

fn fresh_tenant(label: &str) -> TenantId {
    TenantId::new(format!("t-{label}-{:016x}", rand::random::<u64>()))
}

const NUMBER: &str = "106540352242922";
const DAY: i64 = 86_400_000;
const T0: i64 = 1_750_000_000_000;

fn inbound(number: &str, customer: &str, wamid: &str, kind: &str, at_ms: i64) -> InboundMessage {
    let (wamid, customer) = (Wamid::from(wamid), WaId::from(customer));
    InboundMessage {
        key: inbound_message_key(&wamid, &customer, kind, &(at_ms / 1000).to_string()),
        wamid,
        number: PhoneNumberId::from(number),
        customer,
        kind: kind.to_owned(),
        text: Some(format!("{kind} at {at_ms}")),
        at_ms,
        raw: format!(r#"{{"type":"{kind}"}}"#),
    }
}

fn batch(tenant: &TenantId, events: Vec<InboundEvent>) -> IngestBatch {
    IngestBatch {
        received_at: T0,
        raw_body: b"{\"object\":\"whatsapp_business_account\"}".to_vec(),
        events: events.into_iter().map(|e| (tenant.clone(), e)).collect(),
    }
}

fn status(wamid: &str, status: MessageStatus, at_ms: i64) -> InboundEvent {
    InboundEvent::Status(StatusUpdate {
        wamid: Wamid::from(wamid),
        number: PhoneNumberId::from(NUMBER),
        recipient: WaId::from("16505551234"),
        status,
        at_ms,
        error_codes: if status == MessageStatus::Failed {
            vec![131049]
        } else {
            vec![]
        },
        callback: None,
        raw: format!(r#"{{"status":"{}"}}"#, status.as_str()),
    })
}

fn audit(tenant: &TenantId, action: &str) -> AuditRecord {
    audit_at(tenant, action, T0)
}

fn audit_at(tenant: &TenantId, action: &str, at_ms: i64) -> AuditRecord {
    AuditRecord {
        tenant: tenant.clone(),
        id: new_id("a"),
        at_ms,
        actor: "user:u_admin".into(),
        actor_name: "admin@example.com".into(),
        action: action.into(),
        target: Some("user:u_target".into()),
        outcome: "ok".into(),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("conformance".into()),
        before: Some(r#"{"role":"agent"}"#.into()),
        after: Some(r#"{"role":"admin"}"#.into()),
    }
}

/// Every item of a paged read, `limit` at a time, each page checked to be within its limit.
pub(crate) async fn every_page<T, F, Fut>(limit: usize, mut read: F) -> Vec<T>
where
    F: FnMut(Option<crate::store::Cursor>) -> Fut,
    Fut: std::future::Future<Output = crate::store::StoreResult<crate::store::Page<T>>>,
{
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = read(cursor.take()).await.unwrap();
        assert!(page.items.len() <= limit, "a page over its limit");
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return listed,
        }
    }
}
