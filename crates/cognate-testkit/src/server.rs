//! The HTTP plumbing shared by the fixtures: binding, serving, stopping, and
//! the failure modes an endpoint can be switched into.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// How an endpoint of a fixture answers. `Normal` serves the real document;
/// the others are for adversarial tests of the client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Serve the real document.
    #[default]
    Normal,
    /// Wait this long, then serve the real document.
    Slow(Duration),
    /// Answer with this HTTP status and a small JSON error body.
    Status(u16),
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Answer 200 with a syntactically valid JSON object of (at least) this
    /// many bytes.
    Huge(usize),
    /// Answer 302 with this `Location`.
    Redirect(String),
}

impl Behavior {
    /// Applies the behaviour; `normal` builds the real answer.
    pub(crate) async fn respond(&self, normal: impl FnOnce() -> Response) -> Response {
        match self {
            Behavior::Normal => normal(),
            Behavior::Slow(d) => {
                tokio::time::sleep(*d).await;
                normal()
            }
            Behavior::Status(code) => {
                let status =
                    StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"fixture_failure"}"#,
                )
                    .into_response()
            }
            Behavior::Malformed => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"keys\": [ this is not json <html>",
            )
                .into_response(),
            Behavior::Huge(n) => {
                let pad = "A".repeat(*n);
                let body = format!("{{\"keys\":[],\"padding\":\"{pad}\"}}");
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response()
            }
            Behavior::Redirect(location) => (
                StatusCode::FOUND,
                [(header::LOCATION, location.as_str())],
                "",
            )
                .into_response(),
        }
    }
}

/// A bound loopback listener whose router is served by a background task;
/// dropping it stops the server.
pub(crate) struct FixtureServer {
    base_url: String,
    task: JoinHandle<()>,
}

impl FixtureServer {
    /// Binds `127.0.0.1:0`; `make_router` gets the base URL
    /// (`http://127.0.0.1:PORT`) so documents can name it.
    #[allow(clippy::expect_used)] // a fixture that cannot bind cannot run the test
    pub(crate) async fn start(make_router: impl FnOnce(&str) -> Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fixture: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fixture: local_addr");
        let base_url = format!("http://127.0.0.1:{}", addr.port());
        let router = make_router(&base_url);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FixtureServer { base_url, task }
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Locks a std mutex, ignoring poisoning (a panicking test thread must not
/// take the fixture down with it for the other tests).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
