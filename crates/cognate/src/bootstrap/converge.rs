//! Bringing a deployment to what a bootstrap file declares, through the
//! domain's own operations (so every entry gets the validation, and the
//! error wording, of the AWS call that would make it).
//!
//! Entities are found by their natural keys: managed policies and roles by
//! name, OIDC providers by URL, SAML providers by name, pools by pinned id
//! or else by name. A declared entity is made exactly as declared (its
//! inline policies, attachments, tags, roles and mappings included);
//! entities the file does not name are left alone unless pruning.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use cognate_core::access::Caller;
use cognate_core::iam::{NewPolicy, NewRole, PolicyFilter};
use cognate_core::model::{CognitoProvider, MappingRule, Pool, PrincipalTagMap, Role, RoleMapping};
use cognate_core::operation::Service;
use cognate_core::pools::{PoolSettings, default_principal_tags};
use cognate_core::{Cognate, Error};
use cognate_server::wire_error::{ApiError, Protocol};

use super::file::{Bootstrap, PoolEntry, RoleEntry};

/// The namespace of the ids of pools a file declares without one.
const BOOTSTRAP_POOLS: uuid::Uuid =
    uuid::Uuid::from_u128(0x6c0e_4a1e_2b7d_4f0a_9a55_1d3c_8e2f_b001);

/// One thing applying did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub verb: Verb,
    /// What it acts on: `role guest`, `identity pool app (us-east-1:…)`.
    pub subject: String,
    /// What changed in an update.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Delete,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.verb {
            Verb::Create => "+ create",
            Verb::Update => "~ update",
            Verb::Delete => "- delete",
        };
        write!(f, "{sign} {}", self.subject)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details.join(", "))?;
        }
        Ok(())
    }
}

/// An entry the deployment refused, in the words of the AWS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry}: {code}: {message}")]
pub struct EntryError {
    /// The entry: `Roles[1] (guest)`.
    pub entry: String,
    pub code: String,
    pub message: String,
}

impl EntryError {
    fn new(entry: &str, service: Service, error: &Error) -> EntryError {
        let protocol = match service {
            Service::CognitoIdentity => Protocol::Json,
            other => Protocol::Query(other),
        };
        let wire = ApiError::from_domain(error, protocol);
        EntryError {
            entry: entry.to_string(),
            code: wire.code.to_string(),
            message: wire.message,
        }
    }

    fn invalid(entry: &str, message: String) -> EntryError {
        EntryError {
            entry: entry.to_string(),
            code: "ValidationError".into(),
            message,
        }
    }
}

/// Converges `domain` on `file`; `prune` also deletes what the file does
/// not name. Stops at the first refused entry.
pub async fn converge(
    domain: &Cognate,
    file: &Bootstrap,
    prune: bool,
) -> Result<Vec<Change>, EntryError> {
    let config = domain.config();
    let root = Caller::root(&config.account, &config.default_region);
    let mut run = Run {
        domain,
        root,
        changes: Vec::new(),
    };
    run.check_unique(file)?;
    run.managed_policies(file).await?;
    run.oidc_providers(file).await?;
    run.saml_providers(file).await?;
    run.roles(file).await?;
    run.pools(file, prune).await?;
    if prune {
        run.prune_roles(file).await?;
        run.prune_managed_policies(file).await?;
        run.prune_providers(file).await?;
    }
    Ok(run.changes)
}

struct Run<'a> {
    domain: &'a Cognate,
    root: Caller,
    changes: Vec<Change>,
}

fn iam_error(entry: &str) -> impl Fn(Error) -> EntryError + '_ {
    move |e| EntryError::new(entry, Service::Iam, &e)
}

fn cognito_error(entry: &str) -> impl Fn(Error) -> EntryError + '_ {
    move |e| EntryError::new(entry, Service::CognitoIdentity, &e)
}

