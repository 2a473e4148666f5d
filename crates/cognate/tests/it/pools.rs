//! Identity pool administration through the Rust SDK.

use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, CognitoIdentityProvider, MappingRule, MappingRuleMatchType,
    RoleMapping, RoleMappingType, RulesConfigurationType,
};

use crate::common::{TestServer, code, message, set_pool_role};

const ROLE: &str = "arn:aws:iam::000000000000:role/Cognito_Auth";

#[tokio::test]
async fn create_describe_update_delete() {
    let s = TestServer::start().await;
    let c = s.cognito();
    let created = c
        .create_identity_pool()
        .identity_pool_name("p1")
        .allow_unauthenticated_identities(true)
        .supported_login_providers("accounts.google.com", "client-123.apps")
        .developer_provider_name("login.myapp")
        .identity_pool_tags("env", "dev")
        .send()
        .await
        .unwrap();
    let id = created.identity_pool_id().to_string();
    let re = regex::Regex::new("^us-east-1:[0-9a-f-]{36}$").unwrap();
    assert!(re.is_match(&id), "{id}");
    assert!(created.allow_unauthenticated_identities());
    assert_eq!(created.allow_classic_flow(), None);

    let described = c
        .describe_identity_pool()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.identity_pool_name(), "p1");
    assert_eq!(
        described
            .supported_login_providers()
            .unwrap()
            .get("accounts.google.com")
            .map(String::as_str),
        Some("client-123.apps")
    );
    assert_eq!(described.developer_provider_name(), Some("login.myapp"));
    assert_eq!(
        described
            .identity_pool_tags()
            .unwrap()
            .get("env")
            .map(String::as_str),
        Some("dev")
    );

    // Update replaces: omitted providers are cleared; tags are kept when omitted.
    let updated = c
        .update_identity_pool()
        .identity_pool_id(&id)
        .identity_pool_name("p1-renamed")
        .allow_unauthenticated_identities(false)
        .allow_classic_flow(false)
        .cognito_identity_providers(
            CognitoIdentityProvider::builder()
                .provider_name("cognito-idp.us-east-1.amazonaws.com/us-east-1_abc")
                .client_id("client1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.identity_pool_name(), "p1-renamed");
    let described = c
        .describe_identity_pool()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert!(described.supported_login_providers().is_none());
    assert_eq!(described.allow_classic_flow(), Some(false));
    assert!(!described.allow_unauthenticated_identities());
    assert_eq!(described.developer_provider_name(), Some("login.myapp"));
    assert_eq!(described.cognito_identity_providers().len(), 1);
    assert_eq!(described.identity_pool_tags().unwrap().len(), 1);

    // The developer provider name is immutable.
    let err = c
        .update_identity_pool()
        .identity_pool_id(&id)
        .identity_pool_name("p1-renamed")
        .allow_unauthenticated_identities(false)
        .developer_provider_name("login.other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    c.delete_identity_pool()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap();
    let err = c
        .describe_identity_pool()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    assert_eq!(message(&err), format!("IdentityPool '{id}' not found."));
    let err = c
        .delete_identity_pool()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn pool_ids_carry_the_signing_region() {
    let s = TestServer::start().await;
    let c = s.cognito_with(s.admin_credentials(), "eu-west-1");
    let created = c
        .create_identity_pool()
        .identity_pool_name("regional")
        .allow_unauthenticated_identities(false)
        .send()
        .await
        .unwrap();
    assert!(created.identity_pool_id().starts_with("eu-west-1:"));
    // Listing is per region.
    let listed = s
        .cognito()
        .list_identity_pools()
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert!(listed.identity_pools().is_empty());
    let listed = c
        .list_identity_pools()
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.identity_pools().len(), 1);
}

#[tokio::test]
async fn invalid_pools_are_refused_and_nothing_is_created() {
    let s = TestServer::start().await;
    let c = s.cognito();
    let err = c
        .create_identity_pool()
        .identity_pool_name("bad/name")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("at 'identityPoolName' failed to satisfy constraint: Member must satisfy regular expression pattern"),
        "{}",
        message(&err)
    );

    let err = c
        .create_identity_pool()
        .identity_pool_name("x".repeat(129))
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap_err();
    assert!(message(&err).contains("Member must have length less than or equal to 128"));

    let err = c
        .create_identity_pool()
        .identity_pool_name("ok")
        .allow_unauthenticated_identities(true)
        .supported_login_providers("example.com", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let err = c
        .create_identity_pool()
        .identity_pool_name("ok")
        .allow_unauthenticated_identities(true)
        .open_id_connect_provider_arns("arn:aws:iam::000000000000:oidc-provider/nope.example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let err = c
        .create_identity_pool()
        .identity_pool_name("ok")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(
            CognitoIdentityProvider::builder()
                .provider_name("not-a-user-pool")
                .client_id("c")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let err = c
        .describe_identity_pool()
        .identity_pool_id("us-east-1_abc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains(r"[\w-]+:[0-9a-f-]+"),
        "{}",
        message(&err)
    );

    let err = c
        .list_identity_pools()
        .max_results(61)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("Member must have value less than or equal to 60"));

    let err = c
        .list_identities()
        .identity_pool_id("us-east-1:00000000-0000-4000-8000-000000000000")
        .max_results(61)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("Member must have value less than or equal to 60"),
        "{}",
        message(&err)
    );

    let listed = c
        .list_identity_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert!(
        listed.identity_pools().is_empty(),
        "a refused create left a pool behind"
    );
}

#[tokio::test]
async fn list_pages_with_next_token() {
    let s = TestServer::start().await;
    let c = s.cognito();
    let mut ids = Vec::new();
    for i in 0..3 {
        let p = c
            .create_identity_pool()
            .identity_pool_name(format!("pool{i}"))
            .allow_unauthenticated_identities(false)
            .send()
            .await
            .unwrap();
        ids.push(p.identity_pool_id().to_string());
    }
    let first = c.list_identity_pools().max_results(2).send().await.unwrap();
    assert_eq!(first.identity_pools().len(), 2);
    let token = first.next_token().unwrap().to_string();
    let second = c
        .list_identity_pools()
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.identity_pools().len(), 1);
    assert!(second.next_token().is_none());
    let mut seen: Vec<String> = first
        .identity_pools()
        .iter()
        .chain(second.identity_pools())
        .map(|p| p.identity_pool_id().unwrap().to_string())
        .collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);

    let err = c
        .list_identity_pools()
        .max_results(2)
        .next_token("!!not-a-token!!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");
}

