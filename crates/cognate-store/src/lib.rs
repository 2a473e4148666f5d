//! Store implementations: SQLite (the embedded default) and PostgreSQL.
//! Both implement `cognate_core::store::Store` and run one conformance
//! suite (`conformance`, compiled with the feature of that name, which
//! this crate's tests turn on).

use std::sync::Arc;
use std::time::Duration;

use cognate_core::store::{Store, StoreError};

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod postgres;
mod records;
pub mod sqlite;

/// Opens the store a database URL names: `sqlite://path` or `postgres://...`.
pub async fn open(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(url, options).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url, options).await?))
    } else {
        Err(StoreError::Backend(format!(
            "unsupported database URL scheme (expected sqlite:// or postgres://): {}",
            redact_url(url)
        )))
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections to open at most (readers for SQLite).
    pub max_connections: u32,
    /// PostgreSQL: how long a statement may run, and wait for a lock,
    /// before the database cancels it (`statement_timeout`,
    /// `lock_timeout`); `None` leaves the server's setting.
    pub statement_timeout: Option<Duration>,
    pub lock_timeout: Option<Duration>,
    /// PostgreSQL: how long a request waits for a connection of the pool
    /// (opening one included).
    pub acquire_timeout: Duration,
    /// PostgreSQL: an idle connection is closed after this long, so that
    /// a quiet node gives its connections back to the others.
    pub idle_timeout: Duration,
    /// PostgreSQL: how long one store operation may take in all, its
    /// retries and waits included; `None`: no limit. It bounds what the
    /// other limits do not, such as a commit waiting for a synchronous
    /// standby that stopped answering.
    pub operation_timeout: Option<Duration>,
}

impl Default for StoreOptions {
    /// No statement or lock limit (what the command-line tools use);
    /// `cognate serve` sets its own.
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            statement_timeout: None,
            lock_timeout: None,
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            operation_timeout: None,
        }
    }
}

/// A database URL without its password (in the user info or as a
/// `password=` query parameter), for messages.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at))
            if at > scheme_end && base[scheme_end + 3..at].contains(':') =>
        {
            let userinfo = &base[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &base[..scheme_end + 3], user, &base[at..])
        }
        _ => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted_wherever_they_are() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=secret"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
