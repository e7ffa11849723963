//! Numbers connected from the app: one tenant per phone number id, changes and removals only
//! by that tenant, each with its audit line; the connection's secrets come back byte for byte.

use switchboard_shared::PhoneNumberId;

use super::identity::all_audit;
use super::*;
use crate::domain::{AuditQuery, Connect, NumberConnection};
use crate::store::Store;

fn connection(tenant: &TenantId, id: &PhoneNumberId) -> NumberConnection {
    NumberConnection {
        tenant: tenant.clone(),
        phone_number_id: id.clone(),
        display_phone_number: "15550001111".into(),
        waba_id: Some("102290129340398".into()),
        graph_api_url: "https://graph.facebook.com/v23.0".into(),
        mps: 80,
        enabled: true,
        access_token: vec![1, 0, 255, 7],
        app_secret: vec![2; 40],
        verify_token: vec![3],
        problem: None,
        updated_at: T0,
    }
}

pub async fn numbers_connect_once_across_tenants_with_their_audit(store: &dyn Store) {
    let (a, b) = (fresh_tenant("numbers-a"), fresh_tenant("numbers-b"));
    // Random ids: the table is shared by every run against a long-lived cluster.
    let id = PhoneNumberId::new(format!("9{:015}", rand::random::<u64>() % 10u64.pow(15)));
    let mine = connection(&a, &id);
    assert_eq!(
        store
            .connect_number(&mine, &audit(&a, "number.create"))
            .await
            .unwrap(),
        Connect::Connected
    );
    assert_eq!(
        store
            .connect_number(&mine, &audit(&a, "number.create"))
            .await
            .unwrap(),
        Connect::Exists
    );
    assert_eq!(
        store
            .connect_number(&connection(&b, &id), &audit(&b, "number.create"))
            .await
            .unwrap(),
        Connect::Taken
    );
    // A number another tenant lists (the file's, or history) cannot be connected either.
    let listed = PhoneNumberId::new(format!("8{:015}", rand::random::<u64>() % 10u64.pow(15)));
    store
        .upsert_number(&NumberRecord {
            tenant: a.clone(),
            phone_number_id: listed.clone(),
            display_phone_number: "15550002222".into(),
            waba_id: None,
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .connect_number(&connection(&b, &listed), &audit(&b, "number.create"))
            .await
            .unwrap(),
        Connect::Taken
    );
    let stored = store.number_connections().await.unwrap();
    assert_eq!(stored.iter().filter(|c| c.phone_number_id == id).count(), 1);
    assert_eq!(
        stored.iter().find(|c| c.phone_number_id == id),
        Some(&mine),
        "kept whole, sealed secrets byte for byte"
    );
    assert!(store
        .list_numbers(&a)
        .await
        .unwrap()
        .iter()
        .any(|n| n.phone_number_id == id));
    assert!(store.list_numbers(&b).await.unwrap().is_empty());

    // Only its tenant changes or removes it.
    let theirs = NumberConnection {
        mps: 1_000,
        ..connection(&b, &id)
    };
    assert!(!store
        .update_connection(&theirs, Some(&audit(&b, "number.update")))
        .await
        .unwrap());
    assert!(!store
        .disconnect_number(&b, &id, &audit(&b, "number.delete"))
        .await
        .unwrap());
    let changed = NumberConnection {
        mps: 1_000,
        enabled: false,
        problem: Some("Meta refused the access token (190)".into()),
        display_phone_number: "15550009999".into(),
        updated_at: T0 + 1,
        ..mine.clone()
    };
    assert!(store.update_connection(&changed, None).await.unwrap());
    assert!(store
        .update_connection(&changed, Some(&audit(&a, "number.update")))
        .await
        .unwrap());
    assert_eq!(
        store
            .number_connections()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.phone_number_id == id),
        Some(changed)
    );
    assert_eq!(
        store
            .list_numbers(&a)
            .await
            .unwrap()
            .into_iter()
            .find(|n| n.phone_number_id == id)
            .map(|n| n.display_phone_number),
        Some("15550009999".into()),
        "the tenant's list follows"
    );
    assert!(store
        .disconnect_number(&a, &id, &audit(&a, "number.delete"))
        .await
        .unwrap());
    assert!(!store
        .number_connections()
        .await
        .unwrap()
        .iter()
        .any(|c| c.phone_number_id == id));
    assert!(
        store
            .list_numbers(&a)
            .await
            .unwrap()
            .iter()
            .any(|n| n.phone_number_id == id),
        "its history's place stays"
    );
    // Connected again by its tenant, never by another.
    assert_eq!(
        store
            .connect_number(&connection(&b, &id), &audit(&b, "number.create"))
            .await
            .unwrap(),
        Connect::Taken
    );
    assert_eq!(
        store
            .connect_number(&mine, &audit(&a, "number.create"))
            .await
            .unwrap(),
        Connect::Connected
    );

    let actions: Vec<String> = all_audit(store, &a, &AuditQuery::default())
        .await
        .into_iter()
        .map(|l| l.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.as_str() == "number.create")
            .count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.as_str() == "number.update")
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.as_str() == "number.delete")
            .count(),
        1
    );
    assert!(all_audit(store, &b, &AuditQuery::default())
        .await
        .is_empty());
}
