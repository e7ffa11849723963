//! Retention: a conversation's due messages lose their text or go whole, the held range keeps
//! its own, files are listed for deletion, search forgets what went, a second run finds nothing,
//! and the audit log loses whole old days only.

use switchboard_shared::normalize::search_terms;
use switchboard_shared::ConversationId;

use super::*;
use crate::domain::retention::is_skeleton;
use crate::store::Store;

fn message(customer: &str, i: i64, at: i64, text: &str) -> InboundMessage {
    let mut m = inbound(NUMBER, customer, &format!("wamid.ret{i}"), "text", at);
    m.text = Some(text.to_owned());
    m.raw = format!(r#"{{"type":"text","text":{{"body":"{text}"}}}}"#);
    m
}

async fn keys(store: &dyn Store, tenant: &TenantId, id: &ConversationId) -> Vec<MessageRecord> {
    let mut all = store
        .conversation_history(tenant, id, None, 100)
        .await
        .unwrap()
        .items;
    all.sort_by_key(|m| m.at_ms);
    all
}

pub async fn purges_remove_what_is_due_and_nothing_held(store: &dyn Store) {
    let tenant = fresh_tenant("retention");
    let customer = "15550009999";
    // Days 0..6, one message a day, plus an image on day 1.
    let mut events: Vec<InboundEvent> = (0..6)
        .map(|d| {
            InboundEvent::Message(message(customer, d, T0 + d * DAY, &format!("zebra day{d}")))
        })
        .collect();
    let mut image = inbound(NUMBER, customer, "wamid.retimg", "image", T0 + DAY + 1);
    image.text = Some("zebra caption".into());
    image.raw = r#"{"type":"image","image":{"id":"media-1","mime_type":"image/png","caption":"zebra caption"}}"#.into();
    events.push(InboundEvent::Message(image));
    store.ingest(batch(&tenant, events)).await.unwrap();
    let id = store.id_keys().conversation_id(
        &tenant,
        &PhoneNumberId::from(NUMBER),
        &WaId::from(customer),
    );
    // Whole before day 2, text before day 4, files before day 3; day 1 is held.
    let cut = PurgeCut {
        rows_before: Some(T0 + 2 * DAY),
        text_before: Some(T0 + 4 * DAY),
        media_before: Some(T0 + 3 * DAY),
        held: vec![(T0 + DAY, T0 + 2 * DAY)],
    };
    let dry = store
        .purge_conversation(&tenant, &id, &cut, false)
        .await
        .unwrap();
    assert_eq!(dry.removed.len(), 1, "day 0 goes whole: {dry:?}");
    assert_eq!(
        dry.cleared.len(),
        2,
        "days 2 and 3 lose their text: {dry:?}"
    );
    assert_eq!(dry.held, 2, "day 1's message and image are held");
    assert!(dry.media.is_empty(), "the only file is held");
    assert_eq!(
        keys(store, &tenant, &id).await.len(),
        7,
        "a dry run changes nothing"
    );

    let done = store
        .purge_conversation(&tenant, &id, &cut, true)
        .await
        .unwrap();
    assert_eq!(done, dry, "the purge does what its dry run said");
    let left = keys(store, &tenant, &id).await;
    assert_eq!(left.len(), 6);
    assert!(left.iter().all(|m| m.at_ms >= T0 + DAY));
    for m in &left {
        let day = (m.at_ms - T0) / DAY;
        if day == 2 || day == 3 {
            assert_eq!(m.text, None);
            assert!(is_skeleton(&m.raw) && !m.raw.contains("zebra"), "{}", m.raw);
        } else {
            assert!(m.text.as_deref().unwrap().contains("zebra"), "{m:?}");
        }
    }
    let found = store
        .search_messages(&tenant, &search_terms("zebra"), None, 50)
        .await
        .unwrap();
    let mut days: Vec<i64> = found.items.iter().map(|h| (h.at_ms - T0) / DAY).collect();
    days.sort();
    assert_eq!(days, [1, 1, 4, 5], "search forgets what went");
    let again = store
        .purge_conversation(&tenant, &id, &cut, true)
        .await
        .unwrap();
    assert!(
        again.removed.is_empty() && again.cleared.is_empty(),
        "{again:?}"
    );

    // The hold released: the image's file is listed, its text stripped, the rest goes.
    let released = PurgeCut {
        held: vec![],
        rows_before: Some(T0 + DAY + 1),
        ..cut
    };
    let done = store
        .purge_conversation(&tenant, &id, &released, true)
        .await
        .unwrap();
    assert_eq!(done.media, ["media-1"]);
    assert_eq!(done.removed.len(), 1, "day 1's text goes whole: {done:?}");
    assert_eq!(
        done.cleared.len(),
        1,
        "the image loses its caption: {done:?}"
    );
    let again = store
        .purge_conversation(&tenant, &id, &released, true)
        .await
        .unwrap();
    assert!(
        again.removed.is_empty() && again.cleared.is_empty(),
        "a stripped file message is not stripped again: {again:?}"
    );

    // The audit log: whole days before the cut's day.
    for d in 0..3 {
        store
            .append_audit(&audit_at(&tenant, "user.create", T0 + d * DAY + 5))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .purge_audit(&tenant, T0 + 2 * DAY + 10, false)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .purge_audit(&tenant, T0 + 2 * DAY + 10, true)
            .await
            .unwrap(),
        2
    );
    let log = store
        .audit_log(&tenant, &AuditQuery::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    assert_eq!(log.items[0].at_ms, T0 + 2 * DAY + 5);
}
