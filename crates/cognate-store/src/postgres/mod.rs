//! PostgreSQL, for several cognate nodes sharing one database. Mirrors
//! `sqlite/` operation by operation; where SQLite relies on its single
//! writer, this engine relies on row locks.
//!
//! Concurrency model:
//! - Write transactions run at READ COMMITTED (every statement sees what
//!   was committed before it started) and lock what their decision depends
//!   on with `SELECT ... FOR UPDATE`, always in id order:
//!   - `apply_identity_changes` locks every identity it names (versions to
//!     check, merge ends, unlink and link targets, touched and disabled
//!     ones) before it checks or changes anything; every change to an
//!     identity's logins happens under its lock, so they are stable while
//!     it is held.
//!     A login taken meanwhile by another identity surfaces as a unique
//!     violation, reported as `Conflict` (the domain re-reads and retries).
//!   - `insert_pool` locks a row of `pool_quota_locks` per (account,
//!     region), then counts: concurrent inserts into one region take turns.
//!   - `update_pool` locks the pool row before comparing versions.
//!   - `delete_identity` deletes (and so locks) the identity row first and
//!     its logins after, so a concurrent link either lands before (and is
//!     deleted) or fails.
//! - `delete_pool` runs at REPEATABLE READ: all its deletes work on one
//!   snapshot, so an identity created concurrently is either wholly deleted
//!   or wholly kept (as in SQLite, identities do not check that their pool
//!   exists), and a row changed concurrently aborts it with a serialization
//!   failure, which is retried.
//! - Every configuration change (pools, roles, attachments, managed
//!   policies, OIDC providers) raises `config_generation` as its last
//!   statement: the single row serialises such changes across nodes, and
//!   being taken last it never waits inside a lock cycle. Under
//!   `delete_pool`'s REPEATABLE READ a concurrent raise is a serialization
//!   failure, retried as below.
//! - Serialization failures (40001), deadlocks (40P01) and lost
//!   connections are retried for the whole transaction: 5 attempts,
//!   jittered exponential backoff from 10 ms to 200 ms. A connection lost
//!   while committing is not retried: the outcome is unknown, so it is a
//!   `Backend` error.
//! - No advisory locks (the migrator's included), nothing CockroachDB lacks
//!   apart from the column collations noted in the migration; CockroachDB
//!   runs everything SERIALIZABLE, under which these transactions are also
//!   correct.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cognate_core::audit::{AuditQuery, AuditRecord};
use cognate_core::model::{
    Identity, Login, ManagedPolicy, MergeRecord, OidcProvider, Pool, Role, SamlProvider,
    SigningKeyRecord,
};
use cognate_core::store::{
    IdentityChanges, IdentityState, NewIdentity, PolicyDeletion, PolicyEdit, Store, StoreError,
    StoreResult,
};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::records::{
    AUDIT_COLUMNS, AuditParam, OIDC_PROVIDERS, SAML_PROVIDERS, audit_list_sql, from_doc,
    policy_doc, provider_methods, role_doc, to_doc,
};
use crate::{StoreOptions, redact_url};

mod connections;
mod guests;
mod pipelined;
mod retry;
mod rows;

use connections::Connections;
use retry::{Attempt, MAX_ATTEMPTS, backend, backoff, commit, retrying, unique_as};
use rows::{
    GENERATION_AND_IDENTITY, IDENTITY_COLUMNS, POLICY_COLUMNS, ROLE_COLUMNS, doc_column,
    identity_row, merge_row, policy_row, role_row, sql_limit,
};

pub struct PostgresStore {
    conns: Arc<Connections>,
    guests: guests::GuestBatcher,
    /// The reads each request starts with; `None`: they use the pool.
    pipelined: Option<Arc<pipelined::Pipelined>>,
}

/// How many of a node's `max_connections` carry the pipelined reads: a
/// quarter, from one to four (none below two connections in all, where
/// the pool needs the one).
fn pipelined_connections(max_connections: u32) -> u32 {
    if max_connections < 2 {
        0
    } else {
        (max_connections / 4).clamp(1, 4)
    }
}

