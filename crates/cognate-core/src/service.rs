//! `Cognate`: the domain service that the protocol handlers call.

use std::sync::Arc;

use crate::clock::Clock;
use crate::federation::LoginVerifier;
use crate::store::Store;

/// Settings the domain needs.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// The 12-digit account every resource belongs to.
    pub account: String,
    /// Region of requests that do not name one (unsigned calls).
    pub default_region: String,
    /// `iss` of the OpenID tokens cognate signs.
    pub issuer: String,
    /// AWS's quota: 1,000 pools per account and region.
    pub max_pools_per_region: usize,
}

/// Who is calling, as established by the protocol layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// Region from the SigV4 credential scope, else the default.
    pub region: String,
}

pub struct Cognate {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    #[allow(dead_code)]
    pub(crate) verifier: Arc<dyn LoginVerifier>,
    pub(crate) config: DomainConfig,
}

impl Cognate {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        verifier: Arc<dyn LoginVerifier>,
        config: DomainConfig,
    ) -> Self {
        Cognate {
            store,
            clock,
            verifier,
            config,
        }
    }

    pub fn config(&self) -> &DomainConfig {
        &self.config
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Opaque pagination tokens: the last key of the previous page.
pub mod page_token {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use crate::error::{Error, Result};

    pub fn encode(last_key: &str) -> String {
        URL_SAFE_NO_PAD.encode(last_key.as_bytes())
    }

    pub fn decode(token: &str) -> Result<String> {
        URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::InvalidParameter("The pagination token is invalid.".into()))
    }
}
