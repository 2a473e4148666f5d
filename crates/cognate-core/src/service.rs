//! `Cognate`: the domain service that the protocol handlers call.

use std::sync::Arc;

use crate::clock::Clock;

use crate::arn::parse_role_arn;
use crate::config_cache::{CachedRole, ConfigCache, ConfigView};
use crate::error::Result;
use crate::federation::LoginVerifier;
use crate::keys::{self, KeyRing, KeySource, SealingKey, SigningAlgorithm};
use crate::model::Pool;
use crate::session::SessionSealer;
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
    /// Guest identities unused this long are deleted by the sweep; None
    /// keeps them forever.
    pub guest_ttl_secs: Option<i64>,
    /// Algorithm of the signing keys this node generates (first key,
    /// rotation, the switch at start); every node signs with the newest
    /// key, whatever its algorithm.
    pub signing_algorithm: SigningAlgorithm,
}

/// A view of the service for one domain (`cognate.pools()`, as garage's
/// `BucketHelper(&Garage)`): the domain's operations are its methods; the
/// service's state and shared helpers are reached through it.
macro_rules! facade {
    ($(#[$doc:meta])* $name:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(&'a $crate::service::Cognate);

        impl $crate::service::Cognate {
            $(#[$doc])*
            pub fn $accessor(&self) -> $name<'_> {
                $name(self)
            }
        }

        impl std::ops::Deref for $name<'_> {
            type Target = $crate::service::Cognate;

            fn deref(&self) -> &$crate::service::Cognate {
                self.0
            }
        }
    };
}
pub(crate) use facade;

pub struct Cognate {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) verifier: Arc<dyn LoginVerifier>,
    pub(crate) config: DomainConfig,
    pub(crate) master: SealingKey,
    pub(crate) keys: KeyRing,
    pub(crate) sessions: SessionSealer,
    /// Pools and roles for the hot paths; see `config_cache`.
    pub(crate) config_cache: ConfigCache,
    /// Where audit events go; see `audit`.
    pub(crate) audit: crate::audit::AuditTrail,
}

impl Cognate {
    /// Opens the domain over a store: checks the master key against the
    /// database and loads (or creates) the signing and session keys.
    pub async fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        verifier: Arc<dyn LoginVerifier>,
        config: DomainConfig,
        master_key: &[u8],
    ) -> Result<Self> {
        let master = SealingKey::new(master_key)?;
        keys::check_master_key(store.as_ref(), &master).await?;
        let sessions = SessionSealer::new(keys::session_key(store.as_ref(), &master).await?);
        let ring = KeyRing::empty();
        ring.load(&KeySource {
            store: store.as_ref(),
            master: &master,
            kid_prefix: &config.default_region,
            alg: config.signing_algorithm,
            now: clock.now_secs(),
        })
        .await?;
        Ok(Cognate {
            audit: crate::audit::AuditTrail::new(clock.clone()),
            store,
            clock,
            verifier,
            config,
            master,
            keys: ring,
            sessions,
            config_cache: ConfigCache::default(),
        })
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

/// Reads of the configuration (pools, roles) through the node's cache.
impl Cognate {
    /// Reads the configuration generation for one request: one store call,
    /// made before any cached lookup of the request.
    pub(crate) async fn config_view(&self) -> Result<ConfigView> {
        let generation = self.store.config_generation().await?;
        Ok(self.config_cache.observe(generation))
    }

    /// A pool by id, through the cache.
    pub(crate) async fn cached_pool(
        &self,
        view: &ConfigView,
        id: &str,
    ) -> Result<Option<Arc<Pool>>> {
        if let Some(pool) = self.config_cache.pool(view, id) {
            return Ok(Some(pool));
        }
        let Some(pool) = self.store.get_pool(id).await? else {
            return Ok(None);
        };
        let pool = Arc::new(pool);
        self.config_cache.insert_pool(view, pool.clone());
        Ok(Some(pool))
    }

    /// The role an ARN names, through the cache (as `role_by_arn`).
    pub(crate) async fn cached_role_by_arn(
        &self,
        view: &ConfigView,
        arn: &str,
    ) -> Result<Option<Arc<CachedRole>>> {
        let Some((account, _, name)) = parse_role_arn(arn) else {
            return Ok(None);
        };
        let role = match self.config_cache.role(view, account, name) {
            Some(role) => role,
            None => {
                let Some(role) = self.store.get_role(account, name).await? else {
                    return Ok(None);
                };
                let role = Arc::new(CachedRole::new(role));
                self.config_cache.insert_role(view, role.clone());
                role
            }
        };
        // The path is part of the ARN: a role recreated under another path
        // is another role.
        Ok((role.role.arn == arn).then_some(role))
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

facade!(
    /// The keys cognate signs its OpenID tokens with: reread, rotate,
    /// publish.
    SigningKeys,
    signing_keys
);

impl SigningKeys<'_> {
    /// Rereads the signing keys (another node may have rotated them).
    pub async fn reload(&self) -> Result<()> {
        self.keys.load(&self.key_source()).await
    }

    /// Makes a new signing key current; the old ones stay published until
    /// their tokens have expired. Returns the new key id.
    pub async fn rotate(&self) -> Result<String> {
        self.keys.rotate(&self.key_source()).await
    }

    fn key_source(&self) -> KeySource<'_> {
        KeySource {
            store: self.store.as_ref(),
            master: &self.master,
            kid_prefix: &self.config.default_region,
            alg: self.config.signing_algorithm,
            now: self.clock.now_secs(),
        }
    }

    /// Rotates to a key of the configured algorithm if the active key has
    /// another one, so changing the setting takes effect at the next
    /// start; the old key stays published as after any rotation. Returns
    /// the new key id, if it rotated.
    pub async fn ensure_algorithm(&self) -> Result<Option<String>> {
        if self.keys.active_algorithm() == Some(self.config.signing_algorithm) {
            return Ok(None);
        }
        self.rotate().await.map(Some)
    }

    /// The signing keys as stored, current and retired (the private
    /// parts stay sealed), newest first: for the admin console.
    pub async fn list(&self) -> Result<Vec<crate::model::SigningKeyRecord>> {
        let mut keys = self.store.list_signing_keys().await?;
        keys.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
        Ok(keys)
    }

    /// The algorithms of the published signing keys.
    pub fn algorithms(&self) -> Vec<&'static str> {
        self.keys.algorithms()
    }

    /// The JWKS of the OpenID tokens cognate signs.
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks()
    }
}
