//! The IAM subset through the Rust SDK.

use crate::common::{TestServer, code};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:00000000-0000-0000-0000-000000000000"}}}]}"#;

#[tokio::test]
async fn roles_and_inline_policies() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let created = iam
        .create_role()
        .role_name("Cognito_Unauth")
        .path("/app/")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    let role = created.role().unwrap();
    assert_eq!(
        role.arn(),
        "arn:aws:iam::000000000000:role/app/Cognito_Unauth"
    );
    assert!(role.role_id().starts_with("AROA"));
    // IAM sends the document URL-encoded, as the real service does.
    assert!(
        role.assume_role_policy_document()
            .unwrap()
            .contains("%22Version%22")
    );

    let err = iam
        .create_role()
        .role_name("cognito_unauth")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "EntityAlreadyExists");

    let err = iam
        .create_role()
        .role_name("Broken")
        .assume_role_policy_document("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocument");

    iam.put_role_policy()
        .role_name("Cognito_Unauth")
        .policy_name("access")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cognito-identity:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let names = iam
        .list_role_policies()
        .role_name("Cognito_Unauth")
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["access"]);
    let listed = iam.list_roles().send().await.unwrap();
    assert_eq!(listed.roles().len(), 1);

    let err = iam
        .delete_role()
        .role_name("Cognito_Unauth")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DeleteConflict");
    iam.delete_role_policy()
        .role_name("Cognito_Unauth")
        .policy_name("access")
        .send()
        .await
        .unwrap();
    iam.delete_role()
        .role_name("Cognito_Unauth")
        .send()
        .await
        .unwrap();
    let err = iam
        .get_role()
        .role_name("Cognito_Unauth")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_no_such_entity_exception()
    );
}

#[tokio::test]
async fn openid_connect_providers() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let arn = iam
        .create_open_id_connect_provider()
        .url("https://login.example.com")
        .client_id_list("app-1")
        .thumbprint_list("0123456789abcdef0123456789abcdef01234567")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_string();
    assert_eq!(
        arn,
        "arn:aws:iam::000000000000:oidc-provider/login.example.com"
    );
    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("app-2")
        .send()
        .await
        .unwrap();
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.url(), Some("login.example.com"));
    assert_eq!(got.client_id_list(), ["app-1", "app-2"]);

    // Plain http is only for loopback hosts.
    let err = iam
        .create_open_id_connect_provider()
        .url("http://login.example.com")
        .client_id_list("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput");
    iam.create_open_id_connect_provider()
        .url("http://127.0.0.1:9999")
        .client_id_list("x")
        .send()
        .await
        .unwrap();

    let listed = iam.list_open_id_connect_providers().send().await.unwrap();
    assert_eq!(listed.open_id_connect_provider_list().len(), 2);
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let err = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchEntity");
}
