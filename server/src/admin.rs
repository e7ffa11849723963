//! Operator commands behind `switchboard tenant …`, `switchboard user …`,
//! `switchboard api-key …` and `switchboard number …`: create and list tenants; create, list,
//! disable and re-enable users, reset passwords; create, list and revoke API keys; connect, list,
//! disable, enable and remove numbers. They act on the store directly (safe beside
//! a running server: SQLite serialises the two writers), check everything the HTTP API checks,
//! and leave the same audit lines (actor `cli:<os user>`), so the CLI is no back door.

use switchboard_shared::{ApiKeyId, RoleId, TenantId, UserId};

use crate::auth::principal::audit_line;
use crate::auth::{password, token, Permission, PresetRole, RequestMeta};
use crate::config::valid_tenant;
use crate::domain::now_ms;
use crate::domain::{
    new_id, normalize_email, valid_email, ApiKeyRecord, AuditRecord, TenantRecord, UserRecord,
};
use crate::store::{Cursor, Store, StoreError, MAX_PAGE};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("`{0}` is not a valid tenant id: 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit")]
    BadTenantId(String),
    #[error("tenant `{0}` already exists")]
    TenantExists(String),
    #[error("no tenant `{0}`")]
    NoSuchTenant(String),
    #[error("`{0}` is not a valid email address")]
    BadEmail(String),

    #[error("unknown role `{0}`; one of: owner, admin, supervisor, agent, viewer, or a custom role id of the tenant")]
    BadRole(String),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error("a user with email {0} already exists")]
    EmailTaken(String),
    #[error("no user with email {0}")]
    NoSuchUser(String),
    #[error("unknown permission `{0}`; see docs/security.md")]
    BadPermission(String),
    #[error("an API key needs a name of 1 to 100 characters and at least one permission")]
    BadApiKey,
    #[error("no live API key `{0}` in tenant `{1}`")]
    NoSuchApiKey(String, String),
    #[error(transparent)]
    Numbers(#[from] crate::service::numbers::NumbersError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

async fn tenant_exists(store: &dyn Store, tenant: &TenantId) -> Result<bool, AdminError> {
    Ok(store.list_tenants().await?.iter().any(|t| &t.id == tenant))
}

fn now() -> i64 {
    now_ms()
}

/// The operator running the CLI, for the audit log.
fn cli_actor() -> String {
    format!("cli:{}", crate::config::os_user())
}

fn cli_audit(tenant: &TenantId, action: &str, target: String) -> AuditRecord {
    let actor = cli_actor();
    audit_line(
        tenant,
        actor.clone(),
        actor,
        action,
        Some(target),
        "ok",
        &RequestMeta::default(),
    )
}

pub async fn create_tenant(
    store: &dyn Store,
    id: &str,
    name: Option<&str>,
) -> Result<TenantRecord, AdminError> {
    if !valid_tenant(id) {
        return Err(AdminError::BadTenantId(id.to_owned()));
    }
    let tenant = TenantId::from(id);
    if tenant_exists(store, &tenant).await? {
        return Err(AdminError::TenantExists(id.to_owned()));
    }
    let record = TenantRecord {
        id: tenant,
        name: name.unwrap_or(id).to_owned(),
        created_at: now(),
    };
    store.upsert_tenant(&record).await?;
    Ok(record)
}

/// Hashes off the async threads: a hash takes tens of milliseconds.
async fn hash(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AdminError::Store(StoreError::Unavailable(e.to_string())))?
        .map_err(AdminError::from)
}

pub async fn create_user(
    store: &dyn Store,
    tenant: &str,
    email: &str,
    name: Option<&str>,
    role: &str,
    password: String,
) -> Result<UserRecord, AdminError> {
    let tenant_id = TenantId::from(tenant);
    if !tenant_exists(store, &tenant_id).await? {
        return Err(AdminError::NoSuchTenant(tenant.to_owned()));
    }
    let email = valid_email(email).map_err(|e| AdminError::BadEmail(e.0))?;
    let role = match PresetRole::parse(role) {
        Some(preset) => preset.as_str().to_owned(),
        None if store
            .get_role(&tenant_id, &RoleId::from(role))
            .await?
            .is_some() =>
        {
            role.to_owned()
        }
        None => return Err(AdminError::BadRole(role.to_owned())),
    };
    let user = UserRecord {
        tenant: tenant_id,
        id: UserId::new(new_id("u")),
        name: name
            .unwrap_or_else(|| email.split('@').next().unwrap_or(""))
            .to_owned(),
        email: email.clone(),
        role,
        password_hash: hash(password).await?,
        disabled: false,
        created_at: now(),
        session_epoch: 0,
    };
    let mut audit = cli_audit(&user.tenant, "user.create", format!("user:{}", user.id));
    audit.after = Some(UserRecord::audit_snapshot(&user).to_string());
    match store.create_user(&user, &audit).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(AdminError::EmailTaken(email)),
        Err(e) => Err(e.into()),
    }
}

