-- Switchboard embedded store, schema version 1.
-- The same Scylla-shaped model as migrations/0001_initial.cql: tables are named <entity>_by_<key>,
-- messages live in (tenant, conversation, day-bucket) partitions, writes are idempotent on keys
-- derived from WhatsApp ids, and every read is a bounded page.

CREATE TABLE tenants_by_id (
    tenant      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE numbers_by_id (
    phone_number_id      TEXT PRIMARY KEY,
    tenant               TEXT NOT NULL,
    display_phone_number TEXT NOT NULL,
    waba_id              TEXT
) WITHOUT ROWID;
CREATE INDEX numbers_by_tenant ON numbers_by_id (tenant, phone_number_id);

CREATE TABLE contacts_by_tenant (
    tenant      TEXT NOT NULL,
    wa_id       TEXT NOT NULL,
    name        TEXT,
    user_id     TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, wa_id)
) WITHOUT ROWID;

CREATE TABLE conversations_by_id (
    tenant           TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    number           TEXT NOT NULL,
    customer         TEXT NOT NULL,
    last_message_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id)
) WITHOUT ROWID;

-- Which day buckets a conversation has messages in (newest-first history walks these).
CREATE TABLE buckets_by_conversation (
    tenant           TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    bucket           INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id, bucket)
) WITHOUT ROWID;

CREATE TABLE messages_by_conversation (
    tenant           TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    bucket           INTEGER NOT NULL,
    at_ms            INTEGER NOT NULL,
    message_key      TEXT NOT NULL,
    wamid            TEXT NOT NULL,
    number           TEXT NOT NULL,
    customer         TEXT NOT NULL,
    direction        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    body             TEXT,
    raw              TEXT NOT NULL,
    PRIMARY KEY (tenant, conversation_id, bucket, at_ms, message_key)
) WITHOUT ROWID;

-- Idempotency and point lookups: where a message key lives.
CREATE TABLE messages_by_key (
    tenant           TEXT NOT NULL,
    message_key      TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    bucket           INTEGER NOT NULL,
    at_ms            INTEGER NOT NULL,
    PRIMARY KEY (tenant, message_key)
) WITHOUT ROWID;

-- One row per (message, status); the latest status is the highest rank.
CREATE TABLE statuses_by_message (
    tenant       TEXT NOT NULL,
    wamid        TEXT NOT NULL,
    rank         INTEGER NOT NULL,
    status       TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    error_codes  TEXT NOT NULL,
    raw          TEXT NOT NULL,
    PRIMARY KEY (tenant, wamid, rank)
) WITHOUT ROWID;

CREATE TABLE account_events_by_tenant (
    tenant     TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    event_key  TEXT NOT NULL,
    number     TEXT,
    field      TEXT NOT NULL,
    raw        TEXT NOT NULL,
    PRIMARY KEY (tenant, bucket, at_ms, event_key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX account_events_by_key ON account_events_by_tenant (tenant, event_key);

-- Every webhook body exactly as received, before any interpretation.
CREATE TABLE webhook_journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket       INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body         BLOB NOT NULL
);
