//! Which type handles each operation: one line an operation and no
//! fallback, so that an operation added to `cognate_core::operation`
//! without a handler does not compile.

use axum::response::Response;

use crate::call::{Call, Context, Input};
use crate::cognito::{self, JsonOperation, developer, identities, pools};
use crate::operation::Operation;
use crate::query::iam::{policies, providers, roles, simulate};
use crate::query::{self, QueryOperation, sts};
use crate::wire_error::ApiError;

/// Performs a parsed call for `cx.caller`.
pub async fn dispatch(cx: &Context<'_>, call: Call) -> Result<Response, ApiError> {
    use Operation as O;
    let Call {
        operation, input, ..
    } = call;
    match operation {
        O::CreateIdentityPool => json::<pools::CreateIdentityPoolInput>(cx, input).await,
        O::DescribeIdentityPool => json::<pools::DescribeIdentityPoolInput>(cx, input).await,
        O::UpdateIdentityPool => json::<pools::UpdateIdentityPoolInput>(cx, input).await,
        O::DeleteIdentityPool => json::<pools::DeleteIdentityPoolInput>(cx, input).await,
        O::ListIdentityPools => json::<pools::ListIdentityPoolsInput>(cx, input).await,
        O::SetIdentityPoolRoles => json::<pools::SetIdentityPoolRolesInput>(cx, input).await,
        O::GetIdentityPoolRoles => json::<pools::GetIdentityPoolRolesInput>(cx, input).await,
        O::SetPrincipalTagAttributeMap => {
            json::<pools::SetPrincipalTagAttributeMapInput>(cx, input).await
        }
        O::GetPrincipalTagAttributeMap => {
            json::<pools::GetPrincipalTagAttributeMapInput>(cx, input).await
        }
        O::TagResource => json::<pools::TagResourceInput>(cx, input).await,
        O::UntagResource => json::<pools::UntagResourceInput>(cx, input).await,
        O::ListTagsForResource => json::<pools::ListTagsForResourceInput>(cx, input).await,
        O::GetId => json::<identities::GetIdInput>(cx, input).await,
        O::GetOpenIdToken => json::<identities::GetOpenIdTokenInput>(cx, input).await,
        O::GetCredentialsForIdentity => {
            json::<identities::GetCredentialsForIdentityInput>(cx, input).await
        }
        O::UnlinkIdentity => json::<identities::UnlinkIdentityInput>(cx, input).await,
        O::ListIdentities => json::<identities::ListIdentitiesInput>(cx, input).await,
        O::DescribeIdentity => json::<identities::DescribeIdentityInput>(cx, input).await,
        O::DeleteIdentities => json::<identities::DeleteIdentitiesInput>(cx, input).await,
        O::GetOpenIdTokenForDeveloperIdentity => {
            json::<developer::GetOpenIdTokenForDeveloperIdentityInput>(cx, input).await
        }
        O::LookupDeveloperIdentity => {
            json::<developer::LookupDeveloperIdentityInput>(cx, input).await
        }
        O::MergeDeveloperIdentities => {
            json::<developer::MergeDeveloperIdentitiesInput>(cx, input).await
        }
        O::UnlinkDeveloperIdentity => {
            json::<developer::UnlinkDeveloperIdentityInput>(cx, input).await
        }
        O::GetCallerIdentity => query::<sts::GetCallerIdentityInput>(cx, operation, input).await,
        O::AssumeRoleWithWebIdentity => {
            query::<sts::AssumeRoleWithWebIdentityInput>(cx, operation, input).await
        }
        O::AssumeRoleWithSAML => query::<sts::AssumeRoleWithSAMLInput>(cx, operation, input).await,
        O::CreateRole => query::<roles::CreateRoleInput>(cx, operation, input).await,
        O::GetRole => query::<roles::GetRoleInput>(cx, operation, input).await,
        O::ListRoles => query::<roles::ListRolesInput>(cx, operation, input).await,
        O::DeleteRole => query::<roles::DeleteRoleInput>(cx, operation, input).await,
        O::UpdateRole => query::<roles::UpdateRoleInput>(cx, operation, input).await,
        O::UpdateAssumeRolePolicy => {
            query::<roles::UpdateAssumeRolePolicyInput>(cx, operation, input).await
        }
        O::PutRolePolicy => query::<roles::PutRolePolicyInput>(cx, operation, input).await,
        O::GetRolePolicy => query::<roles::GetRolePolicyInput>(cx, operation, input).await,
        O::DeleteRolePolicy => query::<roles::DeleteRolePolicyInput>(cx, operation, input).await,
        O::ListRolePolicies => query::<roles::ListRolePoliciesInput>(cx, operation, input).await,
        O::AttachRolePolicy => query::<roles::AttachRolePolicyInput>(cx, operation, input).await,
        O::DetachRolePolicy => query::<roles::DetachRolePolicyInput>(cx, operation, input).await,
        O::ListAttachedRolePolicies => {
            query::<roles::ListAttachedRolePoliciesInput>(cx, operation, input).await
        }
        O::CreatePolicy => query::<policies::CreatePolicyInput>(cx, operation, input).await,
        O::GetPolicy => query::<policies::GetPolicyInput>(cx, operation, input).await,
        O::GetPolicyVersion => query::<policies::GetPolicyVersionInput>(cx, operation, input).await,
        O::CreatePolicyVersion => {
            query::<policies::CreatePolicyVersionInput>(cx, operation, input).await
        }
        O::DeletePolicyVersion => {
            query::<policies::DeletePolicyVersionInput>(cx, operation, input).await
        }
        O::SetDefaultPolicyVersion => {
            query::<policies::SetDefaultPolicyVersionInput>(cx, operation, input).await
        }
        O::ListPolicyVersions => {
            query::<policies::ListPolicyVersionsInput>(cx, operation, input).await
        }
        O::DeletePolicy => query::<policies::DeletePolicyInput>(cx, operation, input).await,
        O::ListPolicies => query::<policies::ListPoliciesInput>(cx, operation, input).await,
        O::SimulatePrincipalPolicy => {
            query::<simulate::SimulatePrincipalPolicyInput>(cx, operation, input).await
        }
        O::SimulateCustomPolicy => {
            query::<simulate::SimulateCustomPolicyInput>(cx, operation, input).await
        }
        O::CreateOpenIDConnectProvider => {
            query::<providers::CreateOpenIDConnectProviderInput>(cx, operation, input).await
        }
        O::GetOpenIDConnectProvider => {
            query::<providers::GetOpenIDConnectProviderInput>(cx, operation, input).await
        }
        O::ListOpenIDConnectProviders => {
            query::<providers::ListOpenIDConnectProvidersInput>(cx, operation, input).await
        }
        O::DeleteOpenIDConnectProvider => {
            query::<providers::DeleteOpenIDConnectProviderInput>(cx, operation, input).await
        }
        O::AddClientIDToOpenIDConnectProvider => {
            query::<providers::AddClientIDToOpenIDConnectProviderInput>(cx, operation, input).await
        }
        O::RemoveClientIDFromOpenIDConnectProvider => {
            query::<providers::RemoveClientIDFromOpenIDConnectProviderInput>(cx, operation, input)
                .await
        }
        O::CreateSAMLProvider => {
            query::<providers::CreateSAMLProviderInput>(cx, operation, input).await
        }
        O::GetSAMLProvider => query::<providers::GetSAMLProviderInput>(cx, operation, input).await,
        O::ListSAMLProviders => {
            query::<providers::ListSAMLProvidersInput>(cx, operation, input).await
        }
        O::UpdateSAMLProvider => {
            query::<providers::UpdateSAMLProviderInput>(cx, operation, input).await
        }
        O::DeleteSAMLProvider => {
            query::<providers::DeleteSAMLProviderInput>(cx, operation, input).await
        }
    }
}

/// A Cognito Identity operation, whose input is a JSON body.
async fn json<T: JsonOperation>(cx: &Context<'_>, input: Input) -> Result<Response, ApiError> {
    match input {
        Input::Json(body) => cognito::run::<T>(cx, &body).await,
        // The parser frames an operation by its service: never here.
        Input::Query(_) => Err(ApiError::internal()),
    }
}

/// An STS or IAM operation, whose input is form parameters.
async fn query<T: QueryOperation>(
    cx: &Context<'_>,
    operation: Operation,
    input: Input,
) -> Result<Response, ApiError> {
    match input {
        Input::Query(params) => query::run::<T>(cx, operation, &params).await,
        Input::Json(_) => Err(ApiError::internal()),
    }
}
