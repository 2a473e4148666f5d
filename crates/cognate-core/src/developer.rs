//! Developer-authenticated identities: a backend, signed with IAM
//! credentials, maps its own user ids (logins of the pool's developer
//! provider) to identities, and links, merges and unlinks them explicitly.

use std::collections::{BTreeMap, BTreeSet};

use crate::access::Caller;
use crate::credentials::{amr, principal_tags};
use crate::error::{Error, Result};
use crate::identities::{MAX_ATTEMPTS, check_one_per_provider, contended};
use crate::logins::LoginUse;
use crate::model::{Identity, Login, MergeCause, MergeRecord, Pool};
use crate::operation::Operation;
use crate::service::facade;
use crate::service::{Cognate, page_token};
use crate::store::IdentityChanges;

/// Developer tokens live 15 minutes unless TokenDuration says otherwise.
pub const DEFAULT_TOKEN_DURATION_SECS: i64 = 900;

fn unsupported_provider() -> Error {
    Error::NotAuthorized(
        "This identity pool does not support the specified developer provider.".into(),
    )
}

fn developer_provider(pool: &Pool) -> Result<&str> {
    pool.developer_provider_name
        .as_deref()
        .ok_or_else(unsupported_provider)
}

/// The input of GetOpenIdTokenForDeveloperIdentity.
#[derive(Debug, Clone, Default)]
pub struct DeveloperTokenRequest {
    pub pool_id: String,
    pub identity_id: Option<String>,
    pub logins: BTreeMap<String, String>,
    pub principal_tags: BTreeMap<String, String>,
    pub token_duration: Option<i64>,
}

impl Cognate {
    /// The active identity holding a login, or ResourceNotFound. A login
    /// seen on an identity that is merged away meanwhile is looked up again.
    async fn owner_of(&self, pool: &Pool, login: &Login) -> Result<Identity> {
        for _ in 0..MAX_ATTEMPTS {
            let owner = self
                .store
                .find_login_owners(&pool.id, std::slice::from_ref(login))
                .await?
                .into_iter()
                .next()
                .map(|(_, id)| id);
            let Some(owner) = owner else {
                return Err(Error::ResourceNotFound(format!(
                    "Developer user identifier '{}' not found in identity pool {}.",
                    login.subject, pool.id
                )));
            };
            match self.store.get_identity(&owner).await? {
                Some(identity) if !identity.disabled && identity.logins.contains(login) => {
                    return Ok(identity);
                }
                _ => continue,
            }
        }
        Err(contended())
    }
}

facade!(
    /// Developer-authenticated identities: a backend maps its own user ids
    /// to identities and links, merges and unlinks them.
    Developer,
    developer
);

