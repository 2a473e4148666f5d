//! Temporary credentials. The session token is the sealed session itself
//! (AES-256-GCM under the shared session key), so a node verifies a request
//! signed with vended credentials without reading the database.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::keys::SealingKey;

const PURPOSE: &str = "session-token-v1";

/// Everything a request signed with temporary credentials is judged by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn assumed_role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.account, self.role_name, self.session_name
        )
    }

    pub fn user_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
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
        let plain = serde_json::to_vec(session)
            .map_err(|e| crate::Error::Internal(format!("encoding a session: {e}")))?;
        Ok(STANDARD.encode(self.key.seal(PURPOSE, &plain)?))
    }

    /// The session a token carries, if this installation sealed it.
    pub fn open(&self, token: &str) -> Option<Session> {
        let sealed = STANDARD.decode(token.as_bytes()).ok()?;
        let plain = self.key.open(PURPOSE, &sealed)?;
        serde_json::from_slice(&plain).ok()
    }
}
