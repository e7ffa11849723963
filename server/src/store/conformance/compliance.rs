//! Conformance checks of automation's documents (keyword rules, the word filter's term lists):
//! written whole over the version read (a stale or duplicate write is a conflict and changes
//! nothing), audited, per tenant and kind.

use switchboard_shared::TenantId;

use super::*;
use crate::store::Store;

fn item(tenant: &TenantId, id: &str, version: u64, body: &str) -> AutomationItem {
    AutomationItem {
        tenant: tenant.clone(),
        kind: ItemKind::Rule,
        id: id.into(),
        version,
        updated_at: T0 + version as i64,
        updated_by: "user:u_1".into(),
        body: body.into(),
    }
}

pub async fn automation_items_are_versioned_and_per_tenant(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("rules"), fresh_tenant("rules-other"));
    let conflict = |r: Result<(), crate::store::StoreError>| {
        matches!(r, Err(crate::store::StoreError::Conflict(_)))
    };
    let first = item(&tenant, "ar_1", 1, r#"{"name":"Prices"}"#);
    // Each write its own audit line (an audit id is unique).
    let a = || audit(&tenant, "rule.change");
    store.put_item(&first, Some(&a())).await.unwrap();
    assert!(conflict(store.put_item(&first, Some(&a())).await));
    let second = item(&tenant, "ar_1", 2, r#"{"name":"Prices, again"}"#);
    store.put_item(&second, Some(&a())).await.unwrap();
    assert!(conflict(
        store
            .put_item(&item(&tenant, "ar_1", 2, "{}"), Some(&a()))
            .await
    ));
    store
        .put_item(&item(&tenant, "ar_2", 1, "{}"), Some(&a()))
        .await
        .unwrap();
    let listed = store.list_items(&tenant, ItemKind::Rule).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], second);
    assert!(store
        .list_items(&other, ItemKind::Rule)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .get_item(&tenant, ItemKind::Rule, "ar_1")
            .await
            .unwrap(),
        Some(second)
    );
    assert!(store
        .get_item(&other, ItemKind::Rule, "ar_1")
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .delete_item(&other, ItemKind::Rule, "ar_1", Some(&a()))
        .await
        .unwrap());
    assert!(store
        .delete_item(&tenant, ItemKind::Rule, "ar_1", Some(&a()))
        .await
        .unwrap());
    assert_eq!(
        store
            .list_items(&tenant, ItemKind::Rule)
            .await
            .unwrap()
            .len(),
        1
    );
}
