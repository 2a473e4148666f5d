//! The router: one `POST /` (and `GET /` for Query) that parses the request
//! into an operation, authenticates it, dispatches it and renders the
//! result; plus health, metrics and the OpenID discovery documents.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_LENGTH, CONTENT_TYPE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cognate_core::Cognate;
use serde_json::Value;

use crate::auth::{self, AdminKey, AdminSigningKeys, Principal};
use crate::client_address::TrustedProxies;
use crate::cognito::identities::{FlowInput, decode_flow_input};
use crate::limits::Limiter;
use crate::metrics::{Metrics, Outcome};
use crate::operation::{Operation, Service};
use crate::wire_error::{ApiError, Protocol};
use crate::{cognito, query};

/// Header names as constants: a name given as text is parsed on every use.
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
pub const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// How long a client may take to send its request body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct AppState {
    pub cognate: Arc<Cognate>,
    pub admin: AdminKey,
    pub admin_signing_keys: AdminSigningKeys,
    pub metrics: Metrics,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    pub limiter: Limiter,
    /// Proxies whose `X-Forwarded-For` names the client the limits count.
    pub trusted_proxies: TrustedProxies,
}

/// The parsed input of a call.
pub enum Input {
    Json(Value),
    /// An identity operation's members (`cognito::takes_flow_input`),
    /// when they decode straight from the body. Anything else (a member of
    /// the wrong type, a repeated member, nesting past the limit) takes the
    /// `Json` path, which answers it as before.
    Flow(Box<FlowInput>),
    Query(query::Params),
}

/// A request the dispatcher understood.
pub struct Call {
    pub operation: Operation,
    pub protocol: Protocol,
    pub input: Input,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(api).post(api).options(preflight))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::openid::routes())
        .with_state(state)
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.cognate.store().get_setting("health-probe").await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn preflight() -> Response {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "content-type, x-amz-target, x-amz-date, x-amz-user-agent, x-amz-security-token, x-amz-content-sha256, authorization, amz-sdk-invocation-id, amz-sdk-request",
        ),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    response
}

/// A request id in AWS's UUID shape: 64 random bits drawn once per
/// process, then a counter. Unique, not secret, so it needs no call to the
/// system's random source per request.
fn new_request_id() -> String {
    static PROCESS: std::sync::LazyLock<u64> =
        std::sync::LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    uuid::Uuid::from_u64_pair(*PROCESS, n).to_string()
}

/// The protocol the request seems to speak, before its body is read, so
/// even an oversized body is refused in the right shape.
fn protocol_hint(headers: &HeaderMap) -> Protocol {
    if headers.contains_key(X_AMZ_TARGET) {
        Protocol::Json
    } else {
        Protocol::Query(Service::Sts)
    }
}

async fn api(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    // Taken apart rather than extracted piece by piece: the `HeaderMap`
    // extractor clones every header.
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let started = Instant::now();
    let request_id = new_request_id();
    let hint = protocol_hint(&headers);
    let too_large = || {
        ApiError::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body exceeds the limit of {} bytes.",
                state.max_body_bytes
            ),
        )
    };
    // A declared length over the limit is refused before any byte is read.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        state.metrics.record_unparsed();
        return finish(too_large().render(hint, &request_id));
    }
    // A client that stops sending must not hold the connection forever.
    let body = match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, state.max_body_bytes)).await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            state.metrics.record_unparsed();
            return finish(too_large().render(hint, &request_id));
        }
        Err(_) => {
            state.metrics.record_unparsed();
            return finish(
                ApiError::new(
                    "RequestTimeoutException",
                    StatusCode::REQUEST_TIMEOUT,
                    "The request body was not received in time.",
                )
                .render(hint, &request_id),
            );
        }
    };
    let call = match parse_call(&method, &uri, &headers, &body) {
        Ok(call) => call,
        Err((protocol, error)) => {
            state.metrics.record_unparsed();
            return finish(error.render(protocol, &request_id));
        }
    };
    let protocol = call.protocol;
    let operation = call.operation;
    if let Err(error) = check_limits(&state, &call, &headers, peer) {
        state
            .metrics
            .record(operation, Outcome::ClientError, started.elapsed());
        let mut response = finish(error.render(protocol, &request_id));
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(X_AMZN_REQUEST_ID, v);
        }
        return response;
    }
    let result = match auth::authenticate(&state, &call, &method, &uri, &headers, &body) {
        Ok(principal) => match auth::authorize(&state, &call, &principal).await {
            Ok(()) => dispatch(&state, call, principal, &request_id).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let response = match result {
        Ok(response) => {
            state
                .metrics
                .record(operation, Outcome::Success, started.elapsed());
            response
        }
        Err(error) => {
            let outcome = if error.is_server_fault() {
                Outcome::ServerError
            } else {
                Outcome::ClientError
            };
            state.metrics.record(operation, outcome, started.elapsed());
            error.render(protocol, &request_id)
        }
    };
    let mut response = finish(response);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_AMZN_REQUEST_ID, v);
    }
    response
}

