//! Developer-authenticated identities: the four signed calls a backend
//! makes for its own user ids, each acting on the pool it names.

use std::collections::BTreeMap;

use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{JsonOperation, domain, json_response};
use crate::call::Context;
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetOpenIdTokenForDeveloperIdentityInput {
    identity_pool_id: Option<String>,
    identity_id: Option<String>,
    logins: Option<BTreeMap<String, String>>,
    principal_tags: Option<BTreeMap<String, String>>,
    token_duration: Option<i64>,
}

impl JsonOperation for GetOpenIdTokenForDeveloperIdentityInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        c.logins("logins", &self.logins);
        let pool_id = c.pool_id("identityPoolId", &self.identity_pool_id);
        optional_identity_id(&mut c, &self.identity_id);
        let _ = c.required("logins", &self.logins);
        let tags = self.principal_tags.unwrap_or_default();
        c.string_map(
            "principalTags",
            &tags,
            50,
            (1, 128, Some(&v::TAG)),
            (1, 256, Some(&v::TAG)),
            false,
        );
        if let Some(d) = self.token_duration {
            c.range("tokenDuration", d, 1, 86400);
        }
        c.finish().map_err(domain)?;
        let request = cognate_core::developer::DeveloperTokenRequest {
            pool_id: pool_id.unwrap_or_default(),
            identity_id: self.identity_id,
            logins: self.logins.unwrap_or_default(),
            principal_tags: tags,
            token_duration: self.token_duration,
        };
        let (id, token) = cx
            .state
            .cognate
            .developer()
            .open_id_token(&cx.caller, &request)
            .await
            .map_err(domain)?;
        Ok(json_response(json!({ "IdentityId": id, "Token": token })))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LookupDeveloperIdentityInput {
    identity_pool_id: Option<String>,
    identity_id: Option<String>,
    developer_user_identifier: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

impl JsonOperation for LookupDeveloperIdentityInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let pool_id = c.pool_id("identityPoolId", &self.identity_pool_id);
        optional_identity_id(&mut c, &self.identity_id);
        c.opt_string(
            "developerUserIdentifier",
            &self.developer_user_identifier,
            1,
            1024,
            None,
        );
        if let Some(m) = self.max_results {
            c.range("maxResults", m, 1, 60);
        }
        c.next_token("nextToken", &self.next_token);
        c.finish().map_err(domain)?;
        let (id, users, next) = cx
            .state
            .cognate
            .developer()
            .lookup(
                &cx.caller,
                &pool_id.unwrap_or_default(),
                self.identity_id.as_deref(),
                self.developer_user_identifier.as_deref(),
                self.max_results
                    .and_then(|m| usize::try_from(m).ok())
                    .unwrap_or(60),
                self.next_token.as_deref(),
            )
            .await
            .map_err(domain)?;
        let mut out = json!({ "IdentityId": id, "DeveloperUserIdentifierList": users });
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(json_response(out))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MergeDeveloperIdentitiesInput {
    identity_pool_id: Option<String>,
    source_user_identifier: Option<String>,
    destination_user_identifier: Option<String>,
    developer_provider_name: Option<String>,
}

impl JsonOperation for MergeDeveloperIdentitiesInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let pool_id = c.pool_id("identityPoolId", &self.identity_pool_id);
        let source = required_string(
            &mut c,
            "sourceUserIdentifier",
            &self.source_user_identifier,
            1024,
        );
        let destination = required_string(
            &mut c,
            "destinationUserIdentifier",
            &self.destination_user_identifier,
            1024,
        );
        let provider = developer_provider(&mut c, &self.developer_provider_name);
        c.finish().map_err(domain)?;
        let id = cx
            .state
            .cognate
            .developer()
            .merge(
                &cx.caller,
                &pool_id.unwrap_or_default(),
                &provider,
                &source,
                &destination,
            )
            .await
            .map_err(domain)?;
        Ok(json_response(json!({ "IdentityId": id })))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UnlinkDeveloperIdentityInput {
    identity_pool_id: Option<String>,
    identity_id: Option<String>,
    developer_user_identifier: Option<String>,
    developer_provider_name: Option<String>,
}

impl JsonOperation for UnlinkDeveloperIdentityInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let pool_id = c.pool_id("identityPoolId", &self.identity_pool_id);
        let id = c.identity_id("identityId", &self.identity_id);
        let user = required_string(
            &mut c,
            "developerUserIdentifier",
            &self.developer_user_identifier,
            1024,
        );
        let provider = developer_provider(&mut c, &self.developer_provider_name);
        c.finish().map_err(domain)?;
        cx.state
            .cognate
            .developer()
            .unlink(
                &cx.caller,
                &pool_id.unwrap_or_default(),
                &id.unwrap_or_default(),
                &provider,
                &user,
            )
            .await
            .map_err(domain)?;
        Ok(json_response(json!({})))
    }
}

fn optional_identity_id(c: &mut Checker, value: &Option<String>) {
    if let Some(id) = value {
        c.string("identityId", id, 1, 55, Some(&v::REGIONAL_ID));
    }
}

fn required_string(c: &mut Checker, member: &str, value: &Option<String>, max: usize) -> String {
    let v = c.required(member, value).cloned().unwrap_or_default();
    if value.is_some() {
        c.string(member, &v, 1, max, None);
    }
    v
}

fn developer_provider(c: &mut Checker, value: &Option<String>) -> String {
    let v = c
        .required("developerProviderName", value)
        .cloned()
        .unwrap_or_default();
    if value.is_some() {
        c.string(
            "developerProviderName",
            &v,
            1,
            128,
            Some(&v::DEVELOPER_PROVIDER_NAME),
        );
    }
    v
}
