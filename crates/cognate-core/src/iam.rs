//! The IAM subset identity pools rely on: roles with trust, inline and
//! attached managed policies, customer managed policies, and OpenID
//! Connect providers.

use std::collections::BTreeMap;

use crate::access::{ANY_RESOURCE, Access, Caller};
use crate::arn::{oidc_provider_arn, policy_arn, role_arn, saml_provider_arn};
pub use crate::arn::{parse_policy_arn, parse_role_arn};
use crate::error::{Error, Result};
use crate::ids;
use crate::model::{ManagedPolicy, ManagedPolicyVersion, OidcProvider, Role, SamlProvider};
use crate::operation::Operation;
use crate::service::facade;
use crate::service::{Cognate, page_token};
use crate::store::{PolicyDeletion, StoreError};

/// IAM's default quota of managed policies attached to one role.
pub const MAX_ATTACHED_POLICIES_PER_ROLE: usize = 10;
/// Versions IAM keeps of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

fn no_such_role(name: &str) -> Error {
    Error::ResourceNotFound(format!("The role with name {name} cannot be found."))
}

fn no_such_policy(arn: &str) -> Error {
    Error::ResourceNotFound(format!("Policy {arn} was not found."))
}

fn no_such_version(arn: &str, version_id: &str) -> Error {
    Error::ResourceNotFound(format!(
        "Policy {arn} version {version_id} does not exist or is not attachable."
    ))
}

fn not_attachable(arn: &str) -> Error {
    Error::ResourceNotFound(format!("Policy {arn} does not exist or is not attachable."))
}

/// IAM paths: `/` or `/segment/.../`.
fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(Error::Validation(vec![format!(
            "Value '{path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
        )]));
    }
    Ok(())
}

fn check_max_session_duration(max: i64) -> Result<()> {
    if !(3600..=43200).contains(&max) {
        return Err(Error::Validation(vec![format!(
            "Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
        )]));
    }
    Ok(())
}

