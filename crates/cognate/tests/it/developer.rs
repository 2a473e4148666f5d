//! Developer-authenticated identities through the Rust SDK.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::{Raw, TestServer, code, create_role, message, set_pool_role, vended};

const DEV: &str = "login.myapp";

async fn dev_pool(s: &TestServer) -> (String, String) {
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("developer")
        .allow_unauthenticated_identities(true)
        .developer_provider_name(DEV)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}
            }
        }]
    });
    let role = create_role(
        s,
        &format!("DevAuth-{}", &pool_id[pool_id.len() - 6..]),
        &trust.to_string(),
    )
    .await;
    set_pool_role(s, &pool_id, "authenticated", &role).await;
    (pool_id, role)
}

fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn developer_flow_tokens_and_enhanced_exchange() {
    let s = TestServer::start().await;
    let (pool_id, role) = dev_pool(&s).await;
    let c = s.cognito();
    let out = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins(DEV, "u1")
        .principal_tags("dept", "eng")
        .send()
        .await
        .unwrap();
    let i1 = out.identity_id().unwrap().to_string();
    let token = out.token().unwrap().to_string();
    let cl = claims(&token);
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        900
    );
    let amr: Vec<String> = serde_json::from_value(cl["amr"].clone()).unwrap();
    assert!(amr.contains(&"authenticated".to_string()));
    assert!(amr.contains(&DEV.to_string()));
    assert!(amr.contains(&format!("{DEV}:{pool_id}:u1")), "{amr:?}");
    assert_eq!(
        cl["https://aws.amazon.com/tags"]["principal_tags"]["dept"],
        json!(["eng"])
    );

    let again = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins(DEV, "u1")
        .token_duration(86400)
        .send()
        .await
        .unwrap();
    assert_eq!(again.identity_id(), Some(i1.as_str()));
    let cl = claims(again.token().unwrap());
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        86400
    );
    let err = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins(DEV, "u1")
        .token_duration(86401)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    // The enhanced flow with the developer token.
    let anon = s.anonymous_cognito();
    let creds = anon
        .get_credentials_for_identity()
        .identity_id(&i1)
        .logins("cognito-identity.amazonaws.com", &token)
        .send()
        .await
        .unwrap();
    let cr = creds.credentials().unwrap();
    let me = s
        .sts_with(vended(cr))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let role_name = role.rsplit('/').next().unwrap();
    assert!(
        me.arn()
            .unwrap()
            .contains(&format!("assumed-role/{role_name}/"))
    );

    // The token is bound to its identity.
    let g = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let err = anon
        .get_credentials_for_identity()
        .identity_id(g.identity_id().unwrap())
        .logins("cognito-identity.amazonaws.com", &token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");

    // The developer provider is not a login for the public calls.
    let err = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .logins(DEV, "u1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
}

#[tokio::test]
async fn linking_lookup_merge_and_unlink() {
    let s = TestServer::start().await;
    let (pool_id, _) = dev_pool(&s).await;
    let c = s.cognito();
    let token_for = |user: &str, identity: Option<&str>| {
        c.get_open_id_token_for_developer_identity()
            .identity_pool_id(&pool_id)
            .set_identity_id(identity.map(str::to_string))
            .logins(DEV, user)
            .send()
    };
    let i1 = token_for("u1", None).await.unwrap().identity_id.unwrap();

    // A guest is upgraded in place.
    let g = s
        .anonymous_cognito()
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    let linked = token_for("u2", Some(&g)).await.unwrap();
    assert_eq!(linked.identity_id(), Some(g.as_str()));
    let lookup = c
        .lookup_developer_identity()
        .identity_pool_id(&pool_id)
        .developer_user_identifier("u2")
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.identity_id(), Some(g.as_str()));
    assert_eq!(lookup.developer_user_identifier_list(), ["u2"]);

    let err = token_for("u2", Some(&i1)).await.unwrap_err();
    assert_eq!(code(&err), "DeveloperUserAlreadyRegisteredException");
    let err = token_for("u9", Some(&i1)).await.unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
    assert!(message(&err).starts_with("Logins don't match"));

    let err = c
        .lookup_developer_identity()
        .identity_pool_id(&pool_id)
        .identity_id(&i1)
        .developer_user_identifier("u2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceConflictException");
    let err = c
        .lookup_developer_identity()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");

    let merged = c
        .merge_developer_identities()
        .identity_pool_id(&pool_id)
        .developer_provider_name(DEV)
        .source_user_identifier("u2")
        .destination_user_identifier("u1")
        .send()
        .await
        .unwrap();
    assert_eq!(merged.identity_id(), Some(i1.as_str()));
    assert_eq!(
        token_for("u2", None).await.unwrap().identity_id(),
        Some(i1.as_str())
    );
    let users = c
        .lookup_developer_identity()
        .identity_pool_id(&pool_id)
        .identity_id(&i1)
        .send()
        .await
        .unwrap();
    let users: BTreeSet<&str> = users
        .developer_user_identifier_list()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(users, BTreeSet::from(["u1", "u2"]));
    let r = Raw::json("DescribeIdentity", &json!({"IdentityId": g}).to_string())
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.json()["MergedInto"], i1);
    let err = s
        .anonymous_cognito()
        .get_credentials_for_identity()
        .identity_id(&g)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");

    c.unlink_developer_identity()
        .identity_pool_id(&pool_id)
        .identity_id(&i1)
        .developer_provider_name(DEV)
        .developer_user_identifier("u2")
        .send()
        .await
        .unwrap();
    let fresh = token_for("u2", None).await.unwrap();
    assert_ne!(fresh.identity_id(), Some(i1.as_str()));
    let err = c
        .unlink_developer_identity()
        .identity_pool_id(&pool_id)
        .identity_id(&i1)
        .developer_provider_name(DEV)
        .developer_user_identifier("u2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceConflictException");
}

