//! A role is vended only to the identities its trust policy admits: the
//! pool (`aud`) and the kind of login (`amr`) must match.

use cognate_core::Error;
use serde_json::json;

use crate::harness::{Domain, LOGIN_KEY, login_of, trust_policy};

#[tokio::test]
async fn a_role_is_vended_only_where_its_trust_policy_names_the_pool_and_the_login() {
    let d = Domain::open().await;
    let setup = d.oidc_pool(true).await;
    let pool = &setup.pool_id;
    let alice = login_of("alice");
    let id = d.get_id(pool, &[(LOGIN_KEY, &alice)]).await.unwrap();
    let guest = d.get_id(pool, &[]).await.unwrap();
    let refused = Error::InvalidIdentityPoolConfiguration(
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.".into(),
    );

    // An authenticated role that trusts another pool's identities only.
    let elsewhere = d
        .role(
            "Elsewhere",
            &trust_policy("us-east-1:someone-else", "authenticated"),
        )
        .await;
    // A guest role whose trust admits only authenticated logins.
    let wrong_amr = d
        .role("WrongAmr", &trust_policy(pool, "authenticated"))
        .await;
    d.set_roles(
        pool,
        &[
            ("authenticated", &elsewhere),
            ("unauthenticated", &wrong_amr),
        ],
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        d.credentials(&id, &[(LOGIN_KEY, &alice)], None).await,
        Err(refused.clone())
    );
    assert_eq!(d.credentials(&guest, &[], None).await, Err(refused.clone()));

    // A trust policy that names the pool but not the web identity action.
    let no_action = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool}}
        }]
    });
    let no_action = d.role("NoAction", &no_action.to_string()).await;
    d.set_roles(pool, &[("authenticated", &no_action)], Default::default())
        .await
        .unwrap();
    assert_eq!(
        d.credentials(&id, &[(LOGIN_KEY, &alice)], None).await,
        Err(refused)
    );

    // Trusting roles again: both kinds are vended.
    d.set_roles(
        pool,
        &[
            ("authenticated", &setup.auth_role),
            ("unauthenticated", &setup.unauth_role),
        ],
        Default::default(),
    )
    .await
    .unwrap();
    let (_, role) = d
        .credentials(&id, &[(LOGIN_KEY, &alice)], None)
        .await
        .unwrap();
    assert_eq!(role, setup.auth_role);
    let (_, role) = d.credentials(&guest, &[], None).await.unwrap();
    assert_eq!(role, setup.unauth_role);
}