/// Input of CreatePolicy.
#[derive(Debug, Clone, Default)]
pub struct NewPolicy {
    pub name: String,
    pub path: Option<String>,
    pub document: String,
    pub description: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Filters of ListPolicies (Scope=AWS lists nothing: cognate has no
/// AWS managed policies).
#[derive(Debug, Clone, Default)]
pub struct PolicyFilter {
    pub only_attached: bool,
    pub path_prefix: Option<String>,
    /// Scope=AWS or PolicyUsageFilter=PermissionsBoundary: cognate has no
    /// AWS managed policies and uses none as a boundary, so nothing.
    pub aws_managed_or_boundaries: bool,
}

/// Input of CreateRole.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    pub name: String,
    pub path: Option<String>,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// An IAM entity named by its ARN: of an account, tagged.
trait Entity {
    fn account(&self) -> &str;
    fn tags(&self) -> &BTreeMap<String, String>;
}

macro_rules! entities {
    ($($t:ty),*) => {$(
        impl Entity for $t {
            fn account(&self) -> &str {
                &self.account
            }
            fn tags(&self) -> &BTreeMap<String, String> {
                &self.tags
            }
        }
    )*};
}

entities!(ManagedPolicy, OidcProvider, SamlProvider);

impl Cognate {
    /// The entity the store holds under `arn` (`found`), in the caller's
    /// account, once `caller` may perform `operation` on it (with its
    /// tags); `missing` if there is none.
    async fn authorized_entity<T: Entity>(
        &self,
        caller: &Caller,
        operation: Operation,
        arn: &str,
        found: Option<T>,
        missing: Error,
    ) -> Result<T> {
        let found = found.filter(|e| e.account() == caller.account);
        let access = match &found {
            Some(e) => Access::new(operation, arn).resource_tags(e.tags()),
            None => Access::new(operation, arn),
        };
        self.authorize_access(caller, access).await?;
        found.ok_or(missing)
    }
}

impl Cognate {
    /// Applies `edit` to a managed policy under the store's lock.
    async fn edit_policy(
        &self,
        arn: &str,
        edit: crate::store::PolicyEdit,
    ) -> Result<ManagedPolicy> {
        match self.store.edit_managed_policy(arn, edit).await {
            Ok(edited) => edited,
            Err(StoreError::NotFound(_)) => Err(no_such_policy(arn)),
            Err(other) => Err(other.into()),
        }
    }
}

impl Cognate {
    /// The role `operation` acts on, once `caller` may: authorized on its
    /// ARN (path included; a role that does not exist as if at `/`) with
    /// its tags. A denial names the role as IAM's do (`role <name>`), not
    /// by its ARN, which would tell its path.
    async fn authorized_role(
        &self,
        caller: &Caller,
        operation: Operation,
        name: &str,
    ) -> Result<Role> {
        self.authorized_role_for(caller, |arn| Access::new(operation, arn), name)
            .await
    }

    /// As `authorized_role`, for an access that carries request keys.
    async fn authorized_role_for(
        &self,
        caller: &Caller,
        access: impl FnOnce(String) -> Access,
        name: &str,
    ) -> Result<Role> {
        let role = self.store.get_role(&caller.account, name).await?;
        let access = match &role {
            Some(role) => access(role.arn.clone()).resource_tags(&role.tags),
            None => access(role_arn(&caller.account, "/", name)),
        };
        self.authorize_access(caller, access.shown_as(format!("role {name}")))
            .await?;
        role.ok_or_else(|| no_such_role(name))
    }

    /// The role an ARN names, if it exists in its account.
    pub async fn role_by_arn(&self, arn: &str) -> Result<Option<Role>> {
        let Some((account, _, name)) = parse_role_arn(arn) else {
            return Ok(None);
        };
        let role = self.store.get_role(account, name).await?;
        // The path is part of the ARN: a role recreated under another path
        // is another role.
        Ok(role.filter(|r| r.arn == arn))
    }

    // ---- customer managed policies ----

    /// The managed policy of the caller's account `operation` acts on,
    /// once `caller` may.
    async fn authorized_policy(
        &self,
        caller: &Caller,
        operation: Operation,
        arn: &str,
    ) -> Result<ManagedPolicy> {
        let found = self.store.get_managed_policy(arn).await?;
        self.authorized_entity(caller, operation, arn, found, no_such_policy(arn))
            .await
    }

    /// The documents of a role's attached managed policies, with their
    /// names (policies deleted meanwhile are skipped).
    pub async fn attached_policy_documents(&self, role: &Role) -> Result<Vec<(String, String)>> {
        let mut out = Vec::with_capacity(role.attached_policies.len());
        for arn in &role.attached_policies {
            if let Some(policy) = self.store.get_managed_policy(arn).await?
                && let Some(doc) = policy.default_document()
            {
                out.push((policy.name.clone(), doc.to_string()));
            }
        }
        Ok(out)
    }

    /// The OIDC provider of the caller's account `operation` acts on, once
    /// `caller` may.
    async fn authorized_oidc_provider(
        &self,
        caller: &Caller,
        operation: Operation,
        arn: &str,
    ) -> Result<OidcProvider> {
        let found = self.store.get_oidc_provider(arn).await?;
        let missing =
            Error::ResourceNotFound(format!("OpenIDConnect Provider not found for arn {arn}"));
        self.authorized_entity(caller, operation, arn, found, missing)
            .await
    }
}

impl Cognate {
    /// The SAML provider of the caller's account `operation` acts on, once
    /// `caller` may.
    async fn authorized_saml_provider(
        &self,
        caller: &Caller,
        operation: Operation,
        arn: &str,
    ) -> Result<SamlProvider> {
        let found = self.store.get_saml_provider(arn).await?;
        let missing = Error::ResourceNotFound(format!("SAMLProvider not found for arn {arn}"));
        self.authorized_entity(caller, operation, arn, found, missing)
            .await
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}

/// The IdP a metadata document describes, or IAM's InvalidInput.
pub fn parse_saml_metadata(document: &str) -> Result<cognate_saml::IdpMetadata> {
    cognate_saml::IdpMetadata::parse(document)
        .map_err(|e| Error::InvalidInput(format!("Could not parse metadata: {e}")))
}

/// IAM's rules for an OpenID Connect provider URL: `https://host[/path]`,
/// no user information, query or fragment, a host of letters, digits,
/// hyphens and dots (or an IP address). Plain `http` only for a loopback
/// host (`localhost`, `127.0.0.0/8`, `[::1]`), so a test issuer or a
/// sidecar can be used without TLS but nothing else can; and, unlike IAM,
/// a port, for self-hosted issuers. IAM's errors: ValidationError for what
/// is not a URL at all, InvalidInput for a URL it refuses.
pub fn check_provider_url(url: &str) -> Result<()> {
    const NOT_A_URL: &str = "Invalid Open ID Connect Provider URL";
    let refused = || Error::InvalidInput(format!("{NOT_A_URL}."));
    if url.chars().count() > 255 {
        return Err(Error::Validation(vec![format!(
            "Value '{url}' at 'url' failed to satisfy constraint: Member must have length less than or equal to 255"
        )]));
    }
    let (secure, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(Error::Constraint(NOT_A_URL.into()));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(Error::Constraint(NOT_A_URL.into()));
    }
    if authority.contains('@') || url.contains(['?', '#']) {
        return Err(refused());
    }
    let (host, port) = split_host_port(authority).ok_or_else(refused)?;
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(refused());
    }
    let ip = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse::<std::net::IpAddr>()
        .ok();
    let is_name = host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if ip.is_none() && !is_name {
        return Err(refused());
    }
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback());
    if !secure && !loopback {
        return Err(Error::InvalidInput(format!(
            "{NOT_A_URL}. The URL must begin with https://."
        )));
    }
    Ok(())
}

/// `host[:port]`, the host possibly a bracketed IPv6 address.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    Some(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

facade!(
    /// The IAM subset: roles, managed policies, OIDC and SAML providers,
    /// and the policy simulator.
    Iam,
    iam
);

impl Iam<'_> {
    pub async fn create_role(&self, caller: &Caller, input: NewRole) -> Result<Role> {
        let path = input.path.unwrap_or_else(|| "/".to_string());
        check_path(&path)?;
        let access = Access::new(
            Operation::CreateRole,
            role_arn(&caller.account, &path, &input.name),
        )
        .request_tags(input.tags.iter().map(|(k, v)| (k, Some(v))));
        self.authorize_access(caller, access).await?;
        crate::trust::check_trust_policy_document(&input.assume_role_policy_document)?;
        let max = input.max_session_duration.unwrap_or(3600);
        check_max_session_duration(max)?;
        let role = Role {
            account: caller.account.clone(),
            arn: role_arn(&caller.account, &path, &input.name),
            name: input.name,
            path,
            role_id: ids::unique_id("AROA", 21)?,
            assume_role_policy_document: input.assume_role_policy_document,
            description: input.description,
            max_session_duration: max,
            created_at: self.clock.now_secs(),
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
            tags: input.tags,
        };
        self.store.insert_role(&role).await.map_err(|e| match e {
            crate::store::StoreError::AlreadyExists(_) => {
                Error::ResourceConflict(format!("Role with name {} already exists.", role.name))
            }
            other => other.into(),
        })?;
        self.audit.role_changed("CreateRole", &role.arn, None);
        Ok(role)
    }

