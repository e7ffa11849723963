//! Outbound webhooks: endpoints per tenant with their audit lines; a delivery added once whatever
//! state it reached; the log newest first across days; the pending ones listed for a start and
//! gone from that list once settled.

use switchboard_shared::webhooks::{Attempt, DeliveryState, EventType};

use super::identity::all_audit;
use super::*;
use crate::domain::{AuditQuery, DeliveryRecord, EndpointRecord};
use crate::store::Store;

fn endpoint(tenant: &TenantId, id: &str) -> EndpointRecord {
    EndpointRecord {
        tenant: tenant.clone(),
        id: id.into(),
        url: format!("https://hooks.example.com/{id}"),
        events: vec![EventType::MessageReceived, EventType::CsatAnswered],
        description: "the CRM".into(),
        secret: vec![9, 0, 255],
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn delivery(tenant: &TenantId, endpoint: &str, n: i64, at: i64) -> DeliveryRecord {
    DeliveryRecord {
        tenant: tenant.clone(),
        endpoint: endpoint.into(),
        id: delivery_id(tenant, endpoint, EventType::MessageReceived, &n.to_string()),
        event: EventType::MessageReceived,
        body: format!(r#"{{"type":"message.received","n":{n}}}"#),
        created_at: at,
        state: DeliveryState::Pending,
        next_at: at,
        attempts: Vec::new(),
    }
}

async fn all_pending(store: &dyn Store, tenant: &TenantId) -> Vec<DeliveryRecord> {
    let (mut out, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.pending_deliveries(cursor.as_ref(), 7).await.unwrap();
        out.extend(page.items.into_iter().filter(|d| &d.tenant == tenant));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

pub async fn webhook_deliveries_are_added_once_logged_and_settled(store: &dyn Store) {
    let (a, b) = (fresh_tenant("hooks-a"), fresh_tenant("hooks-b"));
    let mut e = endpoint(&a, "wh_1");
    store
        .put_endpoint(&e, Some(&audit_at(&a, "webhook.create", T0)))
        .await
        .unwrap();
    store
        .put_endpoint(&endpoint(&a, "wh_0"), None)
        .await
        .unwrap();
    assert_eq!(
        store.get_endpoint(&a, "wh_1").await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(store.get_endpoint(&b, "wh_1").await.unwrap(), None);
    let listed: Vec<String> = store
        .list_endpoints(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, ["wh_0", "wh_1"]);
    assert!(store.list_endpoints(&b).await.unwrap().is_empty());
    e.failing_since = Some(T0 + 5);
    e.previous_secret = Some(vec![1; 32]);
    e.previous_until = Some(T0 + DAY);
    store.put_endpoint(&e, None).await.unwrap();
    assert_eq!(
        store.get_endpoint(&a, "wh_1").await.unwrap(),
        Some(e.clone())
    );

    // Three days of deliveries, some within one millisecond.
    let all: Vec<DeliveryRecord> = (0..9)
        .map(|n| delivery(&a, "wh_1", n, T0 + (n / 3) * DAY + (n % 2)))
        .collect();
    assert_eq!(store.add_deliveries(&all).await.unwrap(), vec![true; 9]);
    let mut settled = all[4].clone();
    settled.state = DeliveryState::Delivered;
    settled.record(Attempt {
        at: T0 + DAY + 10,
        status: Some(204),
        error: None,
        response: "ok".into(),
        duration_ms: 12,
        replay: false,
        probe: false,
    });
    store.update_delivery(&settled).await.unwrap();
    // Added again (a replay after a restart): nothing changes, the settled one stays settled.
    let again = store.add_deliveries(&all[3..6]).await.unwrap();
    assert_eq!(again, vec![false; 3]);
    assert_eq!(
        store.get_delivery(&a, &all[4].id).await.unwrap(),
        Some(settled.clone())
    );
    assert_eq!(store.get_delivery(&b, &all[4].id).await.unwrap(), None);

    // The log: newest first across days, in small pages, each once.
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = store
            .deliveries(&a, "wh_1", T0 - DAY, cursor.as_ref(), 2)
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected = all.clone();
    expected[4] = settled.clone();
    expected.sort_by(|x, y| (y.created_at, &y.id).cmp(&(x.created_at, &x.id)));
    assert_eq!(seen, expected);
    // `since` cuts the older days off.
    let recent = store
        .deliveries(&a, "wh_1", T0 + 2 * DAY, None, 50)
        .await
        .unwrap();
    assert_eq!(recent.items.len(), 3);
    assert!(store
        .deliveries(&a, "wh_0", T0 - DAY, None, 50)
        .await
        .unwrap()
        .items
        .is_empty());

    // Pending: all but the settled one; a failure leaves the list too.
    let mut pending: Vec<String> = all_pending(store, &a)
        .await
        .into_iter()
        .map(|d| d.id)
        .collect();
    pending.sort();
    let mut want: Vec<String> = all
        .iter()
        .filter(|d| d.id != settled.id)
        .map(|d| d.id.clone())
        .collect();
    want.sort();
    assert_eq!(pending, want);
    let mut failed = all[0].clone();
    failed.state = DeliveryState::Failed;
    store.update_delivery(&failed).await.unwrap();
    let mut later = all[1].clone();
    later.next_at = T0 + 5 * DAY;
    store.update_delivery(&later).await.unwrap();
    let now_pending = all_pending(store, &a).await;
    assert_eq!(now_pending.len(), 7);
    assert!(now_pending.iter().any(|d| d == &later));
    assert!(all_pending(store, &b).await.is_empty());

    // Removal: audited, the log stays.
    assert!(store
        .delete_endpoint(&a, "wh_1", &audit_at(&a, "webhook.delete", T0 + 1))
        .await
        .unwrap());
    assert!(!store
        .delete_endpoint(&a, "wh_1", &audit(&a, "webhook.delete"))
        .await
        .unwrap());
    assert_eq!(store.get_endpoint(&a, "wh_1").await.unwrap(), None);
    assert_eq!(
        store.get_delivery(&a, &all[2].id).await.unwrap(),
        Some(all[2].clone())
    );
    let actions: Vec<String> = all_audit(store, &a, &AuditQuery::default())
        .await
        .into_iter()
        .map(|l| l.action)
        .collect();
    assert_eq!(actions, ["webhook.delete", "webhook.create"]);
}
