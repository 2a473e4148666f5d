//! How the SQLite store talks to its file.
//!
//! Reads run on the caller's thread from a small pool of connections: a
//! point read from the page cache takes a few microseconds, less than
//! handing it to another thread and waking the caller again. Each reader
//! keeps its read transaction open between reads (see `Reader`). Every write
//! goes to one writer thread, which commits whatever queued up while the
//! previous commit was reaching the disk in one transaction (group
//! commit). Each job runs in its own savepoint, so a failing job leaves
//! nothing behind and does not fail the others, and each caller hears back
//! only once the shared commit is durable.

mod snapshot;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use cognate_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::oneshot;

use snapshot::{
    HeldSnapshot, IdleReaders, MAX_SNAPSHOT_AGE, Reader, commit_counter, snapshot_is_stale,
};
use writer::{Job, WriteJob, WriterSide, write_loop};

/// How long a connection waits for a lock held by another process (the
/// `cognate keys rotate` command, an import) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const STATEMENT_CACHE: usize = 64;
/// Page cache of each reader, in KiB.
const READER_CACHE_KIB: u32 = 32 * 1024;

/// Schema changes, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_managed_policies.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_config_generation.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_identities_without_rowid.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_saml_providers.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_identity_filters.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_audit_events.sql"),
    ),
];

/// What a job's closure can fail with: SQLite, or a decision of the store.
#[derive(Debug)]
pub(crate) enum Failure {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Sql(e) => StoreError::Backend(e.to_string()),
            Failure::Store(e) => e,
        }
    }
}

pub(crate) type SqlResult<T> = Result<T, Failure>;

/// Whether SQLite refused a statement for a UNIQUE or PRIMARY KEY clash.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(err, _)
    if err.code == ErrorCode::ConstraintViolation
        && matches!(
            err.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ))
}

/// A unique violation as the store error the caller names; any other
/// failure as it is.
pub(crate) fn unique_as(e: rusqlite::Error, on_unique: impl FnOnce() -> StoreError) -> Failure {
    if is_unique_violation(&e) {
        Failure::Store(on_unique())
    } else {
        Failure::Sql(e)
    }
}

pub(crate) struct Engine {
    path: PathBuf,
    readers: IdleReaders,
    max_idle_readers: usize,
    /// Commits of this process to this file (see `Reader`).
    commits: Arc<AtomicU64>,
    max_snapshot_age: Duration,
    jobs: mpsc::Sender<Box<dyn WriteJob>>,
    /// The configuration generation as last read, and the snapshot it was
    /// read in: every signed call asks for it.
    generation: Mutex<Option<GenerationSeen>>,
}

/// A value read in one snapshot, which reads in any snapshot may reuse
/// while that snapshot would still be reused (see `Reader`).
#[derive(Clone, Copy)]
struct GenerationSeen {
    value: i64,
    commits_seen: u64,
    snapshot_began: Instant,
}

impl Engine {
    /// Opens (creating if needed) and migrates the database, and starts the
    /// writer thread.
    pub(crate) fn open(path: &Path, max_idle_readers: usize) -> StoreResult<Engine> {
        Engine::open_with(path, max_idle_readers, MAX_SNAPSHOT_AGE)
    }

