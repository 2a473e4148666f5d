//! The embedded default: SQLite in WAL mode with `synchronous=FULL`, so an
//! acknowledged write survives a power cut. One writer connection
//! serialises writes (no SQLITE_BUSY between our own writers); readers use
//! their own pool.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use cognate_core::model::{
    Identity, Login, ManagedPolicy, MergeCause, MergeRecord, OidcProvider, Pool, Role,
    SigningKeyRecord,
};
use cognate_core::store::{
    IdentityChanges, NewIdentity, PolicyDeletion, Store, StoreError, StoreResult,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::StoreOptions;
use crate::docs::{from_doc, to_doc};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    guests: mpsc::Sender<GuestBatch>,
}

/// Guests waiting for the group commit, and who to tell.
type GuestBatch = (Vec<NewIdentity>, oneshot::Sender<StoreResult<()>>);

/// Most guest requests one group commit takes.
const MAX_GROUP: usize = 512;

/// Group commit of guest identities: every request that arrives while a
/// commit is being made to disk goes into the next one, so concurrent
/// GetId calls share one fsync while each is still acknowledged only once
/// it is durable.
async fn commit_guests(writer: SqlitePool, mut queue: mpsc::Receiver<GuestBatch>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(more) => group.push(more),
                Err(_) => break,
            }
        }
        let all: Vec<&NewIdentity> = group.iter().flat_map(|(ids, _)| ids).collect();
        match insert_all(&writer, all.into_iter()).await {
            Ok(()) => {
                for (_, done) in group {
                    let _ = done.send(Ok(()));
                }
            }
            // One bad request must not fail the others: retry alone.
            Err(_) => {
                for (ids, done) in group {
                    let _ = done.send(insert_all(&writer, ids.iter()).await);
                }
            }
        }
    }
}

async fn insert_all<'a>(
    writer: &SqlitePool,
    identities: impl Iterator<Item = &'a NewIdentity>,
) -> StoreResult<()> {
    let mut tx = writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    for identity in identities {
        insert_identity(&mut tx, identity).await?;
    }
    tx.commit().await.map_err(backend)
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A unique violation as the store error the caller names; any other
/// failure as a backend error.
fn unique_as(e: sqlx::Error, on_unique: impl FnOnce() -> StoreError) -> StoreError {
    if is_unique_violation(&e) {
        on_unique()
    } else {
        backend(e)
    }
}

/// Raises the configuration generation inside the transaction of a pool,
/// role, policy or OIDC provider change: committed together or not at all.
async fn bump_generation(tx: &mut Transaction<'static, Sqlite>) -> StoreResult<()> {
    sqlx::query("UPDATE config_generation SET value = value + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

impl SqliteStore {
    pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(backend)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the SQLite database: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(backend)?;
        let (guests, queue) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(commit_guests(writer.clone(), queue));
        Ok(SqliteStore {
            writer,
            reader,
            guests,
        })
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)
    }

    /// ARNs of the policies attached to a role, ordered.
    async fn attachments_of(&self, account: &str, role_key: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT policy_arn FROM role_policy_attachments WHERE account = ? AND role_key = ?
             ORDER BY policy_arn",
        )
        .bind(account)
        .bind(role_key)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)
    }

    async fn role_with_attachments(&self, row: &SqliteRow) -> StoreResult<Role> {
        let mut role: Role = doc_column(row)?;
        role.attached_policies = self
            .attachments_of(&role.account, &role.name.to_lowercase())
            .await?;
        Ok(role)
    }

    async fn identity_logins(&self, id: &str) -> StoreResult<Vec<Login>> {
        let rows = sqlx::query(
            "SELECT provider, subject FROM logins WHERE identity_id = ? ORDER BY provider, subject",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(login_row).collect()
    }
}

fn login_row(row: &SqliteRow) -> StoreResult<Login> {
    Ok(Login {
        provider: row.try_get("provider").map_err(backend)?,
        subject: row.try_get("subject").map_err(backend)?,
    })
}

fn identity_row(row: &SqliteRow, logins: Vec<Login>) -> StoreResult<Identity> {
    Ok(Identity {
        id: row.try_get("id").map_err(backend)?,
        pool_id: row.try_get("pool_id").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
        disabled: row.try_get("disabled").map_err(backend)?,
        merged_into: row.try_get("merged_into").map_err(backend)?,
        version: row.try_get("version").map_err(backend)?,
        logins,
    })
}

