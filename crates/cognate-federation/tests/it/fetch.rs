//! Fetching keys from hostile or broken providers: plain http off
//! loopback, redirects, size and time limits, bad documents, private keys.

use std::time::{Duration, Instant};

use cognate_core::federation::{LoginError, ProviderKind};
use cognate_federation::{FederatedVerifier, FederationConfig, FederationSetupError};
use cognate_testkit::{Behavior, OidcProvider};
use serde_json::{Value, json};

use crate::common::*;

fn unreachable(r: Result<cognate_core::federation::VerifiedLogin, LoginError>) -> String {
    match r {
        Err(LoginError::ProviderUnreachable(m)) => m,
        other => panic!("expected ProviderUnreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_http_to_a_public_host_is_refused() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let s = spec(
        "login.example.com",
        ProviderKind::Oidc {
            url: "http://login.example.com".into(),
        },
        &["c"],
    );
    let t = idp.id_token(json!({"sub": "u", "aud": "c", "iss": "http://login.example.com"}));
    let started = Instant::now();
    let m = unreachable(verify(&v, &s, &t).await);
    assert!(m.contains("loopback"), "{m}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused without connecting"
    );

    // Same for overrides, at construction.
    for bad in [
        "http://10.1.2.3:9999",
        "http://example.com",
        "ftp://127.0.0.1/",
        "not a url",
    ] {
        let r = FederatedVerifier::new(
            FederationConfig::default().with_provider("accounts.google.com", bad),
        );
        assert!(
            matches!(r, Err(FederationSetupError::InvalidOverride { .. })),
            "{bad}"
        );
    }
    for good in [
        "http://127.0.0.1:9",
        "http://localhost:9/x",
        "http://[::1]:9",
        "https://idp.example.com",
    ] {
        assert!(
            FederatedVerifier::new(FederationConfig::default().with_provider("k", good)).is_ok(),
            "{good}"
        );
    }
}

#[tokio::test]
async fn discovery_pointing_at_plain_http_jwks_is_refused() {
    let idp = OidcProvider::start().await;
    let mut doc = idp.discovery_document();
    doc["jwks_uri"] = json!("http://203.0.113.7/jwks.json");
    idp.set_discovery_document(Some(doc));
    let v = verifier(config());
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    let m = unreachable(verify(&v, &s, &t).await);
    assert!(m.contains("loopback"), "{m}");
    assert_eq!(idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let idp = OidcProvider::start().await;
    let mut doc = idp.discovery_document();
    doc["issuer"] = json!("https://evil.example.com");
    idp.set_discovery_document(Some(doc));
    let v = verifier(config());
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    let m = unreachable(verify(&v, &s, &t).await);
    assert!(m.contains("another issuer"), "{m}");
}

#[tokio::test]
async fn broken_provider_answers() {
    let cases: Vec<(&str, Behavior, &str)> = vec![
        ("jwks", Behavior::Status(500), "500"),
        ("jwks", Behavior::Status(404), "404"),
        ("jwks", Behavior::Malformed, "JSON"),
        ("jwks", Behavior::Huge(2 * 1024 * 1024), "larger"),
        ("discovery", Behavior::Status(502), "502"),
        ("discovery", Behavior::Malformed, "JSON"),
        ("discovery", Behavior::Huge(3 * 1024 * 1024), "larger"),
    ];
    for (what, behavior, needle) in cases {
        let idp = OidcProvider::start().await;
        if what == "jwks" {
            idp.set_jwks_behavior(behavior.clone());
        } else {
            idp.set_discovery_behavior(behavior.clone());
        }
        let v = verifier(config());
        let s = oidc_spec(&idp, &["c"]);
        let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
        let r = verify(&v, &s, &t).await;
        if let Err(e) = &r {
            assert_no_token_in(e, &t);
        }
        let m = unreachable(r);
        assert!(m.contains(needle), "{what} {behavior:?}: {m}");
        assert!(m.contains(&idp.logins_key()), "{m}");
        assert!(!m.contains("http://"), "no URL in the message: {m}");
    }
}

#[tokio::test]
async fn jwks_without_keys_array_or_with_too_many_keys() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    idp.set_jwks_document(Some(json!({"keys": {"not": "an array"}})));
    unreachable(verify(&v, &s, &t).await);

    let idp = OidcProvider::start().await;
    let one = idp.jwks()["keys"][0].clone();
    idp.set_jwks_document(Some(json!({"keys": vec![one; 101]})));
    let v = verifier(config());
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    unreachable(verify(&v, &s, &t).await);
}

#[tokio::test]
async fn slow_provider_times_out() {
    let idp = OidcProvider::start().await;
    idp.set_jwks_behavior(Behavior::Slow(Duration::from_secs(5)));
    let mut cfg = config();
    cfg.http_timeout = Duration::from_millis(400);
    let v = verifier(cfg);
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    let started = Instant::now();
    let m = unreachable(verify(&v, &s, &t).await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(m.contains("timed out"), "{m}");
}

#[tokio::test]
async fn redirects_only_within_the_same_origin() {
    let idp = OidcProvider::start().await;
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));

    // Same origin: followed.
    idp.set_jwks_behavior(Behavior::Redirect("/.well-known/jwks-alt.json".into()));
    let v = verifier(config());
    assert!(verify(&v, &s, &t).await.is_ok());
    assert_eq!(idp.jwks_fetches(), 2);

    // Another host (same machine, other name): refused.
    let other = idp.base_url().replace("127.0.0.1", "localhost");
    idp.set_jwks_behavior(Behavior::Redirect(format!(
        "{other}/.well-known/jwks-alt.json"
    )));
    idp.reset_counters();
    let v = verifier(config());
    let m = unreachable(verify(&v, &s, &t).await);
    assert!(m.contains("redirect"), "{m}");
    assert_eq!(idp.jwks_fetches(), 1, "the redirect target was not fetched");

    // A public host over https: refused too (not contacted).
    idp.set_jwks_behavior(Behavior::Redirect("https://203.0.113.9/jwks".into()));
    let v = verifier(config());
    unreachable(verify(&v, &s, &t).await);
}

