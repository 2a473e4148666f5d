//! An OpenID Connect issuer on 127.0.0.1 with real keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, KeyPair as _, RsaEncoding, RsaKeyPair, RsaPublicKeyComponents,
};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::server::{Behavior, FixtureServer, json_response, lock};
use crate::{b64, random_alnum, unix_now};

/// The signature algorithms the fixture can sign with. Each algorithm has
/// its own key(s); the JWKS states the algorithm of every key (unless
/// [`OidcProvider::set_publish_alg`] turns that off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    ES256,
    ES384,
}

impl Alg {
    pub const ALL: [Alg; 6] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::ES256,
        Alg::ES384,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn RsaEncoding> {
        match self {
            Alg::RS256 => Some(&signature::RSA_PKCS1_SHA256),
            Alg::RS384 => Some(&signature::RSA_PKCS1_SHA384),
            Alg::RS512 => Some(&signature::RSA_PKCS1_SHA512),
            Alg::PS256 => Some(&signature::RSA_PSS_SHA256),
            Alg::ES256 | Alg::ES384 => None,
        }
    }
}

/// Deliberately bad tokens. [`OidcProvider::bad_token`] starts from the
/// claims you give (as for a good token) and spoils them one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadToken {
    /// `exp` an hour ago (`iat` two hours ago).
    Expired,
    /// `nbf` an hour from now.
    NotYetValid,
    /// `iat` an hour from now (`exp` two hours from now).
    IssuedInFuture,
    /// `aud` = `"wrong-client-id"`.
    WrongAudience,
    /// `iss` = `"https://wrong-issuer.example.com"`.
    WrongIssuer,
    /// Properly signed, then one bit of the signature flipped.
    TamperedSignature,
    /// Properly signed, then `sub` changed (and `admin: true` added) keeping
    /// the original signature.
    TamperedPayload,
    /// Header `alg: none`, empty signature.
    AlgNone,
    /// Header `alg: HS256` with the RS256 key's `kid`, HMAC keyed with the
    /// RSA public key's PEM text (the classic algorithm-confusion attack).
    Hs256WithPublicKey,
    /// Signed by a real RSA key that the JWKS does not publish (its `kid` is
    /// unknown to the provider).
    UnknownKid,
    /// Header `alg: RS512` but signed by (and naming the `kid` of) the key
    /// published with `alg: RS256`.
    AlgMismatch,
    /// Not a JWT at all.
    Garbage,
}

impl BadToken {
    /// Whether the token's signature is broken or forged (rather than its
    /// claims wrong under a good signature).
    pub fn is_forged(self) -> bool {
        !matches!(
            self,
            BadToken::Expired
                | BadToken::NotYetValid
                | BadToken::IssuedInFuture
                | BadToken::WrongAudience
                | BadToken::WrongIssuer
        )
    }
    pub const ALL: [BadToken; 12] = [
        BadToken::Expired,
        BadToken::NotYetValid,
        BadToken::IssuedInFuture,
        BadToken::WrongAudience,
        BadToken::WrongIssuer,
        BadToken::TamperedSignature,
        BadToken::TamperedPayload,
        BadToken::AlgNone,
        BadToken::Hs256WithPublicKey,
        BadToken::UnknownKid,
        BadToken::AlgMismatch,
        BadToken::Garbage,
    ];
}

/// Start-up options of an [`OidcProvider`].
#[derive(Debug, Clone, Default)]
pub struct OidcOptions {
    /// Path under the base URL that is part of the issuer, e.g. `/tenant-1`
    /// gives `iss = http://127.0.0.1:PORT/tenant-1`. Empty: the issuer is the
    /// base URL.
    pub path_prefix: String,
    /// Claims added to every token (before the caller's claims).
    pub default_claims: Map<String, Value>,
}

impl OidcOptions {
    pub fn path_prefix(mut self, prefix: &str) -> Self {
        self.path_prefix = prefix.to_owned();
        self
    }

    pub fn default_claim(mut self, name: &str, value: Value) -> Self {
        self.default_claims.insert(name.to_owned(), value);
        self
    }
}

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
}

struct KeyEntry {
    kid: String,
    alg: Alg,
    material: Material,
}

