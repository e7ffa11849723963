//! Users, sessions, custom roles, teams, API keys and the append-only audit log.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{ApiKeyId, PhoneNumberId, RoleId, TeamId, TenantId, UserId};

use super::{unavailable, List, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{decode_list, encode_list};

use crate::store::{check_limit, IdentityStore, StoreError, StoreResult};

pub(super) fn create_user(
    conn: &Connection,
    u: &UserRecord,
    audit: &AuditRecord,
) -> StoreResult<()> {
    let result = conn
        .prepare_cached(
            "INSERT INTO users_by_tenant (tenant, user_id, email, name, role, password_hash,
               disabled, created_at, session_epoch)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut st| {
            st.execute(params![
                u.tenant.as_str(),
                u.id.as_str(),
                u.email,
                u.name,
                u.role,
                u.password_hash,
                u.disabled,
                u.created_at,
                u.session_epoch
            ])
        });
    match result {
        Ok(_) => {
            insert_audit(conn, audit)?;
            Ok(())
        }
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict(format!(
                "a user with email {} exists",
                u.email
            )))
        }
        Err(e) => Err(unavailable(e)),
    }
}

pub(super) fn update_user(
    conn: &Connection,
    u: &UserRecord,
    audit: &AuditRecord,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE users_by_tenant SET name = ?3, role = ?4, password_hash = ?5,
               disabled = ?6, session_epoch = ?7
             WHERE tenant = ?1 AND user_id = ?2",
        )
        .and_then(|mut st| {
            st.execute(params![
                u.tenant.as_str(),
                u.id.as_str(),
                u.name,
                u.role,
                u.password_hash,
                u.disabled,
                u.session_epoch
            ])
        })
        .map_err(unavailable)?;
    audited(conn, changed > 0, audit)
}

fn create_session(conn: &Connection, s: &SessionRecord, audit: &AuditRecord) -> StoreResult<()> {
    exec(
        conn,
        "DELETE FROM sessions_by_hash WHERE expires_at < ?1",
        &[&s.created_at],
    )?;
    exec(
        conn,
        "INSERT INTO sessions_by_hash (token_hash, tenant, user_id, epoch, created_at,
           expires_at, last_seen_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            s.token_hash,
            s.tenant.as_str(),
            s.user.as_str(),
            s.epoch,
            s.created_at,
            s.expires_at,
            s.last_seen_at,
            s.ip,
            s.user_agent
        ],
    )?;
    insert_audit(conn, audit)?;
    Ok(())
}

fn touch_session(conn: &Connection, hash: &str, at: UnixMillis) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE sessions_by_hash SET last_seen_at = max(last_seen_at, ?2)
         WHERE token_hash = ?1",
        params![hash, at],
    )?;
    Ok(())
}

fn delete_session(conn: &Connection, hash: &str, audit: &AuditRecord) -> StoreResult<bool> {
    let n = exec(
        conn,
        "DELETE FROM sessions_by_hash WHERE token_hash = ?1",
        params![hash],
    )?;
    audited(conn, n > 0, audit)
}

fn put_role(conn: &Connection, r: &RoleRecord, audit: &AuditRecord) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO roles_by_tenant (tenant, role_id, name, permissions, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, role_id) DO UPDATE SET name = excluded.name,
           permissions = excluded.permissions",
        params![
            r.tenant.as_str(),
            r.id.as_str(),
            r.name,
            encode_list(&r.permissions),
            r.created_at
        ],
    )?;
    insert_audit(conn, audit)?;
    Ok(())
}

fn delete_role(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
    audit: &AuditRecord,
) -> StoreResult<bool> {
    let n = exec(
        conn,
        "DELETE FROM roles_by_tenant WHERE tenant = ?1 AND role_id = ?2",
        params![tenant.as_str(), id],
    )?;
    audited(conn, n > 0, audit)
}

fn put_team(conn: &Connection, t: &TeamRecord, audit: &AuditRecord) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO teams_by_tenant (tenant, team_id, name, members, numbers, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant, team_id) DO UPDATE SET name = excluded.name,
           members = excluded.members, numbers = excluded.numbers",
        params![
            t.tenant.as_str(),
            t.id.as_str(),
            t.name,
            encode_list(&t.members.iter().map(UserId::as_str).collect::<Vec<_>>()),
            encode_list(
                &t.numbers
                    .iter()
                    .map(PhoneNumberId::as_str)
                    .collect::<Vec<_>>()
            ),
            t.created_at
        ],
    )?;
    insert_audit(conn, audit)?;
    Ok(())
}

