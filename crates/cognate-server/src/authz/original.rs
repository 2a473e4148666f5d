//! The original request a forward-auth call asks about, as its caller
//! describes it: a proxy in its forwarding headers (or, for Envoy, in the
//! path after `/authz/forward` and the request itself), middleware in a
//! JSON document.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
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

/// Borrowed from the proxy's request where it can be: a decision is made
/// for every request the proxy passes.
pub(crate) struct Original<'a> {
    pub method: Cow<'a, str>,
    /// Still percent-encoded, as the client sent it.
    pub path: Cow<'a, str>,
    pub query: Cow<'a, str>,
    pub host: Cow<'a, str>,
    /// The headers the client sent (names lower-case), `host` and
    /// `content-length` as it sent them.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub payload: Payload,
    pub origin: Origin,
}

/// Where the path of a proxy's request says the original one was (Envoy
/// appends it to a prefix).
const FORWARD_PATH: &str = "/authz/forward";

impl<'a> Original<'a> {
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
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        body: Bytes,
        peer: SocketAddr,
        proxies: &TrustedProxies,
    ) -> Result<Original<'a>, Denial> {
        // Ambiguity a client can cause is refused with a 403 (nginx makes
        // anything else from the auth request a 500).
        let ambiguous = |message: String| Denial::AmbiguousRequest(message);
        let forwarding = ForwardingHeaders::find(headers);
        let single = |name: &'static str| -> Result<Option<&'a str>, Denial> {
            let (first, count) = forwarding.get(name);
            if count > 1 {
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
        // Envoy with `allow_partial_message` sends the body's beginning
        // only: a signature over it says nothing of the rest.
        if single("x-envoy-auth-partial-body")?.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(Denial::BadForwardRequest(
                "The body was cut short (x-envoy-auth-partial-body); send it whole or not at all."
                    .into(),
            ));
        }
        let suffix = uri.path().strip_prefix(FORWARD_PATH).unwrap_or_default();
        let (method, target, host, envoy) = if !suffix.is_empty() {
            let target = match uri.query() {
                Some(query) => (suffix, query),
                None => (suffix, ""),
            };
            let host = single("host")?.unwrap_or_default();
            (method.as_str(), target, host, true)
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
            (
                m,
                target.split_once('?').unwrap_or((target, "")),
                host,
                false,
            )
        };
        // nginx routes on the request line's host, which may differ from
        // the Host header the client signed: they must name one host.
        if let Some(routed) = single("x-forwarded-server")?
            && routing_host(routed) != routing_host(host)
        {
            return Err(Denial::HostMismatch {
                routed: routed.to_string(),
                signed: host.to_string(),
            });
        }
        let (path, query) = target;
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
        let bodiless_method = matches!(method, "GET" | "HEAD" | "OPTIONS");
        let has_body = !body.is_empty()
            || chunked
            || match forwarded_length.map(|n| n.trim().parse::<u64>()) {
                Some(Ok(0)) => false,
                Some(_) => true,
                None => !bodiless_method,
            };
        let mut original_headers = Vec::with_capacity(headers.len() + 1);
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            match name.as_str() {
                "host" => continue,
                "content-length" if forwarded_length.is_some() || (envoy && body.is_empty()) => {
                    continue;
                }
                name => original_headers.push((Cow::Borrowed(name), Cow::Borrowed(value))),
            }
        }
        original_headers.push((Cow::Borrowed("host"), Cow::Borrowed(host)));
        if let Some(length) = forwarded_length {
            original_headers.push((
                Cow::Borrowed("content-length"),
                Cow::Borrowed(length.trim()),
            ));
        }
        let payload = if body.is_empty() {
            Payload::Unseen { has_body }
        } else {
            Payload::Body(body)
        };
        Ok(Original {
            method: Cow::Borrowed(method),
            path: Cow::Borrowed(path),
            query: Cow::Borrowed(query),
            host: Cow::Borrowed(host),
            headers: original_headers,
            payload,
            origin: Origin {
                source_ip: proxies.client_address(peer.ip(), headers),
                secure_transport: proxies.secure_transport(peer.ip(), headers),
            },
        })
    }
}

/// The headers that describe the original request, found in one pass over
/// the proxy's headers (a lookup by name hashes the name each time).
struct ForwardingHeaders<'a> {
    /// The first value of each of [`ForwardingHeaders::NAMES`], and how many
    /// were sent.
    found: [(Option<&'a HeaderValue>, usize); ForwardingHeaders::NAMES.len()],
}

impl<'a> ForwardingHeaders<'a> {
    const NAMES: [&'static str; 10] = [
        "host",
        "x-forwarded-method",
        "x-forwarded-uri",
        "x-original-method",
        "x-original-uri",
        "x-forwarded-host",
        "x-forwarded-server",
        "x-forwarded-content-length",
        "x-forwarded-transfer-encoding",
        "x-envoy-auth-partial-body",
    ];

    fn find(headers: &'a HeaderMap) -> ForwardingHeaders<'a> {
        let mut found = [(None, 0); Self::NAMES.len()];
        for (name, value) in headers {
            if let Some(i) = Self::NAMES.iter().position(|n| *n == name.as_str())
                && let Some((first, count)) = found.get_mut(i)
            {
                first.get_or_insert(value);
                *count += 1;
            }
        }
        ForwardingHeaders { found }
    }

    fn get(&self, name: &str) -> (Option<&'a HeaderValue>, usize) {
        debug_assert!(Self::NAMES.contains(&name), "{name} is not looked for");
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.found.get(i).copied())
            .unwrap_or((None, 0))
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
    pub fn into_original(self) -> Result<Original<'static>, String> {
        let mut headers: Vec<(Cow<'static, str>, Cow<'static, str>)> =
            Vec::with_capacity(self.headers.len());
        for (name, values) in self.headers {
            let name = name.to_ascii_lowercase();
            match values {
                HeaderValues::One(value) => headers.push((name.into(), value.into())),
                HeaderValues::Many(values) => {
                    headers.extend(values.into_iter().map(|v| (name.clone().into(), v.into())));
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
            method: self.method.into(),
            path: self.path.into(),
            query: self.query.into(),
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
