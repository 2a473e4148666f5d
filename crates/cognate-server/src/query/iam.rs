//! IAM: roles with trust, inline and attached managed policies, customer
//! managed policies, the policy simulator, and OpenID Connect providers.

use cognate_core::authz::{Simulation, SimulationResult};
use cognate_core::iam::{NewPolicy, NewRole, PolicyFilter};
use cognate_core::model::{ManagedPolicy, OidcProvider, Role};
use std::collections::BTreeMap;

use cognate_core::service::page_token;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::call::Context;
use crate::operation::{Operation, Service};
use crate::query::{Params, domain};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::{XmlWriter, timestamp};

fn err(e: cognate_core::Error) -> ApiError {
    domain(Service::Iam)(e)
}

/// IAM returns policy documents URL-encoded (botocore decodes them).
fn encode_policy(doc: &str) -> String {
    utf8_percent_encode(doc, NON_ALPHANUMERIC).to_string()
}

fn required(c: &mut Checker, params: &Params, name: &str, member: &str) -> String {
    let value = params.get(name).map(str::to_string);
    c.required(member, &value).cloned().unwrap_or_default()
}

fn role_name(c: &mut Checker, params: &Params) -> String {
    let name = required(c, params, "RoleName", "roleName");
    c.string("roleName", &name, 1, 64, Some(&v::IAM_NAME));
    name
}

fn policy_name(c: &mut Checker, params: &Params) -> String {
    let name = required(c, params, "PolicyName", "policyName");
    c.string("policyName", &name, 1, 128, Some(&v::IAM_NAME));
    name
}

/// A policy document member: required, 1 to 131072 characters of the
/// model's pattern.
fn policy_document(c: &mut Checker, params: &Params, name: &str, member: &str) -> String {
    let doc = required(c, params, name, member);
    c.string(member, &doc, 1, 131072, Some(&v::POLICY_DOCUMENT));
    doc
}

fn role_description(c: &mut Checker, params: &Params) -> Option<String> {
    let description = params.get("Description").map(str::to_string);
    c.opt_string(
        "description",
        &description,
        0,
        1000,
        Some(&v::ROLE_DESCRIPTION),
    );
    description
}

/// `Marker`, as the list calls and the simulators take it.
fn marker<'a>(c: &mut Checker, params: &'a Params) -> Option<&'a str> {
    let marker = params.get("Marker");
    if let Some(m) = marker {
        c.string("marker", m, 1, 320, Some(&v::MARKER));
    }
    marker
}

/// A managed policy path (`Path`, `PathPrefix`).
fn policy_path(c: &mut Checker, params: &Params, name: &str, member: &str) -> Option<String> {
    let path = params.get(name).map(str::to_string);
    c.opt_string(member, &path, 1, 512, Some(&v::POLICY_PATH));
    path
}

/// `Tags.member.N.Key` and `.Value`: at most 50, each key and value as
/// IAM's model says, and no key twice (IAM compares keys without case).
fn tags(c: &mut Checker, params: &Params) -> Result<BTreeMap<String, String>, ApiError> {
    let entries = params.structs("Tags");
    c.count(
        "tags",
        &format!("[{} tags]", entries.len()),
        entries.len(),
        0,
        50,
    );
    let mut tags = BTreeMap::new();
    let mut keys = std::collections::HashSet::new();
    let mut duplicate = false;
    for entry in &entries {
        let key = entry.get("Key").map(str::to_string);
        let value = entry.get("Value").map(str::to_string);
        if let Some(k) = c.required("tags.member.key", &key) {
            c.string("tags.member.key", k, 1, 128, Some(&v::IAM_TAG_KEY));
        }
        if let Some(val) = c.required("tags.member.value", &value) {
            c.string("tags.member.value", val, 0, 256, Some(&v::TAG));
        }
        if let (Some(k), Some(val)) = (key, value) {
            duplicate |= !keys.insert(k.to_lowercase());
            tags.insert(k, val);
        }
    }
    if duplicate {
        return Err(err(cognate_core::Error::InvalidInput(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
        )));
    }
    Ok(tags)
}

