//! `switchboard backup` and `switchboard restore`: the embedded store as one compressed file,
//! taken while the server runs and takes traffic, and put back into an empty directory.
//!
//! Owns: the file (gzip of a consistent, compacted copy of the SQLite database, checked whole
//! before it is kept), scheduled backups (a file every `every_hours`, named by its time, the
//! newest `keep` kept) and the rules of a restore (an empty directory; a file that does not
//! decompress whole or whose copy fails SQLite's integrity check changes nothing). Must not:
//! know the schema (`store::sqlite::snapshot` asks SQLite), or touch a ScyllaDB cluster (its
//! own snapshots are the tool there).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use crate::store::sqlite::snapshot;

/// The database's file name inside a data directory (and inside a backup).
const DB_FILE: &str = "switchboard.db";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists: choose a new name (a backup never overwrites one)")]
    Exists(PathBuf),
    #[error("{0} is not empty: restore into a new or empty directory")]
    NotEmpty(PathBuf),
    #[error("{path} is not a whole backup: {why}")]
    Damaged { path: PathBuf, why: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a backup or a restore holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub schema_version: i64,
    pub messages: u64,
    /// The backup file's size.
    pub bytes: u64,
}

/// A path beside `path` with `suffix` added to its name, for work in progress.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// Backs up the database of `data_dir` into `out` (gzip), consistently, while a server may be
/// writing to it. The copy is checked whole before it is compressed; `out` appears only once
/// complete (written beside it, then renamed).
pub fn backup(data_dir: &Path, out: &Path) -> Result<Summary, BackupError> {
    if out.exists() {
        return Err(BackupError::Exists(out.to_owned()));
    }
    let copy = beside(out, ".partial.db");
    let partial = beside(out, ".partial");
    let result = (|| {
        let _ = std::fs::remove_file(&copy);
        snapshot::snapshot(&data_dir.join(DB_FILE), &copy)?;
        let (schema_version, messages) = snapshot::check(&copy)?;
        let mut source = BufReader::new(File::open(&copy).map_err(io(&copy))?);
        let file = File::create(&partial).map_err(io(&partial))?;
        let mut gz: GzEncoder<BufWriter<File>> = GzBuilder::new()
            .filename(DB_FILE)
            .comment(format!(
                "switchboard backup, schema version {schema_version}"
            ))
            .write(BufWriter::new(file), Compression::default());
        std::io::copy(&mut source, &mut gz).map_err(io(&partial))?;
        let file = gz
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(io(&partial))?;
        file.sync_all().map_err(io(&partial))?;
        std::fs::rename(&partial, out).map_err(io(out))?;
        let bytes = std::fs::metadata(out).map_err(io(out))?.len();
        Ok(Summary {
            schema_version,
            messages,
            bytes,
        })
    })();
    let _ = std::fs::remove_file(&copy);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Restores the backup `from` into `data_dir`, which must be absent or empty. A file that does
/// not decompress whole, or whose database fails its checks, is refused and leaves `data_dir`
/// as it was.
pub fn restore(from: &Path, data_dir: &Path) -> Result<Summary, BackupError> {
    let created = !data_dir.exists();
    if !created {
        let mut entries = std::fs::read_dir(data_dir).map_err(io(data_dir))?;
        if entries.next().is_some() {
            return Err(BackupError::NotEmpty(data_dir.to_owned()));
        }
    }
    let bytes = std::fs::metadata(from).map_err(io(from))?.len();
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let partial = data_dir.join(format!("{DB_FILE}.partial"));
    let result = (|| {
        let mut gz = GzDecoder::new(BufReader::new(File::open(from).map_err(io(from))?));
        let mut file = BufWriter::new(File::create(&partial).map_err(io(&partial))?);
        std::io::copy(&mut gz, &mut file).map_err(|e| BackupError::Damaged {
            path: from.to_owned(),
            why: e.to_string(),
        })?;
        let file = file
            .into_inner()
            .map_err(|e| io(&partial)(e.into_error()))?;
        file.sync_all().map_err(io(&partial))?;
        let (schema_version, messages) =
            snapshot::check(&partial).map_err(|e| BackupError::Damaged {
                path: from.to_owned(),
                why: e.to_string(),
            })?;
        let db = data_dir.join(DB_FILE);
        std::fs::rename(&partial, &db).map_err(io(&db))?;
        File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map_err(io(data_dir))?;
        Ok(Summary {
            schema_version,
            messages,
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
        if created {
            let _ = std::fs::remove_dir(data_dir);
        }
    }
    result
}

/// The prefix and suffix of scheduled backups' names (`switchboard-20261206T020000Z.db.gz`):
/// the time in the name sorts them, so the newest is the last by name.
const SCHEDULED: (&str, &str) = ("switchboard-", ".db.gz");

/// The name of a scheduled backup taken at `at_ms`.
pub fn scheduled_name(at_ms: i64) -> String {
    let at = jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!(
        "{}{}{}",
        SCHEDULED.0,
        at.strftime("%Y%m%dT%H%M%SZ"),
        SCHEDULED.1
    )
}

/// The scheduled backups in `dir`, oldest first (other files are not ours and are left alone).
pub fn scheduled(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(SCHEDULED.0)
                        && n.ends_with(SCHEDULED.1)
                        && n.len() == scheduled_name(0).len()
                })
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(dir)(e)),
    };
    found.sort();
    Ok(found)
}

