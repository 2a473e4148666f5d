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

use cognate_core::access::Origin;

use crate::call::{Call, Context, Input};
use crate::metrics::Outcome;
use crate::operation::{Operation, Service};
use crate::state::AppState;
use crate::wire_error::{ApiError, Protocol};
use crate::{auth, handlers, query};

/// Header names as constants: a name given as text is parsed on every use.
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(api).post(api).options(preflight))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::openid::routes())
        .merge(crate::authz::routes())
        .merge(crate::reset::routes())
        .with_state(state)
}

/// Where a starting node puts its router once it can serve.
pub type ServingApp = Arc<std::sync::RwLock<Option<Router>>>;

/// What a node serves while it cannot reach its database yet: liveness,
/// "not ready", and for every call a retryable 503 in the protocol's shape;
/// once `serving` holds the real router, every request goes to it.
pub fn starting_router(serving: ServingApp) -> Router {
    Router::new().fallback(move |request: Request| {
        let serving = serving.read().ok().and_then(|app| app.clone());
        async move {
            match serving {
                Some(app) => match tower::ServiceExt::oneshot(app, request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                None => not_serving_yet(request),
            }
        }
    })
}

fn not_serving_yet(request: Request) -> Response {
    match request.uri().path() {
        "/healthz" => (StatusCode::OK, "ok\n").into_response(),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database cannot be reached yet\n",
        )
            .into_response(),
        _ => {
            let request_id = new_request_id();
            let protocol = protocol_hint(request.headers());
            finish(
                ApiError::starting().render(protocol, &request_id),
                &request_id,
            )
        }
    }
}

/// Liveness: the process answers. It reads nothing, so a database that
/// hangs does not make an orchestrator restart a node that would serve
/// again once the database does (that is `/readyz`'s to say).
async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// How long `/readyz` waits for the database (the design's bound).
const READINESS_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Readiness: the database answers the query every request begins with
/// (the configuration generation), within one second even while it hangs.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let probe = tokio::time::timeout(READINESS_BOUND, state.cognate.store().config_generation());
    match probe.await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database failed\n",
            )
                .into_response()
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within 1 s");
            let body = "not ready: the database did not answer within 1 s\n";
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    let audit = state.cognate.audit_trail().stats();
    if audit.enabled {
        use std::fmt::Write;
        text.push_str(
            "# HELP cognate_audit_events_total Audit events bound for the database, by fate.\n",
        );
        text.push_str("# TYPE cognate_audit_events_total counter\n");
        for (outcome, n) in [
            ("written", audit.written),
            ("dropped_queue_full", audit.dropped),
            ("dropped_write_failed", audit.failed),
        ] {
            let _ = writeln!(
                text,
                "cognate_audit_events_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        text.push_str("# HELP cognate_audit_queue_length Audit events waiting for the database.\n");
        text.push_str("# TYPE cognate_audit_queue_length gauge\n");
        let _ = writeln!(text, "cognate_audit_queue_length {}", audit.queued);
    }
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
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
pub(crate) fn new_request_id() -> String {
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
    let started = Instant::now();
    let request_id = new_request_id();
    let response = match serve_call(&state, peer, request, &request_id).await {
        Ok((operation, response)) => {
            state
                .metrics
                .record(operation, Outcome::Success, started.elapsed());
            response
        }
        Err(Refused {
            operation,
            protocol,
            error,
        }) => {
            match operation {
                Some(operation) => {
                    let outcome = if error.is_server_fault() {
                        Outcome::ServerError
                    } else {
                        Outcome::ClientError
                    };
                    state.metrics.record(operation, outcome, started.elapsed());
                }
                None => state.metrics.record_unparsed(),
            }
            if error.is_server_fault() {
                // The one line that ties a client's 5xx to its cause.
                let operation = operation.map(|o| o.to_string()).unwrap_or_default();
                let cause = error.cause.as_deref().unwrap_or(&error.message);
                tracing::error!(
                    request_id = %request_id,
                    operation = %operation,
                    status = error.status.as_u16(),
                    cause = %cause,
                    "request failed"
                );
            }
            error.render(protocol, &request_id)
        }
    };
    finish(response, &request_id)
}

/// A request answered with an error: the operation, if it was known, and
/// the protocol to answer in.
struct Refused {
    operation: Option<Operation>,
    protocol: Protocol,
    error: ApiError,
}

/// Reads, parses, limits, authenticates and dispatches one request.
async fn serve_call(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
    request_id: &str,
) -> Result<(Operation, Response), Refused> {
    // Taken apart rather than extracted piece by piece: the `HeaderMap`
    // extractor clones every header.
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let unparsed = |protocol, error| Refused {
        operation: None,
        protocol,
        error,
    };
    let hint = protocol_hint(&headers);
    let body = read_body(state, &headers, body)
        .await
        .map_err(|error| unparsed(hint, error))?;
    let call = parse_call(&method, &uri, &headers, body.clone())
        .map_err(|(protocol, error)| unparsed(protocol, error))?;
    let (operation, protocol) = (call.operation, call.protocol);
    let refused = |error| Refused {
        operation: Some(operation),
        protocol,
        error,
    };
    let client = state.trusted_proxies.client_address(peer.ip(), &headers);
    check_limits(state, &call, client).map_err(refused)?;
    let origin = Origin {
        source_ip: client,
        secure_transport: state.trusted_proxies.secure_transport(peer.ip(), &headers),
    };
    let parts = auth::RequestParts {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let caller = auth::authenticate(state, &call, &parts, origin).map_err(refused)?;
    let cx = Context {
        state,
        caller,
        client,
        request_id,
    };
    // The audit trail names who made the changes the call makes.
    let acting = cognate_core::audit::caller_label(&cx.caller);
    let response = cognate_core::audit::acting_as(acting, handlers::dispatch(&cx, call))
        .await
        .map_err(refused)?;
    Ok((operation, response))
}

/// A request's body, within the size and time limits every body has.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, ApiError> {
    // A declared length over the limit is refused before any byte is read.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err(ApiError::body_too_large(state.max_body_bytes));
    }
    // A client that stops sending must not hold the connection forever.
    let read = tokio::time::timeout(
        state.body_read_timeout,
        to_bytes(body, state.max_body_bytes),
    );
    match read.await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(ApiError::body_too_large(state.max_body_bytes)),
        Err(_) => Err(ApiError::body_timeout()),
    }
}