fn merge_row(row: &SqliteRow) -> StoreResult<MergeRecord> {
    let cause: String = row.try_get("cause").map_err(backend)?;
    Ok(MergeRecord {
        pool_id: row.try_get("pool_id").map_err(backend)?,
        from_identity: row.try_get("from_identity").map_err(backend)?,
        to_identity: row.try_get("to_identity").map_err(backend)?,
        at: row.try_get("at").map_err(backend)?,
        cause: MergeCause::parse(&cause)
            .ok_or_else(|| StoreError::Backend(format!("unknown merge cause {cause}")))?,
    })
}

fn doc_column<T: serde::de::DeserializeOwned>(row: &SqliteRow) -> StoreResult<T> {
    let doc: String = row.try_get("doc").map_err(backend)?;
    from_doc(&doc)
}

/// A role as stored: its attachments live in their own table.
fn role_doc(role: &Role) -> StoreResult<String> {
    let mut stored = role.clone();
    stored.attached_policies.clear();
    to_doc(&stored)
}

/// A managed policy row (`doc`, `attachments`).
fn policy_row(row: &SqliteRow) -> StoreResult<ManagedPolicy> {
    let mut policy: ManagedPolicy = doc_column(row)?;
    policy.attachment_count = row.try_get("attachments").map_err(backend)?;
    Ok(policy)
}

fn policy_doc(policy: &ManagedPolicy) -> StoreResult<String> {
    let mut stored = policy.clone();
    stored.attachment_count = 0;
    to_doc(&stored)
}

const POLICY_COLUMNS: &str = "doc, (SELECT COUNT(*) FROM role_policy_attachments a WHERE a.policy_arn = p.arn) AS attachments";