/// Abuse limits of unsigned calls, by source address and, for new guests,
/// by pool.
fn check_limits(
    state: &AppState,
    call: &Call,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    if !call.operation.is_public() {
        return Ok(());
    }
    let address = state.trusted_proxies.client_address(peer.ip(), headers);
    let throttled = || {
        ApiError::from_domain(
            &cognate_core::Error::TooManyRequests("Rate exceeded".into()),
            call.protocol,
        )
    };
    if !state.limiter.allow_public(address) {
        return Err(throttled());
    }
    if call.operation == Operation::GetId
        && let Input::Flow(input) = &call.input
        && !input.has_logins()
        && let Some(pool) = input.pool_id()
        && !state.limiter.allow_guest(address, pool)
    {
        return Err(throttled());
    }
    Ok(())
}

/// Headers every API response carries (browser SDKs call directly).
fn finish(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date"),
    );
    response
}

fn parse_call(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Call, (Protocol, ApiError)> {
    if let Some(target) = headers.get(X_AMZ_TARGET) {
        return parse_json_call(target, headers, body).map_err(|e| (Protocol::Json, e));
    }
    query::parse_call(method, uri, headers, body)
}

fn parse_json_call(
    target: &HeaderValue,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Call, ApiError> {
    let target = target.to_str().unwrap_or("");
    let operation = Operation::from_json_target(target).ok_or_else(|| {
        ApiError::new(
            "UnknownOperationException",
            StatusCode::BAD_REQUEST,
            format!(
                "Unknown operation: '{target}'. Expected AWSCognitoIdentityService.<Operation>."
            ),
        )
    })?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(
        media_type,
        "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" | ""
    ) {
        return Err(ApiError::new(
            "SerializationException",
            StatusCode::BAD_REQUEST,
            format!(
                "Unsupported content type '{media_type}'; expected application/x-amz-json-1.1."
            ),
        ));
    }
    let empty = body.iter().all(u8::is_ascii_whitespace);
    // An object: serde would also fill a struct from an array.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let flow = if !cognito::takes_flow_input(operation) {
        None
    } else if empty {
        decode_flow_input(b"{}")
    } else if !object || nested_deeper_than(body, MAX_JSON_DEPTH) {
        None
    } else {
        decode_flow_input(body)
    };
    let input = if let Some(flow) = flow {
        Input::Flow(Box::new(flow))
    } else if empty {
        Input::Json(Value::Object(Default::default()))
    } else {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                "SerializationException",
                StatusCode::BAD_REQUEST,
                format!("The request body is not valid JSON: {e}"),
            )
        })?;
        if !value.is_object() {
            return Err(ApiError::new(
                "SerializationException",
                StatusCode::BAD_REQUEST,
                "The request body must be a JSON object.",
            ));
        }
        Input::Json(value)
    };
    Ok(Call {
        operation,
        protocol: Protocol::Json,
        input,
    })
}

/// serde_json refuses a `Value` nested deeper than this, and the typed
/// decoder skips unknown members without a limit: deeper bodies take the
/// `Value` path, so they are refused as before.
const MAX_JSON_DEPTH: usize = 127;

/// Whether arrays and objects nest more than `limit` deep (outside strings).
fn nested_deeper_than(body: &[u8], limit: usize) -> bool {
    // Counted without early exit first, which the compiler vectorises: most
    // bodies open far fewer brackets than the limit.
    let opened = body.iter().filter(|b| matches!(b, b'[' | b'{')).count();
    if opened <= limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

async fn dispatch(
    state: &AppState,
    call: Call,
    principal: Principal,
    request_id: &str,
) -> Result<Response, ApiError> {
    match call.input {
        Input::Json(input) => cognito::dispatch(state, call.operation, &principal, input).await,
        Input::Flow(input) => {
            cognito::identities::dispatch(state, call.operation, &principal, *input).await
        }
        Input::Query(params) => {
            query::dispatch(state, call.operation, &principal, &params, request_id).await
        }
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::nested_deeper_than;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        let deep = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert!(!nested_deeper_than(deep(127).as_bytes(), 127));
        assert!(nested_deeper_than(deep(128).as_bytes(), 127));
        let arrays = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(nested_deeper_than(arrays.as_bytes(), 127));
        // Brackets inside strings, escaped quotes included, do not count.
        let in_string = format!(r#"{{"IdentityId":"\"{}"}}"#, "[{".repeat(300));
        assert!(!nested_deeper_than(in_string.as_bytes(), 127));
        // Siblings are not depth.
        let wide = format!("[{}1]", "[],".repeat(300));
        assert!(!nested_deeper_than(wide.as_bytes(), 127));
    }
}

#[cfg(test)]
mod request_id_tests {
    #[test]
    fn request_ids_are_distinct_uuids() {
        let a = super::new_request_id();
        let b = super::new_request_id();
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
    }
}
