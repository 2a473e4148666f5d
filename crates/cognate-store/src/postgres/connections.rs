//! The connection pool and the time one store operation may take.
//!
//! Tried and measured (cognate-bench postgres, round 15 in
//! docs/benchmarks.md): keeping connections that finished cleanly in a
//! list of our own, to skip the Sync that sqlx's pool sends when a
//! connection comes back, counted one round trip per request instead of
//! two, yet under 64 clients served a third of the requests with six
//! times the p99. sqlx's pool is used as it is; the reads each request
//! starts with skip it (`pipelined.rs`).

use std::time::Duration;

use sqlx::postgres::PgPool;

use crate::StoreOptions;

pub(super) struct Connections {
    pool: PgPool,
    /// How long one store operation may take, every attempt included.
    operation_timeout: Option<Duration>,
}

impl Connections {
    pub(super) fn new(pool: PgPool, options: &StoreOptions) -> Connections {
        Connections {
            pool,
            operation_timeout: options.operation_timeout,
        }
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// When an operation starting now must have finished (`retrying!`).
    pub(super) fn operation_deadline(&self) -> Option<tokio::time::Instant> {
        self.operation_timeout
            .map(|limit| tokio::time::Instant::now() + limit)
    }
}
