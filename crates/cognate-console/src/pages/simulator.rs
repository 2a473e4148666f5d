//! The policy simulator: for an identity (the role GetCredentialsForIdentity
//! would give it, a guest's scoped down by the guest session policy) or a
//! role, an action, a resource and context keys, the decision and the
//! statements that decided it. It runs IAM SimulatePrincipalPolicy's
//! domain code (`cognate_core::authz`), the same evaluation the server
//! authorizes requests with. Posted (with the CSRF token) rather than a
//! query, so context values stay out of URLs and logs.

use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Form};
use cognate_core::authz::{Simulation, SimulationResult};
use cognate_policy::{Effect, EvalDecision};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Section, error_message, page, respond, segment};
use crate::Shared;
use crate::guard::Signed;

#[derive(Deserialize, Default, Clone)]
pub(crate) struct SimulatorForm {
    /// "identity" or "role".
    #[serde(default)]
    principal: String,
    #[serde(default)]
    identity_id: String,
    #[serde(default)]
    role_arn: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource: String,
    /// `key=value` lines; a key given on several lines has several values.
    #[serde(default)]
    context: String,
}

/// What the simulation found, or why it could not run.
enum Outcome {
    Result {
        role_arn: String,
        guest: bool,
        result: Box<SimulationResult>,
    },
    Error(String),
}

fn context_entries(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("Line {} of the context keys must be key=value.", n + 1))?;
        let (key, value) = (key.trim(), value.trim());
        match out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some((_, values)) => values.push(value.to_string()),
            None => out.push((key.to_string(), vec![value.to_string()])),
        }
    }
    Ok(out)
}

async fn run(console: &crate::Console, form: &SimulatorForm) -> Outcome {
    let action = form.action.trim();
    if action.is_empty() {
        return Outcome::Error("Give an action, e.g. s3:GetObject.".into());
    }
    let context = match context_entries(&form.context) {
        Ok(c) => c,
        Err(e) => return Outcome::Error(e),
    };
    let resource = form.resource.trim();
    let simulation = Simulation {
        action_names: vec![action.to_string()],
        resource_arns: if resource.is_empty() {
            Vec::new()
        } else {
            vec![resource.to_string()]
        },
        context,
        ..Simulation::default()
    };
    let caller = console.caller();
    let iam = console.app.cognate.iam();
    let found = if form.principal == "role" {
        let simulation = Simulation {
            policy_source_arn: Some(form.role_arn.trim().to_string()),
            ..simulation
        };
        iam.simulate_principal_policy(&caller, &simulation)
            .await
            .map(|results| (form.role_arn.trim().to_string(), false, results))
    } else {
        iam.simulate_identity(&caller, form.identity_id.trim(), &simulation)
            .await
            .map(|s| (s.role_arn, s.guest, s.results))
    };
    match found {
        Ok((role_arn, guest, mut results)) if !results.is_empty() => Outcome::Result {
            role_arn,
            guest,
            result: Box::new(results.swap_remove(0)),
        },
        Ok(_) => Outcome::Error("The simulation gave no result.".into()),
        Err(e) => Outcome::Error(error_message(&e)),
    }
}

fn decision_text(decision: EvalDecision) -> (&'static str, &'static str) {
    match decision {
        EvalDecision::Allowed => ("allowed", "decision-allowed"),
        EvalDecision::ExplicitDeny => ("explicitly denied", "decision-denied"),
        EvalDecision::ImplicitDeny => ("implicitly denied", "decision-denied"),
    }
}

