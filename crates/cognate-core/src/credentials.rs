//! The flows' end products: OpenID tokens (GetOpenIdToken) and temporary
//! credentials (GetCredentialsForIdentity), with role resolution through
//! the pool's roles and role mappings and the role's trust policy.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::arn::COGNITO_PROVIDER;
use crate::arn::parse_role_arn;
use crate::error::{Error, Result};
use crate::federation::VerifiedLogin;
use crate::identities::Identities;
use crate::ids;
use crate::logins::{LoginUse, VerifiedLogins};
use crate::model::{AmbiguousRoleResolution, MatchType, Pool, RoleMappingType};
use crate::service::Cognate;
use crate::session::Session;
use crate::trust::WebIdentity;

/// GetOpenIdToken tokens live 10 minutes.
pub const OPEN_ID_TOKEN_SECS: i64 = 600;
/// Enhanced-flow credentials live exactly one hour.
pub const ENHANCED_FLOW_SECS: i64 = 3600;
pub const ENHANCED_FLOW_SESSION_NAME: &str = "CognitoIdentityCredentials";

const INVALID_POOL_CONFIG: &str =
    "Invalid identity pool configuration. Check assigned IAM roles for this pool.";

/// The scope-down session policy AWS applies to guests in the enhanced
/// flow: only the services the Cognito guide lists for unauthenticated
/// identities (our transcription of that list).
pub const GUEST_SCOPE_DOWN_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cognito-identity:*","cognito-sync:*","mobileanalytics:*","mobiletargeting:*","s3:*","dynamodb:*","kinesis:*","firehose:*","lambda:*","execute-api:*","lex:*","polly:*","rekognition:*","comprehend:*","translate:*","transcribe:*","sns:*","sqs:*","iot:*","geo:*","logs:*","ses:*","sagemaker:InvokeEndpoint","textract:DetectDocumentText","textract:AnalyzeDocument","kms:Encrypt","kms:Decrypt","kms:ReEncryptTo","kms:ReEncryptFrom","kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext","rum:PutRumEvents","sumerian:View*"],"Resource":"*"}]}"#;

/// Temporary credentials as vended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: i64,
}

/// The claims of cognate's OpenID tokens, in the order Cognito writes them.
#[derive(Serialize)]
struct OpenIdClaims<'a> {
    sub: &'a str,
    aud: &'a str,
    amr: &'a [String],
    iss: &'a str,
    #[serde(rename = "https://cognito-identity.amazonaws.com/identity-pool-arn")]
    pool_arn: String,
    exp: i64,
    iat: i64,
    #[serde(
        rename = "https://aws.amazon.com/tags",
        skip_serializing_if = "Option::is_none"
    )]
    tags: Option<TagsClaim<'a>>,
}

/// `{"principal_tags": {"<tag>": ["<value>"]}}`.
#[derive(Serialize)]
struct TagsClaim<'a> {
    principal_tags: BTreeMap<&'a String, [&'a String; 1]>,
}

/// The role a SAML login's assertion grants for its provider: the only
/// one, or the one CustomRoleArn picks among several. None when the login
/// is not SAML or its assertion grants no role (and none was asked for).
fn saml_role(login: &VerifiedLogin, custom_role_arn: Option<&str>) -> Result<Option<String>> {
    let Some(roles) = &login.saml_roles else {
        return Ok(None);
    };
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    match (roles.as_slice(), custom_role_arn) {
        ([], None) => Ok(None),
        (_, Some(custom)) if roles.contains(&custom) => Ok(Some(custom.to_string())),
        (_, Some(_)) => Err(Error::NotAuthorized(
            "The role requested in CustomRoleArn is not among the roles of the SAML assertion."
                .into(),
        )),
        ([only], None) => Ok(Some((*only).to_string())),
        (_, None) => Err(Error::InvalidParameter(
            "The SAML assertion grants several roles; choose one with CustomRoleArn.".into(),
        )),
    }
}

/// The `amr` claim: how the identity authenticated in this call. A login
/// through one of the pool's user pools (by its configuration, not by the
/// shape of its name) is `<provider>:CognitoSignIn:<sub>`.
pub(crate) fn amr(pool: &Pool, logins: &[VerifiedLogin]) -> Vec<String> {
    if logins.is_empty() {
        return vec!["unauthenticated".into()];
    }
    let mut out = vec!["authenticated".to_string()];
    for login in logins {
        out.push(login.provider.clone());
        if pool.names_user_pool(&login.provider) {
            out.push(format!(
                "{}:CognitoSignIn:{}",
                login.provider, login.subject
            ));
        } else {
            out.push(format!(
                "{}:{}:{}",
                login.provider, login.audience, login.subject
            ));
        }
    }
    out
}

