//! Identity pools: the list (with identity counts), create, the pool's
//! page with its settings to edit, and delete after a confirmation. The
//! form becomes the API's CreateIdentityPool / UpdateIdentityPool input
//! and goes through the API's own checks and the domain's operations, so
//! a refusal reads as the API's.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use cognate_core::model::Pool;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Section, domain_error, error_message, page, respond, segment, time};
use crate::Shared;
use crate::guard::Signed;

/// Pools per page of the list.
const PAGE: usize = 50;
/// Identities are counted up to this many per pool (bounded work, however
/// large a pool is).
pub(crate) const COUNT_CAP: usize = 10_000;

pub(crate) fn count_text(count: usize) -> String {
    if count >= COUNT_CAP {
        format!("{}+", thousands(COUNT_CAP))
    } else {
        thousands(count)
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    next: Option<String>,
    deleted: Option<String>,
}

pub(crate) async fn list(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(query): Query<ListQuery>,
) -> Response {
    let caller = console.caller();
    let cognate = &console.app.cognate;
    let (pools, next) = match cognate
        .pools()
        .list(&caller, PAGE, query.next.as_deref())
        .await
    {
        Ok(page) => page,
        Err(e) => return domain_error(&signed, &e),
    };
    let mut rows = Vec::with_capacity(pools.len());
    for pool in pools {
        let count = match cognate
            .identities()
            .count(&caller, &pool.id, COUNT_CAP)
            .await
        {
            Ok(n) => count_text(n),
            // Deleted meanwhile, say.
            Err(_) => "—".to_string(),
        };
        rows.push((pool, count));
    }
    let body = html! {
        h1 { "Identity pools" }
        // Only that a pool was deleted: the query is anyone's to write.
        @if query.deleted.is_some() {
            p class="notice" role="status" { "The identity pool was deleted." }
        }
        p { a class="button" href="/console/pools/new" { "Create an identity pool" } }
        @if rows.is_empty() {
            p { "There are no identity pools in " (console.app.cognate.config().default_region) " yet." }
        } @else {
            table {
                caption { "Identity pools in " (console.app.cognate.config().default_region) }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Identity pool id" }
                    th scope="col" { "Guests" }
                    th scope="col" class="number" { "Identities" }
                    th scope="col" { "Created" }
                } }
                tbody {
                    @for (pool, count) in &rows {
                        tr {
                            td { a href={ "/console/pools/" (segment(&pool.id)) } { (pool.name) } }
                            td { code { (pool.id) } }
                            td { @if pool.allow_unauthenticated { "allowed" } @else { "not allowed" } }
                            td class="number" { a href={ "/console/pools/" (segment(&pool.id)) "/identities" } { (count) } }
                            td { (time(pool.created_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p { a href={ "/console/?next=" (super::query_value(next)) } { "Next page" } }
        }
    };
    respond(
        StatusCode::OK,
        page("Identity pools", Some(&signed), Section::Pools, body),
    )
}

/// The pool form's fields, as entered (kept when a refusal shows the form
/// again).
#[derive(Deserialize, Default, Clone)]
pub(crate) struct PoolForm {
    #[serde(default)]
    name: String,
    allow_unauthenticated: Option<String>,
    /// "" (not set: the basic flow is allowed), "true" or "false".
    #[serde(default)]
    classic_flow: String,
    #[serde(default)]
    developer_provider_name: String,
    #[serde(default)]
    login_providers: String,
    #[serde(default)]
    oidc_providers: String,
    #[serde(default)]
    saml_providers: String,
    #[serde(default)]
    user_pools: String,
    #[serde(default)]
    tags: String,
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| (i + 1, line))
}

fn pairs(text: &str, field: &str, shape: &str) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (n, line) in lines(text) {
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("Line {n} of {field} must be {shape}."))?;
        out.insert(key.trim().to_string(), json!(value.trim()));
    }
    Ok(out)
}

impl PoolForm {
    fn from_pool(pool: &Pool) -> PoolForm {
        let join = |items: Vec<String>| items.join("\n");
        PoolForm {
            name: pool.name.clone(),
            allow_unauthenticated: pool.allow_unauthenticated.then(|| "on".to_string()),
            classic_flow: pool
                .allow_classic_flow
                .map_or(String::new(), |b| b.to_string()),
            developer_provider_name: pool.developer_provider_name.clone().unwrap_or_default(),
            login_providers: join(
                pool.supported_login_providers
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            oidc_providers: pool.open_id_connect_provider_arns.join("\n"),
            saml_providers: pool.saml_provider_arns.join("\n"),
            user_pools: join(
                pool.cognito_identity_providers
                    .iter()
                    .map(|p| match p.server_side_token_check {
                        Some(check) => format!("{},{},{check}", p.provider_name, p.client_id),
                        None => format!("{},{}", p.provider_name, p.client_id),
                    })
                    .collect(),
            ),
            tags: join(pool.tags.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        }
    }

    /// The API's input for these fields (the members CreateIdentityPool
    /// and UpdateIdentityPool share), or what is wrong with a line.
    fn input(&self, pool_id: Option<&str>) -> Result<Value, String> {
        let mut input = Map::new();
        if let Some(id) = pool_id {
            input.insert("IdentityPoolId".into(), json!(id));
        }
        input.insert("IdentityPoolName".into(), json!(self.name.trim()));
        input.insert(
            "AllowUnauthenticatedIdentities".into(),
            json!(self.allow_unauthenticated.is_some()),
        );
        match self.classic_flow.as_str() {
            "true" => {
                input.insert("AllowClassicFlow".into(), json!(true));
            }
            "false" => {
                input.insert("AllowClassicFlow".into(), json!(false));
            }
            _ => {}
        }
        let developer = self.developer_provider_name.trim();
        if !developer.is_empty() {
            input.insert("DeveloperProviderName".into(), json!(developer));
        }
        input.insert(
            "SupportedLoginProviders".into(),
            Value::Object(pairs(
                &self.login_providers,
                "Login providers",
                "provider=app id",
            )?),
        );
        let list = |text: &str| -> Vec<Value> { lines(text).map(|(_, l)| json!(l)).collect() };
        input.insert(
            "OpenIdConnectProviderARNs".into(),
            json!(list(&self.oidc_providers)),
        );
        input.insert("SamlProviderARNs".into(), json!(list(&self.saml_providers)));
        let mut user_pools = Vec::new();
        for (n, line) in lines(&self.user_pools) {
            let parts: Vec<&str> = line.split(',').map(str::trim).collect();
            let shape = || {
                format!(
                    "Line {n} of Cognito user pools must be provider name,client id[,true|false]."
                )
            };
            let mut provider = Map::new();
            match parts.as_slice() {
                [name, client] | [name, client, _] => {
                    provider.insert("ProviderName".into(), json!(name));
                    provider.insert("ClientId".into(), json!(client));
                }
                _ => return Err(shape()),
            }
            match parts.get(2) {
                Some(&"true") => {
                    provider.insert("ServerSideTokenCheck".into(), json!(true));
                }
                Some(&"false") => {
                    provider.insert("ServerSideTokenCheck".into(), json!(false));
                }
                Some(_) => return Err(shape()),
                None => {}
            }
            user_pools.push(Value::Object(provider));
        }
        input.insert("CognitoIdentityProviders".into(), json!(user_pools));
        input.insert(
            "IdentityPoolTags".into(),
            Value::Object(pairs(&self.tags, "Tags", "key=value")?),
        );
        Ok(Value::Object(input))
    }
}

/// The pool form; `existing` is the pool being edited.
fn pool_form(
    signed: &Signed,
    form: &PoolForm,
    existing: Option<&Pool>,
    error: Option<&str>,
) -> Markup {
    let action = match existing {
        Some(pool) => format!("/console/pools/{}", segment(&pool.id)),
        None => "/console/pools".to_string(),
    };
    let developer_fixed = existing.is_some_and(|p| p.developer_provider_name.is_some());
    html! {
        @if let Some(error) = error {
            div class="error" role="alert" id="form-error" {
                p { (error) }
            }
        }
        form method="post" action=(action) class="stacked" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            label for="name" { "Name" }
            input id="name" name="name" type="text" required maxlength="128" value=(form.name)
                aria-describedby="name-help";
            p class="help" id="name-help" { "1 to 128 letters, digits, spaces and + = , . @ - _" }
            div class="check" {
                input id="allow_unauthenticated" name="allow_unauthenticated" type="checkbox"
                    checked[form.allow_unauthenticated.is_some()];
                label for="allow_unauthenticated" { "Allow guest (unauthenticated) identities" }
            }
            label for="classic_flow" { "Basic (classic) authflow" }
            select id="classic_flow" name="classic_flow" {
                option value="" selected[form.classic_flow.is_empty()] { "Not set (allowed)" }
                option value="true" selected[form.classic_flow == "true"] { "Allowed" }
                option value="false" selected[form.classic_flow == "false"] { "Not allowed" }
            }
            label for="developer_provider_name" { "Developer provider name" }
            input id="developer_provider_name" name="developer_provider_name" type="text"
                maxlength="128" value=(form.developer_provider_name) readonly[developer_fixed]
                aria-describedby="developer-help";
            p class="help" id="developer-help" { "Set once; it cannot be changed afterwards." }
            label for="login_providers" { "Login providers" }
            textarea id="login_providers" name="login_providers" rows="3"
                aria-describedby="login-help" { (form.login_providers) }
            p class="help" id="login-help" { "One per line: " code { "accounts.google.com=<client id>" } }
            label for="oidc_providers" { "OpenID Connect provider ARNs" }
            textarea id="oidc_providers" name="oidc_providers" rows="2"
                aria-describedby="oidc-help" { (form.oidc_providers) }
            p class="help" id="oidc-help" { "One per line, registered with IAM CreateOpenIDConnectProvider." }
            label for="user_pools" { "Cognito user pools" }
            textarea id="user_pools" name="user_pools" rows="2"
                aria-describedby="user-pools-help" { (form.user_pools) }
            p class="help" id="user-pools-help" { "One per line: " code { "cognito-idp.<region>.amazonaws.com/<pool id>,<client id>[,true|false]" } }
            label for="saml_providers" { "SAML provider ARNs" }
            textarea id="saml_providers" name="saml_providers" rows="2"
                aria-describedby="saml-help" { (form.saml_providers) }
            p class="help" id="saml-help" { "One per line." }
            label for="tags" { "Tags" }
            textarea id="tags" name="tags" rows="3" aria-describedby="tags-help" { (form.tags) }
            p class="help" id="tags-help" { "One per line: " code { "key=value" } }
            button type="submit" {
                @if existing.is_some() { "Save changes" } @else { "Create identity pool" }
            }
        }
    }
}

pub(crate) async fn new_form(Extension(signed): Extension<Signed>) -> Response {
    new_page(StatusCode::OK, &signed, &PoolForm::default(), None)
}

fn new_page(status: StatusCode, signed: &Signed, form: &PoolForm, error: Option<&str>) -> Response {
    let body = html! {
        h1 { "Create an identity pool" }
        (pool_form(signed, form, None, error))
    };
    respond(
        status,
        page(
            "Create an identity pool",
            Some(signed),
            Section::Pools,
            body,
        ),
    )
}

pub(crate) async fn create(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<PoolForm>,
) -> Response {
    let input = match form.input(None) {
        Ok(input) => input,
        Err(message) => {
            return new_page(StatusCode::BAD_REQUEST, &signed, &form, Some(&message));
        }
    };
    let created = match cognate_server::cognito::checked_pool_settings(input) {
        Ok(settings) => {
            console
                .app
                .cognate
                .pools()
                .create(&console.caller(), settings)
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(pool) => {
            Redirect::to(&format!("/console/pools/{}?created=1", segment(&pool.id))).into_response()
        }
        Err(e) => new_page(status_of(&e), &signed, &form, Some(&error_message(&e))),
    }
}

fn status_of(error: &cognate_core::Error) -> StatusCode {
    cognate_server::wire_error::ApiError::from_domain(
        error,
        cognate_server::wire_error::Protocol::Json,
    )
    .status
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    created: Option<String>,
    saved: Option<String>,
}

pub(crate) async fn show(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let caller = console.caller();
    let pool = match console.app.cognate.pools().describe(&caller, &id).await {
        Ok(pool) => pool,
        Err(e) => return domain_error(&signed, &e),
    };
    let notice = if query.created.is_some() {
        Some("Created the identity pool.")
    } else if query.saved.is_some() {
        Some("Saved.")
    } else {
        None
    };
    show_page(
        &console,
        StatusCode::OK,
        &signed,
        &pool,
        &PoolForm::from_pool(&pool),
        notice,
        None,
    )
    .await
}

async fn show_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    pool: &Pool,
    form: &PoolForm,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let count = console
        .app
        .cognate
        .identities()
        .count(&console.caller(), &pool.id, COUNT_CAP)
        .await
        .map_or_else(|_| "—".to_string(), count_text);
    let pool_path = format!("/console/pools/{}", segment(&pool.id));
    let body = html! {
        h1 { (pool.name) }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        dl class="facts" {
            dt { "Identity pool id" } dd { code id="pool-id" { (pool.id) } }
            dt { "ARN" } dd { code { (pool.arn()) } }
            dt { "Identities" } dd { a href={ (pool_path) "/identities" } { (count) } }
            dt { "Authenticated role" } dd { (pool.roles.get("authenticated").map_or("none", String::as_str)) }
            dt { "Guest role" } dd { (pool.roles.get("unauthenticated").map_or("none", String::as_str)) }
            dt { "Role mappings" } dd { (pool.role_mappings.len()) " · " a href={ (pool_path) "/roles" } { "Edit the roles and role mappings" } }
            dt { "Created" } dd { (time(pool.created_at)) }
            dt { "Last changed" } dd { (time(pool.updated_at)) }
        }
        p {
            a class="button" href={ (pool_path) "/identities" } { "Identities" }
            " "
            a class="button danger" href={ (pool_path) "/delete" } { "Delete…" }
        }
        h2 { "Settings" }
        (pool_form(signed, form, Some(pool), error))
    };
    respond(status, page(&pool.name, Some(signed), Section::Pools, body))
}

pub(crate) async fn update(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Form(form): Form<PoolForm>,
) -> Response {
    let caller = console.caller();
    let pools = console.app.cognate.pools();
    let current = match pools.describe(&caller, &id).await {
        Ok(pool) => pool,
        Err(e) => return domain_error(&signed, &e),
    };
    let updated = match form.input(Some(&id)) {
        Ok(input) => match cognate_server::cognito::checked_pool_settings(input) {
            Ok(settings) => pools.update(&caller, &id, settings).await.map_err(|e| {
                let status = status_of(&e);
                (status, error_message(&e))
            }),
            Err(e) => Err((status_of(&e), error_message(&e))),
        },
        Err(message) => Err((StatusCode::BAD_REQUEST, message)),
    };
    match updated {
        Ok(pool) => {
            Redirect::to(&format!("/console/pools/{}?saved=1", segment(&pool.id))).into_response()
        }
        Err((status, message)) => {
            show_page(
                &console,
                status,
                &signed,
                &current,
                &form,
                None,
                Some(&message),
            )
            .await
        }
    }
}

pub(crate) async fn confirm_delete(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let caller = console.caller();
    let cognate = &console.app.cognate;
    let pool = match cognate.pools().describe(&caller, &id).await {
        Ok(pool) => pool,
        Err(e) => return domain_error(&signed, &e),
    };
    let count = cognate
        .identities()
        .count(&caller, &pool.id, COUNT_CAP)
        .await
        .map_or_else(|_| "its".to_string(), count_text);
    let body = html! {
        h1 { "Delete " (pool.name) "?" }
        p class="warning" {
            "Deleting the identity pool " strong { (pool.name) } " (" code { (pool.id) } ") also deletes its "
            (count) " identities, their logins and merge history. Apps configured with this pool id stop working. This cannot be undone."
        }
        form method="post" action={ "/console/pools/" (segment(&pool.id)) "/delete" } class="stacked" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            button type="submit" class="danger" { "Delete the identity pool" }
        }
        p { a href={ "/console/pools/" (segment(&pool.id)) } { "Cancel" } }
    };
    respond(
        StatusCode::OK,
        page(
            "Delete an identity pool",
            Some(&signed),
            Section::Pools,
            body,
        ),
    )
}

pub(crate) async fn delete(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let caller = console.caller();
    let pools = console.app.cognate.pools();
    let name = match pools.describe(&caller, &id).await {
        Ok(pool) => pool.name,
        Err(e) => return domain_error(&signed, &e),
    };
    match pools.delete(&caller, &id).await {
        Ok(()) => Redirect::to(&format!("/console/?deleted={}", super::query_value(&name)))
            .into_response(),
        Err(e) => domain_error(&signed, &e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_separators_and_a_cap() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(1234), "1,234");
        assert_eq!(count_text(COUNT_CAP), "10,000+");
    }

    #[test]
    fn the_form_becomes_the_api_input() {
        let form = PoolForm {
            name: " app ".into(),
            allow_unauthenticated: Some("on".into()),
            classic_flow: "false".into(),
            login_providers: "accounts.google.com = abc\n\n".into(),
            user_pools: "cognito-idp.us-east-1.amazonaws.com/us-east-1_x,client,true".into(),
            tags: "team=a\nempty=".into(),
            ..Default::default()
        };
        let input = form.input(Some("us-east-1:p")).unwrap();
        assert_eq!(
            input,
            json!({
                "IdentityPoolId": "us-east-1:p",
                "IdentityPoolName": "app",
                "AllowUnauthenticatedIdentities": true,
                "AllowClassicFlow": false,
                "SupportedLoginProviders": {"accounts.google.com": "abc"},
                "OpenIdConnectProviderARNs": [],
                "SamlProviderARNs": [],
                "CognitoIdentityProviders": [{"ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_x", "ClientId": "client", "ServerSideTokenCheck": true}],
                "IdentityPoolTags": {"team": "a", "empty": ""},
            })
        );
        let bad = PoolForm {
            tags: "ok=1\nno equals sign".into(),
            ..Default::default()
        };
        assert_eq!(
            bad.input(None).unwrap_err(),
            "Line 2 of Tags must be key=value."
        );
    }
}