fn outcome_markup(outcome: &Outcome) -> Markup {
    match outcome {
        Outcome::Error(message) => html! {
            div class="error" role="alert" id="form-error" { p { (message) } }
        },
        Outcome::Result {
            role_arn,
            guest,
            result,
        } => {
            let (text, class) = decision_text(result.decision);
            html! {
                section aria-labelledby="result-heading" id="result" {
                    h2 id="result-heading" { "Result" }
                    p id="decision" role="status" {
                        code { (result.action) } " on " code { (result.resource) } " is "
                        strong class=(class) { (text) } "."
                    }
                    dl class="facts" {
                        dt { "Role" }
                        dd { code { (role_arn) } }
                        @if *guest {
                            dt { "Session policy" }
                            dd { "A guest's credentials are scoped down by AWS's guest session policy: an action outside it is denied whatever the role allows." }
                        }
                    }
                    @match result.decision {
                        EvalDecision::ImplicitDeny => {
                            p { "No statement allows it, and none denies it." }
                        }
                        _ => {
                            table id="deciding" {
                                caption { "The statements that decided it" }
                                thead { tr {
                                    th scope="col" { "Policy" }
                                    th scope="col" { "Kind" }
                                    th scope="col" { "Statement" }
                                    th scope="col" { "Effect" }
                                } }
                                tbody {
                                    @for st in &result.statements {
                                        tr {
                                            td { (st.policy_id) }
                                            td { (st.policy_type) }
                                            td {
                                                @match &st.sid {
                                                    Some(sid) => { "Sid " code { (sid) } }
                                                    None => { "Statement " (st.statement_index + 1) " (no Sid)" }
                                                }
                                            }
                                            td { @if st.effect == Effect::Deny { "Deny" } @else { "Allow" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if !result.missing_context_values.is_empty() {
                        p class="warning" {
                            "Context keys a matching statement's condition reads but were not given: "
                            @for (i, key) in result.missing_context_values.iter().enumerate() {
                                @if i > 0 { ", " }
                                code { (key) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn simulator_page(signed: &Signed, form: &SimulatorForm, outcome: Option<&Outcome>) -> Markup {
    let by_role = form.principal == "role";
    let body = html! {
        h1 { "Policy simulator" }
        p { "Would this request be allowed? The decision is the server's own policy evaluation, with the statements that decided it." }
        @if let Some(outcome) = outcome {
            (outcome_markup(outcome))
        }
        form method="post" action="/console/simulator" class="stacked" {
            input type="hidden" name="csrf" value=(signed.0.csrf);
            fieldset {
                legend { "Who" }
                div class="check" {
                    input type="radio" id="principal-identity" name="principal" value="identity" checked[!by_role];
                    label for="principal-identity" { "An identity (with the role it would get)" }
                }
                div class="check" {
                    input type="radio" id="principal-role" name="principal" value="role" checked[by_role];
                    label for="principal-role" { "A role" }
                }
            }
            label for="identity_id" { "Identity id" }
            input id="identity_id" name="identity_id" type="text" value=(form.identity_id)
                placeholder="us-east-1:…" aria-describedby="identity-help";
            p class="help" id="identity-help" { "A guest gets the pool's unauthenticated role and the guest session policy; an identity with logins the authenticated role (role mappings read token claims, which the simulator does not have)." }
            label for="role_arn" { "Role ARN" }
            input id="role_arn" name="role_arn" type="text" value=(form.role_arn);
            label for="action" { "Action" }
            input id="action" name="action" type="text" value=(form.action) placeholder="s3:GetObject";
            label for="resource" { "Resource ARN" }
            input id="resource" name="resource" type="text" value=(form.resource)
                placeholder="*" aria-describedby="resource-help";
            p class="help" id="resource-help" { "Blank for *." }
            label for="context" { "Context keys" }
            textarea id="context" name="context" rows="4" aria-describedby="context-help" { (form.context) }
            p class="help" id="context-help" { "One per line: " code { "aws:SourceIp=203.0.113.7" } ". For an identity, its " code { "cognito-identity.amazonaws.com:aud" } ", " code { ":sub" } " and " code { ":amr" } " are filled in unless given." }
            p { button type="submit" { "Simulate" } }
        }
    };
    page("Policy simulator", Some(signed), Section::Simulator, body)
}

#[derive(Deserialize, Default)]
pub(crate) struct SimulatorQuery {
    identity: Option<String>,
    role: Option<String>,
}

pub(crate) async fn form(
    Extension(signed): Extension<Signed>,
    axum::extract::Query(query): axum::extract::Query<SimulatorQuery>,
) -> Response {
    let form = SimulatorForm {
        principal: if query.role.is_some() {
            "role"
        } else {
            "identity"
        }
        .into(),
        identity_id: query.identity.unwrap_or_default(),
        role_arn: query.role.unwrap_or_default(),
        ..SimulatorForm::default()
    };
    respond(StatusCode::OK, simulator_page(&signed, &form, None))
}

pub(crate) async fn simulate(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<SimulatorForm>,
) -> Response {
    let outcome = run(&console, &form).await;
    let status = match outcome {
        Outcome::Error(_) => StatusCode::BAD_REQUEST,
        Outcome::Result { .. } => StatusCode::OK,
    };
    respond(status, simulator_page(&signed, &form, Some(&outcome)))
}

/// A link to the simulator for a role.
pub(crate) fn for_role(arn: &str) -> String {
    format!("/console/simulator?role={}", segment(arn))
}
