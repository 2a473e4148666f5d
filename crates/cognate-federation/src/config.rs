//! Settings of the verifier, deserialisable from the server's TOML.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Settings of [`FederatedVerifier`](crate::FederatedVerifier).
///
/// Deserialises from TOML/JSON with every field optional; durations are
/// numbers of seconds (fractions allowed):
///
/// ```toml
/// http_timeout = 5
/// jwks_ttl = 3600
/// refetch_cooldown = 30
/// [providers."accounts.google.com"]
/// issuer = "http://127.0.0.1:9999"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Per-provider overrides, keyed by Logins key (`accounts.google.com`,
    /// `graph.facebook.com`, `login.example.com`,
    /// `cognito-idp.us-east-1.amazonaws.com/us-east-1_abc`). A user-pool
    /// override may also be keyed by the host alone
    /// (`cognito-idp.us-east-1.amazonaws.com`): the pool id is then appended
    /// to its issuer.
    pub providers: BTreeMap<String, ProviderOverride>,
    /// Whole-request limit for one HTTP call to a provider (connect, headers
    /// and body). Default 5 s.
    #[serde(deserialize_with = "seconds")]
    pub http_timeout: Duration,
    /// How long fetched signing keys (and the discovery document's
    /// `jwks_uri`) are used before they are fetched again. Default 1 h.
    #[serde(deserialize_with = "seconds")]
    pub jwks_ttl: Duration,
    /// After a fetch (or failed fetch) of an issuer's keys, a token naming an
    /// unknown `kid` does not cause another fetch for this long, and a failed
    /// fetch is not retried for this long. Default 30 s.
    #[serde(deserialize_with = "seconds")]
    pub refetch_cooldown: Duration,
    /// When refreshing expired keys fails, keep using them for this long
    /// past their TTL. Default 1 h; zero disables.
    #[serde(deserialize_with = "seconds")]
    pub stale_if_error: Duration,
    /// Largest accepted response body from a provider. Default 1 MiB.
    pub max_response_bytes: usize,
    /// Allowed clock skew for `exp`, `nbf` and `iat`. Default 5 min.
    #[serde(deserialize_with = "seconds")]
    pub clock_skew: Duration,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            providers: BTreeMap::new(),
            http_timeout: Duration::from_secs(5),
            jwks_ttl: Duration::from_secs(3600),
            refetch_cooldown: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(3600),
            max_response_bytes: 1024 * 1024,
            clock_skew: Duration::from_secs(300),
        }
    }
}

impl FederationConfig {
    /// Adds (or replaces) the override of one Logins key.
    pub fn with_provider(mut self, logins_key: &str, issuer: &str) -> Self {
        self.providers.insert(
            logins_key.to_owned(),
            ProviderOverride {
                issuer: issuer.to_owned(),
                jwks_uri: None,
            },
        );
        self
    }
}

/// Where one provider really is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverride {
    /// For token issuers (OIDC, Google, Apple, user pools): the issuer URL
    /// the tokens carry as `iss`, and from which keys are discovered
    /// (`<issuer>/.well-known/openid-configuration`; for user pools
    /// `<issuer>/.well-known/jwks.json`). For Facebook and Login with Amazon:
    /// the API base URL (default `https://graph.facebook.com`,
    /// `https://api.amazon.com`). `http` only for loopback hosts.
    #[serde(alias = "base_url", alias = "api_base")]
    pub issuer: String,
    /// Fetch the JWKS from here instead of discovering it.
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}
