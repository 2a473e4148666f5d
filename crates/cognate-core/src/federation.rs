//! The contract between the domain and the verifiers of third-party login
//! tokens. The domain says which provider a Logins key names and which
//! audiences (client ids) the pool accepts for it; a verifier (the
//! `cognate-federation` crate) checks the token for real and returns who the
//! user is.

use std::time::SystemTime;

use async_trait::async_trait;
use serde_json::{Map, Value};

/// How tokens of one Logins key are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// An OpenID Connect issuer registered through IAM
    /// (CreateOpenIDConnectProvider). `url` is the registered URL with its
    /// scheme, e.g. `https://login.example.com` or `http://127.0.0.1:4000`.
    Oidc { url: String },
    /// `accounts.google.com`: OIDC ID tokens.
    Google,
    /// `appleid.apple.com`: OIDC ID tokens.
    Apple,
    /// `graph.facebook.com`: opaque access tokens checked with the Graph API.
    Facebook,
    /// `www.amazon.com`: Login with Amazon access tokens, checked with tokeninfo.
    Amazon,
    /// `api.twitter.com`: OAuth 1.0a token and secret, checked with Twitter's
    /// API under the pool's consumer key and secret.
    Twitter,
    /// `www.digits.com`: Twitter's Digits, shut down in 2017; refused.
    Digits,
    /// A `CognitoIdentityProviders` entry: user pool ID tokens (`token_use`
    /// `id`, `aud` one of the entry's client ids). Named
    /// `cognito-idp.<region>.amazonaws.com/<userPoolId>`, or
    /// `<loopback host>[:<port>]/<userPoolId>` for a local emulator, whose
    /// issuer is then `http://<name>`.
    CognitoUserPool,
}

/// One provider as configured on a pool, ready to verify a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSpec {
    /// The Logins key, e.g. `accounts.google.com` or `login.example.com`.
    pub name: String,
    pub kind: ProviderKind,
    /// Client ids (OIDC `aud`/`azp`, Facebook app id, Amazon client id)
    /// the pool accepts for this provider.
    pub audiences: Vec<String>,
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedLogin {
    /// The Logins key it was presented under.
    pub provider: String,
    /// The user's stable id at the provider (`sub`, Facebook id, Amazon user_id).
    pub subject: String,
    /// The audience (client id) that matched.
    pub audience: String,
    /// All claims of the token (or of the provider's token-info answer), for
    /// role-mapping rules and principal tags. Third-party data only: none
    /// of it is ever read as one of cognate's own fields.
    pub claims: Map<String, Value>,
    /// For a SAML login, the roles its assertion grants for its provider
    /// (the Role attribute's pairs), as cognate read them; `None` for every
    /// other kind of login, whatever its claims say.
    pub saml_roles: Option<Vec<String>>,
}

/// Why a token was refused. Every variant but `ProviderUnreachable` is the
/// caller's fault and becomes NotAuthorizedException; the display text is
/// the message the client sees, so it must never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("Invalid login token. Not a valid OpenId Connect identity token.")]
    Malformed,
    #[error("Invalid login token. Issuer doesn't match providerName")]
    IssuerMismatch,
    #[error("Invalid login token. Missing a required claim: {0}")]
    MissingClaim(&'static str),
    #[error("Invalid login token. Couldn't verify signed token.")]
    BadSignature,
    #[error("Invalid login token. Token expired: {now} >= {exp}")]
    Expired { now: i64, exp: i64 },
    #[error("Invalid login token. Token is not yet valid: {now} < {nbf}")]
    NotYetValid { now: i64, nbf: i64 },
    #[error("Token is not from a supported provider of this identity pool.")]
    AudienceNotAllowed,
    #[error("Invalid login token. {0}")]
    Rejected(String),
    /// The provider could not be reached or answered nonsense; the client
    /// may retry (ExternalServiceException).
    #[error("{0}")]
    ProviderUnreachable(String),
}

/// Verifies third-party login tokens. Implementations cache provider keys;
/// they must not log or echo tokens.
#[async_trait]
pub trait LoginVerifier: Send + Sync + 'static {
    async fn verify(
        &self,
        provider: &ProviderSpec,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedLogin, LoginError>;
}

/// Whether a host is this machine: `localhost` (any case), an address in
/// `127.0.0.0/8`, `::1`, or an IPv4-mapped loopback address. An IPv6 address
/// may come with its brackets. The one loopback rule: the verifiers allow
/// plain `http` and expect `http://<Logins key>` as a local user pool's
/// issuer only for such hosts, and a pool accepts a local user pool's
/// provider name only for them. Names under `.localhost` and `localhost.`
/// are not: a resolver may send them to DNS, whose answer would then be
/// trusted over plain http (the verifiers' client resolves `localhost`
/// itself).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "localhost.",
            "app.localhost",
            "localhost.example.com",
            "notlocalhost",
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "cognito-idp.us-east-1.amazonaws.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
