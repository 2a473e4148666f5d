//! Identities: creation, the link and merge rules, and administration.
//!
//! Every change follows one pattern: read the identities involved, decide
//! (here, in one place), hand the store one `IdentityChanges` naming the
//! versions read; if another request changed any of them meanwhile, read
//! and decide again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::access::{ANY_RESOURCE, Access, Action, Caller};
use crate::config_cache::ConfigView;
use crate::error::{Error, Result};
use crate::ids;
use crate::logins::{LOGINS_DONT_MATCH, LoginUse, VerifiedLogins};
use crate::model::{Identity, Login, MergeCause, MergeRecord, Pool};
use crate::operation::Operation;
use crate::service::facade;
use crate::service::{Cognate, page_token};
use crate::store::{IdentityChanges, IdentityState, NewIdentity, StoreError};

/// Reads and decisions are retried this often when they race.
pub(crate) const MAX_ATTEMPTS: usize = 8;
/// Logins one identity may hold after a merge.
pub const MAX_LOGINS_PER_IDENTITY: usize = 20;

pub(crate) fn contended() -> Error {
    Error::TooManyRequests(
        "The identity is being changed by concurrent requests; retry the request.".into(),
    )
}

impl Cognate {
    /// Applies a change set made from the versions it read: `Ok(true)` once
    /// it landed (and is audited), `Ok(false)` when a concurrent change won
    /// and the caller must read again.
    pub(crate) async fn try_apply(&self, changes: &IdentityChanges) -> Result<bool> {
        match self.store.apply_identity_changes(changes).await {
            Ok(()) => {
                self.audit.identity_changes(changes);
                Ok(true)
            }
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// What a resolution produced.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The identity to answer with (the surviving one after a merge).
    pub identity: Identity,
}

/// The public and developer rules of what one identity may hold.
pub(crate) fn check_one_per_provider(
    logins: &BTreeSet<Login>,
    developer_provider: Option<&str>,
) -> Result<()> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for login in logins {
        if Some(login.provider.as_str()) == developer_provider {
            continue;
        }
        if let Some(other) = seen.insert(&login.provider, &login.subject)
            && other != login.subject
        {
            return Err(Error::ResourceConflict(format!(
                "An identity can hold only one login of {}; a different {} login is already linked.",
                login.provider, login.provider
            )));
        }
    }
    if logins.len() > MAX_LOGINS_PER_IDENTITY {
        return Err(Error::ResourceConflict(format!(
            "An identity can hold at most {MAX_LOGINS_PER_IDENTITY} linked logins."
        )));
    }
    Ok(())
}

impl Cognate {
    /// An identity and its pool, with the configuration view the request
    /// goes on with. The generation and the identity are read at once:
    /// only the pool has to wait for the generation.
    pub(crate) async fn pool_of_identity(
        &self,
        identity_id: &str,
    ) -> Result<(ConfigView, Identity, Arc<Pool>)> {
        let (generation, identity) = self.store.generation_and_identity(identity_id).await?;
        let view = self.config_cache.observe(generation);
        let identity = identity.ok_or_else(|| Error::identity_not_found(identity_id))?;
        let pool = self
            .cached_pool(&view, &identity.pool_id)
            .await?
            .ok_or_else(|| Error::identity_not_found(identity_id))?;
        Ok((view, identity, pool))
    }

    async fn create_guest(&self, pool: &Pool) -> Result<String> {
        let now_millis = self.clock.now_millis();
        let identity = NewIdentity {
            id: ids::identity_id(&pool.region, now_millis),
            pool_id: pool.id.clone(),
            created_at: (now_millis / 1000) as i64,
        };
        self.store
            .insert_guests(std::slice::from_ref(&identity))
            .await?;
        self.audit.identity_created(&pool.id, &identity.id, true);
        Ok(identity.id)
    }

