//! [`FederatedVerifier`]: the [`LoginVerifier`] for every provider kind.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use cognate_core::federation::{
    LoginError, LoginVerifier, ProviderKind, ProviderSpec, VerifiedLogin,
};
use reqwest::Url;
use serde_json::{Map, Value};

use crate::config::{FederationConfig, ProviderOverride};
use crate::http::{FetchError, Http, check_url, is_loopback};
use crate::jwt::{self, Alg, numeric_claim};
use crate::keys::{KeyCache, KeySource};

pub(crate) const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub(crate) const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// Why a [`FederatedVerifier`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FederationSetupError {
    #[error("invalid provider override for {key:?}: {reason}")]
    InvalidOverride { key: String, reason: String },
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// Verifies third-party login tokens against the providers (or the local
/// stand-ins the configuration points at). Cheap to share behind an `Arc`;
/// caches signing keys per issuer.
pub struct FederatedVerifier {
    config: FederationConfig,
    pub(crate) http: Http,
    keys: KeyCache,
}

impl std::fmt::Debug for FederatedVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederatedVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How the JWT of one provider is checked.
struct JwtProfile {
    /// Accepted `iss` values.
    issuers: Vec<String>,
    source: KeySource,
    /// Cognito user pool: `token_use` must be `id`.
    user_pool: bool,
}

impl FederatedVerifier {
    /// Checks the overrides (valid URLs; `http` only for loopback hosts) and
    /// builds the HTTP clients.
    pub fn new(config: FederationConfig) -> Result<Self, FederationSetupError> {
        for (key, ov) in &config.providers {
            let bad = |reason: String| FederationSetupError::InvalidOverride {
                key: key.clone(),
                reason,
            };
            let url = Url::parse(&ov.issuer).map_err(|e| bad(format!("issuer: {e}")))?;
            check_url(&url).map_err(|e| bad(format!("issuer: {e}")))?;
            if let Some(j) = &ov.jwks_uri {
                let url = Url::parse(j).map_err(|e| bad(format!("jwks_uri: {e}")))?;
                check_url(&url).map_err(|e| bad(format!("jwks_uri: {e}")))?;
            }
        }
        let http = Http::new(config.http_timeout, config.max_response_bytes)
            .map_err(|e| FederationSetupError::HttpClient(e.without_url().to_string()))?;
        let keys = KeyCache::new(
            http.clone(),
            config.jwks_ttl,
            config.refetch_cooldown,
            config.stale_if_error,
        );
        Ok(FederatedVerifier { config, http, keys })
    }

    pub fn config(&self) -> &FederationConfig {
        &self.config
    }

    /// The override for a Logins key; for user pools also one keyed by the
    /// host alone, with the pool id appended to its issuer.
    fn override_for(&self, spec: &ProviderSpec) -> Option<ProviderOverride> {
        if let Some(ov) = self.config.providers.get(&spec.name) {
            return Some(ov.clone());
        }
        if spec.kind == ProviderKind::CognitoUserPool
            && let Some((host, pool)) = spec.name.split_once('/')
            && let Some(ov) = self.config.providers.get(host)
        {
            return Some(ProviderOverride {
                issuer: format!("{}/{pool}", ov.issuer.trim_end_matches('/')),
                jwks_uri: None,
            });
        }
        None
    }

    /// The API base of Facebook / Login with Amazon / Twitter.
    pub(crate) fn api_base(&self, spec: &ProviderSpec, default: &str) -> String {
        self.override_for(spec)
            .map_or_else(|| default.to_owned(), |ov| ov.issuer)
    }

