-- Schema version 21: contacts found by any word of their name (the terms of
-- server/src/domain/name_search.rs; the same rows as migrations/0009_contacts.cql's
-- contacts_by_search). Each contact has a row per term of its folded name: the whole name and
-- each later word. They replace the index of whole names. The rows of the contacts stored
-- before are written when this migration runs (server/src/store/sqlite/migrate.rs); migration 8
-- also runs this file first, since the contacts it makes are written by today's code.

CREATE TABLE IF NOT EXISTS contact_terms (
    tenant   TEXT NOT NULL,
    term     TEXT NOT NULL,
    contact  TEXT NOT NULL,
    PRIMARY KEY (tenant, term, contact)
) WITHOUT ROWID;
DROP INDEX IF EXISTS contacts_by_search;
