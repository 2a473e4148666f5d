//! The domain in-process, as kanidm's `idm_test` runs its server: a fresh
//! SQLite store in a temporary directory, a clock that stands still until a
//! test moves it, and a login verifier that trusts what the test hands it.
//! No HTTP, no signatures: what these tests check is the domain's rules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use cognate_core::clock::ManualClock;
use cognate_core::credentials::Credentials;
use cognate_core::federation::{LoginError, LoginVerifier, ProviderSpec, VerifiedLogin};
use cognate_core::iam::NewRole;
use cognate_core::keys::SigningAlgorithm;
use cognate_core::model::RoleMapping;
use cognate_core::pools::PoolSettings;
use cognate_core::service::{Cognate, DomainConfig};
use cognate_core::{Caller, Error};
use cognate_store::StoreOptions;
use cognate_store::sqlite::SqliteStore;
use serde_json::{Map, Value, json};

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";
/// 2026-01-01T00:00:00Z: where every test's clock starts.
pub const START: i64 = 1_767_225_600;
/// The OIDC issuer the tests register, and its Logins key.
pub const ISSUER: &str = "https://login.example.com";
pub const LOGIN_KEY: &str = "login.example.com";
pub const CLIENT: &str = "app-client";

/// Accepts a token that is the JSON text of its claims: `sub` is the
/// subject, `aud` must be one of the provider's audiences, and `exp`, when
/// present, must be after now. What a real verifier proves with signatures
/// is `cognate-federation`'s to test; the domain only sees its verdict.
pub struct StubVerifier;

#[async_trait]
impl LoginVerifier for StubVerifier {
    async fn verify(
        &self,
        provider: &ProviderSpec,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedLogin, LoginError> {
        let claims: Map<String, Value> =
            serde_json::from_str(token).map_err(|_| LoginError::Malformed)?;
        let text = |name: &'static str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(LoginError::MissingClaim(name))
        };
        let subject = text("sub")?;
        let audience = text("aud")?;
        if !provider.audiences.contains(&audience) {
            return Err(LoginError::AudienceNotAllowed);
        }
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
            && now >= exp
        {
            return Err(LoginError::Expired { now, exp });
        }
        Ok(VerifiedLogin {
            provider: provider.name.clone(),
            subject,
            audience,
            claims,
            saml_roles: None,
        })
    }
}

/// A login token for the stub verifier.
pub fn token(claims: Value) -> String {
    claims.to_string()
}

/// A login token of `sub` for the registered client.
pub fn login_of(sub: &str) -> String {
    token(json!({"sub": sub, "aud": CLIENT}))
}

