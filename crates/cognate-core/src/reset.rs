//! Emptying a deployment between tests: every pool, identity and IAM
//! record goes, the signing keys and the deployment's settings stay. The
//! server offers it only when the operator enabled it (`[testing]
//! allow_reset`); the domain lets only the account root do it.

use crate::access::{Authority, Caller};
use crate::error::{Error, Result};
use crate::service::Cognate;
use crate::store::ResetCounts;

impl Cognate {
    /// Removes every pool, identity, login, merge, role, managed policy,
    /// attachment, OIDC and SAML provider, in one store transaction, and
    /// says how many of each. Only the account root (the admin key) may:
    /// no policy can grant it, so vended credentials never can.
    ///
    /// The store raises the configuration generation with the change, so
    /// the next request on any node reads it and drops its cached pools
    /// and roles (and the permissions parsed from them). Sessions vended
    /// before stay sealed and verifiable, but their roles are gone, and a
    /// role created again under the same name has another role id, which
    /// they do not match: they can do nothing more.
    pub async fn reset(&self, caller: &Caller) -> Result<ResetCounts> {
        if caller.authority != Authority::Root {
            return Err(Error::AccessDenied(format!(
                "User: {} is not authorized to reset the deployment: only its admin key may.",
                caller.arn()
            )));
        }
        let counts = self.store.reset().await?;
        self.audit.deployment_reset(&caller.account, &counts);
        Ok(counts)
    }
}
