-- Schema version 10: automation's documents (the same model as migrations/0011_automation.cql):
-- keyword rules, and later schedules and flows. One JSON document per (tenant, kind, id), read
-- and replaced whole; its version guards against overwriting a change made since it was read.

CREATE TABLE automation_items (
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,   -- rule
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, id)
) WITHOUT ROWID;
