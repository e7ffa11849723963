//! Users (an LWT on `users_by_email` keeps emails unique), sessions, custom roles, teams, API
//! keys and the append-only audit log.

use async_trait::async_trait;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{ApiKeyId, PhoneNumberId, RoleId, TeamId, TenantId, UserId};

use super::{first_row, lwt_applied, rows_of, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{decode_list, encode_list};

use crate::store::{check_limit, IdentityStore, StoreError, StoreResult, MAX_PAGE};

row! {
    /// A user (`users_by_email`, `users_by_tenant`).
    struct UserRow {
        tenant: String,
        user_id: String,
        email: String,
        name: String,
        role: String,
        password_hash: String,
        disabled: bool,
        created_at: i64,
        session_epoch: i64,
    }
}

impl UserRow {
    fn of(u: &UserRecord) -> Self {
        Self {
            tenant: u.tenant.as_str().to_owned(),
            user_id: u.id.as_str().to_owned(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            password_hash: u.password_hash.clone(),
            disabled: u.disabled,
            created_at: u.created_at,
            session_epoch: u.session_epoch,
        }
    }

    fn into_record(self) -> UserRecord {
        UserRecord {
            tenant: TenantId::new(self.tenant),
            id: UserId::new(self.user_id),
            email: self.email,
            name: self.name,
            role: self.role,
            password_hash: self.password_hash,
            disabled: self.disabled,
            created_at: self.created_at,
            session_epoch: self.session_epoch,
        }
    }
}

row! {
    /// One line of the audit log (`audit_by_tenant`).
    struct AuditRow {
        tenant: String,
        bucket: i64,
        at_ms: i64,
        audit_id: String,
        actor: String,
        actor_name: String,
        action: String,
        target: Option<String>,
        outcome: String,
        ip: Option<String>,
        user_agent: Option<String>,
        before: Option<String>,
        after: Option<String>,
    }
}

impl AuditRow {
    pub(super) fn of(a: &AuditRecord) -> Self {
        Self {
            tenant: a.tenant.as_str().to_owned(),
            bucket: day_bucket(a.at_ms),
            at_ms: a.at_ms,
            audit_id: a.id.clone(),
            actor: a.actor.clone(),
            actor_name: a.actor_name.clone(),
            action: a.action.clone(),
            target: a.target.clone(),
            outcome: a.outcome.clone(),
            ip: a.ip.clone(),
            user_agent: a.user_agent.clone(),
            before: a.before.clone(),
            after: a.after.clone(),
        }
    }

    fn into_record(self) -> AuditRecord {
        AuditRecord {
            tenant: TenantId::new(self.tenant),
            id: self.audit_id,
            at_ms: self.at_ms,
            actor: self.actor,
            actor_name: self.actor_name,
            action: self.action,
            target: self.target,
            outcome: self.outcome,
            ip: self.ip,
            user_agent: self.user_agent,
            before: self.before,
            after: self.after,
        }
    }
}

row! {
    /// An API key (`api_keys_by_id`); permissions as a JSON list.
    struct KeyRow {
        key_id: String,
        tenant: String,
        name: String,
        secret_hash: String,
        permissions: String,
        created_by: String,
        created_at: i64,
        last_used_at: Option<i64>,
        revoked_at: Option<i64>,
    }
}

impl KeyRow {
    fn of(k: &ApiKeyRecord) -> Self {
        Self {
            key_id: k.id.to_string(),
            tenant: k.tenant.as_str().to_owned(),
            name: k.name.clone(),
            secret_hash: k.secret_hash.clone(),
            permissions: encode_list(&k.permissions),
            created_by: k.created_by.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }

    fn into_record(self) -> StoreResult<ApiKeyRecord> {
        Ok(ApiKeyRecord {
            id: self.key_id.into(),
            tenant: TenantId::new(self.tenant),
            name: self.name,
            secret_hash: self.secret_hash,
            permissions: decode_list(&self.permissions)?,
            created_by: self.created_by,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }
}

row! {
    /// A session (`sessions_by_hash`). Every column an option: a row some of whose cells expired
    /// is a session that ended, not corrupt data (an expired cookie is a 401, never a 500).
    struct SessionRow {
        token_hash: String,
        tenant: Option<String>,
        user_id: Option<String>,
        epoch: Option<i64>,
        created_at: Option<i64>,
        expires_at: Option<i64>,
        last_seen_at: Option<i64>,
        ip: Option<String>,
        user_agent: Option<String>,
    }
}

row! {
    /// A custom role (`roles_by_tenant`).
    struct RoleRow {
        role_id: String,
        name: String,
        permissions: String,
        created_at: i64,
    }
}

row! {
    /// A team (`teams_by_tenant`); members and numbers as JSON lists.
    struct TeamRow {
        team_id: String,
        name: String,
        members: String,
        numbers: String,
        created_at: i64,
    }
}

/// Statements of users, sessions, roles, teams, API keys and the audit log.
pub(super) struct Statements {
    claim_email: PreparedStatement,
    upsert_user_by_tenant: PreparedStatement,
    upsert_user_by_id: PreparedStatement,
    user_by_email: PreparedStatement,
    user_email_by_id: PreparedStatement,
    list_users: PreparedStatement,
    update_user_by_email: PreparedStatement,
    pub(super) insert_audit: PreparedStatement,
    pub(super) insert_audit_bucket: PreparedStatement,
    audit_buckets: PreparedStatement,
    audit_first: PreparedStatement,
    audit_after: PreparedStatement,
    insert_session: PreparedStatement,
    get_session: PreparedStatement,
    touch_session: PreparedStatement,
    delete_session: PreparedStatement,
    put_role: PreparedStatement,
    get_role: PreparedStatement,
    list_roles: PreparedStatement,
    delete_role: PreparedStatement,
    put_team: PreparedStatement,
    get_team: PreparedStatement,
    list_teams: PreparedStatement,
    delete_team: PreparedStatement,
    claim_api_key: PreparedStatement,
    index_api_key: PreparedStatement,
    get_api_key: PreparedStatement,
    list_api_key_ids: PreparedStatement,
    revoke_api_key: PreparedStatement,
    touch_api_key: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            claim_email: p.prepare(format!(
                "INSERT INTO {ks}.users_by_email ({}) VALUES ({}) IF NOT EXISTS",
                UserRow::COLUMNS,
                super::markers(UserRow::COLUMNS)
            ), false).await?,
            upsert_user_by_tenant: p.prepare(format!(
                "INSERT INTO {ks}.users_by_tenant ({}) VALUES ({})",
                UserRow::COLUMNS,
                super::markers(UserRow::COLUMNS)
            ), true).await?,
            upsert_user_by_id: p.prepare(format!(
                "INSERT INTO {ks}.users_by_id (tenant, user_id, email) VALUES (?, ?, ?)"
            ), true).await?,
            user_by_email: p.prepare(format!(
                "SELECT {} FROM {ks}.users_by_email WHERE email = ?",
                UserRow::COLUMNS
            ), false).await?,
            user_email_by_id: p.prepare(format!(
                "SELECT email FROM {ks}.users_by_id WHERE tenant = ? AND user_id = ?"
            ), false).await?,
            list_users: p.prepare(format!(
                "SELECT {} FROM {ks}.users_by_tenant WHERE tenant = ? AND email > ? LIMIT ?",
                UserRow::COLUMNS
            ), false).await?,
            update_user_by_email: p.prepare(format!(
                "UPDATE {ks}.users_by_email SET name = ?, role = ?, password_hash = ?, disabled = ?,
                   session_epoch = ? WHERE email = ?"
            ), true).await?,
            insert_audit: p.prepare(format!(
                    "INSERT INTO {ks}.audit_by_tenant ({}) VALUES ({})",
                    AuditRow::COLUMNS,
                    super::markers(AuditRow::COLUMNS)
                ),
                true).await?,
            insert_audit_bucket: p.prepare(format!("INSERT INTO {ks}.audit_buckets_by_tenant (tenant, bucket) VALUES (?, ?)"),
                true).await?,
            audit_buckets: p.prepare(format!(
                    "SELECT bucket FROM {ks}.audit_buckets_by_tenant
                     WHERE tenant = ? AND bucket <= ? AND bucket >= ?"
                ),
                true).await?,
            audit_first: p.prepare(format!(
                    "SELECT {} FROM {ks}.audit_by_tenant WHERE tenant = ? AND bucket = ? LIMIT ?",
                    AuditRow::COLUMNS
                ),
                true).await?,
            audit_after: p.prepare(format!(
                    "SELECT {} FROM {ks}.audit_by_tenant
                     WHERE tenant = ? AND bucket = ? AND (at_ms, audit_id) < (?, ?) LIMIT ?",
                    AuditRow::COLUMNS
                ),
                true).await?,
            insert_session: p.prepare(format!(
                    "INSERT INTO {ks}.sessions_by_hash (token_hash, tenant, user_id, epoch,
                       created_at, expires_at, last_seen_at, ip, user_agent)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
                ),
                true).await?,
            get_session: p.prepare(format!(
                    "SELECT {} FROM {ks}.sessions_by_hash WHERE token_hash = ?",
                    SessionRow::COLUMNS
                ),
                true).await?,
            touch_session: p.prepare(format!(
                    "UPDATE {ks}.sessions_by_hash USING TTL ? SET last_seen_at = ? WHERE token_hash = ? IF EXISTS"
                ),
                false).await?,
            delete_session: p.prepare(format!("DELETE FROM {ks}.sessions_by_hash WHERE token_hash = ? IF EXISTS"),
                false).await?,
            put_role: p.prepare(format!(
                    "INSERT INTO {ks}.roles_by_tenant (tenant, role_id, name, permissions, created_at)
                     VALUES (?, ?, ?, ?, ?)"
                ),
                true).await?,
            get_role: p.prepare(format!(
                    "SELECT {} FROM {ks}.roles_by_tenant WHERE tenant = ? AND role_id = ?",
                    RoleRow::COLUMNS
                ),
                true).await?,
            list_roles: p.prepare(format!(
                    "SELECT {} FROM {ks}.roles_by_tenant WHERE tenant = ? LIMIT ?",
                    RoleRow::COLUMNS
                ),
                true).await?,
            delete_role: p.prepare(format!("DELETE FROM {ks}.roles_by_tenant WHERE tenant = ? AND role_id = ? IF EXISTS"),
                false).await?,
            put_team: p.prepare(format!(
                    "INSERT INTO {ks}.teams_by_tenant (tenant, team_id, name, members, numbers,
                       created_at) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                true).await?,
            get_team: p.prepare(format!(
                    "SELECT {} FROM {ks}.teams_by_tenant WHERE tenant = ? AND team_id = ?",
                    TeamRow::COLUMNS
                ),
                true).await?,
            list_teams: p.prepare(format!(
                    "SELECT {} FROM {ks}.teams_by_tenant WHERE tenant = ? LIMIT ?",
                    TeamRow::COLUMNS
                ),
                true).await?,
            delete_team: p.prepare(format!("DELETE FROM {ks}.teams_by_tenant WHERE tenant = ? AND team_id = ? IF EXISTS"),
                false).await?,
            claim_api_key: p.prepare(format!(
                    "INSERT INTO {ks}.api_keys_by_id ({}) VALUES ({}) IF NOT EXISTS",
                    KeyRow::COLUMNS,
                    super::markers(KeyRow::COLUMNS)
                ),
                false).await?,
            index_api_key: p.prepare(format!("INSERT INTO {ks}.api_keys_by_tenant (tenant, key_id) VALUES (?, ?)"),
                true).await?,
            get_api_key: p.prepare(format!("SELECT {} FROM {ks}.api_keys_by_id WHERE key_id = ?", KeyRow::COLUMNS),
                true).await?,
            list_api_key_ids: p.prepare(format!("SELECT key_id FROM {ks}.api_keys_by_tenant WHERE tenant = ? LIMIT ?"),
                true).await?,
            revoke_api_key: p.prepare(format!(
                    "UPDATE {ks}.api_keys_by_id SET revoked_at = ? WHERE key_id = ?
                     IF tenant = ? AND revoked_at = null"
                ),
                false).await?,
            touch_api_key: p.prepare(format!("UPDATE {ks}.api_keys_by_id SET last_used_at = ? WHERE key_id = ? IF EXISTS"),
                false).await?,
        })
    }
}

#[async_trait]
impl IdentityStore for ScyllaStore {
    async fn create_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<()> {
        // The email row is claimed with a lightweight transaction: the one uniqueness guard.
        let result = self
            .session
            .execute_unpaged(&self.identity.claim_email, UserRow::of(user))
            .await
            .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Err(StoreError::Conflict(format!(
                "a user with email {} exists",
                user.email
            )));
        }
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.identity.upsert_user_by_tenant.clone());
        batch.append_statement(self.identity.upsert_user_by_id.clone());
        batch.append_statement(self.identity.insert_audit.clone());
        batch.append_statement(self.identity.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    UserRow::of(user),
                    (user.tenant.as_str(), user.id.as_str(), user.email.as_str()),
                    AuditRow::of(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.identity.user_by_email, (normalize_email(email),))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<UserRow>(result)?.map(UserRow::into_record))
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let result = self
            .session
            .execute_unpaged(
                &self.identity.user_email_by_id,
                (tenant.as_str(), id.as_str()),
            )
            .await
            .map_err(unavailable)?;
        let Some((email,)) = first_row::<(String,)>(result)? else {
            return Ok(None);
        };
        Ok(self
            .user_by_email(&email)
            .await?
            .filter(|u| &u.tenant == tenant && &u.id == id))
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let result = self
            .session
            .execute_unpaged(
                &self.identity.list_users,
                (tenant.as_str(), after, limit as i32),
            )
            .await
            .map_err(unavailable)?;
        let users: Vec<UserRecord> = rows_of::<UserRow>(result)?
            .into_iter()
            .map(UserRow::into_record)
            .collect();
        let next = (users.len() == limit)
            .then(|| users.last().map(|u| Cursor::after_text(&u.email)))
            .flatten();
        Ok(Page { items: users, next })
    }

    async fn update_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<bool> {
        let Some(current) = self.get_user(&user.tenant, &user.id).await? else {
            return Ok(false);
        };
        self.session
            .execute_unpaged(
                &self.identity.update_user_by_email,
                (
                    user.name.as_str(),
                    user.role.as_str(),
                    user.password_hash.as_str(),
                    user.disabled,
                    user.session_epoch,
                    current.email.as_str(),
                ),
            )
            .await
            .map_err(unavailable)?;
        let mut updated = user.clone();
        updated.email = current.email;
        updated.created_at = current.created_at;
        self.session
            .execute_unpaged(&self.identity.upsert_user_by_tenant, UserRow::of(&updated))
            .await
            .map_err(unavailable)?;
        self.write_audit(audit).await?;
        Ok(true)
    }

    async fn create_session(&self, s: &SessionRecord, audit: &AuditRecord) -> StoreResult<()> {
        // The row expires by itself with the session.
        let ttl = ((s.expires_at - s.created_at) / 1000).clamp(1, i32::MAX as i64) as i32;
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.identity.insert_session.clone());
        batch.append_statement(self.identity.insert_audit.clone());
        batch.append_statement(self.identity.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    (
                        s.token_hash.as_str(),
                        s.tenant.as_str(),
                        s.user.as_str(),
                        s.epoch,
                        s.created_at,
                        s.expires_at,
                        s.last_seen_at,
                        s.ip.as_deref(),
                        s.user_agent.as_deref(),
                        ttl,
                    ),
                    AuditRow::of(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.identity.get_session, (token_hash,))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<SessionRow>(result)?.and_then(|r| {
            Some(SessionRecord {
                token_hash: r.token_hash,
                tenant: TenantId::new(r.tenant?),
                user: UserId::new(r.user_id?),
                epoch: r.epoch?,
                created_at: r.created_at?,
                expires_at: r.expires_at?,
                last_seen_at: r.last_seen_at.or(r.created_at)?,
                ip: r.ip,
                user_agent: r.user_agent,
            })
        }))
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        at: UnixMillis,
        expires_at: UnixMillis,
    ) -> StoreResult<()> {
        // Conditional, so that touching a session deleted meanwhile does not resurrect a stub,
        // and with the session's remaining time to live: a cell written without a TTL outlived
        // the row's other cells and kept a broken row alive after the session expired.
        let ttl = ((expires_at - at) / 1000).clamp(1, i32::MAX as i64) as i32;
        self.session
            .execute_unpaged(&self.identity.touch_session, (ttl, at, token_hash))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str, audit: &AuditRecord) -> StoreResult<bool> {
        self.applied_with_audit(&self.identity.delete_session, (token_hash,), audit)
            .await
    }

    async fn put_role(&self, r: &RoleRecord, audit: &AuditRecord) -> StoreResult<()> {
        let values = (
            r.tenant.as_str(),
            r.id.as_str(),
            r.name.as_str(),
            encode_list(&r.permissions),
            r.created_at,
        );
        self.with_audit(&self.identity.put_role, values, audit)
            .await
    }

    async fn get_role(&self, tenant: &TenantId, id: &RoleId) -> StoreResult<Option<RoleRecord>> {
        self.one::<RoleRow>(&self.identity.get_role, (tenant.as_str(), id.as_str()))
            .await?
            .map(|r| role_from_row(tenant, r))
            .transpose()
    }

    async fn list_roles(&self, tenant: &TenantId) -> StoreResult<Vec<RoleRecord>> {
        self.rows::<RoleRow>(
            &self.identity.list_roles,
            (tenant.as_str(), MAX_ROLES as i32),
        )
        .await?
        .into_iter()
        .map(|r| role_from_row(tenant, r))
        .collect()
    }

    async fn delete_role(
        &self,
        tenant: &TenantId,
        id: &RoleId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(
            &self.identity.delete_role,
            (tenant.as_str(), id.as_str()),
            audit,
        )
        .await
    }

    async fn put_team(&self, t: &TeamRecord, audit: &AuditRecord) -> StoreResult<()> {
        let members: Vec<&str> = t.members.iter().map(UserId::as_str).collect();
        let numbers: Vec<&str> = t.numbers.iter().map(PhoneNumberId::as_str).collect();
        let values = (
            t.tenant.as_str(),
            t.id.as_str(),
            t.name.as_str(),
            encode_list(&members),
            encode_list(&numbers),
            t.created_at,
        );
        self.with_audit(&self.identity.put_team, values, audit)
            .await
    }

    async fn get_team(&self, tenant: &TenantId, id: &TeamId) -> StoreResult<Option<TeamRecord>> {
        self.one::<TeamRow>(&self.identity.get_team, (tenant.as_str(), id.as_str()))
            .await?
            .map(|r| team_from_row(tenant, r))
            .transpose()
    }

    async fn list_teams(&self, tenant: &TenantId) -> StoreResult<Vec<TeamRecord>> {
        self.rows::<TeamRow>(
            &self.identity.list_teams,
            (tenant.as_str(), MAX_TEAMS as i32),
        )
        .await?
        .into_iter()
        .map(|r| team_from_row(tenant, r))
        .collect()
    }

    async fn delete_team(
        &self,
        tenant: &TenantId,
        id: &TeamId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(
            &self.identity.delete_team,
            (tenant.as_str(), id.as_str()),
            audit,
        )
        .await
    }

    async fn create_api_key(&self, k: &ApiKeyRecord, audit: &AuditRecord) -> StoreResult<()> {
        let result = self
            .session
            .execute_unpaged(&self.identity.claim_api_key, &KeyRow::of(k))
            .await
            .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Err(StoreError::Conflict(format!("API key {} exists", k.id)));
        }
        self.with_audit(
            &self.identity.index_api_key,
            (k.tenant.as_str(), k.id.as_str()),
            audit,
        )
        .await
    }

    async fn get_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        self.one::<KeyRow>(&self.identity.get_api_key, (id.as_str(),))
            .await?
            .map(KeyRow::into_record)
            .transpose()
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let result = self
            .session
            .execute_unpaged(
                &self.identity.list_api_key_ids,
                (tenant.as_str(), MAX_API_KEYS as i32),
            )
            .await
            .map_err(unavailable)?;
        let ids: Vec<ApiKeyId> = rows_of::<(String,)>(result)?
            .into_iter()
            .map(|(id,)| ApiKeyId::new(id))
            .collect();
        let keys =
            futures_util::future::try_join_all(ids.iter().map(|id| self.get_api_key(id))).await?;
        Ok(keys
            .into_iter()
            .flatten()
            .filter(|k| &k.tenant == tenant)
            .collect())
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: UnixMillis,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(
            &self.identity.revoke_api_key,
            (at, id.as_str(), tenant.as_str()),
            audit,
        )
        .await
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: UnixMillis) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.identity.touch_api_key, (at, id.as_str()))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn append_audit(&self, audit: &AuditRecord) -> StoreResult<()> {
        self.write_audit(audit).await
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AuditRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
        let low_bucket = query.since_ms.map(day_bucket).unwrap_or(i64::MIN);
        let buckets: Vec<(i64,)> = rows_of(
            self.session
                .execute_unpaged(
                    &self.identity.audit_buckets,
                    (tenant.as_str(), start_bucket, low_bucket),
                )
                .await
                .map_err(unavailable)?,
        )?;
        // Filters other than time run here, not in CQL (no secondary indexes on a log): each
        // partition is read in pages of at most MAX_PAGE rows until the page is full.
        let mut page = PageCollector::new(limit);
        for (bucket,) in buckets {
            let mut position = match &after {
                Some((b, at, id)) if *b == bucket => Some((*at, id.clone())),
                _ => None,
            };
            loop {
                let result = match &position {
                    Some((at, id)) => {
                        self.session
                            .execute_unpaged(
                                &self.identity.audit_after,
                                (tenant.as_str(), bucket, *at, id.as_str(), MAX_PAGE as i32),
                            )
                            .await
                    }
                    None => {
                        self.session
                            .execute_unpaged(
                                &self.identity.audit_first,
                                (tenant.as_str(), bucket, MAX_PAGE as i32),
                            )
                            .await
                    }
                }
                .map_err(unavailable)?;
                let rows = rows_of::<AuditRow>(result)?;
                let full = rows.len() == MAX_PAGE;
                for row in rows {
                    let record = row.into_record();
                    position = Some((record.at_ms, record.id.clone()));
                    if query.matches(&record) {
                        let (at, id) = (record.at_ms, record.id.clone());
                        if page.push(record, bucket, at, &id) {
                            return Ok(page.finish());
                        }
                    }
                }
                if !full {
                    break;
                }
            }
        }
        Ok(page.finish())
    }
}