async fn existing(store: &dyn Store, email: &str) -> Result<UserRecord, AdminError> {
    store
        .user_by_email(email)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(normalize_email(email)))
}

/// Disables (or re-enables) a user. Disabling ends every session at once.
pub async fn set_disabled(
    store: &dyn Store,
    email: &str,
    disabled: bool,
) -> Result<UserRecord, AdminError> {
    let before = existing(store, email).await?;
    let mut user = before.clone();
    user.disabled = disabled;
    user.session_epoch += 1;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    save(store, &before, &user, action).await?;
    Ok(user)
}

/// Sets a new password and ends every session of the user.
pub async fn reset_password(
    store: &dyn Store,
    email: &str,
    password: String,
) -> Result<UserRecord, AdminError> {
    let before = existing(store, email).await?;
    let mut user = before.clone();
    user.password_hash = hash(password).await?;
    user.session_epoch += 1;
    save(store, &before, &user, "user.reset_password").await?;
    Ok(user)
}

async fn save(
    store: &dyn Store,
    before: &UserRecord,
    after: &UserRecord,
    action: &str,
) -> Result<(), AdminError> {
    let mut audit = cli_audit(&after.tenant, action, format!("user:{}", after.id));
    audit.before = Some(UserRecord::audit_snapshot(before).to_string());
    audit.after = Some(UserRecord::audit_snapshot(after).to_string());
    store.update_user(after, &audit).await?;
    Ok(())
}

/// Creates an API key; returns it and the secret to show once.
pub async fn create_api_key(
    store: &dyn Store,
    tenant: &str,
    name: &str,
    permissions: &[String],
) -> Result<(ApiKeyRecord, String), AdminError> {
    let tenant_id = TenantId::from(tenant);
    if !tenant_exists(store, &tenant_id).await? {
        return Err(AdminError::NoSuchTenant(tenant.to_owned()));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || permissions.is_empty() {
        return Err(AdminError::BadApiKey);
    }
    let mut parsed: Vec<Permission> = Vec::new();
    for p in permissions {
        let permission =
            Permission::parse(p).ok_or_else(|| AdminError::BadPermission(p.clone()))?;
        if !parsed.contains(&permission) {
            parsed.push(permission);
        }
    }
    let (id, secret) = token::new_api_key();
    let key = ApiKeyRecord {
        id: id.into(),
        tenant: tenant_id,
        name: name.to_owned(),
        secret_hash: token::hash(&secret),
        permissions: parsed.iter().map(|p| p.as_str().to_owned()).collect(),
        created_by: cli_actor(),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    let mut audit = cli_audit(&key.tenant, "api_key.create", format!("api_key:{}", key.id));
    audit.after = Some(ApiKeyRecord::audit_snapshot(&key).to_string());
    store.create_api_key(&key, &audit).await?;
    Ok((key, secret))
}

/// A tenant's API keys, revoked ones included.
pub async fn list_api_keys(
    store: &dyn Store,
    tenant: &str,
) -> Result<Vec<ApiKeyRecord>, AdminError> {
    let tenant_id = TenantId::from(tenant);
    if !tenant_exists(store, &tenant_id).await? {
        return Err(AdminError::NoSuchTenant(tenant.to_owned()));
    }
    Ok(store.list_api_keys(&tenant_id).await?)
}

/// Revokes a live key of the tenant.
pub async fn revoke_api_key(store: &dyn Store, tenant: &str, id: &str) -> Result<(), AdminError> {
    let tenant_id = TenantId::from(tenant);
    let missing = || AdminError::NoSuchApiKey(id.to_owned(), tenant.to_owned());
    let key = store
        .get_api_key(&ApiKeyId::from(id))
        .await?
        .filter(|k| k.tenant == tenant_id && k.revoked_at.is_none())
        .ok_or_else(missing)?;
    let at = now();
    let mut after = key.clone();
    after.revoked_at = Some(at);
    let mut audit = cli_audit(&tenant_id, "api_key.revoke", format!("api_key:{id}"));
    audit.before = Some(ApiKeyRecord::audit_snapshot(&key).to_string());
    audit.after = Some(ApiKeyRecord::audit_snapshot(&after).to_string());
    if store
        .revoke_api_key(&tenant_id, &key.id, at, &audit)
        .await?
    {
        Ok(())
    } else {
        Err(missing())
    }
}

/// Every user of a tenant, ordered by email.
pub async fn list_users(store: &dyn Store, tenant: &str) -> Result<Vec<UserRecord>, AdminError> {
    let tenant_id = TenantId::from(tenant);
    if !tenant_exists(store, &tenant_id).await? {
        return Err(AdminError::NoSuchTenant(tenant.to_owned()));
    }
    let mut users = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .list_users(&tenant_id, cursor.as_ref(), MAX_PAGE)
            .await?;
        users.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(users),
        }
    }
}

