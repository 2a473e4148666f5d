//! Key material: the master key that seals everything else at rest, the
//! keys cognate signs its OpenID tokens with (RS512 or ES256; JWKS,
//! rotation), and the key that seals session tokens. Signing and sealing keys live in the
//! store, sealed under the master key, so every node of one database shares
//! them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::SigningKeyRecord;
use crate::store::Store;

/// Longest lifetime of a token cognate signs (TokenDuration max): retired
/// keys stay published this long.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 86_400;

const CHECK_SETTING: &str = "master-key-check";
const CHECK_PLAINTEXT: &[u8] = b"cognate master key check v1";
const SESSION_KEY_SETTING: &str = "session-sealing-key";

/// AES-256-GCM under a 32-byte key; `seal` output is nonce || ciphertext.
pub struct SealingKey {
    key: LessSafeKey,
}

impl SealingKey {
    pub fn new(bytes: &[u8]) -> Result<SealingKey> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::Internal("a sealing key must be 32 bytes".into()))?;
        Ok(SealingKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts and authenticates `plaintext`, bound to `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        self.seal_appending(purpose, &mut out, |buffer| {
            buffer.extend_from_slice(plaintext)
        })?;
        Ok(out)
    }

    /// Appends to `out` what `seal` returns for the plaintext that
    /// `write_plaintext` appends, encrypted where it was written rather than
    /// copied (session tokens are sealed once per request). On an error
    /// `out` is left as it was.
    pub fn seal_appending(
        &self,
        purpose: &str,
        out: &mut Vec<u8>,
        write_plaintext: impl FnOnce(&mut Vec<u8>),
    ) -> Result<()> {
        let before = out.len();
        let mut nonce = [0u8; NONCE_LEN];
        crate::ids::fill_random(&mut nonce)?;
        out.extend_from_slice(&nonce);
        let start = out.len();
        write_plaintext(out);
        let sealed = self.key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(purpose.as_bytes()),
            &mut out[start..],
        );
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(tag.as_ref());
                Ok(())
            }
            Err(_) => {
                out.truncate(before);
                Err(Error::Internal("sealing failed".into()))
            }
        }
    }

    /// The plaintext, if `sealed` was sealed by this key for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut in_out)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Makes sure the database was set up with this master key (or sets it up).
pub async fn check_master_key(store: &dyn Store, master: &SealingKey) -> Result<()> {
    let probe = master.seal(CHECK_SETTING, CHECK_PLAINTEXT)?;
    let stored = store.init_setting(CHECK_SETTING, &probe).await?;
    match master.open(CHECK_SETTING, &stored) {
        Some(plain) if plain == CHECK_PLAINTEXT => Ok(()),
        _ => Err(Error::Internal(
            "the master key does not match the one this database was set up with; \
             start with the original COGNATE_MASTER_KEY (or master.key file)"
                .into(),
        )),
    }
}

/// The shared session-token key, created by the first node to ask.
pub async fn session_key(store: &dyn Store, master: &SealingKey) -> Result<SealingKey> {
    shared_key(store, master, SESSION_KEY_SETTING).await
}

/// A random key kept in the setting `name`, sealed under the master key:
/// created by the first node to ask, the same on every node after.
pub(crate) async fn shared_key(
    store: &dyn Store,
    master: &SealingKey,
    name: &str,
) -> Result<SealingKey> {
    let fresh = master.seal(name, &crate::ids::random_bytes(32)?)?;
    let stored = store.init_setting(name, &fresh).await?;
    let bytes = master.open(name, &stored).ok_or_else(|| {
        Error::Internal(format!("the {name} cannot be opened with this master key"))
    })?;
    SealingKey::new(&bytes)
}

/// The algorithm of the keys cognate generates for its OpenID tokens. A
/// key signs with exactly one algorithm, stored in its record (`alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    /// RSA-2048, PKCS#1 v1.5 with SHA-512: what Cognito signs with.
    #[default]
    Rs512,
    /// ECDSA on P-256 with SHA-256: far cheaper to sign, same security
    /// level for verifiers that accept it.
    Es256,
}