impl ScyllaStore {
    /// The rows of one bounded read.
    pub(super) async fn rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        rows_of(
            self.session
                .execute_unpaged(statement, values)
                .await
                .map_err(unavailable)?,
        )
    }

    /// The row of a point read, if any.
    pub(super) async fn one<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<Option<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        first_row(
            self.session
                .execute_unpaged(statement, values)
                .await
                .map_err(unavailable)?,
        )
    }

    /// A conditional change (a lightweight transaction) and, when it applied, its audit line.
    pub(super) async fn applied_with_audit(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?;
        self.audit_if(lwt_applied(result)?, audit).await
    }

    pub(super) async fn write_audit(&self, audit: &AuditRecord) -> StoreResult<()> {
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.identity.insert_audit.clone());
        batch.append_statement(self.identity.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    AuditRow::of(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Writes the audit line of a conditional change that applied.
    pub(super) async fn audit_if(&self, applied: bool, audit: &AuditRecord) -> StoreResult<bool> {
        if applied {
            self.write_audit(audit).await?;
        }
        Ok(applied)
    }

    /// One unconditional write and its audit line in one logged batch.
    pub(super) async fn with_audit(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(statement.clone());
        batch.append_statement(self.identity.insert_audit.clone());
        batch.append_statement(self.identity.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    values,
                    AuditRow::of(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn role_from_row(tenant: &TenantId, r: RoleRow) -> StoreResult<RoleRecord> {
    Ok(RoleRecord {
        tenant: tenant.clone(),
        id: r.role_id.into(),
        name: r.name,
        permissions: decode_list(&r.permissions)?,
        created_at: r.created_at,
    })
}

fn team_from_row(tenant: &TenantId, r: TeamRow) -> StoreResult<TeamRecord> {
    Ok(TeamRecord {
        tenant: tenant.clone(),
        id: r.team_id.into(),
        name: r.name,
        members: decode_list(&r.members)?
            .into_iter()
            .map(UserId::new)
            .collect(),
        numbers: decode_list(&r.numbers)?
            .into_iter()
            .map(PhoneNumberId::new)
            .collect(),
        created_at: r.created_at,
    })
}