    /// GetRole.
    pub async fn role(&self, caller: &Caller, name: &str) -> Result<Role> {
        self.authorized_role(caller, Operation::GetRole, name).await
    }

    /// ListRolePolicies: the names of the role's inline policies.
    pub async fn list_role_policies(&self, caller: &Caller, name: &str) -> Result<Vec<String>> {
        let role = self
            .authorized_role(caller, Operation::ListRolePolicies, name)
            .await?;
        Ok(role.inline_policies.into_keys().collect())
    }

    /// ListAttachedRolePolicies: the ARNs of the role's managed policies.
    pub async fn list_attached_role_policies(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Vec<String>> {
        let role = self
            .authorized_role(caller, Operation::ListAttachedRolePolicies, name)
            .await?;
        Ok(role.attached_policies)
    }

    pub async fn delete_role(&self, caller: &Caller, name: &str) -> Result<()> {
        let role = self
            .authorized_role(caller, Operation::DeleteRole, name)
            .await?;
        if !role.inline_policies.is_empty() || !role.attached_policies.is_empty() {
            return Err(Error::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        if self.store.delete_role(&caller.account, name).await? {
            self.audit.role_changed("DeleteRole", &role.arn, None);
            Ok(())
        } else {
            Err(no_such_role(name))
        }
    }

    /// ListRoles: ordered by name, `max_items` a page, only the roles whose
    /// path starts with `path_prefix`.
    pub async fn list_roles(
        &self,
        caller: &Caller,
        path_prefix: Option<&str>,
        max_items: usize,
        marker: Option<&str>,
    ) -> Result<(Vec<Role>, Option<String>)> {
        self.authorize(caller, Operation::ListRoles, ANY_RESOURCE)
            .await?;
        const BATCH: usize = 100;
        let mut after = marker.map(page_token::decode).transpose()?;
        let mut roles = Vec::new();
        loop {
            let batch = self
                .store
                .list_roles(&caller.account, after.as_deref(), BATCH)
                .await?;
            let exhausted = batch.len() < BATCH;
            after = batch.last().map(|r| r.name.clone());
            roles.extend(
                batch
                    .into_iter()
                    .filter(|r| path_prefix.is_none_or(|prefix| r.path.starts_with(prefix))),
            );
            if roles.len() > max_items || exhausted {
                break;
            }
        }
        let next = if roles.len() > max_items {
            roles.truncate(max_items);
            roles.last().map(|r| page_token::encode(&r.name))
        } else {
            None
        };
        Ok((roles, next))
    }

    pub async fn put_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        let mut role = self
            .authorized_role(caller, Operation::PutRolePolicy, role_name)
            .await?;
        crate::trust::check_identity_policy_document(document)?;
        role.inline_policies
            .insert(policy_name.to_string(), document.to_string());
        self.store.update_role(&role).await?;
        self.audit
            .role_changed("PutRolePolicy", &role.arn, Some(policy_name));
        Ok(())
    }

    pub async fn role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
    ) -> Result<String> {
        let role = self
            .authorized_role(caller, Operation::GetRolePolicy, role_name)
            .await?;
        role.inline_policies
            .get(policy_name)
            .cloned()
            .ok_or_else(|| {
                Error::ResourceNotFound(format!(
                    "The role policy with name {policy_name} cannot be found."
                ))
            })
    }

    pub async fn delete_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
    ) -> Result<()> {
        let mut role = self
            .authorized_role(caller, Operation::DeleteRolePolicy, role_name)
            .await?;
        if role.inline_policies.remove(policy_name).is_none() {
            return Err(Error::ResourceNotFound(format!(
                "The role policy with name {policy_name} cannot be found."
            )));
        }
        self.store.update_role(&role).await?;
        self.audit
            .role_changed("DeleteRolePolicy", &role.arn, Some(policy_name));
        Ok(())
    }

