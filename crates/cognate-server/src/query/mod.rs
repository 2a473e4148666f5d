//! STS and IAM over the AWS Query protocol: form parameters in, XML out.
//! Each operation is one type: its input read once from the parameters,
//! and its handler (`QueryOperation`).

pub(crate) mod iam;
pub(crate) mod sts;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::call::{Call, Context, Input};
pub use crate::form::Params;
use crate::operation::{Operation, QueryFraming, Service};
use crate::validate::Checker;
use crate::wire_error::{ApiError, Protocol};
use crate::xml::XmlWriter;

/// The query parameters that make a request presigned (as
/// `cognate_sigv4::parse` tells the forms apart).
const PRESIGN_PARAMETERS: [&str; 3] = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"];

fn query_error(code: &'static str, message: String) -> ApiError {
    ApiError::bad_query(code, message)
}

pub fn parse_call(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Call, (Protocol, ApiError)> {
    let hint = Protocol::Query(Service::Sts);
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(q) = uri.query() {
        pairs.extend(form_pairs(q.as_bytes()).map_err(|e| (hint, e))?);
    }
    // A presigned URL's signature covers its query string, not a body sent
    // with it: its parameters come from the query alone.
    let presigned = pairs
        .iter()
        .any(|(k, _)| PRESIGN_PARAMETERS.contains(&k.as_str()));
    if presigned && !body.iter().all(u8::is_ascii_whitespace) {
        return Err((
            hint,
            query_error(
                "InvalidParameterCombination",
                "A presigned request takes its parameters from its signed query string only; send it without a body.".into(),
            ),
        ));
    }
    if *method == Method::POST && !body.is_empty() {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
        {
            return Err((
                hint,
                query_error(
                    "InvalidRequest",
                    format!(
                        "Unsupported content type '{content_type}': send X-Amz-Target for the JSON protocol or a form-encoded Action for the Query protocol."
                    ),
                ),
            ));
        }
        pairs.extend(form_pairs(body).map_err(|e| (hint, e))?);
    }
    let params = Params(pairs);
    let action = params.get("Action").ok_or_else(|| {
        (
            hint,
            query_error(
                "MissingAction",
                "Could not find operation to perform: the Action parameter is missing.".into(),
            ),
        )
    })?;
    let version = params.get("Version").unwrap_or("");
    let operation = Operation::from_query_action(action).ok_or_else(|| {
        (
            hint,
            query_error(
                "InvalidAction",
                format!("Could not find operation {action} for version {version}"),
            ),
        )
    })?;
    let service = operation.service();
    let protocol = Protocol::Query(service);
    if service.query_version() != Some(version) {
        return Err((
            protocol,
            query_error(
                "InvalidAction",
                format!("Could not find operation {action} for version {version}"),
            ),
        ));
    }
    Ok(Call {
        operation,
        protocol,
        input: Input::Query(params),
    })
}

fn form_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).map_err(|_| {
        query_error(
            "MalformedQueryString",
            "The request parameters are not valid form encoding.".into(),
        )
    })
}

/// A successful Query response.
pub fn xml_response(operation: Operation, writer: XmlWriter, request_id: &str) -> Response {
    let body = writer.finish(
        operation.name(),
        operation.service().xml_namespace(),
        request_id,
    );
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    response
}

/// A domain error in the Query shape of `service`.
pub fn domain(service: Service) -> impl Fn(cognate_core::Error) -> ApiError {
    move |error| ApiError::from_domain(&error, Protocol::Query(service))
}

/// One STS or IAM operation: its input, read from the form parameters and
/// checked against the model, and its handler.
pub(crate) trait QueryOperation: Sized {
    /// Reads the input, noting each model violation in `c` (all are
    /// reported together, as one ValidationError). An `Err` stops at once,
    /// as IAM's duplicate tag keys do.
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError>;

    /// Performs the operation for `cx.caller` (the domain authorizes what
    /// it acts on), writing the members of its answer.
    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError>;
}

/// Reads `params` as `T`, the input of `operation`, and performs it.
pub(crate) async fn run<T: QueryOperation>(
    cx: &Context<'_>,
    operation: Operation,
    params: &Params,
) -> Result<Response, ApiError> {
    let mut c = Checker::new();
    let input = T::parse(params, &mut c)?;
    c.finish().map_err(domain(operation.service()))?;
    let mut w = XmlWriter::new();
    input.call(cx, &mut w).await?;
    Ok(xml_response(operation, w, cx.request_id))
}