    /// Checks the identity a public call names (read with its pool by
    /// `pool_of_identity`) and resolves the presented logins against it
    /// (link, merge). Returns the pool, the identity to answer with, and
    /// the verified logins.
    pub(crate) async fn authenticate_loaded(
        &self,
        identity: Identity,
        pool: Arc<Pool>,
        logins: &BTreeMap<String, String>,
        used_in: LoginUse,
    ) -> Result<(Arc<Pool>, Identity, VerifiedLogins)> {
        let identity_id = identity.id.clone();
        let identity_id = identity_id.as_str();
        if identity.disabled {
            return Err(Error::identity_forbidden(identity_id));
        }
        let verified = self.verify_logins(&pool, logins, used_in).await?;
        if let Some(claims) = &verified.cognito_token
            && claims["sub"].as_str() != Some(identity_id)
        {
            return Err(Error::NotAuthorized(LOGINS_DONT_MATCH.into()));
        }
        let presented = verified.keys();
        if presented.is_empty() {
            // A Cognito token for a guest is a guest's credential: it
            // counts only while the identity is a guest of a pool that
            // still allows guests.
            let guest_token = verified.cognito_token.as_ref().is_some_and(|claims| {
                claims["amr"]
                    .as_array()
                    .is_some_and(|amr| amr.iter().any(|a| a == "unauthenticated"))
            });
            if verified.cognito_token.is_some() && !guest_token {
                return Ok((pool, identity, verified));
            }
            if !identity.is_guest() {
                return Err(Error::NotAuthorized(LOGINS_DONT_MATCH.into()));
            }
            if !pool.allow_unauthenticated {
                return Err(Error::NotAuthorized(
                    "Unauthenticated access is not supported for this identity pool.".into(),
                ));
            }
            self.note_guest_use(&identity).await;
            return Ok((pool, identity, verified));
        }
        let resolved = self
            .resolve(
                &pool,
                Some(identity_id),
                &presented,
                MergeCause::LoginPresented,
            )
            .await?;
        Ok((pool, resolved.identity, verified))
    }

    /// The link and merge rules. `target` is the identity the caller named
    /// (GetOpenIdToken, GetCredentialsForIdentity, developer calls); without
    /// it (GetId) the logins' owner is found or a new identity made.
    pub(crate) async fn resolve(
        &self,
        pool: &Pool,
        target: Option<&str>,
        presented: &[Login],
        cause: MergeCause,
    ) -> Result<Resolved> {
        for _ in 0..MAX_ATTEMPTS {
            if let Some(resolved) = self.try_resolve(pool, target, presented, cause).await? {
                return Ok(resolved);
            }
        }
        Err(contended())
    }

