//! Identities of a pool, a page at a time in id order (keyset pagination:
//! each page starts after the last id of the one before, through an
//! ordered index, so a page costs the same at any depth of a pool of
//! millions), filtered by state (guests, authenticated, disabled: each
//! served by an index of its own, see the store's identity filter
//! migrations), searched by id, by login or by developer user
//! identifier; and one identity with its logins and merge history, where
//! a login is unlinked or the identity deleted after a confirmation.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use cognate_core::model::{Identity, Login, MergeRecord, Pool};
use cognate_core::store::IdentityState;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Section, domain_error, error_message, page, query_value, respond, segment, time};
use crate::Shared;
use crate::guard::Signed;

/// Identities per page.
const PAGE: usize = 50;

/// Which identities the list shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    All,
    /// All but disabled (the older "hide disabled" checkbox).
    Enabled,
    In(IdentityState),
}

impl Show {
    const CHOICES: [(Show, &'static str, &'static str); 5] = [
        (Show::All, "all", "All identities"),
        (Show::Enabled, "enabled", "All but disabled"),
        (
            Show::In(IdentityState::Guest),
            "guest",
            "Guests (no logins)",
        ),
        (
            Show::In(IdentityState::Authenticated),
            "authenticated",
            "Authenticated (with logins)",
        ),
        (
            Show::In(IdentityState::Disabled),
            "disabled",
            "Disabled (merged away or unlinked)",
        ),
    ];

    fn parse(query: &ListQuery) -> Show {
        let named = query.show.as_deref().and_then(|wanted| {
            Show::CHOICES
                .iter()
                .find(|(_, name, _)| *name == wanted)
                .map(|(show, _, _)| *show)
        });
        match named {
            Some(show) => show,
            None if query.hide_disabled.as_deref() == Some("1") => Show::Enabled,
            None => Show::All,
        }
    }

