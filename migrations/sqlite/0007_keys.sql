-- Schema version 7 (the same model as migrations/0007_keys.cql): the deployment's identifier
-- secret, from which conversation ids and masked message references are derived (HMAC), and
-- the ids conversations had before they were keyed, so a request naming an old id is told the
-- new one instead of "not found". The re-keying of existing rows runs in Rust, in the same
-- transaction as this file (store/sqlite.rs, `rekey_conversations`).
CREATE TABLE server_keys (
    name    TEXT PRIMARY KEY,
    secret  BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE conversation_aliases (
    tenant  TEXT NOT NULL,
    old_id  TEXT NOT NULL,
    new_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, old_id)
) WITHOUT ROWID;
