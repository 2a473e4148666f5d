//! Cognito user pools: ID vs access tokens, pool and client checks,
//! overrides by key or by host.

use cognate_core::federation::{LoginError, ProviderKind};
use cognate_testkit::{BadToken, CognitoUserPool};
use serde_json::json;

use crate::common::*;

const KEY_PREFIX: &str = "cognito-idp.us-east-1.amazonaws.com";

fn pool_spec(pool: &CognitoUserPool, clients: &[&str]) -> cognate_core::federation::ProviderSpec {
    spec(
        &format!("{KEY_PREFIX}/{}", pool.pool_id()),
        ProviderKind::CognitoUserPool,
        clients,
    )
}

#[tokio::test]
async fn id_token_with_cognito_claims() {
    let pool = CognitoUserPool::start().await;
    let s = pool_spec(&pool, &["app-client"]);
    let v = verifier(config().with_provider(&s.name, pool.issuer()));
    let t = pool.id_token(json!({
        "sub": "9b1c-user", "aud": "app-client",
        "cognito:groups": ["admins", "devs"],
        "cognito:roles": ["arn:aws:iam::000000000000:role/A", "arn:aws:iam::000000000000:role/B"],
        "cognito:preferred_role": "arn:aws:iam::000000000000:role/A",
        "custom:dept": "Sales",
    }));
    let login = verify(&v, &s, &t).await.unwrap();
    assert_eq!(login.subject, "9b1c-user");
    assert_eq!(login.audience, "app-client");
    assert_eq!(login.claims["cognito:username"], "9b1c-user");
    assert_eq!(login.claims["cognito:groups"], json!(["admins", "devs"]));
    assert_eq!(
        login.claims["cognito:preferred_role"],
        "arn:aws:iam::000000000000:role/A"
    );
    assert_eq!(login.claims["token_use"], "id");
    // Keys come straight from <iss>/.well-known/jwks.json.
    assert_eq!((pool.discovery_fetches(), pool.jwks_fetches()), (0, 1));
}

#[tokio::test]
async fn access_token_lacks_aud() {
    let pool = CognitoUserPool::start().await;
    let s = pool_spec(&pool, &["app-client"]);
    let v = verifier(config().with_provider(&s.name, pool.issuer()));
    let t = pool.access_token(json!({"sub": "u", "client_id": "app-client"}));
    let err = verify(&v, &s, &t).await.unwrap_err();
    assert_eq!(err, LoginError::MissingClaim("aud"));
    assert_eq!(
        err.to_string(),
        "Invalid login token. Missing a required claim: aud"
    );
    // An access token that does carry aud is still not an ID token.
    let t = pool.access_token(json!({"sub": "u", "client_id": "app-client", "aud": "app-client"}));
    assert!(matches!(
        verify(&v, &s, &t).await,
        Err(LoginError::Rejected(_))
    ));
    // Neither is a token without token_use.
    let t = pool.id_token(json!({"sub": "u", "aud": "app-client", "token_use": null}));
    assert!(matches!(
        verify(&v, &s, &t).await,
        Err(LoginError::Rejected(_))
    ));
}

#[tokio::test]
async fn token_of_another_pool_or_client() {
    let a = CognitoUserPool::start().await;
    let b = CognitoUserPool::start().await;
    let sa = pool_spec(&a, &["client-a"]);
    let sb = pool_spec(&b, &["client-b"]);
    let v = verifier(
        config()
            .with_provider(&sa.name, a.issuer())
            .with_provider(&sb.name, b.issuer()),
    );
    let from_a = a.id_token(json!({"sub": "u", "aud": "client-a"}));
    assert!(verify(&v, &sa, &from_a).await.is_ok());
    let err = verify(&v, &sb, &from_a).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid login token. Issuer doesn't match providerName"
    );
    let wrong_client = a.id_token(json!({"sub": "u", "aud": "client-b"}));
    let err = verify(&v, &sa, &wrong_client).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Token is not from a supported provider of this identity pool."
    );
    let expired = a.bad_token(BadToken::Expired, json!({"sub": "u", "aud": "client-a"}));
    let err = verify(&v, &sa, &expired).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Invalid login token. Token expired: "),
        "{err}"
    );
}

#[tokio::test]
async fn override_by_host_serves_every_pool() {
    let pool = CognitoUserPool::start().await;
    let s = pool_spec(&pool, &["c"]);
    let v = verifier(config().with_provider(KEY_PREFIX, pool.base_url()));
    let t = pool.id_token(json!({"sub": "u", "aud": "c"}));
    assert!(verify(&v, &s, &t).await.is_ok());
}

#[tokio::test]
async fn loopback_logins_key_needs_no_override() {
    // Amplify builds the key from iss: `127.0.0.1:PORT/<pool>`.
    let pool = CognitoUserPool::start().await;
    let s = spec(&pool.logins_key(), ProviderKind::CognitoUserPool, &["c"]);
    let v = verifier(config());
    let t = pool.id_token(json!({"sub": "u", "aud": "c"}));
    assert_eq!(verify(&v, &s, &t).await.unwrap().subject, "u");
}

#[tokio::test]
async fn rotated_pool_key() {
    let pool = CognitoUserPool::start().await;
    let s = pool_spec(&pool, &["c"]);
    let mut cfg = config().with_provider(&s.name, pool.issuer());
    cfg.refetch_cooldown = std::time::Duration::ZERO;
    let v = verifier(cfg);
    assert!(
        verify(&v, &s, &pool.id_token(json!({"sub": "u", "aud": "c"})))
            .await
            .is_ok()
    );
    pool.rotate();
    assert!(
        verify(&v, &s, &pool.id_token(json!({"sub": "u", "aud": "c"})))
            .await
            .is_ok()
    );
    assert_eq!(pool.jwks_fetches(), 2);
}
