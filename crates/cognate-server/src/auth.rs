//! Who is calling: SigV4 verification against the admin key (and, later,
//! temporary credentials), after the operation is known, so public
//! operations can stay anonymous.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use cognate_core::Caller;
use cognate_core::session::Session;

use crate::app::{AppState, Call, Input};
use crate::operation::{Operation, Service};
use crate::wire_error::ApiError;

/// The long-term admin credentials.
#[derive(Clone)]
pub struct AdminKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The admin secret's derived SigV4 keys, by date, region and service.
/// Deriving one is four HMACs that every signed admin request would
/// otherwise repeat; the key depends on nothing else. Bounded: scopes that
/// fail verification are derived too, so the map is cleared when full.
#[derive(Default)]
pub struct AdminSigningKeys(std::sync::Mutex<Vec<(SigningScope, [u8; 32])>>);

type SigningScope = (String, String, String);

/// Dates roll over daily and a deployment uses few regions.
const MAX_CACHED_SIGNING_KEYS: usize = 16;

impl AdminSigningKeys {
    fn key(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let mut keys = match self.0.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        let found = keys
            .iter()
            .find(|((d, r, s), _)| d == date && r == region && s == service);
        if let Some((_, key)) = found {
            return *key;
        }
        if keys.len() >= MAX_CACHED_SIGNING_KEYS {
            keys.clear();
        }
        let key = cognate_sigv4::signing_key(secret, date, region, service);
        keys.push((
            (date.to_owned(), region.to_owned(), service.to_owned()),
            key,
        ));
        key
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An unsigned call to a public operation.
    Anonymous { region: String },
    /// The admin key: the account root.
    Admin { region: String },
    /// Temporary credentials cognate vended.
    Session {
        region: String,
        session: Box<Session>,
    },
}

impl Principal {
    pub fn region(&self) -> &str {
        match self {
            Principal::Anonymous { region }
            | Principal::Admin { region }
            | Principal::Session { region, .. } => region,
        }
    }
}

pub fn caller(state: &AppState, principal: &Principal) -> Caller {
    Caller {
        account: state.cognate.config().account.clone(),
        region: principal.region().to_string(),
    }
}

/// Authenticates a call. Public operations ignore any signature they carry
/// (SDKs with unrelated credentials configured may sign them); every other
/// operation needs a valid one.
pub fn authenticate(
    state: &AppState,
    call: &Call,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Principal, ApiError> {
    let default_region = state.cognate.config().default_region.clone();
    if call.operation.is_public() {
        return Ok(Principal::Anonymous {
            region: default_region,
        });
    }
    let header_pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let request = cognate_sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &header_pairs,
        body,
    };
    let info = cognate_sigv4::parse(&request)
        .map_err(|e| ApiError::from_sigv4(&e, call.protocol))?
        .ok_or_else(|| ApiError::missing_authentication(call.protocol))?;
    let service = call.operation.service().signing_name();
    if info.service != service {
        return Err(ApiError::from_sigv4(
            &cognate_sigv4::SigV4Error::InvalidCredentialScope {
                problems: vec![cognate_sigv4::ScopeProblem::Service {
                    expected: service.to_string(),
                }],
            },
            call.protocol,
        ));
    }
    let now = state.cognate.clock().now();
    if info.access_key_id == state.admin.access_key_id {
        let key = state.admin_signing_keys.key(
            &state.admin.secret_access_key,
            &info.date,
            &info.region,
            &info.service,
        );
        cognate_sigv4::verify_with_signing_key(&request, &info, &key, now)
            .map_err(|e| ApiError::from_sigv4(&e, call.protocol))?;
        return Ok(Principal::Admin {
            region: info.region.clone(),
        });
    }
    // Temporary credentials: the session token is the sealed session.
    let session = info
        .security_token
        .as_deref()
        .and_then(|token| state.cognate.open_session(token))
        .filter(|s| s.access_key_id == info.access_key_id)
        .ok_or_else(|| ApiError::unknown_access_key(call.protocol))?;
    if state.cognate.clock().now_secs() >= session.expires_at {
        return Err(ApiError::expired_session(call.protocol));
    }
    cognate_sigv4::verify(&request, &info, &session.secret_access_key, now)
        .map_err(|e| ApiError::from_sigv4(&e, call.protocol))?;
    Ok(Principal::Session {
        region: info.region.clone(),
        session: Box::new(session),
    })
}

/// The resource a call acts on, as its policies name it.
///
/// - Cognito Identity: the pool ARN when the request names a pool
///   (`IdentityPoolId`, or `ResourceArn` for the tagging operations), or
///   the pool of the identity it names (`IdentityId`); `*` for calls that
///   name neither (CreateIdentityPool, ListIdentityPools, DeleteIdentities,
///   whose identities may span pools) and for identities that do not exist.
/// - IAM: the role (`RoleName`, with its real path when the role exists),
///   the managed policy (`PolicyArn`, or the ARN CreatePolicy will give),
///   the OIDC provider, the simulated principal; `*` for the list calls and
///   SimulateCustomPolicy.
/// - STS: `*` (GetCallerIdentity needs no permission; AssumeRoleWithWebIdentity
///   is unsigned).
pub async fn resource_of(state: &AppState, call: &Call, principal: &Principal) -> String {
    let account = &state.cognate.config().account;
    match (&call.input, call.operation.service()) {
        (Input::Json(input), Service::CognitoIdentity) => {
            let text = |name: &str| input.get(name).and_then(|v| v.as_str());
            // Only the tagging operations act on `ResourceArn`; any other
            // call that carries one is judged by the pool it acts on.
            if matches!(
                call.operation,
                Operation::TagResource | Operation::UntagResource | Operation::ListTagsForResource
            ) {
                return text("ResourceArn").unwrap_or("*").to_string();
            }
            pool_resource(state, principal, text("IdentityPoolId"), text("IdentityId")).await
        }
        (Input::Flow(input), Service::CognitoIdentity) => {
            pool_resource(state, principal, input.pool_id(), input.identity_id()).await
        }
        (Input::Query(params), Service::Iam) => {
            if let Some(name) = params.get("RoleName") {
                let caller = caller(state, principal);
                return match state.cognate.role(&caller, name).await {
                    Ok(role) => role.arn,
                    Err(_) => cognate_core::iam::role_arn(
                        account,
                        params.get("Path").unwrap_or("/"),
                        name,
                    ),
                };
            }
            if let Some(arn) = params
                .get("PolicyArn")
                .or_else(|| params.get("OpenIDConnectProviderArn"))
                .or_else(|| params.get("SAMLProviderArn"))
                .or_else(|| params.get("PolicySourceArn"))
            {
                return arn.to_string();
            }
            match (call.operation, params.get("PolicyName"), params.get("Url")) {
                (Operation::CreatePolicy, Some(name), _) => {
                    cognate_core::iam::policy_arn(account, params.get("Path").unwrap_or("/"), name)
                }
                (Operation::CreateOpenIDConnectProvider, _, Some(url)) => {
                    cognate_core::iam::oidc_provider_arn(account, url)
                }
                (Operation::CreateSAMLProvider, _, _) => match params.get("Name") {
                    Some(name) => cognate_core::iam::saml_provider_arn(account, name),
                    None => "*".to_string(),
                },
                _ => "*".to_string(),
            }
        }
        _ => "*".to_string(),
    }
}

/// The ARN of the pool a Cognito call names, directly or through one of its
/// identities; `*` when it names neither or the identity does not exist.
async fn pool_resource(
    state: &AppState,
    principal: &Principal,
    pool_id: Option<&str>,
    identity_id: Option<&str>,
) -> String {
    let account = &state.cognate.config().account;
    let pool_arn = |pool_id: &str| {
        let region = cognate_core::ids::region_of(pool_id).unwrap_or(principal.region());
        cognate_core::ids::pool_arn(region, account, pool_id)
    };
    if let Some(pool_id) = pool_id {
        return pool_arn(pool_id);
    }
    if let Some(identity_id) = identity_id
        && let Ok(Some(identity)) = state.cognate.store().get_identity(identity_id).await
    {
        return pool_arn(&identity.pool_id);
    }
    "*".to_string()
}

/// Whether the principal may make the call. The admin key may do
/// everything; temporary credentials what their role's policies allow
/// (GetCallerIdentity needs no permission, as in AWS).
pub async fn authorize(
    state: &AppState,
    call: &Call,
    principal: &Principal,
) -> Result<(), ApiError> {
    let Principal::Session { session, .. } = principal else {
        return Ok(());
    };
    if call.operation.is_public() || call.operation == Operation::GetCallerIdentity {
        return Ok(());
    }
    let action = format!(
        "{}:{}",
        call.operation.service().signing_name(),
        call.operation.name()
    );
    let resource = resource_of(state, call, principal).await;
    let allowed = state
        .cognate
        .session_allows(session, &action, &resource)
        .await
        .map_err(|e| ApiError::from_domain(&e, call.protocol))?;
    if allowed {
        return Ok(());
    }
    let message = if resource == "*" {
        format!(
            "User: {} is not authorized to perform: {action}",
            session.assumed_role_arn()
        )
    } else {
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource}",
            session.assumed_role_arn()
        )
    };
    Err(ApiError::from_domain(
        &cognate_core::Error::AccessDenied(message),
        call.protocol,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cached_signing_keys_are_the_derived_ones_and_stay_bounded() {
        let cache = AdminSigningKeys::default();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let derived = cognate_sigv4::signing_key(secret, "20261127", "us-east-1", "sts");
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
        assert_ne!(
            cache.key(secret, "20261127", "eu-west-1", "sts"),
            derived,
            "another region has another key"
        );
        for n in 0..100 {
            let region = format!("xx-test-{n}");
            assert_eq!(
                cache.key(secret, "20261127", &region, "iam"),
                cognate_sigv4::signing_key(secret, "20261127", &region, "iam")
            );
        }
        assert!(cache.0.lock().unwrap().len() <= MAX_CACHED_SIGNING_KEYS);
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
    }
}
