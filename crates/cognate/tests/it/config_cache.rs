//! The pool and role cache never serves a configuration older than the
//! last change: every change is seen by the very next request, after the
//! cache has been warmed by the same calls.

use serde_json::json;

use crate::common::{TestServer, code, create_pool, create_role, set_pool_role, vended};

fn guest_trust(pool_id: &str, effect: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": effect,
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id}}
        }]
    })
    .to_string()
}

/// The role name in the ARN GetCallerIdentity gives for credentials vended
/// to the guest.
async fn guest_role_name(s: &TestServer, guest: &str) -> String {
    let creds = s
        .anonymous_cognito()
        .get_credentials_for_identity()
        .identity_id(guest)
        .send()
        .await
        .unwrap();
    let me = s
        .sts_with(vended(creds.credentials().unwrap()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    // arn:aws:sts::<account>:assumed-role/<role>/<session>
    me.arn().unwrap().split('/').nth(1).unwrap().to_string()
}

#[tokio::test]
async fn pool_and_role_changes_are_seen_by_the_next_request() {
    let s = TestServer::start().await;
    let anon = s.anonymous_cognito();
    let pool_id = create_pool(&s, "cached", true).await;
    let first = create_role(&s, "CachedGuest", &guest_trust(&pool_id, "Allow")).await;
    set_pool_role(&s, &pool_id, "unauthenticated", &first).await;

    // Warm the cache: the pool through GetId, the role through two rounds
    // of credentials and an STS exchange.
    let guest = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    for _ in 0..2 {
        assert_eq!(guest_role_name(&s, &guest).await, "CachedGuest");
    }
    let token = anon
        .get_open_id_token()
        .identity_id(&guest)
        .send()
        .await
        .unwrap()
        .token
        .unwrap();
    let assume = || {
        s.anonymous_sts()
            .assume_role_with_web_identity()
            .role_arn(&first)
            .role_session_name("cached")
            .web_identity_token(&token)
            .send()
    };
    assume().await.unwrap();

    // A trust policy that now denies: the very next calls are refused.
    s.iam()
        .update_assume_role_policy()
        .role_name("CachedGuest")
        .policy_document(guest_trust(&pool_id, "Deny"))
        .send()
        .await
        .unwrap();
    let err = anon
        .get_credentials_for_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityPoolConfigurationException");
    assert_eq!(code(&assume().await.unwrap_err()), "AccessDenied");

    // Restored, it is trusted again at once.
    s.iam()
        .update_assume_role_policy()
        .role_name("CachedGuest")
        .policy_document(guest_trust(&pool_id, "Allow"))
        .send()
        .await
        .unwrap();
    assert_eq!(guest_role_name(&s, &guest).await, "CachedGuest");
    assume().await.unwrap();

    // Another guest role: the next credentials are for it.
    let second = create_role(&s, "CachedGuest2", &guest_trust(&pool_id, "Allow")).await;
    set_pool_role(&s, &pool_id, "unauthenticated", &second).await;
    assert_eq!(guest_role_name(&s, &guest).await, "CachedGuest2");

    // A pool that stops allowing guests refuses the next guest GetId.
    s.cognito()
        .update_identity_pool()
        .identity_pool_id(&pool_id)
        .identity_pool_name("cached")
        .allow_unauthenticated_identities(false)
        .send()
        .await
        .unwrap();
    let err = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
    let err = anon
        .get_credentials_for_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
}

#[tokio::test]
async fn a_deleted_role_or_pool_is_gone_for_the_next_request() {
    let s = TestServer::start().await;
    let anon = s.anonymous_cognito();
    let pool_id = create_pool(&s, "doomed", true).await;
    let role = create_role(&s, "Doomed", &guest_trust(&pool_id, "Allow")).await;
    set_pool_role(&s, &pool_id, "unauthenticated", &role).await;
    let guest = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    assert_eq!(guest_role_name(&s, &guest).await, "Doomed");

    s.iam()
        .delete_role()
        .role_name("Doomed")
        .send()
        .await
        .unwrap();
    let err = anon
        .get_credentials_for_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityPoolConfigurationException");

    s.cognito()
        .delete_identity_pool()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let err = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}
