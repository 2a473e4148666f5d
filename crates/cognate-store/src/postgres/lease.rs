//! Connections handed out without sqlx's release ping.
//!
//! sqlx's pool sends a Sync and waits for the answer every time a
//! connection comes back to it (`return_to_pool` pings to flush what a
//! dropped query or transaction left behind). For a request of one
//! statement that is a second round trip, and the connection stays out of
//! the pool while it runs: `cognate-bench postgres` counted two round trips
//! per GetCredentialsForIdentity, one of them that ping.
//!
//! So connections that finished cleanly (a statement answered, or a
//! transaction committed) are kept here, idle, and handed out again as
//! they are. Everything else goes back to sqlx, whose ping sorts it out:
//! a lease dropped without [`Lease::keep`] (an error, a cancelled request,
//! a transaction dropped uncommitted, whose locks must not stay held).
//!
//! The connections kept here still count against sqlx's `max_connections`,
//! so a request that finds none kept waits for whichever comes first: one
//! kept by another request, or one from sqlx's pool, within the acquire
//! timeout. Kept connections idle longer than the idle timeout, or older
//! than sqlx's default lifetime, are given back to sqlx (which closes them).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, Transaction};
use tokio::sync::Notify;

use crate::StoreOptions;

/// sqlx's default `max_lifetime`: a connection is closed after this long.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

struct Kept {
    conn: PoolConnection<Postgres>,
    /// When it was first leased (near enough to when it was opened).
    born: Instant,
    idle_since: Instant,
}

pub(super) struct Connections {
    pool: PgPool,
    kept: Mutex<Vec<Kept>>,
    /// Woken when a connection is kept, for a request waiting for one.
    returned: Notify,
    acquire_timeout: Duration,
    idle_timeout: Duration,
    /// How long one store operation may take, every attempt included.
    operation_timeout: Option<Duration>,
}

impl Connections {
    pub(super) fn start(pool: PgPool, options: &StoreOptions) -> Arc<Connections> {
        let connections = Arc::new(Connections {
            pool,
            kept: Mutex::new(Vec::new()),
            returned: Notify::new(),
            acquire_timeout: options.acquire_timeout,
            idle_timeout: options.idle_timeout,
            operation_timeout: options.operation_timeout,
        });
        tokio::spawn(give_back_idle(Arc::downgrade(&connections)));
        connections
    }

    /// When an operation starting now must have finished (`retrying!`).
    pub(super) fn operation_deadline(&self) -> Option<tokio::time::Instant> {
        self.operation_timeout
            .map(|limit| tokio::time::Instant::now() + limit)
    }

    fn take_kept(&self) -> Option<Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// A connection: the one kept last (the most likely to be alive and
    /// warm), or else the first of a kept one and one from sqlx's pool.
    pub(super) async fn lease(self: &Arc<Self>) -> Result<Lease, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        loop {
            if let Some(kept) = self.take_kept() {
                return Ok(self.lease_of(kept.conn, kept.born));
            }
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            // One may have been kept between the look and the enable.
            if let Some(kept) = self.take_kept() {
                return Ok(self.lease_of(kept.conn, kept.born));
            }
            tokio::select! {
                acquired = tokio::time::timeout_at(deadline, self.pool.acquire()) => {
                    return match acquired {
                        Ok(Ok(conn)) => Ok(self.lease_of(conn, Instant::now())),
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(sqlx::Error::PoolTimedOut),
                    };
                }
                () = &mut returned => continue,
            }
        }
    }

    /// A transaction on a leased connection, begun with `statement` (an
    /// isolation level) or a plain `BEGIN`. The connection goes back to
    /// sqlx's pool when the transaction ends (sqlx gives no connection
    /// back from a committed transaction), pinged there.
    pub(super) async fn begin(
        self: &Arc<Self>,
        statement: Option<&'static str>,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let Lease { conn, .. } = self.lease().await?;
        Transaction::begin(conn, statement.map(Into::into)).await
    }

    fn lease_of(self: &Arc<Self>, conn: PoolConnection<Postgres>, born: Instant) -> Lease {
        Lease {
            conn,
            born,
            home: Arc::clone(self),
        }
    }

    /// Gives back to sqlx the kept connections idle too long or too old.
    fn give_back_stale(&self, now: Instant) {
        let stale: Vec<Kept> = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            let (stale, fresh) = std::mem::take(&mut *kept).into_iter().partition(|k| {
                now.duration_since(k.idle_since) >= self.idle_timeout
                    || now.duration_since(k.born) >= MAX_LIFETIME
            });
            *kept = fresh;
            stale
        };
        drop(stale);
    }
}

/// Every few seconds, gives the stale kept connections back to sqlx,
/// whose own idle timeout then closes them; ends with the store.
async fn give_back_idle(connections: Weak<Connections>) {
    let period = match connections.upgrade() {
        Some(c) => (c.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(15)),
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        match connections.upgrade() {
            Some(c) => c.give_back_stale(Instant::now()),
            None => return,
        }
    }
}

/// A connection out of [`Connections`]. Dropped, it goes back to sqlx's
/// pool (pinged); [`Lease::keep`] keeps it for the next request.
pub(super) struct Lease {
    conn: PoolConnection<Postgres>,
    born: Instant,
    home: Arc<Connections>,
}

impl Lease {
    /// The connection finished cleanly (no transaction open, its answer
    /// read whole): keep it for the next request, unpinged.
    pub(super) fn keep(self) {
        let Lease { conn, born, home } = self;
        let now = Instant::now();
        if now.duration_since(born) >= MAX_LIFETIME {
            return;
        }
        home.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Kept {
                conn,
                born,
                idle_since: now,
            });
        home.returned.notify_one();
    }
}

impl Deref for Lease {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Runs one statement on a leased connection: `leased!(conns, |conn|
/// query.fetch_one(conn))`. The connection is kept for the next request
/// if the statement answered, and goes back to sqlx (pinged) if not.
/// Evaluates to the answer, `?` applied (inside a `retrying!` attempt).
macro_rules! leased {
    ($conns:expr, |$conn:ident| $statement:expr) => {{
        let mut lease = $conns.lease().await?;
        let answer = {
            let $conn = &mut *lease;
            $statement.await
        };
        if answer.is_ok() {
            lease.keep();
        }
        answer?
    }};
}
pub(super) use leased;
