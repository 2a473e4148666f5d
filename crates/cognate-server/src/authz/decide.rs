//! `POST /authz/decide`: the forward-auth decision as JSON, for
//! application middleware without a proxy in front. It answers 200 with
//! the decision (`Allow` or `Deny`, the status and error a proxy would
//! have given, the principal and the statements that decided); 400 when
//! the question is not well formed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::answer::Denial;
use super::original::DecideRequest;
use crate::state::AppState;

pub(super) async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let request_id = crate::app::new_request_id();
    if !state.forward_auth.callers.trusts(peer.ip()) {
        return Denial::NotACaller.into_response(&request_id);
    }
    let question: DecideRequest = match serde_json::from_slice(&body) {
        Ok(question) => question,
        Err(e) => {
            let answer = json!({"message": format!("The decision request is not valid: {e}")});
            return (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response();
        }
    };
    let original = match question.into_original() {
        Ok(original) => original,
        Err(message) => {
            let answer =
                json!({"message": format!("The decision request is not valid: {message}")});
            return (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response();
        }
    };
    let answer = match super::check(&state, &original).await {
        Ok(allowed) => allowed.into_json(),
        Err(denial) if denial.is_internal() => return denial.into_response(&request_id),
        Err(denial) => denial.to_json(),
    };
    (StatusCode::OK, axum::Json(answer)).into_response()
}
