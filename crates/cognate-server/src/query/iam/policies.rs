//! Customer managed policies.

use cognate_core::iam::{NewPolicy, PolicyFilter};
use cognate_core::model::{ManagedPolicy, ManagedPolicyVersion};

use super::{
    encode_policy, err, marker, max_items, optional_bool, policy_arn_param, policy_document,
    policy_name, policy_path, required, tags, write_tags,
};
use crate::call::Context;
use crate::query::{Params, QueryOperation};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::{XmlWriter, timestamp};

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

fn write_policy_element(w: &mut XmlWriter, policy: &ManagedPolicy) {
    w.open("Policy");
    write_policy(w, policy, true);
    w.close("Policy");
}

pub struct CreatePolicyInput(NewPolicy);

impl QueryOperation for CreatePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let name = policy_name(c, params);
        let document = policy_document(c, params, "PolicyDocument", "policyDocument");
        let path = policy_path(c, params, "Path", "path");
        let description = params.get("Description").map(str::to_string);
        c.opt_string("description", &description, 0, 1000, None);
        let tags = tags(c, params)?;
        Ok(CreatePolicyInput(NewPolicy {
            name,
            path,
            document,
            description,
            tags,
        }))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let policy = cx.cognate().iam().create_policy(&cx.caller, self.0).await;
        write_policy_element(w, &policy.map_err(err)?);
        Ok(())
    }
}

pub struct GetPolicyInput {
    policy_arn: String,
}

impl QueryOperation for GetPolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetPolicyInput {
            policy_arn: policy_arn_param(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let policy = cx
            .cognate()
            .iam()
            .policy(&cx.caller, &self.policy_arn)
            .await;
        write_policy_element(w, &policy.map_err(err)?);
        Ok(())
    }
}

pub struct GetPolicyVersionInput(PolicyVersionRef);

impl QueryOperation for GetPolicyVersionInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetPolicyVersionInput(PolicyVersionRef::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let PolicyVersionRef {
            policy_arn,
            version_id,
        } = &self.0;
        let iam = cx.cognate().iam();
        let (policy, version) = iam
            .policy_version(&cx.caller, policy_arn, version_id)
            .await
            .map_err(err)?;
        let is_default = version.version_id == policy.default_version_id;
        w.open("PolicyVersion")
            .leaf("Document", &encode_policy(&version.document));
        write_version(w, &version, is_default);
        w.close("PolicyVersion");
        Ok(())
    }
}

/// The members of the `PolicyVersion` shape but its document.
fn write_version(w: &mut XmlWriter, version: &ManagedPolicyVersion, is_default: bool) {
    w.leaf("VersionId", &version.version_id)
        .leaf(
            "IsDefaultVersion",
            if is_default { "true" } else { "false" },
        )
        .leaf("CreateDate", &timestamp(version.created_at));
}

pub struct CreatePolicyVersionInput {
    policy_arn: String,
    document: String,
    set_as_default: bool,
}

impl QueryOperation for CreatePolicyVersionInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let policy_arn = policy_arn_param(c, params);
        let document = policy_document(c, params, "PolicyDocument", "policyDocument");
        let set_as_default = optional_bool(c, params, "SetAsDefault", "setAsDefault");
        Ok(CreatePolicyVersionInput {
            policy_arn,
            document,
            set_as_default,
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let version = cx
            .cognate()
            .iam()
            .create_policy_version(
                &cx.caller,
                &self.policy_arn,
                &self.document,
                self.set_as_default,
            )
            .await
            .map_err(err)?;
        w.open("PolicyVersion");
        write_version(w, &version, self.set_as_default);
        w.close("PolicyVersion");
        Ok(())
    }
}

/// The policy ARN and version id that DeletePolicyVersion and
/// SetDefaultPolicyVersion name.
pub struct PolicyVersionRef {
    policy_arn: String,
    version_id: String,
}

