//! Identity pool administration: one input type per operation, each
//! acting on the pool it names (the domain authorizes that pool).

use std::collections::BTreeMap;

use axum::response::Response;
use cognate_core::model::{
    AmbiguousRoleResolution, CognitoProvider, MappingRule, MatchType, Pool, RoleMapping,
    RoleMappingType,
};
use cognate_core::pools::PoolSettings;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{JsonOperation, domain, json_response};
use crate::call::Context;
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;

/// The members CreateIdentityPool and UpdateIdentityPool share (Create
/// ignores `IdentityPoolId`, which its model does not have).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PoolInput {
    identity_pool_id: Option<String>,
    identity_pool_name: Option<String>,
    allow_unauthenticated_identities: Option<bool>,
    allow_classic_flow: Option<bool>,
    supported_login_providers: Option<BTreeMap<String, String>>,
    developer_provider_name: Option<String>,
    #[serde(rename = "OpenIdConnectProviderARNs")]
    open_id_connect_provider_arns: Option<Vec<String>>,
    cognito_identity_providers: Option<Vec<CognitoProviderInput>>,
    #[serde(rename = "SamlProviderARNs")]
    saml_provider_arns: Option<Vec<String>>,
    identity_pool_tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CognitoProviderInput {
    provider_name: Option<String>,
    client_id: Option<String>,
    server_side_token_check: Option<bool>,
}

fn check_tags(c: &mut Checker, member: &str, tags: &BTreeMap<String, String>) {
    c.string_map(
        member,
        tags,
        50,
        (1, 128, Some(&v::TAG)),
        (0, 256, Some(&v::TAG)),
        false,
    );
}

impl PoolInput {
    /// Checks the model constraints and returns the settings.
    fn settings(self, c: &mut Checker) -> PoolSettings {
        let name = c
            .required("identityPoolName", &self.identity_pool_name)
            .cloned();
        if let Some(name) = &name {
            c.string("identityPoolName", name, 1, 128, Some(&v::POOL_NAME));
        }
        let allow_unauthenticated = c
            .required(
                "allowUnauthenticatedIdentities",
                &self.allow_unauthenticated_identities,
            )
            .copied()
            .unwrap_or(false);
        let providers = self.supported_login_providers.unwrap_or_default();
        c.string_map(
            "supportedLoginProviders",
            &providers,
            10,
            (1, 128, None),
            (1, 128, Some(&v::PROVIDER_ID)),
            false,
        );
        c.opt_string(
            "developerProviderName",
            &self.developer_provider_name,
            1,
            128,
            Some(&v::DEVELOPER_PROVIDER_NAME),
        );
        let oidc = self.open_id_connect_provider_arns.unwrap_or_default();
        for arn in &oidc {
            c.arn("openIdConnectProviderARNs", arn);
        }
        let saml = self.saml_provider_arns.unwrap_or_default();
        for arn in &saml {
            c.arn("samlProviderARNs", arn);
        }
        let mut user_pools = Vec::new();
        for p in self.cognito_identity_providers.unwrap_or_default() {
            if let Some(name) = &p.provider_name {
                c.string(
                    "cognitoIdentityProviders.member.providerName",
                    name,
                    1,
                    128,
                    Some(&v::USER_POOL_PROVIDER_NAME),
                );
            }
            if let Some(id) = &p.client_id {
                c.string(
                    "cognitoIdentityProviders.member.clientId",
                    id,
                    1,
                    128,
                    Some(&v::USER_POOL_CLIENT_ID),
                );
            }
            // The model makes both optional; a provider without them is useless.
            match (p.provider_name, p.client_id) {
                (Some(provider_name), Some(client_id)) => user_pools.push(CognitoProvider {
                    provider_name,
                    client_id,
                    server_side_token_check: p.server_side_token_check,
                }),
                (None, _) => {
                    let _ =
                        c.required::<String>("cognitoIdentityProviders.member.providerName", &None);
                }
                (_, None) => {
                    let _ = c.required::<String>("cognitoIdentityProviders.member.clientId", &None);
                }
            }
        }
        if let Some(tags) = &self.identity_pool_tags {
            check_tags(c, "identityPoolTags", tags);
        }
        PoolSettings {
            name: name.unwrap_or_default(),
            allow_unauthenticated,
            allow_classic_flow: self.allow_classic_flow,
            supported_login_providers: providers,
            developer_provider_name: self.developer_provider_name,
            open_id_connect_provider_arns: oidc,
            cognito_identity_providers: user_pools,
            saml_provider_arns: saml,
            tags: self.identity_pool_tags,
        }
    }
}