impl SigningAlgorithm {
    /// The JWS/JWK name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs512 => "RS512",
            SigningAlgorithm::Es256 => "ES256",
        }
    }

    /// The algorithm a JWS name denotes, exactly as written in a header or
    /// a stored record.
    pub fn from_jws(name: &str) -> Option<SigningAlgorithm> {
        match name {
            "RS512" => Some(SigningAlgorithm::Rs512),
            "ES256" => Some(SigningAlgorithm::Es256),
            _ => None,
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = String;

    /// Case-insensitive: this parses a setting, not a JWS header.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        SigningAlgorithm::from_jws(&s.to_ascii_uppercase())
            .ok_or_else(|| format!("must be RS512 or ES256, got '{s}'"))
    }
}

enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct ActiveKey {
    alg: SigningAlgorithm,
    pair: PrivateKey,
    /// The JWS header every token of this key carries, base64url-encoded
    /// once.
    encoded_header: String,
}

/// A published key. The variant pins the one algorithm it verifies, so a
/// header cannot choose another for it.
enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point, 0x04 || x || y.
    Ec {
        point: Vec<u8>,
    },
}

/// What the key ring holds at one moment.
struct KeySet {
    signing: Option<Arc<ActiveKey>>,
    /// kid → public key, for every key still published.
    public: BTreeMap<String, PublicKey>,
    jwks: Value,
    /// Algorithms of the published keys, for the discovery document.
    algorithms: Vec<&'static str>,
}

/// The OpenID token keys: one signs, retired ones stay published until the
/// tokens they signed have expired.
/// Where a node's signing keys are kept, and how it makes new ones.
pub struct KeySource<'a> {
    pub store: &'a dyn Store,
    /// Seals the private keys at rest.
    pub master: &'a SealingKey,
    pub kid_prefix: &'a str,
    pub alg: SigningAlgorithm,
    pub now: i64,
}

impl KeySource<'_> {
    async fn generate(&self) -> Result<SigningKeyRecord> {
        generate_key(self.alg, self.master, self.kid_prefix, self.now).await
    }
}

