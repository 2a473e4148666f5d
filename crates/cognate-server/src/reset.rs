//! `POST /admin/reset`: empties the deployment between tests (every pool,
//! identity and IAM record; the signing keys and settings stay), and
//! answers 200 with how many of each kind it removed.
//!
//! Refused with 404 `ResetNotEnabledException` unless the deployment
//! allows it (`[testing] allow_reset`, `--allow-reset`), before anything
//! is read. Otherwise the request must be signed with SigV4 for the
//! service `cognito-identity`, verified as every signed call is
//! (`auth::authenticate_signed`), and the domain lets only the admin key
//! (the account root) reset. Errors are the JSON 1.1 protocol's
//! (`{"__type", "message"}` and `x-amzn-ErrorType`), as the AWS clients
//! that sign the call already read them; a refused signer is a 403.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cognate_core::access::Origin;
use cognate_core::store::ResetCounts;
use serde_json::json;

use crate::auth::{Expected, RequestParts, authenticate_signed};
use crate::state::AppState;
use crate::wire_error::{ApiError, Protocol};

/// The SigV4 service a reset is signed for.
pub const SIGNING_SERVICE: &str = "cognito-identity";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/admin/reset", post(handle))
}

async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = crate::app::new_request_id();
    let response = match reset(&state, peer, request).await {
        Ok(removed) => {
            tracing::info!(
                request_id = %request_id,
                pools = removed.pools,
                identities = removed.identities,
                roles = removed.roles,
                "the deployment was reset"
            );
            (StatusCode::OK, axum::Json(answer(&removed))).into_response()
        }
        Err(error) => {
            if error.is_server_fault() {
                let cause = error.cause.as_deref().unwrap_or(&error.message);
                tracing::error!(request_id = %request_id, cause = %cause, "reset failed");
            }
            error.render(Protocol::Json, &request_id)
        }
    };
    crate::app::finish(response, &request_id)
}

async fn reset(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
) -> Result<ResetCounts, ApiError> {
    if !state.allow_reset {
        return Err(ApiError::reset_not_enabled());
    }
    let (parts, body) = request.into_parts();
    let body = crate::app::read_body(state, &parts.headers, body).await?;
    let origin = Origin {
        source_ip: state
            .trusted_proxies
            .client_address(peer.ip(), &parts.headers),
        secure_transport: state
            .trusted_proxies
            .secure_transport(peer.ip(), &parts.headers),
    };
    let request = RequestParts {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body: &body,
    };
    let expected = Expected {
        protocol: Protocol::Json,
        service: SIGNING_SERVICE,
        // The path says what is asked, and SigV4 always signs it.
        signed_header: None,
    };
    let caller = authenticate_signed(state, &request, &expected, origin).map_err(forbidden)?;
    state.cognate.reset(&caller).await.map_err(|e| {
        let error = ApiError::from_domain(&e, Protocol::Json);
        match e {
            cognate_core::Error::AccessDenied(_) => forbidden(error),
            _ => error,
        }
    })
}

/// A refusal of the caller is a 403 here (the JSON protocol says 400, as
/// AWS's JSON services do; this path is not one of theirs).
fn forbidden(mut error: ApiError) -> ApiError {
    if error.status == StatusCode::BAD_REQUEST {
        error.status = StatusCode::FORBIDDEN;
    }
    error
}

/// What was removed, by kind, in the API's own names.
fn answer(removed: &ResetCounts) -> serde_json::Value {
    json!({
        "removed": {
            "identityPools": removed.pools,
            "identities": removed.identities,
            "logins": removed.logins,
            "merges": removed.merges,
            "roles": removed.roles,
            "policies": removed.managed_policies,
            "rolePolicyAttachments": removed.role_policy_attachments,
            "openIdConnectProviders": removed.oidc_providers,
            "samlProviders": removed.saml_providers,
        }
    })
}
