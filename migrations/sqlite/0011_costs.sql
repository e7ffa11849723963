-- Schema version 11: the cost ledger (the same model as migrations/0012_costs.cql). One line per
-- message Meta priced, by tenant and month; `charge_keys` makes the line once per message even
-- when several of its statuses carry `pricing` (before v24, `sent` and `delivered` both do).

CREATE TABLE charge_keys (
    tenant  TEXT NOT NULL,
    wamid   TEXT NOT NULL,
    month   TEXT NOT NULL,
    PRIMARY KEY (tenant, wamid)
) WITHOUT ROWID;

CREATE TABLE charges_by_month (
    tenant        TEXT NOT NULL,
    month         TEXT NOT NULL,   -- 2026-11 (UTC)
    wamid         TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    number        TEXT NOT NULL,
    country       TEXT NOT NULL,   -- ISO 3166 alpha-2, empty when unknown
    category      TEXT NOT NULL,   -- marketing | utility | authentication | ...
    pricing_type  TEXT NOT NULL,   -- regular | free_customer_service | free_entry_point | ...
    model         TEXT NOT NULL,   -- PMP | CBP
    team          TEXT,
    sender        TEXT,
    campaign      TEXT,
    price         TEXT,            -- exact decimal, USD; NULL: billed but not on the rate card
    PRIMARY KEY (tenant, month, wamid)
) WITHOUT ROWID;