#[tokio::test]
async fn keys_with_private_parts_or_wrong_use_are_ignored() {
    let idp = OidcProvider::start().await;
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    for (member, value) in [
        ("d", json!("AQAB")),
        ("p", json!("AQAB")),
        ("k", json!("AQAB")),
        ("use", json!("enc")),
        ("key_ops", json!(["encrypt"])),
    ] {
        let mut jwks = idp.jwks();
        for key in jwks["keys"].as_array_mut().unwrap() {
            key[member] = value.clone();
        }
        idp.set_jwks_document(Some(jwks));
        let v = verifier(config());
        assert_eq!(
            verify(&v, &s, &t).await,
            Err(LoginError::BadSignature),
            "{member}"
        );
    }
    // key_ops with verify is fine.
    let mut jwks = idp.jwks();
    for key in jwks["keys"].as_array_mut().unwrap() {
        key["key_ops"] = json!(["verify"]);
    }
    idp.set_jwks_document(Some(jwks));
    let v = verifier(config());
    assert!(verify(&v, &s, &t).await.is_ok());
}

#[tokio::test]
async fn jwks_uri_override_skips_discovery() {
    let idp = OidcProvider::start().await;
    let mut cfg = config();
    cfg.providers.insert(
        idp.logins_key(),
        cognate_federation::ProviderOverride {
            issuer: idp.issuer().to_owned(),
            jwks_uri: Some(idp.jwks_url()),
        },
    );
    let v = verifier(cfg);
    let s = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    assert!(verify(&v, &s, &t).await.is_ok());
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (0, 1));
}

#[test]
fn config_from_toml() {
    let cfg: FederationConfig = toml::from_str(
        r#"
        http_timeout = 2.5
        jwks_ttl = 600
        refetch_cooldown = 10
        max_response_bytes = 65536
        [providers."accounts.google.com"]
        issuer = "http://127.0.0.1:9999"
        [providers."graph.facebook.com"]
        base_url = "http://127.0.0.1:9998/v19.0"
        [providers."login.example.com"]
        issuer = "https://login.example.com"
        jwks_uri = "https://keys.example.com/jwks"
        "#,
    )
    .unwrap();
    assert_eq!(cfg.http_timeout, Duration::from_millis(2500));
    assert_eq!(cfg.jwks_ttl, Duration::from_secs(600));
    assert_eq!(cfg.refetch_cooldown, Duration::from_secs(10));
    assert_eq!(cfg.clock_skew, Duration::from_secs(300));
    assert_eq!(cfg.max_response_bytes, 65536);
    assert_eq!(
        cfg.providers["accounts.google.com"].issuer,
        "http://127.0.0.1:9999"
    );
    assert_eq!(
        cfg.providers["graph.facebook.com"].issuer,
        "http://127.0.0.1:9998/v19.0"
    );
    assert_eq!(
        cfg.providers["login.example.com"].jwks_uri.as_deref(),
        Some("https://keys.example.com/jwks")
    );
    assert!(FederatedVerifier::new(cfg).is_ok());
    let empty: FederationConfig = toml::from_str("").unwrap();
    assert_eq!(empty, FederationConfig::default());
    assert!(toml::from_str::<FederationConfig>("jwks_tll = 5").is_err());
    let _: Value = json!(null);
}
