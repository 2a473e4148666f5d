//! The middleware every console request goes through.
//!
//! `headers` (outermost) sets the security headers on every response,
//! errors and redirects included. `guard` lets through without a session
//! only the sign-in page and the two assets; every other request needs a
//! session cookie that opens, and every request that may change something
//! (any method but GET and HEAD), the sign-in form's too, must come from
//! the console's own origin and, with a session, carry its CSRF token.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};

use crate::Shared;
use crate::session::{self, Session};

/// The Content-Security-Policy of every console response: nothing but the
/// console's own stylesheet and icon; no scripts at all (the console has
/// none), no framing, forms posting only to the console.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; \
     object-src 'none'";

/// Largest form the console accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The security headers, on every console response, and `Server-Timing`
/// with the time the server took (the session check and the page's
/// rendering included), which `cognate-bench console` reads.
pub(crate) async fn headers(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(timing) = HeaderValue::from_str(&format!("total;dur={took:.2}")) {
        response.headers_mut().insert("server-timing", timing);
    }
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cache-control", "no-store");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    response
}

/// What a request needs to know about where it came from.
pub(crate) struct Client {
    /// The client's address, as the trusted proxies name it.
    pub address: IpAddr,
    /// Whether it came over HTTPS (cognate serves plain HTTP; a trusted
    /// proxy says so in `X-Forwarded-Proto`).
    pub secure: bool,
}

pub(crate) fn client(console: &crate::Console, request_parts: &http::request::Parts) -> Client {
    let peer = request_parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let proxies = &console.app.trusted_proxies;
    Client {
        address: proxies.client_address(peer, &request_parts.headers),
        secure: proxies.secure_transport(peer, &request_parts.headers),
    }
}

/// The session `guard` let the request through with.
#[derive(Clone)]
pub(crate) struct Signed(pub Session);

fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/console"
            | "/console/sign-in"
            | "/console/assets/console.css"
            | "/console/assets/icon.svg"
    )
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

pub(crate) async fn guard(State(console): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let client = client(&console, &parts);
    let path = parts.uri.path().to_string();
    if changes_state(&parts.method) && !same_origin(&console, &parts) {
        tracing::warn!(client = %client.address, path = %path, "console: a cross-site request was refused");
        return crate::pages::refused(
            StatusCode::FORBIDDEN,
            "This request did not come from the console's own pages, so it was refused.",
        );
    }
    if is_public(&path) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    // The first cookie of the name that opens: a planted one must not
    // hide (and then clear) the admin's own.
    let mut opened = Err(None);
    for value in session::cookie_values(&parts.headers) {
        match console.open_session(value).await {
            Ok(session) => {
                opened = Ok(session);
                break;
            }
            Err(why) => opened = Err(Some(why)),
        }
    }
    let session = match opened {
        Ok(session) => session,
        Err(why) => {
            let had_cookie = why.is_some();
            if let Some(why) = why {
                tracing::debug!(?why, "console: a session cookie was refused");
            }
            let mut response = if changes_state(&parts.method) {
                crate::pages::refused(
                    StatusCode::FORBIDDEN,
                    "Your console session has ended. Sign in again.",
                )
            } else {
                Redirect::to(&sign_in_location(&parts.uri)).into_response()
            };
            if had_cookie
                && let Ok(v) = HeaderValue::from_str(&session::clear_cookie(client.secure))
            {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            return response;
        }
    };
    let request = if changes_state(&parts.method) {
        let bytes = match read_form(&console, body, MAX_FORM_BYTES).await {
            Ok(bytes) => bytes,
            Err(refused) => return refused,
        };
        let token = csrf_token(&parts.headers, &bytes);
        if !token.is_some_and(|t| session::csrf_matches(&session, &t)) {
            tracing::warn!(client = %client.address, path = %path, "console: a request without its session's CSRF token was refused");
            return crate::pages::refused(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from the console. Go back, reload the page and try again.",
            );
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };
    let mut request = request;
    request.extensions_mut().insert(Signed(session.clone()));
    // What a console page changes is audited as the console's doing.
    let mut response =
        cognate_core::audit::acting_as(cognate_core::audit::CONSOLE_CALLER, next.run(request))
            .await;
    // Keep the session alive while it is used (until its 8 hours), unless
    // the handler ended it.
    let ended = response.headers().contains_key(header::SET_COOKIE);
    if !ended
        && let Some(refreshed) = console.refreshed(&session)
        && let Ok(cookie) = console.set_cookie(&refreshed, client.secure)
        && let Ok(v) = HeaderValue::from_str(&cookie)
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `/console/sign-in`, with the page asked for to come back to.
fn sign_in_location(uri: &http::Uri) -> String {
    let wanted = uri.path_and_query().map_or("/console/", |p| p.as_str());
    let encoded = percent_encoding::utf8_percent_encode(wanted, percent_encoding::NON_ALPHANUMERIC);
    format!("/console/sign-in?next={encoded}")
}

/// The CSRF token a request carries: the `X-CSRF-Token` header, or the
/// form field `csrf`.
fn csrf_token(headers: &HeaderMap, body: &Bytes) -> Option<String> {
    if let Some(v) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value)
}

/// Whether a state-changing request comes from the console's own pages,
/// as the browser says: `Sec-Fetch-Site: same-origin` when it sends that
/// header, and an `Origin` naming this host (or, with `same-origin`,
/// `null`) when it sends that one. Requests with neither (not from a
/// browser, which cannot forge them into a victim's session) are judged
/// by their CSRF token alone.
fn same_origin(console: &crate::Console, parts: &http::request::Parts) -> bool {
    let headers = &parts.headers;
    let fetch_site = headers.get("sec-fetch-site");
    if fetch_site.is_some_and(|site| site.as_bytes() != b"same-origin") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some((_, authority)) = origin.split_once("://") else {
        // An opaque origin ("null"). The console's `Referrer-Policy:
        // no-referrer` makes browsers send it with the console's own
        // forms, and then they also say `Sec-Fetch-Site: same-origin`
        // (a header no page can set); without that, it is refused.
        return origin == "null" && fetch_site.is_some();
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // The host the browser asked for: the Host header, or, behind a
    // trusted proxy, the X-Forwarded-Host it wrote.
    let forwarded = peer
        .filter(|peer| console.app.trusted_proxies.trusts(*peer))
        .and_then(|_| headers.get("x-forwarded-host"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim);
    let host = forwarded.or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    host.is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

/// A form's body, within `limit` bytes and the server's body read
/// timeout (as every API body): a client sending slowly must not hold a
/// connection for ever.
pub(crate) async fn read_form(
    console: &crate::Shared,
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    match tokio::time::timeout(console.app.body_read_timeout, to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(crate::pages::refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is too large.",
        )),
        Err(_) => Err(crate::pages::refused(
            StatusCode::REQUEST_TIMEOUT,
            "The form took too long to arrive.",
        )),
    }
}
