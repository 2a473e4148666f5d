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

/// CreatePolicyVersion, DeletePolicyVersion, SetDefaultPolicyVersion and
/// ListPolicyVersions: concurrent new versions each get their own id (none
/// is lost), IAM's quota of five, the default cannot be deleted, and ids
/// are never reused.
#[tokio::test]
async fn policy_versions() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let doc = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        )
    };
    let arn = iam
        .create_policy()
        .policy_name("versioned")
        .policy_document(doc("s3:*"))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let made: Vec<_> = (0..4)
        .map(|i| {
            let iam = iam.clone();
            let (arn, document) = (arn.clone(), doc(&format!("s3:Get{i}")));
            tokio::spawn(async move {
                iam.create_policy_version()
                    .policy_arn(arn)
                    .policy_document(document)
                    .set_as_default(i == 3)
                    .send()
                    .await
                    .unwrap()
                    .policy_version
                    .unwrap()
                    .version_id
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in made {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    assert_eq!(ids, ["v2", "v3", "v4", "v5"]);
    let listed = iam
        .list_policy_versions()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut listed: Vec<String> = listed
        .versions()
        .iter()
        .filter_map(|v| v.version_id.clone())
        .collect();
    listed.sort();
    assert_eq!(listed, ["v1", "v2", "v3", "v4", "v5"]);

    let sixth = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(doc("s3:Put"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&sixth), "LimitExceeded");
    let default = iam
        .get_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .default_version_id
        .unwrap();
    let refused = iam
        .delete_policy_version()
        .policy_arn(&arn)
        .version_id(&default)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "DeleteConflict");
    let missing = iam
        .delete_policy_version()
        .policy_arn(&arn)
        .version_id("v9")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "NoSuchEntity");

    // The newest non-default goes; the next id is still new.
    let newest_other = ["v5", "v4", "v3", "v2"]
        .into_iter()
        .find(|v| *v != default)
        .unwrap();
    iam.delete_policy_version()
        .policy_arn(&arn)
        .version_id(newest_other)
        .send()
        .await
        .unwrap();
    let next = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(doc("s3:List"))
        .send()
        .await
        .unwrap()
        .policy_version
        .unwrap();
    assert_eq!(next.version_id(), Some("v6"));
    assert!(!next.is_default_version());
    iam.set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v6")
        .send()
        .await
        .unwrap();
    let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(policy.policy().unwrap().default_version_id(), Some("v6"));
}