    /// One attempt; `None` when a concurrent change was detected.
    async fn try_resolve(
        &self,
        pool: &Pool,
        target: Option<&str>,
        presented: &[Login],
        cause: MergeCause,
    ) -> Result<Option<Resolved>> {
        let now_millis = self.clock.now_millis();
        let now = (now_millis / 1000) as i64;
        let owners = self.store.find_login_owners(&pool.id, presented).await?;
        let owned: BTreeSet<&Login> = owners.iter().map(|(l, _)| l).collect();
        let mut involved: BTreeMap<String, Identity> = BTreeMap::new();
        for (_, owner) in &owners {
            if involved.contains_key(owner) {
                continue;
            }
            match self.store.get_identity(owner).await? {
                Some(identity) if !identity.disabled => {
                    involved.insert(owner.clone(), identity);
                }
                // The owner changed under us.
                _ => return Ok(None),
            }
        }
        let target_identity = match target {
            Some(id) => {
                // Usually the target owns the logins and was just read.
                let identity = match involved.get(id) {
                    Some(owner) => owner.clone(),
                    None => self
                        .store
                        .get_identity(id)
                        .await?
                        .filter(|i| i.pool_id == pool.id)
                        .ok_or_else(|| Error::identity_not_found(id))?,
                };
                if identity.disabled {
                    return Err(Error::identity_forbidden(id));
                }
                // An authenticated identity must prove itself with a login
                // it already holds.
                if !identity.is_guest() && !owners.iter().any(|(_, o)| o == id) {
                    // A second login of a provider it already holds is a
                    // conflict whatever else is presented.
                    let mut held: BTreeSet<Login> = identity.logins.iter().cloned().collect();
                    held.extend(presented.iter().cloned());
                    check_one_per_provider(&held, pool.developer_provider_name.as_deref())?;
                    return Err(Error::NotAuthorized(LOGINS_DONT_MATCH.into()));
                }
                involved
                    .entry(id.to_string())
                    .or_insert_with(|| identity.clone());
                Some(identity)
            }
            None => None,
        };
        let unowned: Vec<&Login> = presented.iter().filter(|l| !owned.contains(l)).collect();

        let mut changes = IdentityChanges {
            pool_id: pool.id.clone(),
            now,
            expect_versions: involved
                .values()
                .map(|i| (i.id.clone(), i.version))
                .collect(),
            ..Default::default()
        };

        // The survivor: the oldest authenticated identity involved; a guest
        // always merges into an authenticated one.
        let parent = involved
            .values()
            .filter(|i| !i.is_guest())
            .min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
            .or(target_identity.as_ref())
            .cloned();
        let parent = match parent {
            Some(p) => p,
            None => {
                // Nobody owns any login: a new authenticated identity.
                let id = ids::identity_id(&pool.region, now_millis);
                changes.create = Some(NewIdentity {
                    id: id.clone(),
                    pool_id: pool.id.clone(),
                    created_at: now,
                });
                Identity {
                    id,
                    pool_id: pool.id.clone(),
                    created_at: now,
                    updated_at: now,
                    disabled: false,
                    merged_into: None,
                    logins: Vec::new(),
                    version: 0,
                }
            }
        };

        let mut final_logins: BTreeSet<Login> = BTreeSet::new();
        for identity in involved.values() {
            final_logins.extend(identity.logins.iter().cloned());
        }
        final_logins.extend(unowned.iter().map(|l| (*l).clone()));
        check_one_per_provider(&final_logins, pool.developer_provider_name.as_deref())?;

        for identity in involved.values() {
            if identity.id != parent.id {
                changes.merges.push(MergeRecord {
                    pool_id: pool.id.clone(),
                    from_identity: identity.id.clone(),
                    to_identity: parent.id.clone(),
                    at: now,
                    cause,
                });
            }
        }
        for login in &unowned {
            changes.links.push((parent.id.clone(), (*login).clone()));
        }
        if changes.create.is_none() && changes.merges.is_empty() && changes.links.is_empty() {
            return Ok(Some(Resolved { identity: parent }));
        }
        if !self.try_apply(&changes).await? {
            return Ok(None);
        }
        let identity = self
            .store
            .get_identity(&parent.id)
            .await?
            .ok_or_else(|| Error::identity_not_found(&parent.id))?;
        Ok(Some(Resolved { identity }))
    }

    /// Marks a guest as used, at most a few times per time to live, so the
    /// sweep spares guests that keep coming back.
    async fn note_guest_use(&self, identity: &Identity) {
        let Some(ttl) = self.config.guest_ttl_secs else {
            return;
        };
        let now = self.clock.now_secs();
        if now - identity.updated_at < ttl / 4 {
            return;
        }
        let changes = IdentityChanges {
            pool_id: identity.pool_id.clone(),
            now,
            expect_versions: vec![(identity.id.clone(), identity.version)],
            touch: vec![identity.id.clone()],
            ..Default::default()
        };
        // A concurrent change touched it anyway.
        let _ = self.store.apply_identity_changes(&changes).await;
    }

