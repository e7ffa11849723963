-- Schema version 4: conversations' inbox state (the same model as migrations/0004_inbox.cql).
-- One row per conversation; `open` mirrors the Scylla index of open conversations.

CREATE TABLE threads_by_id (
    tenant              TEXT NOT NULL,
    conversation_id     TEXT NOT NULL,
    number              TEXT NOT NULL,
    customer            TEXT NOT NULL,
    state               TEXT NOT NULL,    -- queued | assigned | resolved
    assignee            TEXT,
    last_agent          TEXT,
    tags                TEXT NOT NULL,    -- JSON array
    waiting_since       INTEGER,
    last_inbound_at     INTEGER,
    last_inbound_wamid  TEXT,
    opened_at           INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    open                INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id)
) WITHOUT ROWID;
CREATE INDEX open_threads_by_tenant ON threads_by_id (tenant, open, conversation_id);
