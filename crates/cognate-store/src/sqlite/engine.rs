//! How the SQLite store talks to its file.
//!
//! Reads run on the caller's thread from a small pool of connections: a
//! point read from the page cache takes a few microseconds, less than
//! handing it to another thread and waking the caller again. Every write
//! goes to one writer thread, which commits whatever queued up while the
//! previous commit was reaching the disk in one transaction (group
//! commit). Each job runs in its own savepoint, so a failing job leaves
//! nothing behind and does not fail the others, and each caller hears back
//! only once the shared commit is durable.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use cognate_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::oneshot;

/// Most jobs one group commit takes.
const MAX_GROUP: usize = 512;
/// How long a connection waits for a lock held by another process (the
/// `cognate keys rotate` command, an import) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const STATEMENT_CACHE: usize = 64;

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

pub(crate) struct Engine {
    path: PathBuf,
    /// Idle read connections; more are opened when all are in use.
    readers: Mutex<Vec<Connection>>,
    max_idle_readers: usize,
    jobs: mpsc::Sender<Box<dyn WriteJob>>,
}

impl Engine {
    /// Opens (creating if needed) and migrates the database, and starts the
    /// writer thread.
    pub(crate) fn open(path: &Path, max_idle_readers: usize) -> StoreResult<Engine> {
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
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&writer, &queue))
            .map_err(|e| StoreError::Backend(format!("starting the SQLite writer: {e}")))?;
        Ok(Engine {
            path: path.to_path_buf(),
            readers: Mutex::new(Vec::new()),
            max_idle_readers: max_idle_readers.max(1),
            jobs,
        })
    }

    /// Runs a read on this thread. `work` sees one consistent snapshot
    /// only if it is a single statement or opens a transaction itself.
    pub(crate) fn read<T>(&self, work: impl FnOnce(&Connection) -> SqlResult<T>) -> StoreResult<T> {
        let idle = self.readers.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.path, false)
                .map_err(|e| StoreError::Backend(format!("opening a SQLite reader: {e}")))?,
        };
        let result = work(&conn);
        if let Ok(mut idle) = self.readers.lock()
            && idle.len() < self.max_idle_readers
        {
            idle.push(conn);
        }
        result.map_err(StoreError::from)
    }

    /// A read of several statements in one snapshot.
    pub(crate) fn read_snapshot<T>(
        &self,
        work: impl FnOnce(&Connection) -> SqlResult<T>,
    ) -> StoreResult<T> {
        self.read(|conn| {
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Deferred,
            )?;
            let out = work(&tx)?;
            tx.commit()?;
            Ok(out)
        })
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

fn write_loop(conn: &Connection, queue: &mpsc::Receiver<Box<dyn WriteJob>>) {
    let mut last_group = 0;
    while let Ok(first) = queue.recv() {
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
        commit_group(conn, group);
    }
}

fn commit_group(conn: &Connection, group: Vec<Box<dyn WriteJob>>) {
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
