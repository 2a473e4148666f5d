//! The `Principal` / `NotPrincipal` element: validation and matching.
//!
//! Matching rules:
//! * `"*"` and `{"AWS": "*"}` match every caller, anonymous included;
//!   `"*"` inside `Federated`/`Service`/`CanonicalUser` matches any caller of
//!   that type.
//! * An `AWS` account (`123456789012` or `arn:aws:iam::123456789012:root`)
//!   matches every AWS principal of that account.
//! * An IAM role ARN (`arn:aws:iam::A:role/path/R`) also matches that role's
//!   sessions (`arn:aws:sts::A:assumed-role/R/session`).
//! * Other `AWS` ARNs match exactly. `Federated` and `Service` names are
//!   compared ASCII case-insensitively; `CanonicalUser` exactly.
//! * Wildcards other than a lone `*` are not supported in principals (as in IAM).

use crate::context::RequestPrincipal;

/// The principals named by a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// `"Principal": "*"`.
    Wildcard,
    /// `"Principal": { "AWS": ..., "Federated": ..., ... }`.
    Map(PrincipalMap),
}

/// The typed lists of a principal map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalMap {
    /// `AWS` entries: `*`, account ids, IAM/STS ARNs.
    pub aws: Vec<String>,
    /// `Federated` entries, e.g. `cognito-identity.amazonaws.com`.
    pub federated: Vec<String>,
    /// `Service` entries, e.g. `ec2.amazonaws.com`.
    pub service: Vec<String>,
    /// `CanonicalUser` entries.
    pub canonical_user: Vec<String>,
}

impl PrincipalSpec {
    /// Does the request principal match this element?
    pub fn matches(&self, who: &RequestPrincipal) -> bool {
        let map = match self {
            PrincipalSpec::Wildcard => return true,
            PrincipalSpec::Map(m) => m,
        };
        match who {
            RequestPrincipal::Anonymous => map.aws.iter().any(|a| a == "*"),
            RequestPrincipal::Aws(arn) => map.aws.iter().any(|p| aws_matches(p, arn)),
            RequestPrincipal::Federated(f) => map
                .federated
                .iter()
                .any(|p| p == "*" || p.eq_ignore_ascii_case(f)),
            RequestPrincipal::Service(s) => map
                .service
                .iter()
                .any(|p| p == "*" || p.eq_ignore_ascii_case(s)),
            RequestPrincipal::CanonicalUser(c) => {
                map.canonical_user.iter().any(|p| p == "*" || p == c)
            }
        }
    }
}

fn arn_parts(s: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    (parts.len() == 6 && parts.first() == Some(&"arn")).then_some(parts)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn aws_matches(policy: &str, request_arn: &str) -> bool {
    if policy == "*" || policy == request_arn {
        return true;
    }
    let Some(req) = arn_parts(request_arn) else {
        return false;
    };
    let req_account = req.get(4).copied().unwrap_or("");
    if is_account_id(policy) {
        return policy == req_account;
    }
    let Some(pol) = arn_parts(policy) else {
        return false;
    };
    let (pol_partition, pol_account, pol_resource) = (
        pol.get(1).copied().unwrap_or(""),
        pol.get(4).copied().unwrap_or(""),
        pol.get(5).copied().unwrap_or(""),
    );
    if pol_partition != req.get(1).copied().unwrap_or("") || pol_account != req_account {
        return false;
    }
    if pol_resource == "root" {
        return true;
    }
    // Role ARN vs. one of its sessions.
    if let (Some(role_path), Some(session)) = (
        pol_resource.strip_prefix("role/"),
        req.get(5).and_then(|r| r.strip_prefix("assumed-role/")),
    ) {
        let role_name = role_path.rsplit('/').next().unwrap_or("");
        let session_role = session.split('/').next().unwrap_or("");
        return pol.get(2) == Some(&"iam")
            && req.get(2) == Some(&"sts")
            && !role_name.is_empty()
            && role_name == session_role;
    }
    false
}

/// Validates one `AWS` principal entry.
pub(crate) fn valid_aws_principal(s: &str) -> bool {
    if s == "*" || is_account_id(s) {
        return true;
    }
    // IAM unique ids (AIDA..., AROA...) are accepted, as IAM stores them when
    // the named principal is deleted.
    if s.len() >= 16
        && ["AIDA", "AROA", "AIPA", "ANPA", "ASIA", "AKIA"]
            .iter()
            .any(|p| s.starts_with(p))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return true;
    }
    let Some(parts) = arn_parts(s) else {
        return false;
    };
    let partition = parts.get(1).copied().unwrap_or("");
    let service = parts.get(2).copied().unwrap_or("");
    let region = parts.get(3).copied().unwrap_or("");
    let account = parts.get(4).copied().unwrap_or("");
    let resource = parts.get(5).copied().unwrap_or("");
    partition.starts_with("aws")
        && (service == "iam" || service == "sts")
        && region.is_empty()
        && is_account_id(account)
        && !resource.is_empty()
        && !resource.contains(['*', '?'])
}

