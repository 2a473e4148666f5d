//! Test fixtures that are real servers.
//!
//! Every fixture binds `127.0.0.1:0`, serves real HTTP from a task on the
//! current tokio runtime and stops when it is dropped. Nothing here talks to
//! anything but loopback.
//!
//! - [`OidcProvider`]: an OpenID Connect issuer (discovery + JWKS) with real
//!   RSA and EC keys, signing good ID tokens and every kind of bad one
//!   ([`BadToken`]), key rotation, fetch counters and failure modes
//!   ([`Behavior`]).
//! - [`CognitoUserPool`]: the same, shaped like a Cognito user pool
//!   (`iss = <base>/<poolId>`, `token_use`, `cognito:*` claims).
//! - [`Proxy`]: nginx or Caddy asking cognate's forward-auth, configured
//!   as `deploy/forward-auth/` documents, in front of [`EchoUpstream`].
//! - [`FacebookGraph`] and [`LoginWithAmazon`]: token tables behind the
//!   endpoints the verifiers call (`/me`, `/app`, `/debug_token`;
//!   `/auth/o2/tokeninfo`, `/user/profile`).
//!
//! ```no_run
//! # async fn demo() {
//! use cognate_testkit::OidcProvider;
//! use serde_json::json;
//! let idp = OidcProvider::start().await;
//! let token = idp.id_token(json!({"sub": "u1", "aud": "client-1"}));
//! # let _ = token;
//! # }
//! ```
//!
//! A fixture that cannot set itself up (no loopback socket, key generation
//! failing) panics: it is test code, and a test cannot go on without it.

mod b64;
mod oidc;
mod proxy;
mod server;
mod social;
mod trust;
mod twitter;
mod userpool;

pub use oidc::{Alg, BadToken, OidcOptions, OidcProvider};
pub use proxy::{CADDYFILE, EchoUpstream, NGINX_CONF, Proxy, ProxyKind};
pub use server::Behavior;
pub use social::{FacebookGraph, LoginWithAmazon};
pub use trust::{cognito_trust_policy, cognito_trust_policy_for};
pub use twitter::TwitterApi;
pub use userpool::CognitoUserPool;

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// A random string of `len` ASCII letters and digits.
pub fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in uuid::Uuid::new_v4().into_bytes() {
            if out.len() == len {
                break;
            }
            // 62 letters; the modulo bias does not matter for test data.
            let i = usize::from(b) % ALPHABET.len();
            if let Some(c) = ALPHABET.get(i) {
                out.push(char::from(*c));
            }
        }
    }
    out
}
