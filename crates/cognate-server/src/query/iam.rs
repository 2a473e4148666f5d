//! IAM: roles with trust and inline policies, and OpenID Connect providers.

use cognate_core::iam::NewRole;
use cognate_core::model::{OidcProvider, Role};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::app::AppState;
use crate::auth::{Principal, caller};
use crate::cognito::not_implemented;
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
    if !role.tags.is_empty() {
        w.open("Tags");
        for (k, val) in &role.tags {
            w.open("member")
                .leaf("Key", k)
                .leaf("Value", val)
                .close("member");
        }
        w.close("Tags");
    }
}

pub async fn dispatch(
    state: &AppState,
    operation: Operation,
    principal: &Principal,
    params: &Params,
) -> Result<XmlWriter, ApiError> {
    let who = caller(state, principal);
    let cognate = &state.cognate;
    let mut c = Checker::new();
    let mut w = XmlWriter::new();
    match operation {
        Operation::CreateRole => {
            let name = role_name(&mut c, params);
            let doc = required(
                &mut c,
                params,
                "AssumeRolePolicyDocument",
                "assumeRolePolicyDocument",
            );
            c.string("assumeRolePolicyDocument", &doc, 1, 131072, None);
            let path = params.get("Path").map(str::to_string);
            c.opt_string("path", &path, 1, 512, None);
            let description = params.get("Description").map(str::to_string);
            c.opt_string("description", &description, 0, 1000, None);
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
            let tags = params.tags("Tags");
            c.finish().map_err(err)?;
            let role = cognate
                .create_role(
                    &who,
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
            let role = cognate.role(&who, &name).await.map_err(err)?;
            w.open("Role");
            write_role(&mut w, &role);
            w.close("Role");
        }
        Operation::ListRoles => {
            let max = max_items(&mut c, params);
            c.finish().map_err(err)?;
            let (roles, marker) = cognate
                .list_roles(&who, max, params.get("Marker"))
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
            cognate.delete_role(&who, &name).await.map_err(err)?;
        }
        Operation::PutRolePolicy => {
            let name = role_name(&mut c, params);
            let policy = policy_name(&mut c, params);
            let doc = required(&mut c, params, "PolicyDocument", "policyDocument");
            c.string("policyDocument", &doc, 1, 131072, None);
            c.finish().map_err(err)?;
            cognate
                .put_role_policy(&who, &name, &policy, &doc)
                .await
                .map_err(err)?;
        }
        Operation::GetRolePolicy => {
            let name = role_name(&mut c, params);
            let policy = policy_name(&mut c, params);
            c.finish().map_err(err)?;
            let doc = cognate
                .role_policy(&who, &name, &policy)
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
                .delete_role_policy(&who, &name, &policy)
                .await
                .map_err(err)?;
        }
        Operation::ListRolePolicies => {
            let name = role_name(&mut c, params);
            c.finish().map_err(err)?;
            let role = cognate.role(&who, &name).await.map_err(err)?;
            w.open("PolicyNames");
            for policy in role.inline_policies.keys() {
                w.leaf("member", policy);
            }
            w.close("PolicyNames");
            w.leaf("IsTruncated", "false");
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
                .create_oidc_provider(&who, &url, client_ids, thumbprints)
                .await
                .map_err(err)?;
            w.leaf("OpenIDConnectProviderArn", &provider.arn);
        }
        Operation::GetOpenIDConnectProvider => {
            let arn = provider_arn(&mut c, params);
            c.finish().map_err(err)?;
            let provider = cognate.oidc_provider(&who, &arn).await.map_err(err)?;
            write_provider(&mut w, &provider);
        }
        Operation::ListOpenIDConnectProviders => {
            let providers = cognate.list_oidc_providers(&who).await.map_err(err)?;
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
                .delete_oidc_provider(&who, &arn)
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
                cognate.add_oidc_client_id(&who, &arn, &client_id).await
            } else {
                cognate.remove_oidc_client_id(&who, &arn, &client_id).await
            }
            .map_err(err)?;
        }
        _ => return Err(not_implemented(operation)),
    }
    Ok(w)
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
