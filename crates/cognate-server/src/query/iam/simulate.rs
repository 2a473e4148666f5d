//! The policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy.

use cognate_core::authz::{Simulation, SimulationResult};
use cognate_core::service::page_token;

use super::{err, marker, max_items, required};
use crate::call::Context;
use crate::query::{Params, QueryOperation};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::XmlWriter;

/// A simulation and the page of its results to answer with.
pub struct SimulationInput {
    simulation: Simulation,
    max_items: usize,
    marker: Option<String>,
}

impl SimulationInput {
    /// The members both simulations share, and the page to answer with.
    fn parse(params: &Params, c: &mut Checker) -> SimulationInput {
        let (simulation, marker) = simulation(c, params);
        SimulationInput {
            simulation,
            max_items: max_items(c, params),
            marker,
        }
    }

    fn answer(&self, results: &[SimulationResult], w: &mut XmlWriter) -> Result<(), ApiError> {
        write_simulation(self.marker.as_deref(), self.max_items, results, w)
    }
}

pub struct SimulatePrincipalPolicyInput(SimulationInput);

impl QueryOperation for SimulatePrincipalPolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let source = required(c, params, "PolicySourceArn", "policySourceArn");
        c.arn("policySourceArn", &source);
        let mut input = SimulationInput::parse(params, c);
        input.simulation.policy_source_arn = Some(source);
        Ok(SimulatePrincipalPolicyInput(input))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let results = iam.simulate_principal_policy(&cx.caller, &self.0.simulation);
        let results = results.await.map_err(err)?;
        self.0.answer(&results, w)
    }
}

pub struct SimulateCustomPolicyInput(SimulationInput);

impl QueryOperation for SimulateCustomPolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        if params.get("PolicyInputList").is_none() && params.list("PolicyInputList").is_empty() {
            let _ = c.required::<String>("policyInputList", &None);
        }
        Ok(SimulateCustomPolicyInput(SimulationInput::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let results = iam.simulate_custom_policy(&cx.caller, &self.0.simulation);
        let results = results.await.map_err(err)?;
        self.0.answer(&results, w)
    }
}

/// The members of a simulation request both simulate operations share.
fn simulation(c: &mut Checker, params: &Params) -> (Simulation, Option<String>) {
    let action_names = params.list("ActionNames");
    if params.get("ActionNames").is_none() && action_names.is_empty() {
        let _ = c.required::<String>("actionNames", &None);
    }
    for a in &action_names {
        c.string("actionNames", a, 3, 128, None);
    }
    let resource_arns = params.list("ResourceArns");
    for r in &resource_arns {
        c.string("resourceArns", r, 1, 2048, None);
    }
    let policy_input_list = params.list("PolicyInputList");
    for p in &policy_input_list {
        c.string("policyInputList", p, 1, 131072, Some(&v::POLICY_DOCUMENT));
    }
    let boundary = params.list("PermissionsBoundaryPolicyInputList");
    for p in &boundary {
        c.string(
            "permissionsBoundaryPolicyInputList",
            p,
            1,
            131072,
            Some(&v::POLICY_DOCUMENT),
        );
    }
    let marker = marker(c, params);
    let caller_arn = params.get("CallerArn").map(str::to_string);
    c.opt_string("callerArn", &caller_arn, 1, 2048, None);
    let mut context = Vec::new();
    for entry in params.structs("ContextEntries") {
        let name = entry.get("ContextKeyName").map(str::to_string);
        if let Some(n) = c.required("contextEntries.member.contextKeyName", &name) {
            c.string("contextEntries.member.contextKeyName", n, 5, 256, None);
        }
        if let Some(t) = entry.get("ContextKeyType") {
            c.one_of(
                "contextEntries.member.contextKeyType",
                t,
                &[
                    "string",
                    "stringList",
                    "numeric",
                    "numericList",
                    "boolean",
                    "booleanList",
                    "ip",
                    "ipList",
                    "binary",
                    "binaryList",
                    "date",
                    "dateList",
                ],
            );
        }
        context.push((name.unwrap_or_default(), entry.list("ContextKeyValues")));
    }
    let simulation = Simulation {
        policy_source_arn: None,
        policy_input_list,
        permissions_boundary_policy_input_list: boundary,
        action_names,
        resource_arns,
        context,
        caller_arn,
    };
    (simulation, marker)
}

/// EvaluationResults, paged by MaxItems/Marker (the marker is the index
/// of the next result).
fn write_simulation(
    marker: Option<&str>,
    max: usize,
    results: &[SimulationResult],
    w: &mut XmlWriter,
) -> Result<(), ApiError> {
    let start = match marker {
        Some(m) => page_token::decode(m)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| {
                err(cognate_core::Error::InvalidInput(
                    "The marker is invalid.".into(),
                ))
            })?,
        None => 0,
    };
    let end = results.len().min(start.saturating_add(max));
    w.open("EvaluationResults");
    for r in results.get(start..end).unwrap_or_default() {
        w.open("member")
            .leaf("EvalActionName", &r.action)
            .leaf("EvalResourceName", &r.resource)
            .leaf("EvalDecision", r.decision.as_iam_str());
        w.open("MatchedStatements");
        for m in &r.matched {
            w.open("member")
                .leaf("SourcePolicyId", &m.source_policy_id)
                .leaf("SourcePolicyType", m.source_policy_type)
                .close("member");
        }
        w.close("MatchedStatements");
        w.open("MissingContextValues");
        for k in &r.missing_context_values {
            w.leaf("member", k);
        }
        w.close("MissingContextValues");
        if let Some(allowed) = r.allowed_by_permissions_boundary {
            w.open("PermissionsBoundaryDecisionDetail")
                .leaf(
                    "AllowedByPermissionsBoundary",
                    if allowed { "true" } else { "false" },
                )
                .close("PermissionsBoundaryDecisionDetail");
        }
        w.close("member");
    }
    w.close("EvaluationResults");
    let truncated = end < results.len();
    w.leaf("IsTruncated", if truncated { "true" } else { "false" });
    if truncated {
        w.leaf("Marker", &page_token::encode(&end.to_string()));
    }
    Ok(())
}
