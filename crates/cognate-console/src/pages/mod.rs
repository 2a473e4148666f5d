//! The console's pages. Every value reaches HTML through maud, which
//! escapes it; nothing is marked pre-escaped.

pub(crate) mod activity;
pub(crate) mod iam;
pub(crate) mod identities;
pub(crate) mod keys;
pub(crate) mod overview;
pub(crate) mod pools;
pub(crate) mod roles;
pub(crate) mod sign_in;
pub(crate) mod simulator;

use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use maud::{DOCTYPE, Markup, html};

use crate::guard::Signed;

const STYLESHEET: &[u8] = include_bytes!("../../assets/console.css");
const ICON: &[u8] = include_bytes!("../../assets/icon.svg");

/// Which part of the console a page belongs to (the navigation marks it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Pools,
    Keys,
    Overview,
    Activity,
    Iam,
    Simulator,
    None,
}

/// A whole page: its title, the navigation with sign-out (when signed in),
/// and `body`.
pub(crate) fn page(title: &str, signed: Option<&Signed>, section: Section, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cognate console" }
                link rel="stylesheet" href="/console/assets/console.css";
                link rel="icon" href="/console/assets/icon.svg" type="image/svg+xml";
            }
            body {
                header class="top" {
                    a class="brand" href="/console/" { "cognate console" }
                    @if let Some(Signed(session)) = signed {
                        nav aria-label="Console" {
                            a href="/console/overview" aria-current=[(section == Section::Overview).then_some("page")] { "Overview" }
                            a href="/console/" aria-current=[(section == Section::Pools).then_some("page")] { "Identity pools" }
                            a href="/console/activity" aria-current=[(section == Section::Activity).then_some("page")] { "Activity" }
                            a href="/console/keys" aria-current=[(section == Section::Keys).then_some("page")] { "Signing keys" }
                            a href="/console/iam/roles" aria-current=[(section == Section::Iam).then_some("page")] { "IAM" }
                            a href="/console/simulator" aria-current=[(section == Section::Simulator).then_some("page")] { "Policy simulator" }
                        }
                        form class="sign-out" method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    (body)
                }
            }
        }
    }
}

/// A page as an HTML response with `status`.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A refusal page (no session needed to see it).
pub(crate) fn refused(status: StatusCode, message: &str) -> Response {
    respond(
        status,
        page(
            "Refused",
            None,
            Section::None,
            html! {
                h1 { "Refused" }
                p class="error" role="alert" { (message) }
                p { a href="/console/" { "Back to the console" } }
            },
        ),
    )
}

/// A domain error as a page: AWS's error code and message, as the API
/// would answer; a server fault says no more than that (its cause goes to
/// the log).
pub(crate) fn error_message(error: &cognate_core::Error) -> String {
    error_message_as(error, cognate_server::wire_error::Protocol::Json)
}

/// `error_message` as `protocol` words it (IAM's pages: the query
/// protocol's codes, e.g. MalformedPolicyDocument).
pub(crate) fn error_message_as(
    error: &cognate_core::Error,
    protocol: cognate_server::wire_error::Protocol,
) -> String {
    let api = cognate_server::wire_error::ApiError::from_domain(error, protocol);
    if api.is_server_fault() {
        tracing::error!(error = %error, "console: the domain failed");
        format!("{}: the server failed; see its log.", api.code)
    } else {
        format!("{}: {}", api.code, api.message)
    }
}

pub(crate) fn domain_error(signed: &Signed, error: &cognate_core::Error) -> Response {
    let status = cognate_server::wire_error::ApiError::from_domain(
        error,
        cognate_server::wire_error::Protocol::Json,
    )
    .status;
    respond(
        status,
        page(
            "Error",
            Some(signed),
            Section::None,
            html! {
                h1 { "Error" }
                p class="error" role="alert" { (error_message(error)) }
                p { a href="/console/" { "Back to the identity pools" } }
            },
        ),
    )
}

pub(crate) async fn to_console() -> Redirect {
    Redirect::permanent("/console/")
}

pub(crate) async fn not_found(signed: Option<axum::Extension<Signed>>) -> Response {
    let signed = signed.map(|s| s.0);
    respond(
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            signed.as_ref(),
            Section::None,
            html! {
                h1 { "Not found" }
                p { "The console has no such page." }
                p { a href="/console/" { "Back to the identity pools" } }
            },
        ),
    )
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

pub(crate) async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

/// Epoch seconds as a UTC date and time.
pub(crate) fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// What `segment` and `query_value` leave as they are: letters, digits
/// and `-._~:` (ids read as ids in links).
const KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// A path segment, percent-encoded.
pub(crate) fn segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, KEPT).to_string()
}

/// A query value, percent-encoded.
pub(crate) fn query_value(value: &str) -> String {
    segment(value)
}