    /// An identity and its pool, once `caller` may perform `action` on that
    /// pool: the pool the store says the identity belongs to, whatever
    /// pool the request names. An identity that does not exist (or is of
    /// another account or region) is authorized as any resource, so only a caller
    /// allowed everywhere learns that it is missing; and a denial names no
    /// pool either way.
    async fn authorized_identity(
        &self,
        caller: &Caller,
        action: Action,
        identity_id: &str,
    ) -> Result<(Identity, Arc<Pool>)> {
        match self.pool_of_identity(identity_id).await {
            Ok((_, identity, pool)) if caller.sees(&pool) => {
                let arn = crate::arn::pool_arn(&pool.region, &pool.account, &pool.id);
                let access = Access::new(action, arn)
                    .resource_tags(&pool.tags)
                    .shown_as("");
                self.authorize_access(caller, access).await?;
                Ok((identity, pool))
            }
            Ok(_) | Err(Error::ResourceNotFound(_)) => {
                self.authorize(caller, action, ANY_RESOURCE).await?;
                Err(Error::identity_not_found(identity_id))
            }
            Err(e) => Err(e),
        }
    }
}

facade!(
    /// Identities: the public flows (GetId, GetOpenIdToken,
    /// GetCredentialsForIdentity, UnlinkIdentity) and their administration.
    Identities,
    identities
);

impl Identities<'_> {
    /// GetId.
    pub async fn get_id(
        &self,
        pool_id: &str,
        account_id: Option<&str>,
        logins: &BTreeMap<String, String>,
    ) -> Result<String> {
        let view = self.config_view().await?;
        let pool = self
            .cached_pool(&view, pool_id)
            .await?
            .ok_or_else(|| Error::pool_not_found(pool_id))?;
        if account_id.is_some_and(|a| a != pool.account) {
            return Err(Error::pool_not_found(pool_id));
        }
        if logins.is_empty() {
            if !pool.allow_unauthenticated {
                return Err(Error::NotAuthorized(
                    "Unauthenticated access is not supported for this identity pool.".into(),
                ));
            }
            return self.create_guest(&pool).await;
        }
        let verified = self.verify_logins(&pool, logins, LoginUse::GetId).await?;
        let resolved = self
            .resolve(&pool, None, &verified.keys(), MergeCause::LoginPresented)
            .await?;
        Ok(resolved.identity.id)
    }

    /// UnlinkIdentity: the caller proves the identity with its logins and
    /// removes the named providers. An identity left without logins is
    /// inaccessible: it is disabled.
    pub async fn unlink(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
        providers_to_remove: &[String],
    ) -> Result<()> {
        let (_, identity, pool) = self.pool_of_identity(identity_id).await?;
        if identity.disabled {
            return Err(Error::identity_forbidden(identity_id));
        }
        for provider in providers_to_remove {
            if pool.developer_provider_name.as_deref() == Some(provider.as_str()) {
                return Err(Error::InvalidParameter(format!(
                    "{provider} is the developer provider of this pool; use UnlinkDeveloperIdentity."
                )));
            }
        }
        let verified = self.verify_logins(&pool, logins, LoginUse::Unlink).await?;
        let presented = verified.keys();
        for _ in 0..MAX_ATTEMPTS {
            let identity = self
                .store
                .get_identity(identity_id)
                .await?
                .ok_or_else(|| Error::identity_not_found(identity_id))?;
            if identity.disabled {
                return Err(Error::identity_forbidden(identity_id));
            }
            if presented.is_empty() || !presented.iter().all(|l| identity.logins.contains(l)) {
                return Err(Error::NotAuthorized(LOGINS_DONT_MATCH.into()));
            }
            let mut changes = IdentityChanges {
                pool_id: pool.id.clone(),
                now: self.clock.now_secs(),
                expect_versions: vec![(identity.id.clone(), identity.version)],
                ..Default::default()
            };
            for provider in providers_to_remove {
                let of_provider: Vec<&Login> = identity
                    .logins
                    .iter()
                    .filter(|l| &l.provider == provider)
                    .collect();
                if of_provider.is_empty() {
                    return Err(Error::ResourceConflict(format!(
                        "No {provider} login is linked to identity {identity_id}."
                    )));
                }
                for login in of_provider {
                    changes.unlinks.push((identity.id.clone(), login.clone()));
                }
            }
            if changes.unlinks.len() == identity.logins.len() {
                changes.disable.push(identity.id.clone());
            } else {
                changes.touch.push(identity.id.clone());
            }
            if self.try_apply(&changes).await? {
                return Ok(());
            }
        }
        Err(contended())
    }

