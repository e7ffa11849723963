//! Conformance checks of the word filter's term lists and automation's documents: written whole
//! over the version read (a stale or duplicate write is a conflict and changes nothing),
//! audited, per tenant.

use switchboard_shared::compliance::{FilterAction, PatternKind, TermFit};
use switchboard_shared::{TenantId, TermListId};

use super::*;
use crate::store::Store;

fn list(tenant: &TenantId, id: &str, version: u64, terms: &[&str]) -> TermListRecord {
    TermListRecord {
        tenant: tenant.clone(),
        id: TermListId::new(id),
        version,
        updated_at: T0 + version as i64,
        updated_by: "user:u_1".into(),
        body: TermListBody {
            name: "Spam".into(),
            category: "spam".into(),
            action: FilterAction::Block,
            fit: TermFit::Word,
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            exceptions: vec!["free shipping".into()],
            patterns: vec![PatternKind::CardNumber],
            teams: vec![],
            enabled: true,
        },
    }
}

pub async fn term_lists_are_versioned_audited_and_per_tenant(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("terms"), fresh_tenant("terms-other"));
    let first = list(&tenant, "tl_a", 1, &["free", "бесплатно"]);
    store
        .put_term_list(&first, &audit(&tenant, "term_list.create"))
        .await
        .unwrap();
    // Made twice (a second create of the same id): a conflict, the first stands.
    let again = list(&tenant, "tl_a", 1, &["other"]);
    assert!(matches!(
        store
            .put_term_list(&again, &audit(&tenant, "term_list.create"))
            .await,
        Err(crate::store::StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_term_list(&tenant, &first.id)
            .await
            .unwrap()
            .unwrap(),
        first
    );
    let second = list(&tenant, "tl_a", 2, &["win"]);
    store
        .put_term_list(&second, &audit(&tenant, "term_list.update"))
        .await
        .unwrap();
    // A writer who read version 1 comes too late.
    let stale = list(&tenant, "tl_a", 2, &["stale"]);
    assert!(matches!(
        store
            .put_term_list(&stale, &audit(&tenant, "term_list.update"))
            .await,
        Err(crate::store::StoreError::Conflict(_))
    ));
    let stored = store.list_term_lists(&tenant).await.unwrap();
    assert_eq!(stored, vec![second.clone()]);
    assert!(store.list_term_lists(&other).await.unwrap().is_empty());
    assert!(store
        .get_term_list(&other, &second.id)
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .delete_term_list(&other, &second.id, &audit(&other, "term_list.delete"))
        .await
        .unwrap());
    assert!(store
        .delete_term_list(&tenant, &second.id, &audit(&tenant, "term_list.delete"))
        .await
        .unwrap());
    assert!(store.list_term_lists(&tenant).await.unwrap().is_empty());
    let log = store
        .audit_log(&tenant, &Default::default(), None, 50)
        .await
        .unwrap();
    // One line per change that applied (the helper's lines share a time, so order is free).
    let mut actions: Vec<&str> = log.items.iter().map(|a| a.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["term_list.create", "term_list.delete", "term_list.update"]
    );
}

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
    store.put_item(&first, &a()).await.unwrap();
    assert!(conflict(store.put_item(&first, &a()).await));
    let second = item(&tenant, "ar_1", 2, r#"{"name":"Prices, again"}"#);
    store.put_item(&second, &a()).await.unwrap();
    assert!(conflict(
        store.put_item(&item(&tenant, "ar_1", 2, "{}"), &a()).await
    ));
    store
        .put_item(&item(&tenant, "ar_2", 1, "{}"), &a())
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
        .delete_item(&other, ItemKind::Rule, "ar_1", &a())
        .await
        .unwrap());
    assert!(store
        .delete_item(&tenant, ItemKind::Rule, "ar_1", &a())
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