fn delete_team(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
    audit: &AuditRecord,
) -> StoreResult<bool> {
    let n = exec(
        conn,
        "DELETE FROM teams_by_tenant WHERE tenant = ?1 AND team_id = ?2",
        params![tenant.as_str(), id],
    )?;
    audited(conn, n > 0, audit)
}

fn create_api_key(conn: &Connection, k: &ApiKeyRecord, audit: &AuditRecord) -> StoreResult<()> {
    let result = exec(
        conn,
        "INSERT INTO api_keys_by_id (key_id, tenant, name, secret_hash, permissions,
           created_by, created_at, last_used_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            k.id.as_str(),
            k.tenant.as_str(),
            k.name,
            k.secret_hash,
            encode_list(&k.permissions),
            k.created_by,
            k.created_at,
            k.last_used_at,
            k.revoked_at
        ],
    );
    match result {
        Ok(_) => {
            insert_audit(conn, audit)?;
            Ok(())
        }
        Err(_) if key_exists(conn, k.id.as_str())? => {
            Err(StoreError::Conflict(format!("API key {} exists", k.id)))
        }
        Err(e) => Err(e),
    }
}

fn revoke_api_key(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
    at: UnixMillis,
    audit: &AuditRecord,
) -> StoreResult<bool> {
    let n = exec(
        conn,
        "UPDATE api_keys_by_id SET revoked_at = ?3
         WHERE key_id = ?1 AND tenant = ?2 AND revoked_at IS NULL",
        params![id, tenant.as_str(), at],
    )?;
    audited(conn, n > 0, audit)
}

fn touch_api_key(conn: &Connection, id: &str, at: UnixMillis) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE api_keys_by_id SET last_used_at = max(coalesce(last_used_at, 0), ?2)
         WHERE key_id = ?1",
        params![id, at],
    )?;
    Ok(())
}

fn append_audit(conn: &Connection, audit: &AuditRecord) -> StoreResult<()> {
    insert_audit(conn, audit)?;
    Ok(())
}

/// Runs one statement of the access tables.
fn exec(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute(params))
        .map_err(unavailable)
}

/// Writes the audit line of a change that happened; a change that did not happen leaves none.
pub(super) fn audited(conn: &Connection, changed: bool, audit: &AuditRecord) -> StoreResult<bool> {
    if changed {
        insert_audit(conn, audit)?;
    }
    Ok(changed)
}

