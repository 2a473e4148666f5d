//! Identities and the authentication flows.

use std::collections::BTreeMap;

use axum::response::Response;
use cognate_core::model::Identity;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonResult, answers, domain, epoch, json_response, not_implemented, text_response};
use crate::app::AppState;
use crate::auth::{Principal, caller};
use crate::operation::Operation;
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;

/// The members of every identity operation's input, decoded straight from
/// the request body (`decode_flow_input`) rather than through a `Value`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowInput {
    identity_pool_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    logins: Option<BTreeMap<String, String>>,
    custom_role_arn: Option<String>,
    logins_to_remove: Option<Vec<String>>,
    max_results: Option<i64>,
    next_token: Option<String>,
    hide_disabled: Option<bool>,
    identity_ids_to_delete: Option<Vec<String>>,
    principal_tags: Option<BTreeMap<String, String>>,
    token_duration: Option<i64>,
    developer_user_identifier: Option<String>,
    source_user_identifier: Option<String>,
    destination_user_identifier: Option<String>,
    developer_provider_name: Option<String>,
}

impl FlowInput {
    /// The pool the call names (GetId, ListIdentities, the developer calls).
    pub fn pool_id(&self) -> Option<&str> {
        self.identity_pool_id.as_deref()
    }

    pub fn identity_id(&self) -> Option<&str> {
        self.identity_id.as_deref()
    }

    /// GetId without logins creates a guest (limited per pool).
    pub fn has_logins(&self) -> bool {
        self.logins.as_ref().is_some_and(|l| !l.is_empty())
    }
}

/// The members of a JSON object body, if they decode as they are: valid
/// UTF-8 throughout, each member once and of its type. (The decoder checks
/// only the syntax of members it does not know, so the text is checked
/// first.) `None` sends the body the `Value` way, which names what is wrong.
pub fn decode_flow_input(body: &[u8]) -> Option<FlowInput> {
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str(text).ok()
}

pub async fn dispatch(
    state: &AppState,
    operation: Operation,
    principal: &Principal,
    input: FlowInput,
) -> Result<Response, ApiError> {
    let cognate = &state.cognate;
    let mut c = Checker::new();
    c.logins("logins", &input.logins);
    let logins = input.logins.clone().unwrap_or_default();
    match operation {
        Operation::GetId => {
            let pool_id = c.pool_id("identityPoolId", &input.identity_pool_id);
            c.opt_string("accountId", &input.account_id, 1, 15, Some(&v::ACCOUNT_ID));
            c.finish().map_err(domain)?;
            let id = cognate
                .get_id(
                    &pool_id.unwrap_or_default(),
                    input.account_id.as_deref(),
                    &logins,
                )
                .await
                .map_err(domain)?;
            Ok(text_response(answers::identity(&id)))
        }
        Operation::GetOpenIdToken => {
            let id = c.identity_id("identityId", &input.identity_id);
            c.finish().map_err(domain)?;
            let (id, token) = cognate
                .get_open_id_token(&id.unwrap_or_default(), &logins)
                .await
                .map_err(domain)?;
            Ok(text_response(answers::token(&id, &token)))
        }
        Operation::GetCredentialsForIdentity => {
            let id = c.identity_id("identityId", &input.identity_id);
            if let Some(arn) = &input.custom_role_arn {
                c.arn("customRoleArn", arn);
            }
            c.finish().map_err(domain)?;
            let (id, credentials) = cognate
                .get_credentials_for_identity(
                    &id.unwrap_or_default(),
                    &logins,
                    input.custom_role_arn.as_deref(),
                )
                .await
                .map_err(domain)?;
            Ok(text_response(answers::credentials(&id, &credentials)))
        }
        _ => documents(state, operation, principal, input, c, logins)
            .await
            .map(json_response),
    }
}

