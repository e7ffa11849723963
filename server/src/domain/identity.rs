//! Who signs in and what they may do: users, sessions, API keys, custom roles, teams and the audit
//! log. Shaped for Scylla first: sessions and API keys are found by one key (the hash of the
//! secret, the key id), roles and teams are small bounded sets in one partition per tenant, and
//! the audit log is partitioned by (tenant, day) and clustered newest first.

use std::str::FromStr as _;

use switchboard_shared::{ApiKeyId, PhoneNumberId, RoleId, TeamId, TenantId, UserId};

use super::UnixMillis;

/// A person who signs in to one tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub tenant: TenantId,
    pub id: UserId,
    /// Unique across all tenants, stored as given by [`normalize_email`].
    pub email: String,
    pub name: String,
    /// A preset role name (`owner`, `admin`, `supervisor`, `agent`, `viewer`) or a custom role id.
    pub role: String,
    /// Argon2id in PHC form.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: UnixMillis,
    /// Bumped to end every session of the user at once (log out everywhere, password reset,
    /// disabling, a change of role).
    pub session_epoch: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("session_epoch", &self.session_epoch)
            .finish_non_exhaustive()
    }
}

/// Emails compare case-insensitively and without surrounding space.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A signed-in browser or API client. The token itself is never stored: only its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Hex SHA-256 of the token the client holds.
    pub token_hash: String,
    pub tenant: TenantId,
    pub user: UserId,
    /// The user's `session_epoch` when the session began; a later epoch ends it.
    pub epoch: i64,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub last_seen_at: UnixMillis,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("tenant", &self.tenant)
            .field("user", &self.user)
            .field("epoch", &self.epoch)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A credential for a third-party client, limited to a set of permissions.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public part of the key (`k_…`), unique across tenants.
    pub id: ApiKeyId,
    pub tenant: TenantId,
    pub name: String,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// Dotted permission names.
    pub permissions: Vec<String>,
    /// Who created it (`user:u_…` or `cli:…`).
    pub created_by: String,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("name", &self.name)
            .field("permissions", &self.permissions)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A tenant's own role: a named set of permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRecord {
    pub tenant: TenantId,
    /// `r_…`; never a preset name.
    pub id: RoleId,
    pub name: String,
    /// Dotted permission names.
    pub permissions: Vec<String>,
    pub created_at: UnixMillis,
}

/// A group of users who share the conversations of some numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRecord {
    pub tenant: TenantId,
    /// `t_…`.
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    /// The numbers whose conversations the team sees.
    pub numbers: Vec<PhoneNumberId>,
    pub created_at: UnixMillis,
}

/// How an audited action ended: done, refused by a permission, failed (a wrong password), or
/// aimed at something that does not exist (or that the caller may not see).
pub const AUDIT_OUTCOMES: [&str; 4] = ["ok", "denied", "failed", "not_found"];

/// One line of the append-only audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub tenant: TenantId,
    /// Unique, ordered within a millisecond by chance only; the position is (at_ms, id).
    pub id: String,
    pub at_ms: UnixMillis,
    /// `user:u_…`, `api_key:k_…`, `cli:<os user>`, `setup` or `anonymous`.
    pub actor: String,
    /// Who that is, for people reading the log (an email, a key's name).
    pub actor_name: String,
    /// What happened, dotted: `user.create`, `auth.login`, `conversation.read`, …
    pub action: String,
    /// What it happened to (`user:u_…`, `role:r_…`), when anything.
    pub target: Option<String>,
    /// One of [`AUDIT_OUTCOMES`].
    pub outcome: String,
    /// Where from: the client address (after trusted proxies), when known.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The target before and after, as JSON, for changes.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Filters of an audit-log read. All present filters must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// Matches the action itself or any action under it (`user` matches `user.create`).
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    /// Inclusive lower bound.
    pub since_ms: Option<UnixMillis>,
    /// Exclusive upper bound.
    pub until_ms: Option<UnixMillis>,
}

impl AuditQuery {
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.actor.as_ref().is_none_or(|a| &r.actor == a)
            && self.action.as_ref().is_none_or(|a| {
                r.action == *a
                    || (r.action.starts_with(a.as_str())
                        && r.action.as_bytes().get(a.len()) == Some(&b'.'))
            })
            && self
                .target
                .as_ref()
                .is_none_or(|t| r.target.as_ref() == Some(t))
            && self.outcome.as_ref().is_none_or(|o| &r.outcome == o)
            && self.since_ms.is_none_or(|s| r.at_ms >= s)
            && self.until_ms.is_none_or(|u| r.at_ms < u)
    }
}

/// The most custom roles and teams a tenant may have: they are read whole, in one partition.
pub const MAX_ROLES: usize = 100;
pub const MAX_TEAMS: usize = 500;
/// The most API keys (live and revoked) a tenant keeps.
pub const MAX_API_KEYS: usize = 500;

/// How far back an audit read walks day partitions when no `since` is given.
pub const AUDIT_DEFAULT_DAYS: i64 = 400;

/// Random ids with a kind prefix (`u_`, `r_`, `t_`, `k_`, `a_`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// An email address that is not one.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a valid email address")]
pub struct InvalidEmail(pub String);

/// Checks and normalizes an email address.
pub fn valid_email(email: &str) -> Result<String, InvalidEmail> {
    let email = normalize_email(email);
    if email.len() > 254 || email_address::EmailAddress::from_str(&email).is_err() {
        return Err(InvalidEmail(email));
    }
    Ok(email)
}

impl UserRecord {
    /// What the audit log records of a user: never the password hash.
    pub fn audit_snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "session_epoch": self.session_epoch,
        })
    }
}

impl ApiKeyRecord {
    /// What the audit log records of an API key: never its secret hash.
    pub fn audit_snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "permissions": self.permissions,
            "revoked_at": self.revoked_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> AuditRecord {
        AuditRecord {
            tenant: TenantId::from("t"),
            id: "a_1".into(),
            at_ms: 10,
            actor: "user:u_1".into(),
            actor_name: "a@b.c".into(),
            action: action.into(),
            target: Some("user:u_2".into()),
            outcome: "ok".into(),
            ip: None,
            user_agent: None,
            before: None,
            after: None,
        }
    }

    #[test]
    fn action_filter_matches_whole_segments() {
        let q = AuditQuery {
            action: Some("user".into()),
            ..AuditQuery::default()
        };
        assert!(q.matches(&record("user")));
        assert!(q.matches(&record("user.create")));
        assert!(!q.matches(&record("users.create")));
        let q = AuditQuery {
            since_ms: Some(11),
            ..AuditQuery::default()
        };
        assert!(!q.matches(&record("user")));
    }
}
