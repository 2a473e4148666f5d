//! STS AssumeRoleWithWebIdentity: a web identity token (cognate's own
//! OpenID token, or an ID token of an OpenID Connect provider registered
//! through IAM) exchanged for temporary credentials of a role whose trust
//! policy allows it.
//!
//! Order of the checks (the reference's §8.1; constraints are checked by
//! the protocol layer before this runs):
//! 1. the token must be a JWT;
//! 2. its issuer names the verifier: cognate's configured issuer means
//!    cognate's own keys and the provider `cognito-identity.amazonaws.com`;
//!    any other issuer must be an IAM OIDC provider of the role's account
//!    whose client ids include the token's audience;
//! 3. signature, then expiry;
//! 4. the role must exist and trust the provider (and allow
//!    `sts:TagSession` when the token carries session tags);
//! 5. `DurationSeconds` must not exceed the role's maximum;
//! 6. session policies: the inline `Policy` must be a valid session policy,
//!    every `PolicyArns` entry a customer managed policy of the role's
//!    account, and everything together must fit the packed size.
//!
//! STS does not look at identity pools: a pool's `AllowClassicFlow` only
//! matters to GetOpenIdToken, which already refuses to issue the token.
//!
//! Choices where the reference is silent ([I]):
//! - the `Provider` answered for an OIDC token is the IAM provider's ARN,
//!   as real transcripts show (the API reference says `iss`);
//! - a trust policy may name an OIDC provider by its ARN (as AWS writes
//!   them) or by its host/path; the condition keys are `<host/path>:aud`
//!   (the client id that matched), `:sub`, `:amr` and `:azp` when present;
//! - a role that does not exist answers AccessDenied like a refusing trust
//!   policy, so role names cannot be probed;
//! - a `PolicyArns` entry that is not a customer managed policy of the
//!   role's account is InvalidParameterValue ("Policy <arn> does not exist
//!   or is not attachable.");
//! - the packed size is the inline policy's size (whitespace not counted)
//!   plus the lengths of the policy ARNs and of the session tags' keys and
//!   values, as a percentage of 2,048 characters, rounded up;
//! - `ProviderId` (OAuth 2.0 access tokens of Login with Amazon and
//!   Facebook) is not supported: InvalidParameterValue;
//! - the session's policies (inline and managed documents, copied when the
//!   session is made) act together as one set: see `authz`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::arn::COGNITO_PROVIDER;
use crate::arn::strip_scheme;
use crate::arn::{oidc_provider_arn, parse_policy_arn, parse_role_arn};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::federation::{LoginError, ProviderKind, ProviderSpec};
use crate::ids;
use crate::model::Role;
use crate::service::Cognate;
use crate::service::facade;
use crate::session::Session;
use crate::trust::{FederatedRequest, parse_session_policy, web_identity_trust};

pub const DEFAULT_DURATION_SECS: i64 = 3600;
/// Budget of the packed session policies and tags, in characters: the
/// plaintext quota STS documents for the inline and managed session
/// policies together.
pub const PACKED_POLICY_BUDGET: usize = 2048;
pub const MAX_SESSION_TAGS: usize = 50;
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

const NOT_A_JWT: &str = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";
const NOT_AUTHORIZED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
const KEY_UNREACHABLE: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

/// The request, after the model constraints were checked.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleWithWebIdentity {
    pub role_arn: String,
    pub role_session_name: String,
    pub web_identity_token: String,
    pub provider_id: Option<String>,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub duration_seconds: Option<i64>,
}

/// What AssumeRoleWithWebIdentity answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    pub credentials: Credentials,
    pub subject_from_web_identity_token: String,
    /// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
    pub assumed_role_arn: String,
    /// `<role id>:<session name>`.
    pub assumed_role_id: String,
    /// Percent of the packed-size budget used; only when session policies
    /// or session tags were passed.
    pub packed_policy_size: Option<u32>,
    /// `cognito-identity.amazonaws.com` for cognate's tokens, the IAM OIDC
    /// provider's ARN for other issuers (what the real service answers).
    pub provider: String,
    pub audience: String,
    pub source_identity: Option<String>,
}