/// The settings a CreateIdentityPool or UpdateIdentityPool request body
/// (`input`, its JSON) gives, checked against the model exactly as on the
/// wire, errors in AWS's words: the admin console builds this body from
/// its form, so its messages are the API's.
pub fn checked_pool_settings(input: Value) -> Result<PoolSettings, cognate_core::Error> {
    let input: PoolInput = serde_json::from_value(input)
        .map_err(|e| cognate_core::Error::InvalidParameter(e.to_string()))?;
    let mut c = Checker::new();
    let settings = input.settings(&mut c);
    c.finish()?;
    Ok(settings)
}

/// The pool as the service describes it: optional members only when set.
pub fn pool_json(pool: &Pool) -> Value {
    let mut out = Map::new();
    out.insert("IdentityPoolId".into(), json!(pool.id));
    out.insert("IdentityPoolName".into(), json!(pool.name));
    out.insert(
        "AllowUnauthenticatedIdentities".into(),
        json!(pool.allow_unauthenticated),
    );
    if let Some(flow) = pool.allow_classic_flow {
        out.insert("AllowClassicFlow".into(), json!(flow));
    }
    if !pool.supported_login_providers.is_empty() {
        out.insert(
            "SupportedLoginProviders".into(),
            json!(pool.supported_login_providers),
        );
    }
    if let Some(dev) = &pool.developer_provider_name {
        out.insert("DeveloperProviderName".into(), json!(dev));
    }
    if !pool.open_id_connect_provider_arns.is_empty() {
        out.insert(
            "OpenIdConnectProviderARNs".into(),
            json!(pool.open_id_connect_provider_arns),
        );
    }
    if !pool.cognito_identity_providers.is_empty() {
        let providers: Vec<Value> = pool
            .cognito_identity_providers
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.insert("ProviderName".into(), json!(p.provider_name));
                m.insert("ClientId".into(), json!(p.client_id));
                if let Some(check) = p.server_side_token_check {
                    m.insert("ServerSideTokenCheck".into(), json!(check));
                }
                Value::Object(m)
            })
            .collect();
        out.insert("CognitoIdentityProviders".into(), Value::Array(providers));
    }
    if !pool.saml_provider_arns.is_empty() {
        out.insert("SamlProviderARNs".into(), json!(pool.saml_provider_arns));
    }
    if !pool.tags.is_empty() {
        out.insert("IdentityPoolTags".into(), json!(pool.tags));
    }
    Value::Object(out)
}

/// An input that names one pool.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PoolIdInput {
    identity_pool_id: Option<String>,
}

impl PoolIdInput {
    fn pool_id(self) -> Result<String, ApiError> {
        let mut c = Checker::new();
        let id = c.pool_id("identityPoolId", &self.identity_pool_id);
        c.finish().map_err(domain)?;
        Ok(id.unwrap_or_default())
    }
}

#[derive(Deserialize, Default)]
#[serde(transparent)]
pub struct CreateIdentityPoolInput(PoolInput);

impl JsonOperation for CreateIdentityPoolInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let settings = self.0.settings(&mut c);
        c.finish().map_err(domain)?;
        let pool = cx
            .state
            .cognate
            .pools()
            .create(&cx.caller, settings)
            .await
            .map_err(domain)?;
        Ok(json_response(pool_json(&pool)))
    }
}

#[derive(Deserialize, Default)]
#[serde(transparent)]
pub struct DescribeIdentityPoolInput(PoolIdInput);

impl JsonOperation for DescribeIdentityPoolInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let id = self.0.pool_id()?;
        let pool = cx
            .state
            .cognate
            .pools()
            .describe(&cx.caller, &id)
            .await
            .map_err(domain)?;
        Ok(json_response(pool_json(&pool)))
    }
}

#[derive(Deserialize, Default)]
#[serde(transparent)]
pub struct UpdateIdentityPoolInput(PoolInput);

impl JsonOperation for UpdateIdentityPoolInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let id = c.pool_id("identityPoolId", &self.0.identity_pool_id);
        let settings = self.0.settings(&mut c);
        c.finish().map_err(domain)?;
        let pool = cx
            .state
            .cognate
            .pools()
            .update(&cx.caller, &id.unwrap_or_default(), settings)
            .await
            .map_err(domain)?;
        Ok(json_response(pool_json(&pool)))
    }
}