#[async_trait]
impl Store for SqliteStore {
    async fn insert_pool(&self, pool: &Pool, max_per_region: usize) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pools WHERE account = ? AND region = ?")
                .bind(&pool.account)
                .bind(&pool.region)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        if count as usize >= max_per_region {
            return Err(StoreError::LimitExceeded("too many identity pools".into()));
        }
        sqlx::query(
            "INSERT INTO pools (id, account, region, developer_provider_name, version, doc) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&pool.id)
        .bind(&pool.account)
        .bind(&pool.region)
        .bind(&pool.developer_provider_name)
        .bind(pool.version)
        .bind(to_doc(pool)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as(e, || StoreError::AlreadyExists("the developer provider name is in use".into())))?;
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<Pool>> {
        let row = sqlx::query("SELECT doc FROM pools WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(doc_column).transpose()
    }

    async fn update_pool(&self, pool: &Pool, expected_version: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT version FROM pools WHERE id = ?")
            .bind(&pool.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        match current {
            None => return Err(StoreError::NotFound(pool.id.clone())),
            Some(v) if v != expected_version => {
                return Err(StoreError::Conflict(format!("pool {} changed", pool.id)));
            }
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE pools SET developer_provider_name = ?, version = ?, doc = ? WHERE id = ?",
        )
        .bind(&pool.developer_provider_name)
        .bind(pool.version)
        .bind(to_doc(pool)?)
        .bind(&pool.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            unique_as(e, || {
                StoreError::AlreadyExists("the developer provider name is in use".into())
            })
        })?;
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM pools WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        for table in ["logins", "merges", "identities"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = ?"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        if deleted > 0 {
            bump_generation(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn list_pools(
        &self,
        account: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Pool>> {
        let rows = sqlx::query(
            "SELECT doc FROM pools WHERE account = ? AND region = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(account)
        .bind(region)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(doc_column).collect()
    }

    async fn pool_by_developer_provider(
        &self,
        account: &str,
        region: &str,
        developer_provider_name: &str,
    ) -> StoreResult<Option<String>> {
        sqlx::query_scalar(
            "SELECT id FROM pools WHERE account = ? AND region = ? AND developer_provider_name = ?",
        )
        .bind(account)
        .bind(region)
        .bind(developer_provider_name)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)
    }

    async fn get_identity(&self, id: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(
            "SELECT id, pool_id, created_at, updated_at, disabled, merged_into, version FROM identities WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let logins = self.identity_logins(id).await?;
                identity_row(&row, logins).map(Some)
            }
        }
    }

    async fn find_login_owners(
        &self,
        pool_id: &str,
        logins: &[Login],
    ) -> StoreResult<Vec<(Login, String)>> {
        let mut owners = Vec::new();
        for login in logins {
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT identity_id FROM logins WHERE pool_id = ? AND provider = ? AND subject = ?",
            )
            .bind(pool_id)
            .bind(&login.provider)
            .bind(&login.subject)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
            if let Some(owner) = owner {
                owners.push((login.clone(), owner));
            }
        }
        Ok(owners)
    }

    async fn apply_identity_changes(&self, changes: &IdentityChanges) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        apply_changes(&mut tx, changes).await?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_guests(&self, identities: &[NewIdentity]) -> StoreResult<()> {
        let (done, acknowledged) = oneshot::channel();
        let gone = || StoreError::Backend("the guest writer has stopped".into());
        self.guests
            .send((identities.to_vec(), done))
            .await
            .map_err(|_| gone())?;
        acknowledged.await.map_err(|_| gone())?
    }

    async fn list_identities(
        &self,
        pool_id: &str,
        hide_disabled: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query(
            "SELECT id, pool_id, created_at, updated_at, disabled, merged_into, version FROM identities
             WHERE pool_id = ? AND id > ? AND (? = 0 OR disabled = 0) ORDER BY id LIMIT ?",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(hide_disabled)
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        let mut identities = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id").map_err(backend)?;
            let logins = self.identity_logins(&id).await?;
            identities.push(identity_row(row, logins)?);
        }
        Ok(identities)
    }

    async fn delete_identity(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM logins WHERE identity_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let deleted = sqlx::query("DELETE FROM identities WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn merges_of(&self, identity_id: &str) -> StoreResult<Vec<MergeRecord>> {
        let rows = sqlx::query(
            "SELECT pool_id, from_identity, to_identity, at, cause FROM merges
             WHERE from_identity = ? OR to_identity = ? ORDER BY seq",
        )
        .bind(identity_id)
        .bind(identity_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(merge_row).collect()
    }

    async fn subjects_of(
        &self,
        identity_id: &str,
        provider: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT subject FROM logins WHERE identity_id = ? AND provider = ? AND subject > ?
             ORDER BY subject LIMIT ?",
        )
        .bind(identity_id)
        .bind(provider)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO roles (account, name_key, name, doc) VALUES (?, ?, ?, ?)")
            .bind(&role.account)
            .bind(role.name.to_lowercase())
            .bind(&role.name)
            .bind(role_doc(role)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_as(e, || StoreError::AlreadyExists(role.name.clone())))?;
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_role(&self, account: &str, name: &str) -> StoreResult<Option<Role>> {
        let row = sqlx::query("SELECT doc FROM roles WHERE account = ? AND name_key = ?")
            .bind(account)
            .bind(name.to_lowercase())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        match row {
            Some(row) => self.role_with_attachments(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn update_role(&self, role: &Role) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query("UPDATE roles SET doc = ? WHERE account = ? AND name_key = ?")
            .bind(role_doc(role)?)
            .bind(&role.account)
            .bind(role.name.to_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(role.name.clone()));
        }
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_role(&self, account: &str, name: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM roles WHERE account = ? AND name_key = ?")
            .bind(account)
            .bind(name.to_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        sqlx::query("DELETE FROM role_policy_attachments WHERE account = ? AND role_key = ?")
            .bind(account)
            .bind(name.to_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if deleted > 0 {
            bump_generation(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn list_roles(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(
            "SELECT doc FROM roles WHERE account = ? AND name_key > ? ORDER BY name_key LIMIT ?",
        )
        .bind(account)
        .bind(after.map(str::to_lowercase).unwrap_or_default())
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        let mut roles = Vec::with_capacity(rows.len());
        for row in &rows {
            roles.push(self.role_with_attachments(row).await?);
        }
        Ok(roles)
    }

    async fn insert_managed_policy(&self, policy: &ManagedPolicy) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO managed_policies (arn, account, name_key, doc) VALUES (?, ?, ?, ?)",
        )
        .bind(&policy.arn)
        .bind(&policy.account)
        .bind(policy.name.to_lowercase())
        .bind(policy_doc(policy)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as(e, || StoreError::AlreadyExists(policy.name.clone())))?;
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_managed_policy(&self, arn: &str) -> StoreResult<Option<ManagedPolicy>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM managed_policies p WHERE arn = ?"
        ))
        .bind(arn)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        row.as_ref().map(policy_row).transpose()
    }

    async fn delete_managed_policy(&self, arn: &str) -> StoreResult<PolicyDeletion> {
        // The single writer serialises this with attachments.
        let mut tx = self.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM managed_policies WHERE arn = ?")
                .bind(arn)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if exists.is_none() {
            return Ok(PolicyDeletion::NotFound);
        }
        let attachments: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM role_policy_attachments WHERE policy_arn = ?")
                .bind(arn)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        if attachments > 0 {
            return Ok(PolicyDeletion::Attached);
        }
        sqlx::query("DELETE FROM managed_policies WHERE arn = ?")
            .bind(arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)?;
        Ok(PolicyDeletion::Deleted)
    }

    async fn list_managed_policies(
        &self,
        account: &str,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<ManagedPolicy>> {
        let rows = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM managed_policies p
             WHERE account = ? AND name_key > ? ORDER BY name_key LIMIT ?"
        ))
        .bind(account)
        .bind(after_name.map(str::to_lowercase).unwrap_or_default())
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(policy_row).collect()
    }

    async fn attach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<()> {
        let role_key = role_name.to_lowercase();
        let mut tx = self.begin().await?;
        let role: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM roles WHERE account = ? AND name_key = ?")
                .bind(account)
                .bind(&role_key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if role.is_none() {
            return Err(StoreError::NotFound(role_name.to_string()));
        }
        let policy: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM managed_policies WHERE arn = ?")
                .bind(policy_arn)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if policy.is_none() {
            return Err(StoreError::NotFound(policy_arn.to_string()));
        }
        let attached = sqlx::query(
            "INSERT INTO role_policy_attachments (account, role_key, policy_arn) VALUES (?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(&role_key)
        .bind(policy_arn)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if attached > 0 {
            bump_generation(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn detach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM role_policy_attachments WHERE account = ? AND role_key = ? AND policy_arn = ?",
        )
        .bind(account)
        .bind(role_name.to_lowercase())
        .bind(policy_arn)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if deleted > 0 {
            bump_generation(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn insert_oidc_provider(&self, provider: &OidcProvider) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO oidc_providers (arn, account, doc) VALUES (?, ?, ?)")
            .bind(&provider.arn)
            .bind(&provider.account)
            .bind(to_doc(provider)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_as(e, || StoreError::AlreadyExists(provider.arn.clone())))?;
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_oidc_provider(&self, arn: &str) -> StoreResult<Option<OidcProvider>> {
        let row = sqlx::query("SELECT doc FROM oidc_providers WHERE arn = ?")
            .bind(arn)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(doc_column).transpose()
    }

    async fn update_oidc_provider(&self, provider: &OidcProvider) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query("UPDATE oidc_providers SET doc = ? WHERE arn = ?")
            .bind(to_doc(provider)?)
            .bind(&provider.arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(provider.arn.clone()));
        }
        bump_generation(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_oidc_provider(&self, arn: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM oidc_providers WHERE arn = ?")
            .bind(arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted > 0 {
            bump_generation(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn list_oidc_providers(&self, account: &str) -> StoreResult<Vec<OidcProvider>> {
        let rows = sqlx::query("SELECT doc FROM oidc_providers WHERE account = ? ORDER BY arn")
            .bind(account)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(doc_column).collect()
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, created_at, retired_at, doc) VALUES (?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(key.created_at)
        .bind(key.retired_at)
        .bind(to_doc(key)?)
        .execute(&self.writer)
        .await
        .map_err(|e| unique_as(e, || StoreError::AlreadyExists(key.kid.clone())))?;
        Ok(())
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query("SELECT doc, retired_at FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let mut key: SigningKeyRecord = doc_column(row)?;
                key.retired_at = row.try_get("retired_at").map_err(backend)?;
                Ok(key)
            })
            .collect()
    }

    async fn retire_signing_keys(&self, except_kid: &str, at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL AND kid <> ?")
            .bind(at)
            .bind(except_kid)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_signing_keys_retired_before(&self, before: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?")
                .bind(before)
                .execute(&self.writer)
                .await
                .map_err(backend)?
                .rows_affected(),
        )
    }

    async fn delete_idle_guests(&self, before: i64, limit: usize) -> StoreResult<u64> {
        // One statement in the single writer: a guest linked meanwhile has
        // a login or a newer updated_at, and is kept.
        let deleted = sqlx::query(
            "DELETE FROM identities WHERE id IN (
                 SELECT i.id FROM identities i
                 WHERE i.disabled = 0 AND i.merged_into IS NULL AND i.updated_at < ?
                   AND NOT EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = i.id)
                 LIMIT ?)",
        )
        .bind(before)
        .bind(limit as i64)
        .execute(&self.writer)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(deleted)
    }

    async fn config_generation(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT value FROM config_generation WHERE id = 1")
            .fetch_one(&self.reader)
            .await
            .map_err(backend)
    }

    async fn list_all_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Pool>> {
        let rows = sqlx::query("SELECT doc FROM pools WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(doc_column).collect()
    }

    async fn merges_of_pool(&self, pool_id: &str) -> StoreResult<Vec<MergeRecord>> {
        let rows = sqlx::query(
            "SELECT pool_id, from_identity, to_identity, at, cause FROM merges
             WHERE pool_id = ? ORDER BY seq",
        )
        .bind(pool_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(merge_row).collect()
    }

    async fn import_identities(&self, identities: &[Identity]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let exists = |e: sqlx::Error| {
            unique_as(e, || {
                StoreError::AlreadyExists("an imported identity or login exists".into())
            })
        };
        for identity in identities {
            sqlx::query(
                "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&identity.id)
            .bind(&identity.pool_id)
            .bind(identity.created_at)
            .bind(identity.updated_at)
            .bind(identity.disabled)
            .bind(&identity.merged_into)
            .bind(identity.version)
            .execute(&mut *tx)
            .await
            .map_err(exists)?;
            for login in &identity.logins {
                sqlx::query(
                    "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES (?, ?, ?, ?)",
                )
                .bind(&identity.pool_id)
                .bind(&login.provider)
                .bind(&login.subject)
                .bind(&identity.id)
                .execute(&mut *tx)
                .await
                .map_err(exists)?;
            }
        }
        tx.commit().await.map_err(backend)
    }

    async fn import_merges(&self, merges: &[MergeRecord]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for merge in merges {
            sqlx::query(
                "INSERT INTO merges (pool_id, from_identity, to_identity, at, cause) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&merge.pool_id)
            .bind(&merge.from_identity)
            .bind(&merge.to_identity)
            .bind(merge.at)
            .bind(merge.cause.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get_setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(stored)
    }
}

async fn insert_identity(
    tx: &mut Transaction<'static, Sqlite>,
    identity: &NewIdentity,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
         VALUES (?, ?, ?, ?, 0, NULL, 1)",
    )
    .bind(&identity.id)
    .bind(&identity.pool_id)
    .bind(identity.created_at)
    .bind(identity.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_as(e, || StoreError::Conflict(format!("identity {} exists", identity.id))))?;
    Ok(())
}

async fn apply_changes(
    tx: &mut Transaction<'static, Sqlite>,
    changes: &IdentityChanges,
) -> StoreResult<()> {
    if let Some(new) = &changes.create {
        insert_identity(tx, new).await?;
    }
    for (id, expected) in &changes.expect_versions {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM identities WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
        if version != Some(*expected) {
            return Err(StoreError::Conflict(format!("identity {id} changed")));
        }
    }
    let mut touched: Vec<&str> = changes.touch.iter().map(String::as_str).collect();
    for merge in &changes.merges {
        sqlx::query("UPDATE logins SET identity_id = ? WHERE identity_id = ?")
            .bind(&merge.to_identity)
            .bind(&merge.from_identity)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "UPDATE identities SET disabled = 1, merged_into = ?, version = version + 1, updated_at = ?
             WHERE id = ?",
        )
        .bind(&merge.to_identity)
        .bind(changes.now)
        .bind(&merge.from_identity)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO merges (pool_id, from_identity, to_identity, at, cause) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&merge.pool_id)
        .bind(&merge.from_identity)
        .bind(&merge.to_identity)
        .bind(merge.at)
        .bind(merge.cause.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        touched.push(&merge.to_identity);
    }
    for (id, login) in &changes.unlinks {
        let removed = sqlx::query(
            "DELETE FROM logins WHERE pool_id = ? AND provider = ? AND subject = ? AND identity_id = ?",
        )
        .bind(&changes.pool_id)
        .bind(&login.provider)
        .bind(&login.subject)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if removed == 0 {
            return Err(StoreError::Conflict(format!("login not on identity {id}")));
        }
        touched.push(id);
    }
    for (id, login) in &changes.links {
        sqlx::query(
            "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES (?, ?, ?, ?)",
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
            "UPDATE identities SET version = version + 1, updated_at = ? WHERE id = ? AND disabled = 0",
        )
        .bind(changes.now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict(format!(
                "identity {id} is gone or disabled"
            )));
        }
    }
    for id in &changes.disable {
        sqlx::query(
            "UPDATE identities SET disabled = 1, version = version + 1, updated_at = ? WHERE id = ?",
        )
        .bind(changes.now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}