/// Who a federated session is for, as its credentials remember it.
pub(crate) struct FederatedSession {
    pub session_name: String,
    /// Condition-key prefix of the provider (`Session::provider`).
    pub provider: String,
    pub audience: String,
    pub subject: String,
    pub amr: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// What the caller asked of the session.
pub(crate) struct SessionRequest<'a> {
    pub duration_seconds: Option<i64>,
    pub policy: Option<&'a str>,
    pub policy_arns: &'a [String],
}

pub(crate) struct VendedSession {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub assumed_role_id: String,
    pub packed_policy_size: Option<u32>,
}

/// A token that passed verification: who it names and how the trust
/// policy sees it.
struct WebIdentityClaims {
    /// Condition-key prefix and `Session::provider`:
    /// `cognito-identity.amazonaws.com` or the OIDC provider's host/path.
    key_prefix: String,
    /// Names the trust policy may use in `Principal.Federated`.
    principals: Vec<String>,
    /// The `Provider` member of the answer.
    provider: String,
    audience: String,
    subject: String,
    amr: Vec<String>,
    /// Extra condition keys (OIDC `azp`).
    extra_keys: Vec<(String, Vec<String>)>,
    claims: Map<String, Value>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidIdentityToken(message.into())
}

fn expired(now: i64, exp: i64) -> Error {
    Error::ExpiredToken(format!(
        "Token expired: current date/time {now} must be before the expiration date/time {exp}"
    ))
}

/// The header and claims of a compact JWS, if it is one.
fn decode_jwt(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || header.is_empty() || payload.is_empty() {
        return None;
    }
    let part = |s: &str| -> Option<Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    };
    let header = part(header)?;
    let claims = part(payload)?;
    // The signature must at least be base64url (it may be empty for
    // `alg: none`, which verification refuses later).
    URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .ok()?;
    Some((header, claims))
}

