//! Conformance checks of users, sessions, roles, teams, API keys and the audit log.

use switchboard_shared::*;

use super::*;
use crate::domain::*;
use crate::store::{Store, StoreError};

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

pub(super) async fn all_audit(
    store: &dyn Store,
    tenant: &TenantId,
    query: &AuditQuery,
) -> Vec<AuditRecord> {
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
