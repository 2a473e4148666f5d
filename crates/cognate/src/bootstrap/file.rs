//! The bootstrap file: what a deployment declares, in the AWS APIs' own
//! member names (CreateIdentityPool's, SetIdentityPoolRoles',
//! CloudFormation's `AWS::IAM::Role`), as JSON, so a pool's entry reads
//! like the request that would create it and policies are written as the
//! JSON documents they are.

use std::collections::BTreeMap;
use std::path::Path;

use cognate_core::model::{AmbiguousRoleResolution, MatchType, RoleMappingType};
use serde::{Deserialize, Serialize};

/// The file's top level. Every list may be left out.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Bootstrap {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<ManagedPolicyEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleEntry>,
    #[serde(
        default,
        rename = "OpenIDConnectProviders",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub oidc_providers: Vec<OidcProviderEntry>,
    #[serde(
        default,
        rename = "SAMLProviders",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub saml_providers: Vec<SamlProviderEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_pools: Vec<PoolEntry>,
}

/// A policy document: a JSON object, or its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Document {
    Text(String),
    Object(serde_json::Map<String, serde_json::Value>),
}

impl Document {
    /// The text IAM stores.
    pub fn text(&self) -> String {
        match self {
            Document::Text(text) => text.clone(),
            Document::Object(object) => serde_json::to_string(object).unwrap_or_default(),
        }
    }

    /// Whether this is the same document as stored `text` (as JSON
    /// values: spacing and member order do not count).
    pub fn same_as(&self, text: &str) -> bool {
        let stored: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let declared: Option<serde_json::Value> = match self {
            Document::Text(text) => serde_json::from_str(text).ok(),
            Document::Object(object) => Some(serde_json::Value::Object(object.clone())),
        };
        match (stored, declared) {
            (Some(a), Some(b)) => a == b,
            _ => self.text() == text,
        }
    }

    /// A stored document, as an object when it is one.
    pub fn from_stored(text: &str) -> Document {
        match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(object)) => Document::Object(object),
            _ => Document::Text(text.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ManagedPolicyEntry {
    pub policy_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub policy_document: Document,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RoleEntry {
    pub role_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<i64>,
    pub assume_role_policy_document: Document,
    /// The role's inline policies: exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicyEntry>,
    /// The managed policies attached to the role: exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InlinePolicyEntry {
    pub policy_name: String,
    pub policy_document: Document,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OidcProviderEntry {
    pub url: String,
    #[serde(default, rename = "ClientIDList")]
    pub client_id_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thumbprint_list: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SamlProviderEntry {
    pub name: String,
    #[serde(rename = "SAMLMetadataDocument")]
    pub saml_metadata_document: String,
}

/// CreateIdentityPool's members, SetIdentityPoolRoles' and the
/// principal-tag maps, with the pool's id when it is pinned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PoolEntry {
    /// `<region>:<uuid>`: the pool keeps this id in every deployment.
    /// Without it, the pool is found by its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_pool_id: Option<String>,
    pub identity_pool_name: String,
    #[serde(default)]
    pub allow_unauthenticated_identities: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_classic_flow: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub supported_login_providers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_provider_name: Option<String>,
    #[serde(
        default,
        rename = "OpenIdConnectProviderARNs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub open_id_connect_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cognito_identity_providers: Vec<CognitoProviderEntry>,
    #[serde(
        default,
        rename = "SamlProviderARNs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub saml_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_pool_tags: BTreeMap<String, String>,
    /// `authenticated` and `unauthenticated` role ARNs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub role_mappings: BTreeMap<String, RoleMappingEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principal_tag_attribute_maps: Vec<PrincipalTagMapEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CognitoProviderEntry {
    pub provider_name: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_token_check: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RoleMappingEntry {
    #[serde(rename = "Type")]
    pub mapping_type: RoleMappingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous_role_resolution: Option<AmbiguousRoleResolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_configuration: Option<RulesConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RulesConfiguration {
    pub rules: Vec<RuleEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RuleEntry {
    pub claim: String,
    pub match_type: MatchType,
    pub value: String,
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PrincipalTagMapEntry {
    pub identity_provider_name: String,
    #[serde(default)]
    pub use_defaults: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub principal_tags: BTreeMap<String, String>,
}

/// Where the file could not be read as a bootstrap file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    pub path: String,
    pub message: String,
}

impl Bootstrap {
    /// The ARNs the file's entries name (pools' roles, rules' roles and
    /// providers, roles' managed policies): with `--prune`, what they
    /// name is kept even when the file does not declare it.
    pub fn referenced_arns(&self) -> std::collections::BTreeSet<&str> {
        let mut arns = std::collections::BTreeSet::new();
        for role in &self.roles {
            arns.extend(role.managed_policy_arns.iter().map(String::as_str));
        }
        for pool in &self.identity_pools {
            arns.extend(pool.roles.values().map(String::as_str));
            arns.extend(
                pool.open_id_connect_provider_arns
                    .iter()
                    .map(String::as_str),
            );
            arns.extend(pool.saml_provider_arns.iter().map(String::as_str));
            for mapping in pool.role_mappings.values() {
                for rule in mapping.rules_configuration.iter().flat_map(|c| &c.rules) {
                    arns.insert(rule.role_arn.as_str());
                }
            }
        }
        arns
    }

    /// Reads `path`. `${AWS::AccountId}` and `${AWS::Region}` (as in
    /// CloudFormation) stand for the deployment's account and default
    /// region, so one file serves every deployment.
    pub fn load(path: &Path, account: &str, region: &str) -> Result<Bootstrap, FileError> {
        let error = |message: String| FileError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Bootstrap::parse(&text, account, region).map_err(error)
    }

    pub fn parse(text: &str, account: &str, region: &str) -> Result<Bootstrap, String> {
        let text = text
            .replace("${AWS::AccountId}", account)
            .replace("${AWS::Region}", region);
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}
