//! Consistent copies of the embedded store, for `switchboard backup` and `restore`: what SQLite
//! itself offers, so nothing here knows the schema.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{migrate::MIGRATIONS, unavailable};
use crate::store::{StoreError, StoreResult};

/// Writes a consistent, compacted copy of the database at `db` to `to` (which must not exist)
/// while a server may be writing to it: `VACUUM INTO` reads within one transaction, and WAL lets
/// writers go on meanwhile.
pub fn snapshot(db: &Path, to: &Path) -> StoreResult<()> {
    if !db.exists() {
        return Err(StoreError::Unavailable(format!(
            "no database at {}",
            db.display()
        )));
    }
    let conn =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(unavailable)?;
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", to.display())))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(unavailable)?;
    Ok(())
}

/// What a copy holds, once checked whole: SQLite's `integrity_check` passes and its migration
/// ledger is one this build knows (no newer). Returns the schema version and the messages.
pub fn check(db: &Path) -> StoreResult<(i64, u64)> {
    let bad = |why: String| StoreError::Corrupt(format!("{}: {why}", db.display()));
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(e.to_string()))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    if integrity != "ok" {
        return Err(bad(format!("integrity check: {integrity}")));
    }
    let version: i64 = conn
        .query_row("SELECT MAX(version) FROM schema_ledger", [], |r| r.get(0))
        .map_err(|e| bad(format!("no migration ledger ({e})")))?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if version > newest {
        return Err(bad(format!(
            "schema version {version} is newer than this build's {newest}"
        )));
    }
    let messages: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages_by_key", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    Ok((version, messages as u64))
}
