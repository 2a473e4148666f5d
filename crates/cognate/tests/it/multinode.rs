//! Several cognate processes on one PostgreSQL database act as one
//! service. Needs `COGNATE_TEST_POSTGRES_URL` (scripts/test starts a
//! server); with `COGNATE_TEST_REQUIRE_POSTGRES=1` its absence fails.

use std::process::Command;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentity::config::Region;
use serde_json::json;

use crate::common::{
    Node, code, create_role_with, fresh_postgres_database, guest_id, guest_id_error,
    postgres_server, set_pool_roles, spawn_cognate,
};

const KEY_ID: &str = "AKIAMULTINODETEST000";
const SECRET: &str = "multinode/test/secret/0000000000000000000";
pub(crate) const MASTER: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub(crate) fn cognito(
    endpoint: &str,
    creds: Option<Credentials>,
) -> aws_sdk_cognitoidentity::Client {
    let mut b = aws_sdk_cognitoidentity::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled());
    if let Some(c) = creds {
        b = b.credentials_provider(c);
    }
    aws_sdk_cognitoidentity::Client::from_conf(b.build())
}

pub(crate) fn admin() -> Credentials {
    Credentials::new(KEY_ID, SECRET, None, None, "admin")
}

fn sts(endpoint: &str, creds: Credentials) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

fn iam(endpoint: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(admin())
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

async fn jwks_kids(endpoint: &str) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("{endpoint}/.well-known/jwks_uri"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_nodes_on_one_database_act_as_one_service() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_mn").await;
    let a = start_node(&database, MASTER).unwrap();
    let b = start_node(&database, MASTER).unwrap();
    let (ca, cb) = (
        cognito(&a.endpoint, Some(admin())),
        cognito(&b.endpoint, Some(admin())),
    );

    let pool_id = ca
        .create_identity_pool()
        .identity_pool_name("shared")
        .allow_unauthenticated_identities(true)
        .developer_provider_name("login.multi")
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":pool_id}}}]});
    let role = create_role_with(&iam(&b.endpoint), "Shared", &trust.to_string()).await;
    set_pool_roles(&cb, &pool_id, &role, &role).await;

    // A guest made through A is known to B.
    let guest = cognito(&a.endpoint, None)
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    let described = cb
        .describe_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap();
    assert_eq!(described.identity_id(), Some(guest.as_str()));

    // Both publish the same keys; a token signed by A verifies with B's JWKS.
    assert_eq!(jwks_kids(&a.endpoint).await, jwks_kids(&b.endpoint).await);
    let token = cognito(&a.endpoint, None)
        .get_open_id_token()
        .identity_id(&guest)
        .send()
        .await
        .unwrap()
        .token
        .unwrap();
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert!(jwks_kids(&b.endpoint).await.contains(&kid));

    // Credentials vended by A are accepted by B.
    let creds = cognito(&a.endpoint, None)
        .get_credentials_for_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap();
    let c = creds.credentials().unwrap();
    let vended = Credentials::new(
        c.access_key_id().unwrap(),
        c.secret_key().unwrap(),
        c.session_token().map(str::to_string),
        None,
        "vended",
    );
    let me = sts(&b.endpoint, vended)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(
        me.arn()
            .unwrap()
            .ends_with("assumed-role/Shared/CognitoIdentityCredentials")
    );

    // Merges through A and links through B at once end consistent.
    let users: Vec<String> = (0..6).map(|i| format!("user{i}")).collect();
    for u in &users {
        ca.get_open_id_token_for_developer_identity()
            .identity_pool_id(&pool_id)
            .logins("login.multi", u)
            .send()
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let (ca, pool, src, dst) = (
            ca.clone(),
            pool_id.clone(),
            u.clone(),
            users[(i + 1) % users.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            ca.merge_developer_identities()
                .identity_pool_id(pool)
                .developer_provider_name("login.multi")
                .source_user_identifier(src)
                .destination_user_identifier(dst)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e))
        }));
        let (cb, pool, user) = (cb.clone(), pool_id.clone(), format!("new{i}"));
        tasks.push(tokio::spawn(async move {
            cb.get_open_id_token_for_developer_identity()
                .identity_pool_id(pool)
                .logins("login.multi", user)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e))
        }));
    }
    for t in tasks {
        if let Err(code) = t.await.unwrap() {
            assert_eq!(code, "TooManyRequestsException");
        }
    }
    for u in &users {
        let owner = cb
            .lookup_developer_identity()
            .identity_pool_id(&pool_id)
            .developer_user_identifier(u)
            .send()
            .await
            .unwrap()
            .identity_id
            .unwrap();
        let listed = ca
            .lookup_developer_identity()
            .identity_pool_id(&pool_id)
            .identity_id(&owner)
            .send()
            .await
            .unwrap();
        assert!(listed.developer_user_identifier_list().contains(u));
    }

    // A rotation made on the command line reaches both nodes.
    let before = jwks_kids(&b.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let out = node_command(&["keys", "rotate"], &database, MASTER, dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (ka, kb) = (jwks_kids(&a.endpoint).await, jwks_kids(&b.endpoint).await);
        if ka.len() > before.len() && kb.len() > before.len() {
            seen = true;
            break;
        }
    }
    assert!(seen, "the rotation did not reach both nodes within 5 s");
}

