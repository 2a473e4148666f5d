//! Policy documents as the domain needs them: validation on write (the
//! `cognate-policy` engine) and the trust decision for web-identity
//! federation.

use cognate_policy::{MalformedKind, Policy, PolicyKind, RequestContext, evaluate_trust};

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

/// Whether the role's trust policy lets this web identity assume it.
pub fn trust_allows(trust_policy: &str, role_arn: &str, who: &WebIdentity<'_>) -> bool {
    let Ok(policy) = parse_trust_policy(trust_policy) else {
        return false;
    };
    let context = |action: &str| {
        let mut ctx = RequestContext::assume_role_with_web_identity(who.provider, role_arn)
            .with_key(format!("{}:aud", who.provider), who.audience)
            .with_key(format!("{}:sub", who.provider), who.subject)
            .with_values(format!("{}:amr", who.provider), who.amr.iter().cloned());
        ctx.action = action.to_string();
        ctx
    };
    let assume = evaluate_trust(&policy, &context("sts:AssumeRoleWithWebIdentity")).is_allowed();
    assume
        && (!who.tags_session || evaluate_trust(&policy, &context("sts:TagSession")).is_allowed())
}
