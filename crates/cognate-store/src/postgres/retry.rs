//! Retrying PostgreSQL transactions: which failures are transient, how
//! long to wait between attempts, and how a failed commit differs from a
//! failed statement.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::Duration;

use cognate_core::store::StoreError;
use sqlx::{Postgres, Transaction};

use super::pipelined::{self, ReadError};

/// Attempts per operation (the first one included).
pub(super) const MAX_ATTEMPTS: u32 = 5;
/// Attempts when the last one lost its connection before committing:
/// enough to go through a whole pool of connections that died together.
const MAX_ATTEMPTS_AFTER_LOST_CONNECTIONS: u32 = 20;

pub(super) const FIRST_BACKOFF: Duration = Duration::from_millis(10);

pub(super) const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// Why an attempt failed: a decision (final), a database error (retried
/// if transient), or an error while committing (retried only if the
/// database says the transaction was rolled back).
pub(super) enum Failure {
    Store(StoreError),
    Db(sqlx::Error),
    Commit(sqlx::Error),
    /// A read on a pipelined connection.
    Read(ReadError),
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        Failure::Read(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

pub(super) type Attempt<T> = Result<T, Failure>;

pub(super) fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// The transaction was rolled back by the database and can run again.
pub(super) fn is_rolled_back(e: &sqlx::Error) -> bool {
    matches!(sqlstate(e).as_deref(), Some("40001" | "40P01"))
}

/// The connection broke before the transaction could commit.
pub(super) fn is_connection_loss(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(_) => sqlstate(e).is_some_and(|code| {
            // connection_exception, admin_shutdown, crash_shutdown,
            // cannot_connect_now
            code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Decides what to do after attempt number `attempt` failed: `Ok(delay)`
/// to try again after `delay`, `Err` to give up with that error.
pub(super) fn after_failure(
    failure: Failure,
    attempt: u32,
    what: &str,
) -> Result<Duration, StoreError> {
    let mut lost_connection = false;
    let (e, retryable) = match failure {
        Failure::Store(e) => return Err(e),
        Failure::Read(e) => return after_failed_read(e, attempt, what),
        Failure::Db(e) => {
            lost_connection = is_connection_loss(&e);
            let retryable = is_rolled_back(&e) || lost_connection;
            (e, retryable)
        }
        Failure::Commit(e) => {
            if is_rolled_back(&e) {
                (e, true)
            } else if is_connection_loss(&e) {
                return Err(StoreError::Backend(format!(
                    "{what}: the connection was lost while committing; the change may or may not have been applied: {e}"
                )));
            } else {
                (e, false)
            }
        }
    };
    if !retryable {
        return Err(backend(e));
    }
    // Pooled connections are not pinged when handed out, so after a
    // database restart or failover every idle one fails its first
    // statement in turn: losing a connection before the commit costs a
    // request more attempts than a conflict does.
    let limit = if lost_connection {
        MAX_ATTEMPTS_AFTER_LOST_CONNECTIONS
    } else {
        MAX_ATTEMPTS
    };
    again_or_give_up(attempt, limit, what, &e)
}

/// The wait before attempt `attempt + 1`, or the error that ends the
/// operation once `limit` attempts have been made.
fn again_or_give_up(
    attempt: u32,
    limit: u32,
    what: &str,
    e: &dyn std::fmt::Display,
) -> Result<Duration, StoreError> {
    if attempt >= limit {
        return Err(StoreError::Backend(format!(
            "{what}: giving up after {attempt} attempts: {e}"
        )));
    }
    let delay = backoff(attempt);
    tracing::debug!(operation = what, attempt, ?delay, error = %e, "retrying a PostgreSQL operation");
    Ok(delay)
}

/// `after_failure` for a pipelined read: a lost connection is retried
/// (on one opened anew), as for the pool's.
fn after_failed_read(e: ReadError, attempt: u32, what: &str) -> Result<Duration, StoreError> {
    let e = match e {
        // The reader was just found unusable: the next attempt uses sqlx.
        ReadError::Unavailable => return Ok(Duration::ZERO),
        // Handled where the read is made (it goes to the pool).
        ReadError::NoRoom => {
            return Err(StoreError::Backend(format!(
                "{what}: PostgreSQL has no room for another connection"
            )));
        }
        ReadError::OpenTimedOut => {
            return Err(StoreError::Backend(format!(
                "{what}: no connection to PostgreSQL could be opened within the acquire timeout"
            )));
        }
        ReadError::Db(e) if pipelined::is_connection_loss(&e) => pipelined::describe(&e),
        ReadError::Db(e) | ReadError::Decode(e) => {
            return Err(StoreError::Backend(format!(
                "{what}: {}",
                pipelined::describe(&e)
            )));
        }
    };
    again_or_give_up(attempt, MAX_ATTEMPTS_AFTER_LOST_CONNECTIONS, what, &e)
}

/// Exponential backoff with jitter: the `attempt`-th retry waits between
/// half and all of min(10 ms * 2^(attempt-1), 200 ms).
pub(super) fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let fraction = (hasher.finish() % 1024) as u32;
    ceiling / 2 + ceiling / 2 * fraction / 1023
}

/// Runs `$body` (an `async` block yielding `Attempt<T>`) until it succeeds,
/// fails for good, or runs out of attempts or of time (`$conns`'s
/// operation deadline: every attempt, wait and backoff included). The
/// block is evaluated afresh for every attempt, so it must begin its own
/// transaction.
macro_rules! retrying {
    ($conns:expr, $what:expr, $body:expr) => {{
        let deadline = $conns.operation_deadline();
        let attempts = async {
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let outcome: $crate::postgres::retry::Attempt<_> = $body.await;
                match outcome {
                    Ok(value) => break Ok(value),
                    Err(failure) => {
                        match $crate::postgres::retry::after_failure(failure, attempt, $what) {
                            Ok(delay) => tokio::time::sleep(delay).await,
                            Err(e) => break Err(e),
                        }
                    }
                }
            }
        };
        match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, attempts).await {
                Ok(outcome) => outcome,
                Err(_) => Err($crate::postgres::retry::out_of_time($what)),
            },
            None => attempts.await,
        }
    }};
}
pub(super) use retrying;

/// An operation that ran out of its time: what it was doing is dropped
/// (a transaction rolls back), but a commit already sent may still land.
pub(super) fn out_of_time(what: &str) -> StoreError {
    StoreError::Backend(format!(
        "{what}: no answer from PostgreSQL within the operation timeout; \
         a change being committed may or may not have been applied"
    ))
}

/// Commits, telling a failed commit apart from a failed statement.
pub(super) async fn commit(tx: Transaction<'static, Postgres>) -> Attempt<()> {
    tx.commit().await.map_err(Failure::Commit)
}

/// Maps a unique violation to `on_unique`, anything else to a database
/// failure.
pub(super) fn unique_as(e: sqlx::Error, on_unique: impl FnOnce() -> StoreError) -> Failure {
    if is_unique_violation(&e) {
        Failure::Store(on_unique())
    } else {
        Failure::Db(e)
    }
}
