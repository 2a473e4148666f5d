//! Provider-token verification in cognate-federation. Its JWT and JWK
//! parsers are crate-private, so this drives the public
//! `FederatedVerifier` (`LoginVerifier::verify`) against a real OpenID
//! provider fixture on 127.0.0.1 (keys are refetched on every call:
//! TTL and cooldown are zero). Modes, by the first byte:
//!
//! - `T<token>`: any token string. Must never verify.
//! - `S<alg digit><header JSON>\n<claims JSON>`: signed by the fixture with
//!   the current key of that algorithm, header members and claims merged
//!   over good defaults. If it verifies, the header's `alg` is the signing
//!   algorithm and the claims are sound.
//! - `J<JWKS JSON>\n<claims JSON>`: the fixture serves this JWKS instead of
//!   its own; an RS256 token. Must never verify.
//! - `K<JSON array of JWKs>\n<claims JSON>`: those keys are published after
//!   the real ones; an RS256 token.
//! - `D<discovery JSON>\n<claims JSON>`: this discovery document instead of
//!   the real one (a string `jwks_uri` is pinned to the fixture's, so no
//!   request leaves the loopback; `$ISSUER` becomes the fixture's issuer).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use cognate_core::federation::{LoginVerifier, ProviderKind, ProviderSpec};
use cognate_federation::{FederatedVerifier, FederationConfig};
use cognate_testkit::{Alg, OidcProvider};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const CLIENT: &str = "fuzz-client";

struct Fixture {
    rt: tokio::runtime::Runtime,
    idp: OidcProvider,
    verifier: FederatedVerifier,
    spec: ProviderSpec,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let idp = rt.block_on(OidcProvider::start());
        // Keys for every algorithm, so `S` can use them all.
        for alg in Alg::ALL {
            idp.current_kid(alg);
        }
        let config = FederationConfig {
            http_timeout: Duration::from_secs(2),
            jwks_ttl: Duration::ZERO,
            refetch_cooldown: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            max_response_bytes: 64 * 1024,
            ..FederationConfig::default()
        };
        let verifier = FederatedVerifier::new(config).expect("verifier");
        let spec = ProviderSpec {
            name: idp.logins_key(),
            kind: ProviderKind::Oidc {
                url: idp.issuer().to_string(),
            },
            audiences: vec![CLIENT.to_string()],
        };
        Fixture {
            rt,
            idp,
            verifier,
            spec,
        }
    })
}

fn object(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

fn claims(text: &str) -> Value {
    let mut c = json!({"sub": "fuzz-user", "aud": CLIENT});
    if let Some(Value::Object(extra)) = object(text)
        && let Some(m) = c.as_object_mut()
    {
        m.extend(extra);
    }
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let f = fixture();
    let (first, second) = rest.split_once('\n').unwrap_or((rest, ""));
    let mut may_verify = false;
    let mut signed_alg: Option<Alg> = None;
    let token = match mode {
        b'T' => rest.to_string(),
        b'S' => {
            let mut chars = first.chars();
            let alg = Alg::ALL
                [chars.next().and_then(|c| c.to_digit(10)).unwrap_or(0) as usize % Alg::ALL.len()];
            let header = object(chars.as_str()).unwrap_or_else(|| json!({}));
            may_verify = true;
            signed_alg = Some(alg);
            f.idp.sign_with_header(alg, header, claims(second))
        }
        b'J' => {
            let Ok(doc) = serde_json::from_str::<Value>(first) else {
                return;
            };
            f.idp.set_jwks_document(Some(doc));
            f.idp.sign(Alg::RS256, claims(second))
        }
        b'K' => {
            let Ok(Value::Array(extra)) = serde_json::from_str::<Value>(first) else {
                return;
            };
            let mut jwks = f.idp.jwks();
            if let Some(Value::Array(keys)) = jwks.get_mut("keys") {
                keys.extend(extra);
            }
            f.idp.set_jwks_document(Some(jwks));
            may_verify = true;
            signed_alg = Some(Alg::RS256);
            f.idp.sign(Alg::RS256, claims(second))
        }
        b'D' => {
            let first = first.replace("$ISSUER", f.idp.issuer());
            let Some(mut doc) = object(&first) else {
                return;
            };
            if let Some(uri) = doc.get_mut("jwks_uri")
                && uri.is_string()
            {
                *uri = Value::String(f.idp.jwks_url());
            }
            f.idp.set_discovery_document(Some(doc));
            may_verify = true;
            signed_alg = Some(Alg::RS256);
            f.idp.sign(Alg::RS256, claims(second))
        }
        _ => return,
    };
    let now = SystemTime::now();
    let result = f.rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            f.verifier.verify(&f.spec, &token, now),
        )
        .await
    });
    f.idp.set_jwks_document(None);
    f.idp.set_discovery_document(None);
    let result = result.unwrap_or_else(|_| panic!("verify hung for 10 s"));
    if debug() {
        eprintln!(
            "{} -> {:?}",
            mode as char,
            result.as_ref().map(|l| &l.subject)
        );
    }
    match result {
        Ok(login) => {
            assert!(may_verify, "mode {} token verified: {token}", mode as char);
            let parts: Vec<&str> = token.split('.').collect();
            let header: Value = decode(parts[0]);
            let alg = signed_alg.expect("signed mode");
            assert_eq!(
                header["alg"].as_str(),
                Some(alg.name()),
                "verified with a header alg other than the signing one"
            );
            assert!(!login.subject.is_empty());
            assert_eq!(login.audience, CLIENT);
            assert_eq!(
                login.claims.get("sub").and_then(Value::as_str),
                Some(login.subject.as_str())
            );
            let exp = login
                .claims
                .get("exp")
                .and_then(Value::as_f64)
                .expect("exp");
            let now_s = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            assert!(exp + 301.0 > now_s, "an expired token verified (exp {exp})");
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                token.len() < 16 || !text.contains(&token),
                "the error message contains the token"
            );
        }
    }
});

/// `FUZZ_DEBUG=1` prints each outcome (to check that seeds get deep).
fn debug() -> bool {
    static D: OnceLock<bool> = OnceLock::new();
    *D.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

fn decode(b64: &str) -> Value {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}
