-- Schema version 3: sessions, custom roles, teams, API keys and the audit log
-- (the same model as migrations/0003_access.cql).

CREATE TABLE sessions_by_hash (
    token_hash    TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    epoch         INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    ip            TEXT,
    user_agent    TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions_by_hash (expires_at);

CREATE TABLE roles_by_tenant (
    tenant       TEXT NOT NULL,
    role_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    permissions  TEXT NOT NULL,   -- JSON array of permission names
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, role_id)
) WITHOUT ROWID;

CREATE TABLE teams_by_tenant (
    tenant      TEXT NOT NULL,
    team_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    members     TEXT NOT NULL,    -- JSON array of user ids
    numbers     TEXT NOT NULL,    -- JSON array of phone_number_ids
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, team_id)
) WITHOUT ROWID;

CREATE TABLE api_keys_by_id (
    key_id        TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    permissions   TEXT NOT NULL,  -- JSON array of permission names
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX api_keys_by_tenant ON api_keys_by_id (tenant, key_id);

-- Append-only: nothing in the code updates or deletes these rows.
CREATE TABLE audit_by_tenant (
    tenant      TEXT NOT NULL,
    bucket      INTEGER NOT NULL,  -- day
    at_ms       INTEGER NOT NULL,
    audit_id    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    before      TEXT,
    after       TEXT,
    PRIMARY KEY (tenant, bucket, at_ms, audit_id)
) WITHOUT ROWID;
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit_by_tenant
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit_by_tenant
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
