//! Identities: the public authentication flows (GetId, GetOpenIdToken,
//! GetCredentialsForIdentity, UnlinkIdentity) and their administration
//! (ListIdentities, DescribeIdentity, DeleteIdentities).

use std::collections::BTreeMap;

use axum::response::Response;
use cognate_core::model::Identity;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonOperation, answers, domain, epoch, json_response, text_response};
use crate::call::Context;
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetIdInput {
    identity_pool_id: Option<String>,
    account_id: Option<String>,
    logins: Option<BTreeMap<String, String>>,
}

impl JsonOperation for GetIdInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        c.logins("logins", &self.logins);
        let pool_id = c.pool_id("identityPoolId", &self.identity_pool_id);
        c.opt_string("accountId", &self.account_id, 1, 15, Some(&v::ACCOUNT_ID));
        c.finish().map_err(domain)?;
        let pool_id = pool_id.unwrap_or_default();
        let logins = self.logins.unwrap_or_default();
        // Without logins the domain makes a new guest: limited per client
        // and per pool, on this input and no other.
        if logins.is_empty() && !cx.state.limiter.allow_guest(cx.client, &pool_id) {
            return Err(domain(cognate_core::Error::TooManyRequests(
                "Rate exceeded".into(),
            )));
        }
        let id = cx
            .state
            .cognate
            .identities()
            .get_id(&pool_id, self.account_id.as_deref(), &logins)
            .await
            .map_err(domain)?;
        Ok(text_response(answers::identity(&id)))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetOpenIdTokenInput {
    identity_id: Option<String>,
    logins: Option<BTreeMap<String, String>>,
}

impl JsonOperation for GetOpenIdTokenInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        c.logins("logins", &self.logins);
        let id = c.identity_id("identityId", &self.identity_id);
        c.finish().map_err(domain)?;
        let (id, token) = cx
            .state
            .cognate
            .identities()
            .get_open_id_token(&id.unwrap_or_default(), &self.logins.unwrap_or_default())
            .await
            .map_err(domain)?;
        Ok(text_response(answers::token(&id, &token)))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetCredentialsForIdentityInput {
    identity_id: Option<String>,
    logins: Option<BTreeMap<String, String>>,
    custom_role_arn: Option<String>,
}

impl JsonOperation for GetCredentialsForIdentityInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        c.logins("logins", &self.logins);
        let id = c.identity_id("identityId", &self.identity_id);
        if let Some(arn) = &self.custom_role_arn {
            c.arn("customRoleArn", arn);
        }
        c.finish().map_err(domain)?;
        let (id, credentials) = cx
            .state
            .cognate
            .identities()
            .get_credentials_for_identity(
                &id.unwrap_or_default(),
                &self.logins.unwrap_or_default(),
                self.custom_role_arn.as_deref(),
            )
            .await
            .map_err(domain)?;
        Ok(text_response(answers::credentials(&id, &credentials)))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UnlinkIdentityInput {
    identity_id: Option<String>,
    logins: Option<BTreeMap<String, String>>,
    logins_to_remove: Option<Vec<String>>,
}

impl JsonOperation for UnlinkIdentityInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        c.logins("logins", &self.logins);
        let id = c.identity_id("identityId", &self.identity_id);
        let _ = c.required("logins", &self.logins);
        let remove = c
            .required("loginsToRemove", &self.logins_to_remove)
            .cloned()
            .unwrap_or_default();
        for provider in &remove {
            c.string("loginsToRemove", provider, 1, 128, None);
        }
        c.finish().map_err(domain)?;
        cx.state
            .cognate
            .identities()
            .unlink(
                &id.unwrap_or_default(),
                &self.logins.unwrap_or_default(),
                &remove,
            )
            .await
            .map_err(domain)?;
        Ok(json_response(json!({})))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListIdentitiesInput {
    identity_pool_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    hide_disabled: Option<bool>,
}

impl JsonOperation for ListIdentitiesInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let pool_id = c.pool_id("identityPoolId", &self.identity_pool_id);
        let max = c.max_results("maxResults", &self.max_results);
        c.next_token("nextToken", &self.next_token);
        c.finish().map_err(domain)?;
        let pool_id = pool_id.unwrap_or_default();
        let (identities, next) = cx
            .state
            .cognate
            .identities()
            .list(
                &cx.caller,
                &pool_id,
                max.unwrap_or(1),
                self.next_token.as_deref(),
                self.hide_disabled.unwrap_or(false),
            )
            .await
            .map_err(domain)?;
        let items: Vec<Value> = identities.iter().map(identity_json).collect();
        let mut out = json!({ "IdentityPoolId": pool_id, "Identities": items });
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(json_response(out))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeIdentityInput {
    identity_id: Option<String>,
}

impl JsonOperation for DescribeIdentityInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let id = c.identity_id("identityId", &self.identity_id);
        c.finish().map_err(domain)?;
        let cognate = &cx.state.cognate;
        let identity = cognate
            .identities()
            .describe(&cx.caller, &id.unwrap_or_default())
            .await
            .map_err(domain)?;
        let mut out = identity_json(&identity);
        // Beyond AWS's shape (SDKs ignore unknown members): where a merged
        // identity went, and which identities merged into it, so apps can
        // move data keyed by the old ids.
        if let Some(into) = &identity.merged_into {
            out["MergedInto"] = json!(into);
        }
        let merged_from: Vec<String> = cognate
            .identities()
            .merges(&identity.id)
            .await
            .map_err(domain)?
            .into_iter()
            .filter(|m| m.to_identity == identity.id)
            .map(|m| m.from_identity)
            .collect();
        if !merged_from.is_empty() {
            out["MergedFrom"] = json!(merged_from);
        }
        Ok(json_response(out))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteIdentitiesInput {
    identity_ids_to_delete: Option<Vec<String>>,
}

impl JsonOperation for DeleteIdentitiesInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let ids = c
            .required("identityIdsToDelete", &self.identity_ids_to_delete)
            .cloned()
            .unwrap_or_default();
        c.count("identityIdsToDelete", &format!("{ids:?}"), ids.len(), 1, 60);
        for id in &ids {
            c.string("identityIdsToDelete", id, 1, 55, Some(&v::REGIONAL_ID));
        }
        c.finish().map_err(domain)?;
        let unprocessed = cx
            .state
            .cognate
            .identities()
            .delete(&cx.caller, &ids)
            .await
            .map_err(domain)?;
        let items: Vec<Value> = unprocessed
            .into_iter()
            .map(|(id, code)| json!({ "IdentityId": id, "ErrorCode": code }))
            .collect();
        Ok(json_response(json!({ "UnprocessedIdentityIds": items })))
    }
}

/// IdentityDescription: login provider names only, never subjects.
pub(super) fn identity_json(identity: &Identity) -> Value {
    let mut providers: Vec<&str> = identity
        .logins
        .iter()
        .map(|l| l.provider.as_str())
        .collect();
    providers.dedup();
    json!({
        "IdentityId": identity.id,
        "Logins": providers,
        "CreationDate": epoch(identity.created_at),
        "LastModifiedDate": epoch(identity.updated_at),
    })
}