pub(super) fn insert_audit(conn: &Connection, a: &AuditRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_by_tenant (tenant, bucket, at_ms, audit_id, actor, actor_name, action,
           target, outcome, ip, user_agent, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.tenant.as_str(),
            day_bucket(a.at_ms),
            a.at_ms,
            a.id,
            a.actor,
            a.actor_name,
            a.action,
            a.target,
            a.outcome,
            a.ip,
            a.user_agent,
            a.before,
            a.after
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

fn key_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM api_keys_by_id WHERE key_id = ?1")
        .and_then(|mut st| st.exists([id]))
        .map_err(unavailable)
}

const USER_COLUMNS: &str =
    "tenant, user_id, email, name, role, password_hash, disabled, created_at, session_epoch";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        tenant: TenantId::new(r.get::<_, String>(0)?),
        id: UserId::new(r.get::<_, String>(1)?),
        email: r.get(2)?,
        name: r.get(3)?,
        role: r.get(4)?,
        password_hash: r.get(5)?,
        disabled: r.get(6)?,
        created_at: r.get(7)?,
        session_epoch: r.get(8)?,
    })
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<()> {
        let (u, audit) = (user.clone(), audit.clone());
        self.write(move |conn, _| create_user(conn, &u, &audit))
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let email = normalize_email(email);
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users_by_tenant WHERE email = ?1"
            ))
            .and_then(|mut s| s.query_row([email.as_str()], user_from_row).optional())
            .map_err(unavailable)
        })
        .await
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users_by_tenant WHERE tenant = ?1 AND user_id = ?2"
            ))
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), id.as_str()], user_from_row)
                    .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let tenant = tenant.clone();
        self.read(move |conn| {
            let users: Vec<UserRecord> = conn
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users_by_tenant WHERE tenant = ?1 AND email > ?2
                     ORDER BY email LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), after, limit as i64], user_from_row)?
                        .collect()
                })
                .map_err(unavailable)?;
            let next = (users.len() == limit)
                .then(|| users.last().map(|u| Cursor::after_text(&u.email)))
                .flatten();
            Ok(Page { items: users, next })
        })
        .await
    }

    async fn update_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<bool> {
        let (u, audit) = (user.clone(), audit.clone());
        self.write(move |conn, _| update_user(conn, &u, &audit))
            .await
    }

    async fn create_session(
        &self,
        session: &SessionRecord,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let (s, audit) = (session.clone(), audit.clone());
        self.write(move |conn, _| create_session(conn, &s, &audit))
            .await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let hash = token_hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT token_hash, tenant, user_id, epoch, created_at, expires_at, last_seen_at,
                   ip, user_agent FROM sessions_by_hash WHERE token_hash = ?1",
            )
            .and_then(|mut s| {
                s.query_row([hash.as_str()], |r| {
                    Ok(SessionRecord {
                        token_hash: r.get(0)?,
                        tenant: TenantId::new(r.get::<_, String>(1)?),
                        user: UserId::new(r.get::<_, String>(2)?),
                        epoch: r.get(3)?,
                        created_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        last_seen_at: r.get(6)?,
                        ip: r.get(7)?,
                        user_agent: r.get(8)?,
                    })
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        at: UnixMillis,
        _expires_at: UnixMillis,
    ) -> StoreResult<()> {
        let hash = token_hash.to_owned();
        self.write(move |conn, _| touch_session(conn, &hash, at))
            .await
    }

    async fn delete_session(&self, token_hash: &str, audit: &AuditRecord) -> StoreResult<bool> {
        let (hash, audit) = (token_hash.to_owned(), audit.clone());
        self.write(move |conn, _| delete_session(conn, &hash, &audit))
            .await
    }

    async fn put_role(&self, role: &RoleRecord, audit: &AuditRecord) -> StoreResult<()> {
        let (r, audit) = (role.clone(), audit.clone());
        self.write(move |conn, _| put_role(conn, &r, &audit)).await
    }

    async fn get_role(&self, tenant: &TenantId, id: &RoleId) -> StoreResult<Option<RoleRecord>> {
        Ok(self
            .roles(tenant, Some(id.to_string()))
            .await?
            .into_iter()
            .next())
    }

    async fn list_roles(&self, tenant: &TenantId) -> StoreResult<Vec<RoleRecord>> {
        self.roles(tenant, None).await
    }

    async fn delete_role(
        &self,
        tenant: &TenantId,
        id: &RoleId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (tenant, id, audit) = (tenant.clone(), id.to_owned(), audit.clone());
        self.write(move |conn, _| delete_role(conn, &tenant, id.as_str(), &audit))
            .await
    }

    async fn put_team(&self, team: &TeamRecord, audit: &AuditRecord) -> StoreResult<()> {
        let (t, audit) = (team.clone(), audit.clone());
        self.write(move |conn, _| put_team(conn, &t, &audit)).await
    }

    async fn get_team(&self, tenant: &TenantId, id: &TeamId) -> StoreResult<Option<TeamRecord>> {
        Ok(self
            .teams(tenant, Some(id.to_string()))
            .await?
            .into_iter()
            .next())
    }

    async fn list_teams(&self, tenant: &TenantId) -> StoreResult<Vec<TeamRecord>> {
        self.teams(tenant, None).await
    }

    async fn delete_team(
        &self,
        tenant: &TenantId,
        id: &TeamId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (tenant, id, audit) = (tenant.clone(), id.to_owned(), audit.clone());
        self.write(move |conn, _| delete_team(conn, &tenant, id.as_str(), &audit))
            .await
    }

    async fn create_api_key(&self, key: &ApiKeyRecord, audit: &AuditRecord) -> StoreResult<()> {
        let (k, audit) = (key.clone(), audit.clone());
        self.write(move |conn, _| create_api_key(conn, &k, &audit))
            .await
    }

    async fn get_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys_by_id WHERE key_id = ?1");
            let row = conn
                .prepare_cached(&sql)
                .and_then(|mut s| s.query_row([id.as_str()], key_from).optional())
                .map_err(unavailable)?;
            Ok(row)
        })
        .await
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM api_keys_by_id WHERE tenant = ?1 ORDER BY key_id LIMIT ?2"
            );
            conn
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), MAX_API_KEYS as i64], key_from)?
                        .collect()
                })
                .map_err(unavailable)
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: UnixMillis,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (tenant, id, audit) = (tenant.clone(), id.to_owned(), audit.clone());
        self.write(move |conn, _| revoke_api_key(conn, &tenant, id.as_str(), at, &audit))
            .await
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: UnixMillis) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |conn, _| touch_api_key(conn, id.as_str(), at))
            .await
    }

    async fn append_audit(&self, audit: &AuditRecord) -> StoreResult<()> {
        let audit = audit.clone();
        self.write(move |conn, _| append_audit(conn, &audit)).await
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
        let (tenant, q) = (tenant.clone(), query.clone());
        self.read(move |conn| {
            let (b, at, id) = after.unwrap_or((i64::MAX, i64::MAX, String::new()));
            let low_bucket = q.since_ms.map(day_bucket).unwrap_or(i64::MIN);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT tenant, audit_id, at_ms, actor, actor_name, action, target, outcome,
                       ip, user_agent, before, after, bucket FROM audit_by_tenant
                     WHERE tenant = ?1 AND (bucket, at_ms, audit_id) < (?2, ?3, ?4)
                       AND bucket >= ?5
                       AND (?6 IS NULL OR actor = ?6)
                       AND (?7 IS NULL OR action = ?7
                            OR substr(action, 1, length(?7) + 1) = ?7 || '.')
                       AND (?8 IS NULL OR target = ?8)
                       AND (?9 IS NULL OR outcome = ?9)
                       AND (?10 IS NULL OR at_ms >= ?10)
                       AND (?11 IS NULL OR at_ms < ?11)
                     ORDER BY bucket DESC, at_ms DESC, audit_id DESC LIMIT ?12",
                )
                .map_err(unavailable)?;
            let rows: Vec<(AuditRecord, i64)> = stmt
                .query_map(
                    params![
                        tenant.as_str(),
                        b,
                        at,
                        id,
                        low_bucket,
                        q.actor,
                        q.action,
                        q.target,
                        q.outcome,
                        q.since_ms,
                        q.until_ms,
                        limit as i64
                    ],
                    |r| Ok((audit_from_row(r)?, r.get(12)?)),
                )
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let next = if rows.len() == limit {
                rows.last()
                    .map(|(a, bucket)| Cursor::history(*bucket, a.at_ms, &a.id))
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(a, _)| a).collect(),
                next,
            })
        })
        .await
    }
}

