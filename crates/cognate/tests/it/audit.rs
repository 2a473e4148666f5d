//! The audit trail and the secrecy of logs, on a real process.

use std::process::Command;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentity::config::Region;
use cognate_testkit::OidcProvider;
use serde_json::{Value, json};

use crate::common::{create_role_with, guest_id, login_id, set_pool_roles, spawn_cognate, trust};

const KEY_ID: &str = "AKIAAUDITTESTADMIN00";
const SECRET: &str = "audit/test/secret/key/000000000000000000";

#[tokio::test]
async fn state_changes_are_audited_and_no_secret_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let audit_file = dir.path().join("audit.jsonl");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.arg("serve")
        .env("COGNATE_DATA_DIR", dir.path().join("data"))
        .env("COGNATE_LISTEN", "127.0.0.1:0")
        .env("COGNATE_ADMIN_ACCESS_KEY_ID", KEY_ID)
        .env("COGNATE_ADMIN_SECRET_ACCESS_KEY", SECRET)
        .env("COGNATE_AUDIT_LOG", &audit_file)
        .env("COGNATE_LOG", "debug")
        .env("NO_COLOR", "1")
        .env_remove("COGNATE_DATABASE_URL");
    let node = spawn_cognate(cmd, dir).unwrap();
    let config = |creds: Option<Credentials>| {
        let mut b = aws_sdk_cognitoidentity::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&node.endpoint)
            .retry_config(RetryConfig::disabled());
        if let Some(c) = creds {
            b = b.credentials_provider(c);
        }
        aws_sdk_cognitoidentity::Client::from_conf(b.build())
    };
    let admin = config(Some(Credentials::new(KEY_ID, SECRET, None, None, "admin")));
    let anon = config(None);
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&node.endpoint)
            .credentials_provider(Credentials::new(KEY_ID, SECRET, None, None, "admin"))
            .build(),
    );

    let idp = OidcProvider::start().await;
    let arn = iam
        .create_open_id_connect_provider()
        .url(idp.issuer())
        .client_id_list("c1")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn
        .unwrap();
    let pool = admin
        .create_identity_pool()
        .identity_pool_name("audited")
        .allow_unauthenticated_identities(true)
        .open_id_connect_provider_arns(&arn)
        .send()
        .await
        .unwrap()
        .identity_pool_id;
    let trust = trust(&pool, "*");
    let role = create_role_with(&iam, "Audited", &trust).await;
    set_pool_roles(&admin, &pool, &role, &role).await;

    let token = idp.id_token(json!({"sub": "audited-user", "aud": "c1"}));
    let owner = login_id(&anon, &pool, &idp.logins_key(), &token).await;
    let guest = guest_id(&anon, &pool).await;
    let creds = anon
        .get_credentials_for_identity()
        .identity_id(&guest)
        .logins(idp.logins_key(), &token)
        .send()
        .await
        .unwrap();
    let vended = creds.credentials().unwrap();

    // Audit events are written as they happen; give the writer a moment.
    let mut events: Vec<Value> = Vec::new();
    for _ in 0..50 {
        let text = std::fs::read_to_string(&audit_file).unwrap_or_default();
        events = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if events.iter().any(|e| e["event"] == "credentials_vended") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let find =
        |name: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"] == name).collect() };
    assert_eq!(find("pool_created").len(), 1);
    let linked = find("login_linked");
    assert_eq!(linked.len(), 1, "{events:?}");
    assert_eq!(linked[0]["identity_id"], owner);
    assert_eq!(linked[0]["provider"], idp.logins_key());
    let merged = find("identities_merged");
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0]["from_identity"], guest);
    assert_eq!(merged[0]["to_identity"], owner);
    assert_eq!(merged[0]["cause"], "LoginPresented");
    let vended_events = find("credentials_vended");
    assert_eq!(vended_events[0]["identity_id"], owner);
    assert_eq!(vended_events[0]["role_arn"], role);

    // No secret reaches the log or the audit trail, even at debug level.
    let audit_text = std::fs::read_to_string(&audit_file).unwrap();
    let log_text = node.log.lock().unwrap().clone();
    assert!(log_text.contains("listening on"));
    for secret in [
        SECRET,
        token.as_str(),
        vended.secret_key().unwrap(),
        vended.session_token().unwrap(),
    ] {
        assert!(!log_text.contains(secret), "a secret is in the log");
        assert!(
            !audit_text.contains(secret),
            "a secret is in the audit trail"
        );
    }
    // IAM changes: each an event naming the call, the ARN and the caller,
    // never the policy document.
    let document = crate::common::allow(&["s3:GetObject"], &["arn:aws:s3:::never-in-the-trail/*"]);
    iam.put_role_policy()
        .role_name("Audited")
        .policy_name("inline-one")
        .policy_document(&document)
        .send()
        .await
        .unwrap();
    let policy = iam
        .create_policy()
        .policy_name("audited-managed")
        .policy_document(&document)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.attach_role_policy()
        .role_name("Audited")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    iam.detach_role_policy()
        .role_name("Audited")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    iam.delete_policy()
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    iam.delete_role_policy()
        .role_name("Audited")
        .policy_name("inline-one")
        .send()
        .await
        .unwrap();
    let expected = [
        (
            "provider_changed",
            "CreateOpenIDConnectProvider",
            arn.as_str(),
        ),
        ("role_changed", "CreateRole", role.as_str()),
        ("role_changed", "PutRolePolicy", role.as_str()),
        ("policy_changed", "CreatePolicy", policy.as_str()),
        ("role_changed", "AttachRolePolicy", role.as_str()),
        ("role_changed", "DetachRolePolicy", role.as_str()),
        ("policy_changed", "DeletePolicy", policy.as_str()),
        ("role_changed", "DeleteRolePolicy", role.as_str()),
    ];
    let mut iam_events: Vec<Value> = Vec::new();
    for _ in 0..50 {
        iam_events = std::fs::read_to_string(&audit_file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["action"].is_string())
            .collect();
        if iam_events.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let seen: Vec<(&str, &str, &str)> = iam_events
        .iter()
        .map(|e| {
            assert_eq!(e["caller"], "admin", "{e}");
            (
                e["event"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["arn"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, expected);
    let attached = &iam_events[4];
    assert_eq!(attached["policy"], policy.as_str());
    assert_eq!(iam_events[2]["policy"], "inline-one");
    let audit_text = std::fs::read_to_string(&audit_file).unwrap();
    assert!(!audit_text.contains("never-in-the-trail"));
    assert!(!audit_text.contains("s3:GetObject"));
    assert!(!audit_text.contains("AssumeRoleWithWebIdentity"));

    // The key files are private.
    use std::os::unix::fs::PermissionsExt;
    let master = node.dir.path().join("data").join("master.key");
    assert_eq!(
        std::fs::metadata(master).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