impl PolicyVersionRef {
    fn parse(params: &Params, c: &mut Checker) -> PolicyVersionRef {
        let policy_arn = policy_arn_param(c, params);
        let version_id = required(c, params, "VersionId", "versionId");
        c.string(
            "versionId",
            &version_id,
            1,
            128,
            Some(&v::POLICY_VERSION_ID),
        );
        PolicyVersionRef {
            policy_arn,
            version_id,
        }
    }
}

pub struct DeletePolicyVersionInput(PolicyVersionRef);

impl QueryOperation for DeletePolicyVersionInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DeletePolicyVersionInput(PolicyVersionRef::parse(params, c)))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let PolicyVersionRef {
            policy_arn,
            version_id,
        } = &self.0;
        let iam = cx.cognate().iam();
        iam.delete_policy_version(&cx.caller, policy_arn, version_id)
            .await
            .map_err(err)
    }
}

pub struct SetDefaultPolicyVersionInput(PolicyVersionRef);

impl QueryOperation for SetDefaultPolicyVersionInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(SetDefaultPolicyVersionInput(PolicyVersionRef::parse(
            params, c,
        )))
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let PolicyVersionRef {
            policy_arn,
            version_id,
        } = &self.0;
        let iam = cx.cognate().iam();
        iam.set_default_policy_version(&cx.caller, policy_arn, version_id)
            .await
            .map_err(err)
    }
}

/// ListPolicyVersions. A policy has at most five versions: one page.
pub struct ListPolicyVersionsInput {
    policy_arn: String,
}

impl QueryOperation for ListPolicyVersionsInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        // Marker and MaxItems are accepted; five versions fit any page.
        let _ = max_items(c, params);
        Ok(ListPolicyVersionsInput {
            policy_arn: policy_arn_param(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let policy = cx
            .cognate()
            .iam()
            .policy_versions(&cx.caller, &self.policy_arn)
            .await
            .map_err(err)?;
        w.open("Versions");
        for version in policy.versions.iter().rev() {
            w.open("member");
            write_version(w, version, version.version_id == policy.default_version_id);
            w.close("member");
        }
        w.close("Versions");
        w.leaf("IsTruncated", "false");
        Ok(())
    }
}

pub struct DeletePolicyInput {
    policy_arn: String,
}

impl QueryOperation for DeletePolicyInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(DeletePolicyInput {
            policy_arn: policy_arn_param(c, params),
        })
    }

    async fn call(self, cx: &Context<'_>, _: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        iam.delete_policy(&cx.caller, &self.policy_arn)
            .await
            .map_err(err)
    }
}

pub struct ListPoliciesInput {
    filter: PolicyFilter,
    max_items: usize,
    marker: Option<String>,
}

impl QueryOperation for ListPoliciesInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        let scope = params.get("Scope").unwrap_or("All");
        c.one_of("scope", scope, &["All", "AWS", "Local"]);
        let only_attached = optional_bool(c, params, "OnlyAttached", "onlyAttached");
        let path_prefix = policy_path(c, params, "PathPrefix", "pathPrefix");
        let marker = marker(c, params);
        let usage = params.get("PolicyUsageFilter");
        if let Some(usage) = usage {
            c.one_of(
                "policyUsageFilter",
                usage,
                &["PermissionsPolicy", "PermissionsBoundary"],
            );
        }
        let max_items = max_items(c, params);
        Ok(ListPoliciesInput {
            filter: PolicyFilter {
                only_attached,
                path_prefix,
                aws_managed_or_boundaries: scope == "AWS" || usage == Some("PermissionsBoundary"),
            },
            max_items,
            marker,
        })
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let iam = cx.cognate().iam();
        let (policies, marker) = iam
            .list_policies(
                &cx.caller,
                &self.filter,
                self.max_items,
                self.marker.as_deref(),
            )
            .await
            .map_err(err)?;
        w.open("Policies");
        for policy in &policies {
            w.open("member");
            write_policy(w, policy, false);
            w.close("member");
        }
        w.close("Policies");
        w.leaf(
            "IsTruncated",
            if marker.is_some() { "true" } else { "false" },
        );
        w.leaf_opt("Marker", marker.as_deref());
        Ok(())
    }
}
