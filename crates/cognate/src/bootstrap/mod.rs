//! Pools, roles, policies and providers declared in a file:
//! `cognate apply FILE` (with `--dry-run` and `--prune`),
//! `cognate serve --bootstrap FILE`, and `cognate export --bootstrap`,
//! which writes such a file from a deployment.
//!
//! A file is applied to a scratch copy of the deployment's configuration
//! first, through the same domain operations, so an entry the deployment
//! would refuse stops the whole file before anything changes. Only a
//! concurrent change between the rehearsal and the real run, or the
//! database failing midway, can leave part of a file applied; applying it
//! again finishes the job.

mod converge;
mod export;
mod file;

use std::path::Path;
use std::sync::Arc;

use cognate_core::Cognate;
use cognate_core::keys::SigningAlgorithm;

pub use converge::{Change, EntryError, Verb, converge};
pub use export::declared;
pub use file::{Bootstrap, FileError};

use crate::transfer::{self, Scope};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{path}: {error}")]
    Entry { path: String, error: EntryError },
    #[error("cannot rehearse the change on a scratch copy: {0}")]
    Rehearsal(String),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Rehearse only: what would change.
    pub dry_run: bool,
    /// Also delete what the file does not name.
    pub prune: bool,
}

/// Applies the file at `path` to the deployment `domain` serves, and says
/// what changed (or, in a dry run, what would).
pub async fn apply(
    domain: &Cognate,
    path: &Path,
    options: Options,
) -> Result<Vec<Change>, ApplyError> {
    let config = domain.config();
    let file = Bootstrap::load(path, &config.account, &config.default_region)?;
    let entry = |error| ApplyError::Entry {
        path: path.display().to_string(),
        error,
    };
    let planned = rehearse(domain, &file, options.prune)
        .await?
        .map_err(entry)?;
    if options.dry_run {
        return Ok(planned);
    }
    converge(domain, &file, options.prune).await.map_err(entry)
}

/// Converges a scratch copy of `domain`'s configuration (no identities,
/// no keys) on `file`.
async fn rehearse(
    domain: &Cognate,
    file: &Bootstrap,
    prune: bool,
) -> Result<Result<Vec<Change>, EntryError>, ApplyError> {
    let failed = |e: &dyn std::fmt::Display| ApplyError::Rehearsal(e.to_string());
    let dir = tempfile::tempdir().map_err(|e| failed(&e))?;
    let url = format!("sqlite://{}", dir.path().join("rehearsal.db").display());
    let scratch = cognate_store::open(&url, &cognate_store::StoreOptions::default())
        .await
        .map_err(|e| failed(&e))?;
    let mut copy = Vec::new();
    let account = &domain.config().account;
    transfer::export_scope(
        domain.store().as_ref(),
        account,
        Scope::Configuration,
        &mut copy,
    )
    .await
    .map_err(|e| failed(&e))?;
    transfer::import(scratch.as_ref(), &copy[..])
        .await
        .map_err(|e| failed(&e))?;
    // A throwaway master key and a cheap signing key: the scratch copy
    // never signs anything.
    let master: Vec<u8> = (0..2)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    let mut config = domain.config().clone();
    config.signing_algorithm = SigningAlgorithm::Es256;
    let verifier =
        cognate_federation::FederatedVerifier::new(Default::default()).map_err(|e| failed(&e))?;
    let rehearsal = Cognate::open(
        scratch,
        domain.clock().clone(),
        Arc::new(verifier),
        config,
        &master,
    )
    .await
    .map_err(|e| failed(&e))?;
    Ok(converge(&rehearsal, file, prune).await)
}
