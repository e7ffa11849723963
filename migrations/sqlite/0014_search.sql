-- Schema version 14: full-text search of message texts (the model of migrations/0015_search.cql).
-- Each message with text gets one row: its search terms (switchboard_shared::normalize::
-- search_terms), each prefixed with a tag of its tenant so that a query reads only its own
-- tenant's postings (the tenant column is checked as well: the tag is a short hash). The terms
-- are folded already, so the tokenizer only splits them. `message_search_rows` finds a
-- conversation's rows again when the conversation is erased.

CREATE VIRTUAL TABLE message_search USING fts5(
    terms,
    tenant UNINDEXED,
    conversation_id UNINDEXED,
    message_key UNINDEXED,
    at_ms UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0',
    detail = none
);

CREATE TABLE message_search_rows (
    tenant           TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    search_rowid     INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id, search_rowid)
) WITHOUT ROWID;
