//! Signing in with the admin access key, and signing out.

use axum::Extension;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use http::header::{HeaderValue, SET_COOKIE};
use maud::html;
use serde::Deserialize;

use super::{Section, page, respond};
use crate::Shared;
use crate::guard::{Signed, client};
use crate::session::{self, is_admin_key};

#[derive(Deserialize, Default)]
pub(crate) struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a console page, never elsewhere (an
/// open redirect would let a link sign someone in and send them away).
fn next_page(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if next.starts_with("/console/")
                && !next.contains("//")
                && !next.contains('\\')
                && !next.chars().any(char::is_control)
                && !next.to_ascii_lowercase().contains("%2e")
                && !next
                    .split(['/', '?', '#'])
                    .any(|segment| segment == "." || segment == "..") =>
        {
            next
        }
        _ => "/console/",
    }
}

fn form_page(status: StatusCode, next: &str, access_key_id: &str, error: Option<&str>) -> Response {
    respond(
        status,
        page(
            "Sign in",
            None,
            Section::None,
            html! {
                h1 { "Sign in" }
                p { "Sign in with the admin access key: the access key id and secret access key cognate was started with (" code { "COGNATE_ADMIN_ACCESS_KEY_ID" } " and " code { "COGNATE_ADMIN_SECRET_ACCESS_KEY" } ", or " code { "admin-credentials.json" } " in its data directory)." }
                @if let Some(error) = error {
                    p class="error" role="alert" id="sign-in-error" { (error) }
                }
                form method="post" action="/console/sign-in" class="stacked" {
                    input type="hidden" name="next" value=(next);
                    label for="access_key_id" { "Access key id" }
                    input id="access_key_id" name="access_key_id" type="text" required
                        autocomplete="username" autocapitalize="none" spellcheck="false"
                        value=(access_key_id) autofocus;
                    label for="secret_access_key" { "Secret access key" }
                    input id="secret_access_key" name="secret_access_key" type="password" required
                        autocomplete="current-password";
                    button type="submit" { "Sign in" }
                }
            },
        ),
    )
}

pub(crate) async fn form(Query(query): Query<Next>) -> Response {
    form_page(StatusCode::OK, next_page(query.next.as_deref()), "", None)
}

#[derive(Deserialize)]
pub(crate) struct Credentials {
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    next: Option<String>,
}

pub(crate) async fn submit(State(console): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let client = client(&console, &parts);
    let bytes = match crate::guard::read_form(&console, body, 16 * 1024).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    let Ok(form) = serde_urlencoded::from_bytes::<Credentials>(&bytes) else {
        return super::refused(StatusCode::BAD_REQUEST, "The sign-in form is malformed.");
    };
    let next = next_page(form.next.as_deref());
    // Counted before the key is looked at: a guesser is slowed whether the
    // guess is right or not.
    if !console.sign_in_limiter.allow(client.address) {
        tracing::warn!(client = %client.address, "console: sign-in attempts over the limit were refused");
        let mut response = form_page(
            StatusCode::TOO_MANY_REQUESTS,
            next,
            &form.access_key_id,
            Some("Too many sign-in attempts from your address. Wait a few seconds and try again."),
        );
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("12"));
        return response;
    }
    if !is_admin_key(
        &console.app.admin,
        &form.access_key_id,
        &form.secret_access_key,
    ) {
        // The key id may be logged (it is not secret); the secret never.
        tracing::warn!(client = %client.address, "console: a sign-in with a wrong access key id or secret was refused");
        return form_page(
            StatusCode::UNAUTHORIZED,
            next,
            &form.access_key_id,
            Some("The access key id or secret access key is not the admin key."),
        );
    }
    let session = match console.new_session() {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot make a session");
            return super::refused(StatusCode::INTERNAL_SERVER_ERROR, "The server failed.");
        }
    };
    let cookie = match console.set_cookie(&session, client.secure) {
        Ok(cookie) => cookie,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot seal a session");
            return super::refused(StatusCode::INTERNAL_SERVER_ERROR, "The server failed.");
        }
    };
    tracing::info!(client = %client.address, "console: signed in with the admin key");
    let mut response = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

pub(crate) async fn sign_out(
    State(console): State<Shared>,
    Extension(Signed(session)): Extension<Signed>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let client = client(&console, &parts);
    if let Err(e) = console.app.cognate.console().sign_out(&session.id).await {
        tracing::error!(error = %e, "console: cannot record a sign-out");
        return super::refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server could not sign you out; try again.",
        );
    }
    tracing::info!(client = %client.address, "console: signed out");
    let mut response = Redirect::to("/console/sign-in").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(client.secure)) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn only_console_pages_are_gone_back_to() {
        assert_eq!(next_page(Some("/console/keys")), "/console/keys");
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil",
            "/console/\\evil",
            "/other",
            "/console/\nx",
        ] {
            assert_eq!(next_page(Some(bad)), "/console/", "{bad}");
        }
        assert_eq!(next_page(None), "/console/");
    }
}
