//! The store conformance suite: one set of checks every backend must pass (SQLite always,
//! ScyllaDB when `SCYLLA_URI` is set). It lives in the library so every backend's test binary
//! runs the very same code. Checks use fresh random tenants, so they run against a shared,
//! long-lived database (a Scylla cluster) without interfering with its data or each other.

use std::collections::HashSet;

use switchboard_shared::{
    ConversationId, Direction, MessageStatus, PhoneNumberId, RoleId, SendId, TenantId, UserId,
    WaId, Wamid,
};

use super::page::*;
use crate::domain::*;

use super::{Store, StoreError};

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
            account_events_are_deduplicated_and_paged,
            bad_pages_are_refused,
            users_are_unique_by_email_paged_and_tenant_scoped,
            changes_carry_their_audit_lines_and_failures_none,
            sessions_live_until_deleted,
            roles_and_teams_are_tenant_scoped,
            api_keys_are_unique_revocable_and_scoped,
            audit_log_pages_newest_first_with_filters,
            threads_keep_their_state_and_only_open_ones_are_listed,
            outbox_sends_are_claimed_once_and_finished_into_history,
            notes_page_newest_first_and_profiles_carry_their_audit,
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

pub async fn directory_upserts_are_idempotent(store: &dyn Store) {
    let tenant = fresh_tenant("dir");
    let record = TenantRecord {
        id: tenant.clone(),
        name: "Acme".into(),
        created_at: T0,
    };
    store.upsert_tenant(&record).await.unwrap();
    store.upsert_tenant(&record).await.unwrap();
    let tenants = store.list_tenants().await.unwrap();
    assert_eq!(
        tenants.iter().filter(|t| t.id == tenant).count(),
        1,
        "a tenant upserted twice is listed once"
    );
    let numbers = ["222", "111"].map(|id| NumberRecord {
        tenant: tenant.clone(),
        phone_number_id: PhoneNumberId::new(format!(
            "{id}{}",
            &tenant.as_str()[tenant.as_str().len() - 6..]
        )),
        display_phone_number: "15550783881".into(),
        waba_id: Some("419561257915477".into()),
    });
    for n in numbers.iter().chain(numbers.iter()) {
        store.upsert_number(n).await.unwrap();
    }
    let listed = store.list_numbers(&tenant).await.unwrap();
    assert_eq!(listed.len(), 2, "numbers upserted twice are listed once");
    assert!(
        listed[0].phone_number_id < listed[1].phone_number_id,
        "numbers are ordered by id"
    );
    // A number moved to another tenant is listed there only.
    let other = fresh_tenant("dir-moved");
    let moved = NumberRecord {
        tenant: other.clone(),
        ..numbers[0].clone()
    };
    store.upsert_number(&moved).await.unwrap();
    let left: Vec<_> = store
        .list_numbers(&tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.phone_number_id)
        .collect();
    assert_eq!(left, vec![numbers[1].phone_number_id.clone()]);
    assert_eq!(
        store.list_numbers(&other).await.unwrap(),
        vec![moved],
        "listed with its new tenant"
    );
}

/// Optional fields a webhook leaves out leave the stored value as it was (Scylla once bound
/// them as NULL and erased the name).
pub async fn a_webhook_without_a_name_keeps_the_contacts_name(store: &dyn Store) {
    let tenant = fresh_tenant("contact");
    let customer = "16505550200";
    let contact = |name: Option<&str>| {
        InboundEvent::Contact(ContactUpdate {
            wa_id: WaId::from(customer),
            name: name.map(str::to_owned),
            user_id: None,
        })
    };
    let first = inbound(NUMBER, customer, "wamid.named.1", "text", T0);
    let second = inbound(NUMBER, customer, "wamid.named.2", "text", T0 + 60_000);
    store
        .ingest(batch(
            &tenant,
            vec![contact(Some("Olga")), InboundEvent::Message(first)],
        ))
        .await
        .unwrap();
    store
        .ingest(batch(
            &tenant,
            vec![contact(None), InboundEvent::Message(second)],
        ))
        .await
        .unwrap();
    let conversation = store.id_keys().conversation_id(
        &tenant,
        &PhoneNumberId::from(NUMBER),
        &WaId::from(customer),
    );
    let stored = store
        .get_conversation(&tenant, &conversation)
        .await
        .unwrap()
        .expect("the conversation");
    assert_eq!(stored.customer_name.as_deref(), Some("Olga"));
}

