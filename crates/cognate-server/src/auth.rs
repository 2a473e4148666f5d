//! Who is calling: SigV4 verification against the admin key or the
//! temporary credentials cognate vended, after the operation is known, so
//! public operations can stay anonymous. Authentication only: what a
//! caller may do, the domain decides (`cognate_core::access`).

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use cognate_core::access::Origin;
use cognate_core::{Authority, Caller};
use cognate_sigv4::{ScopeProblem, SigV4Error};

use crate::call::Call;
use crate::state::AppState;
use crate::wire_error::{ApiError, Protocol};

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

/// What authentication reads of a request.
pub struct RequestParts<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
}

/// Authenticates a call. Public operations ignore any signature they carry
/// (SDKs with unrelated credentials configured may sign them) and are
/// anonymous; every other operation needs a valid one: the admin key is
/// the account root, temporary credentials cognate vended are a session.
/// What the caller may do is the domain's to decide.
pub fn authenticate(
    state: &AppState,
    call: &Call,
    request: &RequestParts<'_>,
    origin: Origin,
) -> Result<Caller, ApiError> {
    let RequestParts {
        method,
        uri,
        headers,
        body,
    } = request;
    let config = state.cognate.config();
    let caller = |region: String, authority: Authority| Caller {
        account: config.account.clone(),
        region,
        authority,
        origin: Some(origin),
    };
    if call.operation.is_public() {
        return Ok(caller(config.default_region.clone(), Authority::Anonymous));
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
    // A JSON call's operation is its X-Amz-Target: signed, or a captured
    // request could be replayed as another operation on the same body.
    if call.protocol == Protocol::Json {
        info.require_signed_header("X-Amz-Target")
            .map_err(|e| ApiError::from_sigv4(&e, call.protocol))?;
    }
    let service = call.operation.service().signing_name();
    let mut scope_problems = Vec::new();
    // The region becomes part of the ids and ARNs the call makes: the
    // configured one or one of AWS's.
    if info.region != config.default_region
        && !cognate_core::ids::AWS_REGIONS.contains(&info.region.as_str())
    {
        scope_problems.push(ScopeProblem::Region {
            got: info.region.clone(),
        });
    }
    if info.service != service {
        scope_problems.push(ScopeProblem::Service {
            expected: service.to_string(),
        });
    }
    if !scope_problems.is_empty() {
        return Err(ApiError::from_sigv4(
            &SigV4Error::InvalidCredentialScope {
                problems: scope_problems,
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
        return Ok(caller(info.region, Authority::Root));
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
    Ok(caller(info.region, Authority::Session(Box::new(session))))
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
