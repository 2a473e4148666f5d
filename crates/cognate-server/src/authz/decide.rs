//! `POST /authz/decide`: the forward-auth decision as JSON, for
//! application middleware without a proxy in front. It answers 200 with
//! the decision (`Allow` or `Deny`, the status and error a proxy would
//! have given, the principal and the statements that decided); 400 when
//! the question is not well formed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::answer::Denial;
use super::original::DecideRequest;
use crate::state::AppState;

pub(super) async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = crate::app::new_request_id();
    // The caller first: nobody else may make cognate read a body.
    if !state.forward_auth.callers.trusts(peer.ip()) {
        return Denial::NotACaller.into_response(&request_id);
    }
    let invalid = |message: String| {
        let answer = json!({"message": format!("The decision request is not valid: {message}")});
        (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response()
    };
    let body = match super::read_body(&state, request.into_body()).await {
        Ok(body) => body,
        Err(reason) => return invalid(format!("it {reason}.")),
    };
    let question: DecideRequest = match serde_json::from_slice(&body) {
        Ok(question) => question,
        Err(e) => return invalid(e.to_string()),
    };
    let original = match question.into_original() {
        Ok(original) => original,
        Err(message) => return invalid(message),
    };
    let answer = match super::check(&state, &original).await {
        Ok(allowed) => allowed.into_json(),
        Err(denial) if denial.is_internal() => return denial.into_response(&request_id),
        Err(denial) => denial.to_json(),
    };
    (StatusCode::OK, axum::Json(answer)).into_response()
}
