-- Schema version 5: the outbox (the same model as migrations/0005_outbox.cql). One row per send;
-- `pending` mirrors the Scylla index of each number's unfinished sends.

CREATE TABLE outbox_by_id (
    tenant          TEXT NOT NULL,
    send_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    number          TEXT NOT NULL,
    customer        TEXT NOT NULL,
    author          TEXT NOT NULL,
    request         TEXT NOT NULL,    -- the Cloud API request body (JSON)
    kind            TEXT NOT NULL,
    text            TEXT,
    state           TEXT NOT NULL,    -- queued | sending | sent | failed
    attempts        INTEGER NOT NULL,
    wamid           TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    pending         INTEGER NOT NULL,
    PRIMARY KEY (tenant, send_id)
) WITHOUT ROWID;
CREATE INDEX outbox_pending_by_number ON outbox_by_id (number, pending, created_at, send_id);