/// A burst of 100 messages with the same WhatsApp timestamp (whole seconds), delivered one
/// webhook after another: history returns them in exactly the reverse of arrival (newest first),
/// whole and paged, and a redelivery changes nothing.
pub async fn messages_of_one_second_keep_their_arrival_order(store: &dyn Store) {
    let tenant = fresh_tenant("order");
    let burst: Vec<InboundMessage> = (0..100)
        .map(|i| {
            let mut m = inbound(
                NUMBER,
                "16505550100",
                &format!("wamid.burst.{i}"),
                "text",
                T0,
            );
            m.text = Some(format!("burst {i}"));
            m
        })
        .collect();
    for m in &burst {
        let report = store
            .ingest(batch(&tenant, vec![InboundEvent::Message(m.clone())]))
            .await
            .unwrap();
        let placed = report.new_messages[&m.key];
        assert!(
            (T0..T0 + 1000).contains(&placed),
            "within its second: {placed}"
        );
    }
    // Redelivering the first one changes neither its place nor the order.
    let again = store
        .ingest(batch(
            &tenant,
            vec![InboundEvent::Message(burst[0].clone())],
        ))
        .await
        .unwrap();
    assert_eq!(again.messages_duplicate, 1);
    let conversation = store.id_keys().conversation_id(
        &tenant,
        &PhoneNumberId::from(NUMBER),
        &WaId::from("16505550100"),
    );
    let expected: Vec<String> = (0..100).rev().map(|i| format!("burst {i}")).collect();
    let whole = store
        .conversation_history(&tenant, &conversation, None, 100)
        .await
        .unwrap();
    let texts: Vec<String> = whole.items.iter().filter_map(|m| m.text.clone()).collect();
    assert_eq!(texts, expected, "newest first, in arrival order");
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .conversation_history(&tenant, &conversation, cursor.as_ref(), 7)
            .await
            .unwrap();
        paged.extend(page.items.into_iter().filter_map(|m| m.text));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, expected, "the same order page by page");
}

pub async fn ingest_is_idempotent_and_keeps_recycled_wamids_apart(store: &dyn Store) {
    let tenant = fresh_tenant("ingest");
    // Meta's own examples reuse one wamid for a text, an image and a sticker.
    let recycled = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    let messages = vec![
        inbound(NUMBER, "16505551234", recycled, "text", T0),
        inbound(NUMBER, "16505551234", recycled, "image", T0 - 5_000_000),
        inbound(NUMBER, "16505551234", recycled, "sticker", T0 - 5_000_000),
    ];
    let events = |ms: &[InboundMessage]| {
        let mut events = vec![InboundEvent::Contact(ContactUpdate {
            wa_id: WaId::from("16505551234"),
            name: Some("Sheena Nelson".into()),
            user_id: None,
        })];
        events.extend(ms.iter().cloned().map(InboundEvent::Message));
        events
    };
    let first = store
        .ingest(batch(&tenant, events(&messages)))
        .await
        .unwrap();
    assert_eq!(
        (first.messages_new, first.messages_duplicate),
        (3, 0),
        "{first:?}"
    );
    let again = store
        .ingest(batch(&tenant, events(&messages)))
        .await
        .unwrap();
    assert_eq!(
        (again.messages_new, again.messages_duplicate),
        (0, 3),
        "{again:?}"
    );

    for m in &messages {
        let got = store
            .get_message(&tenant, &m.key)
            .await
            .unwrap()
            .expect("every ingested message is readable by key");
        assert_eq!(got.kind, m.kind);
        assert_eq!(got.text, m.text);
        assert_eq!(got.direction, Direction::Inbound);
        assert_eq!(got.status, MessageStatus::Received);
        assert_eq!(got.raw, m.raw);
    }
    let conversation = store.id_keys().conversation_id(
        &tenant,
        &PhoneNumberId::from(NUMBER),
        &WaId::from("16505551234"),
    );
    let page = store
        .conversation_history(&tenant, &conversation, None, 50)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3, "redelivery stored nothing twice");
    let record = store
        .get_conversation(&tenant, &conversation)
        .await
        .unwrap()
        .expect("the conversation exists");
    assert_eq!(
        record.last_message_at, T0,
        "last_message_at is the newest message"
    );
    assert_eq!(record.customer_name.as_deref(), Some("Sheena Nelson"));
}

pub async fn statuses_never_regress(store: &dyn Store) {
    let tenant = fresh_tenant("status");
    let w = "wamid.status-order";
    // Out of order: read arrives before sent and delivered, then delivered is redelivered.
    for s in [
        MessageStatus::Read,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Delivered,
    ] {
        store
            .ingest(batch(&tenant, vec![status(w, s, T0)]))
            .await
            .unwrap();
    }
    let latest = store
        .latest_status(&tenant, &Wamid::from(w))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        latest.status,
        MessageStatus::Read,
        "a late delivered does not undo read"
    );

    // Multi-device: failed, then delivered from another device; delivered wins.
    let w2 = "wamid.failed-then-delivered";
    store
        .ingest(batch(&tenant, vec![status(w2, MessageStatus::Failed, T0)]))
        .await
        .unwrap();
    let failed = store
        .latest_status(&tenant, &Wamid::from(w2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed.status, failed.error_codes.clone()),
        (MessageStatus::Failed, vec![131049])
    );
    store
        .ingest(batch(
            &tenant,
            vec![status(w2, MessageStatus::Delivered, T0 + 1)],
        ))
        .await
        .unwrap();
    let latest = store
        .latest_status(&tenant, &Wamid::from(w2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.status, MessageStatus::Delivered);
    assert!(store
        .latest_status(&tenant, &Wamid::from("wamid.none"))
        .await
        .unwrap()
        .is_none());
}

