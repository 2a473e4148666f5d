//! The keys cognate signs its OpenID tokens with: each key's id,
//! algorithm, when it was made and retired; rotating to a new one.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::html;
use serde::Deserialize;

use super::{Section, domain_error, page, respond, time};
use crate::Shared;
use crate::guard::Signed;

#[derive(Deserialize, Default)]
pub(crate) struct KeysQuery {
    rotated: Option<String>,
}

pub(crate) async fn list(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(query): Query<KeysQuery>,
) -> Response {
    let keys = match console.app.cognate.signing_keys().list().await {
        Ok(keys) => keys,
        Err(e) => return domain_error(&signed, &e),
    };
    let body = html! {
        h1 { "Signing keys" }
        // Named only if it is the newest key: the query is anyone's to write.
        @if let Some(kid) = query.rotated.as_ref().filter(|kid| keys.first().is_some_and(|k| &k.kid == *kid)) {
            p class="notice" role="status" {
                "Rotated: " code { (kid) } " signs new tokens. Other nodes switch to it when they next reread the keys (within their key reload interval)."
            }
        }
        p {
            "The keys cognate signs its OpenID tokens with, as published at "
            a href="/.well-known/jwks_uri" { code { "/.well-known/jwks_uri" } }
            ". A retired key stays published for a day, until every token it signed has expired."
        }
        table id="keys" {
            thead { tr {
                th scope="col" { "Key id (kid)" }
                th scope="col" { "Algorithm" }
                th scope="col" { "Created" }
                th scope="col" { "Retired" }
            } }
            tbody {
                @for key in &keys {
                    tr {
                        td { code { (key.kid) } }
                        td { (key.alg) }
                        td { (time(key.created_at)) }
                        td { @match key.retired_at { Some(at) => (time(at)), None => strong { "current" } } }
                    }
                }
            }
        }
        form method="post" action="/console/keys/rotate" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            button type="submit" { "Rotate: make a new signing key" }
        }
    };
    respond(
        StatusCode::OK,
        page("Signing keys", Some(&signed), Section::Keys, body),
    )
}

pub(crate) async fn rotate(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
) -> Response {
    match console.app.cognate.signing_keys().rotate().await {
        Ok(kid) => {
            console.app.cognate.audit_trail().keys_rotated(&kid);
            Redirect::to(&format!(
                "/console/keys?rotated={}",
                super::query_value(&kid)
            ))
            .into_response()
        }
        Err(e) => domain_error(&signed, &e),
    }
}