#[allow(clippy::expect_used)] // key generation failing means the test cannot run
fn generate_key(alg: Alg) -> KeyEntry {
    let material = match alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 => Material::Rsa(
            RsaKeyPair::generate(KeySize::Rsa2048).expect("fixture: generate RSA key"),
        ),
        Alg::ES256 => Material::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .expect("fixture: generate P-256 key"),
            "P-256",
        ),
        Alg::ES384 => Material::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
                .expect("fixture: generate P-384 key"),
            "P-384",
        ),
    };
    KeyEntry {
        kid: format!("{}-{}", alg.name().to_ascii_lowercase(), random_alnum(12)),
        alg,
        material,
    }
}

impl KeyEntry {
    /// Signs with the key; `as_alg` chooses the RSA padding/digest (so a key
    /// can be misused under another RSA algorithm for the mismatch cases).
    #[allow(clippy::expect_used)] // signing with a freshly generated key does not fail
    fn sign(&self, as_alg: Alg, msg: &[u8]) -> Vec<u8> {
        match &self.material {
            Material::Rsa(kp) => {
                let enc = as_alg
                    .rsa_encoding()
                    .or(self.alg.rsa_encoding())
                    .unwrap_or(&signature::RSA_PKCS1_SHA256);
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(enc, &SystemRandom::new(), msg, &mut sig)
                    .expect("fixture: RSA sign");
                sig
            }
            Material::Ec(kp, _) => kp
                .sign(&SystemRandom::new(), msg)
                .expect("fixture: ECDSA sign")
                .as_ref()
                .to_vec(),
        }
    }

    fn jwk(&self, publish_alg: bool) -> Value {
        let mut jwk = match &self.material {
            Material::Rsa(kp) => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                       "n": b64::url(&c.n), "e": b64::url(&c.e)})
            }
            Material::Ec(kp, crv) => {
                // Uncompressed point: 0x04 || x || y.
                let point = kp.public_key().as_ref();
                let coord = (point.len().saturating_sub(1)) / 2;
                let x = point.get(1..1 + coord).unwrap_or_default();
                let y = point.get(1 + coord..).unwrap_or_default();
                json!({"kty": "EC", "kid": self.kid, "use": "sig", "crv": crv,
                       "x": b64::url(x), "y": b64::url(y)})
            }
        };
        if publish_alg && let Some(obj) = jwk.as_object_mut() {
            obj.insert("alg".into(), Value::String(self.alg.name().into()));
        }
        jwk
    }

    /// PEM text of the SubjectPublicKeyInfo (RSA keys), for the HS256
    /// confusion attack.
    fn public_pem(&self) -> Vec<u8> {
        let der = match &self.material {
            Material::Rsa(kp) => kp
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default(),
            Material::Ec(kp, _) => kp.public_key().as_ref().to_vec(),
        };
        let body = b64::std(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem.into_bytes()
    }
}

struct KeyState {
    /// Published keys, oldest first; the current key of an algorithm is
    /// the last one with that algorithm.
    keys: Vec<KeyEntry>,
    /// A key that is never published (for `UnknownKid`).
    orphan: Option<KeyEntry>,
    publish_alg: bool,
    discovery_behavior: Behavior,
    jwks_behavior: Behavior,
    discovery_document: Option<Value>,
    jwks_document: Option<Value>,
}

struct Shared {
    issuer: String,
    jwks_uri: String,
    default_claims: Map<String, Value>,
    state: Mutex<KeyState>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

impl Shared {
    fn jwks(&self) -> Value {
        let st = lock(&self.state);
        let keys: Vec<Value> = st.keys.iter().map(|k| k.jwk(st.publish_alg)).collect();
        json!({ "keys": keys })
    }

    fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": format!("{}/authorize", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported":
                Alg::ALL.iter().map(|a| a.name()).collect::<Vec<_>>(),
        })
    }
}

/// An OpenID Connect provider served over real HTTP on 127.0.0.1.
///
/// Serves `<issuer>/.well-known/openid-configuration` and
/// `<issuer>/.well-known/jwks.json` (the discovery document's `jwks_uri`),
/// plus `<issuer>/.well-known/jwks-alt.json` (the same JWKS, always served
/// normally: a target for same-host redirects). Stops when dropped.
pub struct OidcProvider {
    shared: Arc<Shared>,
    server: FixtureServer,
}

