//! OpenID discovery and JWKS for the tokens cognate signs, under the
//! issuer URL (`/.well-known/jwks_uri`, as Cognito names it).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks_uri", get(jwks))
}

async fn discovery(State(state): State<Arc<AppState>>) -> Response {
    let issuer = state
        .cognate
        .config()
        .issuer
        .trim_end_matches('/')
        .to_string();
    let body = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks_uri"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        // RS512, ES256 or both (while a retired key of the other is published).
        "id_token_signing_alg_values_supported": state.cognate.signing_keys().algorithms(),
        "claims_supported": ["sub", "aud", "amr", "iss", "exp", "iat"],
    });
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "max-age=300"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    // Short caching: a rotated key must reach verifiers quickly.
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "max-age=300"),
        ],
        state.cognate.signing_keys().jwks().to_string(),
    )
        .into_response()
}