    fn name(self) -> &'static str {
        Show::CHOICES
            .iter()
            .find(|(show, _, _)| *show == self)
            .map_or("all", |(_, name, _)| name)
    }

    fn caption(self) -> &'static str {
        match self {
            Show::All => "Identities in id order",
            Show::Enabled => "Identities but disabled ones, in id order",
            Show::In(IdentityState::Guest) => "Guest identities in id order",
            Show::In(IdentityState::Authenticated) => "Authenticated identities in id order",
            Show::In(IdentityState::Disabled) => "Disabled identities in id order",
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    /// The page token (after which id).
    after: Option<String>,
    /// all, enabled, guest, authenticated or disabled.
    show: Option<String>,
    /// "1": leave out disabled (merged-away) identities (as show=enabled).
    hide_disabled: Option<String>,
    /// An identity id to go to.
    id: Option<String>,
    /// A login to find: its provider (login key) and subject.
    provider: Option<String>,
    subject: Option<String>,
    /// A developer user identifier to find (LookupDeveloperIdentity).
    developer_user: Option<String>,
    /// "1": an identity of this pool was just deleted.
    deleted: Option<String>,
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

fn identity_path(id: &str) -> String {
    format!("/console/identities/{}", segment(id))
}

fn trimmed(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// What a search found: the identity to go to, or why none.
enum Found {
    Identity(String),
    Nothing(String),
}

/// The search the query asks for, if any: by id, by developer user
/// identifier (LookupDeveloperIdentity), or by login (the developer
/// provider's through LookupDeveloperIdentity too).
async fn search(console: &Shared, pool: &Pool, query: &ListQuery) -> Option<Found> {
    let caller = console.caller();
    let cognate = &console.app.cognate;
    if let Some(wanted) = trimmed(query.id.as_deref()) {
        return Some(match cognate.identities().describe(&caller, wanted).await {
            Ok(identity) if identity.pool_id == pool.id => Found::Identity(identity.id),
            Ok(_) | Err(cognate_core::Error::ResourceNotFound(_)) => {
                Found::Nothing(format!("This pool has no identity {wanted}."))
            }
            Err(e) => Found::Nothing(error_message(&e)),
        });
    }
    let (provider, subject) = match (
        trimmed(query.developer_user.as_deref()),
        trimmed(query.provider.as_deref()),
        trimmed(query.subject.as_deref()),
    ) {
        (Some(user), _, _) => match &pool.developer_provider_name {
            Some(dev) => (dev.as_str(), user),
            None => {
                return Some(Found::Nothing(
                    "This pool has no developer provider, so no developer user identifiers.".into(),
                ));
            }
        },
        (None, Some(provider), Some(subject)) => (provider, subject),
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Some(Found::Nothing(
                "To find a login, give both its provider and its subject.".into(),
            ));
        }
        (None, None, None) => return None,
    };
    if pool.developer_provider_name.as_deref() == Some(provider) {
        return Some(
            match cognate
                .developer()
                .lookup(&caller, &pool.id, None, Some(subject), 1, None)
                .await
            {
                Ok((id, _, _)) => Found::Identity(id),
                Err(e) => Found::Nothing(error_message(&e)),
            },
        );
    }
    let login = Login {
        provider: provider.to_string(),
        subject: subject.to_string(),
    };
    Some(
        match cognate
            .identities()
            .owner_of_login(&caller, &pool.id, &login)
            .await
        {
            Ok(Some(id)) => Found::Identity(id),
            Ok(None) => Found::Nothing(format!(
                "No identity of this pool holds the {provider} login {subject}."
            )),
            Err(e) => Found::Nothing(error_message(&e)),
        },
    )
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
    let search_error = match search(&console, &pool, &query).await {
        Some(Found::Identity(id)) => return Redirect::to(&identity_path(&id)).into_response(),
        Some(Found::Nothing(why)) => Some(why),
        None => None,
    };
    let show = Show::parse(&query);
    let after = query.after.as_deref();
    let listed = match show {
        Show::All => {
            cognate
                .identities()
                .list(&caller, &pool.id, PAGE, after, false)
                .await
        }
        Show::Enabled => {
            cognate
                .identities()
                .list(&caller, &pool.id, PAGE, after, true)
                .await
        }
        Show::In(state) => {
            cognate
                .identities()
                .list_in_state(&caller, &pool.id, state, PAGE, after)
                .await
        }
    };
    let (identities, next) = match listed {
        Ok(page) => page,
        Err(e) => return domain_error(&signed, &e),
    };
    let list_path = format!("{pool_path}/identities?show={}", show.name());
    let body = html! {
        p class="crumbs" { a href="/console/" { "Identity pools" } " › " a href=(pool_path) { (pool.name) } }
        h1 { "Identities of " (pool.name) }
        // Only that one was deleted: the query is anyone's to write.
        @if query.deleted.is_some() {
            p class="notice" role="status" { "The identity was deleted." }
        }
        div class="searches" {
            form method="get" action={ (pool_path) "/identities" } class="inline" role="search" aria-label="Find by identity id" {
                label for="search-id" { "Identity id" }
                input id="search-id" name="id" type="search" placeholder="us-east-1:…" value=[query.id.as_deref()];
                button type="submit" { "Find" }
            }
            form method="get" action={ (pool_path) "/identities" } class="inline" role="search" aria-label="Find by login" {
                label for="search-provider" { "Login provider" }
                input id="search-provider" name="provider" type="search" placeholder="accounts.google.com" value=[query.provider.as_deref()];
                label for="search-subject" { "Subject" }
                input id="search-subject" name="subject" type="search" placeholder="the user's id at the provider" value=[query.subject.as_deref()];
                button type="submit" { "Find" }
            }
            @if let Some(dev) = &pool.developer_provider_name {
                form method="get" action={ (pool_path) "/identities" } class="inline" role="search" aria-label="Find by developer user identifier" {
                    label for="search-developer-user" { "Developer user identifier (" (dev) ")" }
                    input id="search-developer-user" name="developer_user" type="search" value=[query.developer_user.as_deref()];
                    button type="submit" { "Find" }
                }
            }
        }
        form method="get" action={ (pool_path) "/identities" } class="inline" {
            label for="show" { "Show" }
            select id="show" name="show" {
                @for (choice, name, label) in Show::CHOICES {
                    option value=(name) selected[choice == show] { (label) }
                }
            }
            button type="submit" { "Apply" }
        }
        @if let Some(error) = &search_error {
            p class="error" role="alert" { (error) }
        }
        @if identities.is_empty() {
            p id="no-identities" {
                @if query.after.is_some() { "No more identities." }
                @else if show == Show::All { "This pool has no identities yet." }
                @else { "No identities of this kind." }
            }
        } @else {
            table id="identities" {
                caption { (show.caption()) @if query.after.is_some() { " (a later page)" } }
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
                a href=(list_path) { "First page" }
            }
            @if let Some(next) = &next {
                " "
                a href={ (list_path) "&after=" (query_value(next)) } rel="next" { "Next page" }
            }
        }
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

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    /// "1": a login was just unlinked.
    unlinked: Option<String>,
}

pub(crate) async fn show(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
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
    let path = identity_path(&identity.id);
    let body = html! {
        p class="crumbs" {
            a href="/console/" { "Identity pools" } " › "
            a href=(pool_path) { (pool_name) } " › "
            a href={ (pool_path) "/identities" } { "Identities" }
        }
        h1 { "Identity " code { (identity.id) } }
        // Only that one was unlinked: the query is anyone's to write.
        @if query.unlinked.is_some() {
            p class="notice" role="status" { "The login was unlinked." }
        }
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
            p { @if identity.disabled { "None." } @else { "None: a guest identity." } }
        } @else {
            table id="logins" {
                thead { tr {
                    th scope="col" { "Provider" }
                    th scope="col" { "Subject (user id at the provider)" }
                    @if !identity.disabled { th scope="col" { span class="visually-hidden" { "Action" } } }
                } }
                tbody {
                    @for login in &identity.logins {
                        tr {
                            td { (login.provider) }
                            td { code { (login.subject) } }
                            @if !identity.disabled {
                                td {
                                    a class="unlink" href={ (path) "/unlink?provider=" (query_value(&login.provider)) "&subject=" (query_value(&login.subject)) } {
                                        "Unlink"
                                    }
                                }
                            }
                        }
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
        h2 { "Delete" }
        p { a class="button danger" href={ (path) "/delete" } { "Delete this identity" } }
    };
    respond(
        StatusCode::OK,
        page("Identity", Some(&signed), Section::Pools, body),
    )
}

/// The login a confirmation page or its form names.
#[derive(Deserialize, Default)]
pub(crate) struct LoginForm {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    subject: String,
}

impl LoginForm {
    fn login(&self) -> Login {
        Login {
            provider: self.provider.clone(),
            subject: self.subject.clone(),
        }
    }
}

/// A page saying why an action was refused, in the API's words, with the
/// way back to the identity.
fn refused_action(
    signed: &Signed,
    identity_id: &str,
    title: &str,
    error: &cognate_core::Error,
) -> Response {
    let status = cognate_server::wire_error::ApiError::from_domain(
        error,
        cognate_server::wire_error::Protocol::Json,
    )
    .status;
    respond(
        status,
        page(
            title,
            Some(signed),
            Section::Pools,
            html! {
                h1 { (title) }
                p class="error" role="alert" { (error_message(error)) }
                p { a href=(identity_path(identity_id)) { "Back to the identity" } }
            },
        ),
    )
}

pub(crate) async fn confirm_unlink(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Query(form): Query<LoginForm>,
) -> Response {
    let caller = console.caller();
    let identity = match console
        .app
        .cognate
        .identities()
        .describe(&caller, &id)
        .await
    {
        Ok(identity) => identity,
        Err(e) => return domain_error(&signed, &e),
    };
    let login = form.login();
    let path = identity_path(&identity.id);
    let last = identity.logins.len() == 1 && identity.logins.contains(&login);
    let body = html! {
        h1 { "Unlink a login?" }
        p class="warning" {
            "Unlinking the " strong { (login.provider) } " login " code { (login.subject) }
            " from the identity " code { (identity.id) } " means that the user, signing in with it again, gets a new identity."
            @if last { " It is this identity's only login, so the identity is disabled: no one can use it any more." }
        }
        form method="post" action={ (path) "/unlink" } class="stacked" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            input type="hidden" name="provider" value=(login.provider);
            input type="hidden" name="subject" value=(login.subject);
            button type="submit" class="danger" { "Unlink the login" }
        }
        p { a href=(path) { "Cancel" } }
    };
    respond(
        StatusCode::OK,
        page("Unlink a login", Some(&signed), Section::Pools, body),
    )
}

/// UnlinkIdentity as the administrator; the developer provider's logins
/// through UnlinkDeveloperIdentity.
pub(crate) async fn unlink(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Form(form): Form<LoginForm>,
) -> Response {
    let caller = console.caller();
    let cognate = &console.app.cognate;
    let identity = match cognate.identities().describe(&caller, &id).await {
        Ok(identity) => identity,
        Err(e) => return refused_action(&signed, &id, "Not unlinked", &e),
    };
    let developer_provider = match cognate.pools().describe(&caller, &identity.pool_id).await {
        Ok(pool) => pool.developer_provider_name,
        Err(e) => return refused_action(&signed, &id, "Not unlinked", &e),
    };
    let login = form.login();
    let unlinked = if developer_provider.as_deref() == Some(login.provider.as_str()) {
        cognate
            .developer()
            .unlink(
                &caller,
                &identity.pool_id,
                &identity.id,
                &login.provider,
                &login.subject,
            )
            .await
    } else {
        cognate
            .identities()
            .unlink_as_admin(&caller, &identity.id, &login)
            .await
    };
    match unlinked {
        Ok(()) => {
            Redirect::to(&format!("{}?unlinked=1", identity_path(&identity.id))).into_response()
        }
        Err(e) => refused_action(&signed, &identity.id, "Not unlinked", &e),
    }
}

pub(crate) async fn confirm_delete(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let caller = console.caller();
    let identity = match console
        .app
        .cognate
        .identities()
        .describe(&caller, &id)
        .await
    {
        Ok(identity) => identity,
        Err(e) => return domain_error(&signed, &e),
    };
    let path = identity_path(&identity.id);
    let body = html! {
        h1 { "Delete this identity?" }
        p class="warning" {
            "Deleting the identity " code { (identity.id) } " also deletes its "
            (identity.logins.len()) " linked logins. A user signing in with one of them again gets a new identity id. This cannot be undone."
        }
        form method="post" action={ (path) "/delete" } class="stacked" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            button type="submit" class="danger" { "Delete the identity" }
        }
        p { a href=(path) { "Cancel" } }
    };
    respond(
        StatusCode::OK,
        page("Delete an identity", Some(&signed), Section::Pools, body),
    )
}

/// DeleteIdentities with this one identity.
pub(crate) async fn delete(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let caller = console.caller();
    let identities = console.app.cognate.identities();
    let identity = match identities.describe(&caller, &id).await {
        Ok(identity) => identity,
        Err(e) => return refused_action(&signed, &id, "Not deleted", &e),
    };
    match identities
        .delete(&caller, std::slice::from_ref(&identity.id))
        .await
    {
        Ok(unprocessed) if unprocessed.is_empty() => Redirect::to(&format!(
            "/console/pools/{}/identities?deleted=1",
            segment(&identity.pool_id)
        ))
        .into_response(),
        // DeleteIdentities reports an identity it could not delete by an
        // error code (AccessDenied, InternalServerError).
        Ok(unprocessed) => {
            let codes: Vec<&str> = unprocessed.iter().map(|(_, code)| *code).collect();
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                page(
                    "Not deleted",
                    Some(&signed),
                    Section::Pools,
                    html! {
                        h1 { "Not deleted" }
                        p class="error" role="alert" {
                            "DeleteIdentities left the identity unprocessed: " (codes.join(", ")) "."
                        }
                        p { a href=(identity_path(&identity.id)) { "Back to the identity" } }
                    },
                ),
            )
        }
        Err(e) => refused_action(&signed, &identity.id, "Not deleted", &e),
    }
}