/// Whether a scheduled backup is due at `now_ms`: none yet, or the newest is at least
/// `every_hours` old (by its file's time).
pub fn due(dir: &Path, now_ms: i64, every_hours: u32) -> Result<bool, BackupError> {
    let Some(newest) = scheduled(dir)?.pop() else {
        return Ok(true);
    };
    let modified = std::fs::metadata(&newest)
        .and_then(|m| m.modified())
        .map_err(io(&newest))?;
    let at = modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Ok(now_ms - at >= i64::from(every_hours) * 3_600_000)
}

/// Takes a scheduled backup into `dir` (made if missing), then deletes the oldest scheduled ones
/// beyond `keep`. Returns the backup's summary and the files deleted.
pub fn take_scheduled(
    data_dir: &Path,
    dir: &Path,
    now_ms: i64,
    keep: usize,
) -> Result<(Summary, Vec<PathBuf>), BackupError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let made = backup(data_dir, &dir.join(scheduled_name(now_ms)))?;
    let all = scheduled(dir)?;
    let extra = all.len().saturating_sub(keep.max(1));
    let mut pruned = Vec::new();
    for old in all.into_iter().take(extra) {
        std::fs::remove_file(&old).map_err(io(&old))?;
        pruned.push(old);
    }
    Ok((made, pruned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let store = crate::store::sqlite::SqliteStore::open(
            &dir.join(DB_FILE),
            crate::store::sqlite::SqliteOptions::default(),
        )
        .unwrap();
        drop(store);
    }

    #[test]
    fn scheduled_backups_are_named_by_time_and_the_newest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        database(&data);
        let backups = dir.path().join("backups");
        assert!(due(&backups, 0, 24).unwrap(), "none yet: due");
        let day = 86_400_000;
        let t0 = 1_796_000_000_000;
        assert_eq!(scheduled_name(t0), "switchboard-20261130T005320Z.db.gz");
        // Someone else's file in the folder is never touched.
        std::fs::create_dir_all(&backups).unwrap();
        std::fs::write(backups.join("notes.txt"), b"mine").unwrap();
        for i in 0..4 {
            let (made, pruned) = take_scheduled(&data, &backups, t0 + i * day, 2).unwrap();
            assert!(made.bytes > 0);
            assert_eq!(pruned.len(), usize::from(i >= 2), "after {i}");
        }
        let left: Vec<String> = scheduled(&backups)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            [scheduled_name(t0 + 2 * day), scheduled_name(t0 + 3 * day)]
        );
        assert!(backups.join("notes.txt").exists());
        // The newest was just written: not due for a day.
        let now = crate::domain::now_ms();
        assert!(!due(&backups, now, 24).unwrap());
        assert!(due(&backups, now + day, 24).unwrap());
        let restored = dir.path().join("restored");
        restore(&backups.join(&left[1]), &restored).unwrap();
    }

    #[test]
    fn a_backup_restores_into_an_empty_directory_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        database(&data);
        let file = dir.path().join("b.gz");
        let made = backup(&data, &file).unwrap();
        assert!(made.bytes > 0 && made.schema_version > 0);
        assert!(matches!(backup(&data, &file), Err(BackupError::Exists(_))));

        // Not into a directory with anything in it.
        assert!(matches!(
            restore(&file, &data),
            Err(BackupError::NotEmpty(_))
        ));
        let restored = dir.path().join("restored");
        assert_eq!(
            restore(&file, &restored).unwrap().schema_version,
            made.schema_version
        );
        assert!(restored.join(DB_FILE).exists());

        // A truncated file is refused and leaves nothing behind.
        let bytes = std::fs::read(&file).unwrap();
        let cut = dir.path().join("cut.gz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let target = dir.path().join("never");
        assert!(matches!(
            restore(&cut, &target),
            Err(BackupError::Damaged { .. })
        ));
        assert!(!target.exists(), "nothing changed");
        // Nor is a file that is not a backup at all, into an empty directory that stays empty.
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        std::fs::write(dir.path().join("x.gz"), b"not gzip").unwrap();
        assert!(restore(&dir.path().join("x.gz"), &empty).is_err());
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    }
}
