//! Activity: the audit trail as the database holds it (`[audit]
//! database`), newest first, filtered by pool, identity, kind and time,
//! a page at a time. Pages are cut by keyset ("older" starts after the
//! last event shown), so a page costs one index range at any depth.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use cognate_core::audit::{AuditQuery, AuditRecord, KINDS};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Section, domain_error, page, query_value, respond, segment};
use crate::Shared;
use crate::guard::Signed;

/// Events per page.
const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub(crate) struct ActivityQuery {
    pool: Option<String>,
    identity: Option<String>,
    kind: Option<String>,
    /// `YYYY-MM-DDTHH:MM` (what a datetime-local control sends), UTC.
    since: Option<String>,
    until: Option<String>,
    /// The page token: `<at>.<id>` of the last event of the page before.
    before: Option<String>,
}

/// A form value, trimmed; empty is unset.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A UTC time as the form sends it, in Unix milliseconds.
fn parse_time(value: &str) -> Option<i64> {
    let parsed = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0))
    })?;
    Some(parsed.and_utc().timestamp_millis())
}

fn parse_token(token: &str) -> Option<(i64, String)> {
    let (at, id) = token.split_once('.')?;
    let at = at.parse().ok()?;
    (!id.is_empty()).then(|| (at, id.to_string()))
}

/// The query the form asks for, or what is wrong with it (in words).
fn audit_query(form: &ActivityQuery) -> Result<AuditQuery, String> {
    let time = |value: &Option<String>, name: &str| -> Result<Option<i64>, String> {
        given(value)
            .map(|v| {
                parse_time(v).ok_or_else(|| {
                    format!("{name} must be a time as YYYY-MM-DD HH:MM (UTC), got '{v}'.")
                })
            })
            .transpose()
    };
    let kind = given(&form.kind).map(str::to_string);
    if let Some(kind) = &kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(format!("There is no kind of event '{kind}'."));
    }
    let before = given(&form.before)
        .map(|t| parse_token(t).ok_or_else(|| "The page token is invalid.".to_string()))
        .transpose()?;
    Ok(AuditQuery {
        pool_id: given(&form.pool).map(str::to_string),
        identity_id: given(&form.identity).map(str::to_string),
        kind,
        since: time(&form.since, "From")?,
        until: time(&form.until, "Until")?,
        before,
    })
}

/// Unix milliseconds as a UTC date and time.
fn time_millis(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).map_or_else(
        || millis.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
    )
}

fn pool_link(pool_id: &str) -> Markup {
    html! {
        a href={ "/console/pools/" (segment(pool_id)) } { code { (pool_id) } }
        " "
        a class="filter" href={ "/console/activity?pool=" (query_value(pool_id)) }
            aria-label={ "Only the activity of pool " (pool_id) } { "(only)" }
    }
}

fn identity_link(identity_id: &str) -> Markup {
    html! {
        a href={ "/console/identities/" (segment(identity_id)) } { code { (identity_id) } }
        " "
        a class="filter" href={ "/console/activity?identity=" (query_value(identity_id)) }
            aria-label={ "Only the activity of identity " (identity_id) } { "(only)" }
    }
}

/// The detail object as "name: value" pairs, every value as text.
fn detail(event: &AuditRecord) -> Markup {
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&event.detail).unwrap_or_default();
    html! {
        @for (i, (name, value)) in fields.iter().enumerate() {
            @if i > 0 { ", " }
            (name) ": "
            @match value {
                serde_json::Value::String(s) => code { (s) },
                other => code { (other.to_string()) },
            }
        }
    }
}

fn row(event: &AuditRecord) -> Markup {
    html! {
        tr {
            td { (time_millis(event.at)) }
            td { (event.kind) }
            td { @if let Some(pool) = &event.pool_id { (pool_link(pool)) } }
            td {
                @if let Some(identity) = &event.identity_id {
                    (identity_link(identity))
                }
                @if let Some(other) = &event.other_identity_id {
                    " into " (identity_link(other))
                }
            }
            td { code { (event.caller) } }
            td { (detail(event)) }
        }
    }
}

/// The query string of `query`'s filters (not its page), `&`-joined.
fn filters(form: &ActivityQuery) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("pool", &form.pool),
        ("identity", &form.identity),
        ("kind", &form.kind),
        ("since", &form.since),
        ("until", &form.until),
    ] {
        if let Some(v) = given(value) {
            parts.push(format!("{name}={}", query_value(v)));
        }
    }
    parts.join("&")
}