/// Principal tags a provider's attribute map derives from a login's claims.
pub(crate) fn principal_tags(pool: &Pool, logins: &[VerifiedLogin]) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for login in logins {
        if let Some(map) = pool.principal_tag_maps.get(&login.provider) {
            for (tag, claim) in &map.tags {
                if let Some(value) = claim_string(&login.claims, claim) {
                    tags.insert(tag.clone(), value);
                }
            }
        }
    }
    tags
}

fn claim_string(claims: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `cognito:roles`: a JSON list or a comma-separated string.
fn claim_list(claims: &serde_json::Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

impl Cognate {
    /// Signs an OpenID token for an identity.
    pub(crate) fn sign_open_id_token(
        &self,
        pool: &Pool,
        identity_id: &str,
        amr: &[String],
        lifetime_secs: i64,
        principal_tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let now = self.clock.now_secs();
        let claims = OpenIdClaims {
            sub: identity_id,
            aud: &pool.id,
            amr,
            iss: &self.config.issuer,
            pool_arn: pool.arn(),
            exp: now + lifetime_secs,
            iat: now,
            tags: (!principal_tags.is_empty()).then(|| TagsClaim {
                principal_tags: principal_tags.iter().map(|(k, v)| (k, [v])).collect(),
            }),
        };
        self.keys.sign(&claims)
    }

    pub(crate) fn seal_credentials(&self, session: &Session) -> Result<Credentials> {
        Ok(Credentials {
            access_key_id: session.access_key_id.clone(),
            secret_access_key: session.secret_access_key.clone(),
            session_token: self.sessions.seal(session)?,
            expiration: session.expires_at,
        })
    }

    /// The role for this call: role mappings of the presented providers (in
    /// Logins key order; the first mapping that decides wins), else the
    /// pool's default role of the identity's kind.
    fn resolve_role(
        &self,
        pool: &Pool,
        authenticated: bool,
        verified: &VerifiedLogins,
        custom_role_arn: Option<&str>,
    ) -> Result<String> {
        let default_role = |kind: &str| {
            pool.roles
                .get(kind)
                .cloned()
                .ok_or_else(|| Error::InvalidIdentityPoolConfiguration(INVALID_POOL_CONFIG.into()))
        };
        if !authenticated {
            return default_role("unauthenticated");
        }
        for login in &verified.logins {
            let user_pool_key = format!("{}:{}", login.provider, login.audience);
            let (key, mapping) = match pool
                .role_mappings
                .get(&user_pool_key)
                .map(|m| (user_pool_key.clone(), m))
                .or_else(|| {
                    pool.role_mappings
                        .get(&login.provider)
                        .map(|m| (login.provider.clone(), m))
                }) {
                Some(found) => found,
                None => match saml_role(login, custom_role_arn)? {
                    Some(role) => return Ok(role),
                    None => continue,
                },
            };
            let chosen = match mapping.mapping_type {
                // A SAML assertion's roles are its Role pairs for this
                // provider, never attributes it merely names like Cognito's.
                RoleMappingType::Token if login.saml_roles.is_some() => {
                    saml_role(login, custom_role_arn)?
                }
                // `cognito:roles` and `cognito:preferred_role` are read from
                // a Cognito user pool's token only, as AWS documents Token
                // mappings: a user pool's groups name the roles, and making
                // a group with a role needs `iam:PassRole` there. Any other
                // issuer could name whichever role trusts the pool.
                RoleMappingType::Token if !pool.names_user_pool(&login.provider) => None,
                RoleMappingType::Token => {
                    let roles = claim_list(&login.claims, "cognito:roles");
                    match custom_role_arn {
                        Some(custom) if roles.iter().any(|r| r == custom) => {
                            Some(custom.to_string())
                        }
                        Some(_) => {
                            return Err(Error::NotAuthorized(
                                "The role requested in CustomRoleArn is not among the roles of the token.".into(),
                            ));
                        }
                        None => claim_string(&login.claims, "cognito:preferred_role"),
                    }
                }
                RoleMappingType::Rules => mapping.rules.iter().flatten().find_map(|rule| {
                    let value = claim_string(&login.claims, &rule.claim)?;
                    let matched = match rule.match_type {
                        MatchType::Equals => value == rule.value,
                        MatchType::Contains => value.contains(&rule.value),
                        MatchType::StartsWith => value.starts_with(&rule.value),
                        MatchType::NotEqual => value != rule.value,
                    };
                    matched.then(|| rule.role_arn.clone())
                }),
            };
            match chosen {
                Some(arn) if parse_role_arn(&arn).is_some() => return Ok(arn),
                _ => match mapping.ambiguous_role_resolution {
                    Some(AmbiguousRoleResolution::Deny) => {
                        return Err(Error::NotAuthorized(format!(
                            "The ambiguous role mapping rules for: {key} denied this request."
                        )));
                    }
                    _ => return default_role("authenticated"),
                },
            }
        }
        default_role("authenticated")
    }
}

impl Identities<'_> {
    /// GetOpenIdToken (the basic flow's first step).
    pub async fn get_open_id_token(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
    ) -> Result<(String, String)> {
        // The pool's flow settings are checked before any login is linked.
        let (_, identity, pool) = self.pool_of_identity(identity_id).await?;
        if pool.allow_classic_flow == Some(false) {
            return Err(Error::InvalidParameter(
                "Basic (classic) flow is not enabled, please use enhanced flow.".into(),
            ));
        }
        if !pool.role_mappings.is_empty() {
            return Err(Error::InvalidParameter(
                "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow."
                    .into(),
            ));
        }
        let (pool, identity, verified) = self
            .authenticate_loaded(identity, pool, logins, LoginUse::GetOpenIdToken)
            .await?;
        let amr = amr(&pool, &verified.logins);
        let tags = principal_tags(&pool, &verified.logins);
        let token =
            self.sign_open_id_token(&pool, &identity.id, &amr, OPEN_ID_TOKEN_SECS, &tags)?;
        Ok((identity.id, token))
    }

    /// GetCredentialsForIdentity (the enhanced flow).
    pub async fn get_credentials_for_identity(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
        custom_role_arn: Option<&str>,
    ) -> Result<(String, Credentials)> {
        let (view, identity, pool) = self.pool_of_identity(identity_id).await?;
        let (pool, identity, verified) = self
            .authenticate_loaded(identity, pool, logins, LoginUse::GetCredentials)
            .await?;
        let (amr, tags) = match &verified.cognito_token {
            Some(claims) => {
                let amr = claims["amr"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let tags = claims["https://aws.amazon.com/tags"]["principal_tags"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.get(0)?.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                (amr, tags)
            }
            None => (
                amr(&pool, &verified.logins),
                principal_tags(&pool, &verified.logins),
            ),
        };
        let authenticated = amr.iter().any(|a| a == "authenticated");
        let role_arn = self.resolve_role(&pool, authenticated, &verified, custom_role_arn)?;
        let cached = self
            .cached_role_by_arn(&view, &role_arn)
            .await?
            .ok_or_else(|| Error::InvalidIdentityPoolConfiguration(INVALID_POOL_CONFIG.into()))?;
        let role = &cached.role;
        let who = WebIdentity {
            provider: COGNITO_PROVIDER,
            audience: &pool.id,
            subject: &identity.id,
            amr: &amr,
            tags_session: !tags.is_empty(),
        };
        if !cached.trusts(&who) {
            return Err(Error::InvalidIdentityPoolConfiguration(
                INVALID_POOL_CONFIG.into(),
            ));
        }
        let now = self.clock.now_secs();
        let (access_key_id, secret_access_key) = ids::temporary_access_key()?;
        let session = Session {
            access_key_id,
            secret_access_key,
            issued_at: now,
            expires_at: now + ENHANCED_FLOW_SECS,
            account: role.account.clone(),
            role_arn: role.arn.clone(),
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            session_name: ENHANCED_FLOW_SESSION_NAME.into(),
            provider: COGNITO_PROVIDER.into(),
            audience: pool.id.clone(),
            subject: identity.id.clone(),
            amr,
            principal_tags: tags,
            session_policies: Vec::new(),
            guest_scope_down: !authenticated,
        };
        let credentials = self.seal_credentials(&session)?;
        self.audit.credentials_vended(
            &pool.id,
            &identity.id,
            &role.arn,
            &session.access_key_id,
            "enhanced",
        );
        Ok((identity.id, credentials))
    }
}
