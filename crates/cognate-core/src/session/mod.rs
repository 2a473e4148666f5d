//! Temporary credentials. The session token is the sealed session itself
//! (AES-256-GCM under the shared session key), so a node verifies a request
//! signed with vended credentials without reading the database.
//!
//! Tokens are sealed as version 2 (`compact`): a version byte, then the
//! sealed compact encoding. Version 1 tokens (sealed JSON, from before
//! version 2) still open until the last of them expires.

mod compact;

use std::collections::BTreeMap;

use base64_simd::STANDARD as TOKEN_BASE64;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::keys::SealingKey;

/// Additional data of version 1 tokens (sealed JSON).
const PURPOSE_V1: &str = "session-token-v1";
/// Version 2: the first byte of the token's bytes, and the additional
/// data of what follows it.
const VERSION_2: u8 = 2;
const PURPOSE_V2: &str = "session-token-v2";

/// Everything a request signed with temporary credentials is judged by.
/// Unknown fields are refused: a field added later may narrow what the
/// session allows (as `guest_scope_down` does), and a node that does not
/// know it must refuse the token rather than ignore the restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub account: String,
    pub role_arn: String,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
    /// The web identity: provider (`cognito-identity.amazonaws.com` or an
    /// OIDC issuer), its `aud`, `sub` and `amr`.
    pub provider: String,
    pub audience: String,
    pub subject: String,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub principal_tags: BTreeMap<String, String>,
    /// Session policy documents that narrow the role's permissions.
    #[serde(default)]
    pub session_policies: Vec<String>,
    /// The guest scope-down policy (`GUEST_SCOPE_DOWN_POLICY`) narrows this
    /// session too: named rather than copied, so a guest's session token
    /// stays as short as an authenticated one's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guest_scope_down: bool,
}

impl Session {
    /// `arn:aws:sts::{account}:assumed-role/{role name}/{session name}`
    /// (joined rather than formatted: every signed request of a session
    /// makes it).
    pub fn assumed_role_arn(&self) -> String {
        [
            "arn:aws:sts::",
            &self.account,
            ":assumed-role/",
            &self.role_name,
            "/",
            &self.session_name,
        ]
        .concat()
    }

    /// `{role id}:{session name}`.
    pub fn user_id(&self) -> String {
        [self.role_id.as_str(), ":", &self.session_name].concat()
    }
}

/// Seals sessions into tokens and opens them again.
pub struct SessionSealer {
    key: SealingKey,
}

impl SessionSealer {
    pub fn new(key: SealingKey) -> Self {
        SessionSealer { key }
    }

    pub fn seal(&self, session: &Session) -> Result<String> {
        let mut bytes = Vec::with_capacity(512);
        bytes.push(VERSION_2);
        self.key
            .seal_appending(PURPOSE_V2, &mut bytes, |plaintext| {
                compact::encode_into(session, plaintext)
            })?;
        // Standard base64 with padding, vectorised: the token is most of
        // an answer and of every request signed with the credentials.
        Ok(TOKEN_BASE64.encode_to_string(bytes))
    }

    /// The session a token carries, if this installation sealed it.
    pub fn open(&self, token: &str) -> Option<Session> {
        let bytes = TOKEN_BASE64.decode_to_vec(token.as_bytes()).ok()?;
        if let Some((&VERSION_2, sealed)) = bytes.split_first()
            && let Some(plain) = self.key.open(PURPOSE_V2, sealed)
        {
            return compact::decode(&plain);
        }
        // A version 1 token is all nonce and ciphertext; its first byte is
        // random, so it may be a 2 too.
        let plain = self.key.open(PURPOSE_V1, &bytes)?;
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    pub(super) fn session() -> Session {
        Session {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            issued_at: 1,
            expires_at: 2,
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/R".into(),
            role_name: "R".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
            provider: "cognito-identity.amazonaws.com".into(),
            audience: "us-east-1:pool".into(),
            subject: "us-east-1:id".into(),
            amr: vec!["unauthenticated".into()],
            principal_tags: BTreeMap::new(),
            session_policies: Vec::new(),
            guest_scope_down: true,
        }
    }

    #[test]
    fn sealed_sessions_open_as_sealed() {
        let sealer = SessionSealer::new(SealingKey::new(&[7u8; 32]).unwrap());
        let token = sealer.seal(&session()).unwrap();
        assert_eq!(sealer.open(&token), Some(session()));
    }

    /// A token as nodes before version 2 sealed it.
    fn version_1_token(key: &[u8; 32], doc: &serde_json::Value) -> String {
        let plain = serde_json::to_vec(doc).unwrap();
        let sealed = SealingKey::new(key)
            .and_then(|k| k.seal(PURPOSE_V1, &plain))
            .unwrap();
        STANDARD.encode(sealed)
    }

    #[test]
    fn version_1_tokens_still_open() {
        let key = [7u8; 32];
        let sealer = SessionSealer::new(SealingKey::new(&key).unwrap());
        // Enough of them that some nonces start with the version-2 byte.
        for _ in 0..600 {
            let token = version_1_token(&key, &serde_json::to_value(session()).unwrap());
            assert_eq!(sealer.open(&token), Some(session()));
        }
    }

    #[test]
    fn version_2_tokens_are_about_half_the_size_of_version_1() {
        let key = [7u8; 32];
        let sealer = SessionSealer::new(SealingKey::new(&key).unwrap());
        let v1 = version_1_token(&key, &serde_json::to_value(session()).unwrap());
        let v2 = sealer.seal(&session()).unwrap();
        assert!(v2.len() * 10 < v1.len() * 6, "{} vs {}", v2.len(), v1.len());
    }

    /// Tokens sealed before the vectorised base64 open, and the tokens
    /// sealed now are the same standard base64.
    #[test]
    fn tokens_are_standard_base64_either_way() {
        let key = [7u8; 32];
        let sealer = SessionSealer::new(SealingKey::new(&key).unwrap());
        for _ in 0..50 {
            let token = sealer.seal(&session()).unwrap();
            let bytes = STANDARD.decode(&token).unwrap();
            assert_eq!(STANDARD.encode(&bytes), token);
            let mut older = vec![VERSION_2];
            older.extend(
                SealingKey::new(&key)
                    .unwrap()
                    .seal(PURPOSE_V2, &compact::encode(&session()))
                    .unwrap(),
            );
            assert_eq!(sealer.open(&STANDARD.encode(&older)), Some(session()));
        }
        assert_eq!(sealer.open("not base64!"), None);
        assert_eq!(sealer.open(""), None);
    }

    #[test]
    fn a_token_sealed_under_another_key_or_altered_is_refused() {
        let sealer = SessionSealer::new(SealingKey::new(&[7u8; 32]).unwrap());
        let other = SessionSealer::new(SealingKey::new(&[8u8; 32]).unwrap());
        let token = sealer.seal(&session()).unwrap();
        assert_eq!(other.open(&token), None);
        let mut bytes = STANDARD.decode(&token).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(sealer.open(&STANDARD.encode(bytes)), None);
    }

    #[test]
    fn a_session_with_a_field_this_node_does_not_know_is_refused() {
        let key = [7u8; 32];
        let sealer = SessionSealer::new(SealingKey::new(&key).unwrap());
        let mut doc = serde_json::to_value(session()).unwrap();
        doc["restriction_from_the_future"] = serde_json::json!(true);
        assert_eq!(sealer.open(&version_1_token(&key, &doc)), None);
    }
}
