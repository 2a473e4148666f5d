//! Store implementations: SQLite (the embedded default) and PostgreSQL.
//! Both implement `cognate_core::store::Store` and run one conformance
//! suite (`conformance`).

use std::sync::Arc;

use cognate_core::store::{Store, StoreError};

pub mod conformance;
mod docs;
pub mod postgres;
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 8 }
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}
