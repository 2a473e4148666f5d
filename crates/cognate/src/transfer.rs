//! `cognate export` and `cognate import`: everything a deployment holds,
//! as JSON lines, so it can move between engines (SQLite to PostgreSQL
//! when it grows) keeping every identifier. Keys travel sealed under the
//! master key: the importing side must use the same master key.

use std::io::{BufRead, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cognate_core::model::{
    Identity, ManagedPolicy, MergeRecord, OidcProvider, Pool, Role, SamlProvider, SigningKeyRecord,
};
use cognate_core::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Settings that belong to a deployment (the others are per node).
const SETTINGS: &[&str] = &["master-key-check", "session-sealing-key"];
const FORMAT_VERSION: u32 = 1;
const PAGE: usize = 1000;

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Record {
    Header { format: u32 },
    Setting { name: String, value: String },
    SigningKey(SigningKeyRecord),
    ManagedPolicy(ManagedPolicy),
    Role(Role),
    OidcProvider(OidcProvider),
    SamlProvider(SamlProvider),
    Pool(Box<Pool>),
    Identity(Identity),
    Merge(MergeRecord),
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Format { line: usize, message: String },
    #[error("the target database already holds {0}; import into an empty database")]
    NotEmpty(String),
}

/// Counts of what was moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub pools: usize,
    pub identities: usize,
    pub merges: usize,
    pub roles: usize,
    pub other: usize,
}

fn line<W: Write>(out: &mut W, record: &Record) -> Result<(), TransferError> {
    serde_json::to_writer(&mut *out, record)
        .map_err(|e| TransferError::Io(std::io::Error::other(e)))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything: settings, keys, configuration, identities and merges.
    Everything,
    /// Pools, roles, managed policies and providers only: what a
    /// rehearsal of `cognate apply` needs.
    Configuration,
}

/// Writes the deployment of `account`.
pub async fn export<W: Write>(
    store: &dyn Store,
    account: &str,
    out: &mut W,
) -> Result<Counts, TransferError> {
    export_scope(store, account, Scope::Everything, out).await
}