/// Validates a `Federated`, `Service` or `CanonicalUser` entry.
pub(crate) fn valid_other_principal(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn aws(list: &[&str]) -> PrincipalSpec {
        PrincipalSpec::Map(PrincipalMap {
            aws: list.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
    }

    #[test]
    fn account_and_root_match_any_principal_of_account() {
        let who = RequestPrincipal::Aws("arn:aws:iam::111122223333:user/alice".into());
        assert!(aws(&["111122223333"]).matches(&who));
        assert!(aws(&["arn:aws:iam::111122223333:root"]).matches(&who));
        assert!(!aws(&["444455556666"]).matches(&who));
        assert!(aws(&["*"]).matches(&who));
        assert!(aws(&["*"]).matches(&RequestPrincipal::Anonymous));
        assert!(!aws(&["111122223333"]).matches(&RequestPrincipal::Anonymous));
    }

    #[test]
    fn role_matches_its_sessions() {
        let who = RequestPrincipal::Aws("arn:aws:sts::111122223333:assumed-role/Admin/bob".into());
        assert!(aws(&["arn:aws:iam::111122223333:role/ops/Admin"]).matches(&who));
        assert!(!aws(&["arn:aws:iam::111122223333:role/Other"]).matches(&who));
        assert!(!aws(&["arn:aws:iam::444455556666:role/Admin"]).matches(&who));
    }

    #[test]
    fn federated_and_service() {
        let spec = PrincipalSpec::Map(PrincipalMap {
            federated: vec!["cognito-identity.amazonaws.com".into()],
            service: vec!["ec2.amazonaws.com".into()],
            ..Default::default()
        });
        assert!(spec.matches(&RequestPrincipal::Federated(
            "Cognito-Identity.amazonaws.com".into()
        )));
        assert!(!spec.matches(&RequestPrincipal::Federated("accounts.google.com".into())));
        assert!(spec.matches(&RequestPrincipal::Service("ec2.amazonaws.com".into())));
        assert!(!spec.matches(&RequestPrincipal::Aws("ec2.amazonaws.com".into())));
    }

    #[test]
    fn validation() {
        assert!(valid_aws_principal("*"));
        assert!(valid_aws_principal("123456789012"));
        assert!(valid_aws_principal("arn:aws:iam::123456789012:root"));
        assert!(valid_aws_principal(
            "arn:aws:sts::123456789012:assumed-role/R/s"
        ));
        assert!(valid_aws_principal("AIDAJQABLZS4A3QDU576Q"));
        assert!(!valid_aws_principal("bob"));
        assert!(!valid_aws_principal("12345"));
        assert!(!valid_aws_principal("arn:aws:s3:::bucket"));
        assert!(!valid_aws_principal("arn:aws:iam::123456789012:user/*"));
        assert!(!valid_other_principal(""));
        assert!(!valid_other_principal("a b"));
    }
}
