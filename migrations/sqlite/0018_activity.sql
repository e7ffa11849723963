-- Schema version 18: agents' working time (the model of migrations/0018_activity.cql). One row
-- per (tenant, UTC day, agent) holding the day's running totals, rewritten whole by the inbox as
-- the day goes on (domain::activity). Reports read a range of days.

CREATE TABLE agent_days (
    tenant        TEXT NOT NULL,
    day           INTEGER NOT NULL,
    user_id       TEXT NOT NULL,
    online_ms     INTEGER NOT NULL,
    idle_ms       INTEGER NOT NULL,
    available_ms  INTEGER NOT NULL,
    break_ms      INTEGER NOT NULL,
    load_ms       INTEGER NOT NULL,
    peak_load     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, user_id)
) WITHOUT ROWID;