#[tokio::test]
async fn tags_by_arn() {
    let s = TestServer::start().await;
    let c = s.cognito();
    let p = c
        .create_identity_pool()
        .identity_pool_name("tagged")
        .allow_unauthenticated_identities(false)
        .send()
        .await
        .unwrap();
    let arn = format!(
        "arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{}",
        p.identity_pool_id()
    );
    c.tag_resource()
        .resource_arn(&arn)
        .tags("env", "dev")
        .tags("team", "a")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap().len(), 2);
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().get("team").map(String::as_str),
        Some("a")
    );
    assert!(tags.tags().unwrap().get("env").is_none());

    let missing = "arn:aws:cognito-identity:us-east-1:000000000000:identitypool/us-east-1:00000000-0000-0000-0000-000000000000";
    let err = c
        .list_tags_for_resource()
        .resource_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = c
        .list_tags_for_resource()
        .resource_arn("arn:aws:s3:::some-bucket-name-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let mut too_many = c.tag_resource().resource_arn(&arn);
    for i in 0..50 {
        too_many = too_many.tags(format!("k{i}"), "v");
    }
    let err = too_many.send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().len(),
        1,
        "a refused tag call changed the tags"
    );
}

#[tokio::test]
async fn roles_and_role_mappings() {
    let s = TestServer::start().await;
    let c = s.cognito();
    let provider = "cognito-idp.us-east-1.amazonaws.com/us-east-1_pool";
    let p = c
        .create_identity_pool()
        .identity_pool_name("roles")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(
            CognitoIdentityProvider::builder()
                .provider_name(provider)
                .client_id("app1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = p.identity_pool_id();
    let key = format!("{provider}:app1");
    let rule = MappingRule::builder()
        .claim("custom:dept")
        .match_type(MappingRuleMatchType::Equals)
        .value("Sales")
        .role_arn("arn:aws:iam::000000000000:role/Sales")
        .build()
        .unwrap();
    let mapping = RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(AmbiguousRoleResolutionType::AuthenticatedRole)
        .rules_configuration(
            RulesConfigurationType::builder()
                .rules(rule.clone())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    c.set_identity_pool_roles()
        .identity_pool_id(id)
        .roles("authenticated", ROLE)
        .roles(
            "unauthenticated",
            "arn:aws:iam::000000000000:role/Cognito_Unauth",
        )
        .role_mappings(&key, mapping.clone())
        .send()
        .await
        .unwrap();
    let got = c
        .get_identity_pool_roles()
        .identity_pool_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.roles()
            .unwrap()
            .get("authenticated")
            .map(String::as_str),
        Some(ROLE)
    );
    assert_eq!(got.role_mappings().unwrap().get(&key), Some(&mapping));

    let err = c
        .set_identity_pool_roles()
        .identity_pool_id(id)
        .roles("admin", ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    let no_rules = RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(AmbiguousRoleResolutionType::Deny)
        .build()
        .unwrap();
    let err = c
        .set_identity_pool_roles()
        .identity_pool_id(id)
        .roles("authenticated", ROLE)
        .role_mappings(&key, no_rules)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let mut rules = RulesConfigurationType::builder();
    for _ in 0..26 {
        rules = rules.rules(rule.clone());
    }
    let too_many = RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(AmbiguousRoleResolutionType::Deny)
        .rules_configuration(rules.build().unwrap())
        .build()
        .unwrap();
    let err = c
        .set_identity_pool_roles()
        .identity_pool_id(id)
        .roles("authenticated", ROLE)
        .role_mappings(&key, too_many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let unknown_provider = c
        .set_identity_pool_roles()
        .identity_pool_id(id)
        .roles("authenticated", ROLE)
        .role_mappings("accounts.google.com", mapping)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unknown_provider), "InvalidParameterException");

    // None of the refused calls changed what was set.
    let again = c
        .get_identity_pool_roles()
        .identity_pool_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(again.roles(), got.roles());
    assert_eq!(again.role_mappings(), got.role_mappings());

    // Principal tag maps.
    let set = c
        .set_principal_tag_attribute_map()
        .identity_pool_id(id)
        .identity_provider_name(provider)
        .use_defaults(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        set.principal_tags()
            .unwrap()
            .get("client")
            .map(String::as_str),
        Some("aud")
    );
    assert_eq!(
        set.principal_tags()
            .unwrap()
            .get("username")
            .map(String::as_str),
        Some("sub")
    );
    assert_eq!(set.principal_tags().unwrap().len(), 2);
    assert_eq!(set.use_defaults(), Some(true));
    let err = c
        .get_principal_tag_attribute_map()
        .identity_pool_id(id)
        .identity_provider_name("accounts.google.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let s = TestServer::start().await;
    let p = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("durable")
        .allow_unauthenticated_identities(true)
        .identity_pool_tags("k", "v")
        .send()
        .await
        .unwrap();
    let id = p.identity_pool_id().to_string();
    set_pool_role(&s, &id, "unauthenticated", ROLE).await;
    let s = s.restart().await;
    let c = s.cognito();
    let described = c
        .describe_identity_pool()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.identity_pool_name(), "durable");
    assert_eq!(
        described
            .identity_pool_tags()
            .unwrap()
            .get("k")
            .map(String::as_str),
        Some("v")
    );
    let roles = c
        .get_identity_pool_roles()
        .identity_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        roles
            .roles()
            .unwrap()
            .get("unauthenticated")
            .map(String::as_str),
        Some(ROLE)
    );
}

fn three_pools_per_region(settings: &mut cognate::Settings) {
    settings.max_pools_per_region = 3;
}

/// §12 item 75, at a lowered quota: the pool past it is refused over the
/// wire, and a deleted pool frees its place.
#[tokio::test]
async fn the_pool_quota_answers_limit_exceeded() {
    let s = TestServer::start_with(three_pools_per_region).await;
    let c = s.cognito();
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            c.create_identity_pool()
                .identity_pool_name(format!("quota{n}"))
                .allow_unauthenticated_identities(true)
                .send()
                .await
                .unwrap()
                .identity_pool_id()
                .to_string(),
        );
    }
    let err = c
        .create_identity_pool()
        .identity_pool_name("quota3")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "LimitExceededException");
    assert_eq!(
        message(&err),
        "You have reached the limit of 3 identity pools in this account and region."
    );
    assert_eq!(
        c.list_identity_pools()
            .max_results(60)
            .send()
            .await
            .unwrap()
            .identity_pools()
            .len(),
        3
    );
    c.delete_identity_pool()
        .identity_pool_id(&ids[0])
        .send()
        .await
        .unwrap();
    c.create_identity_pool()
        .identity_pool_name("quota3")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap();
}