/// The abuse limit of unsigned calls by source address. (New guests are
/// limited too, by address and by pool, where GetId makes one:
/// `cognito::identities`.)
fn check_limits(state: &AppState, call: &Call, client: std::net::IpAddr) -> Result<(), ApiError> {
    if call.operation.is_public() && !state.limiter.allow_public(client) {
        return Err(ApiError::from_domain(
            &cognate_core::Error::TooManyRequests("Rate exceeded".into()),
            call.protocol,
        ));
    }
    Ok(())
}

/// Headers every API response carries: its request id, and what browser
/// SDKs, which call directly, need.
pub(crate) fn finish(mut response: Response, request_id: &str) -> Response {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_AMZN_REQUEST_ID, v);
    }
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
    body: axum::body::Bytes,
) -> Result<Call, (Protocol, ApiError)> {
    if let Some(target) = headers.get(X_AMZ_TARGET) {
        return parse_json_call(target, headers, body).map_err(|e| (Protocol::Json, e));
    }
    query::parse_call(method, uri, headers, &body)
}

/// A JSON 1.1 call: the operation its target names; the body stays as it
/// is until the operation's handler decodes it (`handlers::dispatch`).
fn parse_json_call(
    target: &HeaderValue,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Call, ApiError> {
    let target = target.to_str().unwrap_or("");
    let operation =
        Operation::from_json_target(target).ok_or_else(|| ApiError::unknown_operation(target))?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(
        media_type,
        "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" | ""
    ) {
        return Err(ApiError::serialization(format!(
            "Unsupported content type '{media_type}'; expected application/x-amz-json-1.1."
        )));
    }
    Ok(Call {
        operation,
        protocol: Protocol::Json,
        input: Input::Json(body),
    })
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
