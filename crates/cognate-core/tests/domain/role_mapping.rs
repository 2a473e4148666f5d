//! Which role a login's credentials are for: the pool's default, a rule
//! that matches the login's claims, or the role its user-pool token names.

use std::collections::BTreeMap;

use cognate_core::Error;
use cognate_core::model::{
    AmbiguousRoleResolution, CognitoProvider, MappingRule, MatchType, RoleMapping, RoleMappingType,
};
use cognate_core::pools::PoolSettings;
use serde_json::{Value, json};

use crate::harness::{Domain, token, trust_policy};

const USER_POOL: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Rbac01";

struct Roles {
    default: String,
    sales: String,
    r1: String,
    r2: String,
}

fn rules(resolution: AmbiguousRoleResolution, roles: &Roles) -> RoleMapping {
    let rule = |claim: &str, match_type, value: &str, role_arn: &str| MappingRule {
        claim: claim.into(),
        match_type,
        value: value.into(),
        role_arn: role_arn.into(),
    };
    RoleMapping {
        mapping_type: RoleMappingType::Rules,
        ambiguous_role_resolution: Some(resolution),
        rules: Some(vec![
            rule("custom:region", MatchType::NotEqual, "EU", &roles.r1),
            rule("custom:dept", MatchType::Equals, "Sales", &roles.sales),
        ]),
    }
}

/// A pool with one user pool under two app clients: `rules` maps by
/// rules (a login no rule matches gets the authenticated role), `tokens`
/// by the token's roles.
async fn rbac_pool(d: &Domain) -> (String, Roles) {
    let client = |client_id: &str| CognitoProvider {
        provider_name: USER_POOL.into(),
        client_id: client_id.into(),
        server_side_token_check: None,
    };
    let pool_id = d
        .pool(PoolSettings {
            cognito_identity_providers: vec![client("rules"), client("tokens")],
            ..Default::default()
        })
        .await;
    let trusted = trust_policy(&pool_id, "authenticated");
    let roles = Roles {
        default: d.role("Default", &trusted).await,
        sales: d.role("Sales", &trusted).await,
        r1: d.role("R1", &trusted).await,
        r2: d.role("R2", &trusted).await,
    };
    let resolution = AmbiguousRoleResolution::AuthenticatedRole;
    map_roles(d, &pool_id, &roles, resolution).await;
    (pool_id, roles)
}

async fn map_roles(d: &Domain, pool_id: &str, roles: &Roles, resolution: AmbiguousRoleResolution) {
    let token_mapping = RoleMapping {
        mapping_type: RoleMappingType::Token,
        ambiguous_role_resolution: Some(AmbiguousRoleResolution::Deny),
        rules: None,
    };
    let mappings = BTreeMap::from([
        (format!("{USER_POOL}:rules"), rules(resolution, roles)),
        (format!("{USER_POOL}:tokens"), token_mapping),
    ]);
    d.set_roles(pool_id, &[("authenticated", &roles.default)], mappings)
        .await
        .unwrap();
}

/// The role a user with these claims gets credentials for.
async fn role_of(
    d: &Domain,
    pool_id: &str,
    claims: Value,
    custom_role: Option<&str>,
) -> Result<String, Error> {
    let login = token(claims);
    let id = d.get_id(pool_id, &[(USER_POOL, &login)]).await?;
    let (_, role) = d
        .credentials(&id, &[(USER_POOL, &login)], custom_role)
        .await?;
    Ok(role)
}

#[tokio::test]
async fn rules_match_in_order_and_fall_back_as_the_pool_says() {
    let d = Domain::open().await;
    let (pool, roles) = rbac_pool(&d).await;

    // Rules in order; NotEqual on a missing claim is no match.
    let sales = json!({"sub": "s1", "aud": "rules", "custom:dept": "Sales"});
    assert_eq!(
        role_of(&d, &pool, sales, None).await,
        Ok(roles.sales.clone())
    );
    let us = json!({"sub": "s2", "aud": "rules", "custom:region": "US"});
    assert_eq!(role_of(&d, &pool, us, None).await, Ok(roles.r1.clone()));
    let ops = json!({"sub": "s3", "aud": "rules", "custom:dept": "Ops"});
    assert_eq!(
        role_of(&d, &pool, ops.clone(), None).await,
        Ok(roles.default.clone())
    );

    // No rule matches and the pool says Deny.
    map_roles(&d, &pool, &roles, AmbiguousRoleResolution::Deny).await;
    assert_eq!(
        role_of(&d, &pool, ops, None).await,
        Err(Error::NotAuthorized(format!(
            "The ambiguous role mapping rules for: {USER_POOL}:rules denied this request."
        )))
    );
}

#[tokio::test]
async fn token_mappings_take_the_preferred_role_or_a_custom_one_among_the_tokens() {
    let d = Domain::open().await;
    let (pool, roles) = rbac_pool(&d).await;
    let token_roles = json!([roles.r1, roles.r2]);

    let preferred = json!({"sub": "t1", "aud": "tokens", "cognito:roles": token_roles,
        "cognito:preferred_role": roles.r1});
    assert_eq!(
        role_of(&d, &pool, preferred, None).await,
        Ok(roles.r1.clone())
    );
    let chosen = json!({"sub": "t2", "aud": "tokens", "cognito:roles": token_roles});
    assert_eq!(
        role_of(&d, &pool, chosen, Some(&roles.r2)).await,
        Ok(roles.r2.clone())
    );

    // A custom role the token does not carry, or several roles and no
    // choice, with Deny for ambiguity: refused.
    let outside = json!({"sub": "t3", "aud": "tokens", "cognito:roles": token_roles});
    let err = role_of(&d, &pool, outside, Some(&roles.sales)).await;
    assert!(matches!(err, Err(Error::NotAuthorized(_))), "{err:?}");
    let ambiguous = json!({"sub": "t4", "aud": "tokens", "cognito:roles": token_roles});
    let err = role_of(&d, &pool, ambiguous, None).await;
    assert!(matches!(err, Err(Error::NotAuthorized(_))), "{err:?}");
}
