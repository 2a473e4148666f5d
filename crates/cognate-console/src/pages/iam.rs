//! IAM: roles (trust policy, inline and attached managed policies),
//! customer managed policies (versions, attachments), and the OpenID
//! Connect and SAML providers. Every change is the domain's IAM operation
//! as the account root; names go through the API's model checks
//! (`cognate_server::validate`), documents through the policy parser, so
//! a refusal reads as IAM's and nothing changes. A refused form is shown
//! again with what was entered and the error beside it.
//!
//! Policy ARNs and provider ARNs contain `/`, so their pages take the ARN
//! as a query value (`?arn=`) and their forms as a hidden field.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use cognate_core::iam::{NewPolicy, NewRole, PolicyFilter};
use cognate_core::model::{ManagedPolicy, Role};
use cognate_server::validate::{self as v, Checker};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Section, domain_error, page, query_value, respond, segment, time};
use crate::Shared;
use crate::guard::Signed;

/// Roles and policies listed on one page (IAM's own quota is 1,000 roles
/// and 1,500 customer managed policies by default).
const LIST_MAX: usize = 1000;

/// A trust policy to start from: Cognito identities of one pool, signed
/// in (edit the pool id).
const TRUST_TEMPLATE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": { "Federated": "cognito-identity.amazonaws.com" },
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {
        "StringEquals": { "cognito-identity.amazonaws.com:aud": "<identity pool id>" },
        "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": "authenticated" }
      }
    }
  ]
}"#;

const POLICY_TEMPLATE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Sid": "ReadObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" }
  ]
}"#;

/// The form fields as posted (every IAM form's fields are strings).
type Fields = BTreeMap<String, String>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map_or("", String::as_str)
}

/// A refusal to show beside the form it came from, with what was entered.
struct Refusal {
    form: &'static str,
    message: String,
    fields: Fields,
}

impl Refusal {
    fn new(form: &'static str, message: String, fields: &Fields) -> Refusal {
        Refusal {
            form,
            message,
            fields: fields.clone(),
        }
    }
}

/// The refusal for `form`, if that is the form refused, and its value of
/// `name` (else `default`).
fn entered<'a>(refusal: Option<&'a Refusal>, form: &str, name: &str, default: &'a str) -> &'a str {
    match refusal {
        Some(r) if r.form == form => r.fields.get(name).map_or("", String::as_str),
        _ => default,
    }
}

fn error_for(refusal: Option<&Refusal>, form: &str) -> Markup {
    html! {
        @if let Some(r) = refusal.filter(|r| r.form == form) {
            div class="error" role="alert" id={ (form) "-error" } { p { (r.message) } }
        }
    }
}

const IAM: cognate_server::wire_error::Protocol =
    cognate_server::wire_error::Protocol::Query(cognate_core::operation::Service::Iam);

/// A refusal in IAM's words (its query protocol's codes).
fn error_message(error: &cognate_core::Error) -> String {
    super::error_message_as(error, IAM)
}

fn status_of(error: &cognate_core::Error) -> StatusCode {
    cognate_server::wire_error::ApiError::from_domain(error, IAM).status
}

/// IAM's name check (`roleName`, `policyName`), in the API's words.
fn check_name(member: &str, name: &str, max: usize) -> Result<(), cognate_core::Error> {
    let mut c = Checker::new();
    c.string(member, name, 1, max, Some(&v::IAM_NAME));
    c.finish()
}

fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.0.csrf); }
}

fn tabs() -> Markup {
    html! {
        p class="crumbs" {
            a href="/console/iam/roles" { "Roles" } " · "
            a href="/console/iam/policies" { "Managed policies" } " · "
            a href="/console/iam/providers" { "Identity providers" }
        }
    }
}

fn role_path(name: &str) -> String {
    format!("/console/iam/roles/{}", segment(name))
}

fn policy_path(arn: &str) -> String {
    format!("/console/iam/policy?arn={}", query_value(arn))
}

// ---- Roles ----