impl Run<'_> {
    fn record(&mut self, verb: Verb, subject: String, details: Vec<String>) {
        self.changes.push(Change {
            verb,
            subject,
            details,
        });
    }

    /// Two entries for one entity would fight each other.
    fn check_unique(&self, file: &Bootstrap) -> Result<(), EntryError> {
        fn first_repeat(
            names: impl Iterator<Item = (usize, String)>,
            list: &str,
        ) -> Result<(), EntryError> {
            let mut seen = BTreeSet::new();
            for (index, name) in names {
                if !seen.insert(name.to_lowercase()) {
                    return Err(EntryError::invalid(
                        &format!("{list}[{index}] ({name})"),
                        format!("{name} is declared twice."),
                    ));
                }
            }
            Ok(())
        }
        let indexed = |names: Vec<String>| names.into_iter().enumerate();
        first_repeat(
            indexed(
                file.managed_policies
                    .iter()
                    .map(|p| p.policy_name.clone())
                    .collect(),
            ),
            "ManagedPolicies",
        )?;
        first_repeat(
            indexed(file.roles.iter().map(|r| r.role_name.clone()).collect()),
            "Roles",
        )?;
        first_repeat(
            indexed(
                file.oidc_providers
                    .iter()
                    .map(|p| cognate_core::arn::strip_scheme(&p.url).to_string())
                    .collect(),
            ),
            "OpenIDConnectProviders",
        )?;
        first_repeat(
            indexed(file.saml_providers.iter().map(|p| p.name.clone()).collect()),
            "SAMLProviders",
        )?;
        first_repeat(
            file.identity_pools.iter().enumerate().map(|(i, p)| {
                (
                    i,
                    p.identity_pool_id
                        .clone()
                        .unwrap_or_else(|| format!("name {}", p.identity_pool_name)),
                )
            }),
            "IdentityPools",
        )
    }

    async fn all_managed_policies(&self) -> Result<Vec<cognate_core::model::ManagedPolicy>, Error> {
        let iam = self.domain.iam();
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) = iam
                .list_policies(&self.root, &PolicyFilter::default(), 100, marker.as_deref())
                .await?;
            all.extend(page);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(all),
            }
        }
    }

    async fn all_roles(&self) -> Result<Vec<Role>, Error> {
        let iam = self.domain.iam();
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) = iam
                .list_roles(&self.root, None, 100, marker.as_deref())
                .await?;
            all.extend(page);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(all),
            }
        }
    }

    async fn all_pools(&self, caller: &Caller) -> Result<Vec<Pool>, Error> {
        let pools = self.domain.pools();
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = pools.list(caller, 60, token.as_deref()).await?;
            all.extend(page);
            match next {
                Some(next) => token = Some(next),
                None => return Ok(all),
            }
        }
    }

    async fn managed_policies(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let iam = self.domain.iam();
        let existing = self
            .all_managed_policies()
            .await
            .map_err(iam_error("ManagedPolicies"))?;
        for (index, entry) in file.managed_policies.iter().enumerate() {
            let name = &entry.policy_name;
            let at = format!("ManagedPolicies[{index}] ({name})");
            let path = entry.path.clone().unwrap_or_else(|| "/".into());
            let current = existing.iter().find(|p| p.name.eq_ignore_ascii_case(name));
            let Some(current) = current else {
                iam.create_policy(
                    &self.root,
                    NewPolicy {
                        name: name.clone(),
                        path: Some(path),
                        document: entry.policy_document.text(),
                        description: entry.description.clone(),
                        tags: BTreeMap::new(),
                    },
                )
                .await
                .map_err(iam_error(&at))?;
                self.record(Verb::Create, format!("managed policy {name}"), vec![]);
                continue;
            };
            if current.path != path {
                return Err(EntryError::invalid(
                    &at,
                    format!(
                        "Policy {name} has the path {}; a path is part of the ARN and cannot change.",
                        current.path
                    ),
                ));
            }
            let same = current
                .default_document()
                .is_some_and(|doc| entry.policy_document.same_as(doc));
            if !same {
                // IAM keeps five versions: the oldest non-default one
                // makes room, as `aws iam create-policy-version` users do.
                if current.versions.len() >= cognate_core::iam::MAX_POLICY_VERSIONS {
                    self.drop_oldest_version(current, &at).await?;
                }
                iam.create_policy_version(
                    &self.root,
                    &current.arn,
                    &entry.policy_document.text(),
                    true,
                )
                .await
                .map_err(iam_error(&at))?;
                self.record(
                    Verb::Update,
                    format!("managed policy {name}"),
                    vec!["document (new default version)".into()],
                );
            }
        }
        Ok(())
    }

    /// DeletePolicyVersion of the oldest version that is not the
    /// default.
    async fn drop_oldest_version(
        &self,
        policy: &cognate_core::model::ManagedPolicy,
        at: &str,
    ) -> Result<(), EntryError> {
        let Some(oldest) = policy
            .versions
            .iter()
            .find(|v| v.version_id != policy.default_version_id)
        else {
            return Ok(());
        };
        self.domain
            .iam()
            .delete_policy_version(&self.root, &policy.arn, &oldest.version_id)
            .await
            .map_err(iam_error(at))
    }

    async fn oidc_providers(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let iam = self.domain.iam();
        let existing = iam
            .list_oidc_providers(&self.root)
            .await
            .map_err(iam_error("OpenIDConnectProviders"))?;
        for (index, entry) in file.oidc_providers.iter().enumerate() {
            let key = cognate_core::arn::strip_scheme(&entry.url);
            let at = format!("OpenIDConnectProviders[{index}] ({key})");
            let Some(current) = existing.iter().find(|p| p.host_path() == key) else {
                iam.create_oidc_provider(
                    &self.root,
                    &entry.url,
                    entry.client_id_list.clone(),
                    entry.thumbprint_list.clone(),
                )
                .await
                .map_err(iam_error(&at))?;
                self.record(Verb::Create, format!("OIDC provider {key}"), vec![]);
                continue;
            };
            let mut details = Vec::new();
            for client in &entry.client_id_list {
                if !current.client_ids.contains(client) {
                    iam.add_oidc_client_id(&self.root, &current.arn, client)
                        .await
                        .map_err(iam_error(&at))?;
                    details.push(format!("client id {client} added"));
                }
            }
            for client in &current.client_ids {
                if !entry.client_id_list.contains(client) {
                    iam.remove_oidc_client_id(&self.root, &current.arn, client)
                        .await
                        .map_err(iam_error(&at))?;
                    details.push(format!("client id {client} removed"));
                }
            }
            if !details.is_empty() {
                self.record(Verb::Update, format!("OIDC provider {key}"), details);
            }
        }
        Ok(())
    }

    async fn saml_providers(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let iam = self.domain.iam();
        let existing = iam
            .list_saml_providers(&self.root)
            .await
            .map_err(iam_error("SAMLProviders"))?;
        for (index, entry) in file.saml_providers.iter().enumerate() {
            let name = &entry.name;
            let at = format!("SAMLProviders[{index}] ({name})");
            match existing.iter().find(|p| &p.name == name) {
                None => {
                    iam.create_saml_provider(
                        &self.root,
                        name,
                        &entry.saml_metadata_document,
                        BTreeMap::new(),
                    )
                    .await
                    .map_err(iam_error(&at))?;
                    self.record(Verb::Create, format!("SAML provider {name}"), vec![]);
                }
                Some(current) if current.metadata != entry.saml_metadata_document => {
                    iam.update_saml_provider(
                        &self.root,
                        &current.arn,
                        &entry.saml_metadata_document,
                    )
                    .await
                    .map_err(iam_error(&at))?;
                    self.record(
                        Verb::Update,
                        format!("SAML provider {name}"),
                        vec!["metadata".into()],
                    );
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn roles(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let existing = self.all_roles().await.map_err(iam_error("Roles"))?;
        for (index, entry) in file.roles.iter().enumerate() {
            let at = format!("Roles[{index}] ({})", entry.role_name);
            let current = existing
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(&entry.role_name));
            self.role(entry, current, &at).await?;
        }
        Ok(())
    }

    async fn role(
        &mut self,
        entry: &RoleEntry,
        current: Option<&Role>,
        at: &str,
    ) -> Result<(), EntryError> {
        let iam = self.domain.iam();
        let name = &entry.role_name;
        let path = entry.path.clone().unwrap_or_else(|| "/".into());
        let max = entry.max_session_duration.unwrap_or(3600);
        let mut details = Vec::new();
        let created = current.is_none();
        let current = match current {
            None => iam
                .create_role(
                    &self.root,
                    NewRole {
                        name: name.clone(),
                        path: Some(path),
                        assume_role_policy_document: entry.assume_role_policy_document.text(),
                        description: entry.description.clone(),
                        max_session_duration: Some(max),
                        tags: BTreeMap::new(),
                    },
                )
                .await
                .map_err(iam_error(at))?,
            Some(current) => {
                if current.path != path {
                    return Err(EntryError::invalid(
                        at,
                        format!(
                            "Role {name} has the path {}; a path is part of the ARN and cannot change.",
                            current.path
                        ),
                    ));
                }
                if !entry
                    .assume_role_policy_document
                    .same_as(&current.assume_role_policy_document)
                {
                    iam.update_assume_role_policy(
                        &self.root,
                        name,
                        &entry.assume_role_policy_document.text(),
                    )
                    .await
                    .map_err(iam_error(at))?;
                    details.push("trust policy".to_string());
                }
                let description = (entry.description.is_some()
                    && entry.description != current.description)
                    .then(|| entry.description.clone())
                    .flatten();
                let max_changed = (max != current.max_session_duration).then_some(max);
                if description.is_some() || max_changed.is_some() {
                    if description.is_some() {
                        details.push("description".into());
                    }
                    if max_changed.is_some() {
                        details.push("maximum session duration".into());
                    }
                    iam.update_role(&self.root, name, description, max_changed)
                        .await
                        .map_err(iam_error(at))?;
                }
                current.clone()
            }
        };
        for policy in &entry.policies {
            let same = current
                .inline_policies
                .get(&policy.policy_name)
                .is_some_and(|doc| policy.policy_document.same_as(doc));
            if !same {
                iam.put_role_policy(
                    &self.root,
                    name,
                    &policy.policy_name,
                    &policy.policy_document.text(),
                )
                .await
                .map_err(iam_error(at))?;
                details.push(format!("inline policy {}", policy.policy_name));
            }
        }
        for policy_name in current.inline_policies.keys() {
            if !entry.policies.iter().any(|p| &p.policy_name == policy_name) {
                iam.delete_role_policy(&self.root, name, policy_name)
                    .await
                    .map_err(iam_error(at))?;
                details.push(format!("inline policy {policy_name} removed"));
            }
        }
        for arn in &current.attached_policies {
            if !entry.managed_policy_arns.contains(arn) {
                iam.detach_role_policy(&self.root, name, arn)
                    .await
                    .map_err(iam_error(at))?;
                details.push(format!("{arn} detached"));
            }
        }
        for arn in &entry.managed_policy_arns {
            if !current.attached_policies.contains(arn) {
                iam.attach_role_policy(&self.root, name, arn)
                    .await
                    .map_err(iam_error(at))?;
                details.push(format!("{arn} attached"));
            }
        }
        let subject = format!("role {name}");
        if created {
            self.record(Verb::Create, subject, vec![]);
        } else if !details.is_empty() {
            self.record(Verb::Update, subject, details);
        }
        Ok(())
    }
}

impl Run<'_> {
    async fn pools(&mut self, file: &Bootstrap, prune: bool) -> Result<(), EntryError> {
        let account = self.root.account.clone();
        // The regions the file touches: the default one, and those of
        // pinned ids.
        let mut regions = BTreeSet::from([self.root.region.clone()]);
        let pinned: BTreeSet<&str> = file
            .identity_pools
            .iter()
            .filter_map(|p| p.identity_pool_id.as_deref())
            .collect();
        for id in &pinned {
            if let Some((region, _)) = id.split_once(':')
                && cognate_core::ids::is_valid_region(region)
            {
                regions.insert(region.to_string());
            }
        }
        let mut existing = Vec::new();
        for region in &regions {
            let caller = Caller::root(&account, region);
            existing.extend(
                self.all_pools(&caller)
                    .await
                    .map_err(cognito_error("IdentityPools"))?,
            );
        }
        let mut matched = BTreeSet::new();
        for (index, entry) in file.identity_pools.iter().enumerate() {
            let at = format!("IdentityPools[{index}] ({})", entry.identity_pool_name);
            let current = match &entry.identity_pool_id {
                Some(id) => existing.iter().find(|p| &p.id == id),
                None => {
                    let named: Vec<&Pool> = existing
                        .iter()
                        .filter(|p| {
                            p.name == entry.identity_pool_name
                                && p.region == self.root.region
                                && !pinned.contains(p.id.as_str())
                        })
                        .collect();
                    if named.len() > 1 {
                        return Err(EntryError::invalid(
                            &at,
                            format!(
                                "{} identity pools are named {}; say which one with IdentityPoolId.",
                                named.len(),
                                entry.identity_pool_name
                            ),
                        ));
                    }
                    named.first().copied()
                }
            };
            let id = self.pool(entry, current, &at).await?;
            matched.insert(id);
        }
        if prune {
            for pool in existing.iter().filter(|p| !matched.contains(&p.id)) {
                let caller = Caller::root(&account, &pool.region);
                let at = format!("identity pool {} ({})", pool.name, pool.id);
                self.domain
                    .pools()
                    .delete(&caller, &pool.id)
                    .await
                    .map_err(cognito_error(&at))?;
                self.record(Verb::Delete, at, vec![]);
            }
        }
        Ok(())
    }

    /// Creates or updates one pool; its id.
    async fn pool(
        &mut self,
        entry: &PoolEntry,
        current: Option<&Pool>,
        at: &str,
    ) -> Result<String, EntryError> {
        let region = entry
            .identity_pool_id
            .as_deref()
            .and_then(|id| id.split_once(':'))
            .map_or(self.root.region.as_str(), |(region, _)| region);
        let caller = Caller::root(&self.root.account, region);
        let pools = self.domain.pools();
        let settings = PoolSettings {
            name: entry.identity_pool_name.clone(),
            allow_unauthenticated: entry.allow_unauthenticated_identities,
            allow_classic_flow: entry.allow_classic_flow,
            supported_login_providers: entry.supported_login_providers.clone(),
            developer_provider_name: entry.developer_provider_name.clone(),
            open_id_connect_provider_arns: entry.open_id_connect_provider_arns.clone(),
            cognito_identity_providers: entry
                .cognito_identity_providers
                .iter()
                .map(|p| CognitoProvider {
                    provider_name: p.provider_name.clone(),
                    client_id: p.client_id.clone(),
                    server_side_token_check: p.server_side_token_check,
                })
                .collect(),
            saml_provider_arns: entry.saml_provider_arns.clone(),
            tags: Some(entry.identity_pool_tags.clone()),
        };
        let mut details = Vec::new();
        let (pool, created) = match current {
            None => {
                // An unpinned pool gets an id derived from its account,
                // region and name: nodes applying one file at once make
                // one pool (the loser's insert conflicts, and its second
                // pass finds the pool by name), and a dry run names the
                // id the pool will have.
                let id = entry.identity_pool_id.clone().unwrap_or_else(|| {
                    let key = format!(
                        "{}/{region}/{}",
                        self.root.account, entry.identity_pool_name
                    );
                    let uuid = uuid::Uuid::new_v5(&BOOTSTRAP_POOLS, key.as_bytes());
                    format!("{region}:{uuid}")
                });
                let made = pools.create_pinned(&caller, &id, settings).await;
                (made.map_err(cognito_error(at))?, true)
            }
            Some(current) => {
                details = settings_changes(current, &settings);
                let pool = if details.is_empty() {
                    current.clone()
                } else {
                    pools
                        .update(&caller, &current.id, settings)
                        .await
                        .map_err(cognito_error(at))?
                };
                (pool, false)
            }
        };
        let mappings: BTreeMap<String, RoleMapping> = entry
            .role_mappings
            .iter()
            .map(|(provider, m)| {
                let mapping = RoleMapping {
                    mapping_type: m.mapping_type,
                    ambiguous_role_resolution: m.ambiguous_role_resolution,
                    rules: m.rules_configuration.as_ref().map(|c| {
                        c.rules
                            .iter()
                            .map(|r| MappingRule {
                                claim: r.claim.clone(),
                                match_type: r.match_type,
                                value: r.value.clone(),
                                role_arn: r.role_arn.clone(),
                            })
                            .collect()
                    }),
                };
                (provider.clone(), mapping)
            })
            .collect();
        if pool.roles != entry.roles || pool.role_mappings != mappings {
            pools
                .set_roles(&caller, &pool.id, entry.roles.clone(), mappings)
                .await
                .map_err(cognito_error(at))?;
            details.push("roles".into());
        }
        for map in &entry.principal_tag_attribute_maps {
            let provider = &map.identity_provider_name;
            let wanted = PrincipalTagMap {
                use_defaults: map.use_defaults,
                tags: if map.use_defaults {
                    default_principal_tags(provider)
                } else {
                    map.principal_tags.clone()
                },
            };
            let unchanged = match pool.principal_tag_maps.get(provider) {
                Some(current) => *current == wanted,
                None => !wanted.use_defaults && wanted.tags.is_empty(),
            };
            if !unchanged {
                pools
                    .set_principal_tag_map(
                        &caller,
                        &pool.id,
                        provider,
                        map.use_defaults,
                        map.principal_tags.clone(),
                    )
                    .await
                    .map_err(cognito_error(at))?;
                details.push(format!("principal tags of {provider}"));
            }
        }
        for provider in pool.principal_tag_maps.keys() {
            let declared = entry
                .principal_tag_attribute_maps
                .iter()
                .any(|m| &m.identity_provider_name == provider);
            // A map whose provider the pool no longer has is inert.
            if !declared && cognate_core::pools::provider_configured(&pool, provider) {
                pools
                    .set_principal_tag_map(&caller, &pool.id, provider, false, BTreeMap::new())
                    .await
                    .map_err(cognito_error(at))?;
                details.push(format!("principal tags of {provider} removed"));
            }
        }
        let subject = format!("identity pool {} ({})", pool.name, pool.id);
        if created {
            self.record(Verb::Create, subject, vec![]);
        } else if !details.is_empty() {
            self.record(Verb::Update, subject, details);
        }
        Ok(pool.id)
    }

    async fn prune_roles(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let iam = self.domain.iam();
        let referenced = file.referenced_arns();
        for role in self.all_roles().await.map_err(iam_error("Roles"))? {
            // A role a declared pool names is mentioned by the file.
            if file
                .roles
                .iter()
                .any(|r| r.role_name.eq_ignore_ascii_case(&role.name))
                || referenced.contains(role.arn.as_str())
            {
                continue;
            }
            let at = format!("role {}", role.name);
            for arn in &role.attached_policies {
                iam.detach_role_policy(&self.root, &role.name, arn)
                    .await
                    .map_err(iam_error(&at))?;
            }
            for policy in role.inline_policies.keys() {
                iam.delete_role_policy(&self.root, &role.name, policy)
                    .await
                    .map_err(iam_error(&at))?;
            }
            iam.delete_role(&self.root, &role.name)
                .await
                .map_err(iam_error(&at))?;
            self.record(Verb::Delete, at, vec![]);
        }
        Ok(())
    }

    async fn prune_managed_policies(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let policies = self
            .all_managed_policies()
            .await
            .map_err(iam_error("ManagedPolicies"))?;
        let referenced = file.referenced_arns();
        for policy in policies {
            if file
                .managed_policies
                .iter()
                .any(|p| p.policy_name.eq_ignore_ascii_case(&policy.name))
                || referenced.contains(policy.arn.as_str())
            {
                continue;
            }
            let at = format!("managed policy {}", policy.name);
            self.domain
                .iam()
                .delete_policy(&self.root, &policy.arn)
                .await
                .map_err(iam_error(&at))?;
            self.record(Verb::Delete, at, vec![]);
        }
        Ok(())
    }

    async fn prune_providers(&mut self, file: &Bootstrap) -> Result<(), EntryError> {
        let iam = self.domain.iam();
        let oidc = iam
            .list_oidc_providers(&self.root)
            .await
            .map_err(iam_error("OpenIDConnectProviders"))?;
        let referenced = file.referenced_arns();
        for provider in oidc {
            let declared = file
                .oidc_providers
                .iter()
                .any(|p| cognate_core::arn::strip_scheme(&p.url) == provider.host_path())
                || referenced.contains(provider.arn.as_str());
            if !declared {
                let at = format!("OIDC provider {}", provider.host_path());
                iam.delete_oidc_provider(&self.root, &provider.arn)
                    .await
                    .map_err(iam_error(&at))?;
                self.record(Verb::Delete, at, vec![]);
            }
        }
        let saml = iam
            .list_saml_providers(&self.root)
            .await
            .map_err(iam_error("SAMLProviders"))?;
        for provider in saml {
            if !file.saml_providers.iter().any(|p| p.name == provider.name)
                && !referenced.contains(provider.arn.as_str())
            {
                let at = format!("SAML provider {}", provider.name);
                iam.delete_saml_provider(&self.root, &provider.arn)
                    .await
                    .map_err(iam_error(&at))?;
                self.record(Verb::Delete, at, vec![]);
            }
        }
        Ok(())
    }
}

/// What UpdateIdentityPool would change, by member name.
fn settings_changes(current: &Pool, wanted: &PoolSettings) -> Vec<String> {
    fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
        let mut items = items.to_vec();
        items.sort();
        items
    }
    let providers = |list: &[CognitoProvider]| {
        sorted(
            &list
                .iter()
                .map(|p| {
                    (
                        p.provider_name.clone(),
                        p.client_id.clone(),
                        p.server_side_token_check,
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    let mut changes = Vec::new();
    let mut note = |changed: bool, member: &str| {
        if changed {
            changes.push(member.to_string());
        }
    };
    note(current.name != wanted.name, "IdentityPoolName");
    note(
        current.allow_unauthenticated != wanted.allow_unauthenticated,
        "AllowUnauthenticatedIdentities",
    );
    note(
        current.allow_classic_flow != wanted.allow_classic_flow,
        "AllowClassicFlow",
    );
    note(
        current.supported_login_providers != wanted.supported_login_providers,
        "SupportedLoginProviders",
    );
    // The developer provider name cannot be unset; naming another is
    // refused by the update itself.
    note(
        wanted.developer_provider_name.is_some()
            && current.developer_provider_name != wanted.developer_provider_name,
        "DeveloperProviderName",
    );
    note(
        sorted(&current.open_id_connect_provider_arns)
            != sorted(&wanted.open_id_connect_provider_arns),
        "OpenIdConnectProviderARNs",
    );
    note(
        providers(&current.cognito_identity_providers)
            != providers(&wanted.cognito_identity_providers),
        "CognitoIdentityProviders",
    );
    note(
        sorted(&current.saml_provider_arns) != sorted(&wanted.saml_provider_arns),
        "SamlProviderARNs",
    );
    note(
        wanted
            .tags
            .as_ref()
            .is_some_and(|tags| *tags != current.tags),
        "IdentityPoolTags",
    );
    changes
}
