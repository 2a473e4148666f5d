//! Identity pool administration: create, describe, update (replace),
//! delete, list, roles and role mappings, tags, principal-tag maps.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::access::{ANY_RESOURCE, Access, Action, Caller};
use crate::config_cache::ConfigView;
use crate::error::{Error, Result};
use crate::ids;
use crate::model::{CognitoProvider, Pool, PrincipalTagMap, RoleMapping, RoleMappingType};
use crate::operation::Operation;
use crate::service::facade;
use crate::service::{Cognate, page_token};

/// The social providers a pool may name in SupportedLoginProviders.
pub const NAMED_PROVIDERS: &[&str] = &[
    "graph.facebook.com",
    "accounts.google.com",
    "www.amazon.com",
    "appleid.apple.com",
    "api.twitter.com",
    "www.digits.com",
];

/// Mapping rules allowed per provider (service quota; the model says 400).
pub const MAX_RULES_PER_PROVIDER: usize = 25;
/// Pool tags allowed per pool.
pub const MAX_TAGS: usize = 50;

/// The settings of a pool that CreateIdentityPool and UpdateIdentityPool
/// take. Update replaces: what is absent is reset to its default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSettings {
    pub name: String,
    pub allow_unauthenticated: bool,
    pub allow_classic_flow: Option<bool>,
    pub supported_login_providers: BTreeMap<String, String>,
    pub developer_provider_name: Option<String>,
    pub open_id_connect_provider_arns: Vec<String>,
    pub cognito_identity_providers: Vec<CognitoProvider>,
    pub saml_provider_arns: Vec<String>,
    /// None keeps the tags on update.
    pub tags: Option<BTreeMap<String, String>>,
}

impl Cognate {
    /// The pool `operation` acts on, through the cache, once `caller` may
    /// (as `authorized_pool`).
    pub(crate) async fn authorized_cached_pool(
        &self,
        view: &ConfigView,
        caller: &Caller,
        operation: Operation,
        id: &str,
    ) -> Result<Arc<Pool>> {
        let pool = self
            .cached_pool(view, id)
            .await?
            .filter(|pool| caller.sees(pool));
        let mut access = Access::new(operation, caller.pool_arn(id));
        if let Some(pool) = &pool {
            access = access.resource_tags(&pool.tags);
        }
        self.authorize_access(caller, access).await?;
        pool.ok_or_else(|| crate::error::Error::pool_not_found(id))
    }
}

impl Cognate {
    /// The pool `operation` acts on, once `caller` may: authorized on the
    /// ARN its id gives (with the pool's tags, if it exists), then
    /// answered from the caller's account (or ResourceNotFound).
    pub(crate) async fn authorized_pool(
        &self,
        caller: &Caller,
        operation: Operation,
        id: &str,
    ) -> Result<Pool> {
        self.authorized_pool_for(caller, Access::new(operation, caller.pool_arn(id)), id)
            .await
    }

    /// As `authorized_pool`, for an access that carries request keys.
    async fn authorized_pool_for(&self, caller: &Caller, access: Access, id: &str) -> Result<Pool> {
        let pool = self
            .store
            .get_pool(id)
            .await?
            .filter(|pool| caller.sees(pool));
        let access = match &pool {
            Some(pool) => access.resource_tags(&pool.tags),
            None => access,
        };
        self.authorize_access(caller, access).await?;
        pool.ok_or_else(|| Error::pool_not_found(id))
    }

    /// The pool a tagging operation's `ResourceArn` names, authorized on
    /// that ARN (`access`, with the pool's tags): the ARN of the pool as
    /// the store holds it, or no pool.
    async fn pool_by_arn(&self, caller: &Caller, access: Access, arn: &str) -> Result<Pool> {
        let (region, account, pool_id) = crate::arn::parse_pool_arn(arn)
            .ok_or_else(|| Error::InvalidParameter(format!("Invalid identity pool ARN: {arn}")))?;
        let pool =
            self.store.get_pool(pool_id).await?.filter(|pool| {
                caller.sees(pool) && pool.account == account && pool.region == region
            });
        let access = match &pool {
            Some(pool) => access.resource_tags(&pool.tags),
            None => access,
        };
        self.authorize_access(caller, access).await?;
        pool.ok_or_else(|| Error::ResourceNotFound(format!("Resource {arn} not found.")))
    }