#[derive(Deserialize, Default)]
pub(crate) struct Notice {
    done: Option<String>,
    /// The list's page token: the page starts after it.
    after: Option<String>,
}

fn notice_text(done: Option<&str>) -> Option<&'static str> {
    // Only fixed words: the query is anyone's to write.
    match done? {
        "created" => Some("Created."),
        "saved" => Some("Saved."),
        "deleted" => Some("Deleted."),
        "attached" => Some("Attached."),
        "detached" => Some("Detached."),
        _ => None,
    }
}

fn notice(done: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = notice_text(done) {
            p class="notice" role="status" { (text) }
        }
    }
}

async fn roles_list_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    done: Option<&str>,
    after: Option<&str>,
    refusal: Option<&Refusal>,
) -> Response {
    // A page at a time with a link to the next: a list cut silently would
    // hide the roles past it (anyone allowed CreateRole can push one out).
    let (roles, more) = match console
        .app
        .cognate
        .iam()
        .list_roles(&console.caller(), None, LIST_MAX, after)
        .await
    {
        Ok(page) => page,
        Err(e) => return domain_error(signed, &e),
    };
    let body = html! {
        (tabs())
        h1 { "IAM roles" }
        (notice(done))
        @if roles.is_empty() {
            p { "There are no roles yet." }
        } @else {
            table id="roles" {
                caption { "Roles" }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "ARN" }
                    th scope="col" class="number" { "Inline policies" }
                    th scope="col" class="number" { "Attached policies" }
                    th scope="col" { "Created" }
                } }
                tbody {
                    @for role in &roles {
                        tr {
                            td { a href=(role_path(&role.name)) { (role.name) } }
                            td { code { (role.arn) } }
                            td class="number" { (role.inline_policies.len()) }
                            td class="number" { (role.attached_policies.len()) }
                            td { (time(role.created_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(more) = &more {
            p { a href={ "/console/iam/roles?after=" (query_value(more)) } rel="next" { "More roles" } }
        }
        h2 id="create-role-heading" { "Create a role" }
        (error_for(refusal, "create-role"))
        form method="post" action="/console/iam/roles" class="stacked" aria-labelledby="create-role-heading" {
            (csrf(signed))
            label for="role-name" { "Role name" }
            input id="role-name" name="name" type="text" required maxlength="64"
                value=(entered(refusal, "create-role", "name", ""));
            label for="role-description" { "Description" }
            input id="role-description" name="description" type="text" maxlength="1000"
                value=(entered(refusal, "create-role", "description", ""));
            label for="role-trust" { "Trust policy (JSON)" }
            textarea id="role-trust" name="trust" class="json" rows="16" {
                (entered(refusal, "create-role", "trust", TRUST_TEMPLATE))
            }
            p { button type="submit" { "Create the role" } }
        }
    };
    respond(status, page("IAM roles", Some(signed), Section::Iam, body))
}

pub(crate) async fn roles(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<Notice>,
) -> Response {
    roles_list_page(
        &console,
        StatusCode::OK,
        &signed,
        q.done.as_deref(),
        q.after.as_deref(),
        None,
    )
    .await
}

pub(crate) async fn create_role(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(fields): Form<Fields>,
) -> Response {
    let name = field(&fields, "name").trim().to_string();
    let description = field(&fields, "description").trim().to_string();
    let created = match check_name("roleName", &name, 64) {
        Ok(()) => {
            console
                .app
                .cognate
                .iam()
                .create_role(
                    &console.caller(),
                    NewRole {
                        name: name.clone(),
                        assume_role_policy_document: field(&fields, "trust").to_string(),
                        description: (!description.is_empty()).then_some(description),
                        ..NewRole::default()
                    },
                )
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(role) => {
            Redirect::to(&format!("{}?done=created", role_path(&role.name))).into_response()
        }
        Err(e) => {
            let refusal = Refusal::new("create-role", error_message(&e), &fields);
            roles_list_page(&console, status_of(&e), &signed, None, None, Some(&refusal)).await
        }
    }
}

async fn role_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    name: &str,
    done: Option<&str>,
    refusal: Option<&Refusal>,
) -> Response {
    let caller = console.caller();
    let iam = console.app.cognate.iam();
    let role: Role = match iam.role(&caller, name).await {
        Ok(role) => role,
        Err(e) => return domain_error(signed, &e),
    };
    let policies: Vec<ManagedPolicy> = iam
        .list_policies(&caller, &PolicyFilter::default(), LIST_MAX, None)
        .await
        .map(|(p, _)| p)
        .unwrap_or_default();
    let attachable: Vec<&ManagedPolicy> = policies
        .iter()
        .filter(|p| !role.attached_policies.contains(&p.arn))
        .collect();
    let path = role_path(&role.name);
    let trust_warnings =
        super::roles::trust_warnings(&role.assume_role_policy_document, None, "authenticated");
    let body = html! {
        (tabs())
        h1 { "Role " (role.name) }
        (notice(done))
        dl class="facts" {
            dt { "ARN" } dd { code id="role-arn" { (role.arn) } }
            dt { "Role id" } dd { code { (role.role_id) } }
            dt { "Path" } dd { code { (role.path) } }
            dt { "Description" } dd { (role.description.as_deref().unwrap_or("—")) }
            dt { "Maximum session" } dd { (role.max_session_duration) " s" }
            dt { "Created" } dd { (time(role.created_at)) }
            @for (k, val) in &role.tags {
                dt { "Tag " (k) } dd { (val) }
            }
        }
        p { a class="button" href=(super::simulator::for_role(&role.arn)) { "Simulate this role's policies" } }

        h2 id="trust-heading" { "Trust policy" }
        @if !trust_warnings.is_empty() {
            ul class="warning" { @for w in &trust_warnings { li class="trust-warning" { (w) } } }
        }
        (error_for(refusal, "trust"))
        form method="post" action={ (path) "/trust" } class="stacked" aria-labelledby="trust-heading" {
            (csrf(signed))
            label for="trust" { "Trust policy (JSON)" }
            textarea id="trust" name="document" class="json" rows="16" {
                (entered(refusal, "trust", "document", &role.assume_role_policy_document))
            }
            p { button type="submit" { "Save the trust policy" } }
        }

        h2 id="inline-heading" { "Inline policies" }
        @for (policy_name, document) in &role.inline_policies {
            section class="inline-policy" {
                h3 { (policy_name) }
                @let form_id = "inline";
                @let this = refusal.filter(|r| r.form == form_id && r.fields.get("name").map(String::as_str) == Some(policy_name.as_str()));
                (error_for(this, form_id))
                form method="post" action={ (path) "/policies" } class="stacked" {
                    (csrf(signed))
                    input type="hidden" name="name" value=(policy_name);
                    label for={ "inline-" (policy_name) } { "Policy " (policy_name) " (JSON)" }
                    textarea id={ "inline-" (policy_name) } name="document" class="json" rows="10" {
                        (entered(this, form_id, "document", document))
                    }
                    p { button type="submit" { "Save " (policy_name) } }
                }
                form method="post" action={ (path) "/policies/delete" } {
                    (csrf(signed))
                    input type="hidden" name="name" value=(policy_name);
                    button type="submit" class="danger" { "Delete " (policy_name) }
                }
            }
        }
        @if role.inline_policies.is_empty() {
            p { "No inline policies." }
        }
        h3 id="new-inline-heading" { "Add an inline policy" }
        @let new_inline = refusal.filter(|r| r.form == "inline" && !r.fields.get("name").is_some_and(|n| role.inline_policies.contains_key(n)));
        (error_for(new_inline, "inline"))
        form method="post" action={ (path) "/policies" } class="stacked" aria-labelledby="new-inline-heading" {
            (csrf(signed))
            label for="inline-name" { "Policy name" }
            input id="inline-name" name="name" type="text" required maxlength="128"
                value=(entered(new_inline, "inline", "name", ""));
            label for="inline-document" { "Policy (JSON)" }
            textarea id="inline-document" name="document" class="json" rows="10" {
                (entered(new_inline, "inline", "document", POLICY_TEMPLATE))
            }
            p { button type="submit" { "Add the inline policy" } }
        }

        h2 id="attached-heading" { "Attached managed policies" }
        (error_for(refusal, "attach"))
        @if role.attached_policies.is_empty() {
            p { "None attached." }
        } @else {
            ul id="attached" {
                @for arn in &role.attached_policies {
                    li {
                        a href=(policy_path(arn)) { code { (arn) } }
                        form method="post" action={ (path) "/detach" } class="inline" {
                            (csrf(signed))
                            input type="hidden" name="arn" value=(arn);
                            button type="submit" class="secondary" aria-label={ "Detach " (arn) } { "Detach" }
                        }
                    }
                }
            }
        }
        @if !attachable.is_empty() {
            form method="post" action={ (path) "/attach" } class="stacked" aria-labelledby="attached-heading" {
                (csrf(signed))
                label for="attach-arn" { "Managed policy to attach" }
                select id="attach-arn" name="arn" {
                    @for p in &attachable { option value=(p.arn) { (p.name) } }
                }
                p { button type="submit" { "Attach" } }
            }
        }

        h2 { "Delete" }
        p { a class="button danger" href={ (path) "/delete" } { "Delete this role…" } }
    };
    respond(status, page(&role.name, Some(signed), Section::Iam, body))
}

pub(crate) async fn role(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    role_page(
        &console,
        StatusCode::OK,
        &signed,
        &name,
        q.done.as_deref(),
        None,
    )
    .await
}

/// After a role's change: back to its page, or the page again with the
/// refusal beside `form`.
async fn after_role_change(
    console: &crate::Console,
    signed: &Signed,
    name: &str,
    form: &'static str,
    fields: &Fields,
    done: &str,
    result: Result<(), cognate_core::Error>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("{}?done={done}", role_path(name))).into_response(),
        Err(e) => {
            let refusal = Refusal::new(form, error_message(&e), fields);
            role_page(console, status_of(&e), signed, name, None, Some(&refusal)).await
        }
    }
}

pub(crate) async fn save_trust(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let result = console
        .app
        .cognate
        .iam()
        .update_assume_role_policy(&console.caller(), &name, field(&fields, "document"))
        .await;
    after_role_change(&console, &signed, &name, "trust", &fields, "saved", result).await
}

pub(crate) async fn put_inline(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let policy_name = field(&fields, "name").trim();
    let result = match check_name("policyName", policy_name, 128) {
        Ok(()) => {
            console
                .app
                .cognate
                .iam()
                .put_role_policy(
                    &console.caller(),
                    &name,
                    policy_name,
                    field(&fields, "document"),
                )
                .await
        }
        Err(e) => Err(e),
    };
    after_role_change(&console, &signed, &name, "inline", &fields, "saved", result).await
}

pub(crate) async fn delete_inline(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let result = console
        .app
        .cognate
        .iam()
        .delete_role_policy(&console.caller(), &name, field(&fields, "name"))
        .await;
    after_role_change(
        &console, &signed, &name, "inline", &fields, "deleted", result,
    )
    .await
}

pub(crate) async fn attach(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let result = console
        .app
        .cognate
        .iam()
        .attach_role_policy(&console.caller(), &name, field(&fields, "arn"))
        .await;
    after_role_change(
        &console, &signed, &name, "attach", &fields, "attached", result,
    )
    .await
}

pub(crate) async fn detach(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let result = console
        .app
        .cognate
        .iam()
        .detach_role_policy(&console.caller(), &name, field(&fields, "arn"))
        .await;
    after_role_change(
        &console, &signed, &name, "attach", &fields, "detached", result,
    )
    .await
}

pub(crate) async fn confirm_delete_role(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    let role = match console
        .app
        .cognate
        .iam()
        .role(&console.caller(), &name)
        .await
    {
        Ok(role) => role,
        Err(e) => return domain_error(&signed, &e),
    };
    let body = html! {
        h1 { "Delete the role " (role.name) "?" }
        p class="warning" {
            "Identity pools that use " code { (role.arn) } " stop vending credentials for it. "
            "IAM refuses while the role has inline or attached policies (DeleteConflict): remove them first."
        }
        form method="post" action={ (role_path(&role.name)) "/delete" } class="stacked" {
            (csrf(&signed))
            p { button type="submit" class="danger" { "Delete the role" } }
        }
        p { a href=(role_path(&role.name)) { "Cancel" } }
    };
    respond(
        StatusCode::OK,
        page("Delete a role", Some(&signed), Section::Iam, body),
    )
}

pub(crate) async fn delete_role(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    match console
        .app
        .cognate
        .iam()
        .delete_role(&console.caller(), &name)
        .await
    {
        Ok(()) => Redirect::to("/console/iam/roles?done=deleted").into_response(),
        Err(e) => {
            let refusal = Refusal::new("attach", error_message(&e), &Fields::new());
            role_page(
                &console,
                status_of(&e),
                &signed,
                &name,
                None,
                Some(&refusal),
            )
            .await
        }
    }
}

// ---- Managed policies ----

async fn policies_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    after: Option<&str>,
    refusal: Option<&Refusal>,
) -> Response {
    let (policies, more) = match console
        .app
        .cognate
        .iam()
        .list_policies(&console.caller(), &PolicyFilter::default(), LIST_MAX, after)
        .await
    {
        Ok(page) => page,
        Err(e) => return domain_error(signed, &e),
    };
    let body = html! {
        (tabs())
        h1 { "Managed policies" }
        @if policies.is_empty() {
            p { "There are no customer managed policies yet." }
        } @else {
            table id="policies" {
                caption { "Customer managed policies" }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "ARN" }
                    th scope="col" { "Default version" }
                    th scope="col" class="number" { "Attachments" }
                    th scope="col" { "Updated" }
                } }
                tbody {
                    @for p in &policies {
                        tr {
                            td { a href=(policy_path(&p.arn)) { (p.name) } }
                            td { code { (p.arn) } }
                            td { (p.default_version_id) }
                            td class="number" { (p.attachment_count) }
                            td { (time(p.updated_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(more) = &more {
            p { a href={ "/console/iam/policies?after=" (query_value(more)) } rel="next" { "More policies" } }
        }
        h2 id="create-policy-heading" { "Create a policy" }
        (error_for(refusal, "create-policy"))
        form method="post" action="/console/iam/policies" class="stacked" aria-labelledby="create-policy-heading" {
            (csrf(signed))
            label for="policy-name" { "Policy name" }
            input id="policy-name" name="name" type="text" required maxlength="128"
                value=(entered(refusal, "create-policy", "name", ""));
            label for="policy-description" { "Description" }
            input id="policy-description" name="description" type="text" maxlength="1000"
                value=(entered(refusal, "create-policy", "description", ""));
            label for="policy-document" { "Policy (JSON)" }
            textarea id="policy-document" name="document" class="json" rows="12" {
                (entered(refusal, "create-policy", "document", POLICY_TEMPLATE))
            }
            p { button type="submit" { "Create the policy" } }
        }
    };
    respond(
        status,
        page("Managed policies", Some(signed), Section::Iam, body),
    )
}

pub(crate) async fn policies(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<Notice>,
) -> Response {
    policies_page(&console, StatusCode::OK, &signed, q.after.as_deref(), None).await
}

pub(crate) async fn create_policy(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(fields): Form<Fields>,
) -> Response {
    let name = field(&fields, "name").trim().to_string();
    let description = field(&fields, "description").trim().to_string();
    let created = match check_name("policyName", &name, 128) {
        Ok(()) => {
            console
                .app
                .cognate
                .iam()
                .create_policy(
                    &console.caller(),
                    NewPolicy {
                        name,
                        document: field(&fields, "document").to_string(),
                        description: (!description.is_empty()).then_some(description),
                        ..NewPolicy::default()
                    },
                )
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(policy) => {
            Redirect::to(&format!("{}&done=created", policy_path(&policy.arn))).into_response()
        }
        Err(e) => {
            let refusal = Refusal::new("create-policy", error_message(&e), &fields);
            policies_page(&console, status_of(&e), &signed, None, Some(&refusal)).await
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ArnQuery {
    #[serde(default)]
    arn: String,
    done: Option<String>,
}

async fn policy_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    arn: &str,
    done: Option<&str>,
    refusal: Option<&Refusal>,
) -> Response {
    let caller = console.caller();
    let iam = console.app.cognate.iam();
    let policy = match iam.policy_versions(&caller, arn).await {
        Ok(p) => p,
        Err(e) => return domain_error(signed, &e),
    };
    // Every role, not a first page: one past it would be missing here.
    let mut attached_to: Vec<Role> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let (roles, next) = match iam
            .list_roles(&caller, None, LIST_MAX, marker.as_deref())
            .await
        {
            Ok(page) => page,
            Err(e) => return domain_error(signed, &e),
        };
        attached_to.extend(
            roles
                .into_iter()
                .filter(|r| r.attached_policies.contains(&policy.arn)),
        );
        match next {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    let default_doc = policy.default_document().unwrap_or_default().to_string();
    let body = html! {
        (tabs())
        h1 { "Policy " (policy.name) }
        (notice(done))
        dl class="facts" {
            dt { "ARN" } dd { code { (policy.arn) } }
            dt { "Policy id" } dd { code { (policy.policy_id) } }
            dt { "Description" } dd { (policy.description.as_deref().unwrap_or("—")) }
            dt { "Default version" } dd { (policy.default_version_id) }
            dt { "Created" } dd { (time(policy.created_at)) }
        }
        h2 { "Attached to" }
        @if attached_to.is_empty() {
            p { "No role." }
        } @else {
            ul id="attachments" { @for r in &attached_to { li { a href=(role_path(&r.name)) { (r.name) } } } }
        }
        h2 { "Versions" }
        @for version in &policy.versions {
            section class="policy-version" {
                h3 {
                    (version.version_id)
                    @if version.version_id == policy.default_version_id { " (default)" }
                    " · " (time(version.created_at))
                }
                pre { code { (version.document) } }
            }
        }
        h2 id="new-version-heading" { "New version" }
        p class="help" { "IAM keeps five versions: delete one (DeletePolicyVersion) before a sixth." }
        (error_for(refusal, "version"))
        form method="post" action="/console/iam/policy/versions" class="stacked" aria-labelledby="new-version-heading" {
            (csrf(signed))
            input type="hidden" name="arn" value=(policy.arn);
            label for="version-document" { "Policy (JSON)" }
            textarea id="version-document" name="document" class="json" rows="12" {
                (entered(refusal, "version", "document", &default_doc))
            }
            div class="check" {
                input id="set-default" name="set_default" type="checkbox" checked;
                label for="set-default" { "Make it the default version" }
            }
            p { button type="submit" { "Create the version" } }
        }
    };
    respond(status, page(&policy.name, Some(signed), Section::Iam, body))
}

pub(crate) async fn policy(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<ArnQuery>,
) -> Response {
    policy_page(
        &console,
        StatusCode::OK,
        &signed,
        &q.arn,
        q.done.as_deref(),
        None,
    )
    .await
}

pub(crate) async fn create_policy_version(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(fields): Form<Fields>,
) -> Response {
    let arn = field(&fields, "arn").to_string();
    match console
        .app
        .cognate
        .iam()
        .create_policy_version(
            &console.caller(),
            &arn,
            field(&fields, "document"),
            fields.contains_key("set_default"),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("{}&done=saved", policy_path(&arn))).into_response(),
        Err(e) => {
            let refusal = Refusal::new("version", error_message(&e), &fields);
            policy_page(&console, status_of(&e), &signed, &arn, None, Some(&refusal)).await
        }
    }
}

// ---- Identity providers ----

async fn providers_page(
    console: &crate::Console,
    status: StatusCode,
    signed: &Signed,
    done: Option<&str>,
    refusal: Option<&Refusal>,
) -> Response {
    let caller = console.caller();
    let iam = console.app.cognate.iam();
    let oidc = match iam.list_oidc_providers(&caller).await {
        Ok(p) => p,
        Err(e) => return domain_error(signed, &e),
    };
    let saml = match iam.list_saml_providers(&caller).await {
        Ok(p) => p,
        Err(e) => return domain_error(signed, &e),
    };
    let body = html! {
        (tabs())
        h1 { "Identity providers" }
        (notice(done))
        h2 { "OpenID Connect" }
        @if oidc.is_empty() { p { "None." } } @else {
            table id="oidc-providers" {
                thead { tr { th scope="col" { "URL" } th scope="col" { "Client ids" } th scope="col" { "Created" } } }
                tbody {
                    @for p in &oidc {
                        tr {
                            td { a href={ "/console/iam/provider?arn=" (query_value(&p.arn)) } { (p.url) } }
                            td { (p.client_ids.join(", ")) }
                            td { (time(p.created_at)) }
                        }
                    }
                }
            }
        }
        h3 id="create-oidc-heading" { "Add an OpenID Connect provider" }
        (error_for(refusal, "oidc"))
        form method="post" action="/console/iam/providers/oidc" class="stacked" aria-labelledby="create-oidc-heading" {
            (csrf(signed))
            label for="oidc-url" { "Provider URL" }
            input id="oidc-url" name="url" type="url" required placeholder="https://login.example.com"
                value=(entered(refusal, "oidc", "url", ""));
            label for="oidc-clients" { "Client ids (audiences), one per line" }
            textarea id="oidc-clients" name="client_ids" rows="2" { (entered(refusal, "oidc", "client_ids", "")) }
            label for="oidc-thumbprints" { "Thumbprints, one per line (optional)" }
            textarea id="oidc-thumbprints" name="thumbprints" rows="2" { (entered(refusal, "oidc", "thumbprints", "")) }
            p { button type="submit" { "Add the provider" } }
        }
        h2 { "SAML" }
        @if saml.is_empty() { p { "None." } } @else {
            table id="saml-providers" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "ARN" } th scope="col" { "Valid until" } } }
                tbody {
                    @for p in &saml {
                        tr {
                            td { a href={ "/console/iam/provider?arn=" (query_value(&p.arn)) } { (p.name) } }
                            td { code { (p.arn) } }
                            td { (p.valid_until.map_or_else(|| "—".to_string(), time)) }
                        }
                    }
                }
            }
        }
        h3 id="create-saml-heading" { "Add a SAML provider" }
        (error_for(refusal, "saml"))
        form method="post" action="/console/iam/providers/saml" class="stacked" aria-labelledby="create-saml-heading" {
            (csrf(signed))
            label for="saml-name" { "Name" }
            input id="saml-name" name="name" type="text" required maxlength="128"
                value=(entered(refusal, "saml", "name", ""));
            label for="saml-metadata" { "The IdP's metadata document (XML)" }
            textarea id="saml-metadata" name="metadata" class="json" rows="8" { (entered(refusal, "saml", "metadata", "")) }
            p { button type="submit" { "Add the provider" } }
        }
    };
    respond(
        status,
        page("Identity providers", Some(signed), Section::Iam, body),
    )
}

pub(crate) async fn providers(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<Notice>,
) -> Response {
    providers_page(&console, StatusCode::OK, &signed, q.done.as_deref(), None).await
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) async fn create_oidc(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(fields): Form<Fields>,
) -> Response {
    match console
        .app
        .cognate
        .iam()
        .create_oidc_provider(
            &console.caller(),
            field(&fields, "url").trim(),
            lines(field(&fields, "client_ids")),
            lines(field(&fields, "thumbprints")),
        )
        .await
    {
        Ok(_) => Redirect::to("/console/iam/providers?done=created").into_response(),
        Err(e) => {
            let refusal = Refusal::new("oidc", error_message(&e), &fields);
            providers_page(&console, status_of(&e), &signed, None, Some(&refusal)).await
        }
    }
}

pub(crate) async fn create_saml(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(fields): Form<Fields>,
) -> Response {
    let name = field(&fields, "name").trim();
    let mut c = Checker::new();
    c.string("name", name, 1, 128, Some(&v::SAML_PROVIDER_NAME));
    let created = match c.finish() {
        Ok(()) => {
            console
                .app
                .cognate
                .iam()
                .create_saml_provider(
                    &console.caller(),
                    name,
                    field(&fields, "metadata"),
                    BTreeMap::new(),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(_) => Redirect::to("/console/iam/providers?done=created").into_response(),
        Err(e) => {
            let refusal = Refusal::new("saml", error_message(&e), &fields);
            providers_page(&console, status_of(&e), &signed, None, Some(&refusal)).await
        }
    }
}

pub(crate) async fn provider(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<ArnQuery>,
) -> Response {
    let caller = console.caller();
    let iam = console.app.cognate.iam();
    let details = if q.arn.contains(":oidc-provider/") {
        match iam.oidc_provider(&caller, &q.arn).await {
            Ok(p) => html! {
                h1 { "OpenID Connect provider " (p.url) }
                dl class="facts" {
                    dt { "ARN" } dd { code { (p.arn) } }
                    dt { "URL" } dd { (p.url) }
                    dt { "Client ids" } dd { (p.client_ids.join(", ")) }
                    dt { "Thumbprints" } dd { (p.thumbprints.join(", ")) }
                    dt { "Created" } dd { (time(p.created_at)) }
                    @for (k, val) in &p.tags { dt { "Tag " (k) } dd { (val) } }
                }
            },
            Err(e) => return domain_error(&signed, &e),
        }
    } else {
        match iam.saml_provider(&caller, &q.arn).await {
            Ok(p) => html! {
                h1 { "SAML provider " (p.name) }
                dl class="facts" {
                    dt { "ARN" } dd { code { (p.arn) } }
                    dt { "Created" } dd { (time(p.created_at)) }
                    dt { "Valid until" } dd { (p.valid_until.map_or_else(|| "—".to_string(), time)) }
                    @for (k, val) in &p.tags { dt { "Tag " (k) } dd { (val) } }
                }
                h2 { "Metadata" }
                pre { code { (p.metadata) } }
            },
            Err(e) => return domain_error(&signed, &e),
        }
    };
    let body = html! {
        (tabs())
        (details)
        h2 { "Delete" }
        p class="warning" { "Identity pools that name this provider stop accepting its logins." }
        form method="post" action="/console/iam/providers/delete" class="stacked" {
            (csrf(&signed))
            input type="hidden" name="arn" value=(q.arn);
            div class="check" {
                input id="confirm-delete" name="confirm" type="checkbox" required;
                label for="confirm-delete" { "Yes, delete this provider" }
            }
            p { button type="submit" class="danger" { "Delete the provider" } }
        }
    };
    respond(
        StatusCode::OK,
        page("Identity provider", Some(&signed), Section::Iam, body),
    )
}

pub(crate) async fn delete_provider(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(fields): Form<Fields>,
) -> Response {
    let arn = field(&fields, "arn");
    if !fields.contains_key("confirm") {
        return Redirect::to(&format!("/console/iam/provider?arn={}", query_value(arn)))
            .into_response();
    }
    let caller = console.caller();
    let iam = console.app.cognate.iam();
    let deleted = if arn.contains(":oidc-provider/") {
        iam.delete_oidc_provider(&caller, arn).await
    } else {
        iam.delete_saml_provider(&caller, arn).await
    };
    match deleted {
        Ok(()) => Redirect::to("/console/iam/providers?done=deleted").into_response(),
        Err(e) => domain_error(&signed, &e),
    }
}
