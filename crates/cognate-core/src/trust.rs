//! Policy documents as the domain needs them: validation on write (the
//! `cognate-policy` engine) and the trust decision for web-identity
//! federation.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use cognate_policy::{
    EvalDecision, MANAGED_POLICY_MAX_SIZE, MalformedKind, Policy, PolicyKind, RequestContext,
    RequestPrincipal, SESSION_POLICY_MAX_SIZE, evaluate_trust,
};

use crate::arn::COGNITO_PROVIDER;
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

/// Trust decisions of one parsed policy that no Cognito identity can
/// change: when the policy reads no condition key but
/// `cognito-identity.amazonaws.com:aud` and `:amr` and holds no policy
/// variable, every identity with the same audience and amr gets the same
/// answer, so the guests of a pool share one evaluation. Kept beside the
/// parsed policy in the role cache, so a changed role starts empty.
#[derive(Debug)]
pub struct TrustMemo {
    entries: Mutex<Vec<MemoEntry>>,
}

#[derive(Debug)]
struct MemoEntry {
    audience: String,
    amr: Option<String>,
    tags_session: bool,
    allowed: bool,
}

/// Decisions kept per role at most; a full memo is emptied.
const MEMO_ENTRIES: usize = 64;

impl TrustMemo {
    /// A memo for `policy` (parsed from `document`) if its decisions for
    /// Cognito identities depend on audience and amr alone.
    pub fn for_policy(policy: &Policy, document: &str) -> Option<TrustMemo> {
        let aud = format!("{COGNITO_PROVIDER}:aud");
        let amr = format!("{COGNITO_PROVIDER}:amr");
        let only_aud_and_amr = policy
            .statements()
            .iter()
            .flat_map(|s| s.conditions())
            .flat_map(|c| c.referenced_keys())
            .all(|key| key.eq_ignore_ascii_case(&aud) || key.eq_ignore_ascii_case(&amr));
        // A variable anywhere (a resource, say) could read the subject.
        (only_aud_and_amr && !document.contains("${")).then(|| TrustMemo {
            entries: Mutex::new(Vec::new()),
        })
    }

    /// `trust_allows`, remembered for Cognito identities with at most one
    /// amr value (guests): an authenticated amr also names the user's
    /// login, so remembering it would only churn.
    pub fn trust_allows(&self, policy: &Policy, role_arn: &str, who: &WebIdentity<'_>) -> bool {
        if who.provider != COGNITO_PROVIDER || who.amr.len() > 1 {
            return trust_allows(policy, role_arn, who);
        }
        let amr = who.amr.first();
        let same = |e: &MemoEntry| {
            e.audience == who.audience
                && e.amr.as_ref() == amr
                && e.tags_session == who.tags_session
        };
        let lock = || self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = lock().iter().find(|e| same(e)) {
            return e.allowed;
        }
        let allowed = trust_allows(policy, role_arn, who);
        let mut entries = lock();
        if entries.len() >= MEMO_ENTRIES {
            entries.clear();
        }
        entries.push(MemoEntry {
            audience: who.audience.to_string(),
            amr: amr.cloned(),
            tags_session: who.tags_session,
            allowed,
        });
        allowed
    }
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

#[cfg(test)]
#[allow(clippy::expect_used)]
mod memo_tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::000000000000:role/Guests";
    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
    const OTHER_POOL: &str = "us-east-1:99999999-2222-3333-4444-555555555555";

    fn parsed(condition: &str) -> (Policy, String) {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
            "Principal":{{"Federated":"cognito-identity.amazonaws.com"}},
            "Action":"sts:AssumeRoleWithWebIdentity","Condition":{condition}}}]}}"#
        );
        (parse_trust_policy(&doc).expect("a trust policy"), doc)
    }

    fn guest<'a>(audience: &'a str, subject: &'a str, amr: &'a [String]) -> WebIdentity<'a> {
        WebIdentity {
            provider: COGNITO_PROVIDER,
            audience,
            subject,
            amr,
            tags_session: false,
        }
    }

    const AUD_AND_AMR: &str = r#"{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:11111111-2222-3333-4444-555555555555"},
        "ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}}"#;

    #[test]
    fn shared_decisions_answer_as_the_policy_does() {
        let (policy, doc) = parsed(AUD_AND_AMR);
        let memo = TrustMemo::for_policy(&policy, &doc).expect("aud and amr only: shareable");
        let unauth = ["unauthenticated".to_string()];
        let auth = ["authenticated".to_string()];
        // Asked twice each, so the second answer comes from the memo.
        for _ in 0..2 {
            for (who, expected) in [
                (guest(POOL, "us-east-1:a", &unauth), true),
                (guest(POOL, "us-east-1:b", &unauth), true),
                (guest(OTHER_POOL, "us-east-1:c", &unauth), false),
                (guest(POOL, "us-east-1:d", &auth), false),
                (guest(POOL, "us-east-1:e", &[]), false),
            ] {
                assert_eq!(trust_allows(&policy, ROLE, &who), expected, "{who:?}");
                assert_eq!(memo.trust_allows(&policy, ROLE, &who), expected, "{who:?}");
            }
        }
        let tagged = WebIdentity {
            tags_session: true,
            ..guest(POOL, "us-east-1:a", &unauth)
        };
        // No sts:TagSession in the policy: refused, and not confused with
        // the untagged answer for the same pool.
        assert!(!memo.trust_allows(&policy, ROLE, &tagged));
        assert!(memo.trust_allows(&policy, ROLE, &guest(POOL, "us-east-1:a", &unauth)));
    }

    #[test]
    fn policies_that_can_tell_identities_apart_are_not_shared() {
        let reads_sub = r#"{"StringEquals":{"cognito-identity.amazonaws.com:sub":"us-east-1:a"}}"#;
        let (policy, doc) = parsed(reads_sub);
        assert!(TrustMemo::for_policy(&policy, &doc).is_none());
        let reads_time = r#"{"DateLessThan":{"aws:CurrentTime":"2100-01-01T00:00:00Z"}}"#;
        let (policy, doc) = parsed(reads_time);
        assert!(TrustMemo::for_policy(&policy, &doc).is_none());
        let variable = r#"{"StringLike":{"cognito-identity.amazonaws.com:aud":"${cognito-identity.amazonaws.com:sub}"}}"#;
        let (policy, doc) = parsed(variable);
        assert!(TrustMemo::for_policy(&policy, &doc).is_none());
    }

    #[test]
    fn a_full_memo_starts_over_and_still_answers() {
        let (policy, doc) = parsed(AUD_AND_AMR);
        let memo = TrustMemo::for_policy(&policy, &doc).expect("shareable");
        let unauth = ["unauthenticated".to_string()];
        let pools: Vec<String> = (0..(MEMO_ENTRIES + 5))
            .map(|i| format!("us-east-1:{i:08}-2222-3333-4444-555555555555"))
            .collect();
        for pool in &pools {
            assert!(!memo.trust_allows(&policy, ROLE, &guest(pool, "us-east-1:a", &unauth)));
        }
        assert!(memo.entries.lock().expect("memo").len() <= MEMO_ENTRIES);
        assert!(memo.trust_allows(&policy, ROLE, &guest(POOL, "us-east-1:a", &unauth)));
    }
}