pub struct KeyRing {
    set: RwLock<Arc<KeySet>>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl KeyRing {
    pub fn empty() -> KeyRing {
        KeyRing {
            set: RwLock::new(Arc::new(KeySet {
                signing: None,
                public: BTreeMap::new(),
                jwks: json!({"keys": []}),
                algorithms: Vec::new(),
            })),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads from the store; generates the first key, of the source's
    /// algorithm, if there is none.
    pub async fn load(&self, source: &KeySource<'_>) -> Result<()> {
        let store = source.store;
        let mut records = store.list_signing_keys().await?;
        if !records.iter().any(|r| r.retired_at.is_none()) {
            store.insert_signing_key(&source.generate().await?).await?;
            records = store.list_signing_keys().await?;
        }
        self.install(&records, source.master, source.now)
    }

    /// Makes `records` the ring's keys: the published ones verify, the
    /// newest unretired one signs.
    fn install(&self, records: &[SigningKeyRecord], master: &SealingKey, now: i64) -> Result<()> {
        let mut public = BTreeMap::new();
        let mut jwks = Vec::new();
        let mut algorithms = Vec::new();
        let mut signing: Option<(&SigningKeyRecord, SigningAlgorithm)> = None;
        for record in records {
            let published = record
                .retired_at
                .is_none_or(|at| at + MAX_TOKEN_LIFETIME_SECS > now);
            if !published {
                continue;
            }
            let alg = SigningAlgorithm::from_jws(&record.alg).ok_or_else(|| {
                Error::Internal(format!(
                    "signing key {} has an unknown algorithm '{}'",
                    record.kid, record.alg
                ))
            })?;
            let jwk: Value = serde_json::from_str(&record.public_jwk)
                .map_err(|e| Error::Internal(format!("stored JWK is invalid: {e}")))?;
            let key = public_key(alg, &jwk).ok_or_else(|| {
                Error::Internal(format!(
                    "the stored JWK of signing key {} is not an {alg} key",
                    record.kid
                ))
            })?;
            public.insert(record.kid.clone(), key);
            jwks.push(jwk);
            if !algorithms.contains(&alg.as_str()) {
                algorithms.push(alg.as_str());
            }
            // The newest unretired key signs; every node picks the same.
            if record.retired_at.is_none()
                && signing
                    .is_none_or(|(s, _)| (record.created_at, &record.kid) > (s.created_at, &s.kid))
            {
                signing = Some((record, alg));
            }
        }
        let signing = match signing {
            Some((record, alg)) => Some(Arc::new(ActiveKey {
                alg,
                pair: open_private_key(alg, record, master)?,
                encoded_header: b64(
                    json!({"kid": record.kid, "typ": "JWS", "alg": alg.as_str()})
                        .to_string()
                        .as_bytes(),
                ),
            })),
            None => None,
        };
        // A fixed order (Cognito's own first): keys created in the same
        // second come back in kid order, which is random.
        algorithms.sort_by_key(|alg| *alg != "RS512");
        let set = KeySet {
            signing,
            public,
            jwks: json!({ "keys": jwks }),
            algorithms,
        };
        match self.set.write() {
            Ok(mut guard) => *guard = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    /// Generates a new signing key of the source's algorithm and retires
    /// the others.
    pub async fn rotate(&self, source: &KeySource<'_>) -> Result<String> {
        let (store, now) = (source.store, source.now);
        let record = source.generate().await?;
        store.insert_signing_key(&record).await?;
        store.retire_signing_keys(&record.kid, now).await?;
        store
            .delete_signing_keys_retired_before(now - MAX_TOKEN_LIFETIME_SECS)
            .await?;
        self.load(source).await?;
        Ok(record.kid)
    }

    /// The algorithm of the key that signs now, if one is loaded.
    pub fn active_algorithm(&self) -> Option<SigningAlgorithm> {
        self.current().signing.as_ref().map(|k| k.alg)
    }

    /// The algorithms of the published keys.
    pub fn algorithms(&self) -> Vec<&'static str> {
        self.current().algorithms.clone()
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        self.current().jwks.clone()
    }

    /// Signs `claims` as a compact JWS with the active key's algorithm.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String> {
        let set = self.current();
        let key = set
            .signing
            .as_ref()
            .ok_or_else(|| Error::Internal("no signing key is loaded".into()))?;
        let claims = serde_json::to_vec(claims)
            .map_err(|e| Error::Internal(format!("encoding token claims: {e}")))?;
        compact_jws(&key.pair, &key.encoded_header, &claims)
    }

    /// The claims of a token this ring signed, if its signature verifies.
    /// Expiry and audience are the caller's to check.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let alg = header["alg"].as_str()?;
        let kid = header["kid"].as_str()?;
        let set = self.current();
        let signature = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let signing_input = token.rsplit_once('.')?.0.as_bytes();
        match (set.public.get(kid)?, alg) {
            (PublicKey::Rsa { n, e }, "RS512") => RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA512,
                    signing_input,
                    &signature,
                )
                .ok()?,
            (PublicKey::Ec { point }, "ES256") => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signing_input, &signature)
                    .ok()?
            }
            // The key decides the algorithm, never the header.
            _ => return None,
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// `header.claims.signature`, signed with `pair`.
fn compact_jws(pair: &PrivateKey, encoded_header: &str, claims: &[u8]) -> Result<String> {
    let mut signing_input =
        String::with_capacity(encoded_header.len() + claims.len() * 4 / 3 + 400);
    signing_input.push_str(encoded_header);
    signing_input.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut signing_input);
    let signature = match pair {
        PrivateKey::Rsa(pair) => {
            let mut signature = vec![0u8; pair.public_modulus_len()];
            pair.sign(
                &signature::RSA_PKCS1_SHA512,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::Internal("RSA signing failed".into()))?;
            signature
        }
        // The FIXED signing algorithm yields r || s (64 bytes), as JWS
        // wants, not DER.
        PrivateKey::Ec(pair) => pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| Error::Internal("ECDSA signing failed".into()))?
            .as_ref()
            .to_vec(),
    };
    let mut token = signing_input;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// The public key a stored JWK describes, if it is a key of `alg`.
fn public_key(alg: SigningAlgorithm, jwk: &Value) -> Option<PublicKey> {
    let field = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
    };
    if jwk["alg"] != alg.as_str() {
        return None;
    }
    match alg {
        SigningAlgorithm::Rs512 if jwk["kty"] == "RSA" => Some(PublicKey::Rsa {
            n: field("n")?,
            e: field("e")?,
        }),
        SigningAlgorithm::Es256 if jwk["kty"] == "EC" && jwk["crv"] == "P-256" => {
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Some(PublicKey::Ec { point })
        }
        _ => None,
    }
}