/// A NumericDate claim: integers only, as STS requires.
fn integer_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            invalid(format!(
                "The ID Token provided is not valid: the {name} claim must be an integer."
            ))
        }),
        Some(_) => Err(invalid(format!(
            "The ID Token provided is not valid: the {name} claim must be an integer."
        ))),
    }
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A claim that may be one string or a list of strings.
fn strings_claim(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Session tags a token asks for: `https://aws.amazon.com/tags` →
/// `principal_tags` {key: [value]} (a plain string value is accepted too).
fn session_tags(claims: &Map<String, Value>) -> Result<BTreeMap<String, String>> {
    let Some(tags) = claims.get(TAGS_CLAIM) else {
        return Ok(BTreeMap::new());
    };
    let bad = |why: &str| {
        invalid(format!(
            "The session tags of the ID Token are invalid: {why}"
        ))
    };
    let Some(principal_tags) = tags.get("principal_tags") else {
        return Ok(BTreeMap::new());
    };
    let map = principal_tags
        .as_object()
        .ok_or_else(|| bad("principal_tags must be an object"))?;
    if map.len() > MAX_SESSION_TAGS {
        return Err(bad(&format!("at most {MAX_SESSION_TAGS} tags are allowed")));
    }
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Array(items) if items.len() == 1 => items
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a tag value must be a string"))?
                .to_string(),
            _ => return Err(bad("a tag value must be a string or a list of one string")),
        };
        if key.is_empty() || key.chars().count() > 128 {
            return Err(bad("a tag key must have 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            return Err(bad("a tag value must have at most 256 characters"));
        }
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// Percent of the packed budget (rounded up) used by the session policies
/// and tags.
fn packed_percent(
    policy: Option<&str>,
    policy_arns: &[String],
    tags: &BTreeMap<String, String>,
) -> u32 {
    let used = policy.map(cognate_policy::policy_size).unwrap_or(0)
        + policy_arns.iter().map(|a| a.chars().count()).sum::<usize>()
        + tags
            .iter()
            .map(|(k, v)| k.chars().count() + v.chars().count())
            .sum::<usize>();
    let percent = (used * 100).div_ceil(PACKED_POLICY_BUDGET);
    u32::try_from(percent).unwrap_or(u32::MAX)
}

impl Cognate {
    /// Steps 5 and 6 and the session, once the caller is trusted: shared by
    /// the federated assume-role calls.
    pub(crate) async fn vend_federated_session(
        &self,
        role: &Role,
        who: FederatedSession,
        request: &SessionRequest<'_>,
        flow: &'static str,
    ) -> Result<VendedSession> {
        // 5. Duration.
        let duration = request.duration_seconds.unwrap_or(DEFAULT_DURATION_SECS);
        if duration > role.max_session_duration {
            return Err(Error::Constraint(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }

        // 6. Session policies.
        let mut session_policies = Vec::new();
        if let Some(doc) = request.policy {
            parse_session_policy(doc)?;
            session_policies.push(doc.to_string());
        }
        for arn in request.policy_arns {
            let not_found = || {
                Error::InvalidParameter(format!(
                    "Policy {arn} does not exist or is not attachable."
                ))
            };
            let (account, _, _) = parse_policy_arn(arn).ok_or_else(not_found)?;
            if account != role.account {
                return Err(not_found());
            }
            let policy = self
                .store
                .get_managed_policy(arn)
                .await?
                .ok_or_else(not_found)?;
            let doc = policy.default_document().ok_or_else(not_found)?;
            session_policies.push(doc.to_string());
        }
        let tags = who.tags;
        let packed =
            (request.policy.is_some() || !request.policy_arns.is_empty() || !tags.is_empty())
                .then(|| packed_percent(request.policy, request.policy_arns, &tags));
        if let Some(percent) = packed
            && percent > 100
        {
            return Err(Error::PackedPolicyTooLarge(format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy."
            )));
        }

        // The session.
        let now = self.clock.now_secs();
        let (access_key_id, secret_access_key) = ids::temporary_access_key()?;
        let session = Session {
            access_key_id,
            secret_access_key,
            issued_at: now,
            expires_at: now + duration,
            account: role.account.clone(),
            role_arn: role.arn.clone(),
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            session_name: who.session_name,
            provider: who.provider,
            audience: who.audience,
            subject: who.subject,
            amr: who.amr,
            principal_tags: tags,
            session_policies,
            guest_scope_down: false,
        };
        let credentials = self.seal_credentials(&session)?;
        self.audit.credentials_vended(
            &session.audience,
            &session.subject,
            &role.arn,
            &session.access_key_id,
            flow,
        );
        Ok(VendedSession {
            credentials,
            assumed_role_arn: session.assumed_role_arn(),
            assumed_role_id: session.user_id(),
            packed_policy_size: packed,
        })
    }

    /// Steps 2 and 3: who issued the token, and whether it is genuine and
    /// current.
    async fn verify_web_identity(
        &self,
        input: &AssumeRoleWithWebIdentity,
        claims: Map<String, Value>,
    ) -> Result<WebIdentityClaims> {
        let iss = string_claim(&claims, "iss")
            .ok_or_else(|| invalid("The ID Token provided is not valid: it has no iss claim."))?;
        if iss.trim_end_matches('/') == self.config.issuer.trim_end_matches('/') {
            return self.verify_own_token_for_sts(&input.web_identity_token);
        }
        // The provider must be registered in the role's account.
        let account = parse_role_arn(&input.role_arn)
            .map(|(account, _, _)| account.to_string())
            .unwrap_or_else(|| self.config.account.clone());
        let arn = oidc_provider_arn(&account, &iss);
        let no_provider = || {
            invalid(format!(
                "No OpenIDConnect provider found in your account for {iss}"
            ))
        };
        let provider = match self.store.get_oidc_provider(&arn).await? {
            Some(p)
                if p.account == account
                    && p.url.trim_end_matches('/') == iss.trim_end_matches('/') =>
            {
                p
            }
            _ => return Err(no_provider()),
        };
        let mut offered = strings_claim(&claims, "aud");
        offered.extend(string_claim(&claims, "azp"));
        if !offered.iter().any(|a| provider.client_ids.contains(a)) {
            return Err(invalid("Incorrect token audience"));
        }
        let spec = ProviderSpec {
            name: provider.host_path().to_string(),
            kind: ProviderKind::Oidc {
                url: provider.url.clone(),
            },
            audiences: provider.client_ids.clone(),
        };
        let verified = self
            .verifier
            .verify(&spec, &input.web_identity_token, self.clock.now())
            .await
            .map_err(|e| match e {
                LoginError::Expired { now, exp } => expired(now, exp),
                LoginError::ProviderUnreachable(_) => invalid(KEY_UNREACHABLE),
                LoginError::AudienceNotAllowed => invalid("Incorrect token audience"),
                LoginError::IssuerMismatch => no_provider(),
                LoginError::Malformed => invalid(NOT_A_JWT),
                LoginError::BadSignature => invalid(
                    "The ID Token provided could not be verified: its signature is invalid.",
                ),
                LoginError::MissingClaim(claim) => invalid(format!(
                    "The ID Token provided is not valid: it has no {claim} claim."
                )),
                LoginError::NotYetValid { .. } => {
                    invalid("The ID Token provided is not valid yet.")
                }
                LoginError::Rejected(m) => invalid(m),
            })?;
        let host = strip_scheme(&provider.url).to_string();
        let mut extra_keys = Vec::new();
        if let Some(azp) = string_claim(&verified.claims, "azp") {
            extra_keys.push((format!("{host}:azp"), vec![azp]));
        }
        Ok(WebIdentityClaims {
            principals: vec![provider.arn.clone(), host.clone()],
            provider: provider.arn.clone(),
            audience: verified.audience,
            subject: verified.subject,
            amr: strings_claim(&verified.claims, "amr"),
            key_prefix: host,
            extra_keys,
            claims: verified.claims,
        })
    }

    /// A token cognate signed: its own keys, the provider
    /// `cognito-identity.amazonaws.com`, no clock skew.
    fn verify_own_token_for_sts(&self, token: &str) -> Result<WebIdentityClaims> {
        let claims = match self.keys.verify(token) {
            Some(Value::Object(claims)) => claims,
            _ => {
                return Err(invalid(
                    "The ID Token provided could not be verified: its signature is invalid.",
                ));
            }
        };
        let now = self.clock.now_secs();
        let exp = integer_claim(&claims, "exp")?
            .ok_or_else(|| invalid("The ID Token provided is not valid: it has no exp claim."))?;
        integer_claim(&claims, "iat")?;
        if now >= exp {
            return Err(expired(now, exp));
        }
        let audience = string_claim(&claims, "aud")
            .ok_or_else(|| invalid("The ID Token provided is not valid: it has no aud claim."))?;
        let subject = string_claim(&claims, "sub")
            .ok_or_else(|| invalid("The ID Token provided is not valid: it has no sub claim."))?;
        Ok(WebIdentityClaims {
            key_prefix: COGNITO_PROVIDER.into(),
            principals: vec![COGNITO_PROVIDER.into()],
            provider: COGNITO_PROVIDER.into(),
            audience,
            subject,
            amr: strings_claim(&claims, "amr"),
            extra_keys: Vec::new(),
            claims,
        })
    }
}

facade!(
    /// STS: web identity and SAML federation, and the sessions cognate
    /// vends.
    Sts,
    sts
);

impl Sts<'_> {
    /// The session of temporary credentials this installation vended, if
    /// the token is genuine (expiry is the caller's to check).
    pub fn open_session(&self, session_token: &str) -> Option<Session> {
        self.sessions.open(session_token)
    }

    /// AssumeRoleWithWebIdentity (unsigned).
    pub async fn assume_role_with_web_identity(
        &self,
        input: &AssumeRoleWithWebIdentity,
    ) -> Result<AssumedRole> {
        // 1. A JWT at all.
        let (_, claims) =
            decode_jwt(&input.web_identity_token).ok_or_else(|| invalid(NOT_A_JWT))?;
        if input.provider_id.is_some() {
            return Err(Error::InvalidParameter(
                "ProviderId is only used with OAuth 2.0 access tokens of www.amazon.com and graph.facebook.com, which this server does not accept; omit it for OpenID Connect ID tokens.".into(),
            ));
        }
        // 2-3. Issuer, signature, expiry.
        let who = self.verify_web_identity(input, claims).await?;
        let tags = session_tags(&who.claims)?;

        // 4. The role and its trust policy (the generation is read only
        // now: a bad token costs no configuration read).
        let view = self.config_view().await?;
        let cached = match self.cached_role_by_arn(&view, &input.role_arn).await? {
            Some(role) => role,
            None => return Err(Error::AccessDenied(NOT_AUTHORIZED.into())),
        };
        let role = &cached.role;
        let p = &who.key_prefix;
        let mut keys = vec![
            (format!("{p}:aud"), vec![who.audience.clone()]),
            (format!("{p}:sub"), vec![who.subject.clone()]),
        ];
        if !who.amr.is_empty() {
            keys.push((format!("{p}:amr"), who.amr.clone()));
        }
        keys.extend(who.extra_keys.iter().cloned());
        let request = FederatedRequest {
            principals: who.principals.clone(),
            keys,
            tags: tags.clone(),
            tags_session: !tags.is_empty(),
        };
        let trusted = cached
            .trust
            .as_ref()
            .is_some_and(|trust| web_identity_trust(trust, &role.arn, &request));
        if !trusted {
            tracing::debug!(role = %role.arn, provider = %who.provider, "web identity not trusted by the role");
            return Err(Error::AccessDenied(NOT_AUTHORIZED.into()));
        }

        let vended = self
            .vend_federated_session(
                role,
                FederatedSession {
                    session_name: input.role_session_name.clone(),
                    provider: who.key_prefix.clone(),
                    audience: who.audience.clone(),
                    subject: who.subject.clone(),
                    amr: who.amr.clone(),
                    tags,
                },
                &SessionRequest {
                    duration_seconds: input.duration_seconds,
                    policy: input.policy.as_deref(),
                    policy_arns: &input.policy_arns,
                },
                "assume_role_with_web_identity",
            )
            .await?;
        Ok(AssumedRole {
            credentials: vended.credentials,
            subject_from_web_identity_token: who.subject.clone(),
            assumed_role_arn: vended.assumed_role_arn,
            assumed_role_id: vended.assumed_role_id,
            packed_policy_size: vended.packed_policy_size,
            provider: who.provider,
            audience: who.audience,
            source_identity: string_claim(&who.claims, "https://aws.amazon.com/source_identity"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn jwt_shapes() {
        let h = b64(&serde_json::json!({"alg": "RS256"}));
        let c = b64(&serde_json::json!({"iss": "x"}));
        assert!(decode_jwt(&format!("{h}.{c}.c2ln")).is_some());
        assert!(decode_jwt(&format!("{h}.{c}.")).is_some());
        assert!(decode_jwt("abc.def").is_none());
        assert!(decode_jwt("abc.def.ghi").is_none());
        assert!(decode_jwt(&format!("{h}.{c}.x.y")).is_none());
        let not_object = b64(&serde_json::json!([1]));
        assert!(decode_jwt(&format!("{h}.{not_object}.")).is_none());
    }

    #[test]
    fn tags_and_packing() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            TAGS_CLAIM: {"principal_tags": {"dept": ["eng"], "team": "core"}}
        }))
        .unwrap();
        let tags = session_tags(&claims).unwrap();
        assert_eq!(tags.get("dept").map(String::as_str), Some("eng"));
        assert_eq!(tags.get("team").map(String::as_str), Some("core"));
        assert_eq!(packed_percent(None, &[], &BTreeMap::new()), 0);
        let doc = "x".repeat(1024);
        assert_eq!(packed_percent(Some(&doc), &[], &BTreeMap::new()), 50);
        assert_eq!(
            packed_percent(Some(&doc), &["y".repeat(1025)], &BTreeMap::new()),
            101
        );
    }
}
