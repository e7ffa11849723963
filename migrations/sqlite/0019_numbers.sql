-- Schema version 19: numbers connected from the app (the model of migrations/0019_numbers.cql).
-- One row per phone number id, so a number is connected at most once across tenants; the three
-- secrets are sealed by the server (ChaCha20-Poly1305 under the secrets key) before they reach
-- this table. The number's place in its tenant's list stays in numbers_by_id.

CREATE TABLE number_connections (
    phone_number_id       TEXT PRIMARY KEY,
    tenant                TEXT NOT NULL,
    display_phone_number  TEXT NOT NULL,
    waba_id               TEXT,
    graph_api_url         TEXT NOT NULL,
    mps                   INTEGER NOT NULL,
    enabled               INTEGER NOT NULL,
    access_token          BLOB NOT NULL,
    app_secret            BLOB NOT NULL,
    verify_token          BLOB NOT NULL,
    problem               TEXT,
    updated_at            INTEGER NOT NULL
) WITHOUT ROWID;
