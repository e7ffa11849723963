-- Schema version 15: reports' facts (the same model as migrations/0016_reports.cql). A
-- conversation's episode (from the message that opened or reopened it to its resolution) gets
-- one row, rewritten with every write of the conversation's state, so reports and the board's
-- figures are stored, not counted in memory. The thread carries the running figures of its
-- current episode. Conversations last written before this version have no episode until they
-- are next written: their history had no record of who answered first.

ALTER TABLE threads_by_id ADD COLUMN first_response_at INTEGER;
ALTER TABLE threads_by_id ADD COLUMN first_responder TEXT;
ALTER TABLE threads_by_id ADD COLUMN messages_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads_by_id ADD COLUMN messages_out INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads_by_id ADD COLUMN survey TEXT;   -- JSON: the satisfaction survey of the episode

CREATE TABLE episodes (
    tenant             TEXT NOT NULL,
    day                INTEGER NOT NULL,   -- of opened_at, days since the epoch (UTC)
    conversation_id    TEXT NOT NULL,
    opened_at          INTEGER NOT NULL,
    number             TEXT NOT NULL,
    country            TEXT,               -- ISO 3166 from the customer's number
    agent              TEXT,               -- who has it, or had it last
    first_response_at  INTEGER,
    first_responder    TEXT,
    resolved_at        INTEGER,
    messages_in        INTEGER NOT NULL,
    messages_out       INTEGER NOT NULL,
    survey             TEXT,               -- JSON, as on the thread
    PRIMARY KEY (tenant, day, conversation_id, opened_at)
) WITHOUT ROWID;