pub async fn outbound_messages_carry_their_latest_status(store: &dyn Store) {
    let tenant = fresh_tenant("outbound");
    let wamid = Wamid::from("wamid.outbound-1");
    let record = OutboundRecord {
        tenant: tenant.clone(),
        wamid: wamid.clone(),
        number: PhoneNumberId::from(NUMBER),
        customer: WaId::from("16505551234"),
        kind: "text".into(),
        text: Some("Hello".into()),
        at_ms: T0,
        raw: r#"{"type":"text"}"#.into(),
    };
    store.record_outbound(record.clone()).await.unwrap();
    store.record_outbound(record).await.unwrap();
    let key = outbound_message_key(&wamid);
    let got = store.get_message(&tenant, &key).await.unwrap().unwrap();
    assert_eq!(
        (got.direction, got.status),
        (Direction::Outbound, MessageStatus::Accepted)
    );
    store
        .ingest(batch(
            &tenant,
            vec![status(
                "wamid.outbound-1",
                MessageStatus::Delivered,
                T0 + 10,
            )],
        ))
        .await
        .unwrap();
    let got = store.get_message(&tenant, &key).await.unwrap().unwrap();
    assert_eq!(got.status, MessageStatus::Delivered);
    let conversation = store.id_keys().conversation_id(
        &tenant,
        &PhoneNumberId::from(NUMBER),
        &WaId::from("16505551234"),
    );
    let page = store
        .conversation_history(&tenant, &conversation, None, 10)
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        1,
        "an outbound message recorded twice is stored once"
    );
}

