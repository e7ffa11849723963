-- Schema version 20: outbound webhooks (the model of migrations/0020_webhooks.cql). A workspace's
-- endpoints, their signing keys sealed by the server (ChaCha20-Poly1305 under the secrets key);
-- and every delivery, stored before its first attempt: the log reads an endpoint's newest first,
-- a start reads the pending ones. `attempts` is the JSON list the API shows.

CREATE TABLE webhook_endpoints (
    tenant            TEXT NOT NULL,
    endpoint_id       TEXT NOT NULL,
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    description       TEXT NOT NULL,
    secret            BLOB NOT NULL,
    previous_secret   BLOB,
    previous_until    INTEGER,
    enabled           INTEGER NOT NULL,
    disabled_reason   TEXT,
    failing_since     INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant, endpoint_id)
) WITHOUT ROWID;

CREATE TABLE webhook_deliveries (
    tenant        TEXT NOT NULL,
    delivery_id   TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    event         TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    state         TEXT NOT NULL,
    next_at       INTEGER NOT NULL,
    attempts      TEXT NOT NULL,
    PRIMARY KEY (tenant, delivery_id)
);

CREATE INDEX webhook_deliveries_log
    ON webhook_deliveries (tenant, endpoint_id, created_at DESC, delivery_id DESC);
CREATE INDEX webhook_deliveries_pending
    ON webhook_deliveries (tenant, delivery_id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);
