//! The schema's migrations, the replication check and the deployment's identifier keys.

use scylla::client::session::Session;
use scylla::statement::Consistency;

use scylla::statement::unprepared::Statement;

use super::{first_row, rows_of, unavailable, ScyllaOptions};
use crate::domain::now_ms;
use crate::store::ledger::{self, Applied, Migration};
use crate::store::{IdKeys, StoreError, StoreResult};

/// One migration file of `migrations/`, embedded.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration::new(
            $version,
            $name,
            include_str!(concat!("../../../../migrations/", $name)),
        )
    };
}

/// The migrations, in order. Every statement in them is idempotent (`IF NOT EXISTS`, and an
/// `ALTER TABLE … ADD column` runs only while the column is missing: [`column_exists`]), so a
/// migration interrupted midway is simply run again; the ledger records each one completed.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_initial.cql"),
    migration!(2, "0002_identity.cql"),
    migration!(3, "0003_access.cql"),
    migration!(4, "0004_inbox.cql"),
    migration!(5, "0005_outbox.cql"),
    migration!(6, "0006_notes_profiles.cql"),
    migration!(7, "0007_keys.cql"),
    migration!(8, "0008_journal.cql"),
    migration!(9, "0009_contacts.cql"),
    migration!(10, "0010_automation.cql"),
    migration!(11, "0011_replay.cql"),
    migration!(12, "0012_costs.cql"),
    migration!(13, "0013_campaigns.cql"),
    migration!(14, "0014_archive.cql"),
    migration!(15, "0015_search.cql"),
    migration!(16, "0016_reports.cql"),
    migration!(17, "0017_media.cql"),
    migration!(18, "0018_activity.cql"),
    migration!(19, "0019_numbers.cql"),
    migration!(20, "0020_webhooks.cql"),
];

/// Brings the keyspace's schema up to date: creates the keyspace and the ledger, takes the
/// migration lock (so two servers starting together do not both change the schema), checks the
/// ledger against the files (a changed file or a newer keyspace stops here), then runs each
/// missing migration, waits for every node to agree on the schema, and records it.
pub(super) async fn migrate(session: &Session, options: &ScyllaOptions) -> StoreResult<()> {
    let keyspace = options.keyspace.as_str();
    let fill = |cql: &str| {
        cql.replace("{keyspace}", keyspace)
            .replace("{replication}", &options.replication)
    };
    run(
        session,
        &format!(
            "{} {}",
            fill("CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}"),
            options.keyspace_options
        ),
    )
    .await?;
    run(
        session,
        &fill(
            "CREATE TABLE IF NOT EXISTS {keyspace}.schema_ledger (
               scope text, version int, name text, checksum text, applied_at bigint,
               PRIMARY KEY (scope, version))",
        ),
    )
    .await?;
    agree(session).await?;
    let lock = MigrationLock::take(session, keyspace).await?;
    let outcome = apply_pending(session, keyspace, &fill).await;
    lock.release(session).await;
    outcome
}

async fn apply_pending(
    session: &Session,
    keyspace: &str,
    fill: &impl Fn(&str) -> String,
) -> StoreResult<()> {
    let applied = ledger_rows(session, keyspace).await?;
    for m in ledger::pending("ScyllaDB", &applied, MIGRATIONS)? {
        for statement in cql_statements(&fill(m.text)) {
            if let Some((ks, table, column)) = added_column(&statement) {
                if column_exists(session, ks, table, column).await? {
                    continue;
                }
            }
            run(session, &statement).await?;
        }
        agree(session).await?;
        let mut record = Statement::new(format!(
            "INSERT INTO {keyspace}.schema_ledger (scope, version, name, checksum, applied_at)
             VALUES ('schema', ?, ?, ?, ?)"
        ));
        record.set_consistency(Consistency::LocalQuorum);
        session
            .query_unpaged(record, (m.version as i32, m.name, m.checksum(), now_ms()))
            .await
            .map_err(unavailable)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied ScyllaDB migration"
        );
    }
    Ok(())
}

