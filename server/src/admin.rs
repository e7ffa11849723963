//! Operator commands behind `switchboard tenant …` and `switchboard user …`: create and list
//! tenants, create, list, disable and re-enable users, reset passwords. They act on the store
//! directly (safe beside a running server: SQLite serialises the two writers) and check
//! everything the HTTP API will check, so the CLI is no back door.

use std::str::FromStr;

use switchboard_shared::{TenantId, UserId};

use crate::auth::{password, PresetRole};
use crate::config::valid_tenant;
use crate::store::{
    normalize_email, Cursor, Store, StoreError, TenantRecord, UserRecord, MAX_PAGE,
};

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
    #[error("unknown role `{0}`; one of: owner, admin, supervisor, agent, viewer")]
    BadRole(String),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error("a user with email {0} already exists")]
    EmailTaken(String),
    #[error("no user with email {0}")]
    NoSuchUser(String),
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
    jiff::Timestamp::now().as_millisecond()
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
    let email = normalize_email(email);
    if email.len() > 254 || email_address::EmailAddress::from_str(&email).is_err() {
        return Err(AdminError::BadEmail(email));
    }
    let Some(role) = PresetRole::parse(role) else {
        return Err(AdminError::BadRole(role.to_owned()));
    };
    let user = UserRecord {
        tenant: tenant_id,
        id: UserId::new(format!("u_{}", hex::encode(rand::random::<[u8; 12]>()))),
        name: name
            .unwrap_or_else(|| email.split('@').next().unwrap_or(""))
            .to_owned(),
        email: email.clone(),
        role: role.as_str().to_owned(),
        password_hash: hash(password).await?,
        disabled: false,
        created_at: now(),
        session_epoch: 0,
    };
    match store.create_user(&user).await {
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
    let mut user = existing(store, email).await?;
    user.disabled = disabled;
    user.session_epoch += 1;
    store.update_user(&user).await?;
    Ok(user)
}

/// Sets a new password and ends every session of the user.
pub async fn reset_password(
    store: &dyn Store,
    email: &str,
    password: String,
) -> Result<UserRecord, AdminError> {
    let mut user = existing(store, email).await?;
    user.password_hash = hash(password).await?;
    user.session_epoch += 1;
    store.update_user(&user).await?;
    Ok(user)
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