pub async fn history_pages_newest_first_across_buckets(store: &dyn Store) {
    let tenant = fresh_tenant("history");
    // 11 messages over 4 days, two at the same millisecond (the later arrival goes after).
    let times = [
        0,
        1,
        2,
        DAY,
        DAY + 5,
        DAY + 5,
        2 * DAY,
        3 * DAY,
        3 * DAY + 1,
        3 * DAY + 2,
        3 * DAY + 3,
    ];
    let messages: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            inbound(
                NUMBER,
                "4915112345678",
                &format!("wamid.h{i}"),
                "text",
                T0 + t,
            )
        })
        .collect();
    let report = store
        .ingest(batch(
            &tenant,
            messages
                .iter()
                .cloned()
                .map(InboundEvent::Message)
                .collect(),
        ))
        .await
        .unwrap();
    // The two of one millisecond keep their arrival order (`arrival_at`).
    assert_eq!(
        (
            report.new_messages[&messages[4].key],
            report.new_messages[&messages[5].key]
        ),
        (T0 + DAY + 5, T0 + DAY + 6)
    );
    let conversation = store.id_keys().conversation_id(
        &tenant,
        &PhoneNumberId::from(NUMBER),
        &WaId::from("4915112345678"),
    );
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .conversation_history(&tenant, &conversation, cursor.as_ref(), 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        pages += 1;
        seen.extend(page.items.into_iter().map(|m| (m.at_ms, m.key)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging terminates");
    }
    assert_eq!(
        seen.len(),
        messages.len(),
        "no gap and no duplicate across pages"
    );
    let mut expected: Vec<_> = messages
        .iter()
        .map(|m| (report.new_messages[&m.key], m.key.clone()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected, "history is newest first, in arrival order");
    assert_eq!(pages, 4, "11 messages in pages of 3");
}

pub async fn tenants_are_isolated(store: &dyn Store) {
    let (a, b) = (fresh_tenant("iso-a"), fresh_tenant("iso-b"));
    let m = inbound(NUMBER, "16505551234", "wamid.private", "text", T0);
    store
        .ingest(batch(
            &a,
            vec![
                InboundEvent::Message(m.clone()),
                status("wamid.x", MessageStatus::Sent, T0),
            ],
        ))
        .await
        .unwrap();
    let conversation = store.id_keys().conversation_id(
        &a,
        &PhoneNumberId::from(NUMBER),
        &WaId::from("16505551234"),
    );
    assert!(store.get_message(&b, &m.key).await.unwrap().is_none());
    assert!(store
        .get_conversation(&b, &conversation)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .latest_status(&b, &Wamid::from("wamid.x"))
        .await
        .unwrap()
        .is_none());
    let page = store
        .conversation_history(&b, &conversation, None, 50)
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    assert_ne!(
        conversation,
        store.id_keys().conversation_id(
            &b,
            &PhoneNumberId::from(NUMBER),
            &WaId::from("16505551234")
        ),
        "the same customer on the same number is a different conversation in another tenant"
    );
}

pub async fn scan_returns_every_message_once(store: &dyn Store) {
    let tenant = fresh_tenant("scan");
    let messages: Vec<_> = (0..23)
        .map(|i| {
            inbound(
                NUMBER,
                &format!("1555000{:04}", i % 5),
                &format!("wamid.s{i}"),
                "text",
                T0 + i * 3_600_000,
            )
        })
        .collect();
    store
        .ingest(batch(
            &tenant,
            messages
                .iter()
                .cloned()
                .map(InboundEvent::Message)
                .collect(),
        ))
        .await
        .unwrap();
    let mut seen = HashSet::new();
    let mut cursor = None;
    for _ in 0..100_000 {
        let page = store.scan_messages(cursor.as_ref(), 7).await.unwrap();
        for m in page.items.into_iter().filter(|m| m.tenant == tenant) {
            assert!(seen.insert(m.key.clone()), "scan returned {} twice", m.key);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), messages.len(), "scan returned every message");
}

pub async fn account_events_are_deduplicated_and_paged(store: &dyn Store) {
    let tenant = fresh_tenant("events");
    let events: Vec<_> = (0..5)
        .map(|i| {
            InboundEvent::Account(AccountEvent {
                number: (i % 2 == 0).then(|| PhoneNumberId::from(NUMBER)),
                field: "message_template_status_update".into(),
                at_ms: T0 + i * DAY / 2,
                raw: format!(r#"{{"event":"APPROVED","n":{i}}}"#),
            })
        })
        .collect();
    let first = store.ingest(batch(&tenant, events.clone())).await.unwrap();
    assert_eq!(first.events_new, 5);
    store.ingest(batch(&tenant, events)).await.unwrap();
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .account_events(&tenant, cursor.as_ref(), 2)
            .await
            .unwrap();
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(all.len(), 5, "a redelivered event is stored once");
    assert!(
        all.windows(2).all(|w| w[0].at_ms >= w[1].at_ms),
        "newest first"
    );
    assert_eq!(all[0].raw, r#"{"event":"APPROVED","n":4}"#);
}

pub async fn bad_pages_are_refused(store: &dyn Store) {
    let tenant = fresh_tenant("bad");
    let conversation =
        store
            .id_keys()
            .conversation_id(&tenant, &PhoneNumberId::from(NUMBER), &WaId::from("1"));
    for limit in [0, super::MAX_PAGE + 1] {
        assert!(matches!(
            store
                .conversation_history(&tenant, &conversation, None, limit)
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
    let garbage = Cursor::from_token("not a cursor");
    assert!(matches!(
        store
            .conversation_history(&tenant, &conversation, Some(&garbage), 10)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

fn user(tenant: &TenantId, email: &str) -> UserRecord {
    UserRecord {
        tenant: tenant.clone(),
        id: UserId::new(format!("u_{:016x}", rand::random::<u64>())),
        email: normalize_email(email),
        name: "Agent".into(),
        role: "agent".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        created_at: T0,
        session_epoch: 0,
    }
}

pub async fn users_are_unique_by_email_paged_and_tenant_scoped(store: &dyn Store) {
    let (a, b) = (fresh_tenant("users-a"), fresh_tenant("users-b"));
    let domain = format!("{}.example", a.as_str());
    let ada = user(&a, &format!("Ada@{domain}"));
    store
        .create_user(&ada, &audit(&a, "user.create"))
        .await
        .unwrap();
    // The same email, differently cased, in another tenant: refused, nothing written.
    let clash = user(&b, &format!("  ada@{}  ", domain.to_uppercase()));
    let clash = UserRecord {
        email: normalize_email(&clash.email),
        ..clash
    };
    assert!(matches!(
        store.create_user(&clash, &audit(&b, "user.create")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.get_user(&b, &clash.id).await.unwrap().is_none());

    let found = store
        .user_by_email(&format!("ADA@{domain}"))
        .await
        .unwrap()
        .expect("found by email");
    assert_eq!(
        (found.id.clone(), found.tenant.clone()),
        (ada.id.clone(), a.clone())
    );
    assert!(
        store.get_user(&b, &ada.id).await.unwrap().is_none(),
        "another tenant cannot see her"
    );

    let mut changed = found.clone();
    changed.disabled = true;
    changed.session_epoch += 1;
    changed.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3".into();
    changed.email = "ignored@elsewhere.example".into();
    assert!(store
        .update_user(&changed, &audit(&a, "user.update"))
        .await
        .unwrap());
    let after = store.get_user(&a, &ada.id).await.unwrap().unwrap();
    assert!(after.disabled && after.session_epoch == 1);
    assert_eq!(after.password_hash, changed.password_hash);
    assert_eq!(
        after.email, ada.email,
        "the email never changes through an update"
    );
    let by_email = store.user_by_email(&ada.email).await.unwrap().unwrap();
    assert_eq!(by_email, after, "every lookup sees the update");
    let stranger = UserRecord {
        tenant: b.clone(),
        ..changed.clone()
    };
    assert!(
        !store
            .update_user(&stranger, &audit(&b, "user.update"))
            .await
            .unwrap(),
        "no update across tenants"
    );

    for i in 0..6 {
        store
            .create_user(
                &user(&a, &format!("agent{i}@{domain}")),
                &audit(&a, "user.create"),
            )
            .await
            .unwrap();
    }
    let mut emails = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_users(&a, cursor.as_ref(), 3).await.unwrap();
        emails.extend(page.items.into_iter().map(|u| u.email));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(emails.len(), 7);
    assert!(
        emails.windows(2).all(|w| w[0] < w[1]),
        "ordered by email, no repeats"
    );
    assert!(store
        .list_users(&b, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
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

async fn all_audit(store: &dyn Store, tenant: &TenantId, query: &AuditQuery) -> Vec<AuditRecord> {
    let mut lines = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .audit_log(tenant, query, cursor.as_ref(), 2)
            .await
            .unwrap();
        lines.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return lines,
        }
    }
}

pub async fn changes_carry_their_audit_lines_and_failures_none(store: &dyn Store) {
    let (a, b) = (fresh_tenant("audit-a"), fresh_tenant("audit-b"));
    let domain = format!("{}.example", a.as_str());
    let ada = user(&a, &format!("ada@{domain}"));
    let created = audit(&a, "user.create");
    store.create_user(&ada, &created).await.unwrap();
    // Refused changes leave no line.
    let clash = user(&b, &format!("ada@{domain}"));
    assert!(store
        .create_user(&clash, &audit(&b, "user.create"))
        .await
        .is_err());
    let stranger = UserRecord {
        tenant: b.clone(),
        ..ada.clone()
    };
    assert!(!store
        .update_user(&stranger, &audit(&b, "user.update"))
        .await
        .unwrap());
    assert!(!store
        .delete_role(&b, &"r_missing".into(), &audit(&b, "role.delete"))
        .await
        .unwrap());
    assert!(all_audit(store, &b, &AuditQuery::default())
        .await
        .is_empty());
    let lines = all_audit(store, &a, &AuditQuery::default()).await;
    assert_eq!(lines, vec![created], "the line is stored whole");
}

pub async fn sessions_live_until_deleted(store: &dyn Store) {
    let tenant = fresh_tenant("sessions");
    let hash = format!("{:064x}", rand::random::<u128>());
    let session = SessionRecord {
        token_hash: hash.clone(),
        tenant: tenant.clone(),
        user: UserId::from("u_1"),
        epoch: 3,
        created_at: T0,
        expires_at: T0 + 7 * DAY,
        last_seen_at: T0,
        ip: Some("192.0.2.7".into()),
        user_agent: None,
    };
    // Sessions are written at real time (Scylla expires rows with a TTL from now).
    let now = crate::domain::now_ms();
    let session = SessionRecord {
        created_at: now,
        expires_at: now + 7 * DAY,
        last_seen_at: now,
        ..session
    };
    store
        .create_session(&session, &audit(&tenant, "auth.login"))
        .await
        .unwrap();
    assert_eq!(
        store.get_session(&hash).await.unwrap(),
        Some(session.clone())
    );
    store
        .touch_session(&hash, now + 1000, session.expires_at)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_session(&hash)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        now + 1000
    );
    assert!(store
        .delete_session(&hash, &audit(&tenant, "auth.logout"))
        .await
        .unwrap());
    assert!(store.get_session(&hash).await.unwrap().is_none());
    assert!(!store
        .delete_session(&hash, &audit(&tenant, "auth.logout"))
        .await
        .unwrap());
    // Touching a deleted session does not bring it back.
    store
        .touch_session(&hash, now + 2000, session.expires_at)
        .await
        .unwrap();
    assert!(store.get_session(&hash).await.unwrap().is_none());
    let actions: Vec<String> = all_audit(store, &tenant, &AuditQuery::default())
        .await
        .into_iter()
        .map(|l| l.action)
        .collect();
    assert_eq!(actions.len(), 2, "one login, one logout: {actions:?}");
}

pub async fn roles_and_teams_are_tenant_scoped(store: &dyn Store) {
    let (a, b) = (fresh_tenant("roles-a"), fresh_tenant("roles-b"));
    let mut ids = Vec::new();
    for i in 0..12 {
        let role = RoleRecord {
            tenant: a.clone(),
            id: format!("r_{i:02}").into(),
            name: format!("Role {i}"),
            permissions: vec!["contacts.read".into(), "reports.view".into()],
            created_at: T0,
        };
        store
            .put_role(&role, &audit(&a, "role.create"))
            .await
            .unwrap();
        ids.push(role.id);
    }
    let listed: Vec<RoleId> = store
        .list_roles(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ids, "at least ten custom roles, ordered by id");
    let mut renamed = store.get_role(&a, &"r_03".into()).await.unwrap().unwrap();
    renamed.name = "Night shift".into();
    renamed.permissions = vec!["board.view".into()];
    store
        .put_role(&renamed, &audit(&a, "role.update"))
        .await
        .unwrap();
    assert_eq!(
        store.get_role(&a, &"r_03".into()).await.unwrap(),
        Some(renamed)
    );
    assert!(store.get_role(&b, &"r_03".into()).await.unwrap().is_none());
    assert!(store.list_roles(&b).await.unwrap().is_empty());
    assert!(!store
        .delete_role(&b, &"r_03".into(), &audit(&b, "role.delete"))
        .await
        .unwrap());
    assert!(store
        .delete_role(&a, &"r_03".into(), &audit(&a, "role.delete"))
        .await
        .unwrap());
    assert!(store.get_role(&a, &"r_03".into()).await.unwrap().is_none());

    let team = TeamRecord {
        tenant: a.clone(),
        id: "t_sales".into(),
        name: "Sales".into(),
        members: vec![UserId::from("u_1"), UserId::from("u_2")],
        numbers: vec![PhoneNumberId::from(NUMBER)],
        created_at: T0,
    };
    store
        .put_team(&team, &audit(&a, "team.create"))
        .await
        .unwrap();
    assert_eq!(
        store.get_team(&a, &"t_sales".into()).await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(store.list_teams(&a).await.unwrap(), vec![team]);
    assert!(store
        .get_team(&b, &"t_sales".into())
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .delete_team(&b, &"t_sales".into(), &audit(&b, "team.delete"))
        .await
        .unwrap());
    assert!(store
        .delete_team(&a, &"t_sales".into(), &audit(&a, "team.delete"))
        .await
        .unwrap());
    assert!(store.list_teams(&a).await.unwrap().is_empty());
}

pub async fn api_keys_are_unique_revocable_and_scoped(store: &dyn Store) {
    let (a, b) = (fresh_tenant("keys-a"), fresh_tenant("keys-b"));
    let key = ApiKeyRecord {
        id: new_id("k").into(),
        tenant: a.clone(),
        name: "CRM sync".into(),
        secret_hash: format!("{:064x}", rand::random::<u128>()),
        permissions: vec!["contacts.read".into()],
        created_by: "user:u_1".into(),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    };
    store
        .create_api_key(&key, &audit(&a, "api_key.create"))
        .await
        .unwrap();
    let again = ApiKeyRecord {
        tenant: b.clone(),
        ..key.clone()
    };
    assert!(matches!(
        store
            .create_api_key(&again, &audit(&b, "api_key.create"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_api_key(&key.id).await.unwrap(), Some(key.clone()));
    assert_eq!(store.list_api_keys(&a).await.unwrap(), vec![key.clone()]);
    assert!(store.list_api_keys(&b).await.unwrap().is_empty());
    store.touch_api_key(&key.id, T0 + 5).await.unwrap();
    assert!(!store
        .revoke_api_key(&b, &key.id, T0 + 9, &audit(&b, "api_key.revoke"))
        .await
        .unwrap());
    assert!(store
        .revoke_api_key(&a, &key.id, T0 + 9, &audit(&a, "api_key.revoke"))
        .await
        .unwrap());
    assert!(!store
        .revoke_api_key(&a, &key.id, T0 + 10, &audit(&a, "api_key.revoke"))
        .await
        .unwrap());
    let stored = store.get_api_key(&key.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.last_used_at, stored.revoked_at),
        (Some(T0 + 5), Some(T0 + 9))
    );
    assert!(all_audit(store, &b, &AuditQuery::default())
        .await
        .is_empty());
    assert_eq!(all_audit(store, &a, &AuditQuery::default()).await.len(), 2);
}

pub async fn audit_log_pages_newest_first_with_filters(store: &dyn Store) {
    let tenant = fresh_tenant("audit-log");
    let actions = [
        "user.create",
        "role.update",
        "user.update",
        "auth.login",
        "user",
    ];
    let mut written = Vec::new();
    for (i, action) in actions.iter().cycle().take(15).enumerate() {
        // Spread over three day partitions.
        let line = audit_at(&tenant, action, T0 + (i as i64 / 5) * DAY + i as i64);
        store.append_audit(&line).await.unwrap();
        written.push(line);
    }
    let all = all_audit(store, &tenant, &AuditQuery::default()).await;
    let mut expected = written.clone();
    expected.reverse();
    assert_eq!(all, expected, "newest first across days, each once");
    let users = all_audit(
        store,
        &tenant,
        &AuditQuery {
            action: Some("user".into()),
            ..AuditQuery::default()
        },
    )
    .await;
    assert_eq!(users.len(), 9, "user, user.create and user.update");
    let window = AuditQuery {
        since_ms: Some(T0 + DAY),
        until_ms: Some(T0 + 2 * DAY),
        ..AuditQuery::default()
    };
    let days = all_audit(store, &tenant, &window).await;
    assert_eq!(days.len(), 5);
    assert!(days.iter().all(|l| window.matches(l)));
    let none = AuditQuery {
        actor: Some("user:u_nobody".into()),
        ..AuditQuery::default()
    };
    assert!(all_audit(store, &tenant, &none).await.is_empty());
}

fn thread(store: &dyn Store, tenant: &TenantId, i: usize, state: ThreadState) -> ThreadRecord {
    let customer = WaId::new(format!("1650555{i:04}"));
    let number = PhoneNumberId::from(NUMBER);
    ThreadRecord {
        tenant: tenant.clone(),
        conversation: store.id_keys().conversation_id(tenant, &number, &customer),
        number,
        customer,
        state,
        assignee: (state == ThreadState::Assigned).then(|| UserId::from("u_ada")),
        last_agent: Some(UserId::from("u_ada")),
        tags: vec!["lang:ru".into(), "vip \"gold\"".into()],
        waiting_since: Some(T0 + i as i64),
        last_inbound_at: Some(T0 + i as i64),
        last_inbound_wamid: Some(Wamid::new(format!("wamid.{i}"))),
        opened_at: T0,
        updated_at: T0 + i as i64,
    }
}

pub async fn threads_keep_their_state_and_only_open_ones_are_listed(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("threads"), fresh_tenant("threads-other"));
    let mut open = Vec::new();
    for i in 0..7 {
        let state = if i % 2 == 0 {
            ThreadState::Assigned
        } else {
            ThreadState::Queued
        };
        let t = thread(store, &tenant, i, state);
        store.put_thread(&t, None).await.unwrap();
        open.push(t);
    }
    store
        .put_thread(&thread(store, &other, 0, ThreadState::Queued), None)
        .await
        .unwrap();
    // Resolving removes it from the open list but keeps the row; the audit line goes with it.
    let mut done = open.remove(3);
    done.state = ThreadState::Resolved;
    done.assignee = None;
    done.waiting_since = None;
    let line = audit(&tenant, "conversation.resolve");
    store.put_thread(&done, Some(&line)).await.unwrap();
    assert_eq!(
        store.get_thread(&tenant, &done.conversation).await.unwrap(),
        Some(done.clone())
    );
    assert_eq!(
        all_audit(store, &tenant, &AuditQuery::default()).await,
        vec![line]
    );
    assert_eq!(
        store.get_thread(&other, &done.conversation).await.unwrap(),
        None,
        "another tenant's conversation does not exist"
    );
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .open_threads(&tenant, cursor.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    open.sort_by(|a, b| a.conversation.as_str().cmp(b.conversation.as_str()));
    assert_eq!(listed, open, "open threads, by id, each once, whole");
    let ids: HashSet<ConversationId> = listed.into_iter().map(|t| t.conversation).collect();
    assert_eq!(ids.len(), 6);
}

fn send(
    store: &dyn Store,
    tenant: &TenantId,
    number: &PhoneNumberId,
    key: &str,
    created_at: i64,
) -> OutboxRecord {
    let customer = WaId::from("16505551234");
    let conversation = store.id_keys().conversation_id(tenant, number, &customer);
    OutboxRecord {
        tenant: tenant.clone(),
        id: send_id(tenant, &conversation, "user:u_1", key),
        conversation,
        number: number.clone(),
        customer,
        author: "user:u_1".into(),
        request: format!(r#"{{"to":"16505551234","type":"text","text":{{"body":"{key}"}}}}"#),
        kind: "text".into(),
        text: Some(key.to_owned()),
        state: SendState::Queued,
        attempts: 0,
        wamid: None,
        error: None,
        created_at,
        updated_at: created_at,
    }
}

async fn all_pending(store: &dyn Store, number: &PhoneNumberId) -> Vec<OutboxRecord> {
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .pending_sends(number, cursor.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return listed,
        }
    }
}

pub async fn outbox_sends_are_claimed_once_and_finished_into_history(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("outbox"), fresh_tenant("outbox-other"));
    // Numbers are global; a fresh one keeps this check apart from others on a shared cluster.
    let number = PhoneNumberId::new(format!("9{:014}", rand::random::<u64>() % 10u64.pow(14)));
    let sends: Vec<OutboxRecord> = (0..5)
        .map(|i| {
            send(
                store,
                &tenant,
                &number,
                &format!("m{i}"),
                T0 + 1000 - i * 100,
            )
        })
        .collect();
    for s in &sends {
        assert_eq!(
            &store.enqueue_send(s).await.unwrap(),
            s,
            "a new send is stored"
        );
    }
    // A client's retry, later: the first send comes back and nothing else is written.
    let mut retry = sends[0].clone();
    retry.created_at += 5_000;
    retry.updated_at += 5_000;
    retry.text = Some("changed".into());
    assert_eq!(store.enqueue_send(&retry).await.unwrap(), sends[0]);
    let mut oldest_first = sends.clone();
    oldest_first.sort_by_key(|s| s.created_at);
    assert_eq!(
        all_pending(store, &number).await,
        oldest_first,
        "pending sends, oldest first, each once"
    );
    assert_eq!(store.get_send(&other, &sends[0].id).await.unwrap(), None);

    // An attempt in progress stays pending; a sent one enters the history; a failed one leaves.
    let mut sending = sends[1].clone();
    sending.state = SendState::Sending;
    sending.attempts = 1;
    store.update_send(&sending).await.unwrap();
    let mut sent = sends[2].clone();
    sent.state = SendState::Sent;
    sent.attempts = 2;
    sent.wamid = Some(Wamid::from("wamid.outbox-sent"));
    sent.updated_at = T0 + 2_000;
    store.update_send(&sent).await.unwrap();
    store.update_send(&sent).await.unwrap();
    let mut failed = sends[3].clone();
    failed.state = SendState::Failed;
    failed.attempts = 1;
    failed.error = Some("131026: Message undeliverable".into());
    store.update_send(&failed).await.unwrap();
    assert_eq!(
        store.get_send(&tenant, &sent.id).await.unwrap(),
        Some(sent.clone())
    );
    assert_eq!(
        store.get_send(&tenant, &failed.id).await.unwrap(),
        Some(failed.clone())
    );
    let pending: Vec<SendId> = all_pending(store, &number)
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    let expected: Vec<SendId> = oldest_first
        .iter()
        .filter(|s| s.id != sent.id && s.id != failed.id)
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(pending, expected);
    let history = store
        .conversation_history(&tenant, &sent.conversation, None, 10)
        .await
        .unwrap();
    assert_eq!(
        history.items.len(),
        1,
        "the sent message, once: {history:?}"
    );
    let m = &history.items[0];
    assert_eq!(
        (m.direction, m.wamid.as_str(), m.text.as_deref(), m.at_ms),
        (
            Direction::Outbound,
            "wamid.outbox-sent",
            Some("m2"),
            T0 + 2_000
        )
    );
    // Enqueueing a finished send again returns it finished and does not make it pending.
    assert_eq!(store.enqueue_send(&retry_of(&sent)).await.unwrap(), sent);
    assert_eq!(all_pending(store, &number).await.len(), 3);
}

fn retry_of(s: &OutboxRecord) -> OutboxRecord {
    let mut r = s.clone();
    r.state = SendState::Queued;
    r.wamid = None;
    r.created_at += 60_000;
    r
}

pub async fn notes_page_newest_first_and_profiles_carry_their_audit(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("notes"), fresh_tenant("notes-other"));
    let conversation = ConversationId::new(format!("c_{:016x}", rand::random::<u64>()));
    let notes: Vec<NoteRecord> = (0..5)
        .map(|i| NoteRecord {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            id: format!("n_{i}"),
            author: (i % 2 == 0).then(|| UserId::from("u_1")),
            author_name: "Ada".into(),
            text: format!("note {i} for @{{u_2}}"),
            mentions: vec![UserId::from("u_2")],
            // Two notes share a millisecond: the id orders them.
            at_ms: T0 + (i / 2) * 1000,
        })
        .collect();
    for n in &notes {
        store.add_note(n).await.unwrap();
    }
    store.add_note(&notes[0]).await.unwrap();
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .notes(&tenant, &conversation, cursor.as_ref(), 2)
            .await
            .unwrap();
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut newest_first = notes.clone();
    newest_first.sort_by(|a, b| (b.at_ms, &b.id).cmp(&(a.at_ms, &a.id)));
    assert_eq!(listed, newest_first, "each note once, newest first");
    let page = store.notes(&other, &conversation, None, 10).await.unwrap();
    assert!(page.items.is_empty(), "another tenant's notes do not exist");

    let profile = ProfileRecord {
        tenant: tenant.clone(),
        user: UserId::from("u_1"),
        skills: vec!["lang:ru".into(), "skill:billing".into()],
        capacity: Some(8),
        updated_at: T0,
    };
    let line = audit(&tenant, "agent.profile");
    store.put_profile(&profile, &line).await.unwrap();
    let mut changed = profile.clone();
    changed.capacity = None;
    changed.skills = vec![];
    let line2 = audit(&tenant, "agent.profile");
    store.put_profile(&changed, &line2).await.unwrap();
    let second = ProfileRecord {
        user: UserId::from("u_2"),
        ..profile.clone()
    };
    store
        .put_profile(&second, &audit(&tenant, "agent.profile"))
        .await
        .unwrap();
    let first = store.profiles(&tenant, None, 1).await.unwrap();
    assert_eq!(first.items, vec![changed]);
    let rest = store
        .profiles(&tenant, first.next.as_ref(), 1)
        .await
        .unwrap();
    assert_eq!(rest.items, vec![second]);
    assert!(store
        .profiles(&other, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        all_audit(store, &tenant, &AuditQuery::default())
            .await
            .len(),
        3,
        "each profile change has its audit line"
    );
}