    /// UpdateRole: the description and the maximum session duration; an
    /// omitted member keeps its value.
    pub async fn update_role(
        &self,
        caller: &Caller,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i64>,
    ) -> Result<()> {
        let mut role = self
            .authorized_role(caller, Operation::UpdateRole, name)
            .await?;
        if let Some(max) = max_session_duration {
            check_max_session_duration(max)?;
        }
        if let Some(description) = description {
            role.description = Some(description);
        }
        if let Some(max) = max_session_duration {
            role.max_session_duration = max;
        }
        self.store.update_role(&role).await.map_err(|e| match e {
            StoreError::NotFound(_) => no_such_role(name),
            other => other.into(),
        })?;
        self.audit.role_changed("UpdateRole", &role.arn, None);
        Ok(())
    }

    /// UpdateAssumeRolePolicy: the document is validated as a trust policy.
    pub async fn update_assume_role_policy(
        &self,
        caller: &Caller,
        name: &str,
        document: &str,
    ) -> Result<()> {
        let mut role = self
            .authorized_role(caller, Operation::UpdateAssumeRolePolicy, name)
            .await?;
        crate::trust::check_trust_policy_document(document)?;
        role.assume_role_policy_document = document.to_string();
        self.store.update_role(&role).await.map_err(|e| match e {
            StoreError::NotFound(_) => no_such_role(name),
            other => other.into(),
        })?;
        self.audit
            .role_changed("UpdateAssumeRolePolicy", &role.arn, None);
        Ok(())
    }

