//! The embedded default: SQLite in WAL mode with `synchronous=FULL`, so an
//! acknowledged write survives a power cut. One writer thread serialises
//! and group-commits writes (no SQLITE_BUSY between our own writers);
//! reads run on the caller's thread (`engine`).

mod engine;

use std::path::PathBuf;
use std::sync::LazyLock;

use async_trait::async_trait;
use cognate_core::audit::{AuditQuery, AuditRecord};
use cognate_core::model::{
    Identity, Login, ManagedPolicy, MergeCause, MergeRecord, OidcProvider, Pool, Role,
    SamlProvider, SigningKeyRecord,
};
use cognate_core::store::{
    IdentityChanges, IdentityState, NewIdentity, PolicyDeletion, PolicyEdit, Store, StoreError,
    StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use self::engine::{Engine, SqlResult, unique_as};
use crate::StoreOptions;
use crate::records::{
    AUDIT_COLUMNS, AuditParam, OIDC_PROVIDERS, SAML_PROVIDERS, audit_list_sql, from_doc,
    policy_doc, provider_methods, role_doc, to_doc,
};

pub struct SqliteStore {
    engine: Engine,
}

/// The file a `sqlite:` URL names (`sqlite://path`, `sqlite:path`; query
/// parameters such as `?mode=rwc` are accepted and ignored: the file is
/// always created if missing).
fn database_path(url: &str) -> StoreResult<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Backend(format!("not a sqlite: URL: {url}")))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Backend(
            "the SQLite store needs a file (sqlite://PATH); in-memory databases are not supported"
                .into(),
        ));
    }
    Ok(PathBuf::from(path))
}

const IDENTITY_COLUMNS: &str =
    "i.id, i.pool_id, i.created_at, i.updated_at, i.disabled, i.merged_into, i.version";

/// Identity rows joined with their logins (columns from `at`:
/// `IDENTITY_COLUMNS`, then provider and subject, NULL without logins),
/// ordered by identity, folded into identities. A row whose identity
/// columns are NULL (an outer join that found none) adds nothing.
fn fold_identities(rows: &mut rusqlite::Rows<'_>, at: usize) -> SqlResult<Vec<Identity>> {
    fold_identities_with(rows, at, |_| Ok(()))
}

/// `fold_identities`, also handing each row to `each_row` (for columns
/// before `at`).
fn fold_identities_with(
    rows: &mut rusqlite::Rows<'_>,
    at: usize,
    mut each_row: impl FnMut(&Row<'_>) -> SqlResult<()>,
) -> SqlResult<Vec<Identity>> {
    let mut out: Vec<Identity> = Vec::new();
    while let Some(row) = rows.next()? {
        each_row(row)?;
        let Some(id) = row.get::<_, Option<String>>(at)? else {
            continue;
        };
        if out.last().is_none_or(|last| last.id != id) {
            out.push(Identity {
                id,
                pool_id: row.get(at + 1)?,
                created_at: row.get(at + 2)?,
                updated_at: row.get(at + 3)?,
                disabled: row.get(at + 4)?,
                merged_into: row.get(at + 5)?,
                version: row.get(at + 6)?,
                logins: Vec::new(),
            });
        }
        let provider: Option<String> = row.get(at + 7)?;
        let subject: Option<String> = row.get(at + 8)?;
        if let (Some(provider), Some(subject), Some(identity)) = (provider, subject, out.last_mut())
        {
            identity.logins.push(Login { provider, subject });
        }
    }
    Ok(out)
}

fn merge_row(row: &Row<'_>) -> SqlResult<MergeRecord> {
    let cause: String = row.get(4)?;
    Ok(MergeRecord {
        pool_id: row.get(0)?,
        from_identity: row.get(1)?,
        to_identity: row.get(2)?,
        at: row.get(3)?,
        cause: MergeCause::parse(&cause)
            .ok_or_else(|| StoreError::Backend(format!("unknown merge cause {cause}")))?,
    })
}

const MERGE_COLUMNS: &str = "pool_id, from_identity, to_identity, at, cause";

/// Rows of one JSON document column, decoded.
fn docs<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> SqlResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let doc: String = row.get(0)?;
        out.push(from_doc(&doc)?);
    }
    Ok(out)
}

fn optional_doc<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> SqlResult<Option<T>> {
    let doc: Option<String> = conn
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))
        .optional()?;
    Ok(doc.map(|doc| from_doc(&doc)).transpose()?)
}