    fn open_with(
        path: &Path,
        max_idle_readers: usize,
        max_snapshot_age: Duration,
    ) -> StoreResult<Engine> {
        create_private(path).map_err(|e| {
            StoreError::Backend(format!(
                "creating the SQLite database {}: {e}",
                path.display()
            ))
        })?;
        let writer = open_connection(path, true).map_err(|e| {
            StoreError::Backend(format!(
                "opening the SQLite database {}: {e}",
                path.display()
            ))
        })?;
        migrate(&writer)
            .map_err(|e| StoreError::Backend(format!("migrating the SQLite database: {e}")))?;
        let commits = commit_counter(path);
        let readers: IdleReaders = Arc::new(Mutex::new(Vec::new()));
        let (jobs, queue) = mpsc::channel();
        let writer_side = WriterSide {
            commits: Arc::clone(&commits),
            readers: Arc::clone(&readers),
            max_snapshot_age,
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&writer, &queue, &writer_side))
            .map_err(|e| StoreError::Backend(format!("starting the SQLite writer: {e}")))?;
        Ok(Engine {
            path: path.to_path_buf(),
            readers,
            max_idle_readers: max_idle_readers.max(1),
            commits,
            max_snapshot_age,
            jobs,
            generation: Mutex::new(None),
        })
    }

    /// Runs a read on this thread, in one snapshot that holds every commit
    /// this process acknowledged before the call.
    pub(crate) fn read<T>(&self, work: impl FnOnce(&Connection) -> SqlResult<T>) -> StoreResult<T> {
        self.read_in_snapshot(work).map(|(value, _)| value)
    }

    /// As `read`, with the snapshot the read was made in.
    fn read_in_snapshot<T>(
        &self,
        work: impl FnOnce(&Connection) -> SqlResult<T>,
    ) -> StoreResult<(T, HeldSnapshot)> {
        let idle = self.readers.lock().ok().and_then(|mut idle| idle.pop());
        let mut reader = match idle {
            Some(reader) => reader,
            None => Reader::open(&self.path)?,
        };
        let result = reader
            .fresh_snapshot(&self.commits, self.max_snapshot_age)
            .and_then(|held| Ok((work(&reader.conn)?, held)));
        if result.is_err() {
            reader.end_snapshot();
        }
        if let Ok(mut idle) = self.readers.lock()
            && idle.len() < self.max_idle_readers
        {
            idle.push(reader);
        }
        result.map_err(StoreError::from)
    }

    /// A value of the configuration generation row, read as `read` would
    /// read it: reused, without a reader, for as long as the snapshot it
    /// was read in would be.
    pub(crate) fn config_generation(
        &self,
        query: impl FnOnce(&Connection) -> SqlResult<i64>,
    ) -> StoreResult<i64> {
        let seen = self.generation.lock().ok().and_then(|seen| *seen);
        if let Some(seen) = seen
            && !snapshot_is_stale(
                seen.commits_seen,
                seen.snapshot_began,
                self.commits.load(Ordering::Acquire),
                Instant::now(),
                self.max_snapshot_age,
            )
        {
            return Ok(seen.value);
        }
        let (value, held) = self.read_in_snapshot(query)?;
        if let Ok(mut seen) = self.generation.lock() {
            *seen = Some(GenerationSeen {
                value,
                commits_seen: held.commits_seen,
                snapshot_began: held.began,
            });
        }
        Ok(value)
    }

    /// Runs `work` in the writer's next group commit; answers once that
    /// commit is durable (or with `work`'s error, leaving nothing).
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> SqlResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Backend("the SQLite writer has stopped".into());
        self.jobs
            .send(Box::new(Job { work, reply }))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Creates the database file readable by its owner only, if it does not
