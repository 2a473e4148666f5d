//! The parsed, pre-compiled policy model.

use std::fmt;

use crate::condition::ConditionEntry;
use crate::principal::PrincipalSpec;
use crate::variables::Template;
use crate::wildcard::Pattern;

/// What a document is used as; decides which elements are required/allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user/group/role: requires `Resource`/`NotResource`,
    /// forbids `Principal`/`NotPrincipal`, `Sid` must be alphanumeric.
    Identity,
    /// Passed to `AssumeRole*`/`GetFederationToken`: same rules as `Identity`.
    Session,
    /// A role trust policy (`AssumeRolePolicyDocument`): requires
    /// `Principal`/`NotPrincipal`, forbids `Resource`/`NotResource`, `Sid` must
    /// be alphanumeric.
    Trust,
    /// A resource-based policy (bucket, queue, ...): requires both
    /// `Principal`/`NotPrincipal` and `Resource`/`NotResource`; any `Sid` string.
    Resource,
}

/// Default quota for managed (identity) policies, in characters.
pub const MANAGED_POLICY_MAX_SIZE: usize = 6144;
/// Default quota for a role trust policy (`ACLSizePerRole`), in characters.
pub const TRUST_POLICY_MAX_SIZE: usize = 2048;
/// Quota for a plain-text inline session policy, in characters.
pub const SESSION_POLICY_MAX_SIZE: usize = 2048;
/// A generous default for resource-based policies.
pub const RESOURCE_POLICY_MAX_SIZE: usize = 20480;

impl PolicyKind {
    /// The AWS default size quota for this kind of document.
    pub fn default_max_size(self) -> usize {
        match self {
            PolicyKind::Identity => MANAGED_POLICY_MAX_SIZE,
            PolicyKind::Session => SESSION_POLICY_MAX_SIZE,
            PolicyKind::Trust => TRUST_POLICY_MAX_SIZE,
            PolicyKind::Resource => RESOURCE_POLICY_MAX_SIZE,
        }
    }

    pub(crate) fn requires_principal(self) -> bool {
        matches!(self, PolicyKind::Trust | PolicyKind::Resource)
    }

    pub(crate) fn requires_resource(self) -> bool {
        !matches!(self, PolicyKind::Trust)
    }

    pub(crate) fn alphanumeric_sid(self) -> bool {
        !matches!(self, PolicyKind::Resource)
    }
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `"2008-10-17"`: no policy variables.
    V2008_10_17,
    /// `"2012-10-17"`: policy variables enabled.
    V2012_10_17,
}

impl PolicyVersion {
    /// The version string.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVersion::V2008_10_17 => "2008-10-17",
            PolicyVersion::V2012_10_17 => "2012-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    /// Grants access.
    Allow,
    /// Explicitly denies access.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// A parsed, validated policy document, ready to be evaluated many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) kind: PolicyKind,
    pub(crate) version: Option<PolicyVersion>,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

impl Policy {
    /// What the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if present (absent means 2008 semantics).
    pub fn version(&self) -> Option<PolicyVersion> {
        self.version
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Every context key the policy reads — condition keys and keys used as
    /// `${...}` variables in `Resource`/`NotResource` and condition values —
    /// deduplicated case-insensitively, in document order, as first written
    /// (what IAM's `GetContextKeysFor*Policy` returns).
    pub fn context_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |k: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
                out.push(k.to_owned());
            }
        };
        for st in &self.statements {
            if let Some(block) = &st.resource {
                for pat in &block.patterns {
                    if let ResourcePattern::Dynamic(tpl) = pat {
                        tpl.var_keys().for_each(&mut push);
                    }
                }
            }
            for c in &st.conditions {
                c.referenced_keys().for_each(&mut push);
            }
        }
        out
    }
}

/// A list of `Action` (or `NotAction`) patterns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionBlock {
    pub(crate) negated: bool,
    pub(crate) raw: Vec<String>,
    /// Compiled over the lower-cased pattern text.
    pub(crate) patterns: Vec<Pattern>,
}

/// One `Resource` entry: compiled at parse time unless it uses variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResourcePattern {
    Static(Pattern),
    Dynamic(Template),
}

/// A list of `Resource` (or `NotResource`) patterns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResourceBlock {
    pub(crate) negated: bool,
    pub(crate) raw: Vec<String>,
    pub(crate) patterns: Vec<ResourcePattern>,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrincipalBlock {
    pub(crate) negated: bool,
    pub(crate) spec: PrincipalSpec,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) index: usize,
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) action: ActionBlock,
    pub(crate) resource: Option<ResourceBlock>,
    pub(crate) principal: Option<PrincipalBlock>,
    pub(crate) conditions: Vec<ConditionEntry>,
}

impl Statement {
    /// Zero-based position in the policy.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The `Action` or `NotAction` entries as written.
    pub fn actions(&self) -> &[String] {
        &self.action.raw
    }

    /// True if the statement uses `NotAction`.
    pub fn is_not_action(&self) -> bool {
        self.action.negated
    }

    /// The `Resource` or `NotResource` entries as written (`None` in trust policies).
    pub fn resources(&self) -> Option<&[String]> {
        self.resource.as_ref().map(|r| r.raw.as_slice())
    }

    /// True if the statement uses `NotResource`.
    pub fn is_not_resource(&self) -> bool {
        self.resource.as_ref().is_some_and(|r| r.negated)
    }

    /// The `Principal` or `NotPrincipal` element, if any.
    pub fn principal(&self) -> Option<&PrincipalSpec> {
        self.principal.as_ref().map(|p| &p.spec)
    }

    /// True if the statement uses `NotPrincipal`.
    pub fn is_not_principal(&self) -> bool {
        self.principal.as_ref().is_some_and(|p| p.negated)
    }

    /// The `Condition` entries (all must hold).
    pub fn conditions(&self) -> &[ConditionEntry] {
        &self.conditions
    }
}
