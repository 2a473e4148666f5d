//! Serving client connections, with the bounds a server facing the
//! internet needs, so that slow, idle or greedy clients can neither hold
//! connections forever nor use up the process's file descriptors:
//!
//! - a client must send each request's headers within a time limit,
//!   counted from when the connection is ready for a request (so an idle
//!   keep-alive connection is closed too);
//! - a response the client does not read within a time limit ends the
//!   connection (pipelined requests that are never read otherwise hold it
//!   forever);
//! - only so many connections are served at once, and fewer per client
//!   address (trusted proxies excepted); beyond the total, new connections
//!   wait in the listen backlog until a slot frees, and a client over its
//!   own share is hung up on;
//! - shutting down finishes the requests in flight, but waits for them a
//!   bounded time.
//!
//! (The body's own time limit is the handler's: `AppState::body_read_timeout`.)

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::client_address::{TrustedProxies, limit_key};

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
    /// Seconds a response may wait for the client to read it.
    pub write_timeout_secs: u64,
    /// Client connections served at once; `None`: three quarters of the
    /// process's open-file limit, at most 16384.
    pub max_connections: Option<usize>,
    /// Connections from one client address (an IPv6 client's /64) at once;
    /// trusted proxies are not limited. `None`: an eighth of
    /// `max_connections`, at least 8.
    pub max_connections_per_address: Option<usize>,
    /// Seconds shutting down waits for requests in flight.
    pub shutdown_grace_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            write_timeout_secs: 30,
            max_connections: None,
            max_connections_per_address: None,
            shutdown_grace_secs: 10,
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

fn secs(s: u64) -> Duration {
    Duration::from_secs(s.max(1))
}

impl HttpConfig {
    pub fn header_read_timeout(&self) -> Duration {
        secs(self.header_read_timeout_secs)
    }

    pub fn body_read_timeout(&self) -> Duration {
        secs(self.body_read_timeout_secs)
    }

    pub fn write_timeout(&self) -> Duration {
        secs(self.write_timeout_secs)
    }

    pub fn connection_limit(&self) -> usize {
        self.max_connections
            .unwrap_or_else(default_max_connections)
            .clamp(1, MAX_CONNECTIONS)
    }

    pub fn per_address_limit(&self) -> usize {
        self.max_connections_per_address
            .unwrap_or_else(|| (self.connection_limit() / 8).max(8))
            .max(1)
    }
}

/// The answer to a connection over its address's share, written before
/// the request is read.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\nretry-after: 1\r\n\r\n";

/// Open connections per client address.
struct PerAddress {
    limit: usize,
    trusted: TrustedProxies,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; uncounted when dropped.
struct Counted {
    per_address: Arc<PerAddress>,
    key: Option<IpAddr>,
}

impl PerAddress {
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Counted> {
        if self.trusted.trusts(peer) {
            return Some(Counted {
                per_address: self.clone(),
                key: None,
            });
        }
        let key = limit_key(peer);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Counted {
            per_address: self.clone(),
            key: Some(key),
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut open = self
            .per_address
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` fires, then finishes the
/// requests in flight (for at most the grace period) and returns once
/// every connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &HttpConfig,
    trusted_proxies: &TrustedProxies,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(config.connection_limit()));
    let per_address = Arc::new(PerAddress {
        limit: config.per_address_limit(),
        trusted: trusted_proxies.clone(),
        open: Mutex::new(HashMap::new()),
    });
    let header_read_timeout = config.header_read_timeout();
    let write_timeout = config.write_timeout();
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let next = async {
            let slot = slots.clone().acquire_owned().await;
            (slot, listener.accept().await)
        };
        let (slot, accepted) = tokio::select! {
            () = &mut shutdown => break,
            // Finished connections are reaped as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            next = next => next,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, not spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over its share: told so and hung up on at once (a 503, which
        // the SDKs retry).
        let Some(counted) = per_address.admit(peer.ip()) else {
            let _ = stream.try_write(TOO_MANY_CONNECTIONS);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
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
            let io = TokioIo::new(WriteDeadline::new(stream, write_timeout));
            let connection = builder.serve_connection(io, service);
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
            drop(counted);
            drop(slot);
        });
    }
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(secs(config.shutdown_grace_secs), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still open after the shutdown grace period: closed"
        );
        connections.shutdown().await;
    }
}

/// A stream whose writes fail with `TimedOut` once one has waited longer
/// than `limit` for the client to take bytes.
struct WriteDeadline {
    stream: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        WriteDeadline {
            stream,
            limit,
            stalled: None,
        }
    }

    /// After a write could not proceed: whether it has waited too long.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client did not read the response in time",
        ))
    }

    fn on_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.check_stall(cx).map(Err),
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.on_write(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.on_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.on_write(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.on_write(cx, polled)
    }
}