/// Credentials vended by `node` to a guest, as the role name of the
/// session (GetCallerIdentity on the same node).
async fn guest_role_on(node: &Node, guest: &str) -> Result<String, String> {
    let creds = cognito(&node.endpoint, None)
        .get_credentials_for_identity()
        .identity_id(guest)
        .send()
        .await
        .map_err(|e| code(&e))?;
    let c = creds.credentials().unwrap();
    let vended = Credentials::new(
        c.access_key_id().unwrap(),
        c.secret_key().unwrap(),
        c.session_token().map(str::to_string),
        None,
        "vended",
    );
    let me = sts(&node.endpoint, vended)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    // arn:aws:sts::<account>:assumed-role/<role>/<session>
    Ok(me.arn().unwrap().split('/').nth(1).unwrap().to_string())
}

#[tokio::test]
async fn configuration_changed_through_one_node_is_seen_by_the_next_request_on_another() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_mn").await;
    let a = start_node(&database, MASTER).unwrap();
    let b = start_node(&database, MASTER).unwrap();
    let ca = cognito(&a.endpoint, Some(admin()));
    let pool_id = ca
        .create_identity_pool()
        .identity_pool_name("cached")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let trust = |effect: &str| {
        json!({"Version":"2012-10-17","Statement":[{"Effect":effect,"Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":pool_id}}}]}).to_string()
    };
    let create_role = |name: &'static str| {
        iam(&a.endpoint)
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust("Allow"))
            .send()
    };
    let first = create_role("First")
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    ca.set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("unauthenticated", &first)
        .send()
        .await
        .unwrap();

    // B's cache is warm: pool and role read, then served again.
    let anon_b = cognito(&b.endpoint, None);
    let guest = guest_id(&anon_b, &pool_id).await;
    for _ in 0..2 {
        assert_eq!(guest_role_on(&b, &guest).await.unwrap(), "First");
    }

    // A denies in the trust policy; B refuses at once, and accepts again
    // at once when A restores it.
    let set_trust = |effect: &str| {
        iam(&a.endpoint)
            .update_assume_role_policy()
            .role_name("First")
            .policy_document(trust(effect))
            .send()
    };
    set_trust("Deny").await.unwrap();
    assert_eq!(
        guest_role_on(&b, &guest).await.unwrap_err(),
        "InvalidIdentityPoolConfigurationException"
    );
    set_trust("Allow").await.unwrap();
    assert_eq!(guest_role_on(&b, &guest).await.unwrap(), "First");

    // A switches the guest role; B vends the new one next.
    let second = create_role("Second")
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    ca.set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("unauthenticated", &second)
        .send()
        .await
        .unwrap();
    assert_eq!(guest_role_on(&b, &guest).await.unwrap(), "Second");

    // A stops guests; B refuses the next guest GetId.
    ca.update_identity_pool()
        .identity_pool_id(&pool_id)
        .identity_pool_name("cached")
        .allow_unauthenticated_identities(false)
        .send()
        .await
        .unwrap();
    let err = guest_id_error(&anon_b, &pool_id).await;
    assert_eq!(code(&err), "NotAuthorizedException");
}

#[tokio::test]
async fn a_node_with_another_master_key_refuses_to_start() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_mn").await;
    let first = start_node(&database, MASTER).unwrap();
    let other = "ff".repeat(32);
    let refused = start_node(&database, &other);
    let log = refused
        .err()
        .expect("a node with the wrong master key must not start");
    assert!(log.contains("master key does not match"), "{log}");
    drop(first);
}

/// `cognate <subcommand...>` with the settings every node shares.
fn node_command(
    subcommand: &[&str],
    database: &str,
    master: &str,
    dir: &std::path::Path,
) -> Command {
    node_command_with(subcommand, database, master, dir, "")
}

/// As `node_command`, with more lines for the configuration file.
pub(crate) fn node_command_with(
    subcommand: &[&str],
    database: &str,
    master: &str,
    dir: &std::path::Path,
    config_text: &str,
) -> Command {
    let config = dir.join("cognate.toml");
    std::fs::write(&config, format!("key_reload_interval = 1\n{config_text}")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.args(subcommand)
        .env("COGNATE_DATABASE_URL", database)
        .env("COGNATE_MASTER_KEY", master)
        .env("COGNATE_DATA_DIR", dir.join("data"))
        .env("COGNATE_ADMIN_ACCESS_KEY_ID", KEY_ID)
        .env("COGNATE_ADMIN_SECRET_ACCESS_KEY", SECRET)
        .env("COGNATE_LISTEN", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(&config);
    cmd
}

fn start_node(database: &str, master: &str) -> Result<Node, String> {
    let dir = tempfile::tempdir().unwrap();
    let cmd = node_command(&["serve"], database, master, dir.path());
    spawn_cognate(cmd, dir)
}