/// Writes what `scope` names of the deployment of `account`.
pub async fn export_scope<W: Write>(
    store: &dyn Store,
    account: &str,
    scope: Scope,
    out: &mut W,
) -> Result<Counts, TransferError> {
    let everything = scope == Scope::Everything;
    let mut counts = Counts::default();
    line(
        out,
        &Record::Header {
            format: FORMAT_VERSION,
        },
    )?;
    for name in SETTINGS.iter().filter(|_| everything) {
        if let Some(value) = store.get_setting(name).await? {
            line(
                out,
                &Record::Setting {
                    name: (*name).to_string(),
                    value: STANDARD.encode(value),
                },
            )?;
            counts.other += 1;
        }
    }
    let keys = if everything {
        store.list_signing_keys().await?
    } else {
        Vec::new()
    };
    for key in keys {
        line(out, &Record::SigningKey(key))?;
        counts.other += 1;
    }
    for policy in all_managed_policies(store, account).await? {
        line(out, &Record::ManagedPolicy(policy))?;
        counts.other += 1;
    }
    for role in all_roles(store, account).await? {
        line(out, &Record::Role(role))?;
        counts.roles += 1;
    }
    for provider in store.list_oidc_providers(account).await? {
        line(out, &Record::OidcProvider(provider))?;
        counts.other += 1;
    }
    for provider in store.list_saml_providers(account).await? {
        line(out, &Record::SamlProvider(provider))?;
        counts.other += 1;
    }
    let mut after_pool: Option<String> = None;
    loop {
        let pools = store.list_all_pools(after_pool.as_deref(), PAGE).await?;
        let Some(last) = pools.last() else { break };
        after_pool = Some(last.id.clone());
        let full = pools.len() == PAGE;
        for pool in pools {
            let pool_id = pool.id.clone();
            line(out, &Record::Pool(Box::new(pool)))?;
            counts.pools += 1;
            if !everything {
                continue;
            }
            let mut after: Option<String> = None;
            loop {
                let page = store
                    .list_identities(&pool_id, false, after.as_deref(), PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                let full = page.len() == PAGE;
                for identity in page {
                    line(out, &Record::Identity(identity))?;
                    counts.identities += 1;
                }
                if !full {
                    break;
                }
            }
            for merge in store.merges_of_pool(&pool_id).await? {
                line(out, &Record::Merge(merge))?;
                counts.merges += 1;
            }
        }
        if !full {
            break;
        }
    }
    out.flush()?;
    Ok(counts)
}

/// Every managed policy of `account`, read a page at a time.
pub async fn all_managed_policies(
    store: &dyn Store,
    account: &str,
) -> Result<Vec<ManagedPolicy>, StoreError> {
    let mut all: Vec<ManagedPolicy> = Vec::new();
    loop {
        let after = all.last().map(|p| p.name.to_lowercase());
        let page = store
            .list_managed_policies(account, after.as_deref(), PAGE)
            .await?;
        let full = page.len() == PAGE;
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Every role of `account`, read a page at a time.
pub async fn all_roles(store: &dyn Store, account: &str) -> Result<Vec<Role>, StoreError> {
    let mut all: Vec<Role> = Vec::new();
    loop {
        let after = all.last().map(|r| r.name.clone());
        let page = store.list_roles(account, after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE;
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Every pool of the store, read a page at a time.
pub async fn all_pools(store: &dyn Store) -> Result<Vec<Pool>, StoreError> {
    let mut all: Vec<Pool> = Vec::new();
    loop {
        let after = all.last().map(|p| p.id.clone());
        let page = store.list_all_pools(after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE;
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Reads an export into an empty store.
pub async fn import<R: BufRead>(store: &dyn Store, input: R) -> Result<Counts, TransferError> {
    if let Some(pool) = store.list_all_pools(None, 1).await?.first() {
        return Err(TransferError::NotEmpty(format!(
            "identity pool {}",
            pool.id
        )));
    }
    if store.get_setting(SETTINGS[0]).await?.is_some() {
        return Err(TransferError::NotEmpty(
            "keys (a server has already started on it)".into(),
        ));
    }
    let mut counts = Counts::default();
    let mut identities: Vec<Identity> = Vec::with_capacity(PAGE);
    let mut merges: Vec<MergeRecord> = Vec::new();
    let mut attachments: Vec<(String, String, String)> = Vec::new();
    let mut seen_header = false;
    for (index, text) in input.lines().enumerate() {
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&text).map_err(|e| TransferError::Format {
            line: index + 1,
            message: e.to_string(),
        })?;
        let bad = |message: &str| TransferError::Format {
            line: index + 1,
            message: message.to_string(),
        };
        match record {
            Record::Header { format } => {
                if format != FORMAT_VERSION {
                    return Err(bad("unsupported export format"));
                }
                seen_header = true;
            }
            _ if !seen_header => return Err(bad("the export does not start with its header")),
            Record::Setting { name, value } => {
                let value = STANDARD
                    .decode(value)
                    .map_err(|_| bad("invalid setting value"))?;
                store.init_setting(&name, &value).await?;
                counts.other += 1;
            }
            Record::SigningKey(key) => {
                store.insert_signing_key(&key).await?;
                counts.other += 1;
            }
            Record::ManagedPolicy(policy) => {
                store.insert_managed_policy(&policy).await?;
                counts.other += 1;
            }
            Record::Role(role) => {
                for arn in &role.attached_policies {
                    attachments.push((role.account.clone(), role.name.clone(), arn.clone()));
                }
                store.insert_role(&role).await?;
                counts.roles += 1;
            }
            Record::OidcProvider(provider) => {
                store.insert_oidc_provider(&provider).await?;
                counts.other += 1;
            }
            Record::SamlProvider(provider) => {
                store.insert_saml_provider(&provider).await?;
                counts.other += 1;
            }
            Record::Pool(pool) => {
                flush(store, &mut identities, &mut merges, &mut counts).await?;
                store.insert_pool(&pool, usize::MAX).await?;
                counts.pools += 1;
            }
            Record::Identity(identity) => {
                identities.push(identity);
                if identities.len() >= PAGE {
                    flush(store, &mut identities, &mut merges, &mut counts).await?;
                }
            }
            Record::Merge(merge) => merges.push(merge),
        }
    }
    flush(store, &mut identities, &mut merges, &mut counts).await?;
    for (account, role, arn) in attachments {
        store.attach_role_policy(&account, &role, &arn).await?;
    }
    Ok(counts)
}

async fn flush(
    store: &dyn Store,
    identities: &mut Vec<Identity>,
    merges: &mut Vec<MergeRecord>,
    counts: &mut Counts,
) -> Result<(), TransferError> {
    if !identities.is_empty() {
        store.import_identities(identities).await?;
        counts.identities += identities.len();
        identities.clear();
    }
    if !merges.is_empty() {
        store.import_merges(merges).await?;
        counts.merges += merges.len();
        merges.clear();
    }
    Ok(())
}