/// The `(keyspace, table, column)` an `ALTER TABLE ks.table ADD column type` statement adds,
/// which CQL has no `IF NOT EXISTS` for.
pub(super) fn added_column(statement: &str) -> Option<(&str, &str, &str)> {
    let mut words = statement.split_whitespace();
    let alter = words.next()?.eq_ignore_ascii_case("ALTER");
    let table = words.next()?.eq_ignore_ascii_case("TABLE");
    let (ks, name) = words.next()?.split_once('.')?;
    let add = words.next()?.eq_ignore_ascii_case("ADD");
    let column = words.next()?;
    (alter && table && add && !column.starts_with('(')).then_some((ks, name, column))
}

async fn column_exists(
    session: &Session,
    keyspace: &str,
    table: &str,
    column: &str,
) -> StoreResult<bool> {
    let result = session
        .query_unpaged(
            "SELECT column_name FROM system_schema.columns
             WHERE keyspace_name = ? AND table_name = ? AND column_name = ?",
            (keyspace, table, column),
        )
        .await
        .map_err(unavailable)?;
    Ok(!rows_of::<(String,)>(result)?.is_empty())
}

/// How long a migration lock lives if its holder dies without releasing it.
const LOCK_TTL_SECS: i32 = 120;
/// How long start-up waits for another server's migration to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(150);

/// The migration lock: a lightweight transaction on one ledger row, with a TTL so a crashed
/// holder cannot block start-up for longer than [`LOCK_TTL_SECS`].
struct MigrationLock {
    keyspace: String,
    owner: String,
}

impl MigrationLock {
    async fn take(session: &Session, keyspace: &str) -> StoreResult<Self> {
        let owner = format!("{:032x}", rand::random::<u128>());
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            let mut claim = Statement::new(format!(
                "INSERT INTO {keyspace}.schema_ledger (scope, version, name)
                 VALUES ('lock', 0, ?) IF NOT EXISTS USING TTL {LOCK_TTL_SECS}"
            ));
            claim.set_consistency(Consistency::LocalQuorum);
            let result = session
                .query_unpaged(claim, (owner.as_str(),))
                .await
                .map_err(unavailable)?;
            if super::lwt_applied(result)? {
                return Ok(Self {
                    keyspace: keyspace.to_owned(),
                    owner,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "another server has held the migration lock of keyspace `{keyspace}` for \
                     over {} s; if none is starting, the lock expires by itself within \
                     {LOCK_TTL_SECS} s of its holder stopping",
                    LOCK_WAIT.as_secs()
                )));
            }
            tracing::info!("another server is migrating the keyspace; waiting for it");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }

    /// Releases the lock if it is still ours (a failure only logs: the TTL ends it anyway).
    async fn release(self, session: &Session) {
        let keyspace = &self.keyspace;
        let mut delete = Statement::new(format!(
            "DELETE FROM {keyspace}.schema_ledger WHERE scope = 'lock' AND version = 0 IF name = ?"
        ));
        delete.set_consistency(Consistency::LocalQuorum);
        if let Err(error) = session.query_unpaged(delete, (self.owner.as_str(),)).await {
            tracing::warn!(%error, "could not release the migration lock; it expires by itself");
        }
    }
}

async fn run(session: &Session, statement: &str) -> StoreResult<()> {
    session
        .query_unpaged(statement, &[])
        .await
        .map(|_| ())
        .map_err(|e| StoreError::Unavailable(format!("applying schema (`{statement}`): {e}")))
}

/// Waits until every node has the same schema: a table just created on one node is not yet
/// known to the others, and a statement prepared against it there would fail.
async fn agree(session: &Session) -> StoreResult<()> {
    session
        .await_schema_agreement()
        .await
        .map(|_| ())
        .map_err(|e| StoreError::Unavailable(format!("waiting for schema agreement: {e}")))
}

