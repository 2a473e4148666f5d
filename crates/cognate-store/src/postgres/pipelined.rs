//! The reads every request starts with, pipelined on a few connections.
//!
//! GetCredentialsForIdentity, GetOpenIdToken and GetId each begin with one
//! single-statement read (the configuration generation, with the identity
//! for the first two); a signed call on a pool reads the pool. Through sqlx's pool such a read cost two round trips
//! (sqlx pings a connection each time it comes back) and, with
//! 64 requests at once, a queue for the pool's connections:
//! `cognate-bench postgres` measured 57 µs of cognate's CPU and 66 µs of
//! PostgreSQL's per GetCredentialsForIdentity.
//!
//! tokio-postgres sends a statement as soon as it is asked, on a connection
//! other requests are using too, and matches the answers to the requests in
//! order: many requests share a connection without waiting for each other's
//! round trip, a write and a read carry several statements, and no ping
//! follows. The statements are prepared once per connection.
//!
//! Each read still goes to the database, so a change committed through any
//! node is seen by the next read on every node, as before.
//!
//! Connections are opened on first use and again after one is lost,
//! within the acquire timeout (waiting for another request's opening
//! included), with the same statement and lock timeouts as the pool's; one
//! unused for the idle timeout is closed, and one that leaves a read
//! abandoned (at the operation timeout) and then answers no empty
//! statement within the acquire timeout is given up. If PostgreSQL
//! refuses to authenticate them (a password only sqlx found, in a
//! `.pgpass` file, say), these reads fall back to sqlx's pool for good.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use cognate_core::model::{Identity, Login};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio::sync::OnceCell;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::rows::GENERATION_AND_IDENTITY;

/// A connection, and its statements once prepared (each on first use: a
/// connection opened to read the generation must not wait on a lock of
/// the identities table that preparing the other would take).
struct Live {
    client: Client,
    generation_and_identity: OnceCell<Statement>,
    generation: OnceCell<Statement>,
    pool_doc: OnceCell<Statement>,
    /// Milliseconds since the reader started, at the last use.
    used_at: AtomicU64,
    /// The task driving the connection: aborted to give the connection
    /// up when it stops answering.
    connection: tokio::task::AbortHandle,
    /// A check of the connection (after a read was abandoned) is running.
    checking: AtomicBool,
}

struct Slot {
    live: RwLock<Option<Arc<Live>>>,
    /// Reads sent on it and not yet answered.
    in_flight: AtomicUsize,
    /// One request opens the slot's connection; the others wait for it.
    opening: tokio::sync::Mutex<()>,
}

pub(super) struct Pipelined {
    config: tokio_postgres::Config,
    slots: Vec<Slot>,
    next: AtomicUsize,
    /// Set once PostgreSQL refused these connections' authentication.
    refused: AtomicBool,
    open_timeout: Duration,
    idle_timeout: Duration,
    started: Instant,
}

/// Why a pipelined read failed.
pub(super) enum ReadError {
    /// The reader cannot be used (authentication refused): use sqlx.
    Unavailable,
    Db(tokio_postgres::Error),
    /// A row that does not hold what the statement selects.
    Decode(tokio_postgres::Error),
    /// Opening a connection took longer than the acquire timeout.
    OpenTimedOut,
    /// PostgreSQL has no connection to spare (too many connections, or
    /// out of memory for one): the read may use the pool's, which are
    /// open already.
    NoRoom,
}

