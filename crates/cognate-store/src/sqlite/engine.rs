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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak, mpsc};
use std::time::{Duration, Instant};

use cognate_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::oneshot;

/// Most jobs one group commit takes.
const MAX_GROUP: usize = 512;
/// How long a connection waits for a lock held by another process (the
/// `cognate keys rotate` command, an import) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const STATEMENT_CACHE: usize = 64;
/// Page cache of each reader, in KiB.
const READER_CACHE_KIB: u32 = 32 * 1024;

/// Schema changes, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_initial.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_managed_policies.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_config_generation.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_identities_without_rowid.sql"),
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

/// Called with the outcome of the commit a successful job was part of.
type Reply = Box<dyn FnOnce(StoreResult<()>) + Send>;

trait WriteJob: Send {
    /// Runs the job in the open transaction. On success, the reply to send
    /// once the commit is known; on failure the error is already sent.
    fn run(self: Box<Self>, conn: &Connection) -> Option<Reply>;
    /// The transaction could not even begin.
    fn abandon(self: Box<Self>, error: StoreError);
}

struct Job<F, T> {
    work: F,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<F, T> WriteJob for Job<F, T>
where
    F: FnOnce(&Connection) -> SqlResult<T> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Option<Reply> {
        let Job { work, reply } = *self;
        match work(conn) {
            Ok(value) => Some(Box::new(move |committed: StoreResult<()>| {
                let _ = reply.send(committed.map(|()| value));
            })),
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                None
            }
        }
    }

    fn abandon(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// How long a reader may keep reading one snapshot when no commit of this
/// process has happened since: the bound on how late it sees a commit made
/// by another process (`cognate keys rotate`, a second process on the same
/// file).
const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(10);
/// How often the writer ends the stale snapshots of idle readers, which
/// would otherwise keep checkpoints (this process's or another's) from
/// recycling the WAL.
const IDLE_SWEEP_INTERVAL: Duration = Duration::from_millis(50);

/// A read connection that keeps its read transaction open between reads.
///
/// Beginning and ending a read transaction takes SQLite's file and
/// shared-memory locks (`fcntl` calls and mutexes), which cost several
/// times the point read itself. A snapshot is reused as long as no commit
/// of this process has happened since it was taken (the writer counts its
/// commits) and it is younger than `MAX_SNAPSHOT_AGE`; so a read always
/// sees every commit this process acknowledged before the read began.
struct Reader {
    conn: Connection,
    snapshot: Option<HeldSnapshot>,
}

struct HeldSnapshot {
    /// The commit count read before the transaction began: the snapshot
    /// holds at least these commits.
    commits_seen: u64,
    began: Instant,
}

impl Reader {
    fn open(path: &Path) -> StoreResult<Reader> {
        let conn = open_connection(path, false)
            .map_err(|e| StoreError::Backend(format!("opening a SQLite reader: {e}")))?;
        Ok(Reader {
            conn,
            snapshot: None,
        })
    }

    fn is_stale(&self, commits: u64, now: Instant, max_age: Duration) -> bool {
        self.snapshot.as_ref().is_some_and(|held| {
            held.commits_seen != commits || now.duration_since(held.began) >= max_age
        })
    }

    /// Makes sure a transaction no older than the rules allow is open.
    fn fresh_snapshot(&mut self, commits: &AtomicU64, max_age: Duration) -> SqlResult<()> {
        let now = Instant::now();
        // Read before the transaction begins, so the snapshot holds at
        // least this many commits.
        let seen = commits.load(Ordering::Acquire);
        if self.is_stale(seen, now, max_age) {
            self.end_snapshot();
        }
        if self.snapshot.is_none() {
            self.conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
            self.snapshot = Some(HeldSnapshot {
                commits_seen: seen,
                began: now,
            });
        }
        Ok(())
    }

    fn end_snapshot(&mut self) {
        if self.snapshot.take().is_some() && !self.conn.is_autocommit() {
            // Ending a read-only transaction cannot lose anything; if it
            // fails, the connection is still usable and SQLite ends the
            // transaction when the connection closes.
            let _ = self.conn.execute_batch("COMMIT");
        }
    }
}

/// Commits made through any engine of this process, per database file:
/// two stores opened on one file in one process see each other's commits
/// at once.
static COMMIT_COUNTERS: LazyLock<Mutex<HashMap<PathBuf, Weak<AtomicU64>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn commit_counter(path: &Path) -> Arc<AtomicU64> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Ok(mut counters) = COMMIT_COUNTERS.lock() else {
        return Arc::new(AtomicU64::new(0));
    };
    counters.retain(|_, counter| counter.strong_count() > 0);
    if let Some(counter) = counters.get(&key).and_then(Weak::upgrade) {
        return counter;
    }
    let counter = Arc::new(AtomicU64::new(0));
    counters.insert(key, Arc::downgrade(&counter));
    counter
}