async fn documents(
    state: &AppState,
    operation: Operation,
    principal: &Principal,
    input: FlowInput,
    mut c: Checker,
    logins: BTreeMap<String, String>,
) -> JsonResult {
    let cognate = &state.cognate;
    match operation {
        Operation::UnlinkIdentity => {
            let id = c.identity_id("identityId", &input.identity_id);
            let _ = c.required("logins", &input.logins);
            let remove = c
                .required("loginsToRemove", &input.logins_to_remove)
                .cloned()
                .unwrap_or_default();
            for provider in &remove {
                c.string("loginsToRemove", provider, 1, 128, None);
            }
            c.finish().map_err(domain)?;
            cognate
                .unlink_identity(&id.unwrap_or_default(), &logins, &remove)
                .await
                .map_err(domain)?;
            Ok(json!({}))
        }
        Operation::ListIdentities => {
            let pool_id = c.pool_id("identityPoolId", &input.identity_pool_id);
            let max = c.max_results("maxResults", &input.max_results);
            c.next_token("nextToken", &input.next_token);
            c.finish().map_err(domain)?;
            let pool_id = pool_id.unwrap_or_default();
            let (identities, next) = cognate
                .list_identities(
                    &caller(state, principal),
                    &pool_id,
                    max.unwrap_or(1),
                    input.next_token.as_deref(),
                    input.hide_disabled.unwrap_or(false),
                )
                .await
                .map_err(domain)?;
            let items: Vec<Value> = identities.iter().map(identity_json).collect();
            let mut out = json!({ "IdentityPoolId": pool_id, "Identities": items });
            if let Some(next) = next {
                out["NextToken"] = json!(next);
            }
            Ok(out)
        }
        Operation::DescribeIdentity => {
            let id = c.identity_id("identityId", &input.identity_id);
            c.finish().map_err(domain)?;
            let identity = cognate
                .describe_identity(&caller(state, principal), &id.unwrap_or_default())
                .await
                .map_err(domain)?;
            let mut out = identity_json(&identity);
            // Beyond AWS's shape (SDKs ignore unknown members): where a
            // merged identity went, and which identities merged into it,
            // so apps can move data keyed by the old ids.
            if let Some(into) = &identity.merged_into {
                out["MergedInto"] = json!(into);
            }
            let merged_from: Vec<String> = cognate
                .identity_merges(&identity.id)
                .await
                .map_err(domain)?
                .into_iter()
                .filter(|m| m.to_identity == identity.id)
                .map(|m| m.from_identity)
                .collect();
            if !merged_from.is_empty() {
                out["MergedFrom"] = json!(merged_from);
            }
            Ok(out)
        }
        Operation::DeleteIdentities => {
            let ids = c
                .required("identityIdsToDelete", &input.identity_ids_to_delete)
                .cloned()
                .unwrap_or_default();
            c.count("identityIdsToDelete", &format!("{ids:?}"), ids.len(), 1, 60);
            for id in &ids {
                c.string("identityIdsToDelete", id, 1, 55, Some(&v::REGIONAL_ID));
            }
            c.finish().map_err(domain)?;
            let unprocessed = cognate
                .delete_identities(&caller(state, principal), &ids)
                .await
                .map_err(domain)?;
            let items: Vec<Value> = unprocessed
                .into_iter()
                .map(|(id, code)| json!({ "IdentityId": id, "ErrorCode": code }))
                .collect();
            Ok(json!({ "UnprocessedIdentityIds": items }))
        }
        Operation::GetOpenIdTokenForDeveloperIdentity => {
            let pool_id = c.pool_id("identityPoolId", &input.identity_pool_id);
            if let Some(id) = &input.identity_id {
                c.string("identityId", id, 1, 55, Some(&v::REGIONAL_ID));
            }
            let _ = c.required("logins", &input.logins);
            let tags = input.principal_tags.clone().unwrap_or_default();
            c.string_map(
                "principalTags",
                &tags,
                50,
                (1, 128, None),
                (1, 256, None),
                false,
            );
            if let Some(d) = input.token_duration {
                c.range("tokenDuration", d, 1, 86400);
            }
            c.finish().map_err(domain)?;
            let request = cognate_core::developer::DeveloperTokenRequest {
                pool_id: pool_id.unwrap_or_default(),
                identity_id: input.identity_id.clone(),
                logins,
                principal_tags: tags,
                token_duration: input.token_duration,
            };
            let (id, token) = cognate
                .get_open_id_token_for_developer_identity(&caller(state, principal), &request)
                .await
                .map_err(domain)?;
            Ok(json!({ "IdentityId": id, "Token": token }))
        }
        Operation::LookupDeveloperIdentity => {
            let pool_id = c.pool_id("identityPoolId", &input.identity_pool_id);
            if let Some(id) = &input.identity_id {
                c.string("identityId", id, 1, 55, Some(&v::REGIONAL_ID));
            }
            c.opt_string(
                "developerUserIdentifier",
                &input.developer_user_identifier,
                1,
                1024,
                None,
            );
            if let Some(m) = input.max_results {
                c.range("maxResults", m, 1, 60);
            }
            c.next_token("nextToken", &input.next_token);
            c.finish().map_err(domain)?;
            let (id, users, next) = cognate
                .lookup_developer_identity(
                    &caller(state, principal),
                    &pool_id.unwrap_or_default(),
                    input.identity_id.as_deref(),
                    input.developer_user_identifier.as_deref(),
                    input
                        .max_results
                        .and_then(|m| usize::try_from(m).ok())
                        .unwrap_or(60),
                    input.next_token.as_deref(),
                )
                .await
                .map_err(domain)?;
            let mut out = json!({ "IdentityId": id, "DeveloperUserIdentifierList": users });
            if let Some(next) = next {
                out["NextToken"] = json!(next);
            }
            Ok(out)
        }
        Operation::MergeDeveloperIdentities => {
            let pool_id = c.pool_id("identityPoolId", &input.identity_pool_id);
            let source = required_string(
                &mut c,
                "sourceUserIdentifier",
                &input.source_user_identifier,
                1024,
            );
            let destination = required_string(
                &mut c,
                "destinationUserIdentifier",
                &input.destination_user_identifier,
                1024,
            );
            let provider = developer_provider(&mut c, &input.developer_provider_name);
            c.finish().map_err(domain)?;
            let id = cognate
                .merge_developer_identities(
                    &caller(state, principal),
                    &pool_id.unwrap_or_default(),
                    &provider,
                    &source,
                    &destination,
                )
                .await
                .map_err(domain)?;
            Ok(json!({ "IdentityId": id }))
        }
        Operation::UnlinkDeveloperIdentity => {
            let pool_id = c.pool_id("identityPoolId", &input.identity_pool_id);
            let id = c.identity_id("identityId", &input.identity_id);
            let user = required_string(
                &mut c,
                "developerUserIdentifier",
                &input.developer_user_identifier,
                1024,
            );
            let provider = developer_provider(&mut c, &input.developer_provider_name);
            c.finish().map_err(domain)?;
            cognate
                .unlink_developer_identity(
                    &caller(state, principal),
                    &pool_id.unwrap_or_default(),
                    &id.unwrap_or_default(),
                    &provider,
                    &user,
                )
                .await
                .map_err(domain)?;
            Ok(json!({}))
        }
        _ => Err(not_implemented(operation)),
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

/// IdentityDescription: login provider names only, never subjects.
fn identity_json(identity: &Identity) -> Value {
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