/// Unseals a record's private key.
fn open_private_key(
    alg: SigningAlgorithm,
    record: &SigningKeyRecord,
    master: &SealingKey,
) -> Result<PrivateKey> {
    let der = master
        .open(
            &format!("signing-key:{}", record.kid),
            &record.sealed_private_key,
        )
        .ok_or_else(|| {
            Error::Internal(format!(
                "signing key {} cannot be opened with this master key",
                record.kid
            ))
        })?;
    let invalid = |e: aws_lc_rs::error::KeyRejected| {
        Error::Internal(format!("stored signing key {} is invalid: {e}", record.kid))
    };
    Ok(match alg {
        SigningAlgorithm::Rs512 => PrivateKey::Rsa(RsaKeyPair::from_pkcs8(&der).map_err(invalid)?),
        SigningAlgorithm::Es256 => PrivateKey::Ec(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                .map_err(invalid)?,
        ),
    })
}

/// An RSA key being made ahead, on its own thread, by a server that knows
/// it will need one (a fresh, ephemeral data directory): its generation,
/// tens of milliseconds, then overlaps the database's creation instead of
/// following it.
static SPARE_RSA_KEY: Mutex<Option<std::thread::JoinHandle<Option<RsaKeyPair>>>> = Mutex::new(None);

/// Starts making the RSA key the first `generate_key` will take.
pub fn make_spare_rsa_key() {
    let maker = std::thread::spawn(|| RsaKeyPair::generate(KeySize::Rsa2048).ok());
    if let Ok(mut slot) = SPARE_RSA_KEY.lock() {
        *slot = Some(maker);
    }
}

fn take_spare_rsa_key() -> Option<std::thread::JoinHandle<Option<RsaKeyPair>>> {
    SPARE_RSA_KEY.lock().ok()?.take()
}