    async fn save_pool(&self, mut pool: Pool, read_version: i64) -> Result<Pool> {
        pool.version = read_version + 1;
        pool.updated_at = self.clock.now_secs();
        self.store
            .update_pool(&pool, read_version)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => Error::pool_not_found(&pool.id),
                crate::store::StoreError::Conflict(_) => Error::ConcurrentModification(
                    "The identity pool was modified concurrently; retry the request.".into(),
                ),
                other => other.into(),
            })?;
        self.audit.pool_changed("pool_updated", &pool);
        Ok(pool)
    }

    async fn check_pool_settings(
        &self,
        caller: &Caller,
        settings: &PoolSettings,
        current: Option<&Pool>,
    ) -> Result<()> {
        for key in settings.supported_login_providers.keys() {
            if !NAMED_PROVIDERS.contains(&key.as_str()) {
                return Err(Error::InvalidParameter(format!(
                    "Invalid login provider: {key}. SupportedLoginProviders accepts {}.",
                    NAMED_PROVIDERS.join(", ")
                )));
            }
        }
        if let (Some(current), Some(wanted)) = (current, &settings.developer_provider_name)
            && let Some(existing) = &current.developer_provider_name
            && existing != wanted
        {
            return Err(Error::InvalidParameter(
                "Cannot modify the DeveloperProviderName of an identity pool once it is set."
                    .into(),
            ));
        }
        if let Some(dev) = &settings.developer_provider_name {
            if dev == "cognito-identity.amazonaws.com" || NAMED_PROVIDERS.contains(&dev.as_str()) {
                return Err(Error::InvalidParameter(format!(
                    "DeveloperProviderName {dev} is reserved."
                )));
            }
            let owner = self
                .store
                .pool_by_developer_provider(&caller.account, &caller.region, dev)
                .await?;
            if let Some(owner) = owner
                && current.is_none_or(|c| c.id != owner)
            {
                return Err(Error::ResourceConflict(format!(
                    "DeveloperProviderName {dev} is already used by another identity pool."
                )));
            }
        }
        for arn in &settings.open_id_connect_provider_arns {
            let provider = self.store.get_oidc_provider(arn).await?;
            if provider.is_none_or(|p| p.account != caller.account) {
                return Err(Error::InvalidParameter(format!(
                    "Invalid OpenIdConnectProviderARN: {arn} does not exist."
                )));
            }
        }
        for arn in &settings.saml_provider_arns {
            let provider = self.store.get_saml_provider(arn).await?;
            if provider.is_none_or(|p| p.account != caller.account) {
                return Err(Error::InvalidParameter(format!(
                    "Invalid SamlProviderARN: {arn} does not exist."
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for provider in &settings.cognito_identity_providers {
            if !is_user_pool_provider_name(&provider.provider_name) {
                return Err(Error::InvalidParameter(format!(
                    "Invalid Cognito Identity Provider name: {}. Expected cognito-idp.<region>.amazonaws.com/<userPoolId>.",
                    provider.provider_name
                )));
            }
            if !seen.insert((&provider.provider_name, &provider.client_id)) {
                return Err(Error::InvalidParameter(format!(
                    "Duplicate Cognito Identity Provider: {} with client {}.",
                    provider.provider_name, provider.client_id
                )));
            }
        }
        Ok(())
    }
}

/// Whether a name may be given as a `CognitoIdentityProviders` entry:
/// Cognito's `cognito-idp.<region>.amazonaws.com/<region>_<id>`, or a user
/// pool on this machine, `<loopback host>[:<port>]/<pool id>`. The second is
/// what a local user-pool emulator such as cognito-local issues
/// (`iss = http://localhost:9229/local_AbC123`, so Amplify sends the Logins
/// key `localhost:9229/local_AbC123`), and the verifier expects exactly that
/// issuer, `http://<name>`, for a loopback name. Only the entry's shape is
/// checked here: whether a Logins key is a user pool is decided by the
/// pool's configuration ([`Pool::names_user_pool`]), never by its name.
pub fn is_user_pool_provider_name(name: &str) -> bool {
    is_cognito_user_pool_name(name) || is_loopback_user_pool_name(name)
}

/// `cognito-idp.<region>.amazonaws.com/<region>_<id>`.
fn is_cognito_user_pool_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("cognito-idp.") else {
        return false;
    };
    let Some((region, pool)) = rest.split_once(".amazonaws.com/") else {
        return false;
    };
    !region.is_empty()
        && pool
            .split_once('_')
            .is_some_and(|(r, id)| r == region && !id.is_empty())
}

/// `<host>[:<port>]/<pool id>` where the host is loopback under the one
/// rule the verifiers apply ([`crate::federation::is_loopback_host`]):
/// `localhost` (or a name under it) or `127.0.0.0/8` written as four
/// numbers; the port 1 to 65535;
/// the pool id shaped like a user pool id (`[\w-]+_[0-9A-Za-z]+`, e.g.
/// cognito-local's `local_AbC123`). An IPv6 host cannot be written: the
/// name's pattern (`[\w._:/-]+`) has no brackets.
fn is_loopback_user_pool_name(name: &str) -> bool {
    let Some((authority, pool_id)) = name.split_once('/') else {
        return false;
    };
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    let host_ok = host.parse::<std::net::Ipv4Addr>().is_ok()
        || host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let pool_ok = pool_id.rsplit_once('_').is_some_and(|(prefix, id)| {
        !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    port_ok && host_ok && crate::federation::is_loopback_host(host) && pool_ok
}

/// Whether a provider name (or user-pool `<provider>:<clientId>` role
/// mapping key) is configured on the pool.
pub fn provider_configured(pool: &Pool, key: &str) -> bool {
    if pool.supported_login_providers.contains_key(key)
        || pool
            .open_id_connect_provider_arns
            .iter()
            .any(|arn| crate::arn::oidc_arn_host_path(arn) == Some(key))
        || pool.saml_provider_arns.iter().any(|arn| arn == key)
        || pool.cognito_identity_providers.iter().any(|p| {
            p.provider_name == key || format!("{}:{}", p.provider_name, p.client_id) == key
        })
    {
        return true;
    }
    false
}

fn check_role_mapping(pool: &Pool, provider: &str, mapping: &RoleMapping) -> Result<()> {
    if !provider_configured(pool, provider) {
        return Err(Error::InvalidParameter(format!(
            "The provider {provider} in RoleMappings is not configured for this identity pool."
        )));
    }
    if mapping.ambiguous_role_resolution.is_none() {
        return Err(Error::InvalidParameter(format!(
            "AmbiguousRoleResolution must be specified for the role mapping of {provider}."
        )));
    }
    match mapping.mapping_type {
        RoleMappingType::Token => {
            if mapping.rules.as_ref().is_some_and(|r| !r.is_empty()) {
                return Err(Error::InvalidParameter(format!(
                    "RulesConfiguration must not be specified for a Token role mapping ({provider})."
                )));
            }
        }
        RoleMappingType::Rules => {
            let rules = mapping.rules.as_ref().ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "RulesConfiguration is required for a Rules role mapping ({provider})."
                ))
            })?;
            if rules.is_empty() {
                return Err(Error::InvalidParameter(format!(
                    "RulesConfiguration must contain at least one rule ({provider})."
                )));
            }
            if rules.len() > MAX_RULES_PER_PROVIDER {
                return Err(Error::InvalidParameter(format!(
                    "A role mapping may have at most {MAX_RULES_PER_PROVIDER} rules; {provider} has {}.",
                    rules.len()
                )));
            }
            for rule in rules {
                if crate::arn::parse_role_arn(&rule.role_arn).is_none() {
                    return Err(Error::InvalidParameter(format!(
                        "Role ARN {} in the rules of {provider} is not a valid role ARN.",
                        rule.role_arn
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_tag_count(n: usize) -> Result<()> {
    if n > MAX_TAGS {
        return Err(Error::InvalidParameter(format!(
            "An identity pool can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

/// Tag keys are compared without case, as IAM compares them (and as
/// policies name `aws:RequestTag/<key>`), so one request cannot give two
/// spellings of one key.
fn check_tag_keys<'a>(keys: impl IntoIterator<Item = &'a String>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for key in keys {
        if !seen.insert(key.to_lowercase()) {
            return Err(Error::InvalidParameter(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    Ok(())
}

/// Whether two tag keys are one key.
fn same_tag_key(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// The attributes AWS maps when UseDefaults is set.
pub fn default_principal_tags(provider: &str) -> BTreeMap<String, String> {
    let (client, username) = match provider {
        "graph.facebook.com" => ("app_id", "id"),
        "www.amazon.com" => ("aud", "user_id"),
        _ => ("aud", "sub"),
    };
    BTreeMap::from([
        ("client".to_string(), client.to_string()),
        ("username".to_string(), username.to_string()),
    ])
}

facade!(
    /// Identity pool administration: create, describe, update, delete,
    /// list, roles and role mappings, tags, principal-tag maps.
    Pools,
    pools
);

impl Pools<'_> {
    pub async fn create(&self, caller: &Caller, settings: PoolSettings) -> Result<Pool> {
        let id = ids::regional_uuid(&caller.region);
        self.create_as(caller, id, settings).await
    }

    /// CreateIdentityPool with the id chosen by the operator
    /// (`<region>:<uuid>`, the caller's region), so that a pool declared
    /// in a file keeps its id across deployments and app configs stay the
    /// same. Not on the wire: AWS chooses ids.
    pub async fn create_pinned(
        &self,
        caller: &Caller,
        id: &str,
        settings: PoolSettings,
    ) -> Result<Pool> {
        // The region becomes part of the pool's ARNs and its identities'
        // ids: the configured one or one of AWS's, as a signed call's.
        let region_known = caller.region == self.config.default_region
            || ids::AWS_REGIONS.contains(&caller.region.as_str());
        let uuid = id
            .strip_prefix(caller.region.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
            .filter(|_| region_known);
        if !uuid.is_some_and(|u| {
            uuid::Uuid::parse_str(u).is_ok_and(|p| p.hyphenated().to_string() == u)
        }) {
            return Err(Error::InvalidParameter(format!(
                "IdentityPoolId {id} must be <region>:<uuid> (lower-case, hyphenated), in the configured region ({}) or one of AWS's.",
                self.config.default_region
            )));
        }
        if self.store.get_pool(id).await?.is_some() {
            return Err(Error::ResourceConflict(format!(
                "An identity pool with id {id} already exists."
            )));
        }
        self.create_as(caller, id.to_string(), settings).await
    }

    async fn create_as(&self, caller: &Caller, id: String, settings: PoolSettings) -> Result<Pool> {
        check_tag_keys(settings.tags.iter().flatten().map(|(k, _)| k))?;
        let tags = settings.tags.iter().flatten().map(|(k, v)| (k, Some(v)));
        self.authorize_access(
            caller,
            Access::new(Operation::CreateIdentityPool, ANY_RESOURCE).request_tags(tags),
        )
        .await?;
        self.check_pool_settings(caller, &settings, None).await?;
        let now = self.clock.now_secs();
        let tags = settings.tags.clone().unwrap_or_default();
        check_tag_count(tags.len())?;
        let pool = Pool {
            id,
            account: caller.account.clone(),
            region: caller.region.clone(),
            name: settings.name,
            allow_unauthenticated: settings.allow_unauthenticated,
            allow_classic_flow: settings.allow_classic_flow,
            supported_login_providers: settings.supported_login_providers,
            developer_provider_name: settings.developer_provider_name,
            open_id_connect_provider_arns: settings.open_id_connect_provider_arns,
            cognito_identity_providers: settings.cognito_identity_providers,
            saml_provider_arns: settings.saml_provider_arns,
            tags,
            roles: BTreeMap::new(),
            role_mappings: BTreeMap::new(),
            principal_tag_maps: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.store
            .insert_pool(&pool, self.config.max_pools_per_region)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::LimitExceeded(_) => Error::LimitExceeded(format!(
                    "You have reached the limit of {} identity pools in this account and region.",
                    self.config.max_pools_per_region
                )),
                other => other.into(),
            })?;
        self.audit.pool_changed("pool_created", &pool);
        Ok(pool)
    }

    /// DescribeIdentityPool.
    pub async fn describe(&self, caller: &Caller, id: &str) -> Result<Pool> {
        self.authorized_pool(caller, Operation::DescribeIdentityPool, id)
            .await
    }

    /// GetIdentityPoolRoles: the pool, for its roles and role mappings.
    pub async fn roles(&self, caller: &Caller, id: &str) -> Result<Pool> {
        self.authorized_pool(caller, Operation::GetIdentityPoolRoles, id)
            .await
    }

    pub async fn update(&self, caller: &Caller, id: &str, settings: PoolSettings) -> Result<Pool> {
        check_tag_keys(settings.tags.iter().flatten().map(|(k, _)| k))?;
        let mut access = Access::new(Operation::UpdateIdentityPool, caller.pool_arn(id));
        if let Some(tags) = &settings.tags {
            access = access.request_tags(tags.iter().map(|(k, v)| (k, Some(v))));
        }
        let current = self.authorized_pool_for(caller, access, id).await?;
        self.check_pool_settings(caller, &settings, Some(&current))
            .await?;
        let mut pool = current.clone();
        pool.name = settings.name;
        pool.allow_unauthenticated = settings.allow_unauthenticated;
        pool.allow_classic_flow = settings.allow_classic_flow;
        pool.supported_login_providers = settings.supported_login_providers;
        // Omitting the developer provider name keeps it: it is immutable.
        if settings.developer_provider_name.is_some() {
            pool.developer_provider_name = settings.developer_provider_name;
        }
        pool.open_id_connect_provider_arns = settings.open_id_connect_provider_arns;
        pool.cognito_identity_providers = settings.cognito_identity_providers;
        pool.saml_provider_arns = settings.saml_provider_arns;
        if let Some(tags) = settings.tags {
            check_tag_count(tags.len())?;
            pool.tags = tags;
        }
        // Role mappings must keep naming configured providers.
        let mut mappings = std::mem::take(&mut pool.role_mappings);
        mappings.retain(|key, _| provider_configured(&pool, key));
        pool.role_mappings = mappings;
        self.save_pool(pool, current.version).await
    }

    pub async fn delete(&self, caller: &Caller, id: &str) -> Result<()> {
        self.authorized_pool(caller, Operation::DeleteIdentityPool, id)
            .await?;
        if self.store.delete_pool(id).await? {
            self.audit.pool_deleted(&caller.account, id);
            Ok(())
        } else {
            Err(Error::pool_not_found(id))
        }
    }

    /// One page of the caller's pools and the token of the next page.
    pub async fn list(
        &self,
        caller: &Caller,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<(Vec<Pool>, Option<String>)> {
        self.authorize(caller, Operation::ListIdentityPools, ANY_RESOURCE)
            .await?;
        let after = next_token.map(page_token::decode).transpose()?;
        let mut pools = self
            .store
            .list_pools(
                &caller.account,
                &caller.region,
                after.as_deref(),
                max_results + 1,
            )
            .await?;
        let next = if pools.len() > max_results {
            pools.truncate(max_results);
            pools.last().map(|p| page_token::encode(&p.id))
        } else {
            None
        };
        Ok((pools, next))
    }

    /// SetIdentityPoolRoles. Attaching a role hands it to the service, so
    /// the caller must also be allowed `iam:PassRole` on every role it
    /// names, defaults and mapping rules alike, as in AWS.
    pub async fn set_roles(
        &self,
        caller: &Caller,
        id: &str,
        roles: BTreeMap<String, String>,
        role_mappings: BTreeMap<String, RoleMapping>,
    ) -> Result<()> {
        let current = self
            .authorized_pool(caller, Operation::SetIdentityPoolRoles, id)
            .await?;
        let mapped = role_mappings
            .values()
            .flat_map(|m| m.rules.iter().flatten())
            .map(|rule| &rule.role_arn);
        let mut passed: Vec<&String> = roles.values().chain(mapped).collect();
        passed.sort();
        passed.dedup();
        for role_arn in passed {
            let access = Access::new(Action::PassRole, role_arn.as_str())
                .key("iam:PassedToService", "cognito-identity.amazonaws.com");
            self.authorize_access(caller, access).await?;
        }
        for (key, arn) in &roles {
            if key != "authenticated" && key != "unauthenticated" {
                return Err(Error::InvalidParameter(format!(
                    "Roles key '{key}' must be 'authenticated' or 'unauthenticated'."
                )));
            }
            if crate::arn::parse_role_arn(arn).is_none() {
                return Err(Error::InvalidParameter(format!(
                    "Role ARN {arn} is not a valid role ARN."
                )));
            }
        }
        for (provider, mapping) in &role_mappings {
            check_role_mapping(&current, provider, mapping)?;
        }
        let mut pool = current.clone();
        pool.roles = roles;
        pool.role_mappings = role_mappings;
        self.save_pool(pool, current.version).await.map(|_| ())
    }

    pub async fn tag(
        &self,
        caller: &Caller,
        arn: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        check_tag_keys(tags.keys())?;
        let access = Access::new(Operation::TagResource, arn)
            .request_tags(tags.iter().map(|(k, v)| (k, Some(v))));
        let current = self.pool_by_arn(caller, access, arn).await?;
        let mut pool = current.clone();
        // A key given in another spelling replaces the tag.
        pool.tags
            .retain(|k, _| !tags.keys().any(|new| same_tag_key(k, new)));
        pool.tags.extend(tags);
        check_tag_count(pool.tags.len())?;
        self.save_pool(pool, current.version).await.map(|_| ())
    }

    pub async fn untag(&self, caller: &Caller, arn: &str, keys: &[String]) -> Result<()> {
        let access =
            Access::new(Operation::UntagResource, arn).request_tags(keys.iter().map(|k| (k, None)));
        let current = self.pool_by_arn(caller, access, arn).await?;
        let mut pool = current.clone();
        pool.tags
            .retain(|k, _| !keys.iter().any(|gone| same_tag_key(k, gone)));
        self.save_pool(pool, current.version).await.map(|_| ())
    }

    pub async fn tags(&self, caller: &Caller, arn: &str) -> Result<BTreeMap<String, String>> {
        let access = Access::new(Operation::ListTagsForResource, arn);
        Ok(self.pool_by_arn(caller, access, arn).await?.tags)
    }

    pub async fn set_principal_tag_map(
        &self,
        caller: &Caller,
        id: &str,
        provider: &str,
        use_defaults: bool,
        tags: BTreeMap<String, String>,
    ) -> Result<PrincipalTagMap> {
        let current = self
            .authorized_pool(caller, Operation::SetPrincipalTagAttributeMap, id)
            .await?;
        if !provider_configured(&current, provider) {
            return Err(Error::InvalidParameter(format!(
                "Provider {provider} is not configured for identity pool {id}."
            )));
        }
        let mut pool = current.clone();
        let map = if use_defaults {
            PrincipalTagMap {
                use_defaults: true,
                tags: default_principal_tags(provider),
            }
        } else {
            PrincipalTagMap {
                use_defaults: false,
                tags,
            }
        };
        if !map.use_defaults && map.tags.is_empty() {
            pool.principal_tag_maps.remove(provider);
        } else {
            pool.principal_tag_maps
                .insert(provider.to_string(), map.clone());
        }
        self.save_pool(pool, current.version).await?;
        Ok(map)
    }

    pub async fn principal_tag_map(
        &self,
        caller: &Caller,
        id: &str,
        provider: &str,
    ) -> Result<PrincipalTagMap> {
        let pool = self
            .authorized_pool(caller, Operation::GetPrincipalTagAttributeMap, id)
            .await?;
        pool.principal_tag_maps
            .get(provider)
            .cloned()
            .ok_or_else(|| {
                Error::ResourceNotFound(format!(
                    "No principal tag attribute map for provider {provider} in identity pool {id}."
                ))
            })
    }
}
