//! A Cognito user pool as a token issuer.

use std::ops::Deref;

use serde_json::{Value, json};

use crate::oidc::{OidcOptions, OidcProvider, merge};

/// Like `merge`, but keeps `null` members, so that a `null` the caller gave
/// still removes the provider's default claim when the token is signed.
fn overlay(target: &mut Value, patch: Value) {
    if let (Some(obj), Value::Object(patch)) = (target.as_object_mut(), patch) {
        obj.extend(patch);
    }
}
use crate::{random_alnum, unix_now};

/// An issuer shaped like a Cognito user pool: `iss = <base>/<userPoolId>`,
/// JWKS at `<iss>/.well-known/jwks.json` (and discovery at
/// `<iss>/.well-known/openid-configuration`), RS256 tokens carrying
/// `token_use`. Dereferences to the underlying [`OidcProvider`] for
/// counters, rotation, failure modes and bad tokens (which default to
/// `token_use: "id"`).
pub struct CognitoUserPool {
    idp: OidcProvider,
    pool_id: String,
}

impl CognitoUserPool {
    /// A pool with a random id like `us-east-1_Ab3dE5gH7`.
    pub async fn start() -> Self {
        let id = format!("us-east-1_{}", random_alnum(9));
        Self::start_with_pool_id(&id).await
    }

    pub async fn start_with_pool_id(pool_id: &str) -> Self {
        let idp = OidcProvider::start_with(
            OidcOptions::default()
                .path_prefix(pool_id)
                .default_claim("token_use", json!("id")),
        )
        .await;
        CognitoUserPool {
            idp,
            pool_id: pool_id.to_owned(),
        }
    }

    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// The underlying provider.
    pub fn provider(&self) -> &OidcProvider {
        &self.idp
    }

    /// An ID token. Defaults: `token_use: "id"`, `cognito:username` = `sub`,
    /// `auth_time` = now, `email_verified: true`, plus `iss`/`iat`/`exp`.
    /// Set `aud` (the app client id) and `sub`; `cognito:groups`,
    /// `cognito:roles`, `cognito:preferred_role` as you like.
    pub fn id_token(&self, claims: Value) -> String {
        let sub = claims.get("sub").cloned().unwrap_or(Value::Null);
        let mut full = json!({
            "token_use": "id",
            "auth_time": unix_now(),
            "email_verified": true,
            "event_id": uuid::Uuid::new_v4().to_string(),
        });
        if !sub.is_null() {
            merge(&mut full, json!({ "cognito:username": sub }));
        }
        overlay(&mut full, claims);
        self.idp.id_token(full)
    }

    /// An access token: `token_use: "access"`, no `aud`; the app client id
    /// goes in `client_id` (taken from `client_id`, or moved from `aud` if
    /// you passed one). `username` defaults to `sub`, `scope` to
    /// `aws.cognito.signin.user.admin`.
    pub fn access_token(&self, claims: Value) -> String {
        let mut claims = claims;
        if let Some(obj) = claims.as_object_mut()
            && !obj.contains_key("client_id")
            && let Some(aud) = obj.remove("aud")
        {
            obj.insert("client_id".into(), aud);
        }
        let sub = claims.get("sub").cloned().unwrap_or(Value::Null);
        let mut full = json!({
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": unix_now(),
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if !sub.is_null() {
            merge(&mut full, json!({ "username": sub }));
        }
        overlay(&mut full, claims);
        self.idp.id_token(full)
    }
}

impl Deref for CognitoUserPool {
    type Target = OidcProvider;

    fn deref(&self) -> &OidcProvider {
        &self.idp
    }
}
