//! The key cache: one fetch serves many verifications, unknown kids refetch
//! once (single flight, cooldown), rotation is picked up, stale keys serve
//! while the provider is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cognate_core::federation::LoginError;
use cognate_testkit::{Behavior, OidcProvider, random_alnum};
use serde_json::json;
use tokio::task::JoinSet;

use crate::common::*;

#[tokio::test]
async fn keys_are_cached() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    for i in 0..25 {
        let t = idp.id_token(json!({"sub": format!("u{i}"), "aud": "c"}));
        assert!(verify(&v, &spec, &t).await.is_ok());
    }
    assert_eq!(idp.discovery_fetches(), 1);
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_cache_concurrent_first_use_fetches_once() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = Arc::new(oidc_spec(&idp, &["c"]));
    let mut set = JoinSet::new();
    for i in 0..32 {
        let (v, spec) = (v.clone(), spec.clone());
        let t = idp.id_token(json!({"sub": format!("u{i}"), "aud": "c"}));
        set.spawn(async move { verify(&v, &spec, &t).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().is_ok());
    }
    assert_eq!(idp.discovery_fetches(), 1);
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_32_concurrent_verifications_refetches_once() {
    let idp = OidcProvider::start().await;
    // No cooldown: only the single flight keeps this at one refetch.
    let v = verifier(FederationConfigExt::cooldown(Duration::ZERO));
    let spec = Arc::new(oidc_spec(&idp, &["c"]));
    let old = idp.id_token(json!({"sub": "old", "aud": "c"}));
    assert!(verify(&v, &spec, &old).await.is_ok());
    assert_eq!(idp.jwks_fetches(), 1);

    let new_kid = idp.rotate();
    let mut set = JoinSet::new();
    for i in 0..32 {
        let (v, spec) = (v.clone(), spec.clone());
        let t = idp.id_token(json!({"sub": format!("u{i}"), "aud": "c"}));
        set.spawn(async move { verify(&v, &spec, &t).await });
    }
    while let Some(r) = set.join_next().await {
        let login = r.unwrap().unwrap();
        assert!(login.subject.starts_with('u'));
    }
    assert_eq!(idp.current_kid(cognate_testkit::Alg::RS256), new_kid);
    assert_eq!(idp.jwks_fetches(), 2, "exactly one refetch");
    assert_eq!(
        idp.discovery_fetches(),
        1,
        "a kid miss refetches only the JWKS"
    );
    // Tokens of the old key still verify (it is still published).
    assert!(verify(&v, &spec, &old).await.is_ok());
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn rotation_is_picked_up_after_the_cooldown() {
    let idp = OidcProvider::start().await;
    let v = verifier(FederationConfigExt::cooldown(Duration::from_secs(1)));
    let spec = oidc_spec(&idp, &["c"]);
    assert!(
        verify(&v, &spec, &idp.id_token(json!({"sub": "u", "aud": "c"})))
            .await
            .is_ok()
    );
    idp.rotate();
    idp.retire_old_keys();
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    // Within the cooldown of the first fetch the new kid is not fetched.
    assert_eq!(verify(&v, &spec, &t).await, Err(LoginError::BadSignature));
    assert_eq!(idp.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(verify(&v, &spec, &t).await.is_ok());
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_kids_cause_no_refetch_storm() {
    let idp = OidcProvider::start().await;
    let v = verifier(config()); // 30 s cooldown
    let spec = Arc::new(oidc_spec(&idp, &["c"]));
    assert!(
        verify(&v, &spec, &idp.id_token(json!({"sub": "u", "aud": "c"})))
            .await
            .is_ok()
    );
    let mut set = JoinSet::new();
    for _ in 0..64 {
        let (v, spec) = (v.clone(), spec.clone());
        let t = idp.token_with_kid(&random_alnum(20), json!({"sub": "u", "aud": "c"}));
        set.spawn(async move { verify(&v, &spec, &t).await });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap(), Err(LoginError::BadSignature));
    }
    for _ in 0..20 {
        let t = idp.token_with_kid(&random_alnum(20), json!({"sub": "u", "aud": "c"}));
        assert_eq!(verify(&v, &spec, &t).await, Err(LoginError::BadSignature));
    }
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_cooldown() {
    let idp = OidcProvider::start().await;
    let v = verifier(FederationConfigExt::cooldown(Duration::from_millis(300)));
    let spec = oidc_spec(&idp, &["c"]);
    assert!(
        verify(&v, &spec, &idp.id_token(json!({"sub": "u", "aud": "c"})))
            .await
            .is_ok()
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    for _ in 0..10 {
        let t = idp.token_with_kid("nope", json!({"sub": "u", "aud": "c"}));
        assert_eq!(verify(&v, &spec, &t).await, Err(LoginError::BadSignature));
    }
    assert_eq!(idp.jwks_fetches(), 2);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let t = idp.token_with_kid("nope", json!({"sub": "u", "aud": "c"}));
    assert_eq!(verify(&v, &spec, &t).await, Err(LoginError::BadSignature));
    assert_eq!(idp.jwks_fetches(), 3);
}

#[tokio::test]
async fn keys_expire_after_the_ttl() {
    let idp = OidcProvider::start().await;
    let v = verifier(FederationConfigExt::ttl(Duration::from_millis(300)));
    let spec = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    assert!(verify(&v, &spec, &t).await.is_ok());
    assert!(verify(&v, &spec, &t).await.is_ok());
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (1, 1));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(verify(&v, &spec, &t).await.is_ok());
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (2, 2));
}

#[tokio::test]
async fn stale_keys_serve_while_the_provider_is_down() {
    let idp = OidcProvider::start().await;
    let mut cfg = FederationConfigExt::ttl(Duration::from_millis(200));
    cfg.refetch_cooldown = Duration::from_secs(30);
    let v = verifier(cfg.clone());
    cfg.stale_if_error = Duration::ZERO;
    let strict = verifier(cfg);
    let spec = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    assert!(verify(&v, &spec, &t).await.is_ok());
    assert!(verify(&strict, &spec, &t).await.is_ok());

    idp.set_discovery_behavior(Behavior::Status(503));
    idp.set_jwks_behavior(Behavior::Status(503));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(verify(&v, &spec, &t).await.is_ok(), "stale keys serve");
    let err = verify(&strict, &spec, &t).await.unwrap_err();
    assert!(matches!(err, LoginError::ProviderUnreachable(_)), "{err:?}");
    let fetches = idp.discovery_fetches();
    // Failures are not retried within the cooldown.
    for _ in 0..5 {
        assert!(verify(&v, &spec, &t).await.is_ok());
        assert!(verify(&strict, &spec, &t).await.is_err());
    }
    assert_eq!(idp.discovery_fetches(), fetches);
}

#[tokio::test]
async fn failed_fetch_is_not_retried_within_the_cooldown() {
    let idp = OidcProvider::start().await;
    idp.set_jwks_behavior(Behavior::Status(500));
    let v = verifier(FederationConfigExt::cooldown(Duration::from_millis(300)));
    let spec = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    for _ in 0..5 {
        let err = verify(&v, &spec, &t).await.unwrap_err();
        assert!(matches!(err, LoginError::ProviderUnreachable(_)), "{err:?}");
        assert_no_token_in(&err, &t);
    }
    assert_eq!(idp.jwks_fetches(), 1);
    idp.set_jwks_behavior(Behavior::Normal);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let started = Instant::now();
    assert!(verify(&v, &spec, &t).await.is_ok());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(idp.jwks_fetches(), 2);
}

/// Small constructors for cache-focused configs.
struct FederationConfigExt;

impl FederationConfigExt {
    fn cooldown(d: Duration) -> cognate_federation::FederationConfig {
        let mut c = config();
        c.refetch_cooldown = d;
        c
    }

    fn ttl(d: Duration) -> cognate_federation::FederationConfig {
        let mut c = config();
        c.jwks_ttl = d;
        c
    }
}
