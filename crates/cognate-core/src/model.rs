//! The records cognate keeps. Serialized as JSON documents by the stores, so
//! adding an optional field needs no migration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An identity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub account: String,
    pub region: String,
    pub name: String,
    pub allow_unauthenticated: bool,
    /// Tri-state like AWS: unset allows the basic flow, `false` forbids it.
    #[serde(default)]
    pub allow_classic_flow: Option<bool>,
    #[serde(default)]
    pub supported_login_providers: BTreeMap<String, String>,
    #[serde(default)]
    pub developer_provider_name: Option<String>,
    #[serde(default)]
    pub open_id_connect_provider_arns: Vec<String>,
    #[serde(default)]
    pub cognito_identity_providers: Vec<CognitoProvider>,
    #[serde(default)]
    pub saml_provider_arns: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `authenticated` / `unauthenticated` → role ARN.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    #[serde(default)]
    pub role_mappings: BTreeMap<String, RoleMapping>,
    #[serde(default)]
    pub principal_tag_maps: BTreeMap<String, PrincipalTagMap>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped on every write; updates name the version they read.
    pub version: i64,
}

impl Pool {
    /// Whether a Logins key is one of this pool's CognitoIdentityProviders:
    /// what makes a login a user-pool login (its `amr`, Token role
    /// mappings), whatever the name looks like (`cognito-idp...` or a
    /// local emulator's `localhost:9229/<pool id>`).
    pub fn names_user_pool(&self, key: &str) -> bool {
        self.cognito_identity_providers
            .iter()
            .any(|p| p.provider_name == key)
    }

    /// A pool with nothing set: no guests, providers, roles or tags;
    /// created at `at`, version 1. Fixtures and bulk loads start here.
    pub fn empty(id: &str, account: &str, region: &str, name: &str, at: i64) -> Pool {
        Pool {
            id: id.into(),
            account: account.into(),
            region: region.into(),
            name: name.into(),
            allow_unauthenticated: false,
            allow_classic_flow: None,
            supported_login_providers: BTreeMap::new(),
            developer_provider_name: None,
            open_id_connect_provider_arns: vec![],
            cognito_identity_providers: vec![],
            saml_provider_arns: vec![],
            tags: BTreeMap::new(),
            roles: BTreeMap::new(),
            role_mappings: BTreeMap::new(),
            principal_tag_maps: BTreeMap::new(),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    pub fn arn(&self) -> String {
        crate::arn::pool_arn(&self.region, &self.account, &self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CognitoProvider {
    pub provider_name: String,
    pub client_id: String,
    #[serde(default)]
    pub server_side_token_check: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleMappingType {
    Token,
    Rules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AmbiguousRoleResolution {
    AuthenticatedRole,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    NotEqual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingRule {
    pub claim: String,
    pub match_type: MatchType,
    pub value: String,
    pub role_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMapping {
    pub mapping_type: RoleMappingType,
    #[serde(default)]
    pub ambiguous_role_resolution: Option<AmbiguousRoleResolution>,
    #[serde(default)]
    pub rules: Option<Vec<MappingRule>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalTagMap {
    pub use_defaults: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A login: the Logins key and the user's id at that provider.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Login {
    pub provider: String,
    pub subject: String,
}

/// An identity, with its logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    pub pool_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Disabled identities (merged away) refuse every call.
    pub disabled: bool,
    /// Set when the identity was merged into another.
    pub merged_into: Option<String>,
    pub logins: Vec<Login>,
    /// Bumped on every change; change sets name the version they read.
    pub version: i64,
}

impl Identity {
    pub fn is_guest(&self) -> bool {
        self.logins.is_empty() && self.merged_into.is_none()
    }
}

/// Why two identities were merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeCause {
    /// A login already on another identity was presented (GetId,
    /// GetOpenIdToken, GetCredentialsForIdentity).
    LoginPresented,
    /// MergeDeveloperIdentities.
    DeveloperMerge,
    /// GetOpenIdTokenForDeveloperIdentity with logins of two identities.
    DeveloperLogin,
}

impl MergeCause {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeCause::LoginPresented => "LoginPresented",
            MergeCause::DeveloperMerge => "DeveloperMerge",
            MergeCause::DeveloperLogin => "DeveloperLogin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "LoginPresented" => Some(MergeCause::LoginPresented),
            "DeveloperMerge" => Some(MergeCause::DeveloperMerge),
            "DeveloperLogin" => Some(MergeCause::DeveloperLogin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub pool_id: String,
    pub from_identity: String,
    pub to_identity: String,
    pub at: i64,
    pub cause: MergeCause,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub account: String,
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub arn: String,
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub created_at: i64,
    /// Inline policies: name → document.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of attached managed policies, ordered. The stores keep the
    /// attachments in a table of their own and fill this in on every read;
    /// `insert_role`/`update_role` ignore it (use `attach_role_policy` /
    /// `detach_role_policy`).
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A customer managed IAM policy. Only the default version is kept in
/// use; `versions` holds every version so CreatePolicyVersion needs no
/// migration later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub account: String,
    pub name: String,
    pub path: String,
    /// `ANPA...`, 21 characters.
    pub policy_id: String,
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    pub default_version_id: String,
    pub versions: Vec<ManagedPolicyVersion>,
    pub created_at: i64,
    pub updated_at: i64,
    /// How many roles it is attached to. Computed by the store on every
    /// read (never trusted from the stored document).
    #[serde(default)]
    pub attachment_count: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The highest version number ever given (`v<n>`): IAM never reuses
    /// a deleted version's id. 0 in records made before it was kept.
    #[serde(default)]
    pub highest_version: u32,
}

impl ManagedPolicy {
    /// The document of the default version.
    pub fn default_document(&self) -> Option<&str> {
        self.version(&self.default_version_id)
            .map(|v| v.document.as_str())
    }

    pub fn version(&self, version_id: &str) -> Option<&ManagedPolicyVersion> {
        self.versions.iter().find(|v| v.version_id == version_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicyVersion {
    /// `v1`, `v2`, ...
    pub version_id: String,
    pub document: String,
    pub created_at: i64,
}

/// An OpenID Connect provider registered through IAM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    pub account: String,
    pub arn: String,
    /// As registered, with its scheme (`https://login.example.com`).
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub created_at: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl OidcProvider {
    /// The Logins key and ARN suffix: the URL without its scheme.
    pub fn host_path(&self) -> &str {
        crate::arn::strip_scheme(&self.url)
    }
}

/// A SAML identity provider registered through IAM: the IdP's metadata
/// document as given, which names its entity id and signing certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlProvider {
    pub account: String,
    pub arn: String,
    pub name: String,
    pub metadata: String,
    pub created_at: i64,
    /// The metadata's `validUntil`, if it has one.
    pub valid_until: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A key cognate signs its OpenID tokens with. The private part is stored
/// sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    /// AEAD-sealed PKCS#8 private key.
    pub sealed_private_key: Vec<u8>,
    /// The public JWK as JSON text.
    pub public_jwk: String,
    pub created_at: i64,
    /// When it stopped signing; it stays in the JWKS until `retired_at` +
    /// the longest token lifetime.
    pub retired_at: Option<i64>,
}