    pub async fn create_policy(&self, caller: &Caller, input: NewPolicy) -> Result<ManagedPolicy> {
        let path = input.path.unwrap_or_else(|| "/".to_string());
        check_path(&path)?;
        let access = Access::new(
            Operation::CreatePolicy,
            policy_arn(&caller.account, &path, &input.name),
        )
        .request_tags(input.tags.iter().map(|(k, v)| (k, Some(v))));
        self.authorize_access(caller, access).await?;
        crate::trust::parse_managed_policy(&input.document)?;
        let now = self.clock.now_secs();
        let policy = ManagedPolicy {
            account: caller.account.clone(),
            arn: policy_arn(&caller.account, &path, &input.name),
            name: input.name,
            path,
            policy_id: ids::unique_id("ANPA", 21)?,
            description: input.description,
            default_version_id: "v1".into(),
            versions: vec![ManagedPolicyVersion {
                version_id: "v1".into(),
                document: input.document,
                created_at: now,
            }],
            created_at: now,
            updated_at: now,
            attachment_count: 0,
            tags: input.tags,
            highest_version: 1,
        };
        self.store
            .insert_managed_policy(&policy)
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists(_) => Error::ResourceConflict(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    policy.name
                )),
                other => other.into(),
            })?;
        self.audit.policy_changed("CreatePolicy", &policy.arn, None);
        Ok(policy)
    }

    /// GetPolicy.
    pub async fn policy(&self, caller: &Caller, arn: &str) -> Result<ManagedPolicy> {
        self.authorized_policy(caller, Operation::GetPolicy, arn)
            .await
    }

    pub async fn policy_version(
        &self,
        caller: &Caller,
        arn: &str,
        version_id: &str,
    ) -> Result<(ManagedPolicy, ManagedPolicyVersion)> {
        let policy = self
            .authorized_policy(caller, Operation::GetPolicyVersion, arn)
            .await?;
        let version = policy
            .version(version_id)
            .cloned()
            .ok_or_else(|| no_such_version(arn, version_id))?;
        Ok((policy, version))
    }

    /// CreatePolicyVersion: a new version of the document, made the
    /// default when `set_as_default`. IAM keeps at most five versions and
    /// refuses a sixth; version ids are never reused.
    pub async fn create_policy_version(
        &self,
        caller: &Caller,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<ManagedPolicyVersion> {
        self.authorized_policy(caller, Operation::CreatePolicyVersion, arn)
            .await?;
        crate::trust::parse_managed_policy(document)?;
        let now = self.clock.now_secs();
        let document = document.to_string();
        let add = move |policy: &mut ManagedPolicy| {
            if policy.versions.len() >= MAX_POLICY_VERSIONS {
                return Err(Error::LimitExceeded(format!(
                    "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            let highest = policy
                .versions
                .iter()
                .filter_map(|v| v.version_id.strip_prefix('v')?.parse::<u32>().ok())
                .chain([policy.highest_version])
                .max()
                .unwrap_or(0);
            let version_id = format!("v{}", highest + 1);
            policy.highest_version = highest + 1;
            policy.versions.push(ManagedPolicyVersion {
                version_id: version_id.clone(),
                document: document.clone(),
                created_at: now,
            });
            if set_as_default {
                policy.default_version_id = version_id;
            }
            policy.updated_at = now;
            Ok(())
        };
        let policy = self.edit_policy(arn, Box::new(add)).await?;
        let version = policy
            .versions
            .last()
            .cloned()
            .ok_or_else(|| Error::Internal("a policy version was lost".into()))?;
        self.audit.policy_changed(
            "CreatePolicyVersion",
            &policy.arn,
            Some(&version.version_id),
        );
        Ok(version)
    }

    /// DeletePolicyVersion: any version but the default.
    pub async fn delete_policy_version(
        &self,
        caller: &Caller,
        arn: &str,
        version_id: &str,
    ) -> Result<()> {
        self.authorized_policy(caller, Operation::DeletePolicyVersion, arn)
            .await?;
        let (arn_owned, version) = (arn.to_string(), version_id.to_string());
        let delete = move |policy: &mut ManagedPolicy| {
            if policy.default_version_id == version {
                return Err(Error::DeleteConflict(
                    "Cannot delete the default version of a policy.".into(),
                ));
            }
            let before = policy.versions.len();
            policy.versions.retain(|v| v.version_id != version);
            if policy.versions.len() == before {
                return Err(no_such_version(&arn_owned, &version));
            }
            Ok(())
        };
        self.edit_policy(arn, Box::new(delete)).await?;
        self.audit
            .policy_changed("DeletePolicyVersion", arn, Some(version_id));
        Ok(())
    }

    /// SetDefaultPolicyVersion.
    pub async fn set_default_policy_version(
        &self,
        caller: &Caller,
        arn: &str,
        version_id: &str,
    ) -> Result<()> {
        self.authorized_policy(caller, Operation::SetDefaultPolicyVersion, arn)
            .await?;
        let (arn_owned, version) = (arn.to_string(), version_id.to_string());
        let now = self.clock.now_secs();
        let set = move |policy: &mut ManagedPolicy| {
            if policy.version(&version).is_none() {
                return Err(no_such_version(&arn_owned, &version));
            }
            policy.default_version_id = version.clone();
            policy.updated_at = now;
            Ok(())
        };
        self.edit_policy(arn, Box::new(set)).await?;
        self.audit
            .policy_changed("SetDefaultPolicyVersion", arn, Some(version_id));
        Ok(())
    }

    /// ListPolicyVersions: the policy, for its versions (oldest first).
    pub async fn policy_versions(&self, caller: &Caller, arn: &str) -> Result<ManagedPolicy> {
        self.authorized_policy(caller, Operation::ListPolicyVersions, arn)
            .await
    }

    pub async fn delete_policy(&self, caller: &Caller, arn: &str) -> Result<()> {
        self.authorized_policy(caller, Operation::DeletePolicy, arn)
            .await?;
        match self.store.delete_managed_policy(arn).await? {
            PolicyDeletion::Deleted => {
                self.audit.policy_changed("DeletePolicy", arn, None);
                Ok(())
            }
            PolicyDeletion::NotFound => Err(no_such_policy(arn)),
            PolicyDeletion::Attached => Err(Error::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            )),
        }
    }

    /// ListPolicies (Scope=Local): ordered by name, `max_items` a page.
    pub async fn list_policies(
        &self,
        caller: &Caller,
        filter: &PolicyFilter,
        max_items: usize,
        marker: Option<&str>,
    ) -> Result<(Vec<ManagedPolicy>, Option<String>)> {
        self.authorize(caller, Operation::ListPolicies, ANY_RESOURCE)
            .await?;
        if filter.aws_managed_or_boundaries {
            return Ok((Vec::new(), None));
        }
        const BATCH: usize = 100;
        let mut after = marker.map(page_token::decode).transpose()?;
        let mut out = Vec::new();
        loop {
            let batch = self
                .store
                .list_managed_policies(&caller.account, after.as_deref(), BATCH)
                .await?;
            let exhausted = batch.len() < BATCH;
            after = batch.last().map(|p| p.name.to_lowercase());
            out.extend(batch.into_iter().filter(|p| {
                (!filter.only_attached || p.attachment_count > 0)
                    && filter
                        .path_prefix
                        .as_deref()
                        .is_none_or(|prefix| p.path.starts_with(prefix))
            }));
            if out.len() > max_items || exhausted {
                break;
            }
        }
        let next = if out.len() > max_items {
            out.truncate(max_items);
            out.last()
                .map(|p| page_token::encode(&p.name.to_lowercase()))
        } else {
            None
        };
        Ok((out, next))
    }

    pub async fn attach_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        arn: &str,
    ) -> Result<()> {
        let access =
            |role: String| Access::new(Operation::AttachRolePolicy, role).key("iam:PolicyARN", arn);
        let role = self.authorized_role_for(caller, access, role_name).await?;
        match self.store.get_managed_policy(arn).await? {
            Some(p) if p.account == caller.account => {}
            _ => return Err(not_attachable(arn)),
        }
        if role.attached_policies.iter().any(|a| a == arn) {
            return Ok(());
        }
        if role.attached_policies.len() >= MAX_ATTACHED_POLICIES_PER_ROLE {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED_POLICIES_PER_ROLE}"
            )));
        }
        self.store
            .attach_role_policy(&caller.account, &role.name, arn)
            .await
            .map_err(|e| match e {
                // The role or the policy went away meanwhile.
                StoreError::NotFound(_) => not_attachable(arn),
                other => other.into(),
            })?;
        self.audit
            .role_changed("AttachRolePolicy", &role.arn, Some(arn));
        Ok(())
    }

    pub async fn detach_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        arn: &str,
    ) -> Result<()> {
        let access =
            |role: String| Access::new(Operation::DetachRolePolicy, role).key("iam:PolicyARN", arn);
        let role = self.authorized_role_for(caller, access, role_name).await?;
        if self
            .store
            .detach_role_policy(&caller.account, &role.name, arn)
            .await?
        {
            self.audit
                .role_changed("DetachRolePolicy", &role.arn, Some(arn));
            Ok(())
        } else {
            Err(no_such_policy(arn))
        }
    }

    pub async fn create_oidc_provider(
        &self,
        caller: &Caller,
        url: &str,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
    ) -> Result<OidcProvider> {
        check_provider_url(url)?;
        self.authorize(
            caller,
            Operation::CreateOpenIDConnectProvider,
            &oidc_provider_arn(&caller.account, url),
        )
        .await?;
        for t in &thumbprints {
            if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Validation(vec![format!(
                    "Value '{t}' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 hexadecimal characters"
                )]));
            }
        }
        let provider = OidcProvider {
            account: caller.account.clone(),
            arn: oidc_provider_arn(&caller.account, url),
            url: url.trim_end_matches('/').to_string(),
            client_ids: dedup(client_ids),
            thumbprints,
            created_at: self.clock.now_secs(),
            tags: Default::default(),
        };
        self.store
            .insert_oidc_provider(&provider)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::AlreadyExists(_) => {
                    Error::ResourceConflict(format!("Provider with url {url} already exists."))
                }
                other => other.into(),
            })?;
        self.audit
            .provider_changed("CreateOpenIDConnectProvider", &provider.arn, None);
        Ok(provider)
    }

    /// GetOpenIDConnectProvider.
    pub async fn oidc_provider(&self, caller: &Caller, arn: &str) -> Result<OidcProvider> {
        self.authorized_oidc_provider(caller, Operation::GetOpenIDConnectProvider, arn)
            .await
    }

    pub async fn list_oidc_providers(&self, caller: &Caller) -> Result<Vec<OidcProvider>> {
        self.authorize(caller, Operation::ListOpenIDConnectProviders, ANY_RESOURCE)
            .await?;
        Ok(self.store.list_oidc_providers(&caller.account).await?)
    }

    pub async fn delete_oidc_provider(&self, caller: &Caller, arn: &str) -> Result<()> {
        self.authorized_oidc_provider(caller, Operation::DeleteOpenIDConnectProvider, arn)
            .await?;
        self.store.delete_oidc_provider(arn).await?;
        self.audit
            .provider_changed("DeleteOpenIDConnectProvider", arn, None);
        Ok(())
    }

    pub async fn add_oidc_client_id(
        &self,
        caller: &Caller,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        let mut provider = self
            .authorized_oidc_provider(caller, Operation::AddClientIDToOpenIDConnectProvider, arn)
            .await?;
        if !provider.client_ids.iter().any(|c| c == client_id) {
            provider.client_ids.push(client_id.to_string());
            self.store.update_oidc_provider(&provider).await?;
            self.audit
                .provider_changed("AddClientIDToOpenIDConnectProvider", arn, Some(client_id));
        }
        Ok(())
    }

    pub async fn remove_oidc_client_id(
        &self,
        caller: &Caller,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        let mut provider = self
            .authorized_oidc_provider(
                caller,
                Operation::RemoveClientIDFromOpenIDConnectProvider,
                arn,
            )
            .await?;
        provider.client_ids.retain(|c| c != client_id);
        self.store.update_oidc_provider(&provider).await?;
        self.audit.provider_changed(
            "RemoveClientIDFromOpenIDConnectProvider",
            arn,
            Some(client_id),
        );
        Ok(())
    }

    pub async fn create_saml_provider(
        &self,
        caller: &Caller,
        name: &str,
        metadata: &str,
        tags: std::collections::BTreeMap<String, String>,
    ) -> Result<SamlProvider> {
        let access = Access::new(
            Operation::CreateSAMLProvider,
            saml_provider_arn(&caller.account, name),
        )
        .request_tags(tags.iter().map(|(k, v)| (k, Some(v))));
        self.authorize_access(caller, access).await?;
        let idp = parse_saml_metadata(metadata)?;
        let provider = SamlProvider {
            account: caller.account.clone(),
            arn: saml_provider_arn(&caller.account, name),
            name: name.to_string(),
            metadata: metadata.to_string(),
            created_at: self.clock.now_secs(),
            valid_until: idp.valid_until(),
            tags,
        };
        self.store
            .insert_saml_provider(&provider)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::AlreadyExists(_) => {
                    Error::ResourceConflict(format!("SAMLProvider named {name} already exists."))
                }
                other => other.into(),
            })?;
        self.audit
            .provider_changed("CreateSAMLProvider", &provider.arn, None);
        Ok(provider)
    }

    /// GetSAMLProvider.
    pub async fn saml_provider(&self, caller: &Caller, arn: &str) -> Result<SamlProvider> {
        self.authorized_saml_provider(caller, Operation::GetSAMLProvider, arn)
            .await
    }

    pub async fn list_saml_providers(&self, caller: &Caller) -> Result<Vec<SamlProvider>> {
        self.authorize(caller, Operation::ListSAMLProviders, ANY_RESOURCE)
            .await?;
        Ok(self.store.list_saml_providers(&caller.account).await?)
    }

    /// UpdateSAMLProvider: replaces the metadata (e.g. a new signing
    /// certificate); the next login is checked against it.
    pub async fn update_saml_provider(
        &self,
        caller: &Caller,
        arn: &str,
        metadata: &str,
    ) -> Result<SamlProvider> {
        let mut provider = self
            .authorized_saml_provider(caller, Operation::UpdateSAMLProvider, arn)
            .await?;
        let idp = parse_saml_metadata(metadata)?;
        provider.metadata = metadata.to_string();
        provider.valid_until = idp.valid_until();
        self.store.update_saml_provider(&provider).await?;
        self.audit
            .provider_changed("UpdateSAMLProvider", &provider.arn, None);
        Ok(provider)
    }

    pub async fn delete_saml_provider(&self, caller: &Caller, arn: &str) -> Result<()> {
        self.authorized_saml_provider(caller, Operation::DeleteSAMLProvider, arn)
            .await?;
        self.store.delete_saml_provider(arn).await?;
        self.audit.provider_changed("DeleteSAMLProvider", arn, None);
        Ok(())
    }
}

