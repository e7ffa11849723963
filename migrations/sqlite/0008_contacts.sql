-- Schema version 8: contacts (the same model as migrations/0009_contacts.cql). A contact is
-- found by id; its number and its BSUID are unique in the tenant. The segment index covers
-- every column a segment count reads except attributes (their own table), so a count reads the
-- index alone and never the wide rows; `tag_key` holds the folded tags between unit
-- separators (U+001F) so that a tag test is one `instr`.

CREATE TABLE contacts_by_id (
    tenant           TEXT NOT NULL,
    id               TEXT NOT NULL,
    phone            TEXT,             -- E.164 digits, no '+'
    bsuid            TEXT,
    username         TEXT,
    name             TEXT,
    profile_name     TEXT,
    search           TEXT NOT NULL,    -- the display name, folded, for prefix search
    country          TEXT,
    tags             TEXT NOT NULL,    -- JSON array, catalogue spellings
    tag_key          TEXT NOT NULL,    -- U+001F tag U+001F tag U+001F, folded
    attributes       TEXT NOT NULL,    -- JSON object
    marketing        TEXT NOT NULL,    -- opted_in | opted_out | unknown
    consent          TEXT,             -- the latest evidence (JSON)
    last_inbound_at  INTEGER,
    last_outbound_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX contacts_by_phone ON contacts_by_id (tenant, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX contacts_by_bsuid ON contacts_by_id (tenant, bsuid) WHERE bsuid IS NOT NULL;
CREATE INDEX contacts_by_search ON contacts_by_id (tenant, search);
CREATE INDEX contacts_segments ON contacts_by_id (tenant, country, marketing, last_inbound_at,
    last_outbound_at, tag_key, phone, bsuid);

-- Which contacts carry a tag (listing by tag, removing a tag from the catalogue).
CREATE TABLE contact_tags (
    tenant   TEXT NOT NULL,
    tag      TEXT NOT NULL,    -- folded
    contact  TEXT NOT NULL,
    PRIMARY KEY (tenant, tag, contact)
) WITHOUT ROWID;

-- Attribute values, for segment tests: `fold` is the text lower-cased, `num` the number (or
-- 0/1 for booleans).
CREATE TABLE contact_attributes (
    tenant   TEXT NOT NULL,
    key      TEXT NOT NULL,
    contact  TEXT NOT NULL,
    text     TEXT,
    fold     TEXT,
    num      REAL,
    PRIMARY KEY (tenant, key, contact)
) WITHOUT ROWID;
CREATE INDEX contact_attributes_by_contact ON contact_attributes (tenant, contact);

CREATE TABLE contact_notes_by_contact (
    tenant       TEXT NOT NULL,
    contact      TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    note_id      TEXT NOT NULL,
    author       TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (tenant, contact, at_ms, note_id)
) WITHOUT ROWID;

CREATE TABLE consent_by_contact (
    tenant     TEXT NOT NULL,
    contact    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    source     TEXT NOT NULL,
    marketing  TEXT NOT NULL,
    text       TEXT NOT NULL,
    by_user    TEXT,
    PRIMARY KEY (tenant, contact, at_ms, source, marketing)
) WITHOUT ROWID;

CREATE TABLE tags_by_tenant (
    tenant   TEXT NOT NULL,
    fold     TEXT NOT NULL,
    name     TEXT NOT NULL,
    colour   TEXT NOT NULL,
    PRIMARY KEY (tenant, fold)
) WITHOUT ROWID;

CREATE TABLE attributes_by_tenant (
    tenant      TEXT NOT NULL,
    key         TEXT NOT NULL,
    definition  TEXT NOT NULL,    -- JSON
    PRIMARY KEY (tenant, key)
) WITHOUT ROWID;

CREATE TABLE segments_by_tenant (
    tenant      TEXT NOT NULL,
    segment_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    filter      TEXT NOT NULL,    -- JSON
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, segment_id)
) WITHOUT ROWID;

CREATE TABLE imports_by_tenant (
    tenant       TEXT NOT NULL,
    import_id    TEXT NOT NULL,
    state        TEXT NOT NULL,
    dry_run      INTEGER NOT NULL,
    by_user      TEXT NOT NULL,
    file_name    TEXT,
    file         TEXT NOT NULL,
    bytes_total  INTEGER NOT NULL,
    options      TEXT NOT NULL,    -- JSON
    progress     TEXT NOT NULL,    -- JSON
    error        TEXT,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    PRIMARY KEY (tenant, import_id)
) WITHOUT ROWID;
CREATE INDEX imports_running ON imports_by_tenant (state);

CREATE TABLE import_undo (
    tenant      TEXT NOT NULL,
    import_id   TEXT NOT NULL,
    contact     TEXT NOT NULL,
    before      TEXT,             -- JSON of the editable fields; NULL: the import created it
    written_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, import_id, contact)
) WITHOUT ROWID;

CREATE TABLE import_rejects (
    tenant     TEXT NOT NULL,
    import_id  TEXT NOT NULL,
    line       INTEGER NOT NULL,
    fields     TEXT NOT NULL,     -- JSON array
    reason     TEXT NOT NULL,
    PRIMARY KEY (tenant, import_id, line)
) WITHOUT ROWID;
