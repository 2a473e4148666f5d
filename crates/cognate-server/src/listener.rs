//! Serving client connections, with the bounds a server facing the
//! internet needs: a client must send each request's headers within a
//! time limit (an idle keep-alive connection too), and only so many
//! connections are served at once, so slow or idle clients can neither
//! hold connections forever nor use up the process's file descriptors.
//! Beyond the limit, new connections wait in the listen backlog until a
//! slot frees. (The body's own time limit is the handler's:
//! `AppState::body_read_timeout`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// The `[http]` settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client may take to send a request's headers, counted from
    /// when the connection is ready for a request (so also how long an
    /// idle keep-alive connection stays open).
    pub header_read_timeout_secs: u64,
    /// Seconds a client may take to send a request's body.
    pub body_read_timeout_secs: u64,
    /// Client connections served at once; `None`: three quarters of the
    /// process's open-file limit, at most 16384.
    pub max_connections: Option<usize>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            max_connections: None,
        }
    }
}

/// The most connections one process serves, whatever the setting says.
const MAX_CONNECTIONS: usize = 1 << 20;

/// The connection limit when none is configured: room for the database,
/// the key files and outgoing requests to identity providers is kept.
pub fn default_max_connections() -> usize {
    let open_files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(open_files / 4 * 3)
        .unwrap_or(usize::MAX)
        .clamp(16, 16_384)
}

impl HttpConfig {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs.max(1))
    }

    pub fn connection_limit(&self) -> usize {
        self.max_connections
            .unwrap_or_else(default_max_connections)
            .clamp(1, MAX_CONNECTIONS)
    }
}

/// Serves `app` on `listener` until `shutdown` fires, then finishes the
/// requests in flight and returns once every connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &HttpConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let limit = config.connection_limit();
    let slots = Arc::new(Semaphore::new(limit));
    let header_read_timeout = config.header_read_timeout();
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    app.clone().oneshot(request.map(Body::new))
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let closed = async {
                let _ = closing.wait_for(|closing| *closing).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = closed => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it closes.
    let _ = slots
        .acquire_many(u32::try_from(limit).unwrap_or(u32::MAX))
        .await;
}
