//! Rows to records: the columns each query selects and how a row becomes
//! a model value.

use cognate_core::model::{Identity, Login, ManagedPolicy, MergeCause, MergeRecord, Role};
use cognate_core::store::{StoreError, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::retry::backend;
use crate::records::from_doc;

/// The logins are matched with `i.id COLLATE "default"`: `identities.id`
/// is `COLLATE "C"` and `logins.identity_id` is not, and compared in
/// "C" the planner cannot use `logins_by_identity` (default collation),
/// so every identity read scanned the whole logins table (35 ms at
/// 100,000 logins; 0.05 ms through the index).
pub(super) const IDENTITY_COLUMNS: &str = "i.id, i.pool_id, i.created_at, i.updated_at, i.disabled, \
     i.merged_into, i.version, \
     ARRAY(SELECT l.provider FROM logins l WHERE l.identity_id = i.id COLLATE \"default\" \
           ORDER BY l.provider, l.subject) AS providers, \
     ARRAY(SELECT l.subject FROM logins l WHERE l.identity_id = i.id COLLATE \"default\" \
           ORDER BY l.provider, l.subject) AS subjects";

/// The configuration generation and the identity `$1` (if any), in one
/// statement: what every public call on an identity starts with.
pub(super) static GENERATION_AND_IDENTITY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        format!(
            "SELECT g.value AS generation, {IDENTITY_COLUMNS} FROM config_generation g \
             LEFT JOIN identities i ON i.id = $1 WHERE g.id = 1"
        )
    });

pub(super) fn identity_row(row: &PgRow) -> StoreResult<Identity> {
    let providers: Vec<String> = row.try_get("providers").map_err(backend)?;
    let subjects: Vec<String> = row.try_get("subjects").map_err(backend)?;
    Ok(Identity {
        id: row.try_get("id").map_err(backend)?,
        pool_id: row.try_get("pool_id").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
        disabled: row.try_get("disabled").map_err(backend)?,
        merged_into: row.try_get("merged_into").map_err(backend)?,
        version: row.try_get("version").map_err(backend)?,
        logins: providers
            .into_iter()
            .zip(subjects)
            .map(|(provider, subject)| Login { provider, subject })
            .collect(),
    })
}

pub(super) fn merge_row(row: &PgRow) -> StoreResult<MergeRecord> {
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

pub(super) fn doc_column<T: serde::de::DeserializeOwned>(row: &PgRow) -> StoreResult<T> {
    let doc: String = row.try_get("doc").map_err(backend)?;
    from_doc(&doc)
}

/// Role columns: the document and the ARNs of its attached policies.
pub(super) const ROLE_COLUMNS: &str = "r.doc, ARRAY(SELECT a.policy_arn FROM role_policy_attachments a \
     WHERE a.account = r.account AND a.role_key = r.name_key ORDER BY a.policy_arn) AS attached";

pub(super) fn role_row(row: &PgRow) -> StoreResult<Role> {
    let mut role: Role = doc_column(row)?;
    role.attached_policies = row.try_get("attached").map_err(backend)?;
    Ok(role)
}

pub(super) const POLICY_COLUMNS: &str = "p.doc, (SELECT COUNT(*) FROM role_policy_attachments a \
     WHERE a.policy_arn = p.arn) AS attachments";

pub(super) fn policy_row(row: &PgRow) -> StoreResult<ManagedPolicy> {
    let mut policy: ManagedPolicy = doc_column(row)?;
    policy.attachment_count = row.try_get("attachments").map_err(backend)?;
    Ok(policy)
}

/// `usize` limits as SQL `LIMIT`s (which must not be negative).
pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
