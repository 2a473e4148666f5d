//! Who is calling: SigV4 verification against the admin key or the
//! temporary credentials cognate vended, after the operation is known, so
//! public operations can stay anonymous. Authentication only: what a
//! caller may do, the domain decides (`cognate_core::access`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use cognate_core::access::Origin;
use cognate_core::{Authority, Caller};
use cognate_sigv4::{ScopeProblem, SigV4Error};

use crate::admin_key::{SessionDerived, SessionRefusal};
use crate::call::Call;
use crate::state::AppState;
use crate::wire_error::{ApiError, Protocol};

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
    if call.operation.is_public() {
        let config = state.cognate.config();
        return Ok(Caller {
            account: config.account.clone(),
            region: config.default_region.clone(),
            authority: Authority::Anonymous,
            origin: Some(origin),
        });
    }
    // A JSON call's operation is its X-Amz-Target: signed, or a captured
    // request could be replayed as another operation on the same body.
    let signed_target = (call.protocol == Protocol::Json).then_some("X-Amz-Target");
    let expected = Expected {
        protocol: call.protocol,
        service: call.operation.service().signing_name(),
        signed_header: signed_target,
    };
    authenticate_signed(state, request, &expected, origin)
}

/// What a signed request must be: the protocol its errors answer in, the
/// SigV4 service its credential scope names, and a header its signature
/// must cover (beside those SigV4 always covers), if any.
pub struct Expected<'a> {
    pub protocol: Protocol,
    pub service: &'a str,
    pub signed_header: Option<&'a str>,
}

/// Authenticates a request that must be signed (every call but the public
/// ones, and cognate's own signed paths such as `/admin/reset`): the admin
/// key is the account root, temporary credentials cognate vended are a
/// session.
pub fn authenticate_signed(
    state: &AppState,
    request: &RequestParts<'_>,
    expected: &Expected<'_>,
    origin: Origin,
) -> Result<Caller, ApiError> {
    let RequestParts {
        method,
        uri,
        headers,
        body,
    } = request;
    let protocol = expected.protocol;
    let config = state.cognate.config();
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
        .map_err(|e| ApiError::from_sigv4(&e, protocol))?
        .ok_or_else(|| ApiError::missing_authentication(protocol))?;
    if let Some(header) = expected.signed_header {
        info.require_signed_header(header)
            .map_err(|e| ApiError::from_sigv4(&e, protocol))?;
    }
    let service = expected.service;
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
            protocol,
        ));
    }
    let now = state.cognate.clock().now();
    // Stale requests first: they must not make keys to derive and cache.
    cognate_sigv4::check_time(&info, now).map_err(|e| ApiError::from_sigv4(&e, protocol))?;
    let (key, authority, _) = signer_of(state, &info).map_err(|unknown| match unknown {
        UnknownSigner::Unrecognized => ApiError::unknown_access_key(protocol),
        UnknownSigner::Expired => ApiError::expired_session(protocol),
    })?;
    cognate_sigv4::verify_with_signing_key(&request, &info, &key, now)
        .map_err(|e| ApiError::from_sigv4(&e, protocol))?;
    Ok(Caller {
        account: config.account.clone(),
        region: info.region,
        authority,
        origin: Some(origin),
    })
}

/// Why a signature's access key cannot be used.
pub(crate) enum UnknownSigner {
    /// Neither the admin key nor temporary credentials of this deployment.
    Unrecognized,
    /// Temporary credentials past their expiry.
    Expired,
}

/// Who signed: the admin key (the account root) or a session cognate
/// vended (its token is the sealed session), and the SigV4 key derived
/// from its secret for the signature's scope; for a session, what is made
/// of it once for all its requests.
pub(crate) fn signer_of(
    state: &AppState,
    info: &cognate_sigv4::SignedRequestInfo,
) -> Result<
    (
        cognate_sigv4::SigningKey,
        Authority,
        Option<Arc<SessionDerived>>,
    ),
    UnknownSigner,
> {
    let (date, region, service) = (&info.date, &info.region, &info.service);
    if info.access_key_id == state.admin.access_key_id {
        let secret = &state.admin.secret_access_key;
        let key = state.admin_signing_keys.key(secret, date, region, service);
        return Ok((key, Authority::Root, None));
    }
    let cognate = &state.cognate;
    let token = info
        .security_token
        .as_deref()
        .ok_or(UnknownSigner::Unrecognized)?;
    let scope = (date.as_str(), region.as_str(), service.as_str());
    let now = cognate.clock().now_secs();
    let (session, key, derived) = state
        .session_signers
        .signer(&info.access_key_id, token, scope, now, |token| {
            cognate.sts().open_session(token)
        })
        .map_err(|refusal| match refusal {
            SessionRefusal::Unrecognized => UnknownSigner::Unrecognized,
            SessionRefusal::Expired => UnknownSigner::Expired,
        })?;
    Ok((key, Authority::Session(session), Some(derived)))
}
