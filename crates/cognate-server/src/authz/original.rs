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

impl Original {
    /// The request a reverse proxy asks about. `proxies` are the addresses
    /// believed about the client's address and protocol.
    ///
    /// The caller says which request it is in one way only: Envoy by the
    /// path after `/authz/forward/` (the request is then the original, and
    /// no header it carries may say otherwise); the others by
    /// `X-Forwarded-Method` and `X-Forwarded-Uri`, or by nginx's
    /// `X-Original-Method` and `X-Original-URI`. Both families at once, or
    /// a comma in one of them, is refused: one of them would be the
    /// client's.
    pub fn from_proxy(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
        peer: SocketAddr,
        proxies: &TrustedProxies,
    ) -> Result<Original, Denial> {
        // Ambiguity a client can cause is refused with a 403 (nginx makes
        // anything else from the auth request a 500).
        let ambiguous = |message: String| Denial::AmbiguousRequest(message);
        let single = |name: &str| -> Result<Option<&str>, Denial> {
            let mut values = headers.get_all(name).iter();
            let first = values.next();
            if values.next().is_some() {
                return Err(ambiguous(format!("{name} is sent more than once.")));
            }
            let value = first
                .map(|v| {
                    v.to_str()
                        .map_err(|_| ambiguous(format!("{name} is not text.")))
                })
                .transpose()?;
            if value.is_some_and(|v| v.contains(',')) {
                return Err(ambiguous(format!("{name} holds more than one value.")));
            }
            Ok(value)
        };
        let suffix = uri.path().strip_prefix(FORWARD_PATH).unwrap_or_default();
        let (method, target, host, envoy) = if !suffix.is_empty() {
            let target = match uri.query() {
                Some(query) => format!("{suffix}?{query}"),
                None => suffix.to_string(),
            };
            let host = single("host")?.unwrap_or_default();
            (method.as_str().to_string(), target, host.to_string(), true)
        } else {
            let forwarded = (single("x-forwarded-method")?, single("x-forwarded-uri")?);
            let original = (single("x-original-method")?, single("x-original-uri")?);
            let (m, target) = match (forwarded, original) {
                ((Some(m), Some(u)), (None, None)) | ((None, None), (Some(m), Some(u))) => (m, u),
                ((None, None), (None, None)) => {
                    return Err(Denial::BadForwardRequest(
                        "The forward-auth request does not say which request it asks about: \
                         send X-Forwarded-Method and X-Forwarded-Uri, or append the original \
                         path to /authz/forward."
                            .into(),
                    ));
                }
                _ => {
                    return Err(ambiguous(
                        "Send the original request's method and URI once: X-Forwarded-Method \
                         and X-Forwarded-Uri, or X-Original-Method and X-Original-URI, not both \
                         and not one of a pair."
                            .into(),
                    ));
                }
            };
            let host = match single("x-forwarded-host")? {
                Some(host) => host,
                None => single("host")?.unwrap_or_default(),
            };
            (m.to_string(), target.to_string(), host.to_string(), false)
        };
        // nginx routes on the request line's host, which may differ from
        // the Host header the client signed: they must name one host.
        if let Some(routed) = single("x-forwarded-server")?
            && routing_host(routed) != routing_host(&host)
        {
            return Err(Denial::HostMismatch {
                routed: routed.to_string(),
                signed: host,
            });
        }
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_string(), query.to_string()),
            None => (target, String::new()),
        };
        // Whether the original has a body: the body itself (Envoy
        // `with_request_body`, Traefik `forwardBody`), or the length and
        // encoding the proxy reports. Without a report (HTTP/2, Caddy's
        // chunked requests, Envoy without the body) only the methods that
        // carry none are taken to have none.
        let forwarded_length = if envoy {
            None
        } else {
            single("x-forwarded-content-length")?.filter(|n| !n.trim().is_empty())
        };
        let chunked = !envoy
            && single("x-forwarded-transfer-encoding")?.is_some_and(|te| !te.trim().is_empty());
        let bodiless_method = matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
        let has_body = !body.is_empty()
            || chunked
            || match forwarded_length.map(|n| n.trim().parse::<u64>()) {
                Some(Ok(0)) => false,
                Some(_) => true,
                None => !bodiless_method,
            };
        let mut original_headers = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            match name.as_str() {
                "host" => continue,
                "content-length" if forwarded_length.is_some() || (envoy && body.is_empty()) => {
                    continue;
                }
                _ => original_headers.push((name.as_str().to_string(), value.to_string())),
            }
        }
        original_headers.push(("host".into(), host.clone()));
        if let Some(length) = forwarded_length {
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

/// A host as requests are routed on it: without case, port or final dot.
pub fn routing_host(host: &str) -> String {
    let host = host.trim();
    let without_port = match host.strip_prefix('[') {
        // `[::1]:8080`
        Some(v6) => v6.split_once(']').map_or(v6, |(address, _)| address),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
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
    has_body: Option<bool>,
    /// The client's address (`aws:SourceIp`): required, since the
    /// middleware's own address would satisfy conditions meant for clients.
    source_ip: IpAddr,
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
    /// The original request; refused when it does not say whether the
    /// request had a body.
    pub fn into_original(self) -> Result<Original, String> {
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
        let payload = match (self.body_sha256, self.has_body) {
            (Some(hash), _) => Payload::Hash(hash),
            (None, Some(has_body)) => Payload::Unseen { has_body },
            (None, None) => {
                return Err("Say whether the request had a body: bodySha256, or hasBody.".into());
            }
        };
        Ok(Original {
            method: self.method,
            path: self.path,
            query: self.query,
            host,
            headers,
            payload,
            origin: Origin {
                source_ip: self.source_ip,
                secure_transport: self.secure_transport,
            },
        })
    }
}
