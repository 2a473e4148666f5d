//! The original request a forward-auth call asks about, as its caller
//! describes it: a proxy in its forwarding headers (or, for Envoy, in the
//! path after `/authz/forward` and the request itself), middleware in a
//! JSON document.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use cognate_core::access::Origin;
use serde::Deserialize;

use super::answer::Denial;
use crate::client_address::TrustedProxies;

/// What the verifier has of the body.
pub(crate) enum Payload {
    /// The body itself (Envoy `with_request_body`, Traefik `forwardBody`).
    Body(Bytes),
    /// Nothing but whether there was one (nginx, Caddy).
    Unseen { has_body: bool },
    /// Its SHA-256, from middleware that holds it.
    Hash(String),
}

pub(crate) struct Original {
    pub method: String,
    /// Still percent-encoded, as the client sent it.
    pub path: String,
    pub query: String,
    pub host: String,
    /// The headers the client sent, `host` and `content-length` as it sent
    /// them.
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
    pub origin: Origin,
}

/// Where the path of a proxy's request says the original one was (Envoy
/// appends it to a prefix).
const FORWARD_PATH: &str = "/authz/forward";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The last of a comma-separated forwarding header: the one the nearest
/// proxy wrote.
fn last(value: &str) -> &str {
    value.rsplit(',').next().unwrap_or(value).trim()
}

impl Original {
    /// The request a reverse proxy asks about. `proxies` are the addresses
    /// believed about the client's address and protocol.
    pub fn from_proxy(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
        peer: SocketAddr,
        proxies: &TrustedProxies,
    ) -> Result<Original, Denial> {
        let method = header(headers, "x-forwarded-method")
            .or_else(|| header(headers, "x-original-method"))
            .map(|m| last(m).to_string())
            .unwrap_or_else(|| method.as_str().to_string());
        let target = match header(headers, "x-forwarded-uri")
            .or_else(|| header(headers, "x-original-uri"))
        {
            Some(target) => target.to_string(),
            None => {
                let path = uri.path().strip_prefix(FORWARD_PATH).unwrap_or_default();
                if path.is_empty() {
                    return Err(Denial::BadForwardRequest(
                        "The forward-auth request does not say which request it asks about: \
                         send X-Forwarded-Method and X-Forwarded-Uri, or append the original \
                         path to /authz/forward."
                            .into(),
                    ));
                }
                match uri.query() {
                    Some(query) => format!("{path}?{query}"),
                    None => path.to_string(),
                }
            }
        };
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_string(), query.to_string()),
            None => (target, String::new()),
        };
        let host = header(headers, "x-forwarded-host")
            .map(last)
            .or_else(|| header(headers, "host"))
            .unwrap_or_default()
            .to_string();
        // The proxy's own request has no body, or the original's; the
        // original's length and encoding are forwarded apart when not.
        let forwarded_length = header(headers, "x-forwarded-content-length");
        let length = forwarded_length.or_else(|| header(headers, "content-length"));
        let chunked = header(headers, "x-forwarded-transfer-encoding")
            .or_else(|| header(headers, "transfer-encoding"))
            .is_some_and(|te| !te.trim().is_empty());
        let has_body = chunked || length.is_some_and(|n| n.trim() != "0" && !n.trim().is_empty());
        let mut original_headers = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            match name.as_str() {
                "host" => continue,
                "content-length" if forwarded_length.is_some() => continue,
                _ => original_headers.push((name.as_str().to_string(), value.to_string())),
            }
        }
        original_headers.push(("host".into(), host.clone()));
        if let Some(length) = forwarded_length.filter(|n| !n.trim().is_empty()) {
            original_headers.push(("content-length".into(), length.trim().to_string()));
        }
        let payload = if body.is_empty() {
            Payload::Unseen { has_body }
        } else {
            Payload::Body(body)
        };
        Ok(Original {
            method,
            path,
            query,
            host,
            headers: original_headers,
            payload,
            origin: Origin {
                source_ip: proxies.client_address(peer.ip(), headers),
                secure_transport: proxies.secure_transport(peer.ip(), headers),
            },
        })
    }
}

/// `POST /authz/decide`'s question: the request as middleware saw it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DecideRequest {
    method: String,
    /// Percent-encoded, as the client sent it.
    path: String,
    #[serde(default)]
    query: String,
    /// Header name to value, or to every value of a repeated header.
    headers: std::collections::BTreeMap<String, HeaderValues>,
    /// The body's SHA-256 (hex), when the middleware has the body.
    #[serde(default)]
    body_sha256: Option<String>,
    /// Without `bodySha256`: whether the request had a body.
    #[serde(default)]
    has_body: bool,
    /// The client's address, when the middleware knows it.
    #[serde(default)]
    source_ip: Option<IpAddr>,
    #[serde(default)]
    secure_transport: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

impl DecideRequest {
    /// The original request; `peer` is the middleware's address, the
    /// client's when it does not name one.
    pub fn into_original(self, peer: SocketAddr) -> Original {
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, values) in self.headers {
            let name = name.to_ascii_lowercase();
            match values {
                HeaderValues::One(value) => headers.push((name, value)),
                HeaderValues::Many(values) => {
                    headers.extend(values.into_iter().map(|v| (name.clone(), v)));
                }
            }
        }
        let host = headers
            .iter()
            .find(|(name, _)| name == "host")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let payload = match self.body_sha256 {
            Some(hash) => Payload::Hash(hash),
            None => Payload::Unseen {
                has_body: self.has_body,
            },
        };
        Original {
            method: self.method,
            path: self.path,
            query: self.query,
            host,
            headers,
            payload,
            origin: Origin {
                source_ip: self.source_ip.unwrap_or(peer.ip()),
                secure_transport: self.secure_transport,
            },
        }
    }
}