async fn generate_key(
    alg: SigningAlgorithm,
    master: &SealingKey,
    kid_prefix: &str,
    now: i64,
) -> Result<SigningKeyRecord> {
    let kid = format!("{kid_prefix}-{}", hex::encode(crate::ids::random_bytes(6)?));
    let (der, jwk) = match alg {
        SigningAlgorithm::Rs512 => {
            // RSA generation takes tens of milliseconds: keep it off the runtime.
            let spare = take_spare_rsa_key();
            let pair = tokio::task::spawn_blocking(move || {
                match spare.and_then(|maker| maker.join().ok().flatten()) {
                    Some(pair) => Ok(pair),
                    None => RsaKeyPair::generate(KeySize::Rsa2048),
                }
            })
            .await
            .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))?
            .map_err(|_| Error::Internal("RSA key generation failed".into()))?;
            let der = pair
                .as_der()
                .map_err(|_| Error::Internal("cannot encode the signing key".into()))?;
            let public = pair.public_key();
            let jwk = json!({
                "kty": "RSA",
                "alg": "RS512",
                "use": "sig",
                "kid": kid,
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            });
            (der.as_ref().to_vec(), jwk)
        }
        SigningAlgorithm::Es256 => {
            // Microseconds: no need for the blocking pool.
            let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| Error::Internal("ECDSA key generation failed".into()))?;
            let der = pair
                .to_pkcs8v1()
                .map_err(|_| Error::Internal("cannot encode the signing key".into()))?;
            let (x, y) = pair
                .public_key()
                .as_ref()
                .strip_prefix(&[0x04])
                .and_then(|xy| xy.split_at_checked(32))
                .filter(|(x, y)| x.len() == 32 && y.len() == 32)
                .ok_or_else(|| Error::Internal("unexpected P-256 public key encoding".into()))?;
            let jwk = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64(x),
                "y": b64(y),
                "alg": "ES256",
                "use": "sig",
                "kid": kid,
            });
            (der.as_ref().to_vec(), jwk)
        }
    };
    Ok(SigningKeyRecord {
        sealed_private_key: master.seal(&format!("signing-key:{kid}"), &der)?,
        kid,
        alg: alg.as_str().into(),
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const NOW: i64 = 1_900_000_000;

    fn master() -> SealingKey {
        SealingKey::new(&[7u8; 32]).unwrap()
    }

    fn claims() -> Value {
        json!({"sub": "us-east-1:abc", "aud": "us-east-1:pool", "iat": NOW, "exp": NOW + 600})
    }

    fn ring(records: &[SigningKeyRecord]) -> KeyRing {
        let ring = KeyRing::empty();
        ring.install(records, &master(), NOW).unwrap();
        ring
    }

    fn header_of(token: &str) -> Value {
        let part = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// A token signed by `record`'s private key under a header of our
    /// choosing, as an attacker holding some key could forge.
    fn forge(record: &SigningKeyRecord, header: Value) -> String {
        let alg = SigningAlgorithm::from_jws(&record.alg).unwrap();
        let pair = open_private_key(alg, record, &master()).unwrap();
        compact_jws(
            &pair,
            &b64(header.to_string().as_bytes()),
            claims().to_string().as_bytes(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn both_algorithms_sign_and_verify() {
        for alg in [SigningAlgorithm::Rs512, SigningAlgorithm::Es256] {
            let record = generate_key(alg, &master(), "us-east-1", NOW)
                .await
                .unwrap();
            assert_eq!(record.alg, alg.as_str());
            let ring = ring(std::slice::from_ref(&record));
            assert_eq!(ring.active_algorithm(), Some(alg));
            let token = ring.sign(&claims()).unwrap();
            let header = header_of(&token);
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], record.kid);
            let sig = URL_SAFE_NO_PAD
                .decode(token.rsplit('.').next().unwrap())
                .unwrap();
            // JWS ES256 is r || s; RSA-2048 signatures are the modulus size.
            let expected_len = match alg {
                SigningAlgorithm::Rs512 => 256,
                SigningAlgorithm::Es256 => 64,
            };
            assert_eq!(sig.len(), expected_len, "{alg}");
            assert_eq!(ring.verify(&token), Some(claims()));

            // A changed payload no longer verifies.
            let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
            let mut other = claims();
            other["sub"] = json!("us-east-1:someone-else");
            parts[1] = b64(other.to_string().as_bytes());
            assert_eq!(ring.verify(&parts.join(".")), None, "{alg}");
        }
    }

    #[tokio::test]
    async fn the_key_pins_the_algorithm() {
        let rsa = generate_key(SigningAlgorithm::Rs512, &master(), "r", NOW - 10)
            .await
            .unwrap();
        let ec = generate_key(SigningAlgorithm::Es256, &master(), "e", NOW)
            .await
            .unwrap();
        let ring = ring(&[rsa.clone(), ec.clone()]);
        // Genuine tokens of both keys verify.
        let genuine_rsa = forge(&rsa, json!({"alg": "RS512", "kid": rsa.kid}));
        let genuine_ec = forge(&ec, json!({"alg": "ES256", "kid": ec.kid}));
        assert!(ring.verify(&genuine_rsa).is_some());
        assert!(ring.verify(&genuine_ec).is_some());

        // An ES256 kid under an RS512 header, and vice versa, whoever signed.
        for token in [
            forge(&rsa, json!({"alg": "RS512", "kid": ec.kid})),
            forge(&ec, json!({"alg": "RS512", "kid": ec.kid})),
            forge(&ec, json!({"alg": "ES256", "kid": rsa.kid})),
            forge(&rsa, json!({"alg": "ES256", "kid": rsa.kid})),
        ] {
            assert_eq!(ring.verify(&token), None, "{}", header_of(&token));
        }
        // A genuine signature relabelled with the other algorithm.
        let relabelled = genuine_ec.replacen(
            genuine_ec.split('.').next().unwrap(),
            &b64(json!({"alg": "RS512", "kid": ec.kid})
                .to_string()
                .as_bytes()),
            1,
        );
        assert_eq!(ring.verify(&relabelled), None);
        // `none` and HS256 are never accepted.
        let payload = b64(claims().to_string().as_bytes());
        for alg in ["none", "HS256", "ES384", "PS512"] {
            let header = b64(json!({"alg": alg, "kid": ec.kid}).to_string().as_bytes());
            let sig = genuine_ec.rsplit('.').next().unwrap();
            assert_eq!(ring.verify(&format!("{header}.{payload}.{sig}")), None);
            assert_eq!(ring.verify(&format!("{header}.{payload}.")), None);
        }
    }

    #[tokio::test]
    async fn jwks_publishes_both_kinds_of_key() {
        let rsa = SigningKeyRecord {
            retired_at: Some(NOW - 60),
            ..generate_key(SigningAlgorithm::Rs512, &master(), "r", NOW - 120)
                .await
                .unwrap()
        };
        let ec = generate_key(SigningAlgorithm::Es256, &master(), "e", NOW)
            .await
            .unwrap();
        let ring = ring(&[rsa.clone(), ec.clone()]);
        assert_eq!(ring.active_algorithm(), Some(SigningAlgorithm::Es256));
        assert_eq!(ring.algorithms(), vec!["RS512", "ES256"]);
        let jwks = ring.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        let rsa_jwk = keys.iter().find(|k| k["kid"] == rsa.kid).unwrap();
        assert_eq!(rsa_jwk["kty"], "RSA");
        assert_eq!(rsa_jwk["alg"], "RS512");
        assert_eq!(rsa_jwk["use"], "sig");
        let ec_jwk = keys.iter().find(|k| k["kid"] == ec.kid).unwrap();
        let mut names: Vec<&str> = ec_jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!(ec_jwk["kty"], "EC");
        assert_eq!(ec_jwk["crv"], "P-256");
        assert_eq!(ec_jwk["alg"], "ES256");
        assert_eq!(ec_jwk["use"], "sig");
        for coordinate in ["x", "y"] {
            let bytes = URL_SAFE_NO_PAD
                .decode(ec_jwk[coordinate].as_str().unwrap())
                .unwrap();
            assert_eq!(bytes.len(), 32);
        }
        // The published x, y are the signing key's: verify with them alone.
        let point: Vec<u8> = [
            vec![4u8],
            URL_SAFE_NO_PAD
                .decode(ec_jwk["x"].as_str().unwrap())
                .unwrap(),
            URL_SAFE_NO_PAD
                .decode(ec_jwk["y"].as_str().unwrap())
                .unwrap(),
        ]
        .concat();
        let token = ring.sign(&claims()).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();

        // Past the longest token lifetime the retired key is gone.
        let later = KeyRing::empty();
        later
            .install(&[rsa, ec], &master(), NOW - 60 + MAX_TOKEN_LIFETIME_SECS)
            .unwrap();
        assert_eq!(later.jwks()["keys"].as_array().unwrap().len(), 1);
        assert_eq!(later.algorithms(), vec!["ES256"]);
    }

    #[tokio::test]
    async fn records_that_do_not_match_their_algorithm_are_refused() {
        let ec = generate_key(SigningAlgorithm::Es256, &master(), "e", NOW)
            .await
            .unwrap();
        let unknown = SigningKeyRecord {
            alg: "HS256".into(),
            ..ec.clone()
        };
        assert!(
            KeyRing::empty()
                .install(&[unknown], &master(), NOW)
                .is_err()
        );
        // An EC JWK under a record that says RS512.
        let mislabelled = SigningKeyRecord {
            alg: "RS512".into(),
            ..ec
        };
        assert!(
            KeyRing::empty()
                .install(&[mislabelled], &master(), NOW)
                .is_err()
        );
    }

    #[test]
    fn the_setting_parses_case_insensitively() {
        assert_eq!("ES256".parse(), Ok(SigningAlgorithm::Es256));
        assert_eq!("es256".parse(), Ok(SigningAlgorithm::Es256));
        assert_eq!("RS512".parse(), Ok(SigningAlgorithm::Rs512));
        assert!("HS256".parse::<SigningAlgorithm>().is_err());
        assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::Rs512);
        // Headers and records are exact.
        assert_eq!(SigningAlgorithm::from_jws("es256"), None);
    }
}