/// A user pool on this machine (a local emulator such as cognito-local,
/// whose tokens say `iss = http://localhost:9229/<pool id>`) may be named
/// `<loopback host>[:<port>]/<pool id>`, on create and on update; any
/// other name that is not Cognito's is refused with AWS's message.
#[tokio::test]
async fn loopback_user_pool_names_are_accepted_and_others_refused() {
    let s = TestServer::start().await;
    let c = s.cognito();
    let user_pool = |name: &str| {
        CognitoIdentityProvider::builder()
            .provider_name(name)
            .client_id("localclient1")
            .build()
    };
    let created = c
        .create_identity_pool()
        .identity_pool_name("local-user-pool")
        .allow_unauthenticated_identities(false)
        .cognito_identity_providers(user_pool("localhost:9229/local_AbC123de"))
        .send()
        .await
        .unwrap();
    let id = created.identity_pool_id().to_string();
    assert_eq!(
        created.cognito_identity_providers()[0].provider_name(),
        Some("localhost:9229/local_AbC123de")
    );
    for name in [
        "127.0.0.1:9229/local_AbC123de",
        "127.0.0.1/us-east-1_abc",
        "localhost/local_x",
    ] {
        let updated = c
            .update_identity_pool()
            .identity_pool_id(&id)
            .identity_pool_name("local-user-pool")
            .allow_unauthenticated_identities(false)
            .cognito_identity_providers(user_pool(name))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {}", message(&e)));
        assert_eq!(
            updated.cognito_identity_providers()[0].provider_name(),
            Some(name)
        );
    }

    for name in [
        "example.com:9229/local_AbC123de",
        "localhost.example.com:9229/local_x",
        "app.localhost:9229/local_x",
        "localhost.:9229/local_x",
        "10.0.0.1:9229/local_x",
        "localhost:9229",
        "localhost:9229/",
        "localhost:9229/nounderscore",
        "localhost:0/local_x",
        "localhost:65536/local_x",
        "localhost:9229/local_x/extra",
        "127.1:9229/local_x",
        "cognito-idp.us-east-1.amazonaws.com/eu-west-1_abc",
    ] {
        let err = c
            .create_identity_pool()
            .identity_pool_name("bogus")
            .allow_unauthenticated_identities(false)
            .cognito_identity_providers(user_pool(name))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidParameterException", "{name}");
        assert_eq!(
            message(&err),
            format!(
                "Invalid Cognito Identity Provider name: {name}. Expected cognito-idp.<region>.amazonaws.com/<userPoolId>."
            )
        );
    }
    let pools = c
        .list_identity_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pools.identity_pools().len(),
        1,
        "a refused pool was created"
    );
}