impl OidcProvider {
    /// Starts a provider whose issuer is its base URL, with one RS256 key.
    pub async fn start() -> Self {
        Self::start_with(OidcOptions::default()).await
    }

    pub async fn start_with(options: OidcOptions) -> Self {
        let prefix = normalize_prefix(&options.path_prefix);
        let first_key = tokio::task::spawn_blocking(|| generate_key(Alg::RS256)).await;
        let first_key = match first_key {
            Ok(k) => k,
            Err(_) => generate_key(Alg::RS256),
        };
        let mut shared_out: Option<Arc<Shared>> = None;
        let server = FixtureServer::start(|base| {
            let issuer = format!("{base}{prefix}");
            let shared = Arc::new(Shared {
                jwks_uri: format!("{issuer}/.well-known/jwks.json"),
                issuer,
                default_claims: options.default_claims,
                state: Mutex::new(KeyState {
                    keys: vec![first_key],
                    orphan: None,
                    publish_alg: true,
                    discovery_behavior: Behavior::Normal,
                    jwks_behavior: Behavior::Normal,
                    discovery_document: None,
                    jwks_document: None,
                }),
                discovery_fetches: AtomicUsize::new(0),
                jwks_fetches: AtomicUsize::new(0),
            });
            shared_out = Some(shared.clone());
            Router::new()
                .route(
                    &format!("{prefix}/.well-known/openid-configuration"),
                    get(discovery_handler),
                )
                .route(
                    &format!("{prefix}/.well-known/jwks.json"),
                    get(jwks_handler),
                )
                .route(
                    &format!("{prefix}/.well-known/jwks-alt.json"),
                    get(jwks_alt_handler),
                )
                .with_state(shared)
        })
        .await;
        #[allow(clippy::expect_used)] // the closure above always runs
        let shared = shared_out.expect("fixture: router built");
        OidcProvider { shared, server }
    }

