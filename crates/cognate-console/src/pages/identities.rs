//! Identities of a pool, a page at a time in id order (keyset pagination:
//! each page starts after the last id of the one before, through the
//! store's ordered index, so a page costs the same at any depth of a pool
//! of millions), and one identity with its logins and merge history.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use cognate_core::model::{Identity, MergeRecord};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Section, domain_error, page, query_value, respond, segment, time};
use crate::Shared;
use crate::guard::Signed;

/// Identities per page.
const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    /// The page token (after which id).
    after: Option<String>,
    /// "1": leave out disabled (merged-away) identities.
    hide_disabled: Option<String>,
    /// An identity id to go to.
    id: Option<String>,
}

fn kind(identity: &Identity) -> &'static str {
    if identity.merged_into.is_some() {
        "merged"
    } else if identity.disabled {
        "disabled"
    } else if identity.logins.is_empty() {
        "guest"
    } else {
        "authenticated"
    }
}

fn identity_link(id: &str) -> Markup {
    html! { a href={ "/console/identities/" (segment(id)) } { code { (id) } } }
}

pub(crate) async fn list(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(pool_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let caller = console.caller();
    let cognate = &console.app.cognate;
    let pool = match cognate.pools().describe(&caller, &pool_id).await {
        Ok(pool) => pool,
        Err(e) => return domain_error(&signed, &e),
    };
    let pool_path = format!("/console/pools/{}", segment(&pool.id));
    let mut search_error = None;
    if let Some(wanted) = query.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        match cognate.identities().describe(&caller, wanted).await {
            Ok(identity) if identity.pool_id == pool.id => {
                return Redirect::to(&format!("/console/identities/{}", segment(&identity.id)))
                    .into_response();
            }
            Ok(_) | Err(cognate_core::Error::ResourceNotFound(_)) => {
                search_error = Some(format!("This pool has no identity {wanted}."));
            }
            Err(e) => search_error = Some(super::error_message(&e)),
        }
    }
    let hide_disabled = query.hide_disabled.as_deref() == Some("1");
    let (identities, next) = match cognate
        .identities()
        .list(
            &caller,
            &pool.id,
            PAGE,
            query.after.as_deref(),
            hide_disabled,
        )
        .await
    {
        Ok(page) => page,
        Err(e) => return domain_error(&signed, &e),
    };
    let filter = if hide_disabled {
        "&hide_disabled=1"
    } else {
        ""
    };
    let body = html! {
        p class="crumbs" { a href="/console/" { "Identity pools" } " › " a href=(pool_path) { (pool.name) } }
        h1 { "Identities of " (pool.name) }
        form method="get" action={ (pool_path) "/identities" } class="inline" role="search" {
            label for="search-id" { "Identity id" }
            input id="search-id" name="id" type="search" placeholder="us-east-1:…" value=[query.id.as_deref()];
            button type="submit" { "Find" }
        }
        form method="get" action={ (pool_path) "/identities" } class="inline" {
            div class="check" {
                input id="hide_disabled" name="hide_disabled" type="checkbox" value="1" checked[hide_disabled];
                label for="hide_disabled" { "Hide disabled (merged) identities" }
            }
            button type="submit" { "Apply" }
        }
        @if let Some(error) = &search_error {
            p class="error" role="alert" { (error) }
        }
        @if identities.is_empty() {
            p { @if query.after.is_some() { "No more identities." } @else { "This pool has no identities yet." } }
        } @else {
            table id="identities" {
                caption { "Identities in id order" @if query.after.is_some() { " (a later page)" } }
                thead { tr {
                    th scope="col" { "Identity id" }
                    th scope="col" { "Kind" }
                    th scope="col" { "Logins" }
                    th scope="col" { "Created" }
                    th scope="col" { "Last changed" }
                } }
                tbody {
                    @for identity in &identities {
                        tr {
                            td { (identity_link(&identity.id)) }
                            td { (kind(identity)) }
                            td {
                                @for (i, login) in identity.logins.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (login.provider)
                                }
                            }
                            td { (time(identity.created_at)) }
                            td { (time(identity.updated_at)) }
                        }
                    }
                }
            }
        }
        nav aria-label="Pages" class="pages" {
            @if query.after.is_some() {
                a href={ (pool_path) "/identities?" (filter.trim_start_matches('&')) } { "First page" }
            }
            @if let Some(next) = &next {
                " "
                a href={ (pool_path) "/identities?after=" (query_value(next)) (filter) } rel="next" { "Next page" }
            }
        }
        p class="help" { "Filtering guests from authenticated identities is not offered yet: the store has no index for it, and a filter must stay fast at millions of identities." }
    };
    respond(
        StatusCode::OK,
        page("Identities", Some(&signed), Section::Pools, body),
    )
}

fn merge_line(identity_id: &str, merge: &MergeRecord) -> Markup {
    html! {
        li {
            @if merge.to_identity == identity_id {
                "Merged from " (identity_link(&merge.from_identity))
            } @else {
                "Merged into " (identity_link(&merge.to_identity))
            }
            " on " (time(merge.at)) " (" (merge.cause.as_str()) ")"
        }
    }
}

pub(crate) async fn show(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let caller = console.caller();
    let cognate = &console.app.cognate;
    let identity = match cognate.identities().describe(&caller, &id).await {
        Ok(identity) => identity,
        Err(e) => return domain_error(&signed, &e),
    };
    let pool = cognate.pools().describe(&caller, &identity.pool_id).await;
    let merges = match cognate.identities().merges(&identity.id).await {
        Ok(merges) => merges,
        Err(e) => return domain_error(&signed, &e),
    };
    let pool_path = format!("/console/pools/{}", segment(&identity.pool_id));
    let pool_name = pool
        .as_ref()
        .map_or(identity.pool_id.as_str(), |p| p.name.as_str());
    let body = html! {
        p class="crumbs" {
            a href="/console/" { "Identity pools" } " › "
            a href=(pool_path) { (pool_name) } " › "
            a href={ (pool_path) "/identities" } { "Identities" }
        }
        h1 { "Identity " code { (identity.id) } }
        dl class="facts" {
            dt { "Identity pool" } dd { a href=(pool_path) { (pool_name) } " (" code { (identity.pool_id) } ")" }
            dt { "Kind" } dd id="identity-kind" { (kind(&identity)) }
            dt { "Created" } dd { (time(identity.created_at)) }
            dt { "Last changed" } dd { (time(identity.updated_at)) }
            @if let Some(into) = &identity.merged_into {
                dt { "Merged into" } dd { (identity_link(into)) }
            }
        }
        h2 { "Logins" }
        @if identity.logins.is_empty() {
            p { "None: a guest identity." }
        } @else {
            table id="logins" {
                thead { tr { th scope="col" { "Provider" } th scope="col" { "Subject (user id at the provider)" } } }
                tbody {
                    @for login in &identity.logins {
                        tr { td { (login.provider) } td { code { (login.subject) } } }
                    }
                }
            }
        }
        h2 { "Merge history" }
        @if merges.is_empty() {
            p { "No merges into or out of this identity." }
        } @else {
            ul id="merges" {
                @for merge in &merges { (merge_line(&identity.id, merge)) }
            }
        }
    };
    respond(
        StatusCode::OK,
        page("Identity", Some(&signed), Section::Pools, body),
    )
}
