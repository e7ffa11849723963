//! Who is calling: sign-in, sessions, API keys and the one-time setup link.
//!
//! A [`Principal`] is made only here, from a credential the store vouches for, and is the only
//! way to a [`TenantScope`](super::TenantScope): whatever a handler does afterwards happens in
//! the caller's tenant.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_shared::{ApiKeyId, Permission, PhoneNumberId, TenantId, UserId};

use super::roles::{self, Visibility};
use super::throttle::{Locked, LoginThrottle, Policy};
use super::{password, token, TenantScope};
use crate::config::AuthConfig;
use crate::domain::now_ms;
use crate::domain::{
    new_id, normalize_email, ApiKeyRecord, AuditRecord, SessionRecord, TeamRecord, TenantRecord,
    UnixMillis, UserRecord,
};
use crate::store::{Store, StoreError};

/// No failed sign-in is answered sooner than this after it arrived: the Argon2 work is the same
/// for every attempt, and this hides what else differs (reading the account, writing the audit
/// line), so timing tells nothing about which emails exist.
pub const FAILURE_FLOOR: Duration = Duration::from_millis(120);

/// Activity is written back to a session at most this often.
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

/// Where a request came from, for throttling and the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// How the caller proved who they are.
#[derive(Clone, Debug)]
pub enum Credential {
    /// The PWA's session cookie: writes need the CSRF token.
    Cookie {
        token: String,
    },
    /// A session token in `Authorization: Bearer`.
    Bearer {
        token: String,
    },
    ApiKey,
    /// Not a caller: a colleague looked up to check what they may read (a mention).
    Lookup,
}