/// Raises the configuration generation inside the transaction of a pool,
/// role, policy or OIDC provider change. Called last, just before the
/// commit: the row lock it takes serialises configuration changes, and
/// holding it only at the end keeps it short and out of lock cycles.
async fn bump_generation(tx: &mut Transaction<'static, Postgres>) -> Attempt<()> {
    sqlx::query("UPDATE config_generation SET value = value + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes every row of `table` (a name of ours, never input) in `tx`;
/// returns how many (`Store::reset`).
async fn delete_all(tx: &mut Transaction<'static, Postgres>, table: &str) -> Attempt<u64> {
    let deleted = sqlx::query(&format!("DELETE FROM {table}"))
        .execute(&mut **tx)
        .await?;
    Ok(deleted.rows_affected())
}

/// Removes the URL's password from a message, should a driver error quote it.
fn scrub(message: String, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    match password {
        Some(password) => message.replace(password, "***"),
        None => message,
    }
}

impl PostgresStore {
    pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let failed = |doing: &str, e: &dyn std::fmt::Display| {
            StoreError::Backend(scrub(format!("{doing} {}: {e}", redact_url(url)), url))
        };
        let connect =
            PgConnectOptions::from_str(url).map_err(|e| failed("invalid PostgreSQL URL", &e))?;
        // Migrations run unbounded, on a connection of their own: adding an
        // index to a large table may take longer than any request may.
        migrate(&connect, options.acquire_timeout)
            .await
            .map_err(|e| failed("migrating the PostgreSQL database", &e))?;
        let mut bounded = Vec::new();
        if let Some(limit) = options.statement_timeout {
            bounded.push(("statement_timeout", limit.as_millis().to_string()));
        }
        if let Some(limit) = options.lock_timeout {
            bounded.push(("lock_timeout", limit.as_millis().to_string()));
        }
        let max_connections = options.max_connections.max(1);
        let pipelined_count = pipelined_connections(max_connections);
        let pipelined = pipelined::Pipelined::new(
            url,
            &connect,
            &bounded,
            pipelined_count as usize,
            options.acquire_timeout,
            options.idle_timeout,
        );
        let pooled = match pipelined {
            Some(_) => max_connections - pipelined_count,
            None => max_connections,
        };
        let pool = PgPoolOptions::new()
            .max_connections(pooled)
            .min_connections(0)
            // sqlx pings every connection it hands out: a round trip
            // before each statement (cognate-bench postgres counted three
            // round trips per one-statement request). A connection that
            // died meanwhile fails its statement instead, which
            // `retrying!` runs again on another one.
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .connect_lazy_with(connect.options(bounded));
        let conns = Arc::new(Connections::new(pool, options));
        let guests = guests::GuestBatcher::start(Arc::clone(&conns));
        Ok(PostgresStore {
            conns,
            guests,
            pipelined,
        })
    }

    /// The pipelined reader, unless it has none or PostgreSQL refused it.
    fn pipelined(&self) -> Option<&pipelined::Pipelined> {
        self.pipelined.as_deref().filter(|r| !r.unavailable())
    }

    async fn begin(&self) -> Attempt<Transaction<'static, Postgres>> {
        Ok(self.conns.pool().begin().await?)
    }
}