fn max_items(c: &mut Checker, params: &Params) -> usize {
    match params.get("MaxItems") {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) => {
                c.range("maxItems", n, 1, 1000);
                usize::try_from(n).unwrap_or(100)
            }
            Err(_) => {
                c.range("maxItems", 0, 1, 1000);
                100
            }
        },
    }
}

fn write_role(w: &mut XmlWriter, role: &Role) {
    w.leaf("Path", &role.path)
        .leaf("RoleName", &role.name)
        .leaf("RoleId", &role.role_id)
        .leaf("Arn", &role.arn)
        .leaf("CreateDate", &timestamp(role.created_at))
        .leaf(
            "AssumeRolePolicyDocument",
            &encode_policy(&role.assume_role_policy_document),
        )
        .leaf_opt("Description", role.description.as_deref())
        .leaf("MaxSessionDuration", &role.max_session_duration.to_string());
    write_tags(w, &role.tags);
}

fn policy_arn_param(c: &mut Checker, params: &Params) -> String {
    let arn = required(c, params, "PolicyArn", "policyArn");
    c.arn("policyArn", &arn);
    arn
}

fn optional_bool(c: &mut Checker, params: &Params, name: &str, member: &str) -> bool {
    match params.get(name) {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("true") => true,
        Some(s) if s.eq_ignore_ascii_case("false") => false,
        Some(s) => {
            c.one_of(member, s, &["true", "false"]);
            false
        }
    }
}

fn max_session_duration(c: &mut Checker, params: &Params) -> Option<i64> {
    match params.get("MaxSessionDuration") {
        Some(s) => match s.parse::<i64>() {
            Ok(n) => {
                c.range("maxSessionDuration", n, 3600, 43200);
                Some(n)
            }
            Err(_) => {
                c.range("maxSessionDuration", 0, 3600, 43200);
                None
            }
        },
        None => None,
    }
}

/// The `Policy` shape. ListPolicies leaves out the description, as IAM does.
fn write_policy(w: &mut XmlWriter, p: &ManagedPolicy, with_description: bool) {
    w.leaf("PolicyName", &p.name)
        .leaf("PolicyId", &p.policy_id)
        .leaf("Arn", &p.arn)
        .leaf("Path", &p.path)
        .leaf("DefaultVersionId", &p.default_version_id)
        .leaf("AttachmentCount", &p.attachment_count.to_string())
        .leaf("PermissionsBoundaryUsageCount", "0")
        .leaf("IsAttachable", "true");
    if with_description {
        w.leaf_opt("Description", p.description.as_deref());
    }
    w.leaf("CreateDate", &timestamp(p.created_at))
        .leaf("UpdateDate", &timestamp(p.updated_at));
    if with_description {
        write_tags(w, &p.tags);
    }
}

/// The members of a simulation request both simulate operations share.
fn simulation(c: &mut Checker, params: &Params) -> Simulation {
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
    marker(c, params);
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
    Simulation {
        policy_source_arn: None,
        policy_input_list,
        permissions_boundary_policy_input_list: boundary,
        action_names,
        resource_arns,
        context,
        caller_arn,
    }
}

