//! Conformance checks of the directory, messages, statuses and account events.

use std::collections::HashSet;

use switchboard_shared::*;

use super::*;
use crate::domain::*;
use crate::store::page::*;
use crate::store::{Store, StoreError};

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
            username: None,
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
            username: None,
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
    assert!(page.items[0].error_codes.is_empty());
    // A second message fails at WhatsApp: history reads say so, with Meta's codes.
    let failing = Wamid::from("wamid.outbound-2");
    store
        .record_outbound(OutboundRecord {
            tenant: tenant.clone(),
            wamid: failing.clone(),
            number: PhoneNumberId::from(NUMBER),
            customer: WaId::from("16505551234"),
            kind: "text".into(),
            text: Some("Are you there?".into()),
            at_ms: T0 + 20,
            raw: r#"{"type":"text"}"#.into(),
        })
        .await
        .unwrap();
    store
        .ingest(batch(
            &tenant,
            vec![status("wamid.outbound-2", MessageStatus::Failed, T0 + 30)],
        ))
        .await
        .unwrap();
    let got = store
        .get_message(&tenant, &outbound_message_key(&failing))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.status, got.error_codes),
        (MessageStatus::Failed, vec![131049])
    );
    let page = store
        .conversation_history(&tenant, &conversation, None, 10)
        .await
        .unwrap();
    assert_eq!(page.items[0].error_codes, vec![131049], "the newest first");
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
    for limit in [0, crate::store::MAX_PAGE + 1] {
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

/// What a start replays: new customer messages by when their webhook came, oldest first, across
/// hours, paged; the window's ends hold; a tenant sees only its own; the cursor never moves back.
pub async fn received_messages_are_indexed_for_replay(store: &dyn Store) {
    let tenant = fresh_tenant("replay");
    let other = fresh_tenant("replay-other");
    store
        .upsert_tenant(&TenantRecord {
            id: tenant.clone(),
            name: "Replay".into(),
            created_at: T0,
        })
        .await
        .unwrap();
    // Webhooks received over three hours, the first one twice (a redelivery).
    const HOUR: i64 = 3_600_000;
    let mut keys = Vec::new();
    for i in 0..30i64 {
        let m = inbound(
            NUMBER,
            "16505550177",
            &format!("wamid.replay.{i}"),
            "text",
            T0 + i * 1000,
        );
        keys.push(m.key.clone());
        let mut b = batch(&tenant, vec![InboundEvent::Message(m)]);
        b.received_at = T0 + i * HOUR / 10;
        store.ingest(b).await.unwrap();
    }
    let mut again = batch(
        &tenant,
        vec![InboundEvent::Message(inbound(
            NUMBER,
            "16505550177",
            "wamid.replay.0",
            "text",
            T0,
        ))],
    );
    again.received_at = T0 + 10 * HOUR;
    store.ingest(again).await.unwrap();
    let mut b = batch(
        &other,
        vec![InboundEvent::Message(inbound(
            NUMBER,
            "16505550178",
            "wamid.replay.x",
            "text",
            T0,
        ))],
    );
    b.received_at = T0 + HOUR;
    store.ingest(b).await.unwrap();

    let read = |since: i64, until: i64, limit: usize| {
        let tenant = tenant.clone();
        async move {
            let mut all = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .received_between(&tenant, since, until, cursor.as_ref(), limit)
                    .await
                    .unwrap();
                assert!(page.items.len() <= limit);
                all.extend(page.items);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break all,
                }
            }
        }
    };
    // Everything from the first webhook on: each new message once, in order of receipt.
    let whole = read(T0, T0 + 3 * HOUR, 7).await;
    let got: Vec<MessageKey> = whole.iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        got, keys,
        "every new message, oldest first, across hours and pages"
    );
    assert!(whole
        .windows(2)
        .all(|w| w[0].received_at <= w[1].received_at));
    // `since` is inclusive and `until` exclusive: the window [hour 1, hour 2) holds messages 10..20.
    let window = read(T0 + HOUR, T0 + 2 * HOUR, 4).await;
    let got: Vec<MessageKey> = window.into_iter().map(|r| r.key).collect();
    assert_eq!(got, keys[10..20].to_vec(), "the window's ends");
    assert!(read(T0 + 20 * HOUR, T0 + 21 * HOUR, 5).await.is_empty());

    let name = format!("test-{}", tenant.as_str());
    assert_eq!(store.cursor(&name).await.unwrap(), None);
    store.set_cursor(&name, T0 + 5_000).await.unwrap();
    store.set_cursor(&name, T0 + 1_000).await.unwrap();
    assert_eq!(
        store.cursor(&name).await.unwrap(),
        Some(T0 + 5_000),
        "a cursor never moves back"
    );
    store.set_cursor(&name, T0 + 9_000).await.unwrap();
    assert_eq!(store.cursor(&name).await.unwrap(), Some(T0 + 9_000));
}

