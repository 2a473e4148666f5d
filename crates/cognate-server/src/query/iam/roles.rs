//! Roles: their trust policy, inline policies and attached managed
//! policies.

use cognate_core::iam::NewRole;
use cognate_core::model::Role;
use cognate_core::service::page_token;

use super::{
    encode_policy, err, marker, max_items, max_session_duration, policy_arn_param, policy_document,
    policy_name, policy_path, role_description, role_name, tags, write_tags,
};
use crate::call::Context;
use crate::query::{Params, QueryOperation};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::{XmlWriter, timestamp};

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

fn write_role_element(w: &mut XmlWriter, role: &Role) {
    w.open("Role");
    write_role(w, role);
    w.close("Role");
}

pub struct CreateRoleInput(NewRole);

impl QueryOperation for CreateRoleInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let name = role_name(c, params);
        let doc = policy_document(
            c,
            params,
            "AssumeRolePolicyDocument",
            "assumeRolePolicyDocument",
        );
        let path = params.get("Path").map(str::to_string);
        c.opt_string("path", &path, 1, 512, Some(&v::ROLE_PATH));
        let description = role_description(c, params);
        let max_session_duration = max_session_duration(c, params);
        let tags = tags(c, params)?;
        Ok(CreateRoleInput(NewRole {
            name,
            path,
            assume_role_policy_document: doc,
            description,
            max_session_duration,
            tags,
        }))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let role = cx.cognate().iam().create_role(&cx.caller, self.0).await;
        write_role_element(w, &role.map_err(err)?);
        Ok(())
    }
}

pub struct GetRoleInput {
    role_name: String,
}

impl QueryOperation for GetRoleInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetRoleInput {
            role_name: role_name(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let role = cx.cognate().iam().role(&cx.caller, &self.role_name).await;
        write_role_element(w, &role.map_err(err)?);
        Ok(())
    }
}

pub struct ListRolesInput {
    path_prefix: Option<String>,
    max_items: usize,
    marker: Option<String>,
}

impl QueryOperation for ListRolesInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let path_prefix = params.get("PathPrefix").map(str::to_string);
        if let Some(prefix) = &path_prefix {
            c.string("pathPrefix", prefix, 1, 512, Some(&v::ROLE_PATH_PREFIX));
        }
        Ok(ListRolesInput {
            path_prefix,
            max_items: max_items(c, params),
            marker: marker(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let (roles, marker) = cx
            .cognate()
            .iam()
            .list_roles(
                &cx.caller,
                self.path_prefix.as_deref(),
                self.max_items,
                self.marker.as_deref(),
            )
            .await
            .map_err(err)?;
        w.open("Roles");
        for role in &roles {
            w.open("member");
            write_role(w, role);
            w.close("member");
        }
        w.close("Roles");
        w.leaf(
            "IsTruncated",
            if marker.is_some() { "true" } else { "false" },
        );
        w.leaf_opt("Marker", marker.as_deref());
        Ok(())
    }
}

pub struct DeleteRoleInput {
    role_name: String,
}

impl QueryOperation for DeleteRoleInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DeleteRoleInput {
            role_name: role_name(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.delete_role(&cx.caller, &self.role_name)
            .await
            .map_err(err)
    }
}

pub struct UpdateRoleInput {
    role_name: String,
    description: Option<String>,
    max_session_duration: Option<i64>,
}

impl QueryOperation for UpdateRoleInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(UpdateRoleInput {
            role_name: role_name(c, params),
            description: role_description(c, params),
            max_session_duration: max_session_duration(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.update_role(
            &cx.caller,
            &self.role_name,
            self.description,
            self.max_session_duration,
        )
        .await
        .map_err(err)
    }
}

pub struct UpdateAssumeRolePolicyInput {
    role_name: String,
    policy_document: String,
}

impl QueryOperation for UpdateAssumeRolePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(UpdateAssumeRolePolicyInput {
            role_name: role_name(c, params),
            policy_document: policy_document(c, params, "PolicyDocument", "policyDocument"),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.update_assume_role_policy(&cx.caller, &self.role_name, &self.policy_document)
            .await
            .map_err(err)
    }
}

/// The members that name one inline policy of a role.
struct InlinePolicy {
    role_name: String,
    policy_name: String,
}

impl InlinePolicy {
    fn parse(params: &Params, c: &mut Checker) -> InlinePolicy {
        InlinePolicy {
            role_name: role_name(c, params),
            policy_name: policy_name(c, params),
        }
    }
}

pub struct PutRolePolicyInput {
    policy: InlinePolicy,
    policy_document: String,
}

impl QueryOperation for PutRolePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(PutRolePolicyInput {
            policy: InlinePolicy::parse(params, c),
            policy_document: policy_document(c, params, "PolicyDocument", "policyDocument"),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let (role, policy) = (&self.policy.role_name, &self.policy.policy_name);
        let iam = cx.cognate().iam();
        iam.put_role_policy(&cx.caller, role, policy, &self.policy_document)
            .await
            .map_err(err)
    }
}

pub struct GetRolePolicyInput(InlinePolicy);

impl QueryOperation for GetRolePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetRolePolicyInput(InlinePolicy::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let (role, policy) = (&self.0.role_name, &self.0.policy_name);
        let iam = cx.cognate().iam();
        let doc = iam
            .role_policy(&cx.caller, role, policy)
            .await
            .map_err(err)?;
        w.leaf("RoleName", role)
            .leaf("PolicyName", policy)
            .leaf("PolicyDocument", &encode_policy(&doc));
        Ok(())
    }
}

pub struct DeleteRolePolicyInput(InlinePolicy);

impl QueryOperation for DeleteRolePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DeleteRolePolicyInput(InlinePolicy::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let (role, policy) = (&self.0.role_name, &self.0.policy_name);
        let iam = cx.cognate().iam();
        iam.delete_role_policy(&cx.caller, role, policy)
            .await
            .map_err(err)
    }
}