pub(crate) async fn list(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Query(form): Query<ActivityQuery>,
) -> Response {
    let (events, error) = match audit_query(&form) {
        Ok(query) => {
            match console
                .app
                .cognate
                .audit_events(&console.caller(), &query, PAGE)
                .await
            {
                Ok(events) => (events, None),
                Err(e) => return domain_error(&signed, &e),
            }
        }
        Err(message) => (Vec::new(), Some(message)),
    };
    let enabled = console.app.cognate.audit_trail().stats().enabled;
    let selected_kind = given(&form.kind);
    let filter = filters(&form);
    let older = (events.len() == PAGE)
        .then(|| events.last())
        .flatten()
        .map(|last| {
            let token = format!("{}.{}", last.at, last.id);
            let sep = if filter.is_empty() { "" } else { "&" };
            format!(
                "/console/activity?{filter}{sep}before={}",
                query_value(&token)
            )
        });
    let body = html! {
        h1 { "Activity" }
        @if !enabled {
            p class="notice" role="status" {
                "This node does not record the audit trail in the database ([audit] database = false): "
                "what other nodes recorded, or this one before, is shown."
            }
        }
        form method="get" action="/console/activity" class="inline" role="search" {
            div {
                label for="pool" { "Identity pool id" }
                input id="pool" name="pool" type="search" placeholder="us-east-1:…" value=[given(&form.pool)];
            }
            div {
                label for="identity" { "Identity id" }
                input id="identity" name="identity" type="search" placeholder="us-east-1:…" value=[given(&form.identity)];
            }
            div {
                label for="kind" { "Kind" }
                select id="kind" name="kind" {
                    option value="" selected[selected_kind.is_none()] { "Any" }
                    @for kind in KINDS {
                        option value=(kind) selected[selected_kind == Some(*kind)] { (kind) }
                    }
                }
            }
            div {
                label for="since" { "From (UTC)" }
                input id="since" name="since" type="datetime-local" value=[given(&form.since)];
            }
            div {
                label for="until" { "Until (UTC)" }
                input id="until" name="until" type="datetime-local" value=[given(&form.until)];
            }
            button type="submit" { "Filter" }
            " "
            a href="/console/activity" { "Clear" }
        }
        @if let Some(error) = &error {
            p class="error" role="alert" { (error) }
        } @else if events.is_empty() {
            p { @if form.before.is_some() { "No older events." } @else { "No events match." } }
        } @else {
            table id="activity" {
                caption { "Events, newest first" @if form.before.is_some() { " (an older page)" } }
                thead { tr {
                    th scope="col" { "Time" }
                    th scope="col" { "Kind" }
                    th scope="col" { "Identity pool" }
                    th scope="col" { "Identity" }
                    th scope="col" { "Caller" }
                    th scope="col" { "Detail" }
                } }
                tbody {
                    @for event in &events { (row(event)) }
                }
            }
        }
        nav aria-label="Pages" class="pages" {
            @if form.before.is_some() {
                a href={ "/console/activity?" (filter) } { "Newest" }
            }
            @if let Some(older) = &older {
                " "
                a href=(older) rel="next" { "Older" }
            }
        }
        p class="help" {
            "Every change to pools, identities, IAM roles, policies and providers, and every key rotated "
            "(credentials vended too, with [audit] credentials = true), "
            "by whom: an assumed-role ARN, admin (the admin key), console, anonymous (an unsigned public call) "
            "or cognate (the server itself). Logins are named by provider only; no token or secret is recorded."
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(
        status,
        page("Activity", Some(&signed), Section::Activity, body),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_tokens_and_kinds_are_checked() {
        assert_eq!(parse_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_token("12.abc"), Some((12, "abc".into())));
        assert_eq!(parse_token("x.abc"), None);
        assert_eq!(parse_token("12."), None);
        let form = ActivityQuery {
            kind: Some("nope".into()),
            ..Default::default()
        };
        assert!(audit_query(&form).is_err());
        let form = ActivityQuery {
            kind: Some("pool_created".into()),
            since: Some(" ".into()),
            ..Default::default()
        };
        let query = audit_query(&form).unwrap();
        assert_eq!(query.kind.as_deref(), Some("pool_created"));
        assert_eq!(query.since, None);
    }
}