#[derive(Deserialize, Default)]
#[serde(transparent)]
pub struct DeleteIdentityPoolInput(PoolIdInput);

impl JsonOperation for DeleteIdentityPoolInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let id = self.0.pool_id()?;
        cx.state
            .cognate
            .pools()
            .delete(&cx.caller, &id)
            .await
            .map_err(domain)?;
        Ok(json_response(json!({})))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListIdentityPoolsInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

impl JsonOperation for ListIdentityPoolsInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let max = c.max_results("maxResults", &self.max_results);
        c.next_token("nextToken", &self.next_token);
        c.finish().map_err(domain)?;
        let (pools, next) = cx
            .state
            .cognate
            .pools()
            .list(&cx.caller, max.unwrap_or(1), self.next_token.as_deref())
            .await
            .map_err(domain)?;
        let items: Vec<Value> = pools
            .iter()
            .map(|p| json!({"IdentityPoolId": p.id, "IdentityPoolName": p.name}))
            .collect();
        let mut out = json!({ "IdentityPools": items });
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(json_response(out))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SetIdentityPoolRolesInput {
    identity_pool_id: Option<String>,
    roles: Option<BTreeMap<String, String>>,
    role_mappings: Option<BTreeMap<String, RoleMappingInput>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleMappingInput {
    #[serde(rename = "Type")]
    mapping_type: Option<String>,
    ambiguous_role_resolution: Option<String>,
    rules_configuration: Option<RulesInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RulesInput {
    rules: Option<Vec<RuleInput>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleInput {
    claim: Option<String>,
    match_type: Option<String>,
    value: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
}

fn role_mapping(c: &mut Checker, key: &str, m: RoleMappingInput) -> Option<RoleMapping> {
    let member = "roleMappings";
    c.string(member, key, 1, 128, None);
    let mapping_type = match c.required("roleMappings.member.type", &m.mapping_type) {
        Some(t) => {
            c.one_of("roleMappings.member.type", t, &["Token", "Rules"]);
            match t.as_str() {
                "Token" => Some(RoleMappingType::Token),
                "Rules" => Some(RoleMappingType::Rules),
                _ => None,
            }
        }
        None => None,
    };
    let ambiguous = m.ambiguous_role_resolution.as_deref().and_then(|a| {
        c.one_of(
            "roleMappings.member.ambiguousRoleResolution",
            a,
            &["AuthenticatedRole", "Deny"],
        );
        match a {
            "AuthenticatedRole" => Some(AmbiguousRoleResolution::AuthenticatedRole),
            "Deny" => Some(AmbiguousRoleResolution::Deny),
            _ => None,
        }
    });
    let rules = m.rules_configuration.map(|rc| {
        let rules = rc.rules.unwrap_or_default();
        c.count(
            "roleMappings.member.rulesConfiguration.rules",
            &format!("[{} rules]", rules.len()),
            rules.len(),
            1,
            400,
        );
        rules
            .into_iter()
            .filter_map(|r| {
                let p = "roleMappings.member.rulesConfiguration.rules.member";
                let claim = c.required(&format!("{p}.claim"), &r.claim)?.clone();
                c.string(&format!("{p}.claim"), &claim, 1, 64, Some(&v::CLAIM_NAME));
                let match_type = c
                    .required(&format!("{p}.matchType"), &r.match_type)?
                    .clone();
                c.one_of(
                    &format!("{p}.matchType"),
                    &match_type,
                    &["Equals", "Contains", "StartsWith", "NotEqual"],
                );
                let value = c.required(&format!("{p}.value"), &r.value)?.clone();
                c.string(&format!("{p}.value"), &value, 1, 128, None);
                let role_arn = c.required(&format!("{p}.roleARN"), &r.role_arn)?.clone();
                c.arn(&format!("{p}.roleARN"), &role_arn);
                let match_type = match match_type.as_str() {
                    "Equals" => MatchType::Equals,
                    "Contains" => MatchType::Contains,
                    "StartsWith" => MatchType::StartsWith,
                    "NotEqual" => MatchType::NotEqual,
                    _ => return None,
                };
                Some(MappingRule {
                    claim,
                    match_type,
                    value,
                    role_arn,
                })
            })
            .collect()
    });
    Some(RoleMapping {
        mapping_type: mapping_type?,
        ambiguous_role_resolution: ambiguous,
        rules,
    })
}

/// A pool's roles (`authenticated`, `unauthenticated`) and role mappings
/// by provider.
pub type RoleSettings = (BTreeMap<String, String>, BTreeMap<String, RoleMapping>);

/// The roles and role mappings a SetIdentityPoolRoles request body
/// (`input`, its JSON, without IdentityPoolId) gives, checked against the
/// model exactly as on the wire, errors in AWS's words: the admin
/// console builds this body from its form.
pub fn checked_role_settings(input: Value) -> Result<RoleSettings, cognate_core::Error> {
    let input: SetIdentityPoolRolesInput = serde_json::from_value(input)
        .map_err(|e| cognate_core::Error::InvalidParameter(e.to_string()))?;
    let mut c = Checker::new();
    let settings = input.role_settings(&mut c);
    c.finish()?;
    Ok(settings)
}

impl SetIdentityPoolRolesInput {
    fn role_settings(self, c: &mut Checker) -> RoleSettings {
        let roles = c
            .required("roles", &self.roles)
            .cloned()
            .unwrap_or_default();
        c.count("roles", &format!("{roles:?}"), roles.len(), 0, 2);
        for (key, arn) in &roles {
            let before = c.error_count();
            c.string("roles", key, 1, 128, Some(&v::ROLE_TYPE));
            if c.error_count() == before {
                c.arn("roles", arn);
            }
        }
        let mut mappings = BTreeMap::new();
        let raw = self.role_mappings.unwrap_or_default();
        c.count("roleMappings", "{...}", raw.len(), 0, 10);
        for (key, m) in raw {
            if let Some(mapping) = role_mapping(c, &key, m) {
                mappings.insert(key, mapping);
            }
        }
        (roles, mappings)
    }
}

impl JsonOperation for SetIdentityPoolRolesInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let id = c.pool_id("identityPoolId", &self.identity_pool_id);
        let (roles, mappings) = self.role_settings(&mut c);
        c.finish().map_err(domain)?;
        cx.state
            .cognate
            .pools()
            .set_roles(&cx.caller, &id.unwrap_or_default(), roles, mappings)
            .await
            .map_err(domain)?;
        Ok(json_response(json!({})))
    }
}

fn role_mapping_json(m: &RoleMapping) -> Value {
    let mut out = Map::new();
    out.insert(
        "Type".into(),
        json!(match m.mapping_type {
            RoleMappingType::Token => "Token",
            RoleMappingType::Rules => "Rules",
        }),
    );
    if let Some(a) = m.ambiguous_role_resolution {
        out.insert(
            "AmbiguousRoleResolution".into(),
            json!(match a {
                AmbiguousRoleResolution::AuthenticatedRole => "AuthenticatedRole",
                AmbiguousRoleResolution::Deny => "Deny",
            }),
        );
    }
    if let Some(rules) = &m.rules {
        let rules: Vec<Value> = rules
            .iter()
            .map(|r| {
                json!({
                    "Claim": r.claim,
                    "MatchType": match r.match_type {
                        MatchType::Equals => "Equals",
                        MatchType::Contains => "Contains",
                        MatchType::StartsWith => "StartsWith",
                        MatchType::NotEqual => "NotEqual",
                    },
                    "Value": r.value,
                    "RoleARN": r.role_arn,
                })
            })
            .collect();
        out.insert("RulesConfiguration".into(), json!({ "Rules": rules }));
    }
    Value::Object(out)
}

#[derive(Deserialize, Default)]
#[serde(transparent)]
pub struct GetIdentityPoolRolesInput(PoolIdInput);

impl JsonOperation for GetIdentityPoolRolesInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let id = self.0.pool_id()?;
        let pool = cx
            .state
            .cognate
            .pools()
            .roles(&cx.caller, &id)
            .await
            .map_err(domain)?;
        let mut out = json!({ "IdentityPoolId": pool.id, "Roles": pool.roles });
        if !pool.role_mappings.is_empty() {
            let mappings: Map<String, Value> = pool
                .role_mappings
                .iter()
                .map(|(k, m)| (k.clone(), role_mapping_json(m)))
                .collect();
            out["RoleMappings"] = Value::Object(mappings);
        }
        Ok(json_response(out))
    }
}

