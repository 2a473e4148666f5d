//! Cognito Identity over AWS JSON 1.1: decode, validate, call the domain,
//! encode.

mod answers;
pub(crate) mod identities;
mod pools;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::AppState;
use crate::auth::Principal;
use crate::operation::Operation;
use crate::wire_error::{ApiError, Protocol};

pub type JsonResult = Result<Value, ApiError>;

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

/// Decodes the members of a request; a wrong JSON type is a
/// SerializationException naming the member.
pub fn decode<T: DeserializeOwned>(input: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(input).map_err(|e| {
        let member = e.path().to_string();
        ApiError::new(
            "SerializationException",
            StatusCode::BAD_REQUEST,
            format!(
                "The request does not match the operation's input shape at '{member}': {}",
                e.inner()
            ),
        )
    })
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

pub async fn dispatch(
    state: &AppState,
    operation: Operation,
    principal: &Principal,
    input: Value,
) -> Result<Response, ApiError> {
    use Operation::*;
    let document = match operation {
        CreateIdentityPool => pools::create(state, principal, input).await,
        DescribeIdentityPool => pools::describe(state, principal, input).await,
        UpdateIdentityPool => pools::update(state, principal, input).await,
        DeleteIdentityPool => pools::delete(state, principal, input).await,
        ListIdentityPools => pools::list(state, principal, input).await,
        SetIdentityPoolRoles => pools::set_roles(state, principal, input).await,
        GetIdentityPoolRoles => pools::get_roles(state, principal, input).await,
        SetPrincipalTagAttributeMap => pools::set_principal_tags(state, principal, input).await,
        GetPrincipalTagAttributeMap => pools::get_principal_tags(state, principal, input).await,
        TagResource => pools::tag(state, principal, input).await,
        UntagResource => pools::untag(state, principal, input).await,
        ListTagsForResource => pools::list_tags(state, principal, input).await,
        // Identity operations whose body did not decode straight into
        // `FlowInput` (`app::Input::Flow`): decoded here, so the answer
        // names the member that is wrong.
        operation if takes_flow_input(operation) => {
            return identities::dispatch(state, operation, principal, decode(input)?).await;
        }
        // STS and IAM arrive as Query input: never here.
        _ => Err(ApiError::internal()),
    };
    document.map(json_response)
}

/// The identity operations, whose input is one struct (`FlowInput`)
/// decoded straight from the body.
pub fn takes_flow_input(operation: Operation) -> bool {
    use Operation::*;
    matches!(
        operation,
        GetId
            | GetOpenIdToken
            | GetCredentialsForIdentity
            | UnlinkIdentity
            | ListIdentities
            | DescribeIdentity
            | DeleteIdentities
            | GetOpenIdTokenForDeveloperIdentity
            | LookupDeveloperIdentity
            | MergeDeveloperIdentities
            | UnlinkDeveloperIdentity
    )
}

/// Answer for operations this server does not implement yet.
pub fn not_implemented(operation: Operation) -> ApiError {
    ApiError::new(
        "NotImplementedException",
        StatusCode::NOT_IMPLEMENTED,
        format!("{operation} is not implemented by this server yet."),
    )
}
