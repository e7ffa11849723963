-- Schema version 17: retention. The audit log stays append-only, except for the one thing a
-- retention policy may do to it: remove a tenant's lines of whole days before a cut. A purge
-- writes its permit (the tenant and the first day it keeps) in the same transaction as its
-- delete and removes the permit before committing; without a permit the trigger still refuses
-- every delete. (ScyllaDB has no triggers: there the audit table is written only by the audit
-- and retention code.)

CREATE TABLE audit_purge_permits (
    tenant         TEXT PRIMARY KEY,
    before_bucket  INTEGER NOT NULL
) WITHOUT ROWID;

DROP TRIGGER audit_is_append_only_delete;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit_by_tenant
WHEN NOT EXISTS (
    SELECT 1 FROM audit_purge_permits p
    WHERE p.tenant = old.tenant AND old.bucket < p.before_bucket
)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- The journal is purged by day.
CREATE INDEX webhook_journal_by_bucket ON webhook_journal (bucket);