const KEY_COLUMNS: &str = "key_id, tenant, name, secret_hash, permissions, created_by, created_at,
    last_used_at, revoked_at";

/// An API key from its row, by column name.
fn key_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::new(r.get::<_, String>("key_id")?),
        tenant: TenantId::new(r.get::<_, String>("tenant")?),
        name: r.get("name")?,
        secret_hash: r.get("secret_hash")?,
        permissions: r.get::<_, List>("permissions")?.0,
        created_by: r.get("created_by")?,
        created_at: r.get("created_at")?,
        last_used_at: r.get("last_used_at")?,
        revoked_at: r.get("revoked_at")?,
    })
}

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        tenant: TenantId::new(r.get::<_, String>(0)?),
        id: r.get(1)?,
        at_ms: r.get(2)?,
        actor: r.get(3)?,
        actor_name: r.get(4)?,
        action: r.get(5)?,
        target: r.get(6)?,
        outcome: r.get(7)?,
        ip: r.get(8)?,
        user_agent: r.get(9)?,
        before: r.get(10)?,
        after: r.get(11)?,
    })
}

impl SqliteStore {
    /// A tenant's roles, or the one with `id`.
    async fn roles(&self, tenant: &TenantId, id: Option<String>) -> StoreResult<Vec<RoleRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let rows: Vec<(String, String, String, i64)> = conn
                .prepare_cached(
                    "SELECT role_id, name, permissions, created_at FROM roles_by_tenant
                     WHERE tenant = ?1 AND (?2 IS NULL OR role_id = ?2) ORDER BY role_id LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), id, MAX_ROLES as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(id, name, permissions, created_at)| {
                    Ok(RoleRecord {
                        tenant: tenant.clone(),
                        id: id.into(),
                        name,
                        permissions: decode_list(&permissions)?,
                        created_at,
                    })
                })
                .collect()
        })
        .await
    }

    /// A tenant's teams, or the one with `id`.
    async fn teams(&self, tenant: &TenantId, id: Option<String>) -> StoreResult<Vec<TeamRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let rows: Vec<(String, String, String, String, i64)> = conn
                .prepare_cached(
                    "SELECT team_id, name, members, numbers, created_at FROM teams_by_tenant
                     WHERE tenant = ?1 AND (?2 IS NULL OR team_id = ?2) ORDER BY team_id LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), id, MAX_TEAMS as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect()
                })
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(id, name, members, numbers, created_at)| {
                    Ok(TeamRecord {
                        tenant: tenant.clone(),
                        id: id.into(),
                        name,
                        members: decode_list(&members)?
                            .into_iter()
                            .map(UserId::new)
                            .collect(),
                        numbers: decode_list(&numbers)?
                            .into_iter()
                            .map(PhoneNumberId::new)
                            .collect(),
                        created_at,
                    })
                })
                .collect()
        })
        .await
    }
}
