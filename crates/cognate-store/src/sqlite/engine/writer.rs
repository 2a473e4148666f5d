//! The writer thread: group commit of queued jobs, one savepoint each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use cognate_core::store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::SqlResult;
use super::snapshot::IdleReaders;

/// Most jobs one group commit takes.
const MAX_GROUP: usize = 512;
/// Called with the outcome of the commit a successful job was part of.
type Reply = Box<dyn FnOnce(StoreResult<()>) + Send>;

pub(super) trait WriteJob: Send {
    /// Runs the job in the open transaction. On success, the reply to send
    /// once the commit is known; on failure the error is already sent.
    fn run(self: Box<Self>, conn: &Connection) -> Option<Reply>;
    /// The transaction could not even begin.
    fn abandon(self: Box<Self>, error: StoreError);
}

pub(super) struct Job<F, T> {
    pub(super) work: F,
    pub(super) reply: oneshot::Sender<StoreResult<T>>,
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

/// How often the writer ends the stale snapshots of idle readers, which
/// would otherwise keep checkpoints (this process's or another's) from
/// recycling the WAL.
const IDLE_SWEEP_INTERVAL: Duration = Duration::from_millis(50);

/// Longest a group waits for the writers expected to join it.
const GATHER_WAIT: Duration = Duration::from_millis(1);

/// What the writer shares with the readers.
pub(super) struct WriterSide {
    pub(super) commits: Arc<AtomicU64>,
    pub(super) readers: IdleReaders,
    pub(super) max_snapshot_age: Duration,
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

pub(super) fn write_loop(
    conn: &Connection,
    queue: &mpsc::Receiver<Box<dyn WriteJob>>,
    side: &WriterSide,
) {
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