    fn jwt_profile(&self, spec: &ProviderSpec) -> Option<JwtProfile> {
        let ov = self.override_for(spec);
        let user_pool = spec.kind == ProviderKind::CognitoUserPool;
        let base = match (&spec.kind, &ov) {
            (
                ProviderKind::Facebook
                | ProviderKind::Amazon
                | ProviderKind::Twitter
                | ProviderKind::Digits,
                _,
            ) => {
                return None;
            }
            (_, Some(ov)) => ov.issuer.clone(),
            (ProviderKind::Oidc { url }, None) => url.clone(),
            (ProviderKind::Google, None) => GOOGLE_ISSUER.to_owned(),
            (ProviderKind::Apple, None) => APPLE_ISSUER.to_owned(),
            (ProviderKind::CognitoUserPool, None) => default_user_pool_issuer(&spec.name),
        };
        let mut issuers = vec![base.clone()];
        if spec.kind == ProviderKind::Google {
            // Google's tokens may carry the issuer without its scheme.
            issuers.push(strip_scheme(&base).to_owned());
        }
        let source = match ov.and_then(|o| o.jwks_uri) {
            Some(jwks_uri) => KeySource::Direct { jwks_uri },
            None if user_pool => KeySource::Direct {
                jwks_uri: format!("{}/.well-known/jwks.json", base.trim_end_matches('/')),
            },
            None => KeySource::Discovery { issuer: base },
        };
        Some(JwtProfile {
            issuers,
            source,
            user_pool,
        })
    }

    async fn verify_jwt(
        &self,
        spec: &ProviderSpec,
        profile: &JwtProfile,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedLogin, LoginError> {
        // 1. Parse.
        let jwt = jwt::parse(token).ok_or(LoginError::Malformed)?;
        let claims = &jwt.claims;

        // 2. Issuer (before the signature: it says which keys to use).
        let iss = match claims.get("iss") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => return Err(LoginError::MissingClaim("iss")),
            Some(_) => return Err(LoginError::IssuerMismatch),
        };
        if !profile.issuers.iter().any(|i| same_issuer(i, iss)) {
            return Err(LoginError::IssuerMismatch);
        }

        // 3. An audience must be there (a user-pool access token has none).
        let auds = audiences(claims).ok_or(LoginError::MissingClaim("aud"))?;

        // 4. Signature.
        self.check_signature(spec, profile, &jwt).await?;

        // 5. Time.
        let now = unix_seconds(now);
        let skew = i64::try_from(self.config.clock_skew.as_secs()).unwrap_or(i64::MAX);
        let exp = numeric_claim(claims, "exp")
            .map_err(|()| LoginError::Malformed)?
            .ok_or(LoginError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(skew) {
            return Err(LoginError::Expired { now, exp });
        }
        for name in ["nbf", "iat"] {
            if let Some(t) = numeric_claim(claims, name).map_err(|()| LoginError::Malformed)?
                && now.saturating_add(skew) < t
            {
                return Err(LoginError::NotYetValid { now, nbf: t });
            }
        }

        // 6. Subject, token use.
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(LoginError::MissingClaim("sub")),
        };
        if profile.user_pool && claims.get("token_use").and_then(Value::as_str) != Some("id") {
            return Err(LoginError::Rejected(
                "Only ID tokens of a user pool are accepted (token_use is not id).".into(),
            ));
        }

        // 7. Audience allowed: `azp` when present, else `aud`.
        let audience = match claims.get("azp") {
            Some(Value::String(azp)) => spec.audiences.iter().find(|a| *a == azp).cloned(),
            Some(_) => None,
            None => auds
                .iter()
                .find_map(|aud| spec.audiences.iter().find(|a| *a == aud))
                .cloned(),
        }
        .ok_or(LoginError::AudienceNotAllowed)?;

        Ok(VerifiedLogin {
            provider: spec.name.clone(),
            subject,
            audience,
            claims: jwt.claims.clone(),
            saml_roles: None,
        })
    }

    async fn check_signature(
        &self,
        spec: &ProviderSpec,
        profile: &JwtProfile,
        jwt: &jwt::Jwt<'_>,
    ) -> Result<(), LoginError> {
        let header = &jwt.header;
        // `none`, HS* and anything unknown.
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::from_name)
            .ok_or(LoginError::BadSignature)?;
        // No extensions are understood, so none can be critical.
        if header.contains_key("crit") {
            return Err(LoginError::BadSignature);
        }
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(LoginError::BadSignature),
        };
        let candidates = self
            .keys
            .keys_for(&profile.source, kid)
            .await
            .map_err(|e| unreachable_error(spec, &e))?
            .ok_or(LoginError::BadSignature)?;
        let verified = candidates
            .iter()
            .filter(|k| k.compatible(alg))
            .take(8)
            .any(|k| k.verify(alg, jwt.signing_input.as_bytes(), &jwt.signature));
        if verified {
            Ok(())
        } else {
            Err(LoginError::BadSignature)
        }
    }
}

