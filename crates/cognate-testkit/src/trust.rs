//! The trust policy AWS's Cognito guide gives for a pool's roles.

use serde_json::json;

/// Trust for Cognito identities of `pool_id` whose `amr` matches (e.g.
/// `authenticated`, `unauthenticated`, `*`).
pub fn cognito_trust_policy(pool_id: &str, amr: &str) -> String {
    cognito_trust_policy_for(pool_id, amr, &["sts:AssumeRoleWithWebIdentity"])
}

/// The same trust, allowing `actions` (e.g. `sts:TagSession` as well, for
/// sessions with principal tags).
pub fn cognito_trust_policy_for(pool_id: &str, amr: &str, actions: &[&str]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": actions,
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}
            }
        }]
    })
    .to_string()
}
