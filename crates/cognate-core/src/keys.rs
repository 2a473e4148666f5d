//! Key material: the master key that seals everything else at rest, the
//! RSA keys cognate signs its OpenID tokens with (JWKS, rotation), and the
//! key that seals session tokens. Signing and sealing keys live in the
//! store, sealed under the master key, so every node of one database shares
//! them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
        let nonce_bytes = crate::ids::random_bytes(NONCE_LEN)?;
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(&nonce_bytes);
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_arr),
                Aad::from(purpose.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce_arr.to_vec();
        out.extend_from_slice(&in_out);
        Ok(out)
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
    let fresh = master.seal(SESSION_KEY_SETTING, &crate::ids::random_bytes(32)?)?;
    let stored = store.init_setting(SESSION_KEY_SETTING, &fresh).await?;
    let bytes = master.open(SESSION_KEY_SETTING, &stored).ok_or_else(|| {
        Error::Internal("the session key cannot be opened with this master key".into())
    })?;
    SealingKey::new(&bytes)
}

struct ActiveKey {
    kid: String,
    pair: RsaKeyPair,
}

/// What the key ring holds at one moment.
struct KeySet {
    signing: Option<Arc<ActiveKey>>,
    /// kid → public key, for every key still published.
    public: BTreeMap<String, (Vec<u8>, Vec<u8>)>,
    jwks: Value,
}

/// The OpenID token keys: one signs, retired ones stay published until the
/// tokens they signed have expired.
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
            })),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads from the store; generates the first key if there is none.
    pub async fn load(
        &self,
        store: &dyn Store,
        master: &SealingKey,
        kid_prefix: &str,
        now: i64,
    ) -> Result<()> {
        let mut records = store.list_signing_keys().await?;
        if !records.iter().any(|r| r.retired_at.is_none()) {
            let record = generate_key(master, kid_prefix, now).await?;
            store.insert_signing_key(&record).await?;
            records = store.list_signing_keys().await?;
        }
        let mut public = BTreeMap::new();
        let mut jwks = Vec::new();
        let mut signing: Option<(&SigningKeyRecord, i64)> = None;
        for record in &records {
            let published = record
                .retired_at
                .is_none_or(|at| at + MAX_TOKEN_LIFETIME_SECS > now);
            if !published {
                continue;
            }
            let jwk: Value = serde_json::from_str(&record.public_jwk)
                .map_err(|e| Error::Internal(format!("stored JWK is invalid: {e}")))?;
            let n = jwk["n"]
                .as_str()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
            let e = jwk["e"]
                .as_str()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
            if let (Some(n), Some(e)) = (n, e) {
                public.insert(record.kid.clone(), (n, e));
            }
            jwks.push(jwk);
            // The newest unretired key signs; every node picks the same.
            if record.retired_at.is_none()
                && signing
                    .is_none_or(|(s, _)| (record.created_at, &record.kid) > (s.created_at, &s.kid))
            {
                signing = Some((record, record.created_at));
            }
        }
        let signing = match signing {
            Some((record, _)) => {
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
                let pair = RsaKeyPair::from_pkcs8(&der)
                    .map_err(|e| Error::Internal(format!("stored signing key is invalid: {e}")))?;
                Some(Arc::new(ActiveKey {
                    kid: record.kid.clone(),
                    pair,
                }))
            }
            None => None,
        };
        let set = KeySet {
            signing,
            public,
            jwks: json!({ "keys": jwks }),
        };
        match self.set.write() {
            Ok(mut guard) => *guard = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    /// Generates a new signing key and retires the others.
    pub async fn rotate(
        &self,
        store: &dyn Store,
        master: &SealingKey,
        kid_prefix: &str,
        now: i64,
    ) -> Result<String> {
        let record = generate_key(master, kid_prefix, now).await?;
        store.insert_signing_key(&record).await?;
        store.retire_signing_keys(&record.kid, now).await?;
        store
            .delete_signing_keys_retired_before(now - MAX_TOKEN_LIFETIME_SECS)
            .await?;
        self.load(store, master, kid_prefix, now).await?;
        Ok(record.kid)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        self.current().jwks.clone()
    }

    /// Signs `claims` as a compact JWS with RS512.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let set = self.current();
        let key = set
            .signing
            .as_ref()
            .ok_or_else(|| Error::Internal("no signing key is loaded".into()))?;
        let header = json!({"kid": key.kid, "typ": "JWS", "alg": "RS512"});
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; key.pair.public_modulus_len()];
        key.pair
            .sign(
                &signature::RSA_PKCS1_SHA512,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::Internal("RSA signing failed".into()))?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
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
        if header["alg"] != "RS512" {
            return None;
        }
        let kid = header["kid"].as_str()?;
        let set = self.current();
        let (n, e) = set.public.get(kid)?;
        let signature = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let components = RsaPublicKeyComponents { n, e };
        let signing_input = &token[..header_len(token)?];
        components
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA512,
                signing_input.as_bytes(),
                &signature,
            )
            .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// Length of `header.payload` in a compact JWS.
fn header_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

async fn generate_key(master: &SealingKey, kid_prefix: &str, now: i64) -> Result<SigningKeyRecord> {
    // RSA generation takes tens of milliseconds: keep it off the runtime.
    let pair = tokio::task::spawn_blocking(|| RsaKeyPair::generate(KeySize::Rsa2048))
        .await
        .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))?
        .map_err(|_| Error::Internal("RSA key generation failed".into()))?;
    let der = pair
        .as_der()
        .map_err(|_| Error::Internal("cannot encode the signing key".into()))?;
    let kid = format!("{kid_prefix}-{}", hex::encode(crate::ids::random_bytes(6)?));
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA",
        "alg": "RS512",
        "use": "sig",
        "kid": kid,
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    });
    Ok(SigningKeyRecord {
        sealed_private_key: master.seal(&format!("signing-key:{kid}"), der.as_ref())?,
        kid,
        alg: "RS512".into(),
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    })
}
