-- Schema version 12: campaigns' recipients (the same model as migrations/0013_campaigns.cql).
-- A row per contact a campaign selected, written before anything is sent; the campaign itself
-- is an automation document (kind `campaign`).

CREATE TABLE campaign_recipients (
    tenant      TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    wa_id       TEXT NOT NULL,
    contact     TEXT NOT NULL,
    state       TEXT NOT NULL,   -- queued | sent | delivered | read | replied | failed | skipped
    reason      TEXT,
    number      TEXT,
    send        TEXT,
    clicked     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, campaign, bucket, wa_id)
) WITHOUT ROWID;
