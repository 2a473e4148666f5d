//! `cognate export` / `cognate import`: a deployment moves from the
//! embedded SQLite store to PostgreSQL (or, without a PostgreSQL server,
//! to another SQLite file) keeping every identifier, key and session.

use std::collections::BTreeSet;
use std::process::Command;

use aws_credential_types::Credentials;
use cognate_testkit::OidcProvider;
use serde_json::json;

use crate::common::{
    TestServer, create_policy, create_role, fresh_postgres_database, guest_id, guest_open_id_token,
    login_id, register_oidc, set_pool_roles, trust,
};

fn cognate(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.args(args)
        .env_remove("COGNATE_DATABASE_URL")
        .env_remove("COGNATE_MASTER_KEY");
    cmd
}

/// Every line of an export but the header, as a set.
fn records(path: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(r#""kind":"header""#))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn export_then_import_preserves_everything() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let arn = register_oidc(&s, &idp, "c1").await;
    let saml_metadata = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cognate-saml/tests/vectors/metadata.xml"
    ))
    .unwrap();
    let saml_arn = s
        .iam()
        .create_saml_provider()
        .name("MovingIdP")
        .saml_metadata_document(&saml_metadata)
        .send()
        .await
        .unwrap()
        .saml_provider_arn
        .unwrap();
    let pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("moving")
        .saml_provider_arns(&saml_arn)
        .allow_unauthenticated_identities(true)
        .developer_provider_name("login.move")
        .open_id_connect_provider_arns(arn)
        .identity_pool_tags("env", "prod")
        .send()
        .await
        .unwrap()
        .identity_pool_id;
    let trust = trust(&pool, "*");
    let role = create_role(&s, "Moving", &trust).await;
    let policy = create_policy(&s, "ListPools", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cognito-identity:ListIdentityPools","Resource":"*"}]}"#).await;
    s.iam()
        .attach_role_policy()
        .role_name("Moving")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    set_pool_roles(&s.cognito(), &pool, &role, &role).await;
    let anon = s.anonymous_cognito();
    let token = idp.id_token(json!({"sub": "mover", "aud": "c1"}));
    let owner = login_id(&anon, &pool, &idp.logins_key(), &token).await;
    let guest = guest_id(&anon, &pool).await;
    let merged_guest = guest_id(&anon, &pool).await;
    anon.get_credentials_for_identity()
        .identity_id(&merged_guest)
        .logins(idp.logins_key(), &token)
        .send()
        .await
        .unwrap();
    let dev = s
        .cognito()
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool)
        .logins("login.move", "dev-user")
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    // A session and a token issued before the move must work after it.
    let creds = anon
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
    let old_token = guest_open_id_token(&anon, &guest).await;

    let source_dir = s.dir.path().to_path_buf();
    let master = std::fs::read_to_string(source_dir.join("master.key"))
        .unwrap()
        .trim()
        .to_string();
    let work = tempfile::tempdir().unwrap();
    let export_file = work.path().join("export.jsonl");
    let out = cognate(&["export", "--out"])
        .arg(&export_file)
        .arg("--data-dir")
        .arg(&source_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let target_dir = tempfile::tempdir().unwrap();
    let target_url = match std::env::var("COGNATE_TEST_POSTGRES_URL") {
        Ok(server) if !server.is_empty() => fresh_postgres_database(&server, "cognate_mv").await,
        _ => format!("sqlite://{}/moved.db", target_dir.path().display()),
    };
    let out = cognate(&["import", "--in"])
        .arg(&export_file)
        .arg("--data-dir")
        .arg(target_dir.path())
        .env("COGNATE_DATABASE_URL", &target_url)
        .env("COGNATE_MASTER_KEY", &master)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Importing twice is refused: the target is no longer empty.
    let again = cognate(&["import", "--in"])
        .arg(&export_file)
        .arg("--data-dir")
        .arg(target_dir.path())
        .env("COGNATE_DATABASE_URL", &target_url)
        .env("COGNATE_MASTER_KEY", &master)
        .output()
        .unwrap();
    assert!(!again.status.success());

    // The target exports exactly what the source exported.
    let second_file = work.path().join("second.jsonl");
    let out = cognate(&["export", "--out"])
        .arg(&second_file)
        .arg("--data-dir")
        .arg(target_dir.path())
        .env("COGNATE_DATABASE_URL", &target_url)
        .env("COGNATE_MASTER_KEY", &master)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(records(&export_file), records(&second_file));
    s.server.stop().await;

    // A server on the target answers as the source did.
    let url = target_url.clone();
    let master_key = master.clone();
    let t = TestServer::start_with_extra(
        |_| {},
        move |settings| {
            settings.database_url = url;
            settings.master_key = Some(master_key);
        },
    )
    .await;
    let c = t.cognito();
    let described = c
        .describe_identity_pool()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(described.developer_provider_name(), Some("login.move"));
    assert_eq!(
        described.saml_provider_arns(),
        std::slice::from_ref(&saml_arn)
    );
    let moved_saml = t
        .iam()
        .get_saml_provider()
        .saml_provider_arn(&saml_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        moved_saml.saml_metadata_document(),
        Some(saml_metadata.as_str())
    );
    assert_eq!(
        described
            .identity_pool_tags()
            .unwrap()
            .get("env")
            .map(String::as_str),
        Some("prod")
    );
    let same = t
        .anonymous_cognito()
        .get_id()
        .identity_pool_id(&pool)
        .logins(
            idp.logins_key(),
            idp.id_token(json!({"sub": "mover", "aud": "c1"})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(same.identity_id(), Some(owner.as_str()));
    let dev_again = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool)
        .logins("login.move", "dev-user")
        .send()
        .await
        .unwrap();
    assert_eq!(dev_again.identity_id(), Some(dev.as_str()));
    let err = t
        .anonymous_cognito()
        .get_credentials_for_identity()
        .identity_id(&merged_guest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::common::code(&err), "NotAuthorizedException");
    // Sessions and tokens issued by the source are valid on the target.
    let me = t
        .sts_with(vended)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(me.arn().unwrap().contains("assumed-role/Moving/"));
    let jwks: serde_json::Value = reqwest::get(format!("{}/.well-known/jwks_uri", t.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid)
    );
    let attached = t
        .iam()
        .list_attached_role_policies()
        .role_name("Moving")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
}