    /// `http://127.0.0.1:PORT` (without the path prefix).
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// The `iss` of the tokens: base URL plus path prefix.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The issuer without its scheme: the Logins key of this provider.
    pub fn logins_key(&self) -> String {
        strip_scheme(&self.shared.issuer).to_owned()
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.shared.issuer)
    }

    pub fn jwks_url(&self) -> String {
        self.shared.jwks_uri.clone()
    }

    /// The JWKS as currently published.
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// The current key id for an algorithm (creating the key if needed).
    pub fn current_kid(&self, alg: Alg) -> String {
        let mut st = lock(&self.shared.state);
        current_key(&mut st, alg).kid.clone()
    }

    /// An RS256 ID token with `iss`, `iat` and `exp` (now + 1 h) defaulted.
    /// A claim given as `null` is left out of the token.
    pub fn id_token(&self, claims: Value) -> String {
        self.sign(Alg::RS256, claims)
    }

    /// A token signed with the current key of `alg`.
    pub fn sign(&self, alg: Alg, claims: Value) -> String {
        self.sign_with_header(alg, json!({}), claims)
    }

    /// Like [`sign`](Self::sign), with header members merged over the
    /// default header `{"alg", "typ": "JWT", "kid"}` (a `null` removes one;
    /// the signature is made with the current key of `alg` regardless).
    pub fn sign_with_header(&self, alg: Alg, header: Value, claims: Value) -> String {
        let claims = self.complete_claims(claims);
        let mut st = lock(&self.shared.state);
        let key = current_key(&mut st, alg);
        let mut h = json!({"alg": alg.name(), "typ": "JWT", "kid": key.kid});
        merge(&mut h, header);
        encode_signed(&h, &claims, |msg| key.sign(alg, msg))
    }

    /// A deliberately bad token; `claims` are those of an otherwise good
    /// token (defaults are filled in as for [`id_token`](Self::id_token)).
    pub fn bad_token(&self, kind: BadToken, claims: Value) -> String {
        let now = unix_now();
        let mut claims = claims;
        match kind {
            BadToken::Expired => merge(&mut claims, json!({"iat": now - 7200, "exp": now - 3600})),
            BadToken::NotYetValid => merge(&mut claims, json!({"nbf": now + 3600})),
            BadToken::IssuedInFuture => {
                merge(&mut claims, json!({"iat": now + 3600, "exp": now + 7200}))
            }
            BadToken::WrongAudience => merge(&mut claims, json!({"aud": "wrong-client-id"})),
            BadToken::WrongIssuer => merge(
                &mut claims,
                json!({"iss": "https://wrong-issuer.example.com"}),
            ),
            _ => {}
        }
        match kind {
            BadToken::Expired
            | BadToken::NotYetValid
            | BadToken::IssuedInFuture
            | BadToken::WrongAudience
            | BadToken::WrongIssuer => self.id_token(claims),
            BadToken::TamperedSignature => {
                let good = self.id_token(claims);
                let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
                if let Some(sig) = parts.get_mut(2) {
                    let mut bytes = b64::url_decode(sig).unwrap_or_default();
                    if let Some(b) = bytes.first_mut() {
                        *b ^= 0x01;
                    }
                    *sig = b64::url(bytes);
                }
                parts.join(".")
            }
            BadToken::TamperedPayload => {
                let good = self.id_token(claims);
                let parts: Vec<&str> = good.split('.').collect();
                let (Some(h), Some(p), Some(s)) = (parts.first(), parts.get(1), parts.get(2))
                else {
                    return good;
                };
                let mut payload: Value = b64::url_decode(p)
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_else(|| json!({}));
                let sub = payload
                    .get("sub")
                    .and_then(Value::as_str)
                    .unwrap_or("user")
                    .to_owned();
                merge(
                    &mut payload,
                    json!({"sub": format!("{sub}-tampered"), "admin": true}),
                );
                format!("{h}.{}.{s}", b64::url(payload.to_string()))
            }
            BadToken::AlgNone => {
                let claims = self.complete_claims(claims);
                let header = json!({"alg": "none", "typ": "JWT"});
                format!(
                    "{}.{}.",
                    b64::url(header.to_string()),
                    b64::url(claims.to_string())
                )
            }
            BadToken::Hs256WithPublicKey => {
                let claims = self.complete_claims(claims);
                let mut st = lock(&self.shared.state);
                let key = current_key(&mut st, Alg::RS256);
                let hmac_key =
                    aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key.public_pem());
                let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid});
                encode_signed(&header, &claims, |msg| {
                    aws_lc_rs::hmac::sign(&hmac_key, msg).as_ref().to_vec()
                })
            }
            BadToken::UnknownKid => {
                let claims = self.complete_claims(claims);
                let mut st = lock(&self.shared.state);
                let orphan = st.orphan.get_or_insert_with(|| generate_key(Alg::RS256));
                let header = json!({"alg": "RS256", "typ": "JWT", "kid": orphan.kid});
                encode_signed(&header, &claims, |msg| orphan.sign(Alg::RS256, msg))
            }
            BadToken::AlgMismatch => {
                let claims = self.complete_claims(claims);
                let mut st = lock(&self.shared.state);
                let key = current_key(&mut st, Alg::RS256);
                let header = json!({"alg": "RS512", "typ": "JWT", "kid": key.kid});
                encode_signed(&header, &claims, |msg| key.sign(Alg::RS512, msg))
            }
            BadToken::Garbage => "this-is-not-a-jwt".to_owned(),
        }
    }

    /// A correctly signed RS256 token whose header names `kid` (which the
    /// provider does not publish, unless it happens to be a real one).
    pub fn token_with_kid(&self, kid: &str, claims: Value) -> String {
        self.sign_with_header(Alg::RS256, json!({ "kid": kid }), claims)
    }

    /// Rotates every algorithm in use: a new key becomes current and is
    /// published; the old keys stay published until
    /// [`retire_old_keys`](Self::retire_old_keys). Returns the new RS256 kid.
    pub fn rotate(&self) -> String {
        let mut st = lock(&self.shared.state);
        let mut algs: Vec<Alg> = Vec::new();
        for k in &st.keys {
            if !algs.contains(&k.alg) {
                algs.push(k.alg);
            }
        }
        if !algs.contains(&Alg::RS256) {
            algs.push(Alg::RS256);
        }
        for alg in algs {
            st.keys.push(generate_key(alg));
        }
        current_key(&mut st, Alg::RS256).kid.clone()
    }

    /// Unpublishes every key that is not the current one of its algorithm.
    pub fn retire_old_keys(&self) {
        let mut st = lock(&self.shared.state);
        let mut keep: Vec<KeyEntry> = Vec::new();
        while let Some(k) = st.keys.pop() {
            if !keep.iter().any(|c| c.alg == k.alg) {
                keep.push(k);
            }
        }
        keep.reverse();
        st.keys = keep;
    }

    /// Whether the JWKS states each key's `alg` (default true).
    pub fn set_publish_alg(&self, on: bool) {
        lock(&self.shared.state).publish_alg = on;
    }

    pub fn set_discovery_behavior(&self, behavior: Behavior) {
        lock(&self.shared.state).discovery_behavior = behavior;
    }

    pub fn set_jwks_behavior(&self, behavior: Behavior) {
        lock(&self.shared.state).jwks_behavior = behavior;
    }

    /// Serve this discovery document instead of the real one (`None`: the
    /// real one again).
    pub fn set_discovery_document(&self, doc: Option<Value>) {
        lock(&self.shared.state).discovery_document = doc;
    }

    /// Serve this JWKS instead of the real one (`None`: the real one again).
    pub fn set_jwks_document(&self, doc: Option<Value>) {
        lock(&self.shared.state).jwks_document = doc;
    }

    /// The real discovery document (as served under `Behavior::Normal`).
    pub fn discovery_document(&self) -> Value {
        self.shared.discovery()
    }

    /// How many times the discovery document was requested.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// How many times the JWKS was requested (both JWKS paths).
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn reset_counters(&self) {
        self.shared.discovery_fetches.store(0, Ordering::SeqCst);
        self.shared.jwks_fetches.store(0, Ordering::SeqCst);
    }

    /// Defaults `iss`, `iat`, `exp` (now + 1 h) and the provider's default
    /// claims; drops claims given as `null`.
    fn complete_claims(&self, claims: Value) -> Value {
        let now = unix_now();
        let mut out = Value::Object(self.shared.default_claims.clone());
        merge(
            &mut out,
            json!({"iss": self.shared.issuer, "iat": now, "exp": now + 3600}),
        );
        merge(&mut out, claims);
        out
    }
}

