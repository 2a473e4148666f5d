//! `/authz/forward` (and `/authz/forward/<original path>`): a reverse
//! proxy asks, before it proxies a request, whether it may. 200 with the
//! identity headers lets it pass; 4xx refuses, with API Gateway's answer.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;

use super::answer::Denial;
use super::original::Original;
use crate::state::AppState;

pub(super) async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = crate::app::new_request_id();
    match decide(&state, peer, request).await {
        Ok(allowed) => allowed.into_response(request_id),
        Err(denial) => denial.into_response(&request_id),
    }
}

async fn decide(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
) -> Result<super::Allowed, Denial> {
    let callers = &state.forward_auth.callers;
    if !callers.trusts(peer.ip()) {
        return Err(Denial::NotACaller);
    }
    let (parts, body) = request.into_parts();
    // Envoy and Traefik can send the original body along.
    let body = super::read_body(state, body)
        .await
        .map_err(|reason| Denial::BadForwardRequest(format!("The request body {reason}.")))?;
    let believed = state.trusted_proxies.with(callers);
    let original = Original::from_proxy(
        &parts.method,
        &parts.uri,
        &parts.headers,
        body,
        peer,
        &believed,
    )?;
    super::check(state, &original).await
}