    /// DescribeIdentity.
    pub async fn describe(&self, caller: &Caller, identity_id: &str) -> Result<Identity> {
        let action = Action::Call(Operation::DescribeIdentity);
        let (identity, _) = self
            .authorized_identity(caller, action, identity_id)
            .await?;
        Ok(identity)
    }

    /// Merges into and out of an identity, for apps that key data by id.
    pub async fn merges(&self, identity_id: &str) -> Result<Vec<MergeRecord>> {
        Ok(self.store.merges_of(identity_id).await?)
    }

    pub async fn list(
        &self,
        caller: &Caller,
        pool_id: &str,
        max_results: usize,
        next_token: Option<&str>,
        hide_disabled: bool,
    ) -> Result<(Vec<Identity>, Option<String>)> {
        self.authorized_pool(caller, Operation::ListIdentities, pool_id)
            .await?;
        let after = next_token.map(page_token::decode).transpose()?;
        let identities = self
            .store
            .list_identities(pool_id, hide_disabled, after.as_deref(), max_results + 1)
            .await?;
        Ok(cut_page(identities, max_results))
    }

    /// Identities of a pool in one state (the console's guest,
    /// authenticated and disabled filters), a page at a time; authorized as
    /// ListIdentities.
    pub async fn list_in_state(
        &self,
        caller: &Caller,
        pool_id: &str,
        state: IdentityState,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<(Vec<Identity>, Option<String>)> {
        self.authorized_pool(caller, Operation::ListIdentities, pool_id)
            .await?;
        let after = next_token.map(page_token::decode).transpose()?;
        let identities = self
            .store
            .list_identities_in_state(pool_id, state, after.as_deref(), max_results + 1)
            .await?;
        Ok(cut_page(identities, max_results))
    }

    /// The identity of a pool holding a login (provider and subject), for
    /// the console's search; authorized as ListIdentities. The developer
    /// provider's logins are found through LookupDeveloperIdentity.
    pub async fn owner_of_login(
        &self,
        caller: &Caller,
        pool_id: &str,
        login: &Login,
    ) -> Result<Option<String>> {
        let pool = self
            .authorized_pool(caller, Operation::ListIdentities, pool_id)
            .await?;
        // ListIdentities names providers, never subjects: a developer user
        // identifier is found only as LookupDeveloperIdentity allows.
        if pool.developer_provider_name.as_deref() == Some(login.provider.as_str()) {
            return Err(Error::InvalidParameter(format!(
                "{} is the developer provider of this pool; use LookupDeveloperIdentity.",
                login.provider
            )));
        }
        let owners = self
            .store
            .find_login_owners(pool_id, std::slice::from_ref(login))
            .await?;
        Ok(owners.into_iter().next().map(|(_, owner)| owner))
    }

    /// UnlinkIdentity as the administrator (the console): removes one
    /// login from an identity without the user's tokens, authorized as
    /// UnlinkIdentity on the identity's pool. The rules are UnlinkIdentity's:
    /// a disabled identity is forbidden, the developer provider's logins go
    /// through UnlinkDeveloperIdentity, and an identity left without logins
    /// is disabled.
    pub async fn unlink_as_admin(
        &self,
        caller: &Caller,
        identity_id: &str,
        login: &Login,
    ) -> Result<()> {
        let action = Action::Call(Operation::UnlinkIdentity);
        let (_, pool) = self
            .authorized_identity(caller, action, identity_id)
            .await?;
        if pool.developer_provider_name.as_deref() == Some(login.provider.as_str()) {
            return Err(Error::InvalidParameter(format!(
                "{} is the developer provider of this pool; use UnlinkDeveloperIdentity.",
                login.provider
            )));
        }
        for _ in 0..MAX_ATTEMPTS {
            let identity = self
                .store
                .get_identity(identity_id)
                .await?
                .ok_or_else(|| Error::identity_not_found(identity_id))?;
            if identity.disabled {
                return Err(Error::identity_forbidden(identity_id));
            }
            if !identity.logins.contains(login) {
                return Err(Error::ResourceConflict(format!(
                    "No {} login is linked to identity {identity_id}.",
                    login.provider
                )));
            }
            let mut changes = IdentityChanges {
                pool_id: pool.id.clone(),
                now: self.clock.now_secs(),
                expect_versions: vec![(identity.id.clone(), identity.version)],
                unlinks: vec![(identity.id.clone(), login.clone())],
                ..Default::default()
            };
            if identity.logins.len() == 1 {
                changes.disable.push(identity.id.clone());
            } else {
                changes.touch.push(identity.id.clone());
            }
            if self.try_apply(&changes).await? {
                return Ok(());
            }
        }
        Err(contended())
    }

    /// How many identities a pool has, counting no further than `cap`
    /// (for the console's list of pools; authorized as ListIdentities).
    pub async fn count(&self, caller: &Caller, pool_id: &str, cap: usize) -> Result<usize> {
        self.authorized_pool(caller, Operation::ListIdentities, pool_id)
            .await?;
        Ok(self.store.count_identities(pool_id, cap).await?)
    }

    /// DeleteIdentities: each identity is authorized on the pool it belongs
    /// to; one the caller may not delete is reported back as AccessDenied
    /// (as is an unknown id, unless the caller may delete everywhere, for
    /// whom it succeeds silently), a failure as InternalServerError.
    pub async fn delete(
        &self,
        caller: &Caller,
        ids: &[String],
    ) -> Result<Vec<(String, &'static str)>> {
        let action = Action::Call(Operation::DeleteIdentities);
        let mut unprocessed = Vec::new();
        for id in ids {
            let pool_id = match self.authorized_identity(caller, action, id).await {
                Ok((_, pool)) => pool.id.clone(),
                Err(Error::ResourceNotFound(_)) => continue,
                Err(Error::AccessDenied(_)) => {
                    unprocessed.push((id.clone(), "AccessDenied"));
                    continue;
                }
                Err(e) => {
                    tracing::error!(identity = %id, error = %e, "deleting an identity failed");
                    unprocessed.push((id.clone(), "InternalServerError"));
                    continue;
                }
            };
            match self.store.delete_identity(id).await {
                Ok(true) => self.audit.identity_deleted(Some(&pool_id), id),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(identity = %id, error = %e, "deleting an identity failed");
                    unprocessed.push((id.clone(), "InternalServerError"));
                }
            }
        }
        Ok(unprocessed)
    }

    /// Deletes guests unused for the configured time to live, in batches.
    pub async fn sweep_idle_guests(&self) -> Result<u64> {
        let Some(ttl) = self.config.guest_ttl_secs else {
            return Ok(0);
        };
        let before = self.clock.now_secs() - ttl;
        let mut total = 0;
        loop {
            let deleted = self.store.delete_idle_guests(before, 1000).await?;
            total += deleted;
            if deleted < 1000 {
                break;
            }
        }
        if total > 0 {
            self.audit.idle_guests_deleted(total);
        }
        Ok(total)
    }
}

/// A page of at most `max_results` out of `max_results + 1` read, and the
/// token of the next page when there was one more.
fn cut_page(mut identities: Vec<Identity>, max_results: usize) -> (Vec<Identity>, Option<String>) {
    let next = if identities.len() > max_results {
        identities.truncate(max_results);
        identities.last().map(|i| page_token::encode(&i.id))
    } else {
        None
    };
    (identities, next)
}