/// Idle readers; more are opened when all are in use.
type IdleReaders = Arc<Mutex<Vec<Reader>>>;

pub(crate) struct Engine {
    path: PathBuf,
    readers: IdleReaders,
    max_idle_readers: usize,
    /// Commits of this process to this file (see `Reader`).
    commits: Arc<AtomicU64>,
    max_snapshot_age: Duration,
    jobs: mpsc::Sender<Box<dyn WriteJob>>,
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
        })
    }

    /// Runs a read on this thread, in one snapshot that holds every commit
    /// this process acknowledged before the call.
    pub(crate) fn read<T>(&self, work: impl FnOnce(&Connection) -> SqlResult<T>) -> StoreResult<T> {
        let idle = self.readers.lock().ok().and_then(|mut idle| idle.pop());
        let mut reader = match idle {
            Some(reader) => reader,
            None => Reader::open(&self.path)?,
        };
        let result = reader
            .fresh_snapshot(&self.commits, self.max_snapshot_age)
            .and_then(|()| work(&reader.conn));
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

/// Longest a group waits for the writers expected to join it.
const GATHER_WAIT: Duration = Duration::from_millis(1);

/// What the writer shares with the readers.
struct WriterSide {
    commits: Arc<AtomicU64>,
    readers: IdleReaders,
    max_snapshot_age: Duration,
}

impl WriterSide {
    /// Ends the snapshots of idle readers that a commit or their age made
    /// stale: a checkpoint cannot recycle the WAL while a reader holds an
    /// old frame.
    fn end_stale_idle_snapshots(&self) {
        let commits = self.commits.load(Ordering::Acquire);
        let now = Instant::now();
        if let Ok(mut idle) = self.readers.lock() {
            for reader in idle.iter_mut() {
                if reader.is_stale(commits, now, self.max_snapshot_age) {
                    reader.end_snapshot();
                }
            }
        }
    }
}

fn write_loop(conn: &Connection, queue: &mpsc::Receiver<Box<dyn WriteJob>>, side: &WriterSide) {
    let mut last_group = 0;
    let mut last_sweep = Instant::now();
    loop {
        // Waking up at least every sweep interval: idle readers' snapshots
        // are ended even when nothing is written, since another process's
        // checkpoint waits for them.
        let first = match queue.recv_timeout(IDLE_SWEEP_INTERVAL) {
            Ok(job) => Some(job),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if last_sweep.elapsed() >= IDLE_SWEEP_INTERVAL {
            side.end_stale_idle_snapshots();
            last_sweep = Instant::now();
        }
        let Some(first) = first else { continue };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(more) => group.push(more),
                Err(_) => break,
            }
        }
        // Callers answered by the last commit come back at nearly the same
        // time; committing the first of them alone would split them into a
        // small group and a large one. Wait (briefly) for most of them.
        let expected = (last_group * 3 / 4).min(MAX_GROUP);
        if group.len() < expected {
            let deadline = std::time::Instant::now() + GATHER_WAIT;
            while group.len() < expected {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match queue.recv_timeout(left) {
                    Ok(more) => group.push(more),
                    Err(_) => break,
                }
            }
        }
        last_group = group.len();
        commit_group(conn, group, &side.commits);
    }
}

fn commit_group(conn: &Connection, group: Vec<Box<dyn WriteJob>>, commits: &AtomicU64) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        for job in group {
            job.abandon(StoreError::Backend(e.to_string()));
        }
        return;
    }
    let mut waiting: Vec<Reply> = Vec::with_capacity(group.len());
    for job in group {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            job.abandon(StoreError::Backend(e.to_string()));
            continue;
        }
        match job.run(conn) {
            Some(reply) => {
                waiting.push(reply);
                if let Err(e) = conn.execute_batch("RELEASE job") {
                    return fail_all(conn, waiting, &e);
                }
            }
            None => {
                if let Err(e) = conn.execute_batch("ROLLBACK TO job; RELEASE job") {
                    return fail_all(conn, waiting, &e);
                }
            }
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            // Before anyone hears of the commit, so their next read sees it.
            commits.fetch_add(1, Ordering::AcqRel);
            for reply in waiting {
                reply(Ok(()));
            }
        }
        Err(e) => fail_all(conn, waiting, &e),
    }
}

/// The group's transaction is lost: roll back and tell everyone waiting.
fn fail_all(conn: &Connection, waiting: Vec<Reply>, e: &rusqlite::Error) {
    let _ = conn.execute_batch("ROLLBACK");
    for reply in waiting {
        reply(Err(StoreError::Backend(format!(
            "committing to SQLite failed: {e}"
        ))));
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
}
