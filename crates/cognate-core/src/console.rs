//! What the admin console keeps in the database: the key that seals its
//! session cookies, and the sessions signed out before they expired.
//!
//! Both live in the store's settings, so every node of one database (and a
//! node after a restart) opens the same cookies and refuses the same
//! signed-out ones. A signed-out session is one row (`console-signed-out/`
//! and its random id), written once and never read but by id; the store
//! has no way to delete a setting, so the rows stay (a few dozen bytes per
//! sign-out; a session id is useless after its cookie's 8-hour life).

use crate::error::Result;
use crate::keys::SealingKey;
use crate::service::facade;

/// The setting that holds the console's cookie key, sealed under the
/// master key.
const COOKIE_KEY_SETTING: &str = "console-cookie-key";
/// The prefix of the settings that mark a session signed out.
const SIGNED_OUT_PREFIX: &str = "console-signed-out/";

facade!(
    /// The admin console's sessions: their sealing key and sign-outs.
    Console,
    console
);

impl Console<'_> {
    /// The key the console seals its session cookies with (AES-256-GCM),
    /// the same on every node of the database.
    pub async fn cookie_key(&self) -> Result<SealingKey> {
        crate::keys::shared_key(self.store.as_ref(), &self.master, COOKIE_KEY_SETTING).await
    }

    /// Marks the session `session_id` (its random id, hex) signed out on
    /// every node.
    pub async fn sign_out(&self, session_id: &str) -> Result<()> {
        let name = format!("{SIGNED_OUT_PREFIX}{session_id}");
        let at = self.clock.now_secs().to_string();
        self.store.init_setting(&name, at.as_bytes()).await?;
        Ok(())
    }

    /// Whether the session `session_id` was signed out.
    pub async fn is_signed_out(&self, session_id: &str) -> Result<bool> {
        let name = format!("{SIGNED_OUT_PREFIX}{session_id}");
        Ok(self.store.get_setting(&name).await?.is_some())
    }
}