/// ARNs of the policies attached to a role, ordered.
fn attachments_of(conn: &Connection, account: &str, role_key: &str) -> SqlResult<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT policy_arn FROM role_policy_attachments WHERE account = ?1 AND role_key = ?2
         ORDER BY policy_arn",
    )?;
    let arns = statement
        .query_map(params![account, role_key], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(arns)
}

fn with_attachments(conn: &Connection, mut role: Role) -> SqlResult<Role> {
    role.attached_policies = attachments_of(conn, &role.account, &role.name.to_lowercase())?;
    Ok(role)
}

const POLICY_COLUMNS: &str = "doc, (SELECT COUNT(*) FROM role_policy_attachments a WHERE a.policy_arn = p.arn) AS attachments";

fn policies(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> SqlResult<Vec<ManagedPolicy>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let doc: String = row.get(0)?;
        let mut policy: ManagedPolicy = from_doc(&doc)?;
        policy.attachment_count = row.get(1)?;
        out.push(policy);
    }
    Ok(out)
}

/// Raises the configuration generation inside the transaction of a pool,
/// role, policy or OIDC provider change: committed together or not at all.
fn bump_generation(conn: &Connection) -> SqlResult<()> {
    conn.prepare_cached("UPDATE config_generation SET value = value + 1 WHERE id = 1")?
        .execute([])?;
    Ok(())
}

fn pool_name_taken() -> StoreError {
    StoreError::AlreadyExists("the developer provider name is in use".into())
}

impl SqliteStore {
    pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let path = database_path(url)?;
        let max_readers = options.max_connections.max(1) as usize;
        // Opening and migrating touch the disk: off the async workers.
        let engine = tokio::task::spawn_blocking(move || Engine::open(&path, max_readers))
            .await
            .map_err(|e| StoreError::Backend(format!("opening SQLite: {e}")))??;
        Ok(SqliteStore { engine })
    }
}