impl Credential {
    pub fn session_token(&self) -> Option<&str> {
        match self {
            Credential::Cookie { token } | Credential::Bearer { token } => Some(token),
            Credential::ApiKey | Credential::Lookup => None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Actor {
    User(UserRecord),
    ApiKey(ApiKeyRecord),
}

/// An authenticated caller: their tenant, what they may do, and how they signed in.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant: TenantId,
    pub actor: Actor,
    pub permissions: BTreeSet<Permission>,
    /// The teams the user belongs to (none for an API key).
    pub teams: Vec<TeamRecord>,
    pub credential: Credential,
    pub meta: RequestMeta,
}

impl Principal {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn user(&self) -> Option<&UserRecord> {
        match &self.actor {
            Actor::User(u) => Some(u),
            Actor::ApiKey(_) => None,
        }
    }

    /// `user:u_…` or `api_key:k_…`.
    pub fn actor_id(&self) -> String {
        match &self.actor {
            Actor::User(u) => format!("user:{}", u.id),
            Actor::ApiKey(k) => format!("api_key:{}", k.id),
        }
    }

    pub fn actor_name(&self) -> String {
        match &self.actor {
            Actor::User(u) => u.email.clone(),
            Actor::ApiKey(k) => k.name.clone(),
        }
    }

    /// The store, bound to this caller's tenant.
    pub fn scope(&self, store: &Arc<dyn Store>) -> TenantScope {
        TenantScope::new(Arc::clone(store), self.tenant.clone())
    }

    /// An audit line of something this caller did.
    pub fn audit(&self, action: &str, target: Option<String>, outcome: &str) -> AuditRecord {
        audit_line(
            &self.tenant,
            self.actor_id(),
            self.actor_name(),
            action,
            target,
            outcome,
            &self.meta,
        )
    }

    /// Whether the caller may read a conversation of their tenant on `number`, held by
    /// `assignee`: every one (`read.all`), those of their teams' numbers and their own
    /// (`read.team`), or only their own (`read.assigned`).
    pub fn sees(&self, number: &PhoneNumberId, assignee: Option<&UserId>) -> bool {
        let mine = self
            .user()
            .is_some_and(|u| assignee.is_some_and(|a| *a == u.id));
        Visibility::of(&self.permissions).admits(mine, || {
            self.teams.iter().any(|t| t.numbers.contains(number))
        })
    }

    /// This caller's visibility as the hub checks it on every event.
    pub fn viewer(&self) -> super::Viewer {
        super::Viewer::of(self)
    }
}

/// An audit line with no before/after.
pub fn audit_line(
    tenant: &TenantId,
    actor: String,
    actor_name: String,
    action: &str,
    target: Option<String>,
    outcome: &str,
    meta: &RequestMeta,
) -> AuditRecord {
    AuditRecord {
        tenant: tenant.clone(),
        id: new_id("a"),
        at_ms: now_ms(),
        actor,
        actor_name,
        action: action.to_owned(),
        target,
        outcome: outcome.to_owned(),
        ip: meta.ip.map(|ip| ip.to_string()),
        user_agent: meta.user_agent.clone(),
        before: None,
        after: None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// A wrong password, an unknown email, or a disabled account: one answer for all three.
    #[error("wrong email or password")]
    Invalid,
    #[error(transparent)]
    Busy(#[from] password::Busy),
    #[error("{}", locked_message(.0))]
    Locked(Locked),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn locked_message(lock: &Locked) -> String {
    let minutes = lock.retry_after.as_secs().div_ceil(60).max(1);
    let what = match lock.scope {
        super::throttle::LockScope::Account => "this account",
        super::throttle::LockScope::Address => "your address",
    };
    format!(
        "too many failed sign-in attempts for {what}; try again in {minutes} minute{}",
        if minutes == 1 { "" } else { "s" }
    )
}

/// A new session: the token to hand out (once) and its record.
pub struct NewSession {
    pub token: String,
    pub principal: Principal,
    pub expires_at: UnixMillis,
}

/// Checks credentials and keeps sessions.
pub struct Authenticator {
    store: Arc<dyn Store>,
    session_ms: i64,
    idle_ms: i64,
    throttle: LoginThrottle,
    pub setup: SetupGrants,
    /// Where every password is hashed and checked, a bounded few at a time.
    pub hashing: Arc<password::Hashing>,
    /// Refusals recorded at most once a minute per caller and kind (ids probed, locked accounts).
    pub refusals: super::throttle::AuditLimiter,
}

fn hours_ms(h: u64) -> i64 {
    (h.min(24 * 365 * 10) * 3_600_000) as i64
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, config: &AuthConfig) -> Self {
        let window = Duration::from_secs(config.lockout_minutes.saturating_mul(60));
        Self {
            store,
            session_ms: hours_ms(config.session_hours),
            idle_ms: hours_ms(config.idle_hours),
            throttle: LoginThrottle::new(
                Policy {
                    max_failures: config.max_failures_per_account,
                    window,
                },
                Policy {
                    max_failures: config.max_failures_per_ip,
                    window,
                },
            ),
            setup: SetupGrants::default(),
            refusals: super::throttle::AuditLimiter::new(Duration::from_secs(60)),
            hashing: password::Hashing::within(
                config.hashing_memory_mib,
                Duration::from_secs(config.hashing_wait_secs),
            ),
        }
    }

    /// The display name of a tenant (its id when it has none).
    pub async fn tenant_name(&self, tenant: &TenantId) -> Result<String, StoreError> {
        Ok(self
            .store
            .list_tenants()
            .await?
            .into_iter()
            .find(|t| &t.id == tenant)
            .map(|t| t.name)
            .unwrap_or_else(|| tenant.to_string()))
    }

    /// What another user of the tenant may do (to check that a mention may read what it is
    /// about). Never a caller's identity.
    pub async fn colleague(&self, user: UserRecord) -> Result<Principal, StoreError> {
        self.principal_of(user, Credential::Lookup, RequestMeta::default())
            .await
    }

    /// Builds the principal of a user, or `None` when the user may not act (disabled).
    async fn principal_of(
        &self,
        user: UserRecord,
        credential: Credential,
        meta: RequestMeta,
    ) -> Result<Principal, StoreError> {
        let permissions = roles::permissions_of(self.store.as_ref(), &user.tenant, &user.role)
            .await?
            .unwrap_or_default();
        let teams = self
            .store
            .list_teams(&user.tenant)
            .await?
            .into_iter()
            .filter(|t| t.members.contains(&user.id))
            .collect();
        Ok(Principal {
            tenant: user.tenant.clone(),
            actor: Actor::User(user),
            permissions,
            teams,
            credential,
            meta,
        })
    }

    /// Signs in with email and password, creating a session. Throttled per account and address
    /// before any password work; an unknown email, a wrong password and a disabled account get
    /// the same answer after the same Argon2 work, and no failure is answered sooner than
    /// [`FAILURE_FLOOR`] after it arrived, so neither the answer nor its timing tells which
    /// emails exist or which accounts are disabled.
    pub async fn login(
        &self,
        email: &str,
        password_text: String,
        cookie: bool,
        meta: RequestMeta,
    ) -> Result<NewSession, LoginError> {
        let started = tokio::time::Instant::now();
        let email = normalize_email(email);
        if let Err(lock) = self.throttle.check(&email, meta.ip, Instant::now()) {
            // Attempts while locked are recorded (once a minute per account) in the account's
            // tenant; an unknown email has no tenant to record them in.
            if self
                .refusals
                .admit(&format!("locked:{email}"), Instant::now())
            {
                if let Some(user) = self.store.user_by_email(&email).await? {
                    let line = audit_line(
                        &user.tenant,
                        "anonymous".into(),
                        email.clone(),
                        "auth.login",
                        Some(format!("user:{}", user.id)),
                        "locked",
                        &meta,
                    );
                    self.store.append_audit(&line).await?;
                }
            }
            return Err(LoginError::Locked(lock));
        }
        let user = self.store.user_by_email(&email).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        // A hash made with weaker parameters than today's is replaced while the password is at
        // hand.
        // The throttle is asked again when the check's turn comes: attempts queued behind a
        // burst that locked the account or address cost no Argon2 work.
        let gate = || self.throttle.check(&email, meta.ip, Instant::now()).is_ok();
        let Some((ok, rehashed)) = self.hashing.check(password_text, hash, gate).await? else {
            return Err(self
                .throttle
                .check(&email, meta.ip, Instant::now())
                .map_or_else(LoginError::Locked, |()| LoginError::Invalid));
        };
        let user = match user {
            Some(user) if ok && !user.disabled => user,
            user => {
                let lock = self.throttle.failed(&email, meta.ip, Instant::now());
                if let Some(user) = user {
                    let (action, outcome) = match (&lock, ok) {
                        (Some(_), _) => ("auth.lockout", "failed"),
                        // The right password for a disabled account: recorded as such, answered
                        // like any failure.
                        (None, true) => ("auth.login", "denied"),
                        (None, false) => ("auth.login", "failed"),
                    };
                    let line = audit_line(
                        &user.tenant,
                        "anonymous".into(),
                        email.clone(),
                        action,
                        Some(format!("user:{}", user.id)),
                        outcome,
                        &meta,
                    );
                    self.store.append_audit(&line).await?;
                }
                tokio::time::sleep_until(started + FAILURE_FLOOR).await;
                return Err(lock.map_or(LoginError::Invalid, LoginError::Locked));
            }
        };
        self.throttle.succeeded(&email);
        let user = match rehashed {
            Some(new_hash) => {
                let mut upgraded = user.clone();
                upgraded.password_hash = new_hash;
                let line = audit_line(
                    &user.tenant,
                    format!("user:{}", user.id),
                    email.clone(),
                    "auth.password_rehash",
                    Some(format!("user:{}", user.id)),
                    "ok",
                    &meta,
                );
                self.store.update_user(&upgraded, &line).await?;
                upgraded
            }
            None => user,
        };
        let token = token::new_session_token();
        let credential = if cookie {
            Credential::Cookie {
                token: token.clone(),
            }
        } else {
            Credential::Bearer {
                token: token.clone(),
            }
        };
        let principal = self.principal_of(user, credential, meta).await?;
        let expires_at = self.start_session(&principal, &token, "auth.login").await?;
        Ok(NewSession {
            token,
            principal,
            expires_at,
        })
    }

    /// Stores a session for `principal` under `token`, with its audit line.
    async fn start_session(
        &self,
        principal: &Principal,
        token: &str,
        action: &str,
    ) -> Result<UnixMillis, StoreError> {
        let user = principal
            .user()
            .ok_or_else(|| StoreError::Invalid("API keys have no sessions".into()))?;
        let now = now_ms();
        let session = SessionRecord {
            token_hash: token::hash(token),
            tenant: user.tenant.clone(),
            user: user.id.clone(),
            epoch: user.session_epoch,
            created_at: now,
            expires_at: now + self.session_ms,
            last_seen_at: now,
            ip: principal.meta.ip.map(|ip| ip.to_string()),
            user_agent: principal.meta.user_agent.clone(),
        };
        let mut line = principal.audit(action, Some(format!("user:{}", user.id)), "ok");
        line.after = Some(
            serde_json::json!({
                "via": match principal.credential {
                    Credential::Cookie { .. } => "cookie",
                    _ => "bearer",
                },
                "expires_at": session.expires_at,
            })
            .to_string(),
        );
        self.store.create_session(&session, &line).await?;
        Ok(session.expires_at)
    }

    /// The principal behind a session token, if the session is alive: not expired, not idle too
    /// long, its user enabled and not logged out everywhere since.
    pub async fn from_session(
        &self,
        credential: Credential,
        meta: RequestMeta,
    ) -> Result<Option<Principal>, StoreError> {
        let Some(presented) = credential.session_token() else {
            return Ok(None);
        };
        if !token::looks_like_session(presented) {
            return Ok(None);
        }
        let hash = token::hash(presented);
        let Some(session) = self.store.get_session(&hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        if now >= session.expires_at || now - session.last_seen_at > self.idle_ms {
            return Ok(None);
        }
        let Some(user) = self.store.get_user(&session.tenant, &session.user).await? else {
            return Ok(None);
        };
        if user.disabled || user.session_epoch != session.epoch {
            return Ok(None);
        }
        if now - session.last_seen_at > TOUCH_EVERY_MS {
            self.store
                .touch_session(&hash, now, session.expires_at)
                .await?;
        }
        self.principal_of(user, credential, meta).await.map(Some)
    }

    /// The principal behind an API key, if it exists and is not revoked.
    pub async fn from_api_key(
        &self,
        key: &str,
        meta: RequestMeta,
    ) -> Result<Option<Principal>, StoreError> {
        let Some((id, hash)) = token::parse_api_key(key) else {
            return Ok(None);
        };
        let id = ApiKeyId::new(id);
        let Some(record) = self.store.get_api_key(&id).await? else {
            return Ok(None);
        };
        if !token::same(&record.secret_hash, &hash) || record.revoked_at.is_some() {
            return Ok(None);
        }
        let now = now_ms();
        if record
            .last_used_at
            .is_none_or(|used| now - used > TOUCH_EVERY_MS)
        {
            self.store.touch_api_key(&id, now).await?;
        }
        Ok(Some(Principal {
            tenant: record.tenant.clone(),
            permissions: roles::effective(roles::parse_names(&record.permissions)),
            actor: Actor::ApiKey(record),
            teams: Vec::new(),
            credential: Credential::ApiKey,
            meta,
        }))
    }

    /// Ends the caller's session.
    pub async fn logout(&self, principal: &Principal) -> Result<(), StoreError> {
        if let Some(token) = principal.credential.session_token() {
            let line = principal.audit("auth.logout", None, "ok");
            self.store
                .delete_session(&token::hash(token), &line)
                .await?;
        }
        Ok(())
    }

    /// Ends every session of the caller's user, this one included.
    pub async fn logout_everywhere(&self, principal: &Principal) -> Result<(), StoreError> {
        let Some(user) = principal.user() else {
            return Ok(());
        };
        let mut updated = user.clone();
        updated.session_epoch += 1;
        let mut line = principal.audit(
            "auth.logout_everywhere",
            Some(format!("user:{}", user.id)),
            "ok",
        );
        line.before = Some(serde_json::json!({"session_epoch": user.session_epoch}).to_string());
        line.after = Some(serde_json::json!({"session_epoch": updated.session_epoch}).to_string());
        self.store.update_user(&updated, &line).await?;
        Ok(())
    }

    /// Changes the caller's own password after checking the current one. Every other session
    /// ends; the caller gets a fresh session (rotation), returned.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: String,
        new: String,
    ) -> Result<NewSession, ChangePasswordError> {
        let user = principal
            .user()
            .ok_or(ChangePasswordError::NotAUser)?
            .clone();
        // A stolen session must not become a way to guess the password: the same throttle as
        // sign-in (per account and address), and every wrong guess is audited.
        let meta = &principal.meta;
        self.throttle
            .check(&user.email, meta.ip, Instant::now())
            .map_err(ChangePasswordError::Locked)?;
        password::check_policy(&new).map_err(ChangePasswordError::Policy)?;
        if !self
            .hashing
            .verify(current, user.password_hash.clone())
            .await?
        {
            let lock = self.throttle.failed(&user.email, meta.ip, Instant::now());
            let action = if lock.is_some() {
                "auth.lockout"
            } else {
                "auth.password_change"
            };
            let line = principal.audit(action, Some(format!("user:{}", user.id)), "failed");
            self.store.append_audit(&line).await?;
            return Err(lock.map_or(
                ChangePasswordError::WrongPassword,
                ChangePasswordError::Locked,
            ));
        }
        self.throttle.succeeded(&user.email);
        let checked = self
            .hashing
            .hash(new)
            .await?
            .map_err(ChangePasswordError::Policy)?;
        let mut updated = user.clone();
        updated.password_hash = checked;
        updated.session_epoch += 1;
        let line = principal.audit(
            "auth.password_change",
            Some(format!("user:{}", user.id)),
            "ok",
        );
        self.store.update_user(&updated, &line).await?;
        let token = token::new_session_token();
        let credential = match principal.credential {
            Credential::Cookie { .. } => Credential::Cookie {
                token: token.clone(),
            },
            _ => Credential::Bearer {
                token: token.clone(),
            },
        };
        let fresh = self
            .principal_of(updated, credential, principal.meta.clone())
            .await?;
        let expires_at = self
            .start_session(&fresh, &token, "auth.session_rotate")
            .await?;
        Ok(NewSession {
            token,
            principal: fresh,
            expires_at,
        })
    }

    /// A setup link exists only while there is nobody to own the workspace: once its tenant (or,
    /// for a new-workspace link, any tenant) has a user, however they were made, the link is
    /// withdrawn and refused. The store is asked, not memory, so a user created by the operator
    /// CLI in another process counts.
    async fn withdraw_if_owned(
        &self,
        grant_token: &str,
        grant: Option<&TenantId>,
    ) -> Result<(), SetupError> {
        let tenants = match grant {
            Some(tenant) => vec![tenant.clone()],
            None => self
                .store
                .list_tenants()
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect(),
        };
        for tenant in tenants {
            if !self
                .store
                .list_users(&tenant, None, 1)
                .await?
                .items
                .is_empty()
            {
                self.setup.take(grant_token);
                return Err(SetupError::InvalidToken);
            }
        }
        Ok(())
    }

    /// Creates the first administrator through a one-time setup token.
    pub async fn complete_setup(
        &self,
        grant_token: &str,
        tenant_name: Option<&str>,
        name: &str,
        email: &str,
        password_text: String,
        meta: RequestMeta,
    ) -> Result<UserRecord, SetupError> {
        let grant = self
            .setup
            .peek(grant_token)
            .ok_or(SetupError::InvalidToken)?;
        self.withdraw_if_owned(grant_token, grant.as_ref()).await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(SetupError::Input("name must be 1 to 200 characters".into()));
        }
        let workspace = tenant_name.map(str::trim).filter(|n| !n.is_empty());
        for (field, value) in [("name", Some(name)), ("workspace name", workspace)] {
            if let Some(Err(spoof)) = value.map(switchboard_shared::text::check_name) {
                return Err(SetupError::Input(format!("{field} {}", spoof.describe())));
            }
        }
        let email =
            crate::domain::valid_email(email).map_err(|e| SetupError::Input(e.to_string()))?;
        let hash = self
            .hashing
            .hash(password_text)
            .await?
            .map_err(|e| SetupError::Input(e.to_string()))?;
        // Only now is the token spent: a typo above leaves it usable.
        let grant = self
            .setup
            .take(grant_token)
            .filter(|g| g == &grant)
            .ok_or(SetupError::InvalidToken)?;
        // An owner may have been made meanwhile (by the operator CLI, another process).
        self.withdraw_if_owned(grant_token, grant.as_ref()).await?;
        let tenant = match grant {
            Some(tenant) => tenant,
            None => {
                let display = tenant_name.map(str::trim).filter(|n| !n.is_empty());
                let display = display.unwrap_or("My workspace");
                let slug = crate::domain::slug_for(display);
                let id = free_tenant_id(self.store.as_ref(), &slug).await?;
                self.store
                    .upsert_tenant(&TenantRecord {
                        id: id.clone(),
                        name: display.chars().take(200).collect(),
                        created_at: now_ms(),
                    })
                    .await?;
                id
            }
        };
        let user = UserRecord {
            tenant: tenant.clone(),
            id: UserId::new(new_id("u")),
            email: email.clone(),
            name: name.to_owned(),
            role: "owner".into(),
            password_hash: hash,
            disabled: false,
            created_at: now_ms(),
            session_epoch: 0,
        };
        let mut line = audit_line(
            &tenant,
            "setup".into(),
            email.clone(),
            "user.create",
            Some(format!("user:{}", user.id)),
            "ok",
            &meta,
        );
        line.after = Some(user.audit_snapshot().to_string());
        match self.store.create_user(&user, &line).await {
            Ok(()) => Ok(user),
            Err(e) => {
                // Nothing was written: give the token back.
                self.setup.restore(grant_token, Some(tenant));
                Err(match e {
                    StoreError::Conflict(_) => {
                        SetupError::Input(format!("a user with email {email} already exists"))
                    }
                    e => SetupError::Store(e),
                })
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("API keys have no password")]
    NotAUser,
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("{}", locked_message(.0))]
    Locked(Locked),
    #[error(transparent)]
    Busy(#[from] password::Busy),
    #[error(transparent)]
    Policy(password::PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("this setup link is invalid or was already used; restart the server for a new one if no administrator exists")]
    InvalidToken,
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Busy(#[from] password::Busy),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One-time setup tokens, held in memory only: each start of a server whose tenant has no users
/// prints fresh ones, and using one spends it. A grant names the tenant the first administrator
/// joins, or none to create a tenant.
#[derive(Default)]
pub struct SetupGrants {
    grants: Mutex<Vec<(String, Option<TenantId>)>>,
}

impl SetupGrants {
    /// A new token for `tenant` (or for a new tenant).
    pub fn issue(&self, tenant: Option<TenantId>) -> String {
        let token = format!("setup_{}", hex::encode(rand::random::<[u8; 24]>()));
        if let Ok(mut grants) = self.grants.lock() {
            grants.push((token::hash(&token), tenant));
        }
        token
    }

    fn peek(&self, token: &str) -> Option<Option<TenantId>> {
        let hash = token::hash(token);
        let grants = self.grants.lock().ok()?;
        grants
            .iter()
            .find(|(h, _)| token::same(h, &hash))
            .map(|(_, t)| t.clone())
    }

    fn take(&self, token: &str) -> Option<Option<TenantId>> {
        let hash = token::hash(token);
        let mut grants = self.grants.lock().ok()?;
        let at = grants.iter().position(|(h, _)| token::same(h, &hash))?;
        Some(grants.remove(at).1)
    }

    fn restore(&self, token: &str, tenant: Option<TenantId>) {
        if let Ok(mut grants) = self.grants.lock() {
            grants.push((token::hash(token), tenant));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.grants.lock().map(|g| g.is_empty()).unwrap_or(true)
    }
}

/// `slug`, or `slug-2`, `slug-3`… whichever no tenant has yet.
pub async fn free_tenant_id(store: &dyn Store, slug: &str) -> Result<TenantId, StoreError> {
    let taken: Vec<TenantId> = store
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut candidate = TenantId::from(slug);
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = TenantId::new(format!("{slug}-{n}"));
        n += 1;
    }
    Ok(candidate)
}