pub struct ListRolePoliciesInput {
    role_name: String,
}

impl QueryOperation for ListRolePoliciesInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(ListRolePoliciesInput {
            role_name: role_name(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let policies = iam
            .list_role_policies(&cx.caller, &self.role_name)
            .await
            .map_err(err)?;
        w.open("PolicyNames");
        for policy in &policies {
            w.leaf("member", policy);
        }
        w.close("PolicyNames");
        w.leaf("IsTruncated", "false");
        Ok(())
    }
}

/// The members that name a managed policy attached, or to attach, to a
/// role.
pub struct Attachment {
    role_name: String,
    policy_arn: String,
}

impl Attachment {
    fn parse(params: &Params, c: &mut Checker) -> Attachment {
        Attachment {
            role_name: role_name(c, params),
            policy_arn: policy_arn_param(c, params),
        }
    }
}

pub struct AttachRolePolicyInput(Attachment);

impl QueryOperation for AttachRolePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(AttachRolePolicyInput(Attachment::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.attach_role_policy(&cx.caller, &self.0.role_name, &self.0.policy_arn)
            .await
            .map_err(err)
    }
}

pub struct DetachRolePolicyInput(Attachment);

impl QueryOperation for DetachRolePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DetachRolePolicyInput(Attachment::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.detach_role_policy(&cx.caller, &self.0.role_name, &self.0.policy_arn)
            .await
            .map_err(err)
    }
}

pub struct ListAttachedRolePoliciesInput {
    role_name: String,
    path_prefix: Option<String>,
    max_items: usize,
    marker: Option<String>,
}

impl QueryOperation for ListAttachedRolePoliciesInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(ListAttachedRolePoliciesInput {
            role_name: role_name(c, params),
            path_prefix: policy_path(c, params, "PathPrefix", "pathPrefix"),
            max_items: max_items(c, params),
            marker: marker(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let attached_arns = iam
            .list_attached_role_policies(&cx.caller, &self.role_name)
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
                self.path_prefix
                    .as_deref()
                    .is_none_or(|prefix| path.starts_with(prefix))
            })
            .collect();
        attached.sort_by_key(|(name, _, _)| name.to_lowercase());
        let start = match &self.marker {
            Some(m) => {
                let after = page_token::decode(m).map_err(err)?;
                attached
                    .iter()
                    .position(|(name, _, _)| name.to_lowercase() > after)
                    .unwrap_or(attached.len())
            }
            None => 0,
        };
        let max = self.max_items;
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
        Ok(())
    }
}
