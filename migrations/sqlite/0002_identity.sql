-- Schema version 2: users (the same model as migrations/0002_identity.cql).

CREATE TABLE users_by_tenant (
    tenant         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    session_epoch  INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
) WITHOUT ROWID;
CREATE INDEX users_by_tenant_email ON users_by_tenant (tenant, email);
