-- Schema version 10: what a restart replays (the same model as migrations/0011_replay.cql).
-- Every new customer message is indexed by when its webhook was received, in the transaction
-- that stores it; the inbox moves a cursor past what it has handled. A start replays the
-- messages received after the cursor (less a margin), so a message stored but not yet acted on
-- when the process stopped still reaches the inbox and automation. Rows older than a week are
-- dropped as the cursor moves.

CREATE TABLE inbound_by_received (
    tenant       TEXT NOT NULL,
    hour         INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    message_key  TEXT NOT NULL,
    PRIMARY KEY (tenant, hour, received_at, message_key)
) WITHOUT ROWID;

CREATE TABLE cursors (
    name   TEXT PRIMARY KEY,
    at_ms  INTEGER NOT NULL
) WITHOUT ROWID;