#[derive(scylla::DeserializeRow)]
struct LedgerRow {
    version: i32,
    name: String,
    checksum: String,
    applied_at: i64,
}

pub(super) async fn ledger_rows(session: &Session, keyspace: &str) -> StoreResult<Vec<Applied>> {
    let mut select = Statement::new(format!(
        "SELECT version, name, checksum, applied_at FROM {keyspace}.schema_ledger
         WHERE scope = 'schema' LIMIT 10000"
    ));
    select.set_consistency(Consistency::LocalQuorum);
    let result = session
        .query_unpaged(select, &[])
        .await
        .map_err(unavailable)?;
    Ok(rows_of::<LedgerRow>(result)?
        .into_iter()
        .map(|r| Applied {
            version: i64::from(r.version),
            name: r.name,
            checksum: r.checksum,
            applied_at: r.applied_at,
        })
        .collect())
}

/// Splits a CQL script into statements: `;` ends one outside quotes; `--` and `//` line
/// comments and `/* */` block comments are dropped (outside quotes); a quote inside a string is
/// written twice, as CQL does.
pub(super) fn cql_statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                current.push(c);
                while let Some(d) = chars.next() {
                    current.push(d);
                    if d == c {
                        if chars.peek() == Some(&c) {
                            current.push(c);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => skip_line(&mut chars),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars),
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
                current.push(' ');
            }
            ';' => {
                let statement = current.trim();
                if !statement.is_empty() {
                    statements.push(statement.to_owned());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    let rest = current.trim();
    if !rest.is_empty() {
        statements.push(rest.to_owned());
    }
    statements
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for d in chars.by_ref() {
        if d == '\n' {
            break;
        }
    }
}

/// The deployment's identifier secret: read, or written once (`IF NOT EXISTS`, so two servers
/// starting together agree on one) and read back. A keyspace that already holds conversations
/// under the ids of before this secret existed is refused: re-keying a Scylla keyspace in place
/// is not built (the SQLite store re-keys itself; see docs/operations.md).
pub(super) async fn load_or_create_keys(session: &Session, ks: &str) -> StoreResult<IdKeys> {
    let read = || async {
        let mut select = Statement::new(format!(
            "SELECT secret FROM {ks}.server_keys WHERE name = 'ids'"
        ));
        select.set_consistency(Consistency::LocalQuorum);
        let result = session
            .query_unpaged(select, &[])
            .await
            .map_err(unavailable)?;
        first_row::<(Vec<u8>,)>(result)
    };
    if read().await?.is_none() {
        let mut any = Statement::new(format!(
            "SELECT conversation_id FROM {ks}.conversations_by_id LIMIT 1"
        ));
        any.set_consistency(Consistency::LocalQuorum);
        let existing = session.query_unpaged(any, &[]).await.map_err(unavailable)?;
        if first_row::<(String,)>(existing)?.is_some() {
            return Err(StoreError::Unavailable(format!(
                "keyspace `{ks}` holds conversations stored before conversation ids were keyed; \
                 re-keying a Scylla keyspace in place is not supported: keep the previous \
                 release for it, or export and import into a new keyspace"
            )));
        }
        let mut insert = Statement::new(format!(
            "INSERT INTO {ks}.server_keys (name, secret) VALUES ('ids', ?) IF NOT EXISTS"
        ));
        insert.set_consistency(Consistency::LocalQuorum);
        session
            .query_unpaged(insert, (IdKeys::generate().to_vec(),))
            .await
            .map_err(unavailable)?;
    }
    let (secret,) = read()
        .await?
        .ok_or_else(|| StoreError::Unavailable("the identifier key was not stored".into()))?;
    let master: [u8; 32] = secret
        .try_into()
        .map_err(|_| StoreError::Corrupt("the identifier key is not 32 bytes".into()))?;
    Ok(IdKeys::new(master))
}

/// The largest replication factor a CQL replication map asks for (`'replication_factor': 3`, or
/// one per datacenter).
fn largest_factor(replication: &str) -> Option<u32> {
    replication
        .split(',')
        .filter(|pair| !pair.contains("class"))
        .filter_map(|pair| {
            pair.rsplit(':')
                .next()?
                .trim()
                .trim_matches(|c: char| c == '}' || c == '\'' || c.is_whitespace())
                .parse()
                .ok()
        })
        .max()
}

/// Refuses a replication factor the cluster cannot hold: with 3 replicas asked of one node,
/// every LOCAL_QUORUM write would fail, each with a message about consistency, not about this.
pub(super) async fn check_replication(session: &Session, replication: &str) -> StoreResult<()> {
    let Some(factor) = largest_factor(replication) else {
        return Ok(());
    };
    let peers = session
        .query_unpaged("SELECT peer FROM system.peers", &[])
        .await
        .map_err(unavailable)?;
    let nodes = 1 + rows_of::<(std::net::IpAddr,)>(peers)?.len() as u32;
    if factor > nodes {
        return Err(StoreError::Unavailable(format!(
            "store.scylla.replication asks for {factor} replicas but the cluster has {nodes} \
             node(s): every write at LOCAL_QUORUM would fail; lower the replication factor \
             (for one node: {{'class': 'NetworkTopologyStrategy', 'replication_factor': 1}})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cql_statements;

    #[test]
    fn replication_factors_are_read_from_the_map() {
        let f = super::largest_factor;
        assert_eq!(
            f("{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"),
            Some(3)
        );
        assert_eq!(
            f("{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"),
            Some(3)
        );
        assert_eq!(
            f("{'class': 'SimpleStrategy', 'replication_factor': 1}"),
            Some(1)
        );
        assert_eq!(f("{'class': 'NetworkTopologyStrategy'}"), None);
    }

    #[test]
    fn schema_splits_into_statements_without_comments() {
        let all: String = super::MIGRATIONS.iter().map(|m| m.text).collect();
        let statements = cql_statements(&all);
        assert!(statements.len() >= 14, "{statements:#?}");
        assert!(statements[0].starts_with("CREATE KEYSPACE IF NOT EXISTS {keyspace}"));
        assert!(statements.iter().all(|s| !s.contains("--")));
    }

    #[test]
    fn added_columns_are_recognised_so_a_rerun_skips_them() {
        let f = super::added_column;
        assert_eq!(
            f("ALTER TABLE ks.threads_by_id ADD messages_in int"),
            Some(("ks", "threads_by_id", "messages_in"))
        );
        assert_eq!(f("alter table ks.t add c text"), Some(("ks", "t", "c")));
        assert_eq!(f("ALTER TABLE ks.t WITH gc_grace_seconds = 1"), None);
        assert_eq!(f("ALTER TABLE t ADD c int"), None);
        assert_eq!(
            f("CREATE TABLE IF NOT EXISTS ks.t (a int PRIMARY KEY)"),
            None
        );
        // Every ALTER in the migrations is one this recognises (or the rerun would fail).
        let all: String = super::MIGRATIONS.iter().map(|m| m.text).collect();
        for statement in cql_statements(&all) {
            if statement.to_ascii_uppercase().starts_with("ALTER TABLE") {
                assert!(f(&statement).is_some(), "{statement}");
            }
        }
    }

    #[test]
    fn quotes_and_comments_do_not_split_statements() {
        let script =
            "INSERT INTO t (a) VALUES ('x; -- not a comment'); -- a comment; with a semicolon\n\
                      /* block; comment */ INSERT INTO t (a) VALUES ('it''s');\n\
                      // last\nSELECT 1";
        assert_eq!(
            cql_statements(script),
            vec![
                "INSERT INTO t (a) VALUES ('x; -- not a comment')".to_owned(),
                "INSERT INTO t (a) VALUES ('it''s')".into(),
                "SELECT 1".into(),
            ]
        );
    }
}