fn current_key(st: &mut KeyState, alg: Alg) -> &KeyEntry {
    let pos = st.keys.iter().rposition(|k| k.alg == alg);
    let pos = match pos {
        Some(p) => p,
        None => {
            st.keys.push(generate_key(alg));
            st.keys.len() - 1
        }
    };
    &st.keys[pos]
}

/// Merges the members of `patch` into `target` (both objects); `null`
/// members of `patch` remove the member.
pub(crate) fn merge(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Some(obj) = target.as_object_mut() {
        for (k, v) in patch {
            if v.is_null() {
                obj.remove(&k);
            } else {
                obj.insert(k, v);
            }
        }
    }
}

fn encode_signed(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64::url(header.to_string()),
        b64::url(claims.to_string())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64::url(sig))
}

fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

pub(crate) fn strip_scheme(url: &str) -> &str {
    url.split_once("://").map(|(_, rest)| rest).unwrap_or(url)
}

async fn discovery_handler(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let (behavior, doc) = {
        let st = lock(&shared.state);
        (st.discovery_behavior.clone(), st.discovery_document.clone())
    };
    let doc = doc.unwrap_or_else(|| shared.discovery());
    behavior
        .respond(|| json_response(StatusCode::OK, &doc))
        .await
}

async fn jwks_handler(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let (behavior, doc) = {
        let st = lock(&shared.state);
        (st.jwks_behavior.clone(), st.jwks_document.clone())
    };
    let doc = doc.unwrap_or_else(|| shared.jwks());
    behavior
        .respond(|| json_response(StatusCode::OK, &doc))
        .await
}

async fn jwks_alt_handler(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let doc = shared.jwks();
    json_response(StatusCode::OK, &doc)
}
