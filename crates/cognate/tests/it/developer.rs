//! Developer-authenticated identities through the Rust SDK. Linking,
//! lookup and merge rules are tested in-process
//! (`cognate-core/tests/domain/developer.rs`).

use serde_json::json;

use crate::common::{
    Raw, TestServer, code, create_developer_pool, create_role, set_pool_role, trust_with_tags,
    vended,
};

const DEV: &str = "login.myapp";

async fn dev_pool(s: &TestServer) -> (String, String) {
    let pool_id = create_developer_pool(&s.cognito(), "developer", DEV).await;
    let role = create_role(
        s,
        &format!("DevAuth-{}", &pool_id[pool_id.len() - 6..]),
        &trust_with_tags(&pool_id, "authenticated"),
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
