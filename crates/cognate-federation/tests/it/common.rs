#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cognate_core::federation::{
    LoginError, LoginVerifier, ProviderKind, ProviderSpec, VerifiedLogin,
};
use cognate_federation::{FederatedVerifier, FederationConfig};
use cognate_testkit::OidcProvider;

/// Defaults with short timeouts for tests.
pub fn config() -> FederationConfig {
    FederationConfig {
        http_timeout: Duration::from_secs(3),
        ..FederationConfig::default()
    }
}

pub fn verifier(config: FederationConfig) -> Arc<FederatedVerifier> {
    Arc::new(FederatedVerifier::new(config).unwrap())
}

pub fn spec(name: &str, kind: ProviderKind, audiences: &[&str]) -> ProviderSpec {
    ProviderSpec {
        name: name.to_owned(),
        kind,
        audiences: audiences.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The IAM-registered OIDC provider for a fixture.
pub fn oidc_spec(idp: &OidcProvider, audiences: &[&str]) -> ProviderSpec {
    spec(
        &idp.logins_key(),
        ProviderKind::Oidc {
            url: idp.issuer().to_owned(),
        },
        audiences,
    )
}

pub async fn verify(
    v: &FederatedVerifier,
    spec: &ProviderSpec,
    token: &str,
) -> Result<VerifiedLogin, LoginError> {
    v.verify(spec, token, SystemTime::now()).await
}

/// The error's message must not contain the token or any of its parts.
pub fn assert_no_token_in(err: &LoginError, token: &str) {
    let msg = err.to_string();
    let dbg = format!("{err:?}");
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!msg.contains(part), "token part in message: {msg}");
        assert!(!dbg.contains(part), "token part in debug: {dbg}");
    }
    if token.len() >= 8 {
        assert!(!msg.contains(token));
    }
}