impl Pipelined {
    /// A reader of `connections` connections to the database `connect`
    /// describes (as sqlx parsed it: its defaults from the environment
    /// included), with the URL's password or else `PGPASSWORD`. `None` when
    /// tokio-postgres cannot express the options.
    pub(super) fn new(
        url: &str,
        connect: &PgConnectOptions,
        session_options: &[(&str, String)],
        connections: usize,
        open_timeout: Duration,
        idle_timeout: Duration,
    ) -> Option<Arc<Pipelined>> {
        if connections == 0 {
            return None;
        }
        let mut config = tokio_postgres::Config::new();
        match connect.get_socket() {
            Some(socket) => config.host_path(socket),
            None => config.host(connect.get_host()),
        };
        config.port(connect.get_port());
        config.user(connect.get_username());
        if let Some(db) = connect.get_database() {
            config.dbname(db);
        }
        if let Some(name) = connect.get_application_name() {
            config.application_name(name);
        }
        config.ssl_mode(match connect.get_ssl_mode() {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Allow | PgSslMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        match url_password(url) {
            Some(password) => config.password(password),
            None => match std::env::var("PGPASSWORD") {
                Ok(password) => config.password(password),
                Err(_) => &mut config,
            },
        };
        // The URL's own `options`, then the timeouts, as `-c name=value`.
        let mut options: Vec<String> = connect
            .get_options()
            .map(str::to_owned)
            .into_iter()
            .collect();
        options.extend(
            session_options
                .iter()
                .map(|(name, value)| format!("-c {name}={value}")),
        );
        if !options.is_empty() {
            config.options(options.join(" "));
        }
        config.connect_timeout(open_timeout);
        if let [Host::Tcp(host)] = config.get_hosts()
            && host.is_empty()
        {
            return None;
        }
        let reader = Arc::new(Pipelined {
            config,
            slots: (0..connections)
                .map(|_| Slot {
                    live: RwLock::new(None),
                    in_flight: AtomicUsize::new(0),
                    opening: tokio::sync::Mutex::new(()),
                })
                .collect(),
            next: AtomicUsize::new(0),
            refused: AtomicBool::new(false),
            open_timeout,
            idle_timeout,
            started: Instant::now(),
        });
        tokio::spawn(close_idle(Arc::downgrade(&reader)));
        Some(reader)
    }

    /// Whether reads should go to sqlx instead.
    pub(super) fn unavailable(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The slot with the fewest reads waiting (ties taken in turn): a
    /// connection whose backend is not running at the moment (on a busy
    /// database host) gets no more reads queued behind the ones it holds.
    fn least_busy(&self) -> &Slot {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.slots.len();
        let mut least = &self.slots[start % n];
        for i in 1..n {
            let slot = &self.slots[(start + i) % n];
            if slot.in_flight.load(Ordering::Relaxed) < least.in_flight.load(Ordering::Relaxed) {
                least = slot;
            }
        }
        least
    }

    /// A live connection of the least busy slot, opened if it has none,
    /// counted as busy until the guard is dropped.
    async fn live(&self) -> Result<(Arc<Live>, InFlight<'_>), ReadError> {
        if self.unavailable() {
            return Err(ReadError::Unavailable);
        }
        let slot = self.least_busy();
        slot.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut busy = InFlight {
            slot,
            live: None,
            answered: false,
            check_within: self.open_timeout,
        };
        if let Some(live) = current(slot) {
            live.used_at.store(self.now_ms(), Ordering::Relaxed);
            busy.live = Some(Arc::clone(&live));
            return Ok((live, busy));
        }
        // Waiting for another request's opening counts against the same
        // acquire timeout: readers queued behind an opening that hangs do
        // not wait one acquire timeout each in turn.
        let opened = tokio::time::timeout(self.open_timeout, async {
            let _opening = slot.opening.lock().await;
            // Another request may have opened it meanwhile.
            if let Some(live) = current(slot) {
                return Ok::<_, tokio_postgres::Error>(live);
            }
            let live = Arc::new(self.open().await?);
            live.used_at.store(self.now_ms(), Ordering::Relaxed);
            *slot.live.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&live));
            Ok(live)
        })
        .await;
        match opened {
            Ok(Ok(live)) => {
                busy.live = Some(Arc::clone(&live));
                Ok((live, busy))
            }
            Ok(Err(e)) => {
                if e.code().is_some_and(|code| code.code().starts_with("28")) {
                    tracing::warn!(
                        error = %e,
                        "PostgreSQL refused the pipelined read connections' authentication; \
                         reads go through the connection pool instead"
                    );
                    self.refused.store(true, Ordering::Relaxed);
                    return Err(ReadError::Unavailable);
                }
                // Class 53: insufficient resources (53300: too many
                // connections).
                if e.code().is_some_and(|code| code.code().starts_with("53")) {
                    tracing::debug!(error = %e, "no pipelined connection: PostgreSQL has no room");
                    return Err(ReadError::NoRoom);
                }
                Err(ReadError::Db(e))
            }
            Err(_) => Err(ReadError::OpenTimedOut),
        }
    }

    async fn open(&self) -> Result<Live, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let connection = tokio::spawn(async move {
            // Ends when the client is dropped or the connection breaks;
            // the requests on it see the error themselves.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a pipelined PostgreSQL connection ended");
            }
        });
        Ok(Live {
            client,
            generation_and_identity: OnceCell::new(),
            generation: OnceCell::new(),
            pool_doc: OnceCell::new(),
            used_at: AtomicU64::new(0),
            connection: connection.abort_handle(),
            checking: AtomicBool::new(false),
        })
    }

    /// A connection for a read, its guard, and the statement `sql`,
    /// prepared on it once (kept in the cell `statement` picks).
    async fn prepared(
        &self,
        statement: fn(&Live) -> &OnceCell<Statement>,
        sql: &str,
    ) -> Result<(Arc<Live>, InFlight<'_>, Statement), ReadError> {
        let (live, busy) = self.live().await?;
        let prepared = statement(&live)
            .get_or_try_init(|| live.client.prepare(sql))
            .await
            .map_err(ReadError::Db)?
            .clone();
        Ok((live, busy, prepared))
    }

    pub(super) async fn generation_and_identity(
        &self,
        id: &str,
    ) -> Result<(i64, Option<Identity>), ReadError> {
        let (live, mut busy, statement) = self
            .prepared(|l| &l.generation_and_identity, &GENERATION_AND_IDENTITY)
            .await?;
        let row = live.client.query_one(&statement, &[&id]).await;
        busy.answered();
        let row = row.map_err(ReadError::Db)?;
        let generation: i64 = row.try_get("generation").map_err(ReadError::Decode)?;
        let found: Option<String> = row.try_get("id").map_err(ReadError::Decode)?;
        let identity = match found {
            Some(_) => Some(identity_of(&row).map_err(ReadError::Decode)?),
            None => None,
        };
        Ok((generation, identity))
    }

    pub(super) async fn generation(&self) -> Result<i64, ReadError> {
        let (live, mut busy, statement) = self
            .prepared(
                |l| &l.generation,
                "SELECT value FROM config_generation WHERE id = 1",
            )
            .await?;
        let row = live.client.query_one(&statement, &[]).await;
        busy.answered();
        let row = row.map_err(ReadError::Db)?;
        row.try_get(0).map_err(ReadError::Decode)
    }

    /// The document of pool `id`, if there is one (what a signed call on
    /// a pool, DescribeIdentityPool say, reads after its authorization).
    pub(super) async fn pool_doc(&self, id: &str) -> Result<Option<String>, ReadError> {
        let (live, mut busy, statement) = self
            .prepared(|l| &l.pool_doc, "SELECT doc FROM pools WHERE id = $1")
            .await?;
        let row = live.client.query_opt(&statement, &[&id]).await;
        busy.answered();
        let row = row.map_err(ReadError::Db)?;
        row.map(|row| row.try_get(0))
            .transpose()
            .map_err(ReadError::Decode)
    }

    /// Closes the connections unused for the idle timeout.
    fn close_idle_now(&self) {
        let now = self.now_ms();
        let idle_ms = self.idle_timeout.as_millis() as u64;
        for slot in &self.slots {
            let mut live = slot.live.write().unwrap_or_else(|e| e.into_inner());
            let stale = live.as_ref().is_some_and(|l| {
                l.client.is_closed()
                    || now.saturating_sub(l.used_at.load(Ordering::Relaxed)) >= idle_ms
            });
            if stale {
                *live = None;
            }
        }
    }
}