#[async_trait]
impl LoginVerifier for FederatedVerifier {
    async fn verify(
        &self,
        provider: &ProviderSpec,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedLogin, LoginError> {
        let result = match &provider.kind {
            ProviderKind::Oidc { .. }
            | ProviderKind::Google
            | ProviderKind::Apple
            | ProviderKind::CognitoUserPool => match self.jwt_profile(provider) {
                Some(profile) => self.verify_jwt(provider, &profile, token, now).await,
                None => Err(LoginError::ProviderUnreachable(format!(
                    "No verifier for the identity provider {}.",
                    provider.name
                ))),
            },
            ProviderKind::Facebook => crate::social::facebook(self, provider, token).await,
            ProviderKind::Amazon => crate::social::amazon(self, provider, token).await,
            ProviderKind::Twitter => crate::twitter::twitter(self, provider, token, now).await,
            ProviderKind::Digits => Err(LoginError::Rejected(
                "Digits logins are not supported: the service was shut down in 2017.".into(),
            )),
        };
        match &result {
            Ok(login) => {
                tracing::debug!(provider = %provider.name, audience = %login.audience, "login token verified")
            }
            Err(e) => tracing::debug!(provider = %provider.name, error = %e, "login token refused"),
        }
        result
    }
}

/// The message for a provider that could not be asked; names the Logins key
/// and what went wrong, never a URL or a token.
pub(crate) fn unreachable_error(spec: &ProviderSpec, e: &FetchError) -> LoginError {
    LoginError::ProviderUnreachable(format!(
        "Could not verify the login with the identity provider {}: {e}.",
        spec.name
    ))
}

/// `https://<key>`; `http://<key>` when the key's host is loopback (a local
/// user-pool emulator: Amplify builds the Logins key from its `iss`).
fn default_user_pool_issuer(key: &str) -> String {
    let http = format!("http://{key}");
    match Url::parse(&http) {
        Ok(u) if is_loopback(&u) => http,
        _ => format!("https://{key}"),
    }
}

fn strip_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// Equal up to one trailing slash.
fn same_issuer(expected: &str, actual: &str) -> bool {
    expected.trim_end_matches('/') == actual.trim_end_matches('/') && !actual.is_empty()
}

/// `aud` as a non-empty list of strings.
fn audiences(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let list: Vec<String> = match claims.get("aud")? {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return None,
    };
    if list.iter().all(String::is_empty) {
        None
    } else {
        Some(list)
    }
}

pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_pool_default_issuer() {
        assert_eq!(
            default_user_pool_issuer("cognito-idp.us-east-1.amazonaws.com/us-east-1_a"),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_a"
        );
        assert_eq!(
            default_user_pool_issuer("localhost:9229/us-east-1_a"),
            "http://localhost:9229/us-east-1_a"
        );
        assert_eq!(
            default_user_pool_issuer("127.0.0.1:9229/us-east-1_a"),
            "http://127.0.0.1:9229/us-east-1_a"
        );
    }

    #[test]
    fn issuer_comparison() {
        assert!(same_issuer("https://a.example", "https://a.example/"));
        assert!(!same_issuer("https://a.example", "http://a.example"));
        assert!(!same_issuer("https://a.example", "https://a.example.evil"));
        assert!(!same_issuer("", ""));
    }

    #[test]
    fn audience_shapes() {
        let c = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            audiences(&c(serde_json::json!({"aud": "a"}))),
            Some(vec!["a".into()])
        );
        assert_eq!(
            audiences(&c(serde_json::json!({"aud": ["a", 1, "b"]}))),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(audiences(&c(serde_json::json!({"aud": []}))), None);
        assert_eq!(audiences(&c(serde_json::json!({"aud": ""}))), None);
        assert_eq!(audiences(&c(serde_json::json!({"aud": 5}))), None);
        assert_eq!(audiences(&c(serde_json::json!({}))), None);
    }

    #[test]
    fn time_conversion() {
        assert_eq!(
            unix_seconds(UNIX_EPOCH + std::time::Duration::from_secs(42)),
            42
        );
        assert_eq!(
            unix_seconds(UNIX_EPOCH - std::time::Duration::from_secs(42)),
            -42
        );
    }
}
