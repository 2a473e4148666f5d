//! Cognito Identity over AWS JSON 1.1. Each operation is one type: its
//! input as the model shapes it, decoded once from the body (`decode`),
//! and its handler, which checks the model's constraints, calls the
//! domain with the caller (the domain authorizes what it acts on) and
//! encodes the answer. No other code reads the body.

mod answers;
mod decode;
pub(crate) mod developer;
pub(crate) mod identities;
pub(crate) mod pools;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::call::Context;
use crate::wire_error::{ApiError, Protocol};

pub use decode::decode;
pub use pools::{checked_pool_settings, checked_role_settings};

/// One Cognito Identity operation.
pub(crate) trait JsonOperation: DeserializeOwned + Default {
    /// Checks the input against the model and performs the operation for
    /// `cx.caller`.
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError>;
}

/// Decodes `body` as `T` and performs it.
pub(crate) async fn run<T: JsonOperation>(
    cx: &Context<'_>,
    body: &[u8],
) -> Result<Response, ApiError> {
    decode::<T>(body)?.call(cx).await
}

pub fn json_response(body: Value) -> Response {
    text_response(body.to_string())
}

fn text_response(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

/// A domain error as a JSON-protocol error (a server fault is logged
/// with its request where it is answered, `app::api`).
pub fn domain(error: cognate_core::Error) -> ApiError {
    ApiError::from_domain(&error, Protocol::Json)
}

/// Epoch seconds as a JSON number, the way the service sends timestamps.
pub fn epoch(secs: i64) -> Value {
    Value::from(epoch_number(secs))
}

/// The number `epoch` sends, for answers serialised from types.
pub fn epoch_number(secs: i64) -> f64 {
    secs as f64
}
