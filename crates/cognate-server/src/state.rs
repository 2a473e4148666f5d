//! What every request handler shares.

use std::sync::Arc;

use cognate_core::Cognate;

use crate::admin_key::{AdminKey, AdminSigningKeys, SessionSigners};
use crate::client_address::TrustedProxies;
use crate::limits::Limiter;
use crate::metrics::Metrics;

pub struct AppState {
    pub cognate: Arc<Cognate>,
    pub admin: AdminKey,
    pub admin_signing_keys: AdminSigningKeys,
    /// Keys derived from the secrets of the sessions that sign requests.
    pub session_signers: SessionSigners,
    pub metrics: Metrics,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a client may take to send its request body.
    pub body_read_timeout: std::time::Duration,
    pub limiter: Limiter,
    /// Proxies whose `X-Forwarded-For` names the client the limits count.
    pub trusted_proxies: TrustedProxies,
    /// Forward-auth: who may ask, and the APIs it decides for.
    pub forward_auth: crate::authz::ForwardAuth,
    /// Whether `POST /admin/reset` may empty the deployment (`[testing]
    /// allow_reset`); never by default.
    pub allow_reset: bool,
}