/// A read counted in its slot's `in_flight` while it waits.
struct InFlight<'a> {
    slot: &'a Slot,
    /// The connection it was sent on.
    live: Option<Arc<Live>>,
    /// The connection answered it (with rows or an error).
    answered: bool,
    check_within: Duration,
}

impl InFlight<'_> {
    fn answered(&mut self) {
        self.answered = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.slot.in_flight.fetch_sub(1, Ordering::Relaxed);
        // Abandoned before its answer (the operation timed out, or the
        // request went away): the connection may have stopped answering
        // (a stalled host, a network dropping its packets), which it
        // would not notice for hours. As sqlx's pool does with a
        // connection given back mid-statement, ask it for an empty
        // statement's answer; without one in time it is given up, so its
        // reads fail as a lost connection (retried on one opened anew)
        // and no later read waits on it.
        if let Some(live) = self.live.take().filter(|_| !self.answered) {
            check(live, self.check_within);
        }
    }
}

/// Gives `live` up unless it answers an empty statement within `within`.
fn check(live: Arc<Live>, within: Duration) {
    if live.checking.swap(true, Ordering::Relaxed) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        live.connection.abort();
        return;
    };
    runtime.spawn(async move {
        let answer = tokio::time::timeout(within, live.client.simple_query("")).await;
        if !matches!(answer, Ok(Ok(_))) {
            tracing::debug!("a pipelined PostgreSQL connection stopped answering; closing it");
            live.connection.abort();
        }
        live.checking.store(false, Ordering::Relaxed);
    });
}

