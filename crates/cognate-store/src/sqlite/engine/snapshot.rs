//! Read snapshots: each reader keeps its read transaction open between
//! reads, and the commit count of the file tells it when to take a new one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use cognate_core::store::{StoreError, StoreResult};
use rusqlite::Connection;

use super::{SqlResult, open_connection};

/// How long a reader may keep reading one snapshot when no commit of this
/// process has happened since: the bound on how late it sees a commit made
/// by another process (`cognate keys rotate`, a second process on the same
/// file).
pub(super) const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(10);
/// A read connection that keeps its read transaction open between reads.
///
/// Beginning and ending a read transaction takes SQLite's file and
/// shared-memory locks (`fcntl` calls and mutexes), which cost several
/// times the point read itself. A snapshot is reused as long as no commit
/// of this process has happened since it was taken (the writer counts its
/// commits) and it is younger than `MAX_SNAPSHOT_AGE`; so a read always
/// sees every commit this process acknowledged before the read began.
pub(super) struct Reader {
    pub(super) conn: Connection,
    snapshot: Option<HeldSnapshot>,
}

#[derive(Clone, Copy)]
pub(super) struct HeldSnapshot {
    /// The commit count read before the transaction began: the snapshot
    /// holds at least these commits.
    pub(super) commits_seen: u64,
    pub(super) began: Instant,
}

/// Whether a snapshot that holds `commits_seen` commits and began at
/// `began` may no longer be read: this process has committed since, or it
/// is as old as reads may be late.
pub(super) fn snapshot_is_stale(
    commits_seen: u64,
    began: Instant,
    commits: u64,
    now: Instant,
    max_age: Duration,
) -> bool {
    commits_seen != commits || now.duration_since(began) >= max_age
}

impl Reader {
    pub(super) fn open(path: &Path) -> StoreResult<Reader> {
        let conn = open_connection(path, false)
            .map_err(|e| StoreError::Backend(format!("opening a SQLite reader: {e}")))?;
        Ok(Reader {
            conn,
            snapshot: None,
        })
    }

    pub(super) fn is_stale(&self, commits: u64, now: Instant, max_age: Duration) -> bool {
        self.snapshot.as_ref().is_some_and(|held| {
            snapshot_is_stale(held.commits_seen, held.began, commits, now, max_age)
        })
    }

    /// Makes sure a transaction no older than the rules allow is open, and
    /// says which.
    pub(super) fn fresh_snapshot(
        &mut self,
        commits: &AtomicU64,
        max_age: Duration,
    ) -> SqlResult<HeldSnapshot> {
        let now = Instant::now();
        // Read before the transaction begins, so the snapshot holds at
        // least this many commits.
        let seen = commits.load(Ordering::Acquire);
        if self.is_stale(seen, now, max_age) {
            self.end_snapshot();
        }
        match self.snapshot {
            Some(held) => Ok(held),
            None => {
                self.conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
                let held = HeldSnapshot {
                    commits_seen: seen,
                    began: now,
                };
                self.snapshot = Some(held);
                Ok(held)
            }
        }
    }

    pub(super) fn end_snapshot(&mut self) {
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

pub(super) fn commit_counter(path: &Path) -> Arc<AtomicU64> {
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
pub(super) type IdleReaders = Arc<Mutex<Vec<Reader>>>;
