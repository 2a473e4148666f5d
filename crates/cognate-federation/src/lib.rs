//! Verification of third-party login tokens for identity pools: the
//! [`LoginVerifier`](cognate_core::federation::LoginVerifier) of cognate.
//!
//! [`FederatedVerifier::new`] takes a [`FederationConfig`] (per-provider URL
//! overrides, timeouts, cache settings). Per provider kind:
//!
//! - **OIDC** (`ProviderKind::Oidc { url }`), **Google**, **Apple**: ID
//!   tokens (JWS). Keys come from `<issuer>/.well-known/openid-configuration`
//!   (whose `issuer` must be the expected one) and its `jwks_uri`.
//! - **Cognito user pools**: ID tokens; keys from
//!   `<issuer>/.well-known/jwks.json` directly, as AWS does (no discovery);
//!   `token_use` must be `id`.
//! - **Facebook**: Graph API `/app` (the app id must be allowed) and `/me`
//!   (subject = user id).
//! - **Login with Amazon**: `/auth/o2/tokeninfo` (`aud` must be allowed),
//!   subject `user_id` (from tokeninfo, else `/user/profile`).
//! - **Twitter**: `/1.1/account/verify_credentials.json`, signed with OAuth
//!   1.0a by the pool's `consumerKey;consumerSecret` and the login's
//!   `accessToken;accessTokenSecret` (subject = `id_str`).
//!
//! Expected issuer: the override of the Logins key if configured, else
//! `url` for OIDC providers, `https://accounts.google.com` (tokens may also
//! say `accounts.google.com`), `https://appleid.apple.com`, and
//! `https://<Logins key>` for user pools (`http://` when the key's host is
//! loopback: a local user-pool emulator).
//!
//! JWT checks, in the order the reference gives (§5.3), each with its
//! message: parse → `iss` → `aud` present → signature → `exp` (with clock
//! skew) → `nbf`/`iat` not in the future → `sub` → (user pools) `token_use`
//! → audience allowed (`azp` when present, else any of `aud`). Nothing a
//! token says is believed before its signature is: the checks before the
//! signature only refuse.
//!
//! Signatures: RS256/384/512, PS256/384/512, ES256 (P-256), ES384 (P-384);
//! the key's `alg` (when the JWK states one) must equal the header's, and
//! the key type must fit. `none`, `HS*` and everything else are refused, as
//! are JWKS keys with private members, `use` other than `sig`, RSA moduli
//! under 2048 bits, and `crit` headers.
//!
//! Key cache: per issuer, for `jwks_ttl`; a token naming an unknown `kid`
//! refetches the JWKS at most once per `refetch_cooldown`, and concurrent
//! misses share one fetch. A failed fetch is not retried within the
//! cooldown; expired keys keep serving for `stale_if_error` while the
//! provider is down.
//!
//! HTTP: `https`, or plain `http` only to loopback hosts (`localhost`,
//! `127.0.0.0/8`, `::1`); redirects only within the same origin (at most 5);
//! bodies up to `max_response_bytes`; each call bounded by `http_timeout`.
//! Errors and logs never contain tokens or URLs with tokens.

mod config;
mod http;
mod jwt;
mod keys;
mod social;
mod twitter;
mod verifier;

pub use config::{FederationConfig, ProviderOverride};
pub use verifier::{FederatedVerifier, FederationSetupError};
