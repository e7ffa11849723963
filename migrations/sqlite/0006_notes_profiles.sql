-- Schema version 6: internal notes and agents' routing profiles (the same model as
-- migrations/0006_notes_profiles.cql).

CREATE TABLE notes_by_conversation (
    tenant          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    at_ms           INTEGER NOT NULL,
    note_id         TEXT NOT NULL,
    author          TEXT,
    author_name     TEXT NOT NULL,
    text            TEXT NOT NULL,
    mentions        TEXT NOT NULL,    -- JSON array of user ids
    PRIMARY KEY (tenant, conversation_id, at_ms, note_id)
) WITHOUT ROWID;

CREATE TABLE agent_profiles_by_tenant (
    tenant     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    skills     TEXT NOT NULL,        -- JSON array
    capacity   INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
) WITHOUT ROWID;
