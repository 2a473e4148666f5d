//! The Logins map of a request: which provider each key names on the pool,
//! and the verification of every token (all must pass).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::arn::oidc_arn_host_path;
use crate::error::{Error, Result};
use crate::federation::{LoginError, ProviderKind, ProviderSpec, VerifiedLogin};
use crate::model::{Login, Pool};
use crate::service::Cognate;

pub use crate::arn::COGNITO_PROVIDER;

pub const LOGINS_DONT_MATCH: &str = "Logins don't match. Please include at least one valid login for this identity or identity pool.";

/// Where a Logins map is used: the Cognito token and the developer
/// provider are each allowed in one place only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginUse {
    GetId,
    GetOpenIdToken,
    GetCredentials,
    Unlink,
    Developer,
}

/// The outcome of verifying a Logins map.
#[derive(Debug, Default)]
pub struct VerifiedLogins {
    /// Third-party logins, in Logins key order.
    pub logins: Vec<VerifiedLogin>,
    /// Claims of a presented Cognito token (GetCredentialsForIdentity).
    pub cognito_token: Option<Value>,
}

impl VerifiedLogins {
    pub fn keys(&self) -> Vec<Login> {
        self.logins
            .iter()
            .map(|v| Login {
                provider: v.provider.clone(),
                subject: v.subject.clone(),
            })
            .collect()
    }
}

fn not_supported() -> Error {
    Error::NotAuthorized("Token is not from a supported provider of this identity pool.".into())
}

impl Cognate {
    /// The provider a Logins key names on this pool.
    pub(crate) async fn provider_spec(&self, pool: &Pool, key: &str) -> Result<ProviderSpec> {
        if let Some(client_id) = pool.supported_login_providers.get(key) {
            let kind = match key {
                "accounts.google.com" => ProviderKind::Google,
                "appleid.apple.com" => ProviderKind::Apple,
                "graph.facebook.com" => ProviderKind::Facebook,
                "www.amazon.com" => ProviderKind::Amazon,
                "api.twitter.com" => ProviderKind::Twitter,
                _ => ProviderKind::Digits,
            };
            return Ok(ProviderSpec {
                name: key.to_string(),
                kind,
                audiences: client_id.split(',').map(|s| s.trim().to_string()).collect(),
            });
        }
        let user_pool_clients: Vec<String> = pool
            .cognito_identity_providers
            .iter()
            .filter(|p| p.provider_name == key)
            .map(|p| p.client_id.clone())
            .collect();
        if !user_pool_clients.is_empty() {
            return Ok(ProviderSpec {
                name: key.to_string(),
                kind: ProviderKind::CognitoUserPool,
                audiences: user_pool_clients,
            });
        }
        for arn in &pool.open_id_connect_provider_arns {
            if oidc_arn_host_path(arn) == Some(key) {
                let provider = self
                    .store
                    .get_oidc_provider(arn)
                    .await?
                    .ok_or_else(not_supported)?;
                return Ok(ProviderSpec {
                    name: key.to_string(),
                    kind: ProviderKind::Oidc { url: provider.url },
                    audiences: provider.client_ids,
                });
            }
        }
        Err(not_supported())
    }

    /// Verifies every token of a Logins map; any failure fails the call.
    pub(crate) async fn verify_logins(
        &self,
        pool: &Pool,
        logins: &BTreeMap<String, String>,
        used_in: LoginUse,
    ) -> Result<VerifiedLogins> {
        let mut out = VerifiedLogins::default();
        for (key, token) in logins {
            if key == COGNITO_PROVIDER {
                if used_in != LoginUse::GetCredentials {
                    return Err(Error::NotAuthorized(
                        "Invalid login token. Can't pass in a Cognito token.".into(),
                    ));
                }
                out.cognito_token = Some(self.verify_own_token(pool, token)?);
                continue;
            }
            if pool.developer_provider_name.as_deref() == Some(key.as_str()) {
                if used_in == LoginUse::Developer {
                    continue;
                }
                return Err(Error::NotAuthorized(format!(
                    "Invalid login token. The developer provider {key} can only be used in GetOpenIdTokenForDeveloperIdentity."
                )));
            }
            if pool.saml_provider_arns.iter().any(|arn| arn == key) {
                if matches!(used_in, LoginUse::GetOpenIdToken | LoginUse::Developer) {
                    return Err(Error::InvalidParameter(
                        "SAML logins are supported in the enhanced flow only (GetCredentialsForIdentity)."
                            .into(),
                    ));
                }
                out.logins.push(self.verify_saml(pool, key, token).await?);
                continue;
            }
            let spec = self.provider_spec(pool, key).await?;
            let verified = self
                .verifier
                .verify(&spec, token, self.clock.now())
                .await
                .map_err(|e| match e {
                    LoginError::ProviderUnreachable(m) => Error::ExternalService(m),
                    other => Error::NotAuthorized(other.to_string()),
                })?;
            out.logins.push(verified);
        }
        Ok(out)
    }

    /// A base64 SAML response from the IdP registered under `arn`, checked
    /// against its metadata as IAM holds it now. The subject is the NameID;
    /// the attributes become the claims (role mapping rules, the Role
    /// attribute).
    async fn verify_saml(&self, pool: &Pool, arn: &str, response: &str) -> Result<VerifiedLogin> {
        let provider = self
            .store
            .get_saml_provider(arn)
            .await?
            .filter(|p| p.account == pool.account)
            .ok_or_else(not_supported)?;
        let assertion = crate::saml::verify(
            provider.metadata,
            response.to_string(),
            self.clock.now_secs(),
            Some(&pool.region),
        )
        .await?
        .map_err(|e| Error::NotAuthorized(format!("Invalid login token. {e}")))?;
        let mut claims = serde_json::Map::new();
        for (name, values) in &assertion.attributes {
            let value = match values.as_slice() {
                [one] => Value::String(one.clone()),
                many => Value::Array(many.iter().cloned().map(Value::String).collect()),
            };
            claims.insert(name.clone(), value);
        }
        claims.insert("sub".into(), Value::String(assertion.name_id.clone()));
        let roles = assertion
            .roles()
            .into_iter()
            .filter(|(_, provider)| provider == arn)
            .map(|(role, _)| role)
            .collect();
        Ok(VerifiedLogin {
            provider: arn.to_string(),
            subject: assertion.name_id,
            audience: assertion.issuer,
            claims,
            saml_roles: Some(roles),
        })
    }

    /// A token cognate signed for this pool (the developer flow passes it
    /// back under `cognito-identity.amazonaws.com`).
    fn verify_own_token(&self, pool: &Pool, token: &str) -> Result<Value> {
        let claims = self.keys.verify(token).ok_or_else(|| {
            Error::NotAuthorized("Invalid login token. Couldn't verify signed token.".into())
        })?;
        let now = self.clock.now_secs();
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if now >= exp {
            return Err(Error::NotAuthorized(format!(
                "Invalid login token. Token expired: {now} >= {exp}"
            )));
        }
        if claims["iss"].as_str() != Some(self.config.issuer.as_str()) {
            return Err(Error::NotAuthorized(
                "Invalid login token. Issuer doesn't match providerName".into(),
            ));
        }
        if claims["aud"].as_str() != Some(pool.id.as_str()) {
            return Err(not_supported());
        }
        Ok(claims)
    }
}