/// The password the URL gives (in its user info, or as `password=`), as
/// tokio-postgres reads it; if tokio-postgres refuses a parameter that
/// only sqlx knows (`statement-cache-capacity`, say), from the URL without
/// its other parameters.
fn url_password(url: &str) -> Option<Vec<u8>> {
    if let Ok(config) = url.parse::<tokio_postgres::Config>() {
        return config.get_password().map(<[u8]>::to_vec);
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let password: Vec<&str> = query
        .split('&')
        .filter(|p| p.starts_with("password="))
        .collect();
    let trimmed = if password.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", password.join("&"))
    };
    let config = trimmed.parse::<tokio_postgres::Config>().ok()?;
    config.get_password().map(<[u8]>::to_vec)
}

/// The slot's connection, unless it has none or it broke.
fn current(slot: &Slot) -> Option<Arc<Live>> {
    let live = slot.live.read().unwrap_or_else(|e| e.into_inner());
    live.as_ref()
        .filter(|l| !l.client.is_closed())
        .map(Arc::clone)
}

/// Every quarter of the idle timeout, closes the idle connections; ends
/// with the store.
async fn close_idle(reader: Weak<Pipelined>) {
    let period = match reader.upgrade() {
        Some(r) => (r.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(15)),
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        match reader.upgrade() {
            Some(r) => r.close_idle_now(),
            None => return,
        }
    }
}

fn identity_of(row: &Row) -> Result<Identity, tokio_postgres::Error> {
    let providers: Vec<String> = row.try_get("providers")?;
    let subjects: Vec<String> = row.try_get("subjects")?;
    Ok(Identity {
        id: row.try_get("id")?,
        pool_id: row.try_get("pool_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        disabled: row.try_get("disabled")?,
        merged_into: row.try_get("merged_into")?,
        version: row.try_get("version")?,
        logins: providers
            .into_iter()
            .zip(subjects)
            .map(|(provider, subject)| Login { provider, subject })
            .collect(),
    })
}

/// The connection broke, or the database is going away or not yet
/// accepting connections: another attempt may succeed (on a connection
/// opened anew).
pub(super) fn is_connection_loss(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        // The socket failed, or the connection could not be made.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// The error with its causes (tokio-postgres says only "db error" and
/// keeps the database's own message in the cause).
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::url_password;

    #[test]
    fn the_urls_password_is_read_even_beside_a_parameter_only_sqlx_knows() {
        let password =
            |url: &str| url_password(url).map(|p| String::from_utf8_lossy(&p).into_owned());
        assert_eq!(
            password("postgres://cognate:s3cret@db:5432/cognate?sslmode=disable"),
            Some("s3cret".into())
        );
        assert_eq!(
            password("postgres://cognate:s3cret@db/cognate?statement-cache-capacity=50"),
            Some("s3cret".into())
        );
        assert_eq!(
            password("postgres://cognate@db/cognate?statement-cache-capacity=50&password=p%40ss"),
            Some("p@ss".into())
        );
        assert_eq!(
            password("postgres://cognate:p%40ss@db/cognate"),
            Some("p@ss".into())
        );
        assert_eq!(
            password("postgres://cognate@db/cognate?statement-cache-capacity=5"),
            None
        );
    }
}