/// The cost ledger: a message's first priced status makes its line, once, even when a later one
/// falls in another month; lines page by month and stay with their tenant.
pub async fn the_ledger_keeps_one_line_per_priced_message(store: &dyn Store) {
    use rust_decimal::Decimal;
    use switchboard_shared::costs::{PriceCategory, PricingType};
    let tenant = fresh_tenant("ledger");
    let other = fresh_tenant("ledger-other");
    let line = |i: usize, month: &str, price: Option<&str>| ChargeRecord {
        tenant: tenant.clone(),
        wamid: Wamid::from(format!("wamid.charge.{i:03}").as_str()),
        at_ms: T0 + i as i64,
        month: month.into(),
        number: PhoneNumberId::from(NUMBER),
        country: "DE".into(),
        category: PriceCategory::Marketing,
        pricing_type: PricingType::Regular,
        model: "PMP".into(),
        team: i.is_multiple_of(2).then(|| TeamId::from("t_sales")),
        sender: Some("campaign:cp_1".into()),
        campaign: Some("cp_1".into()),
        price: price.map(|p| p.parse::<Decimal>().unwrap()),
    };
    let mut events = Vec::new();
    for i in 0..25 {
        events.push(InboundEvent::Charge(line(i, "2026-11", Some("0.1365"))));
    }
    events.push(InboundEvent::Charge(line(99, "2026-11", None)));
    let report = store.ingest(batch(&tenant, events)).await.unwrap();
    assert_eq!(report.charges_new, 26);
    // The same messages priced again (a `delivered` after the `sent`), one in the next month.
    let again = store
        .ingest(batch(
            &tenant,
            vec![
                InboundEvent::Charge(line(0, "2026-11", Some("0.5"))),
                InboundEvent::Charge(line(1, "2026-12", Some("0.5"))),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(again.charges_new, 0, "one line per message");
    assert!(store
        .charges(&tenant, "2026-12", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    let mut other_line = line(0, "2026-11", Some("9"));
    other_line.tenant = other.clone();
    store
        .ingest(batch(&other, vec![InboundEvent::Charge(other_line)]))
        .await
        .unwrap();

    assert_eq!(
        store
            .get_charge(&tenant, &Wamid::from("wamid.charge.000"))
            .await
            .unwrap(),
        Some(line(0, "2026-11", Some("0.1365"))),
        "the first line stands"
    );
    assert_eq!(
        store
            .get_charge(&tenant, &Wamid::from("wamid.charge.099"))
            .await
            .unwrap()
            .unwrap()
            .price,
        None
    );
    assert_eq!(
        store
            .get_charge(&tenant, &Wamid::from("wamid.none"))
            .await
            .unwrap(),
        None
    );
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .charges(&tenant, "2026-11", cursor.as_ref(), 7)
            .await
            .unwrap();
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(all.len(), 26);
    assert!(all.windows(2).all(|w| w[0].wamid < w[1].wamid), "by wamid");
    assert!(all.iter().all(|c| c.tenant == tenant));
    let total: Decimal = all.iter().filter_map(|c| c.price).sum();
    assert_eq!(
        total,
        "3.4125".parse::<Decimal>().unwrap(),
        "exact decimals"
    );
}

/// Campaigns' recipients: written whole (again harmlessly), read one by one and in pages over
/// every bucket, each campaign and tenant apart.
pub async fn campaign_recipients_page_over_buckets_and_stay_apart(store: &dyn Store) {
    use switchboard_shared::campaign::RecipientState;
    let tenant = fresh_tenant("campaign");
    let campaign = CampaignId::from("cp_one");
    let row = |i: usize, campaign: &CampaignId| RecipientRecord {
        tenant: tenant.clone(),
        campaign: campaign.clone(),
        wa_id: WaId::from(format!("4915100000{i:03}").as_str()),
        contact: ContactId::from(format!("c_{i}").as_str()),
        state: if i.is_multiple_of(7) {
            RecipientState::Skipped
        } else {
            RecipientState::Queued
        },
        reason: i.is_multiple_of(7).then(|| "opted_out".to_owned()),
        number: Some(PhoneNumberId::from(NUMBER)),
        send: None,
        clicked: false,
        updated_at: T0,
    };
    let rows: Vec<RecipientRecord> = (0..120).map(|i| row(i, &campaign)).collect();
    store.put_recipients(&rows).await.unwrap();
    store.put_recipients(&rows[..10]).await.unwrap();
    store
        .put_recipients(&[row(1, &CampaignId::from("cp_two"))])
        .await
        .unwrap();
    let mut other = row(2, &campaign);
    other.tenant = fresh_tenant("campaign-other");
    store.put_recipients(&[other]).await.unwrap();

    let mut sent = row(5, &campaign);
    sent.state = RecipientState::Sent;
    sent.send = Some(SendId::from("o_abc"));
    sent.clicked = true;
    store.put_recipients(&[sent.clone()]).await.unwrap();
    assert_eq!(
        store
            .get_recipient(&tenant, &campaign, &sent.wa_id)
            .await
            .unwrap(),
        Some(sent)
    );
    assert_eq!(
        store
            .get_recipient(&tenant, &CampaignId::from("cp_three"), &rows[0].wa_id)
            .await
            .unwrap(),
        None
    );
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .recipients(&tenant, &campaign, cursor.as_ref(), 17)
            .await
            .unwrap();
        assert!(page.items.len() <= 17);
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120, "every recipient once");
    let keys: Vec<(i32, String)> = seen
        .iter()
        .map(|r| (r.bucket(), r.wa_id.as_str().to_owned()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "in (bucket, wa_id) order"
    );
    assert!(seen
        .iter()
        .all(|r| r.tenant == tenant && r.campaign == campaign));
    assert_eq!(
        seen.iter()
            .filter(|r| r.state == RecipientState::Skipped)
            .count(),
        18
    );
    // Moves: the state and click change, the reason and send only when given.
    let moved = row(5, &campaign);
    let update = |state, reason: Option<&str>, send: Option<&str>, at| RecipientUpdate {
        tenant: tenant.clone(),
        campaign: campaign.clone(),
        wa_id: moved.wa_id.clone(),
        state,
        reason: reason.map(str::to_owned),
        send: send.map(SendId::from),
        clicked: true,
        updated_at: at,
    };
    store
        .update_recipients(&[update(RecipientState::Read, None, None, T0 + 9)])
        .await
        .unwrap();
    let read = store
        .get_recipient(&tenant, &campaign, &moved.wa_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            read.state,
            read.send.as_ref().map(|s| s.as_str()),
            read.clicked,
            read.updated_at
        ),
        (RecipientState::Read, Some("o_abc"), true, T0 + 9)
    );
    store
        .update_recipients(&[update(
            RecipientState::Failed,
            Some("131026"),
            Some("o_def"),
            T0 + 10,
        )])
        .await
        .unwrap();
    let failed = store
        .get_recipient(&tenant, &campaign, &moved.wa_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            failed.state,
            failed.reason.as_deref(),
            failed.send.as_ref().map(|s| s.as_str())
        ),
        (RecipientState::Failed, Some("131026"), Some("o_def"))
    );
}

/// Every page of a search, `limit` at a time: the texts' wamids.
async fn search_all(
    store: &dyn Store,
    tenant: &TenantId,
    query: &str,
    limit: usize,
) -> Vec<String> {
    let terms = switchboard_shared::normalize::search_terms(query);
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search_messages(tenant, &terms, cursor.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.items.len() <= limit);
        for hit in page.items {
            let m = store
                .get_message(tenant, &hit.message)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((m.conversation, m.at_ms), (hit.conversation, hit.at_ms));
            found.push(m.wamid.as_str().to_owned());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return found,
        }
    }
}

pub async fn search_finds_every_message_holding_all_terms_newest_first(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("search"), fresh_tenant("search-other"));
    let texts = [
        "What is the PRICE of the red dress?",
        "Какая цена доставки в Москву?",
        "Ёлка уже доставлена, спасибо",
        "كم سعر التوصيل إلى دبي؟",
        "price list please",
        "The red one, size M. Price?!",
    ];
    let messages: Vec<InboundMessage> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut m = inbound(
                NUMBER,
                &format!("1555000{:04}", i % 3),
                &format!("wamid.search{i}"),
                "text",
                T0 + i as i64 * 3_600_000,
            );
            m.text = Some((*text).to_owned());
            m
        })
        .collect();
    let events = |ms: &[InboundMessage]| ms.iter().cloned().map(InboundEvent::Message).collect();
    store
        .ingest(batch(&tenant, events(&messages)))
        .await
        .unwrap();
    store
        .ingest(batch(&other, events(&messages[..1])))
        .await
        .unwrap();
    // Redelivered: indexed once.
    store
        .ingest(batch(&tenant, events(&messages)))
        .await
        .unwrap();
    let w = |i: usize| format!("wamid.search{i}");
    for limit in [1, 2, 50] {
        assert_eq!(
            search_all(store, &tenant, "price", limit).await,
            [w(5), w(4), w(0)]
        );
    }
    assert_eq!(
        search_all(store, &tenant, "red price", 2).await,
        [w(5), w(0)]
    );
    assert_eq!(search_all(store, &tenant, "ЦЕНА", 10).await, [w(1)]);
    assert_eq!(search_all(store, &tenant, "елка", 10).await, [w(2)]);
    assert_eq!(search_all(store, &tenant, "التوصيل", 10).await, [w(3)]);
    assert!(search_all(store, &tenant, "price dubai", 10)
        .await
        .is_empty());
    assert_eq!(search_all(store, &other, "price", 10).await, [w(0)]);
    assert!(store.search_messages(&tenant, &[], None, 10).await.is_err());
}
