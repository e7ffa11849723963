-- Schema version 9: automation's documents (the same model as migrations/0010_automation.cql):
-- keyword rules and the word filter's term lists, and later schedules and flows. One JSON document per (tenant, kind, id), read
-- and replaced whole; its version guards against overwriting a change made since it was read.

CREATE TABLE automation_items (
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,   -- rule | term_list
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, id)
) WITHOUT ROWID;