/// Applies the migrations without the migrator's advisory lock (which
/// CockroachDB lacks). Nodes starting together may race; every migration
/// and its bookkeeping commit in one transaction, so the loser fails (a
/// duplicate table or migration row) without effect, and its next attempt
/// finds the migration applied.
async fn migrate(
    connect: &PgConnectOptions,
    connect_timeout: Duration,
) -> Result<(), MigrateError> {
    let mut migrator: Migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_locking(false);
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A pool of one connection, closed afterwards (the migrator's
        // future over a bare connection cannot be spawned).
        let single = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(connect_timeout)
            .connect_with(connect.clone())
            .await;
        let outcome = match single {
            Ok(single) => {
                let outcome = migrator.run(&single).await;
                single.close().await;
                outcome
            }
            Err(e) => Err(MigrateError::Execute(e)),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _))
                if attempt < MAX_ATTEMPTS
                    && matches!(e, sqlx::Error::Database(_) | sqlx::Error::Io(_)) =>
            {
                tracing::debug!(attempt, error = %e, "retrying the PostgreSQL migrations");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

impl PostgresStore {
    async fn insert_provider<T: serde::Serialize>(
        &self,
        table: &'static str,
        arn: &str,
        account: &str,
        provider: &T,
    ) -> StoreResult<()> {
        let doc = to_doc(provider)?;
        let sql = format!("INSERT INTO {table} (arn, account, doc) VALUES ($1, $2, $3)");
        retrying!(self.conns, table, async {
            let mut tx = self.begin().await?;
            sqlx::query(&sql)
                .bind(arn)
                .bind(account)
                .bind(&doc)
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(arn.to_string())))?;
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn get_provider<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        arn: &str,
    ) -> StoreResult<Option<T>> {
        let sql = format!("SELECT doc FROM {table} WHERE arn = $1");
        let row = retrying!(self.conns, table, async {
            Ok(sqlx::query(&sql)
                .bind(arn)
                .fetch_optional(self.conns.pool())
                .await?)
        })?;
        row.as_ref().map(doc_column).transpose()
    }

    async fn update_provider<T: serde::Serialize>(
        &self,
        table: &'static str,
        arn: &str,
        provider: &T,
    ) -> StoreResult<()> {
        let doc = to_doc(provider)?;
        let sql = format!("UPDATE {table} SET doc = $1 WHERE arn = $2");
        retrying!(self.conns, table, async {
            let mut tx = self.begin().await?;
            let updated = sqlx::query(&sql)
                .bind(&doc)
                .bind(arn)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound(arn.to_string()).into());
            }
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn delete_provider(&self, table: &'static str, arn: &str) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {table} WHERE arn = $1");
        retrying!(self.conns, table, async {
            let mut tx = self.begin().await?;
            let deleted = sqlx::query(&sql)
                .bind(arn)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted > 0 {
                bump_generation(&mut tx).await?;
            }
            commit(tx).await?;
            Ok(deleted > 0)
        })
    }

    async fn list_providers<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        account: &str,
    ) -> StoreResult<Vec<T>> {
        let sql = format!("SELECT doc FROM {table} WHERE account = $1 ORDER BY arn");
        let rows = retrying!(self.conns, table, async {
            Ok(sqlx::query(&sql)
                .bind(account)
                .fetch_all(self.conns.pool())
                .await?)
        })?;
        rows.iter().map(doc_column).collect()
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn insert_pool(&self, pool: &Pool, max_per_region: usize) -> StoreResult<()> {
        let doc = to_doc(pool)?;
        retrying!(self.conns, "insert_pool", async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO pool_quota_locks (account, region) VALUES ($1, $2)
                 ON CONFLICT (account, region) DO NOTHING",
            )
            .bind(&pool.account)
            .bind(&pool.region)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "SELECT account FROM pool_quota_locks WHERE account = $1 AND region = $2 FOR UPDATE",
            )
            .bind(&pool.account)
            .bind(&pool.region)
            .fetch_one(&mut *tx)
            .await?;
            // A new statement: at READ COMMITTED it sees every pool that
            // the previous holders of the lock committed.
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pools WHERE account = $1 AND region = $2")
                    .bind(&pool.account)
                    .bind(&pool.region)
                    .fetch_one(&mut *tx)
                    .await?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= max_per_region {
                return Err(StoreError::LimitExceeded("too many identity pools".into()).into());
            }
            sqlx::query(
                "INSERT INTO pools (id, account, region, developer_provider_name, version, doc)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&pool.id)
            .bind(&pool.account)
            .bind(&pool.region)
            .bind(&pool.developer_provider_name)
            .bind(pool.version)
            .bind(&doc)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                unique_as(e, || {
                    StoreError::AlreadyExists("the developer provider name is in use".into())
                })
            })?;
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<Pool>> {
        let doc: Option<String> = retrying!(self.conns, "get_pool", async {
            if let Some(reader) = self.pipelined() {
                match reader.pool_doc(id).await {
                    // The database has no connection to spare: the pool's
                    // may serve.
                    Err(pipelined::ReadError::NoRoom) => {}
                    read => return Ok(read?),
                }
            }
            Ok(sqlx::query_scalar("SELECT doc FROM pools WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conns.pool())
                .await?)
        })?;
        doc.as_deref().map(from_doc).transpose()
    }

    async fn update_pool(&self, pool: &Pool, expected_version: i64) -> StoreResult<()> {
        let doc = to_doc(pool)?;
        retrying!(self.conns, "update_pool", async {
            let mut tx = self.begin().await?;
            let current: Option<i64> =
                sqlx::query_scalar("SELECT version FROM pools WHERE id = $1 FOR UPDATE")
                    .bind(&pool.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match current {
                None => return Err(StoreError::NotFound(pool.id.clone()).into()),
                Some(v) if v != expected_version => {
                    return Err(StoreError::Conflict(format!("pool {} changed", pool.id)).into());
                }
                Some(_) => {}
            }
            sqlx::query(
                "UPDATE pools SET developer_provider_name = $1, version = $2, doc = $3 WHERE id = $4",
            )
            .bind(&pool.developer_provider_name)
            .bind(pool.version)
            .bind(&doc)
            .bind(&pool.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                unique_as(e, || {
                    StoreError::AlreadyExists("the developer provider name is in use".into())
                })
            })?;
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<bool> {
        retrying!(self.conns, "delete_pool", async {
            let mut tx = self
                .conns
                .pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await?;
            let deleted = sqlx::query("DELETE FROM pools WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for table in ["logins", "merges", "identities"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            if deleted > 0 {
                bump_generation(&mut tx).await?;
            }
            commit(tx).await?;
            Ok(deleted > 0)
        })
    }

    async fn list_pools(
        &self,
        account: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Pool>> {
        let rows = retrying!(self.conns, "list_pools", async {
            Ok(sqlx::query(
                "SELECT doc FROM pools WHERE account = $1 AND region = $2 AND id > $3
                 ORDER BY id LIMIT $4",
            )
            .bind(account)
            .bind(region)
            .bind(after.unwrap_or(""))
            .bind(sql_limit(limit))
            .fetch_all(self.conns.pool())
            .await?)
        })?;
        rows.iter().map(doc_column).collect()
    }

    async fn pool_by_developer_provider(
        &self,
        account: &str,
        region: &str,
        developer_provider_name: &str,
    ) -> StoreResult<Option<String>> {
        retrying!(self.conns, "pool_by_developer_provider", async {
            Ok(sqlx::query_scalar(
                "SELECT id FROM pools
                 WHERE account = $1 AND region = $2 AND developer_provider_name = $3",
            )
            .bind(account)
            .bind(region)
            .bind(developer_provider_name)
            .fetch_optional(self.conns.pool())
            .await?)
        })
    }

    async fn get_identity(&self, id: &str) -> StoreResult<Option<Identity>> {
        // One statement: the identity and its logins come from one snapshot.
        let sql = format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.id = $1");
        let row = retrying!(self.conns, "get_identity", async {
            Ok(sqlx::query(&sql)
                .bind(id)
                .fetch_optional(self.conns.pool())
                .await?)
        })?;
        row.as_ref().map(identity_row).transpose()
    }

    async fn generation_and_identity(&self, id: &str) -> StoreResult<(i64, Option<Identity>)> {
        // One round trip for what every public call on an identity starts
        // with: pipelined, or through the pool (the text is made once: the
        // statement cache is keyed by it).
        retrying!(self.conns, "generation_and_identity", async {
            if let Some(reader) = self.pipelined() {
                match reader.generation_and_identity(id).await {
                    // The database has no connection to spare: the pool's
                    // may serve.
                    Err(pipelined::ReadError::NoRoom) => {}
                    read => return Ok(read?),
                }
            }
            let row = sqlx::query(&GENERATION_AND_IDENTITY)
                .bind(id)
                .fetch_one(self.conns.pool())
                .await?;
            let generation: i64 = row.try_get("generation").map_err(backend)?;
            let found: Option<String> = row.try_get("id").map_err(backend)?;
            let identity = match found {
                Some(_) => Some(identity_row(&row)?),
                None => None,
            };
            Ok((generation, identity))
        })
    }

    async fn find_login_owners(
        &self,
        pool_id: &str,
        logins: &[Login],
    ) -> StoreResult<Vec<(Login, String)>> {
        if logins.is_empty() {
            return Ok(Vec::new());
        }
        let providers: Vec<&str> = logins.iter().map(|l| l.provider.as_str()).collect();
        let subjects: Vec<&str> = logins.iter().map(|l| l.subject.as_str()).collect();
        let rows: Vec<(String, String, String)> =
            retrying!(self.conns, "find_login_owners", async {
                Ok(sqlx::query_as(
                    "SELECT l.provider, l.subject, l.identity_id
                 FROM logins l
                 JOIN UNNEST($2::text[], $3::text[]) AS wanted (provider, subject)
                   ON l.provider = wanted.provider AND l.subject = wanted.subject
                 WHERE l.pool_id = $1",
                )
                .bind(pool_id)
                .bind(&providers)
                .bind(&subjects)
                .fetch_all(self.conns.pool())
                .await?)
            })?;
        let owners: HashMap<(String, String), String> = rows
            .into_iter()
            .map(|(provider, subject, owner)| ((provider, subject), owner))
            .collect();
        // In the order asked, as SQLite answers.
        Ok(logins
            .iter()
            .filter_map(|login| {
                owners
                    .get(&(login.provider.clone(), login.subject.clone()))
                    .map(|owner| (login.clone(), owner.clone()))
            })
            .collect())
    }

    async fn apply_identity_changes(&self, changes: &IdentityChanges) -> StoreResult<()> {
        retrying!(self.conns, "apply_identity_changes", async {
            let mut tx = self.begin().await?;
            apply_changes(&mut tx, changes).await?;
            commit(tx).await
        })
    }

    async fn insert_guests(&self, identities: &[NewIdentity]) -> StoreResult<()> {
        self.guests.insert(identities).await
    }

    async fn list_identities(
        &self,
        pool_id: &str,
        hide_disabled: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>> {
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities i
             WHERE i.pool_id = $1 AND i.id > $2 AND (NOT $3 OR NOT i.disabled)
             ORDER BY i.id LIMIT $4"
        );
        let rows = retrying!(self.conns, "list_identities", async {
            Ok(sqlx::query(&sql)
                .bind(pool_id)
                .bind(after.unwrap_or(""))
                .bind(hide_disabled)
                .bind(sql_limit(limit))
                .fetch_all(self.conns.pool())
                .await?)
        })?;
        rows.iter().map(identity_row).collect()
    }

    async fn list_identities_in_state(
        &self,
        pool_id: &str,
        state: IdentityState,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>> {
        // Each WHERE names its partial index's condition literally
        // (identities_enabled_by_logins, identities_disabled).
        let (chosen, has_logins) = match state {
            IdentityState::Guest => ("NOT i.disabled AND i.has_logins = $3", false),
            IdentityState::Authenticated => ("NOT i.disabled AND i.has_logins = $3", true),
            // ($3 is bound either way; here it selects nothing.)
            IdentityState::Disabled => ("i.disabled AND $3 = $3", false),
        };
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities i
             WHERE i.pool_id = $1 AND {chosen} AND i.id > $2
             ORDER BY i.id LIMIT $4"
        );
        let rows = retrying!(self.conns, "list_identities_in_state", async {
            Ok(sqlx::query(&sql)
                .bind(pool_id)
                .bind(after.unwrap_or(""))
                .bind(has_logins)
                .bind(sql_limit(limit))
                .fetch_all(self.conns.pool())
                .await?)
        })?;
        rows.iter().map(identity_row).collect()
    }

    async fn count_identities(&self, pool_id: &str, cap: usize) -> StoreResult<usize> {
        let count: i64 = retrying!(self.conns, "count_identities", async {
            Ok(sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM identities WHERE pool_id = $1 LIMIT $2) t",
            )
            .bind(pool_id)
            .bind(sql_limit(cap))
            .fetch_one(self.conns.pool())
            .await?)
        })?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn delete_identity(&self, id: &str) -> StoreResult<bool> {
        retrying!(self.conns, "delete_identity", async {
            let mut tx = self.begin().await?;
            // The identity first: deleting its row waits for (and then
            // excludes) any transaction holding its lock, so the logins
            // deleted next include every login linked before.
            let deleted = sqlx::query("DELETE FROM identities WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM logins WHERE identity_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            commit(tx).await?;
            Ok(deleted > 0)
        })
    }

    async fn merges_of(&self, identity_id: &str) -> StoreResult<Vec<MergeRecord>> {
        let rows = retrying!(self.conns, "merges_of", async {
            Ok(sqlx::query(
                "SELECT pool_id, from_identity, to_identity, at, cause FROM merges
                 WHERE from_identity = $1 OR to_identity = $1 ORDER BY seq",
            )
            .bind(identity_id)
            .fetch_all(self.conns.pool())
            .await?)
        })?;
        rows.iter().map(merge_row).collect()
    }

    async fn subjects_of(
        &self,
        identity_id: &str,
        provider: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        retrying!(self.conns, "subjects_of", async {
            Ok(sqlx::query_scalar(
                "SELECT subject FROM logins WHERE identity_id = $1 AND provider = $2 AND subject > $3
                 ORDER BY subject LIMIT $4",
            )
            .bind(identity_id)
            .bind(provider)
            .bind(after.unwrap_or(""))
            .bind(sql_limit(limit))
            .fetch_all(self.conns.pool()).await?)
        })
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        let doc = role_doc(role)?;
        retrying!(self.conns, "insert_role", async {
            let mut tx = self.begin().await?;
            sqlx::query("INSERT INTO roles (account, name_key, name, doc) VALUES ($1, $2, $3, $4)")
                .bind(&role.account)
                .bind(role.name.to_lowercase())
                .bind(&role.name)
                .bind(&doc)
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(role.name.clone())))?;
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn get_role(&self, account: &str, name: &str) -> StoreResult<Option<Role>> {
        let row = retrying!(self.conns, "get_role", async {
            Ok(sqlx::query(&format!(
                "SELECT {ROLE_COLUMNS} FROM roles r WHERE r.account = $1 AND r.name_key = $2"
            ))
            .bind(account)
            .bind(name.to_lowercase())
            .fetch_optional(self.conns.pool())
            .await?)
        })?;
        row.as_ref().map(role_row).transpose()
    }

    async fn update_role(&self, role: &Role) -> StoreResult<()> {
        let doc = role_doc(role)?;
        retrying!(self.conns, "update_role", async {
            let mut tx = self.begin().await?;
            let updated =
                sqlx::query("UPDATE roles SET doc = $1 WHERE account = $2 AND name_key = $3")
                    .bind(&doc)
                    .bind(&role.account)
                    .bind(role.name.to_lowercase())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound(role.name.clone()).into());
            }
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn delete_role(&self, account: &str, name: &str) -> StoreResult<bool> {
        retrying!(self.conns, "delete_role", async {
            let mut tx = self.begin().await?;
            // The role row first: an attachment in progress holds it FOR
            // SHARE, so this waits for it and then deletes its row too.
            let deleted = sqlx::query("DELETE FROM roles WHERE account = $1 AND name_key = $2")
                .bind(account)
                .bind(name.to_lowercase())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM role_policy_attachments WHERE account = $1 AND role_key = $2")
                .bind(account)
                .bind(name.to_lowercase())
                .execute(&mut *tx)
                .await?;
            if deleted > 0 {
                bump_generation(&mut tx).await?;
            }
            commit(tx).await?;
            Ok(deleted > 0)
        })
    }

    async fn list_roles(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Role>> {
        let rows = retrying!(self.conns, "list_roles", async {
            Ok(sqlx::query(&format!(
                "SELECT {ROLE_COLUMNS} FROM roles r WHERE r.account = $1 AND r.name_key > $2
                 ORDER BY r.name_key LIMIT $3"
            ))
            .bind(account)
            .bind(after.map(str::to_lowercase).unwrap_or_default())
            .bind(sql_limit(limit))
            .fetch_all(self.conns.pool())
            .await?)
        })?;
        rows.iter().map(role_row).collect()
    }

    async fn insert_managed_policy(&self, policy: &ManagedPolicy) -> StoreResult<()> {
        let doc = policy_doc(policy)?;
        retrying!(self.conns, "insert_managed_policy", async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO managed_policies (arn, account, name_key, doc) VALUES ($1, $2, $3, $4)",
            )
            .bind(&policy.arn)
            .bind(&policy.account)
            .bind(policy.name.to_lowercase())
            .bind(&doc)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_as(e, || StoreError::AlreadyExists(policy.name.clone())))?;
            bump_generation(&mut tx).await?;
            commit(tx).await
        })
    }

    async fn edit_managed_policy(
        &self,
        arn: &str,
        edit: PolicyEdit,
    ) -> StoreResult<Result<ManagedPolicy, cognate_core::Error>> {
        retrying!(self.conns, "edit_managed_policy", async {
            let mut tx = self.begin().await?;
            let doc: Option<String> =
                sqlx::query_scalar("SELECT doc FROM managed_policies WHERE arn = $1 FOR UPDATE")
                    .bind(arn)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(doc) = doc else {
                return Err(StoreError::NotFound(arn.to_string()).into());
            };
            let mut policy: ManagedPolicy = from_doc(&doc)?;
            if let Err(refused) = edit(&mut policy) {
                return Ok(Err(refused));
            }
            sqlx::query("UPDATE managed_policies SET doc = $1 WHERE arn = $2")
                .bind(policy_doc(&policy)?)
                .bind(arn)
                .execute(&mut *tx)
                .await?;
            bump_generation(&mut tx).await?;
            commit(tx).await?;
            Ok(Ok(policy))
        })
    }

    async fn get_managed_policy(&self, arn: &str) -> StoreResult<Option<ManagedPolicy>> {
        let row = retrying!(self.conns, "get_managed_policy", async {
            Ok(sqlx::query(&format!(
                "SELECT {POLICY_COLUMNS} FROM managed_policies p WHERE p.arn = $1"
            ))
            .bind(arn)
            .fetch_optional(self.conns.pool())
            .await?)
        })?;
        row.as_ref().map(policy_row).transpose()
    }

    async fn delete_managed_policy(&self, arn: &str) -> StoreResult<PolicyDeletion> {
        retrying!(self.conns, "delete_managed_policy", async {
            let mut tx = self.begin().await?;
            // FOR UPDATE conflicts with the FOR SHARE of an attachment in
            // progress: whichever commits first, the other sees it.
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM managed_policies WHERE arn = $1 FOR UPDATE")
                    .bind(arn)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Ok(PolicyDeletion::NotFound);
            }
            let attachments: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM role_policy_attachments WHERE policy_arn = $1",
            )
            .bind(arn)
            .fetch_one(&mut *tx)
            .await?;
            if attachments > 0 {
                return Ok(PolicyDeletion::Attached);
            }
            sqlx::query("DELETE FROM managed_policies WHERE arn = $1")
                .bind(arn)
                .execute(&mut *tx)
                .await?;
            bump_generation(&mut tx).await?;
            commit(tx).await?;
            Ok(PolicyDeletion::Deleted)
        })
    }

    async fn list_managed_policies(
        &self,
        account: &str,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<ManagedPolicy>> {
        let rows = retrying!(self.conns, "list_managed_policies", async {
            Ok(sqlx::query(&format!(
                "SELECT {POLICY_COLUMNS} FROM managed_policies p
                 WHERE p.account = $1 AND p.name_key > $2 ORDER BY p.name_key LIMIT $3"
            ))
            .bind(account)
            .bind(after_name.map(str::to_lowercase).unwrap_or_default())
            .bind(sql_limit(limit))
            .fetch_all(self.conns.pool())
            .await?)
        })?;
        rows.iter().map(policy_row).collect()
    }

    async fn attach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<()> {
        let role_key = role_name.to_lowercase();
        retrying!(self.conns, "attach_role_policy", async {
            let mut tx = self.begin().await?;
            let role: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM roles WHERE account = $1 AND name_key = $2 FOR SHARE",
            )
            .bind(account)
            .bind(&role_key)
            .fetch_optional(&mut *tx)
            .await?;
            if role.is_none() {
                return Err(StoreError::NotFound(role_name.to_string()).into());
            }
            let policy: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM managed_policies WHERE arn = $1 FOR SHARE")
                    .bind(policy_arn)
                    .fetch_optional(&mut *tx)
                    .await?;
            if policy.is_none() {
                return Err(StoreError::NotFound(policy_arn.to_string()).into());
            }
            let attached = sqlx::query(
                "INSERT INTO role_policy_attachments (account, role_key, policy_arn)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(account)
            .bind(&role_key)
            .bind(policy_arn)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if attached > 0 {
                bump_generation(&mut tx).await?;
            }
            commit(tx).await
        })
    }

    async fn detach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<bool> {
        retrying!(self.conns, "detach_role_policy", async {
            let mut tx = self.begin().await?;
            let deleted = sqlx::query(
                "DELETE FROM role_policy_attachments
                 WHERE account = $1 AND role_key = $2 AND policy_arn = $3",
            )
            .bind(account)
            .bind(role_name.to_lowercase())
            .bind(policy_arn)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted > 0 {
                bump_generation(&mut tx).await?;
            }
            commit(tx).await?;
            Ok(deleted > 0)
        })
    }

    provider_methods!();

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let doc = to_doc(key)?;
        retrying!(self.conns, "insert_signing_key", async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, created_at, retired_at, doc) VALUES ($1, $2, $3, $4)",
            )
            .bind(&key.kid)
            .bind(key.created_at)
            .bind(key.retired_at)
            .bind(&doc)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_as(e, || StoreError::AlreadyExists(key.kid.clone())))?;
            commit(tx).await
        })
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = retrying!(self.conns, "list_signing_keys", async {
            Ok(
                sqlx::query("SELECT doc, retired_at FROM signing_keys ORDER BY created_at, kid")
                    .fetch_all(self.conns.pool())
                    .await?,
            )
        })?;
        rows.iter()
            .map(|row| {
                let mut key: SigningKeyRecord = doc_column(row)?;
                key.retired_at = row.try_get("retired_at").map_err(backend)?;
                Ok(key)
            })
            .collect()
    }

    async fn retire_signing_keys(&self, except_kid: &str, at: i64) -> StoreResult<()> {
        retrying!(self.conns, "retire_signing_keys", async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND kid <> $2",
            )
            .bind(at)
            .bind(except_kid)
            .execute(&mut *tx)
            .await?;
            commit(tx).await
        })
    }

    async fn delete_signing_keys_retired_before(&self, before: i64) -> StoreResult<u64> {
        retrying!(self.conns, "delete_signing_keys_retired_before", async {
            let mut tx = self.begin().await?;
            let deleted = sqlx::query(
                "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1",
            )
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            commit(tx).await?;
            Ok(deleted)
        })
    }

    async fn delete_idle_guests(&self, before: i64, limit: usize) -> StoreResult<u64> {
        retrying!(self.conns, "delete_idle_guests", async {
            let mut tx = self.begin().await?;
            // Lock the candidates (skipping rows a writer holds), then
            // re-check under the lock: a guest linked meanwhile has a login
            // or a newer updated_at and is kept.
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT i.id FROM identities i
                 WHERE NOT i.disabled AND i.merged_into IS NULL AND i.updated_at < $1
                   AND NOT EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = i.id COLLATE \"default\")
                 LIMIT $2 FOR UPDATE SKIP LOCKED",
            )
            .bind(before)
            .bind(sql_limit(limit))
            .fetch_all(&mut *tx)
            .await?;
            let deleted = sqlx::query(
                "DELETE FROM identities i WHERE i.id = ANY($1) AND i.updated_at < $2
                   AND NOT EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = i.id COLLATE \"default\")",
            )
            .bind(&ids)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            commit(tx).await?;
            Ok(deleted)
        })
    }

    async fn reset(&self) -> StoreResult<cognate_core::store::ResetCounts> {
        retrying!(self.conns, "reset", async {
            // As delete_pool: a row another transaction changes meanwhile
            // fails the attempt (40001), which runs again.
            let mut tx = self
                .conns
                .pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await?;
            let removed = cognate_core::store::ResetCounts {
                logins: delete_all(&mut tx, "logins").await?,
                merges: delete_all(&mut tx, "merges").await?,
                identities: delete_all(&mut tx, "identities").await?,
                pools: delete_all(&mut tx, "pools").await?,
                role_policy_attachments: delete_all(&mut tx, "role_policy_attachments").await?,
                roles: delete_all(&mut tx, "roles").await?,
                managed_policies: delete_all(&mut tx, "managed_policies").await?,
                oidc_providers: delete_all(&mut tx, "oidc_providers").await?,
                saml_providers: delete_all(&mut tx, "saml_providers").await?,
            };
            bump_generation(&mut tx).await?;
            commit(tx).await?;
            Ok(removed)
        })
    }

    async fn config_generation(&self) -> StoreResult<i64> {
        retrying!(self.conns, "config_generation", async {
            if let Some(reader) = self.pipelined() {
                match reader.generation().await {
                    // The database has no connection to spare: the pool's
                    // may serve.
                    Err(pipelined::ReadError::NoRoom) => {}
                    read => return Ok(read?),
                }
            }
            Ok(
                sqlx::query_scalar("SELECT value FROM config_generation WHERE id = 1")
                    .fetch_one(self.conns.pool())
                    .await?,
            )
        })
    }

    async fn list_all_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Pool>> {
        let rows = retrying!(self.conns, "list_all_pools", async {
            Ok(
                sqlx::query("SELECT doc FROM pools WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after.unwrap_or(""))
                    .bind(sql_limit(limit))
                    .fetch_all(self.conns.pool())
                    .await?,
            )
        })?;
        rows.iter().map(doc_column).collect()
    }

    async fn merges_of_pool(&self, pool_id: &str) -> StoreResult<Vec<MergeRecord>> {
        let rows = retrying!(self.conns, "merges_of_pool", async {
            Ok(sqlx::query(
                "SELECT pool_id, from_identity, to_identity, at, cause FROM merges
                 WHERE pool_id = $1 ORDER BY seq",
            )
            .bind(pool_id)
            .fetch_all(self.conns.pool())
            .await?)
        })?;
        rows.iter().map(merge_row).collect()
    }

    async fn import_identities(&self, identities: &[Identity]) -> StoreResult<()> {
        retrying!(self.conns, "import_identities", async {
            let mut tx = self.begin().await?;
            for identity in identities {
                sqlx::query(
                    "INSERT INTO identities
                         (id, pool_id, created_at, updated_at, disabled, merged_into, version, has_logins)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&identity.id)
                .bind(&identity.pool_id)
                .bind(identity.created_at)
                .bind(identity.updated_at)
                .bind(identity.disabled)
                .bind(&identity.merged_into)
                .bind(identity.version)
                .bind(!identity.logins.is_empty())
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(identity.id.clone())))?;
                for login in &identity.logins {
                    sqlx::query(
                        "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&identity.pool_id)
                    .bind(&login.provider)
                    .bind(&login.subject)
                    .bind(&identity.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        unique_as(e, || StoreError::AlreadyExists("an imported login exists".into()))
                    })?;
                }
            }
            commit(tx).await
        })
    }

    async fn import_merges(&self, merges: &[MergeRecord]) -> StoreResult<()> {
        retrying!(self.conns, "import_merges", async {
            let mut tx = self.begin().await?;
            for merge in merges {
                sqlx::query(
                    "INSERT INTO merges (pool_id, from_identity, to_identity, at, cause)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&merge.pool_id)
                .bind(&merge.from_identity)
                .bind(&merge.to_identity)
                .bind(merge.at)
                .bind(merge.cause.as_str())
                .execute(&mut *tx)
                .await?;
            }
            commit(tx).await
        })
    }

    async fn get_setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        retrying!(self.conns, "get_setting", async {
            Ok(
                sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.conns.pool())
                    .await?,
            )
        })
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        retrying!(self.conns, "init_setting", async {
            let mut tx = self.begin().await?;
            // If another node is inserting the same name, this waits for it
            // and then does nothing; the next statement sees its value.
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
            let stored: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
            commit(tx).await?;
            Ok(stored)
        })
    }

    async fn append_audit(&self, events: &[AuditRecord]) -> StoreResult<()> {
        // One statement for the batch. A retry after a commit whose outcome
        // was lost skips the rows that landed (ON CONFLICT on the key).
        let column = |f: fn(&AuditRecord) -> Option<&str>| -> Vec<Option<&str>> {
            events.iter().map(f).collect()
        };
        let at: Vec<i64> = events.iter().map(|e| e.at).collect();
        let id = column(|e| Some(&e.id));
        let kind = column(|e| Some(&e.kind));
        let pool_id = column(|e| e.pool_id.as_deref());
        let identity_id = column(|e| e.identity_id.as_deref());
        let other_identity_id = column(|e| e.other_identity_id.as_deref());
        let caller = column(|e| Some(&e.caller));
        let detail = column(|e| Some(&e.detail));
        // Committed on its own (no BEGIN and COMMIT of its own: one round
        // trip); being idempotent, it is retried even after a lost answer.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "INSERT INTO audit_events ({AUDIT_COLUMNS})
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[],
                                      $5::text[], $6::text[], $7::text[], $8::text[])
                 ON CONFLICT (at, id) DO NOTHING"
            )
        });
        retrying!(self.conns, "append_audit", async {
            sqlx::query(&SQL)
                .bind(&at)
                .bind(&id)
                .bind(&kind)
                .bind(&pool_id)
                .bind(&identity_id)
                .bind(&other_identity_id)
                .bind(&caller)
                .bind(&detail)
                .execute(self.conns.pool())
                .await?;
            Ok(())
        })
    }

    async fn list_audit(&self, query: &AuditQuery, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        let (sql, bound) = audit_list_sql(query, |n| format!("${n}"));
        let rows = retrying!(self.conns, "list_audit", async {
            let mut statement = sqlx::query(&sql);
            for param in &bound {
                statement = match param {
                    AuditParam::Int(n) => statement.bind(*n),
                    AuditParam::Text(t) => statement.bind(*t),
                };
            }
            let mut tx = self.begin().await?;
            let rows = statement.bind(sql_limit(limit)).fetch_all(&mut *tx).await?;
            commit(tx).await?;
            Ok(rows)
        })?;
        rows.iter()
            .map(|row| -> Result<AuditRecord, sqlx::Error> {
                Ok(AuditRecord {
                    at: row.try_get(0)?,
                    id: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    pool_id: row.try_get(3)?,
                    identity_id: row.try_get(4)?,
                    other_identity_id: row.try_get(5)?,
                    caller: row.try_get(6)?,
                    detail: row.try_get(7)?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn purge_audit(&self, before: i64, limit: usize) -> StoreResult<u64> {
        retrying!(self.conns, "purge_audit", async {
            let mut tx = self.begin().await?;
            // The oldest first, through the key; rows another purge (on
            // another node) holds are skipped, not waited for.
            let deleted = sqlx::query(
                "DELETE FROM audit_events WHERE (at, id) IN (
                     SELECT at, id FROM audit_events WHERE at < $1
                     ORDER BY at, id LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .bind(before)
            .bind(sql_limit(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            commit(tx).await?;
            Ok(deleted)
        })
    }
}

async fn insert_identity(
    tx: &mut Transaction<'static, Postgres>,
    identity: &NewIdentity,
) -> Attempt<()> {
    sqlx::query(
        "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
         VALUES ($1, $2, $3, $3, FALSE, NULL, 1)",
    )
    .bind(&identity.id)
    .bind(&identity.pool_id)
    .bind(identity.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        unique_as(e, || {
            StoreError::Conflict(format!("identity {} exists", identity.id))
        })
    })?;
    Ok(())
}

/// Every identity a change names, sorted and without repeats: the order
/// in which their rows are locked.
fn identities_named(changes: &IdentityChanges) -> Vec<&str> {
    let mut ids: Vec<&str> = changes
        .expect_versions
        .iter()
        .map(|(id, _)| id.as_str())
        .chain(
            changes
                .merges
                .iter()
                .flat_map(|m| [m.from_identity.as_str(), m.to_identity.as_str()]),
        )
        .chain(changes.unlinks.iter().map(|(id, _)| id.as_str()))
        .chain(changes.links.iter().map(|(id, _)| id.as_str()))
        .chain(changes.touch.iter().map(String::as_str))
        .chain(changes.disable.iter().map(String::as_str))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

async fn apply_changes(
    tx: &mut Transaction<'static, Postgres>,
    changes: &IdentityChanges,
) -> Attempt<()> {
    if let Some(new) = &changes.create {
        insert_identity(tx, new).await?;
    }
    // Lock every identity named, in id order (so that two changes never
    // wait for each other in a cycle), before deciding anything: versions,
    // logins and the disabled flag of these identities cannot change until
    // this transaction ends. Missing identities are simply not locked; the
    // checks below report them.
    let named = identities_named(changes);
    let locked: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, version FROM identities WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&named)
    .fetch_all(&mut **tx)
    .await?;
    let versions: HashMap<String, i64> = locked.into_iter().collect();
    for (id, expected) in &changes.expect_versions {
        if versions.get(id) != Some(expected) {
            return Err(StoreError::Conflict(format!("identity {id} changed")).into());
        }
    }
    let mut touched: Vec<&str> = changes.touch.iter().map(String::as_str).collect();
    for merge in &changes.merges {
        sqlx::query("UPDATE logins SET identity_id = $1 WHERE identity_id = $2")
            .bind(&merge.to_identity)
            .bind(&merge.from_identity)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE identities SET disabled = TRUE, merged_into = $1, version = version + 1,
             updated_at = $2, has_logins = FALSE WHERE id = $3",
        )
        .bind(&merge.to_identity)
        .bind(changes.now)
        .bind(&merge.from_identity)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO merges (pool_id, from_identity, to_identity, at, cause)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&merge.pool_id)
        .bind(&merge.from_identity)
        .bind(&merge.to_identity)
        .bind(merge.at)
        .bind(merge.cause.as_str())
        .execute(&mut **tx)
        .await?;
        touched.push(&merge.to_identity);
    }
    for (id, login) in &changes.unlinks {
        let removed = sqlx::query(
            "DELETE FROM logins
             WHERE pool_id = $1 AND provider = $2 AND subject = $3 AND identity_id = $4",
        )
        .bind(&changes.pool_id)
        .bind(&login.provider)
        .bind(&login.subject)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if removed == 0 {
            return Err(StoreError::Conflict(format!("login not on identity {id}")).into());
        }
        touched.push(id);
    }
    for (id, login) in &changes.links {
        sqlx::query(
            "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(&changes.pool_id)
        .bind(&login.provider)
        .bind(&login.subject)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(|e| unique_as(e, || StoreError::Conflict("login already linked".into())))?;
        touched.push(id);
    }
    touched.sort_unstable();
    touched.dedup();
    for id in touched {
        let updated = sqlx::query(
            "UPDATE identities SET version = version + 1, updated_at = $1,
             has_logins = EXISTS (SELECT 1 FROM logins WHERE identity_id = $2)
             WHERE id = $2 AND NOT disabled",
        )
        .bind(changes.now)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict(format!("identity {id} is gone or disabled")).into());
        }
    }
    for id in &changes.disable {
        sqlx::query(
            "UPDATE identities SET disabled = TRUE, version = version + 1, updated_at = $1,
             has_logins = EXISTS (SELECT 1 FROM logins WHERE identity_id = $2) WHERE id = $2",
        )
        .bind(changes.now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
