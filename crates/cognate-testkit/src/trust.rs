//! The trust policy AWS's Cognito guide gives for a pool's roles.

use serde_json::json;

/// Trust for Cognito identities of `pool_id` whose `amr` matches (e.g.
/// `authenticated`, `unauthenticated`, `*`).
pub fn cognito_trust_policy(pool_id: &str, amr: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}
            }
        }]
    })
    .to_string()
}