impl Developer<'_> {
    /// GetOpenIdTokenForDeveloperIdentity.
    pub async fn open_id_token(
        &self,
        caller: &Caller,
        request: &DeveloperTokenRequest,
    ) -> Result<(String, String)> {
        let view = self.config_view().await?;
        let pool = self
            .authorized_cached_pool(
                &view,
                caller,
                Operation::GetOpenIdTokenForDeveloperIdentity,
                &request.pool_id,
            )
            .await?;
        let dev = developer_provider(&pool)?.to_string();
        let user_id = request
            .logins
            .get(&dev)
            .ok_or_else(unsupported_provider)?
            .clone();
        let verified = self
            .verify_logins(&pool, &request.logins, LoginUse::Developer)
            .await?;
        let dev_login = Login {
            provider: dev.clone(),
            subject: user_id.clone(),
        };
        let mut presented = vec![dev_login.clone()];
        presented.extend(verified.keys());

        let mut resolved = None;
        for _ in 0..MAX_ATTEMPTS {
            let owner = self
                .store
                .find_login_owners(&pool.id, std::slice::from_ref(&dev_login))
                .await?
                .into_iter()
                .next()
                .map(|(_, id)| id);
            let target = match (&owner, &request.identity_id) {
                (Some(owner), Some(asked)) if owner != asked => {
                    return Err(Error::DeveloperUserAlreadyRegistered(
                        "Developer user identifier is already registered with Cognito under a different identity ID."
                            .into(),
                    ));
                }
                (Some(owner), _) => Some(owner.clone()),
                (None, asked) => asked.clone(),
            };
            match self
                .resolve(
                    &pool,
                    target.as_deref(),
                    &presented,
                    MergeCause::DeveloperLogin,
                )
                .await
            {
                // The owner we found was merged away meanwhile: look again.
                Err(Error::NotAuthorized(_))
                    if owner.is_some() && request.identity_id.is_none() =>
                {
                    continue;
                }
                other => {
                    resolved = Some(other?);
                    break;
                }
            }
        }
        let resolved = resolved.ok_or_else(contended)?;
        let mut amr = amr(&pool, &verified.logins);
        if amr.first().map(String::as_str) == Some("unauthenticated") {
            amr = vec!["authenticated".into()];
        }
        amr.push(dev.clone());
        amr.push(format!("{dev}:{}:{user_id}", pool.id));
        let mut tags = principal_tags(&pool, &verified.logins);
        tags.extend(request.principal_tags.clone());
        let lifetime = request
            .token_duration
            .unwrap_or(DEFAULT_TOKEN_DURATION_SECS);
        let token = self.sign_open_id_token(&pool, &resolved.identity.id, &amr, lifetime, &tags)?;
        Ok((resolved.identity.id, token))
    }

    /// LookupDeveloperIdentity: an identity and its developer user ids, by
    /// identity id, by user id, or both (which must agree).
    pub async fn lookup(
        &self,
        caller: &Caller,
        pool_id: &str,
        identity_id: Option<&str>,
        user_id: Option<&str>,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<(String, Vec<String>, Option<String>)> {
        let view = self.config_view().await?;
        let pool = self
            .authorized_cached_pool(&view, caller, Operation::LookupDeveloperIdentity, pool_id)
            .await?;
        let dev = developer_provider(&pool)?.to_string();
        let owner = match user_id {
            Some(user_id) => {
                let login = Login {
                    provider: dev.clone(),
                    subject: user_id.to_string(),
                };
                let owner = self
                    .store
                    .find_login_owners(&pool.id, &[login])
                    .await?
                    .into_iter()
                    .next()
                    .map(|(_, id)| id)
                    .ok_or_else(|| {
                        Error::ResourceNotFound(format!(
                            "Developer user identifier '{user_id}' not found in identity pool {pool_id}."
                        ))
                    })?;
                Some(owner)
            }
            None => None,
        };
        let identity_id = match (identity_id, owner) {
            (None, None) => {
                return Err(Error::InvalidParameter(
                    "Either IdentityId or DeveloperUserIdentifier must be specified.".into(),
                ));
            }
            (Some(asked), Some(owner)) if asked != owner => {
                return Err(Error::ResourceConflict(format!(
                    "Developer user identifier is linked to identity {owner}, not {asked}."
                )));
            }
            (Some(asked), _) => {
                let identity = self
                    .store
                    .get_identity(asked)
                    .await?
                    .filter(|i| i.pool_id == pool.id)
                    .ok_or_else(|| Error::identity_not_found(asked))?;
                identity.id
            }
            (None, Some(owner)) => owner,
        };
        let after = next_token.map(page_token::decode).transpose()?;
        let mut users = self
            .store
            .subjects_of(&identity_id, &dev, after.as_deref(), max_results + 1)
            .await?;
        let next = if users.len() > max_results {
            users.truncate(max_results);
            users.last().map(|u| page_token::encode(u))
        } else {
            None
        };
        Ok((identity_id, users, next))
    }

    /// MergeDeveloperIdentities: the source user's identity is merged into
    /// the destination user's; afterwards both user ids give the
    /// destination's identity id.
    pub async fn merge(
        &self,
        caller: &Caller,
        pool_id: &str,
        developer_provider_name: &str,
        source_user: &str,
        destination_user: &str,
    ) -> Result<String> {
        let view = self.config_view().await?;
        let pool = self
            .authorized_cached_pool(&view, caller, Operation::MergeDeveloperIdentities, pool_id)
            .await?;
        let dev = developer_provider(&pool)?.to_string();
        if dev != developer_provider_name {
            return Err(Error::InvalidParameter(format!(
                "{developer_provider_name} is not the developer provider of identity pool {pool_id}."
            )));
        }
        let login = |subject: &str| Login {
            provider: dev.clone(),
            subject: subject.to_string(),
        };
        for _ in 0..MAX_ATTEMPTS {
            let source = self.owner_of(&pool, &login(source_user)).await?;
            let destination = self.owner_of(&pool, &login(destination_user)).await?;
            if source.id == destination.id {
                return Ok(destination.id);
            }
            let mut all: BTreeSet<Login> = source.logins.iter().cloned().collect();
            all.extend(destination.logins.iter().cloned());
            check_one_per_provider(&all, Some(&dev))?;
            let now = self.clock.now_secs();
            let changes = IdentityChanges {
                pool_id: pool.id.clone(),
                now,
                expect_versions: vec![
                    (source.id.clone(), source.version),
                    (destination.id.clone(), destination.version),
                ],
                merges: vec![MergeRecord {
                    pool_id: pool.id.clone(),
                    from_identity: source.id.clone(),
                    to_identity: destination.id.clone(),
                    at: now,
                    cause: MergeCause::DeveloperMerge,
                }],
                ..Default::default()
            };
            if self.try_apply(&changes).await? {
                return Ok(destination.id);
            }
        }
        Err(contended())
    }

    /// UnlinkDeveloperIdentity: the user id is removed from the identity;
    /// seen again, it makes a new identity. An identity left without
    /// logins is inaccessible (disabled).
    pub async fn unlink(
        &self,
        caller: &Caller,
        pool_id: &str,
        identity_id: &str,
        developer_provider_name: &str,
        user_id: &str,
    ) -> Result<()> {
        let view = self.config_view().await?;
        let pool = self
            .authorized_cached_pool(&view, caller, Operation::UnlinkDeveloperIdentity, pool_id)
            .await?;
        let dev = developer_provider(&pool)?.to_string();
        if dev != developer_provider_name {
            return Err(Error::InvalidParameter(format!(
                "{developer_provider_name} is not the developer provider of identity pool {pool_id}."
            )));
        }
        let login = Login {
            provider: dev,
            subject: user_id.to_string(),
        };
        for _ in 0..MAX_ATTEMPTS {
            let identity = self
                .store
                .get_identity(identity_id)
                .await?
                .filter(|i| i.pool_id == pool.id)
                .ok_or_else(|| Error::identity_not_found(identity_id))?;
            if identity.disabled {
                return Err(Error::identity_forbidden(identity_id));
            }
            if !identity.logins.contains(&login) {
                let owner = self.owner_of(&pool, &login).await;
                return Err(match owner {
                    Ok(_) => Error::ResourceConflict(format!(
                        "Developer user identifier '{user_id}' is linked to another identity."
                    )),
                    Err(e) => e,
                });
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
            }
            if self.try_apply(&changes).await? {
                return Ok(());
            }
        }
        Err(contended())
    }
}