#[cfg(test)]
mod provider_url_tests {
    use super::*;

    #[test]
    fn provider_urls_follow_iams_rules_with_loopback_http() {
        for ok in [
            "https://issuer.example",
            "https://issuer.example/tenant/v2.0",
            "https://issuer.example:8443/realms/x",
            "https://198.51.100.7",
            "http://127.0.0.1:9999/a",
            "http://127.8.9.10",
            "http://localhost:8080",
            "http://[::1]:9",
        ] {
            assert_eq!(check_provider_url(ok), Ok(()), "{ok}");
        }
        let invalid_input =
            |url: &str| matches!(check_provider_url(url), Err(Error::InvalidInput(_)));
        for refused in [
            "http://127.0.0.1@evil.example",
            "http://127.evil.example",
            "http://evil.example",
            "http://[::2]",
            "https://user:pw@127.0.0.1",
            "https://issuer.example?x=1",
            "https://issuer.example/a#b",
            "https://exa_mple.com",
            "https://issuer.example:port",
            "https://-issuer.example",
            "https://issuer..example",
        ] {
            assert!(
                invalid_input(refused),
                "{refused}: {:?}",
                check_provider_url(refused)
            );
        }
        for not_a_url in [
            "https://",
            "issuer.example",
            "ftp://issuer.example",
            "https:///path",
        ] {
            assert!(
                matches!(check_provider_url(not_a_url), Err(Error::Constraint(_))),
                "{not_a_url}"
            );
        }
    }
}