/// EvaluationResults, paged by MaxItems/Marker (the marker is the index
/// of the next result).
fn write_simulation(
    params: &Params,
    max: usize,
    results: &[SimulationResult],
    w: &mut XmlWriter,
) -> Result<(), ApiError> {
    let start = match params.get("Marker") {
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

pub async fn dispatch(
    cx: &Context<'_>,
    operation: Operation,
    params: &Params,
) -> Result<XmlWriter, ApiError> {
    let who = &cx.caller;
    let cognate = &cx.state.cognate;
    let mut c = Checker::new();
    let mut w = XmlWriter::new();
    match operation {
        Operation::CreateRole => {
            let name = role_name(&mut c, params);
            let doc = policy_document(
                &mut c,
                params,
                "AssumeRolePolicyDocument",
                "assumeRolePolicyDocument",
            );
            let path = params.get("Path").map(str::to_string);
            c.opt_string("path", &path, 1, 512, Some(&v::ROLE_PATH));
            let description = role_description(&mut c, params);
            let max = match params.get("MaxSessionDuration") {
                Some(s) => match s.parse::<i64>() {
                    Ok(n) => {
                        c.range("maxSessionDuration", n, 3600, 43200);
                        Some(n)
                    }
                    Err(_) => {
                        c.range("maxSessionDuration", 0, 3600, 43200);
                        None
                    }
                },
                None => None,
            };
            let tags = tags(&mut c, params)?;
            c.finish().map_err(err)?;
            let role = cognate
                .iam()
                .create_role(
                    who,
                    NewRole {
                        name,
                        path,
                        assume_role_policy_document: doc,
                        description,
                        max_session_duration: max,
                        tags,
                    },
                )
                .await
                .map_err(err)?;
            w.open("Role");
            write_role(&mut w, &role);
            w.close("Role");
        }
        Operation::GetRole => {
            let name = role_name(&mut c, params);
            c.finish().map_err(err)?;
            let role = cognate.iam().role(who, &name).await.map_err(err)?;
            w.open("Role");
            write_role(&mut w, &role);
            w.close("Role");
        }
        Operation::ListRoles => {
            let path_prefix = params.get("PathPrefix");
            if let Some(prefix) = path_prefix {
                c.string("pathPrefix", prefix, 1, 512, Some(&v::ROLE_PATH_PREFIX));
            }
            let max = max_items(&mut c, params);
            let marker = marker(&mut c, params);
            c.finish().map_err(err)?;
            let (roles, marker) = cognate
                .iam()
                .list_roles(who, path_prefix, max, marker)
                .await
                .map_err(err)?;
            w.open("Roles");
            for role in &roles {
                w.open("member");
                write_role(&mut w, role);
                w.close("member");
            }
            w.close("Roles");
            w.leaf(
                "IsTruncated",
                if marker.is_some() { "true" } else { "false" },
            );
            w.leaf_opt("Marker", marker.as_deref());
        }
        Operation::DeleteRole => {
            let name = role_name(&mut c, params);
            c.finish().map_err(err)?;
            cognate.iam().delete_role(who, &name).await.map_err(err)?;
        }
        Operation::PutRolePolicy => {
            let name = role_name(&mut c, params);
            let policy = policy_name(&mut c, params);
            let doc = policy_document(&mut c, params, "PolicyDocument", "policyDocument");
            c.finish().map_err(err)?;
            cognate
                .iam()
                .put_role_policy(who, &name, &policy, &doc)
                .await
                .map_err(err)?;
        }
        Operation::GetRolePolicy => {
            let name = role_name(&mut c, params);
            let policy = policy_name(&mut c, params);
            c.finish().map_err(err)?;
            let doc = cognate
                .iam()
                .role_policy(who, &name, &policy)
                .await
                .map_err(err)?;
            w.leaf("RoleName", &name)
                .leaf("PolicyName", &policy)
                .leaf("PolicyDocument", &encode_policy(&doc));
        }
        Operation::DeleteRolePolicy => {
            let name = role_name(&mut c, params);
            let policy = policy_name(&mut c, params);
            c.finish().map_err(err)?;
            cognate
                .iam()
                .delete_role_policy(who, &name, &policy)
                .await
                .map_err(err)?;
        }
        Operation::ListRolePolicies => {
            let name = role_name(&mut c, params);
            c.finish().map_err(err)?;
            let policies = cognate
                .iam()
                .list_role_policies(who, &name)
                .await
                .map_err(err)?;
            w.open("PolicyNames");
            for policy in &policies {
                w.leaf("member", policy);
            }
            w.close("PolicyNames");
            w.leaf("IsTruncated", "false");
        }
        Operation::UpdateRole => {
            let name = role_name(&mut c, params);
            let description = role_description(&mut c, params);
            let max = max_session_duration(&mut c, params);
            c.finish().map_err(err)?;
            cognate
                .iam()
                .update_role(who, &name, description, max)
                .await
                .map_err(err)?;
        }
        Operation::UpdateAssumeRolePolicy => {
            let name = role_name(&mut c, params);
            let doc = policy_document(&mut c, params, "PolicyDocument", "policyDocument");
            c.finish().map_err(err)?;
            cognate
                .iam()
                .update_assume_role_policy(who, &name, &doc)
                .await
                .map_err(err)?;
        }
        Operation::CreatePolicy => {
            let name = policy_name(&mut c, params);
            let doc = policy_document(&mut c, params, "PolicyDocument", "policyDocument");
            let path = policy_path(&mut c, params, "Path", "path");
            let description = params.get("Description").map(str::to_string);
            c.opt_string("description", &description, 0, 1000, None);
            let tags = tags(&mut c, params)?;
            c.finish().map_err(err)?;
            let policy = cognate
                .iam()
                .create_policy(
                    who,
                    NewPolicy {
                        name,
                        path,
                        document: doc,
                        description,
                        tags,
                    },
                )
                .await
                .map_err(err)?;
            w.open("Policy");
            write_policy(&mut w, &policy, true);
            w.close("Policy");
        }
        Operation::GetPolicy => {
            let arn = policy_arn_param(&mut c, params);
            c.finish().map_err(err)?;
            let policy = cognate.iam().policy(who, &arn).await.map_err(err)?;
            w.open("Policy");
            write_policy(&mut w, &policy, true);
            w.close("Policy");
        }
        Operation::GetPolicyVersion => {
            let arn = policy_arn_param(&mut c, params);
            let version = required(&mut c, params, "VersionId", "versionId");
            c.string("versionId", &version, 1, 128, Some(&v::POLICY_VERSION_ID));
            c.finish().map_err(err)?;
            let (policy, version) = cognate
                .iam()
                .policy_version(who, &arn, &version)
                .await
                .map_err(err)?;
            w.open("PolicyVersion")
                .leaf("Document", &encode_policy(&version.document))
                .leaf("VersionId", &version.version_id)
                .leaf(
                    "IsDefaultVersion",
                    if version.version_id == policy.default_version_id {
                        "true"
                    } else {
                        "false"
                    },
                )
                .leaf("CreateDate", &timestamp(version.created_at))
                .close("PolicyVersion");
        }
        Operation::DeletePolicy => {
            let arn = policy_arn_param(&mut c, params);
            c.finish().map_err(err)?;
            cognate.iam().delete_policy(who, &arn).await.map_err(err)?;
        }
        Operation::ListPolicies => {
            let scope = params.get("Scope").unwrap_or("All");
            c.one_of("scope", scope, &["All", "AWS", "Local"]);
            let only_attached = optional_bool(&mut c, params, "OnlyAttached", "onlyAttached");
            let path_prefix = policy_path(&mut c, params, "PathPrefix", "pathPrefix");
            let marker = marker(&mut c, params);
            if let Some(usage) = params.get("PolicyUsageFilter") {
                c.one_of(
                    "policyUsageFilter",
                    usage,
                    &["PermissionsPolicy", "PermissionsBoundary"],
                );
            }
            let max = max_items(&mut c, params);
            c.finish().map_err(err)?;
            let filter = PolicyFilter {
                only_attached,
                path_prefix,
                aws_managed_or_boundaries: scope == "AWS"
                    || params.get("PolicyUsageFilter") == Some("PermissionsBoundary"),
            };
            let (policies, marker) = cognate
                .iam()
                .list_policies(who, &filter, max, marker)
                .await
                .map_err(err)?;
            w.open("Policies");
            for policy in &policies {
                w.open("member");
                write_policy(&mut w, policy, false);
                w.close("member");
            }
            w.close("Policies");
            w.leaf(
                "IsTruncated",
                if marker.is_some() { "true" } else { "false" },
            );
            w.leaf_opt("Marker", marker.as_deref());
        }
        Operation::AttachRolePolicy | Operation::DetachRolePolicy => {
            let name = role_name(&mut c, params);
            let arn = policy_arn_param(&mut c, params);
            c.finish().map_err(err)?;
            if operation == Operation::AttachRolePolicy {
                cognate.iam().attach_role_policy(who, &name, &arn).await
            } else {
                cognate.iam().detach_role_policy(who, &name, &arn).await
            }
            .map_err(err)?;
        }
        Operation::ListAttachedRolePolicies => {
            let name = role_name(&mut c, params);
            let path_prefix = policy_path(&mut c, params, "PathPrefix", "pathPrefix");
            let max = max_items(&mut c, params);
            let marker = marker(&mut c, params);
            c.finish().map_err(err)?;
            let attached_arns = cognate
                .iam()
                .list_attached_role_policies(who, &name)
                .await
                .map_err(err)?;
            let mut attached: Vec<(&str, &str, &str)> = attached_arns
                .iter()
                .filter_map(|arn| {
                    let (_, path, name) = cognate_core::iam::parse_policy_arn(arn)?;
                    let path = if path.is_empty() { "/" } else { path };
                    Some((name, path, arn.as_str()))
                })
                .filter(|(_, path, _)| {
                    path_prefix
                        .as_deref()
                        .is_none_or(|prefix| path.starts_with(prefix))
                })
                .collect();
            attached.sort_by_key(|(name, _, _)| name.to_lowercase());
            let start = match marker {
                Some(m) => {
                    let after = page_token::decode(m).map_err(err)?;
                    attached
                        .iter()
                        .position(|(name, _, _)| name.to_lowercase() > after)
                        .unwrap_or(attached.len())
                }
                None => 0,
            };
            let page = attached.get(start..).unwrap_or_default();
            let truncated = page.len() > max;
            let page = page.get(..max.min(page.len())).unwrap_or_default();
            w.open("AttachedPolicies");
            for (name, _, arn) in page {
                w.open("member")
                    .leaf("PolicyName", name)
                    .leaf("PolicyArn", arn)
                    .close("member");
            }
            w.close("AttachedPolicies");
            w.leaf("IsTruncated", if truncated { "true" } else { "false" });
            if truncated && let Some((name, _, _)) = page.last() {
                w.leaf("Marker", &page_token::encode(&name.to_lowercase()));
            }
        }
        Operation::SimulatePrincipalPolicy => {
            let source = required(&mut c, params, "PolicySourceArn", "policySourceArn");
            c.arn("policySourceArn", &source);
            let mut sim = simulation(&mut c, params);
            sim.policy_source_arn = Some(source);
            let max = max_items(&mut c, params);
            c.finish().map_err(err)?;
            let results = cognate
                .iam()
                .simulate_principal_policy(who, &sim)
                .await
                .map_err(err)?;
            write_simulation(params, max, &results, &mut w)?;
        }
        Operation::SimulateCustomPolicy => {
            if params.get("PolicyInputList").is_none() && params.list("PolicyInputList").is_empty()
            {
                let _ = c.required::<String>("policyInputList", &None);
            }
            let sim = simulation(&mut c, params);
            let max = max_items(&mut c, params);
            c.finish().map_err(err)?;
            let results = cognate
                .iam()
                .simulate_custom_policy(who, &sim)
                .await
                .map_err(err)?;
            write_simulation(params, max, &results, &mut w)?;
        }
        Operation::CreateOpenIDConnectProvider => {
            let url = required(&mut c, params, "Url", "url");
            c.string("url", &url, 1, 255, None);
            let client_ids = params.list("ClientIDList");
            for id in &client_ids {
                c.string("clientIDList", id, 1, 255, None);
            }
            let thumbprints = params.list("ThumbprintList");
            c.finish().map_err(err)?;
            let provider = cognate
                .iam()
                .create_oidc_provider(who, &url, client_ids, thumbprints)
                .await
                .map_err(err)?;
            w.leaf("OpenIDConnectProviderArn", &provider.arn);
        }
        Operation::GetOpenIDConnectProvider => {
            let arn = provider_arn(&mut c, params);
            c.finish().map_err(err)?;
            let provider = cognate.iam().oidc_provider(who, &arn).await.map_err(err)?;
            write_provider(&mut w, &provider);
        }
        Operation::ListOpenIDConnectProviders => {
            let providers = cognate.iam().list_oidc_providers(who).await.map_err(err)?;
            w.open("OpenIDConnectProviderList");
            for p in &providers {
                w.open("member").leaf("Arn", &p.arn).close("member");
            }
            w.close("OpenIDConnectProviderList");
        }
        Operation::DeleteOpenIDConnectProvider => {
            let arn = provider_arn(&mut c, params);
            c.finish().map_err(err)?;
            cognate
                .iam()
                .delete_oidc_provider(who, &arn)
                .await
                .map_err(err)?;
        }
        Operation::AddClientIDToOpenIDConnectProvider
        | Operation::RemoveClientIDFromOpenIDConnectProvider => {
            let arn = provider_arn(&mut c, params);
            let client_id = required(&mut c, params, "ClientID", "clientID");
            c.string("clientID", &client_id, 1, 255, None);
            c.finish().map_err(err)?;
            if operation == Operation::AddClientIDToOpenIDConnectProvider {
                cognate
                    .iam()
                    .add_oidc_client_id(who, &arn, &client_id)
                    .await
            } else {
                cognate
                    .iam()
                    .remove_oidc_client_id(who, &arn, &client_id)
                    .await
            }
            .map_err(err)?;
        }
        Operation::CreateSAMLProvider => {
            let name = required(&mut c, params, "Name", "name");
            c.string("name", &name, 1, 128, Some(&v::SAML_PROVIDER_NAME));
            let metadata = saml_metadata(&mut c, params);
            let tags = tags(&mut c, params)?;
            c.finish().map_err(err)?;
            let provider = cognate
                .iam()
                .create_saml_provider(who, &name, &metadata, tags)
                .await
                .map_err(err)?;
            w.leaf("SAMLProviderArn", &provider.arn);
            write_tags(&mut w, &provider.tags);
        }
        Operation::GetSAMLProvider => {
            let arn = saml_provider_arn(&mut c, params);
            c.finish().map_err(err)?;
            let provider = cognate.iam().saml_provider(who, &arn).await.map_err(err)?;
            w.leaf("SAMLMetadataDocument", &provider.metadata);
            w.leaf("CreateDate", &timestamp(provider.created_at));
            if let Some(valid_until) = provider.valid_until {
                w.leaf("ValidUntil", &timestamp(valid_until));
            }
            write_tags(&mut w, &provider.tags);
        }
        Operation::ListSAMLProviders => {
            let providers = cognate.iam().list_saml_providers(who).await.map_err(err)?;
            w.open("SAMLProviderList");
            for p in &providers {
                w.open("member").leaf("Arn", &p.arn);
                if let Some(valid_until) = p.valid_until {
                    w.leaf("ValidUntil", &timestamp(valid_until));
                }
                w.leaf("CreateDate", &timestamp(p.created_at))
                    .close("member");
            }
            w.close("SAMLProviderList");
        }
        Operation::UpdateSAMLProvider => {
            let arn = saml_provider_arn(&mut c, params);
            let metadata = saml_metadata(&mut c, params);
            c.finish().map_err(err)?;
            let provider = cognate
                .iam()
                .update_saml_provider(who, &arn, &metadata)
                .await
                .map_err(err)?;
            w.leaf("SAMLProviderArn", &provider.arn);
        }
        Operation::DeleteSAMLProvider => {
            let arn = saml_provider_arn(&mut c, params);
            c.finish().map_err(err)?;
            cognate
                .iam()
                .delete_saml_provider(who, &arn)
                .await
                .map_err(err)?;
        }
        _ => return Err(ApiError::not_implemented(operation)),
    }
    Ok(w)
}

fn saml_provider_arn(c: &mut Checker, params: &Params) -> String {
    let arn = required(c, params, "SAMLProviderArn", "sAMLProviderArn");
    c.arn("sAMLProviderArn", &arn);
    arn
}

fn saml_metadata(c: &mut Checker, params: &Params) -> String {
    let metadata = required(c, params, "SAMLMetadataDocument", "sAMLMetadataDocument");
    c.string("sAMLMetadataDocument", &metadata, 1000, 10_000_000, None);
    metadata
}

fn write_tags(w: &mut XmlWriter, tags: &std::collections::BTreeMap<String, String>) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for (k, val) in tags {
        w.open("member")
            .leaf("Key", k)
            .leaf("Value", val)
            .close("member");
    }
    w.close("Tags");
}

fn provider_arn(c: &mut Checker, params: &Params) -> String {
    let arn = required(
        c,
        params,
        "OpenIDConnectProviderArn",
        "openIDConnectProviderArn",
    );
    c.arn("openIDConnectProviderArn", &arn);
    arn
}

fn write_provider(w: &mut XmlWriter, p: &OidcProvider) {
    w.leaf("Url", p.host_path());
    w.open("ClientIDList");
    for id in &p.client_ids {
        w.leaf("member", id);
    }
    w.close("ClientIDList");
    w.open("ThumbprintList");
    for t in &p.thumbprints {
        w.leaf("member", t);
    }
    w.close("ThumbprintList");
    w.leaf("CreateDate", &timestamp(p.created_at));
}