/// The pool and provider a principal-tag operation names, checked.
fn pool_and_provider(
    c: &mut Checker,
    pool_id: &Option<String>,
    provider: &Option<String>,
) -> (String, String) {
    let id = c.pool_id("identityPoolId", pool_id);
    let provider = c.required("identityProviderName", provider).cloned();
    if let Some(p) = &provider {
        c.string("identityProviderName", p, 1, 128, None);
    }
    (id.unwrap_or_default(), provider.unwrap_or_default())
}

fn principal_tags_json(
    pool_id: &str,
    provider: &str,
    map: &cognate_core::model::PrincipalTagMap,
) -> Value {
    json!({
        "IdentityPoolId": pool_id,
        "IdentityProviderName": provider,
        "UseDefaults": map.use_defaults,
        "PrincipalTags": map.tags,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SetPrincipalTagAttributeMapInput {
    identity_pool_id: Option<String>,
    identity_provider_name: Option<String>,
    use_defaults: Option<bool>,
    principal_tags: Option<BTreeMap<String, String>>,
}

impl JsonOperation for SetPrincipalTagAttributeMapInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let (id, provider) =
            pool_and_provider(&mut c, &self.identity_pool_id, &self.identity_provider_name);
        let tags = self.principal_tags.unwrap_or_default();
        c.string_map(
            "principalTags",
            &tags,
            50,
            (1, 128, Some(&v::TAG)),
            (1, 256, None),
            false,
        );
        c.finish().map_err(domain)?;
        let map = cx
            .state
            .cognate
            .pools()
            .set_principal_tag_map(
                &cx.caller,
                &id,
                &provider,
                self.use_defaults.unwrap_or(false),
                tags,
            )
            .await
            .map_err(domain)?;
        Ok(json_response(principal_tags_json(&id, &provider, &map)))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetPrincipalTagAttributeMapInput {
    identity_pool_id: Option<String>,
    identity_provider_name: Option<String>,
}

impl JsonOperation for GetPrincipalTagAttributeMapInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let (id, provider) =
            pool_and_provider(&mut c, &self.identity_pool_id, &self.identity_provider_name);
        c.finish().map_err(domain)?;
        let map = cx
            .state
            .cognate
            .pools()
            .principal_tag_map(&cx.caller, &id, &provider)
            .await
            .map_err(domain)?;
        Ok(json_response(principal_tags_json(&id, &provider, &map)))
    }
}

fn resource_arn(c: &mut Checker, arn: &Option<String>) -> String {
    let arn = c.required("resourceArn", arn).cloned();
    if let Some(arn) = &arn {
        c.arn("resourceArn", arn);
    }
    arn.unwrap_or_default()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

impl JsonOperation for TagResourceInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let arn = resource_arn(&mut c, &self.resource_arn);
        let tags = c.required("tags", &self.tags).cloned().unwrap_or_default();
        check_tags(&mut c, "tags", &tags);
        c.finish().map_err(domain)?;
        cx.state
            .cognate
            .pools()
            .tag(&cx.caller, &arn, tags)
            .await
            .map_err(domain)?;
        Ok(json_response(json!({})))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

impl JsonOperation for UntagResourceInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let arn = resource_arn(&mut c, &self.resource_arn);
        let keys = c
            .required("tagKeys", &self.tag_keys)
            .cloned()
            .unwrap_or_default();
        c.count("tagKeys", &format!("{keys:?}"), keys.len(), 0, 50);
        for k in &keys {
            c.string("tagKeys", k, 1, 128, Some(&v::TAG));
        }
        c.finish().map_err(domain)?;
        cx.state
            .cognate
            .pools()
            .untag(&cx.caller, &arn, &keys)
            .await
            .map_err(domain)?;
        Ok(json_response(json!({})))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    resource_arn: Option<String>,
}

impl JsonOperation for ListTagsForResourceInput {
    async fn call(self, cx: &Context<'_>) -> Result<Response, ApiError> {
        let mut c = Checker::new();
        let arn = resource_arn(&mut c, &self.resource_arn);
        c.finish().map_err(domain)?;
        let tags = cx
            .state
            .cognate
            .pools()
            .tags(&cx.caller, &arn)
            .await
            .map_err(domain)?;
        Ok(json_response(json!({ "Tags": tags })))
    }
}
