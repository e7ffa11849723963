//! The migration ledger both backends keep: for each migration applied, its version, file name,
//! checksum and when it was applied. A migration is applied once; one whose file changed after
//! it was applied stops start-up with a message naming it, instead of a schema that silently
//! differs from what the code expects (an edited migration never reaches a database that already
//! ran the old text). A database that ran migrations this build does not know was upgraded by a
//! newer Switchboard: start-up stops too, rather than writing through an older schema's eyes.

use sha2::{Digest, Sha256};

use super::{StoreError, StoreResult};

/// One migration file, embedded in the binary.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// From the file name's number (`0003_access.sql` is 3).
    pub version: i64,
    pub name: &'static str,
    pub text: &'static str,
}

impl Migration {
    /// `name` must start with its version number and an underscore.
    pub const fn new(version: i64, name: &'static str, text: &'static str) -> Self {
        Self {
            version,
            name,
            text,
        }
    }

    /// Hex SHA-256 of the file's text.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.text.as_bytes()))
    }
}

/// A ledger row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at: i64,
}

/// The migrations still to apply, in order, after checking what was applied against the files.
pub fn pending<'a>(
    backend: &str,
    applied: &[Applied],
    available: &'a [Migration],
) -> StoreResult<Vec<&'a Migration>> {
    for row in applied {
        match available.iter().find(|m| m.version == row.version) {
            Some(m) if m.checksum() != row.checksum => {
                return Err(StoreError::Unavailable(format!(
                    "{backend} migration {} ({}) was changed after it was applied on {}: the \
                     database ran the text with checksum {}, this build has {}. Restore the \
                     original file and add a new migration for the change",
                    m.version,
                    m.name,
                    jiff::Timestamp::from_millisecond(row.applied_at)
                        .map(|t| t.to_string())
                        .unwrap_or_else(|_| row.applied_at.to_string()),
                    row.checksum,
                    m.checksum()
                )));
            }
            Some(_) => {}
            None => {
                return Err(StoreError::Unavailable(format!(
                    "the {backend} database has migration {} ({}) applied, which this build does \
                     not know: it was upgraded by a newer Switchboard; run that version",
                    row.version, row.name
                )));
            }
        }
    }
    Ok(available
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: [Migration; 2] = [
        Migration::new(1, "0001_a.sql", "CREATE TABLE a (x INT);"),
        Migration::new(2, "0002_b.sql", "CREATE TABLE b (x INT);"),
    ];

    fn row(m: &Migration, checksum: String) -> Applied {
        Applied {
            version: m.version,
            name: m.name.into(),
            checksum,
            applied_at: 1_750_000_000_000,
        }
    }

    #[test]
    fn applies_what_is_missing_in_order() {
        let applied = [row(&FILES[0], FILES[0].checksum())];
        let todo = pending("SQLite", &applied, &FILES).unwrap();
        assert_eq!(todo.iter().map(|m| m.version).collect::<Vec<_>>(), vec![2]);
        assert_eq!(pending("SQLite", &[], &FILES).unwrap().len(), 2);
    }

    #[test]
    fn a_changed_file_stops_with_its_name() {
        let applied = [row(&FILES[0], "0".repeat(64))];
        let e = pending("SQLite", &applied, &FILES).unwrap_err().to_string();
        assert!(e.contains("0001_a.sql") && e.contains("was changed"), "{e}");
    }

    #[test]
    fn a_newer_database_stops() {
        let newer = Migration::new(3, "0003_c.sql", "x");
        let applied = [row(&newer, newer.checksum())];
        let e = pending("ScyllaDB", &applied, &FILES)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("newer Switchboard") && e.contains("0003_c.sql"),
            "{e}"
        );
    }
}
