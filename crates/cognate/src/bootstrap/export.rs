//! A bootstrap file from a deployment: `cognate export --bootstrap`.
//! Every pool is pinned to its id, so applying the file elsewhere makes
//! the same pools; identities are not part of it.

use cognate_core::model::Pool;
use cognate_core::store::{Store, StoreError};

use crate::transfer::{all_managed_policies, all_pools, all_roles};

use super::file::{
    Bootstrap, CognitoProviderEntry, Document, InlinePolicyEntry, ManagedPolicyEntry,
    OidcProviderEntry, PoolEntry, PrincipalTagMapEntry, RoleEntry, RoleMappingEntry, RuleEntry,
    RulesConfiguration, SamlProviderEntry,
};

/// An ARN of the deployment's account, written with `${AWS::AccountId}`
/// so that the file applies to another account too.
fn portable(arn: String, account: &str) -> String {
    let own = format!("arn:aws:iam::{account}:");
    match arn.strip_prefix(&own) {
        Some(rest) => format!("arn:aws:iam::${{AWS::AccountId}}:{rest}"),
        None => arn,
    }
}

/// What the deployment of `account` declares.
pub async fn declared(store: &dyn Store, account: &str) -> Result<Bootstrap, StoreError> {
    let mut file = Bootstrap::default();
    for policy in all_managed_policies(store, account).await? {
        file.managed_policies.push(ManagedPolicyEntry {
            policy_document: Document::from_stored(policy.default_document().unwrap_or("{}")),
            policy_name: policy.name,
            path: Some(policy.path).filter(|p| p != "/"),
            description: policy.description,
        });
    }
    for role in all_roles(store, account).await? {
        file.roles.push(RoleEntry {
            assume_role_policy_document: Document::from_stored(&role.assume_role_policy_document),
            policies: role
                .inline_policies
                .iter()
                .map(|(name, doc)| InlinePolicyEntry {
                    policy_name: name.clone(),
                    policy_document: Document::from_stored(doc),
                })
                .collect(),
            managed_policy_arns: role
                .attached_policies
                .into_iter()
                .map(|arn| portable(arn, account))
                .collect(),
            role_name: role.name,
            path: Some(role.path).filter(|p| p != "/"),
            description: role.description,
            max_session_duration: Some(role.max_session_duration).filter(|&m| m != 3600),
        });
    }
    for provider in store.list_oidc_providers(account).await? {
        file.oidc_providers.push(OidcProviderEntry {
            url: provider.url,
            client_id_list: provider.client_ids,
            thumbprint_list: provider.thumbprints,
        });
    }
    for provider in store.list_saml_providers(account).await? {
        file.saml_providers.push(SamlProviderEntry {
            name: provider.name,
            saml_metadata_document: provider.metadata,
        });
    }
    file.identity_pools = all_pools(store)
        .await?
        .into_iter()
        .filter(|p| p.account == account)
        .map(|pool| pool_entry(pool, account))
        .collect();
    Ok(file)
}

fn pool_entry(pool: Pool, account: &str) -> PoolEntry {
    let arns = |list: Vec<String>| -> Vec<String> {
        list.into_iter().map(|arn| portable(arn, account)).collect()
    };
    PoolEntry {
        identity_pool_id: Some(pool.id),
        identity_pool_name: pool.name,
        allow_unauthenticated_identities: pool.allow_unauthenticated,
        allow_classic_flow: pool.allow_classic_flow,
        supported_login_providers: pool.supported_login_providers,
        developer_provider_name: pool.developer_provider_name,
        open_id_connect_provider_arns: arns(pool.open_id_connect_provider_arns),
        cognito_identity_providers: pool
            .cognito_identity_providers
            .into_iter()
            .map(|p| CognitoProviderEntry {
                provider_name: p.provider_name,
                client_id: p.client_id,
                server_side_token_check: p.server_side_token_check,
            })
            .collect(),
        saml_provider_arns: arns(pool.saml_provider_arns),
        identity_pool_tags: pool.tags,
        roles: pool
            .roles
            .into_iter()
            .map(|(kind, arn)| (kind, portable(arn, account)))
            .collect(),
        role_mappings: pool
            .role_mappings
            .into_iter()
            .map(|(provider, m)| {
                let entry = RoleMappingEntry {
                    mapping_type: m.mapping_type,
                    ambiguous_role_resolution: m.ambiguous_role_resolution,
                    rules_configuration: m.rules.map(|rules| RulesConfiguration {
                        rules: rules
                            .into_iter()
                            .map(|r| RuleEntry {
                                claim: r.claim,
                                match_type: r.match_type,
                                value: r.value,
                                role_arn: portable(r.role_arn, account),
                            })
                            .collect(),
                    }),
                };
                (provider, entry)
            })
            .collect(),
        principal_tag_attribute_maps: pool
            .principal_tag_maps
            .into_iter()
            .map(|(provider, map)| PrincipalTagMapEntry {
                identity_provider_name: provider,
                use_defaults: map.use_defaults,
                // With UseDefaults the tags follow from the provider.
                principal_tags: if map.use_defaults {
                    Default::default()
                } else {
                    map.tags
                },
            })
            .collect(),
    }
}
