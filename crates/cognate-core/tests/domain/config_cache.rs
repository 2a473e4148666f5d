//! The pool and role cache never serves a configuration older than the
//! last change: a change made through one node is seen by the very next
//! request on another, after that node's cache was warmed by the same
//! calls.

use std::collections::BTreeMap;

use cognate_core::pools::PoolSettings;
use cognate_core::sts::AssumeRoleWithWebIdentity;
use cognate_core::{Cognate, Error};
use serde_json::json;

use crate::harness::Domain;

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

/// The role a guest's credentials are for, as `node` vends them.
async fn guest_role(d: &Domain, node: &Cognate, guest: &str) -> Result<String, Error> {
    let identities = node.identities();
    let (_, credentials) = identities
        .get_credentials_for_identity(guest, &BTreeMap::new(), None)
        .await?;
    Ok(d.role_of(&credentials))
}

fn is_misconfigured(result: &Result<String, Error>) -> bool {
    matches!(result, Err(Error::InvalidIdentityPoolConfiguration(_)))
}

fn guest_pool() -> PoolSettings {
    PoolSettings {
        name: "cached".into(),
        allow_unauthenticated: true,
        ..Default::default()
    }
}

/// A guest pool whose guest role is `role_name`, and a guest of it made
/// through `reader`: the pool, the role and the guest.
async fn guest_of(d: &Domain, reader: &Cognate, role_name: &str) -> (String, String, String) {
    let pool = d.pool(guest_pool()).await;
    let role = d.role(role_name, &guest_trust(&pool, "Allow")).await;
    d.set_roles(&pool, &[("unauthenticated", &role)], BTreeMap::new())
        .await
        .unwrap();
    let identities = reader.identities();
    let guest = identities.get_id(&pool, None, &BTreeMap::new()).await;
    (pool, role, guest.unwrap())
}

#[tokio::test]
async fn pool_and_role_changes_are_seen_by_the_next_request_on_every_node() {
    let d = Domain::open().await;
    let reader = d.another_node().await;
    // Warm the reader's cache: the pool through GetId, the role through
    // two rounds of credentials and an STS exchange.
    let (pool, first, guest) = guest_of(&d, &reader, "CachedGuest").await;
    for _ in 0..2 {
        assert_eq!(guest_role(&d, &reader, &guest).await, Ok(first.clone()));
    }
    let identities = reader.identities();
    let (_, token) = identities
        .get_open_id_token(&guest, &BTreeMap::new())
        .await
        .unwrap();
    let exchange = AssumeRoleWithWebIdentity {
        role_arn: first.clone(),
        role_session_name: "cached".into(),
        web_identity_token: token,
        provider_id: None,
        policy_arns: vec![],
        policy: None,
        duration_seconds: None,
    };
    reader
        .sts()
        .assume_role_with_web_identity(&exchange)
        .await
        .unwrap();

    // A trust policy that now denies: the very next calls are refused.
    let iam = d.cognate.iam();
    let deny = guest_trust(&pool, "Deny");
    iam.update_assume_role_policy(&d.root, "CachedGuest", &deny)
        .await
        .unwrap();
    let refused = guest_role(&d, &reader, &guest).await;
    assert!(is_misconfigured(&refused), "{refused:?}");
    let err = reader
        .sts()
        .assume_role_with_web_identity(&exchange)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");

    // Restored, it is trusted again at once.
    let allow = guest_trust(&pool, "Allow");
    iam.update_assume_role_policy(&d.root, "CachedGuest", &allow)
        .await
        .unwrap();
    assert_eq!(guest_role(&d, &reader, &guest).await, Ok(first.clone()));
    reader
        .sts()
        .assume_role_with_web_identity(&exchange)
        .await
        .unwrap();

    // Another guest role: the next credentials are for it.
    let second = d.role("CachedGuest2", &allow).await;
    d.set_roles(&pool, &[("unauthenticated", &second)], BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(guest_role(&d, &reader, &guest).await, Ok(second));

    // A pool that stops allowing guests refuses the next guest GetId and
    // guest credentials.
    let no_guests = PoolSettings {
        allow_unauthenticated: false,
        ..guest_pool()
    };
    d.cognate
        .pools()
        .update(&d.root, &pool, no_guests)
        .await
        .unwrap();
    let err = reader
        .identities()
        .get_id(&pool, None, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotAuthorized(_)), "{err:?}");
    let err = guest_role(&d, &reader, &guest).await.unwrap_err();
    assert!(matches!(err, Error::NotAuthorized(_)), "{err:?}");
}

#[tokio::test]
async fn a_deleted_role_or_pool_is_gone_for_the_next_request_on_every_node() {
    let d = Domain::open().await;
    let reader = d.another_node().await;
    let (pool, role, guest) = guest_of(&d, &reader, "Doomed").await;
    assert_eq!(guest_role(&d, &reader, &guest).await, Ok(role));

    d.cognate
        .iam()
        .delete_role(&d.root, "Doomed")
        .await
        .unwrap();
    let refused = guest_role(&d, &reader, &guest).await;
    assert!(is_misconfigured(&refused), "{refused:?}");

    d.cognate.pools().delete(&d.root, &pool).await.unwrap();
    let err = reader
        .identities()
        .get_id(&pool, None, &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(err, Error::pool_not_found(&pool));
}
