-- Schema version 16: files kept (the same model as migrations/0017_media.cql). One row per
-- file a message carries, written with the message (so its copy is queued before the webhook is
-- acknowledged) and rewritten as the media keeper copies it into the blob store. The pending ones
-- are the keeper's queue (a partial index per number); the digest index tells whether a blob is
-- still named by any file before it is deleted.

CREATE TABLE media (
    tenant       TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    number       TEXT NOT NULL,
    message_key  TEXT,
    mime_type    TEXT,
    filename     TEXT,
    state        TEXT NOT NULL,      -- pending | stored | too_large | lost | purged
    digest       TEXT,               -- SHA-256 of the blob, once stored
    bytes        INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, media_id)
) WITHOUT ROWID;

CREATE INDEX media_pending ON media (number, next_at) WHERE state = 'pending';
CREATE INDEX media_by_digest ON media (digest) WHERE digest IS NOT NULL;
