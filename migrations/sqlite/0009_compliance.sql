-- Schema version 9: the outgoing word filter's term lists (the same model as
-- migrations/0010_compliance.cql). A list is one JSON document, read and replaced whole; its
-- version guards against overwriting a change made since it was read.

CREATE TABLE term_lists (
    tenant      TEXT NOT NULL,
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    body        TEXT NOT NULL,   -- JSON: name, category, action, fit, terms, exceptions, ...
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