/// A `switchboard number …` command.
pub enum NumberRequest {
    Add {
        tenant: String,
        input: Box<crate::service::numbers::NumberInput>,
    },
    List {
        tenant: String,
    },
    Enable {
        tenant: String,
        id: switchboard_shared::PhoneNumberId,
        enabled: bool,
    },
    Remove {
        tenant: String,
        id: switchboard_shared::PhoneNumberId,
    },
}

/// Runs a `switchboard number …` command through the same use cases as the API, with the same
/// audit lines (never a secret in them), and prints its outcome.
pub async fn number(
    store: &dyn Store,
    numbers: &crate::service::numbers::Numbers,
    request: NumberRequest,
) -> anyhow::Result<()> {
    let tenant_of = |t: &str| TenantId::new(t);
    match request {
        NumberRequest::Add { tenant, input } => {
            let tenant = tenant_of(&tenant);
            if !tenant_exists(store, &tenant).await? {
                return Err(AdminError::NoSuchTenant(tenant.to_string()).into());
            }
            let mut line = cli_audit(
                &tenant,
                "number.create",
                format!("number:{}", input.phone_number_id),
            );
            line.after = Some(input.audit_snapshot());
            let v = numbers.add(&tenant, *input, line).await?;
            println!(
                "connected {} (+{}) to {tenant}",
                v.phone_number_id, v.display_phone_number
            );
            if let Some(problem) = v.problem {
                eprintln!("saved, but flagged: {problem}");
            }
        }
        NumberRequest::List { tenant } => {
            for v in numbers.list(&tenant_of(&tenant)).await? {
                let state = match (v.managed_by, v.enabled) {
                    ("app", true) => "enabled",
                    ("app", false) => "disabled",
                    (other, _) => other,
                };
                println!(
                    "{}\t+{}\t{}\t{}\t{}",
                    v.phone_number_id,
                    v.display_phone_number,
                    state,
                    v.mps.map(|m| m.to_string()).unwrap_or_default(),
                    v.problem.unwrap_or_default()
                );
            }
        }
        NumberRequest::Enable {
            tenant,
            id,
            enabled,
        } => {
            let tenant = tenant_of(&tenant);
            let mut line = cli_audit(&tenant, "number.update", format!("number:{id}"));
            line.after = Some(serde_json::json!({ "enabled": enabled }).to_string());
            let change = crate::service::numbers::NumberChange {
                enabled: Some(enabled),
                ..Default::default()
            };
            numbers.change(&tenant, &id, change, line).await?;
            println!("{} {id}", if enabled { "enabled" } else { "disabled" });
        }
        NumberRequest::Remove { tenant, id } => {
            let tenant = tenant_of(&tenant);
            let line = cli_audit(&tenant, "number.delete", format!("number:{id}"));
            numbers.remove(&tenant, &id, line).await?;
            println!("removed {id}; its conversations stay");
        }
    }
    Ok(())
}
