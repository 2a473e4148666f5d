//! Cognito Identity over AWS JSON 1.1. Each operation is one type: its
//! input as the model shapes it, decoded once from the body (`decode`),
//! and its handler, which checks the model's constraints, calls the
//! domain with the caller (the domain authorizes what it acts on) and
//! encodes the answer. No other code reads the body.

mod answers;
mod decode;
mod developer;
mod identities;
mod pools;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::call::Context;
use crate::operation::Operation;
use crate::wire_error::{ApiError, Protocol};

pub use decode::decode;

/// One Cognito Identity operation.
pub(crate) trait JsonOperation: DeserializeOwned + Default {
    /// Checks the input against the model and performs the operation for
    /// `cx.caller`.
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError>;
}

/// Decodes `body` as `operation`'s input and performs it.
pub async fn call(
    cx: &Context<'_>,
    operation: Operation,
    body: &[u8],
) -> Result<Response, ApiError> {
    use Operation as O;
    match operation {
        O::CreateIdentityPool => run::<pools::CreateIdentityPoolInput>(cx, body).await,
        O::DescribeIdentityPool => run::<pools::DescribeIdentityPoolInput>(cx, body).await,
        O::UpdateIdentityPool => run::<pools::UpdateIdentityPoolInput>(cx, body).await,
        O::DeleteIdentityPool => run::<pools::DeleteIdentityPoolInput>(cx, body).await,
        O::ListIdentityPools => run::<pools::ListIdentityPoolsInput>(cx, body).await,
        O::SetIdentityPoolRoles => run::<pools::SetIdentityPoolRolesInput>(cx, body).await,
        O::GetIdentityPoolRoles => run::<pools::GetIdentityPoolRolesInput>(cx, body).await,
        O::SetPrincipalTagAttributeMap => {
            run::<pools::SetPrincipalTagAttributeMapInput>(cx, body).await
        }
        O::GetPrincipalTagAttributeMap => {
            run::<pools::GetPrincipalTagAttributeMapInput>(cx, body).await
        }
        O::TagResource => run::<pools::TagResourceInput>(cx, body).await,
        O::UntagResource => run::<pools::UntagResourceInput>(cx, body).await,
        O::ListTagsForResource => run::<pools::ListTagsForResourceInput>(cx, body).await,
        O::GetId => run::<identities::GetIdInput>(cx, body).await,
        O::GetOpenIdToken => run::<identities::GetOpenIdTokenInput>(cx, body).await,
        O::GetCredentialsForIdentity => {
            run::<identities::GetCredentialsForIdentityInput>(cx, body).await
        }
        O::UnlinkIdentity => run::<identities::UnlinkIdentityInput>(cx, body).await,
        O::ListIdentities => run::<identities::ListIdentitiesInput>(cx, body).await,
        O::DescribeIdentity => run::<identities::DescribeIdentityInput>(cx, body).await,
        O::DeleteIdentities => run::<identities::DeleteIdentitiesInput>(cx, body).await,
        O::GetOpenIdTokenForDeveloperIdentity => {
            run::<developer::GetOpenIdTokenForDeveloperIdentityInput>(cx, body).await
        }
        O::LookupDeveloperIdentity => {
            run::<developer::LookupDeveloperIdentityInput>(cx, body).await
        }
        O::MergeDeveloperIdentities => {
            run::<developer::MergeDeveloperIdentitiesInput>(cx, body).await
        }
        O::UnlinkDeveloperIdentity => {
            run::<developer::UnlinkDeveloperIdentityInput>(cx, body).await
        }
        // STS and IAM arrive as Query input: never here.
        _ => Err(ApiError::internal()),
    }
}

async fn run<T: JsonOperation>(cx: &Context<'_>, body: &[u8]) -> Result<Response, ApiError> {
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

/// A domain error as a JSON-protocol error.
pub fn domain(error: cognate_core::Error) -> ApiError {
    if let cognate_core::Error::Internal(detail) = &error {
        tracing::error!(%detail, "internal error");
    }
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