#[tokio::test]
async fn lookup_pages_through_many_user_ids() {
    let s = TestServer::start().await;
    let (pool_id, _) = dev_pool(&s).await;
    let c = s.cognito();
    let id = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins(DEV, "user-00")
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    for i in 1..12 {
        let other = c
            .get_open_id_token_for_developer_identity()
            .identity_pool_id(&pool_id)
            .logins(DEV, format!("user-{i:02}"))
            .send()
            .await
            .unwrap()
            .identity_id
            .unwrap();
        c.merge_developer_identities()
            .identity_pool_id(&pool_id)
            .developer_provider_name(DEV)
            .source_user_identifier(format!("user-{i:02}"))
            .destination_user_identifier("user-00")
            .send()
            .await
            .unwrap();
        assert_ne!(other, id);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .lookup_developer_identity()
            .identity_pool_id(&pool_id)
            .identity_id(&id)
            .max_results(5)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.developer_user_identifier_list().len() <= 5);
        seen.extend(page.developer_user_identifier_list().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 12);
}

#[tokio::test]
async fn developer_calls_need_a_signature_and_a_developer_pool() {
    let s = TestServer::start().await;
    let r = Raw::json(
        "GetOpenIdTokenForDeveloperIdentity",
        r#"{"IdentityPoolId":"us-east-1:00000000-0000-0000-0000-000000000000","Logins":{"login.myapp":"u1"}}"#,
    )
    .send(&s)
    .await;
    assert_eq!(r.json_error(), "MissingAuthenticationTokenException");

    let plain = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("plain")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap();
    let err = s
        .cognito()
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(plain.identity_pool_id())
        .logins(DEV, "u1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
}

/// Two backends merging the same users at once end consistent: every user
/// id on exactly one active identity, every merge recorded.
#[tokio::test]
async fn concurrent_merges_stay_consistent() {
    let s = TestServer::start().await;
    let (pool_id, _) = dev_pool(&s).await;
    let users: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    for u in &users {
        s.cognito()
            .get_open_id_token_for_developer_identity()
            .identity_pool_id(&pool_id)
            .logins(DEV, u)
            .send()
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (i, src) in users.iter().enumerate() {
            let dst = &users[(i + 1 + round) % users.len()];
            let c = s.cognito();
            let (pool_id, src, dst) = (pool_id.clone(), src.clone(), dst.clone());
            tasks.push(tokio::spawn(async move {
                c.merge_developer_identities()
                    .identity_pool_id(pool_id)
                    .developer_provider_name(DEV)
                    .source_user_identifier(src)
                    .destination_user_identifier(dst)
                    .send()
                    .await
            }));
        }
    }
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            // Retry-later answers are allowed under contention; nothing else.
            assert_eq!(code(&e), "TooManyRequestsException", "{}", message(&e));
        }
    }
    let c = s.cognito();
    let mut owners = BTreeSet::new();
    for u in &users {
        let found = c
            .lookup_developer_identity()
            .identity_pool_id(&pool_id)
            .developer_user_identifier(u)
            .send()
            .await
            .unwrap();
        let owner = found.identity_id().unwrap().to_string();
        let listed = c
            .lookup_developer_identity()
            .identity_pool_id(&pool_id)
            .identity_id(&owner)
            .send()
            .await
            .unwrap();
        assert!(listed.developer_user_identifier_list().contains(u));
        let described = Raw::json(
            "DescribeIdentity",
            &json!({"IdentityId": owner}).to_string(),
        )
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await
        .json();
        assert!(
            described.get("MergedInto").is_none(),
            "{u} is on a merged-away identity"
        );
        owners.insert(owner);
    }
    let active = c
        .list_identities()
        .identity_pool_id(&pool_id)
        .max_results(60)
        .hide_disabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(active.identities().len(), owners.len());
}