/// exist: it holds every identity and login. SQLite gives the WAL and
/// shared-memory files the same permissions.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn open_connection(path: &Path, writer: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if writer {
        // WAL is a property of the file: set once by the writer.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode stayed {mode}"
            )));
        }
        // FULL: a commit is acknowledged only once it survives a power cut.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    } else {
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA foreign_keys = ON;")?;
        // Room for the interior pages of the identity tables' b-trees at
        // millions of identities, so a lookup reads only leaves from the
        // file (SQLite's default is 2 MiB; pages are taken as they are
        // read, so a small store uses no more memory than before).
        conn.execute_batch(&format!("PRAGMA cache_size = -{READER_CACHE_KIB}"))?;
    }
    Ok(conn)
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY NOT NULL,
                 applied_at INTEGER NOT NULL
             )",
        )?;
        // Databases made while this store ran on sqlx list their
        // migrations in sqlx's table.
        let from_sqlx: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            [],
            |row| row.get(0),
        )?;
        if from_sqlx {
            conn.execute_batch(
                "INSERT OR IGNORE INTO schema_migrations (version, applied_at)
                 SELECT version, 0 FROM _sqlx_migrations WHERE success",
            )?;
        }
        let current: i64 = conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )?;
        for (version, sql) in MIGRATIONS {
            if *version > current {
                conn.execute_batch(sql)?;
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s', 'now'))",
                    [version],
                )?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod snapshot_tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    fn count(engine: &Engine) -> i64 {
        engine
            .read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0))?))
            .unwrap()
    }

    async fn insert(engine: &Engine, name: String, bytes: usize) {
        engine
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, zeroblob(?2))",
                    rusqlite::params![name, bytes as i64],
                )?;
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_read_sees_every_commit_acknowledged_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        // Snapshots never age out here: only the commit count renews them.
        let engine = Engine::open_with(&path, 4, LONG).unwrap();
        assert_eq!(count(&engine), 0);
        for n in 1..=20 {
            insert(&engine, format!("k{n}"), 1).await;
            assert_eq!(count(&engine), n);
        }
    }

    #[tokio::test]
    async fn two_engines_on_one_file_in_one_process_see_each_others_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let reader = Engine::open_with(&path, 4, LONG).unwrap();
        let writer = Engine::open_with(&path, 4, LONG).unwrap();
        assert_eq!(count(&reader), 0);
        insert(&writer, "k".into(), 1).await;
        assert_eq!(count(&reader), 1);
    }

    #[tokio::test]
    async fn a_commit_of_another_process_is_seen_once_the_snapshot_ages_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let age = Duration::from_millis(50);
        let engine = Engine::open_with(&path, 4, age).unwrap();
        assert_eq!(count(&engine), 0);
        // A connection of its own stands for another process: its commit
        // does not move this process's commit count.
        let other = Connection::open(&path).unwrap();
        other
            .execute("INSERT INTO settings (name, value) VALUES ('k', x'00')", [])
            .unwrap();
        std::thread::sleep(age + Duration::from_millis(10));
        assert_eq!(count(&engine), 1);
    }

    /// The settings row count, read as the configuration generation is.
    fn remembered_count(engine: &Engine) -> i64 {
        engine
            .config_generation(|conn| {
                Ok(conn.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0))?)
            })
            .unwrap()
    }

    #[tokio::test]
    async fn a_remembered_generation_gives_way_to_every_commit_of_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let engine = Engine::open_with(&path, 4, LONG).unwrap();
        let other_engine = Engine::open_with(&path, 4, LONG).unwrap();
        assert_eq!(remembered_count(&engine), 0);
        for n in 1..=5 {
            insert(&engine, format!("k{n}"), 1).await;
            assert_eq!(remembered_count(&engine), n);
        }
        insert(&other_engine, "other".into(), 1).await;
        assert_eq!(remembered_count(&engine), 6);
    }

    #[tokio::test]
    async fn a_remembered_generation_is_kept_no_longer_than_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        // Long enough that the second read below comes within it.
        let age = Duration::from_secs(1);
        let engine = Engine::open_with(&path, 4, age).unwrap();
        assert_eq!(remembered_count(&engine), 0);
        let other = Connection::open(&path).unwrap();
        other
            .execute("INSERT INTO settings (name, value) VALUES ('k', x'00')", [])
            .unwrap();
        // Within the snapshot's age the value is reused (another process's
        // commit is not seen yet, as by any read); after it, read again.
        assert_eq!(remembered_count(&engine), 0);
        std::thread::sleep(age + Duration::from_millis(10));
        assert_eq!(remembered_count(&engine), 1);
    }

    #[tokio::test]
    async fn idle_readers_let_another_process_truncate_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let engine = Engine::open_with(&path, 4, Duration::from_millis(10)).unwrap();
        // An idle reader holds a snapshot, and nothing is written here.
        assert_eq!(count(&engine), 0);
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::from_secs(3)).unwrap();
        other
            .execute("INSERT INTO settings (name, value) VALUES ('k', x'00')", [])
            .unwrap();
        // (busy, WAL frames, frames checkpointed): busy is 1 if a reader
        // kept the checkpoint from finishing within the busy timeout.
        let (busy, _, _): (i64, i64, i64) = other
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0);
        drop(engine);
    }

    #[tokio::test]
    async fn idle_readers_do_not_keep_the_wal_from_being_recycled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let engine = Engine::open_with(&path, 4, LONG).unwrap();
        // An idle reader now holds a snapshot from before the writes.
        assert_eq!(count(&engine), 0);
        // ~8 MB written in 2,000 commits: twice what an automatic
        // checkpoint (1,000 pages) lets the WAL reach before recycling it,
        // if no reader holds an old snapshot.
        for n in 0..2000 {
            insert(&engine, format!("k{n}"), 4000).await;
        }
        let wal = std::fs::metadata(dir.path().join("db-wal")).unwrap().len();
        assert!(wal < 6_000_000, "the WAL grew to {wal} bytes");
        assert_eq!(count(&engine), 2000);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod migration_tests {
    use super::*;

    #[test]
    fn identities_made_before_migration_4_survive_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            // A database as version 3 left it, with an identity in it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);",
            )
            .unwrap();
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 3) {
                conn.execute_batch(sql).unwrap();
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                    [version],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
                 VALUES ('us-east-1:a', 'us-east-1:p', 1, 2, 1, 'us-east-1:b', 3)",
                [],
            )
            .unwrap();
        }
        let engine = Engine::open(&path, 2).unwrap();
        type Row = (String, String, i64, i64, bool, Option<String>, i64);
        let (row, sql): (Row, String) = engine
            .read(|conn| {
                let row = conn.query_row(
                    "SELECT id, pool_id, created_at, updated_at, disabled, merged_into, version FROM identities",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
                )?;
                let sql = conn.query_row(
                    "SELECT sql FROM sqlite_master WHERE name = 'identities'",
                    [],
                    |r| r.get(0),
                )?;
                Ok((row, sql))
            })
            .unwrap();
        assert_eq!(
            row,
            (
                "us-east-1:a".into(),
                "us-east-1:p".into(),
                1,
                2,
                true,
                Some("us-east-1:b".into()),
                3
            )
        );
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
    }

    #[test]
    fn migration_6_marks_the_identities_that_hold_logins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            // A database as version 5 left it: a guest, an identity with a
            // login, a disabled one.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);",
            )
            .unwrap();
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 5) {
                conn.execute_batch(sql).unwrap();
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                    [version],
                )
                .unwrap();
            }
            conn.execute_batch(
                "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
                 VALUES ('us-east-1:guest', 'us-east-1:p', 1, 1, 0, NULL, 1),
                        ('us-east-1:signed', 'us-east-1:p', 1, 1, 0, NULL, 1),
                        ('us-east-1:merged', 'us-east-1:p', 1, 1, 1, 'us-east-1:signed', 2);
                 INSERT INTO logins (pool_id, provider, subject, identity_id)
                 VALUES ('us-east-1:p', 'accounts.google.com', 's', 'us-east-1:signed');",
            )
            .unwrap();
        }
        let engine = Engine::open(&path, 2).unwrap();
        let rows: Vec<(String, bool, bool)> = engine
            .read(|conn| {
                let mut statement =
                    conn.prepare("SELECT id, disabled, has_logins FROM identities ORDER BY id")?;
                let rows = statement
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(
            rows,
            [
                ("us-east-1:guest".to_string(), false, false),
                ("us-east-1:merged".to_string(), true, false),
                ("us-east-1:signed".to_string(), false, true),
            ]
        );
    }
}
