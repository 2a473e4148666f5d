//! Policy documents as the domain needs them: validation on write (the
//! `cognate-policy` engine) and the trust decision for web-identity
//! federation.

use std::collections::BTreeMap;

use cognate_policy::{
    EvalDecision, MANAGED_POLICY_MAX_SIZE, MalformedKind, Policy, PolicyKind, RequestContext,
    RequestPrincipal, SESSION_POLICY_MAX_SIZE, evaluate_trust,
};

use crate::error::{Error, Result};

/// IAM's quota for a role trust policy.
pub const TRUST_POLICY_MAX: usize = 2048;
/// IAM's quota for inline role policies (all of a role's together: 10240).
pub const INLINE_POLICY_MAX: usize = 10240;

fn malformed(e: cognate_policy::MalformedPolicy) -> Error {
    match e.kind() {
        MalformedKind::TooLarge { .. } => Error::LimitExceeded(e.to_string()),
        _ => Error::MalformedPolicyDocument(e.to_string()),
    }
}

pub fn parse_trust_policy(doc: &str) -> Result<Policy> {
    Policy::parse(doc, PolicyKind::Trust, TRUST_POLICY_MAX).map_err(malformed)
}

pub fn check_trust_policy_document(doc: &str) -> Result<()> {
    parse_trust_policy(doc).map(|_| ())
}

pub fn check_identity_policy_document(doc: &str) -> Result<()> {
    Policy::parse(doc, PolicyKind::Identity, INLINE_POLICY_MAX)
        .map(|_| ())
        .map_err(malformed)
}

/// A customer managed policy document (IAM's quota: 6,144 characters).
pub fn parse_managed_policy(doc: &str) -> Result<Policy> {
    Policy::parse(doc, PolicyKind::Identity, MANAGED_POLICY_MAX_SIZE).map_err(malformed)
}

/// An inline session policy (`Policy` of AssumeRole*): 2,048 characters.
/// Every problem, size included, is a MalformedPolicyDocument, as STS says.
pub fn parse_session_policy(doc: &str) -> Result<Policy> {
    Policy::parse(doc, PolicyKind::Session, SESSION_POLICY_MAX_SIZE)
        .map_err(|e| Error::MalformedPolicyDocument(e.to_string()))
}

/// The web identity asking to assume a role.
#[derive(Debug, Clone)]
pub struct WebIdentity<'a> {
    /// `cognito-identity.amazonaws.com`, or an OIDC provider's host/path.
    pub provider: &'a str,
    pub audience: &'a str,
    pub subject: &'a str,
    pub amr: &'a [String],
    /// Whether session tags are requested (needs `sts:TagSession` too).
    pub tags_session: bool,
}

/// Whether the role's trust policy (parsed once, by the role cache) lets
/// this web identity assume it.
pub fn trust_allows(policy: &Policy, role_arn: &str, who: &WebIdentity<'_>) -> bool {
    let keys = vec![
        (
            format!("{}:aud", who.provider),
            vec![who.audience.to_string()],
        ),
        (
            format!("{}:sub", who.provider),
            vec![who.subject.to_string()],
        ),
        (format!("{}:amr", who.provider), who.amr.to_vec()),
    ];
    // The enhanced flow only knows whether tags are asked for, not which:
    // sts:TagSession is checked without aws:RequestTag keys.
    let request = FederatedRequest {
        principals: vec![who.provider.to_string()],
        keys,
        tags: BTreeMap::new(),
        tags_session: who.tags_session,
    };
    web_identity_trust(policy, role_arn, &request)
}

/// A web-identity federation request in full, as AssumeRoleWithWebIdentity
/// makes it.
#[derive(Debug, Clone, Default)]
pub struct FederatedRequest {
    /// Names the provider may be written as in `Principal.Federated`: for
    /// an IAM OIDC provider both its ARN (as AWS writes trust policies) and
    /// its host/path; for cognate's own tokens
    /// `cognito-identity.amazonaws.com`.
    pub principals: Vec<String>,
    /// Condition keys (`<provider>:aud`, `:sub`, `:amr`, ...) and values.
    pub keys: Vec<(String, Vec<String>)>,
    /// Session tags requested (`aws:RequestTag/<key>`, `aws:TagKeys`).
    pub tags: BTreeMap<String, String>,
    /// Whether `sts:TagSession` must be allowed too (set when `tags` is
    /// not empty, or when tags are requested but not known in detail).
    pub tags_session: bool,
}

/// Whether a trust policy lets the federated request assume the role:
/// `sts:AssumeRoleWithWebIdentity`, plus `sts:TagSession` when tags are
/// requested. With several principal names an explicit deny under any of
/// them refuses, and an allow under any of them grants.
pub fn web_identity_trust(policy: &Policy, role_arn: &str, request: &FederatedRequest) -> bool {
    federated_trust(policy, role_arn, request, "sts:AssumeRoleWithWebIdentity")
}

/// Whether a trust policy lets a federated request make `assume_action`
/// (`sts:AssumeRoleWithWebIdentity`, `sts:AssumeRoleWithSAML`), plus
/// `sts:TagSession` when tags are requested.
pub fn federated_trust(
    policy: &Policy,
    role_arn: &str,
    request: &FederatedRequest,
    assume_action: &str,
) -> bool {
    let allowed = |action: &str| {
        let mut any_allow = false;
        for principal in &request.principals {
            let mut ctx = RequestContext::new(action, role_arn)
                .with_principal(RequestPrincipal::Federated(principal.clone()));
            for (key, values) in &request.keys {
                ctx = ctx.with_values(key, values.iter().cloned());
            }
            for (key, value) in &request.tags {
                ctx = ctx.with_key(format!("aws:RequestTag/{key}"), value.clone());
            }
            if !request.tags.is_empty() {
                ctx = ctx.with_values("aws:TagKeys", request.tags.keys().cloned());
            }
            match evaluate_trust(policy, &ctx).effect {
                EvalDecision::ExplicitDeny => return false,
                EvalDecision::Allowed => any_allow = true,
                EvalDecision::ImplicitDeny => {}
            }
        }
        any_allow
    };
    let tags_requested = request.tags_session || !request.tags.is_empty();
    allowed(assume_action) && (!tags_requested || allowed("sts:TagSession"))
}