impl SqliteStore {
    async fn insert_provider<T: serde::Serialize>(
        &self,
        table: &'static str,
        arn: &str,
        account: &str,
        provider: &T,
    ) -> StoreResult<()> {
        let doc = to_doc(provider)?;
        let (arn, account) = (arn.to_string(), account.to_string());
        self.engine
            .write(move |conn| {
                conn.prepare_cached(&format!(
                    "INSERT INTO {table} (arn, account, doc) VALUES (?1, ?2, ?3)"
                ))?
                .execute(params![arn, account, doc])
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(arn.clone())))?;
                bump_generation(conn)
            })
            .await
    }

    async fn get_provider<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        arn: &str,
    ) -> StoreResult<Option<T>> {
        self.engine.read(|conn| {
            optional_doc(
                conn,
                &format!("SELECT doc FROM {table} WHERE arn = ?1"),
                [arn],
            )
        })
    }

    async fn update_provider<T: serde::Serialize>(
        &self,
        table: &'static str,
        arn: &str,
        provider: &T,
    ) -> StoreResult<()> {
        let doc = to_doc(provider)?;
        let arn = arn.to_string();
        self.engine
            .write(move |conn| {
                let updated = conn
                    .prepare_cached(&format!("UPDATE {table} SET doc = ?1 WHERE arn = ?2"))?
                    .execute(params![doc, arn])?;
                if updated == 0 {
                    return Err(StoreError::NotFound(arn).into());
                }
                bump_generation(conn)
            })
            .await
    }

    async fn delete_provider(&self, table: &'static str, arn: &str) -> StoreResult<bool> {
        let arn = arn.to_string();
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(&format!("DELETE FROM {table} WHERE arn = ?1"))?
                    .execute([&arn])?;
                if deleted > 0 {
                    bump_generation(conn)?;
                }
                Ok(deleted > 0)
            })
            .await
    }

    async fn list_providers<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        account: &str,
    ) -> StoreResult<Vec<T>> {
        self.engine.read(|conn| {
            docs(
                conn,
                &format!("SELECT doc FROM {table} WHERE account = ?1 ORDER BY arn"),
                [account],
            )
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_pool(&self, pool: &Pool, max_per_region: usize) -> StoreResult<()> {
        let pool = pool.clone();
        let doc = to_doc(&pool)?;
        self.engine
            .write(move |conn| {
                let count: i64 = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM pools WHERE account = ?1 AND region = ?2",
                    )?
                    .query_row(params![pool.account, pool.region], |row| row.get(0))?;
                if count as usize >= max_per_region {
                    return Err(StoreError::LimitExceeded("too many identity pools".into()).into());
                }
                conn.prepare_cached(
                    "INSERT INTO pools (id, account, region, developer_provider_name, version, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    pool.id,
                    pool.account,
                    pool.region,
                    pool.developer_provider_name,
                    pool.version,
                    doc
                ])
                .map_err(|e| unique_as(e, pool_name_taken))?;
                bump_generation(conn)
            })
            .await
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<Pool>> {
        self.engine
            .read(|conn| optional_doc(conn, "SELECT doc FROM pools WHERE id = ?1", [id]))
    }

    async fn update_pool(&self, pool: &Pool, expected_version: i64) -> StoreResult<()> {
        let pool = pool.clone();
        let doc = to_doc(&pool)?;
        self.engine
            .write(move |conn| {
                let current: Option<i64> = conn
                    .prepare_cached("SELECT version FROM pools WHERE id = ?1")?
                    .query_row([&pool.id], |row| row.get(0))
                    .optional()?;
                match current {
                    None => return Err(StoreError::NotFound(pool.id.clone()).into()),
                    Some(v) if v != expected_version => {
                        return Err(
                            StoreError::Conflict(format!("pool {} changed", pool.id)).into()
                        );
                    }
                    Some(_) => {}
                }
                conn.prepare_cached(
                    "UPDATE pools SET developer_provider_name = ?1, version = ?2, doc = ?3 WHERE id = ?4",
                )?
                .execute(params![pool.developer_provider_name, pool.version, doc, pool.id])
                .map_err(|e| unique_as(e, pool_name_taken))?;
                bump_generation(conn)
            })
            .await
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached("DELETE FROM pools WHERE id = ?1")?
                    .execute([&id])?;
                for table in ["logins", "merges", "identities"] {
                    conn.prepare_cached(&format!("DELETE FROM {table} WHERE pool_id = ?1"))?
                        .execute([&id])?;
                }
                if deleted > 0 {
                    bump_generation(conn)?;
                }
                Ok(deleted > 0)
            })
            .await
    }

    async fn list_pools(
        &self,
        account: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Pool>> {
        self.engine.read(|conn| {
            docs(
                conn,
                "SELECT doc FROM pools WHERE account = ?1 AND region = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
                params![account, region, after.unwrap_or(""), limit as i64],
            )
        })
    }

    async fn pool_by_developer_provider(
        &self,
        account: &str,
        region: &str,
        developer_provider_name: &str,
    ) -> StoreResult<Option<String>> {
        self.engine.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id FROM pools WHERE account = ?1 AND region = ?2 AND developer_provider_name = ?3",
                )?
                .query_row(params![account, region, developer_provider_name], |row| {
                    row.get(0)
                })
                .optional()?)
        })
    }

    async fn get_identity(&self, id: &str) -> StoreResult<Option<Identity>> {
        // One statement: the identity and its logins from one snapshot.
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {IDENTITY_COLUMNS}, l.provider, l.subject FROM identities i
                 LEFT JOIN logins l ON l.identity_id = i.id
                 WHERE i.id = ?1 ORDER BY l.provider, l.subject"
            ))?;
            let mut rows = statement.query([id])?;
            Ok(fold_identities(&mut rows, 0)?.pop())
        })
    }

    async fn find_login_owners(
        &self,
        pool_id: &str,
        logins: &[Login],
    ) -> StoreResult<Vec<(Login, String)>> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT identity_id FROM logins WHERE pool_id = ?1 AND provider = ?2 AND subject = ?3",
            )?;
            let mut owners = Vec::new();
            for login in logins {
                let owner: Option<String> = statement
                    .query_row(params![pool_id, login.provider, login.subject], |row| {
                        row.get(0)
                    })
                    .optional()?;
                if let Some(owner) = owner {
                    owners.push((login.clone(), owner));
                }
            }
            Ok(owners)
        })
    }

    async fn apply_identity_changes(&self, changes: &IdentityChanges) -> StoreResult<()> {
        let changes = changes.clone();
        self.engine
            .write(move |conn| apply_changes(conn, &changes))
            .await
    }

    async fn insert_guests(&self, identities: &[NewIdentity]) -> StoreResult<()> {
        let identities = identities.to_vec();
        self.engine
            .write(move |conn| {
                for identity in &identities {
                    insert_identity(conn, identity)?;
                }
                Ok(())
            })
            .await
    }

    async fn list_identities(
        &self,
        pool_id: &str,
        hide_disabled: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {IDENTITY_COLUMNS}, l.provider, l.subject FROM (
                     SELECT * FROM identities
                     WHERE pool_id = ?1 AND id > ?2 AND (?3 = 0 OR disabled = 0)
                     ORDER BY id LIMIT ?4
                 ) i LEFT JOIN logins l ON l.identity_id = i.id
                 ORDER BY i.id, l.provider, l.subject"
            ))?;
            let mut rows = statement.query(params![
                pool_id,
                after.unwrap_or(""),
                hide_disabled,
                limit as i64
            ])?;
            fold_identities(&mut rows, 0)
        })
    }

    async fn list_identities_in_state(
        &self,
        pool_id: &str,
        state: IdentityState,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>> {
        // Each WHERE names its partial index's condition literally, so
        // SQLite's planner can use it (identities_enabled_by_logins,
        // identities_disabled).
        let (chosen, has_logins) = match state {
            IdentityState::Guest => ("disabled = 0 AND has_logins = ?3", 0),
            IdentityState::Authenticated => ("disabled = 0 AND has_logins = ?3", 1),
            // (?3 is bound either way; here it selects nothing.)
            IdentityState::Disabled => ("disabled = 1 AND ?3 = ?3", 0),
        };
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {IDENTITY_COLUMNS}, l.provider, l.subject FROM (
                     SELECT * FROM identities
                     WHERE pool_id = ?1 AND {chosen} AND id > ?2
                     ORDER BY id LIMIT ?4
                 ) i LEFT JOIN logins l ON l.identity_id = i.id
                 ORDER BY i.id, l.provider, l.subject"
            ))?;
            let mut rows = statement.query(params![
                pool_id,
                after.unwrap_or(""),
                has_logins,
                limit as i64
            ])?;
            fold_identities(&mut rows, 0)
        })
    }

    async fn count_identities(&self, pool_id: &str, cap: usize) -> StoreResult<usize> {
        self.engine.read(|conn| {
            let count: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM identities WHERE pool_id = ?1 LIMIT ?2)",
                )?
                .query_row(
                    params![pool_id, i64::try_from(cap).unwrap_or(i64::MAX)],
                    |row| row.get(0),
                )?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    async fn delete_identity(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.engine
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM logins WHERE identity_id = ?1")?
                    .execute([&id])?;
                let deleted = conn
                    .prepare_cached("DELETE FROM identities WHERE id = ?1")?
                    .execute([&id])?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn merges_of(&self, identity_id: &str) -> StoreResult<Vec<MergeRecord>> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {MERGE_COLUMNS} FROM merges
                 WHERE from_identity = ?1 OR to_identity = ?1 ORDER BY seq"
            ))?;
            let mut rows = statement.query([identity_id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(merge_row(row)?);
            }
            Ok(out)
        })
    }

    async fn subjects_of(
        &self,
        identity_id: &str,
        provider: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT subject FROM logins WHERE identity_id = ?1 AND provider = ?2 AND subject > ?3
                 ORDER BY subject LIMIT ?4",
            )?;
            let subjects = statement
                .query_map(
                    params![identity_id, provider, after.unwrap_or(""), limit as i64],
                    |row| row.get(0),
                )?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(subjects)
        })
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        let doc = role_doc(role)?;
        let (account, name) = (role.account.clone(), role.name.clone());
        self.engine
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO roles (account, name_key, name, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![account, name.to_lowercase(), name, doc])
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(name.clone())))?;
                bump_generation(conn)
            })
            .await
    }

    async fn get_role(&self, account: &str, name: &str) -> StoreResult<Option<Role>> {
        self.engine.read(|conn| {
            let role: Option<Role> = optional_doc(
                conn,
                "SELECT doc FROM roles WHERE account = ?1 AND name_key = ?2",
                params![account, name.to_lowercase()],
            )?;
            role.map(|role| with_attachments(conn, role)).transpose()
        })
    }

    async fn update_role(&self, role: &Role) -> StoreResult<()> {
        let doc = role_doc(role)?;
        let (account, name) = (role.account.clone(), role.name.clone());
        self.engine
            .write(move |conn| {
                let updated = conn
                    .prepare_cached(
                        "UPDATE roles SET doc = ?1 WHERE account = ?2 AND name_key = ?3",
                    )?
                    .execute(params![doc, account, name.to_lowercase()])?;
                if updated == 0 {
                    return Err(StoreError::NotFound(name).into());
                }
                bump_generation(conn)
            })
            .await
    }

    async fn delete_role(&self, account: &str, name: &str) -> StoreResult<bool> {
        let (account, key) = (account.to_string(), name.to_lowercase());
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached("DELETE FROM roles WHERE account = ?1 AND name_key = ?2")?
                    .execute(params![account, key])?;
                conn.prepare_cached(
                    "DELETE FROM role_policy_attachments WHERE account = ?1 AND role_key = ?2",
                )?
                .execute(params![account, key])?;
                if deleted > 0 {
                    bump_generation(conn)?;
                }
                Ok(deleted > 0)
            })
            .await
    }

    async fn list_roles(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Role>> {
        self.engine.read(|conn| {
            let roles: Vec<Role> = docs(
                conn,
                "SELECT doc FROM roles WHERE account = ?1 AND name_key > ?2 ORDER BY name_key LIMIT ?3",
                params![
                    account,
                    after.map(str::to_lowercase).unwrap_or_default(),
                    limit as i64
                ],
            )?;
            roles
                .into_iter()
                .map(|role| with_attachments(conn, role))
                .collect()
        })
    }

    async fn insert_managed_policy(&self, policy: &ManagedPolicy) -> StoreResult<()> {
        let doc = policy_doc(policy)?;
        let (arn, account, name) = (
            policy.arn.clone(),
            policy.account.clone(),
            policy.name.clone(),
        );
        self.engine
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO managed_policies (arn, account, name_key, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![arn, account, name.to_lowercase(), doc])
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(name.clone())))?;
                bump_generation(conn)
            })
            .await
    }

    async fn edit_managed_policy(
        &self,
        arn: &str,
        edit: PolicyEdit,
    ) -> StoreResult<Result<ManagedPolicy, cognate_core::Error>> {
        let arn = arn.to_string();
        self.engine
            .write(move |conn| {
                let doc: Option<String> = conn
                    .prepare_cached("SELECT doc FROM managed_policies WHERE arn = ?1")?
                    .query_row(params![arn], |row| row.get(0))
                    .optional()?;
                let Some(doc) = doc else {
                    return Err(StoreError::NotFound(arn).into());
                };
                let mut policy: ManagedPolicy = from_doc(&doc)?;
                if let Err(refused) = edit(&mut policy) {
                    return Ok(Err(refused));
                }
                conn.prepare_cached("UPDATE managed_policies SET doc = ?1 WHERE arn = ?2")?
                    .execute(params![policy_doc(&policy)?, arn])?;
                bump_generation(conn)?;
                Ok(Ok(policy))
            })
            .await
    }

    async fn get_managed_policy(&self, arn: &str) -> StoreResult<Option<ManagedPolicy>> {
        self.engine.read(|conn| {
            Ok(policies(
                conn,
                &format!("SELECT {POLICY_COLUMNS} FROM managed_policies p WHERE arn = ?1"),
                [arn],
            )?
            .pop())
        })
    }

    async fn delete_managed_policy(&self, arn: &str) -> StoreResult<PolicyDeletion> {
        // The single writer serialises this with attachments.
        let arn = arn.to_string();
        self.engine
            .write(move |conn| {
                let exists = conn
                    .prepare_cached("SELECT 1 FROM managed_policies WHERE arn = ?1")?
                    .exists([&arn])?;
                if !exists {
                    return Ok(PolicyDeletion::NotFound);
                }
                let attachments: i64 = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM role_policy_attachments WHERE policy_arn = ?1",
                    )?
                    .query_row([&arn], |row| row.get(0))?;
                if attachments > 0 {
                    return Ok(PolicyDeletion::Attached);
                }
                conn.prepare_cached("DELETE FROM managed_policies WHERE arn = ?1")?
                    .execute([&arn])?;
                bump_generation(conn)?;
                Ok(PolicyDeletion::Deleted)
            })
            .await
    }

    async fn list_managed_policies(
        &self,
        account: &str,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<ManagedPolicy>> {
        self.engine.read(|conn| {
            policies(
                conn,
                &format!(
                    "SELECT {POLICY_COLUMNS} FROM managed_policies p
                     WHERE account = ?1 AND name_key > ?2 ORDER BY name_key LIMIT ?3"
                ),
                params![
                    account,
                    after_name.map(str::to_lowercase).unwrap_or_default(),
                    limit as i64
                ],
            )
        })
    }

    async fn attach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<()> {
        let (account, role_name, policy_arn) = (
            account.to_string(),
            role_name.to_string(),
            policy_arn.to_string(),
        );
        self.engine
            .write(move |conn| {
                let role_key = role_name.to_lowercase();
                let role = conn
                    .prepare_cached("SELECT 1 FROM roles WHERE account = ?1 AND name_key = ?2")?
                    .exists(params![account, role_key])?;
                if !role {
                    return Err(StoreError::NotFound(role_name).into());
                }
                let policy = conn
                    .prepare_cached("SELECT 1 FROM managed_policies WHERE arn = ?1")?
                    .exists([&policy_arn])?;
                if !policy {
                    return Err(StoreError::NotFound(policy_arn).into());
                }
                let attached = conn
                    .prepare_cached(
                        "INSERT INTO role_policy_attachments (account, role_key, policy_arn) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![account, role_key, policy_arn])?;
                if attached > 0 {
                    bump_generation(conn)?;
                }
                Ok(())
            })
            .await
    }

    async fn detach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<bool> {
        let (account, role_key, policy_arn) = (
            account.to_string(),
            role_name.to_lowercase(),
            policy_arn.to_string(),
        );
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM role_policy_attachments
                         WHERE account = ?1 AND role_key = ?2 AND policy_arn = ?3",
                    )?
                    .execute(params![account, role_key, policy_arn])?;
                if deleted > 0 {
                    bump_generation(conn)?;
                }
                Ok(deleted > 0)
            })
            .await
    }

    provider_methods!();

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let doc = to_doc(key)?;
        let (kid, created_at, retired_at) = (key.kid.clone(), key.created_at, key.retired_at);
        self.engine
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO signing_keys (kid, created_at, retired_at, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![kid, created_at, retired_at, doc])
                .map_err(|e| unique_as(e, || StoreError::AlreadyExists(kid.clone())))?;
                Ok(())
            })
            .await
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT doc, retired_at FROM signing_keys ORDER BY created_at, kid",
            )?;
            let mut rows = statement.query([])?;
            let mut keys = Vec::new();
            while let Some(row) = rows.next()? {
                let doc: String = row.get(0)?;
                let mut key: SigningKeyRecord = from_doc(&doc)?;
                key.retired_at = row.get(1)?;
                keys.push(key);
            }
            Ok(keys)
        })
    }

    async fn retire_signing_keys(&self, except_kid: &str, at: i64) -> StoreResult<()> {
        let except_kid = except_kid.to_string();
        self.engine
            .write(move |conn| {
                conn.prepare_cached(
                    "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL AND kid <> ?2",
                )?
                .execute(params![at, except_kid])?;
                Ok(())
            })
            .await
    }

    async fn delete_signing_keys_retired_before(&self, before: i64) -> StoreResult<u64> {
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
                    )?
                    .execute([before])?;
                Ok(deleted as u64)
            })
            .await
    }

    async fn delete_idle_guests(&self, before: i64, limit: usize) -> StoreResult<u64> {
        // One statement in the single writer: a guest linked meanwhile has
        // a login or a newer updated_at, and is kept.
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM identities WHERE id IN (
                             SELECT i.id FROM identities i
                             WHERE i.disabled = 0 AND i.merged_into IS NULL AND i.updated_at < ?1
                               AND NOT EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = i.id)
                             LIMIT ?2)",
                    )?
                    .execute(params![before, limit as i64])?;
                Ok(deleted as u64)
            })
            .await
    }

    async fn reset(&self) -> StoreResult<cognate_core::store::ResetCounts> {
        // One job of the writer: its savepoint commits whole or not at all.
        self.engine
            .write(|conn| {
                let delete = |table: &str| -> SqlResult<u64> {
                    let sql = format!("DELETE FROM {table}");
                    Ok(conn.prepare_cached(&sql)?.execute([])? as u64)
                };
                let removed = cognate_core::store::ResetCounts {
                    logins: delete("logins")?,
                    merges: delete("merges")?,
                    identities: delete("identities")?,
                    pools: delete("pools")?,
                    role_policy_attachments: delete("role_policy_attachments")?,
                    roles: delete("roles")?,
                    managed_policies: delete("managed_policies")?,
                    oidc_providers: delete("oidc_providers")?,
                    saml_providers: delete("saml_providers")?,
                };
                bump_generation(conn)?;
                Ok(removed)
            })
            .await
    }

    async fn config_generation(&self) -> StoreResult<i64> {
        self.engine.config_generation(|conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM config_generation WHERE id = 1")?
                .query_row([], |row| row.get(0))?)
        })
    }

    async fn generation_and_identity(&self, id: &str) -> StoreResult<(i64, Option<Identity>)> {
        // Every request runs this: the text is made once, not per call
        // (the statement cache is keyed by it).
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT g.value, {IDENTITY_COLUMNS}, l.provider, l.subject FROM config_generation g
                 LEFT JOIN identities i ON i.id = ?1
                 LEFT JOIN logins l ON l.identity_id = i.id
                 WHERE g.id = 1 ORDER BY l.provider, l.subject"
            )
        });
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&SQL)?;
            let mut rows = statement.query([id])?;
            let mut generation = None;
            let mut identities = fold_identities_with(&mut rows, 1, |row| {
                generation = Some(row.get::<_, i64>(0)?);
                Ok(())
            })?;
            let generation = generation.ok_or_else(|| {
                StoreError::Backend("the config_generation row is missing".into())
            })?;
            Ok((generation, identities.pop()))
        })
    }

    async fn list_all_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Pool>> {
        self.engine.read(|conn| {
            docs(
                conn,
                "SELECT doc FROM pools WHERE id > ?1 ORDER BY id LIMIT ?2",
                params![after.unwrap_or(""), limit as i64],
            )
        })
    }

    async fn merges_of_pool(&self, pool_id: &str) -> StoreResult<Vec<MergeRecord>> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {MERGE_COLUMNS} FROM merges WHERE pool_id = ?1 ORDER BY seq"
            ))?;
            let mut rows = statement.query([pool_id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(merge_row(row)?);
            }
            Ok(out)
        })
    }

    async fn import_identities(&self, identities: &[Identity]) -> StoreResult<()> {
        let identities = identities.to_vec();
        self.engine
            .write(move |conn| {
                let exists = |e| {
                    unique_as(e, || {
                        StoreError::AlreadyExists("an imported identity or login exists".into())
                    })
                };
                let mut insert_identity = conn.prepare_cached(
                    "INSERT INTO identities
                         (id, pool_id, created_at, updated_at, disabled, merged_into, version, has_logins)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                let mut insert_login = conn.prepare_cached(
                    "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for identity in &identities {
                    insert_identity
                        .execute(params![
                            identity.id,
                            identity.pool_id,
                            identity.created_at,
                            identity.updated_at,
                            identity.disabled,
                            identity.merged_into,
                            identity.version,
                            !identity.logins.is_empty()
                        ])
                        .map_err(exists)?;
                    for login in &identity.logins {
                        insert_login
                            .execute(params![
                                identity.pool_id,
                                login.provider,
                                login.subject,
                                identity.id
                            ])
                            .map_err(exists)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn import_merges(&self, merges: &[MergeRecord]) -> StoreResult<()> {
        let merges = merges.to_vec();
        self.engine
            .write(move |conn| {
                for merge in &merges {
                    insert_merge(conn, merge)?;
                }
                Ok(())
            })
            .await
    }

    async fn get_setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.engine.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
                .query_row([name], |row| row.get(0))
                .optional()?)
        })
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, value) = (name.to_string(), value.to_vec());
        self.engine
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                )?
                .execute(params![name, value])?;
                let stored: Vec<u8> = conn
                    .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
                    .query_row([&name], |row| row.get(0))?;
                Ok(stored)
            })
            .await
    }

    async fn append_audit(&self, events: &[AuditRecord]) -> StoreResult<()> {
        let events = events.to_vec();
        self.engine
            .write(move |conn| {
                let mut insert = conn.prepare_cached(&format!(
                    "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (at, id) DO NOTHING"
                ))?;
                for e in &events {
                    insert.execute(params![
                        e.at,
                        e.id,
                        e.kind,
                        e.pool_id,
                        e.identity_id,
                        e.other_identity_id,
                        e.caller,
                        e.detail
                    ])?;
                }
                Ok(())
            })
            .await
    }

    async fn list_audit(&self, query: &AuditQuery, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        let (sql, bound) = audit_list_sql(query, |n| format!("?{n}"));
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let mut values: Vec<rusqlite::types::Value> = bound
                .iter()
                .map(|p| match p {
                    AuditParam::Int(n) => rusqlite::types::Value::Integer(*n),
                    AuditParam::Text(t) => rusqlite::types::Value::Text(t.to_string()),
                })
                .collect();
            values.push(rusqlite::types::Value::Integer(
                i64::try_from(limit).unwrap_or(i64::MAX),
            ));
            let mut rows = statement.query(rusqlite::params_from_iter(values))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(AuditRecord {
                    at: row.get(0)?,
                    id: row.get(1)?,
                    kind: row.get(2)?,
                    pool_id: row.get(3)?,
                    identity_id: row.get(4)?,
                    other_identity_id: row.get(5)?,
                    caller: row.get(6)?,
                    detail: row.get(7)?,
                });
            }
            Ok(out)
        })
    }

    async fn purge_audit(&self, before: i64, limit: usize) -> StoreResult<u64> {
        // The oldest first, through the key: a bounded range at the old
        // end of the table.
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM audit_events WHERE (at, id) IN (
                             SELECT at, id FROM audit_events WHERE at < ?1
                             ORDER BY at, id LIMIT ?2)",
                    )?
                    .execute(params![before, i64::try_from(limit).unwrap_or(i64::MAX)])?;
                Ok(deleted as u64)
            })
            .await
    }
}

