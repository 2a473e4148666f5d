//! Forward-auth: whether a request to one of the operator's own APIs may
//! pass, decided as API Gateway's IAM authorizer decides it. A reverse
//! proxy (nginx `auth_request`, Caddy `forward_auth`, Traefik
//! `ForwardAuth`, Envoy `ext_authz`) asks `/authz/forward` before it
//! proxies a request; application middleware asks `POST /authz/decide`.
//!
//! The request asked about is the original one, as the caller describes
//! it (`original`). Its SigV4 signature is verified against the credentials
//! cognate vended, the API and resource path come from the `[[apis]]`
//! settings (`apis`), and the domain decides `execute-api:Invoke` on the
//! method's ARN (`cognate_core::invoke`). Only the configured callers are
//! asked about: only they are believed about the original request.

mod answer;
pub mod apis;
mod decide;
mod forward;
mod original;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, post};
use cognate_core::Caller;
use cognate_core::invoke::{InvokeIdentity, execute_api_arn};
use cognate_policy::MatchedStatement;

pub use apis::{ApiRoute, ForwardAuth};
pub use original::routing_host;

use self::answer::Denial;
pub(crate) use self::answer::IdentityHeaders;
use self::original::{Original, Payload};
use crate::auth::{UnknownSigner, signer_of};
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/authz/forward", any(forward::handle))
        .route("/authz/forward/{*path}", any(forward::handle))
        .route("/authz/decide", post(decide::handle))
}

/// A forward-auth caller's body, bounded in size and time as every other
/// body is; the reason when it is not (`"is larger than … bytes"`, `"was
/// not sent in time"`), to end a sentence about it.
async fn read_body(state: &AppState, body: axum::body::Body) -> Result<axum::body::Bytes, String> {
    // Most forward-auth calls have none: no timer for them.
    if axum::body::HttpBody::size_hint(&body).exact() == Some(0) {
        return Ok(axum::body::Bytes::new());
    }
    let read = tokio::time::timeout(
        state.body_read_timeout,
        axum::body::to_bytes(body, state.max_body_bytes),
    );
    match read.await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(format!("is larger than {} bytes", state.max_body_bytes)),
        Err(_) => Err("was not sent in time".into()),
    }
}

/// A request that may pass: who sent it, and what it was checked against.
pub(crate) struct Allowed {
    pub identity: Arc<IdentityHeaders>,
    /// The SHA-256 the signature covers: the upstream must find the body
    /// equal to it.
    pub payload_hash: String,
    pub resource: String,
    pub matched_statements: Vec<MatchedStatement>,
    pub source_ip: std::net::IpAddr,
}

/// Verifies the original request's signature and decides
/// `execute-api:Invoke` on what it is for.
pub(crate) async fn check(state: &AppState, original: &Original<'_>) -> Result<Allowed, Denial> {
    let settings = &state.forward_auth;
    let path = apis::decoded_path(&original.path).ok_or(Denial::MissingAuthenticationToken)?;
    let api = settings
        .route(&original.host, &path)
        .ok_or(Denial::MissingAuthenticationToken)?;
    let resource_path = api
        .resource_path(&path)
        .ok_or(Denial::MissingAuthenticationToken)?;

    let headers: Vec<(&str, &str)> = original
        .headers
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    let body = match &original.payload {
        Payload::Body(bytes) => bytes.as_ref(),
        _ => &[],
    };
    let request = cognate_sigv4::Request {
        method: &original.method,
        path: &original.path,
        query: &original.query,
        headers: &headers,
        body,
    };
    let info = cognate_sigv4::parse(&request)
        .map_err(Denial::Signature)?
        .ok_or(Denial::MissingAuthenticationToken)?;
    info.check_scope(&api.region, &settings.service)
        .map_err(Denial::Signature)?;

    let cognate = &state.cognate;
    let config = cognate.config();
    let now = cognate.clock().now();
    // Stale requests first: they must not make keys to derive and cache.
    cognate_sigv4::check_time(&info, now).map_err(Denial::Signature)?;
    let (key, authority, derived) = signer_of(state, &info).map_err(|unknown| match unknown {
        UnknownSigner::Unrecognized => Denial::UnrecognizedClient,
        UnknownSigner::Expired => Denial::ExpiredToken,
    })?;
    let payload_hash = match &original.payload {
        Payload::Body(bytes) => {
            cognate_sigv4::verify_with_signing_key(&request, &info, &key, now)
                .map_err(Denial::Signature)?;
            cognate_sigv4::payload_hash(bytes)
        }
        Payload::Unseen { has_body } => cognate_sigv4::verify_detached_payload(
            &request,
            &info,
            &key,
            now,
            cognate_sigv4::DetachedPayload::Unseen {
                has_body: *has_body,
            },
        )
        .map_err(Denial::Signature)?,
        Payload::Hash(hash) => cognate_sigv4::verify_detached_payload(
            &request,
            &info,
            &key,
            now,
            cognate_sigv4::DetachedPayload::Hash(hash),
        )
        .map_err(Denial::Signature)?,
    };

    let caller = Caller {
        account: config.account.clone(),
        region: info.region,
        authority,
        origin: Some(original.origin.clone()),
    };
    // Methods are case-sensitive: `get` is not `GET` to the upstream, so
    // it is not decided as `GET` (API Gateway knows no such route either).
    if !original.method.bytes().all(|b| b.is_ascii_uppercase()) || original.method.is_empty() {
        return Err(Denial::MissingAuthenticationToken);
    }
    let resource = execute_api_arn(
        &api.region,
        &config.account,
        &api.id,
        &api.stage,
        &original.method,
        resource_path,
    );
    let decision = cognate
        .decide_invoke(&caller, &resource)
        .await
        .map_err(|e| Denial::Internal(e.to_string()))?;
    if let Some(message) = decision.denial {
        return Err(Denial::AccessDenied {
            message,
            resource,
            matched_statements: decision.matched_statements,
        });
    }
    let identity = || {
        Arc::new(IdentityHeaders::of(InvokeIdentity::of(
            &caller,
            &info.access_key_id,
        )))
    };
    // A session's are the same for all its requests: made once.
    let identity = match derived {
        Some(derived) => Arc::clone(derived.identity_headers.get_or_init(identity)),
        None => identity(),
    };
    Ok(Allowed {
        identity,
        payload_hash,
        resource,
        matched_statements: decision.matched_statements,
        source_ip: original.origin.source_ip,
    })
}