/// A Logins map.
pub fn logins(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub struct Domain {
    pub cognate: Arc<Cognate>,
    pub clock: ManualClock,
    pub root: Caller,
    _dir: tempfile::TempDir,
}

impl Domain {
    pub async fn open() -> Domain {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(START);
        let cognate = Arc::new(open_node(&dir, &clock).await);
        Domain {
            cognate,
            clock,
            root: Caller::root(ACCOUNT, REGION),
            _dir: dir,
        }
    }

    /// Another node over the same database and clock, with caches of its
    /// own, as a second cognate process would be.
    pub async fn another_node(&self) -> Cognate {
        open_node(&self._dir, &self.clock).await
    }

    /// A pool with the given settings (the name is filled in).
    pub async fn pool(&self, mut settings: PoolSettings) -> String {
        if settings.name.is_empty() {
            settings.name = "domain".into();
        }
        let pool = self.cognate.pools().create(&self.root, settings).await;
        pool.unwrap().id
    }

    /// Registers the test issuer as an OIDC provider for `CLIENT`.
    pub async fn register_issuer(&self) -> String {
        let iam = self.cognate.iam();
        let provider = iam
            .create_oidc_provider(&self.root, ISSUER, vec![CLIENT.into()], vec![])
            .await;
        provider.unwrap().arn
    }

    /// A pool trusting the test issuer, with an authenticated role and,
    /// when guests are allowed, an unauthenticated one.
    pub async fn oidc_pool(&self, allow_guests: bool) -> OidcPool {
        let arn = self.register_issuer().await;
        let pool_id = self
            .pool(PoolSettings {
                allow_unauthenticated: allow_guests,
                open_id_connect_provider_arns: vec![arn],
                ..Default::default()
            })
            .await;
        let auth_role = self
            .role("Auth", &trust_policy(&pool_id, "authenticated"))
            .await;
        let unauth_role = self
            .role("Unauth", &trust_policy(&pool_id, "unauthenticated"))
            .await;
        self.set_roles(
            &pool_id,
            &[
                ("authenticated", &auth_role),
                ("unauthenticated", &unauth_role),
            ],
            BTreeMap::new(),
        )
        .await
        .unwrap();
        OidcPool {
            pool_id,
            auth_role,
            unauth_role,
        }
    }

    /// Creates a role and returns its ARN.
    pub async fn role(&self, name: &str, trust: &str) -> String {
        let iam = self.cognate.iam();
        let role = iam.create_role(
            &self.root,
            NewRole {
                name: name.into(),
                path: None,
                assume_role_policy_document: trust.into(),
                description: None,
                max_session_duration: None,
                tags: BTreeMap::new(),
            },
        );
        role.await.unwrap().arn
    }

    pub async fn set_roles(
        &self,
        pool_id: &str,
        roles: &[(&str, &str)],
        mappings: BTreeMap<String, RoleMapping>,
    ) -> Result<(), Error> {
        let roles = roles
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let pools = self.cognate.pools();
        pools.set_roles(&self.root, pool_id, roles, mappings).await
    }

    /// GetId.
    pub async fn get_id(&self, pool_id: &str, logins: &[(&str, &str)]) -> Result<String, Error> {
        let identities = self.cognate.identities();
        identities
            .get_id(pool_id, None, &self::logins(logins))
            .await
    }

    /// GetCredentialsForIdentity: the identity answered and the role the
    /// credentials are for.
    pub async fn credentials(
        &self,
        identity_id: &str,
        logins: &[(&str, &str)],
        custom_role_arn: Option<&str>,
    ) -> Result<(String, String), Error> {
        let identities = self.cognate.identities();
        let (id, credentials) = identities
            .get_credentials_for_identity(identity_id, &self::logins(logins), custom_role_arn)
            .await?;
        Ok((id, self.role_of(&credentials)))
    }

    /// The ARN of the role vended credentials act as.
    pub fn role_of(&self, credentials: &Credentials) -> String {
        let session = self.cognate.sts().open_session(&credentials.session_token);
        session
            .expect("cognate opens its own session tokens")
            .role_arn
    }

    /// The number of identities of a pool (active ones only, or all).
    pub async fn identity_count(&self, pool_id: &str, active_only: bool) -> usize {
        let identities = self.cognate.identities();
        let (page, _) = identities
            .list(&self.root, pool_id, 60, None, active_only)
            .await
            .unwrap();
        page.len()
    }
}

async fn open_node(dir: &tempfile::TempDir, clock: &ManualClock) -> Cognate {
    let url = format!("sqlite://{}/domain.db", dir.path().display());
    let store = SqliteStore::open(&url, &StoreOptions::default())
        .await
        .unwrap();
    Cognate::open(
        Arc::new(store),
        Arc::new(clock.clone()),
        Arc::new(StubVerifier),
        DomainConfig {
            account: ACCOUNT.into(),
            default_region: REGION.into(),
            issuer: "https://cognito-identity.amazonaws.com".into(),
            max_pools_per_region: 1000,
            guest_ttl_secs: None,
            // ES256 keys are made in microseconds, RSA ones in seconds.
            signing_algorithm: SigningAlgorithm::Es256,
        },
        &[7u8; 32],
    )
    .await
    .unwrap()
}

pub struct OidcPool {
    pub pool_id: String,
    pub auth_role: String,
    pub unauth_role: String,
}

/// A role trust policy for Cognito identities of one pool whose `amr`
/// matches, as the Cognito console writes it.
pub fn trust_policy(pool_id: &str, amr: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}
            }
        }]
    })
    .to_string()
}

/// The message of a domain error, as clients read it.
pub fn message(error: &Error) -> String {
    error.to_string()
}