fn insert_identity(conn: &Connection, identity: &NewIdentity) -> SqlResult<()> {
    conn.prepare_cached(
        "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
         VALUES (?1, ?2, ?3, ?3, 0, NULL, 1)",
    )?
    .execute(params![identity.id, identity.pool_id, identity.created_at])
    .map_err(|e| {
        unique_as(e, || {
            StoreError::Conflict(format!("identity {} exists", identity.id))
        })
    })?;
    Ok(())
}

fn insert_merge(conn: &Connection, merge: &MergeRecord) -> SqlResult<()> {
    conn.prepare_cached(
        "INSERT INTO merges (pool_id, from_identity, to_identity, at, cause) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        merge.pool_id,
        merge.from_identity,
        merge.to_identity,
        merge.at,
        merge.cause.as_str()
    ])?;
    Ok(())
}

fn apply_changes(conn: &Connection, changes: &IdentityChanges) -> SqlResult<()> {
    if let Some(new) = &changes.create {
        insert_identity(conn, new)?;
    }
    for (id, expected) in &changes.expect_versions {
        let version: Option<i64> = conn
            .prepare_cached("SELECT version FROM identities WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        if version != Some(*expected) {
            return Err(StoreError::Conflict(format!("identity {id} changed")).into());
        }
    }
    let mut touched: Vec<&str> = changes.touch.iter().map(String::as_str).collect();
    for merge in &changes.merges {
        conn.prepare_cached("UPDATE logins SET identity_id = ?1 WHERE identity_id = ?2")?
            .execute(params![merge.to_identity, merge.from_identity])?;
        conn.prepare_cached(
            "UPDATE identities SET disabled = 1, merged_into = ?1, version = version + 1, updated_at = ?2,
             has_logins = 0 WHERE id = ?3",
        )?
        .execute(params![merge.to_identity, changes.now, merge.from_identity])?;
        insert_merge(conn, merge)?;
        touched.push(&merge.to_identity);
    }
    for (id, login) in &changes.unlinks {
        let removed = conn
            .prepare_cached(
                "DELETE FROM logins WHERE pool_id = ?1 AND provider = ?2 AND subject = ?3 AND identity_id = ?4",
            )?
            .execute(params![changes.pool_id, login.provider, login.subject, id])?;
        if removed == 0 {
            return Err(StoreError::Conflict(format!("login not on identity {id}")).into());
        }
        touched.push(id);
    }
    for (id, login) in &changes.links {
        conn.prepare_cached(
            "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![changes.pool_id, login.provider, login.subject, id])
        .map_err(|e| unique_as(e, || StoreError::Conflict("login already linked".into())))?;
        touched.push(id);
    }
    touched.sort_unstable();
    touched.dedup();
    for id in touched {
        let updated = conn
            .prepare_cached(
                "UPDATE identities SET version = version + 1, updated_at = ?1,
                 has_logins = EXISTS (SELECT 1 FROM logins WHERE identity_id = ?2)
                 WHERE id = ?2 AND disabled = 0",
            )?
            .execute(params![changes.now, id])?;
        if updated == 0 {
            return Err(StoreError::Conflict(format!("identity {id} is gone or disabled")).into());
        }
    }
    for id in &changes.disable {
        conn.prepare_cached(
            "UPDATE identities SET disabled = 1, version = version + 1, updated_at = ?1,
             has_logins = EXISTS (SELECT 1 FROM logins WHERE identity_id = ?2) WHERE id = ?2",
        )?
        .execute(params![changes.now, id])?;
    }
    Ok(())
}
