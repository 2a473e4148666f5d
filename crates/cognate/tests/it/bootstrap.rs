//! Bootstrap files: `cognate apply` (idempotent, converging, `--dry-run`,
//! `--prune`, refusing a bad entry whole), pinned pool ids, `cognate
//! export --bootstrap`, and `cognate serve --bootstrap --ephemeral`,
//! through the real binary and checked through the real APIs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{TestServer, guest_credentials, guest_id};

const POOL_ID: &str = "us-east-1:4b2f7c1e-1111-4a5b-9c3d-000000000001";

fn cognate(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.args(args)
        .env_remove("COGNATE_DATABASE_URL")
        .env_remove("COGNATE_MASTER_KEY")
        .env_remove("COGNATE_BOOTSTRAP")
        .env("NO_COLOR", "1");
    cmd
}

/// `cognate apply FILE --data-dir DIR [extra]`.
fn apply(dir: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["apply", file.to_str().unwrap(), "--data-dir"];
    args.push(dir.to_str().unwrap());
    args.extend(extra);
    cognate(&args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Applies and insists it worked; the printed changes.
fn applied(dir: &Path, file: &Path, extra: &[&str]) -> Vec<String> {
    let out = apply(dir, file, extra);
    assert!(
        out.status.success(),
        "apply failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out).lines().map(str::to_string).collect()
}

fn write(dir: &Path, name: &str, file: &Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(file).unwrap()).unwrap();
    path
}

/// A guest pool pinned to POOL_ID, its guest role (trust, an inline
/// policy and a managed one) and the managed policy.
fn declaration() -> Value {
    json!({
        "ManagedPolicies": [{
            "PolicyName": "app-read",
            "Description": "read the app's objects",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        }],
        "Roles": [{
            "RoleName": "app-guest",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": POOL_ID},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}
                }
            }]},
            "Policies": [{"PolicyName": "whoami", "PolicyDocument": {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}}],
            "ManagedPolicyArns": ["arn:aws:iam::${AWS::AccountId}:policy/app-read"]
        }],
        "IdentityPools": [{
            "IdentityPoolId": POOL_ID,
            "IdentityPoolName": "my app",
            "AllowUnauthenticatedIdentities": true,
            "IdentityPoolTags": {"team": "web"},
            "Roles": {"unauthenticated": "arn:aws:iam::${AWS::AccountId}:role/app-guest"}
        }]
    })
}

/// The role a guest of POOL_ID gets, by its vended credentials.
async fn guest_role_arn(s: &TestServer) -> String {
    let id = guest_id(&s.anonymous_cognito(), POOL_ID).await;
    let creds = guest_credentials(&s.anonymous_cognito(), &id).await;
    let who = s
        .sts_with(creds)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    who.arn.unwrap()
}

#[tokio::test]
async fn applying_a_file_twice_changes_nothing_the_second_time() {
    let s = TestServer::start().await;
    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "app.json", &declaration());
    let mut first = Vec::new();
    let mut second = Vec::new();
    let s = s
        .restart_after(|dir| {
            first = applied(dir, &file, &[]);
            second = applied(dir, &file, &[]);
        })
        .await;
    assert_eq!(
        first,
        [
            "+ create managed policy app-read",
            "+ create role app-guest",
            &format!("+ create identity pool my app ({POOL_ID})"),
        ]
    );
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(second[0].ends_with("is applied: nothing to change"));

    // What was declared serves: a guest gets the declared role, whose
    // inline policy lets it ask who it is.
    let arn = guest_role_arn(&s).await;
    assert!(
        arn.starts_with("arn:aws:sts::000000000000:assumed-role/app-guest/"),
        "{arn}"
    );
    let pool = s
        .cognito()
        .describe_identity_pool()
        .identity_pool_id(POOL_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(pool.identity_pool_name, "my app");
    assert_eq!(pool.identity_pool_tags.unwrap()["team"], "web");
    let attached = s
        .iam()
        .list_attached_role_policies()
        .role_name("app-guest")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some("arn:aws:iam::000000000000:policy/app-read")
    );
}

#[tokio::test]
async fn a_changed_file_converges_and_a_dry_run_only_shows_the_plan() {
    let s = TestServer::start().await;
    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "app.json", &declaration());
    let mut changed = declaration();
    changed["ManagedPolicies"][0]["PolicyDocument"]["Statement"][0]["Action"] = json!("s3:*");
    changed["Roles"][0]["Policies"] = json!([]);
    changed["Roles"][0]["MaxSessionDuration"] = json!(7200);
    changed["IdentityPools"][0]["IdentityPoolTags"] = json!({"team": "mobile"});
    changed["IdentityPools"][0]["AllowClassicFlow"] = json!(true);
    let changed_file = write(files.path(), "changed.json", &changed);
    let mut plan = Vec::new();
    let s = s
        .restart_after(|dir| {
            applied(dir, &file, &[]);
            plan = applied(dir, &changed_file, &["--dry-run"]);
        })
        .await;
    assert_eq!(
        plan,
        [
            "would ~ update managed policy app-read: document (new default version)",
            "would ~ update role app-guest: maximum session duration, inline policy whoami removed",
            &format!(
                "would ~ update identity pool my app ({POOL_ID}): AllowClassicFlow, IdentityPoolTags"
            ),
        ]
    );
    // The dry run changed nothing.
    let policies = s
        .iam()
        .list_role_policies()
        .role_name("app-guest")
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names(), ["whoami"]);
    let policy = s
        .iam()
        .get_policy()
        .policy_arn("arn:aws:iam::000000000000:policy/app-read")
        .send()
        .await
        .unwrap();
    assert_eq!(policy.policy().unwrap().default_version_id(), Some("v1"));

    let mut done = Vec::new();
    let mut again = Vec::new();
    let s = s
        .restart_after(|dir| {
            done = applied(dir, &changed_file, &[]);
            again = applied(dir, &changed_file, &[]);
        })
        .await;
    let expected: Vec<String> = plan
        .iter()
        .map(|l| l.trim_start_matches("would ").to_string())
        .collect();
    assert_eq!(done, expected);
    assert!(again[0].ends_with("nothing to change"), "{again:?}");
    let role = s
        .iam()
        .get_role()
        .role_name("app-guest")
        .send()
        .await
        .unwrap();
    assert_eq!(role.role().unwrap().max_session_duration(), Some(7200));
    let policies = s
        .iam()
        .list_role_policies()
        .role_name("app-guest")
        .send()
        .await
        .unwrap();
    assert!(policies.policy_names().is_empty());
    let version = s
        .iam()
        .get_policy_version()
        .policy_arn("arn:aws:iam::000000000000:policy/app-read")
        .version_id("v2")
        .send()
        .await
        .unwrap();
    let version = version.policy_version().unwrap();
    assert!(version.is_default_version());
    let document = urlencoding_decode(version.document().unwrap());
    assert!(document.contains("s3:*"), "{document}");
    let pool = s
        .cognito()
        .describe_identity_pool()
        .identity_pool_id(POOL_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(pool.allow_classic_flow, Some(true));
    assert_eq!(pool.identity_pool_tags.unwrap()["team"], "mobile");
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 3 <= bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn prune_deletes_only_what_the_file_does_not_name() {
    let s = TestServer::start().await;
    let files = tempfile::tempdir().unwrap();
    let mut declared = declaration();
    declared["IdentityPools"][0]["Roles"]["authenticated"] =
        json!("arn:aws:iam::${AWS::AccountId}:role/app-user");
    let file = write(files.path(), "app.json", &declared);
    let s = s.restart_after(|dir| drop(applied(dir, &file, &[]))).await;
    // Made beside the file: a pool, a role with an inline and an attached
    // policy, a managed policy, an OIDC provider.
    let extra_pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("scratch")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id;
    let iam = s.iam();
    iam.create_policy()
        .policy_name("extra-policy")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("extra-role")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("extra-role")
        .policy_name("inline")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("extra-role")
        .policy_arn("arn:aws:iam::000000000000:policy/extra-policy")
        .send()
        .await
        .unwrap();
    // A role the file does not declare but its pool names: kept.
    iam.create_role()
        .role_name("app-user")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.create_open_id_connect_provider()
        .url("https://issuer.example.com")
        .client_id_list("c1")
        .send()
        .await
        .unwrap();

    let mut kept = Vec::new();
    let mut pruned = Vec::new();
    let s = s
        .restart_after(|dir| {
            kept = applied(dir, &file, &[]);
            pruned = applied(dir, &file, &["--prune"]);
        })
        .await;
    assert!(kept[0].ends_with("nothing to change"), "{kept:?}");
    assert_eq!(
        pruned,
        [
            format!("- delete identity pool scratch ({extra_pool})"),
            "- delete role extra-role".to_string(),
            "- delete managed policy extra-policy".to_string(),
            "- delete OIDC provider issuer.example.com".to_string(),
        ]
    );
    let pools = s
        .cognito()
        .list_identity_pools()
        .max_results(10)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = pools
        .identity_pools()
        .iter()
        .filter_map(|p| p.identity_pool_id())
        .collect();
    assert_eq!(ids, [POOL_ID]);
    let roles = s.iam().list_roles().send().await.unwrap();
    let names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["app-guest", "app-user"]);
    let policies = s.iam().list_policies().send().await.unwrap();
    let names: Vec<&str> = policies
        .policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    assert_eq!(names, ["app-read"]);
    let oidc = s
        .iam()
        .list_open_id_connect_providers()
        .send()
        .await
        .unwrap();
    assert!(oidc.open_id_connect_provider_list().is_empty());
    // The declared pool still serves its guests.
    assert!(
        guest_role_arn(&s)
            .await
            .contains(":assumed-role/app-guest/")
    );
}

#[tokio::test]
async fn a_pinned_pool_id_survives_a_fresh_database_and_an_export_round_trips() {
    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "app.json", &declaration());
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    applied(first.path(), &file, &[]);
    applied(second.path(), &file, &[]);

    // The export of one deployment, applied to the other and to a third,
    // fresh one, changes nothing in the first and makes the same pools.
    let exported = files.path().join("exported.json");
    let out = cognate(&[
        "export",
        "--bootstrap",
        "--out",
        exported.to_str().unwrap(),
        "--data-dir",
        first.path().to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&exported).unwrap();
    let declared: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(declared["IdentityPools"][0]["IdentityPoolId"], POOL_ID);
    // ARNs of the account are written so that they fit any account.
    assert_eq!(
        declared["IdentityPools"][0]["Roles"]["unauthenticated"],
        "arn:aws:iam::${AWS::AccountId}:role/app-guest"
    );
    assert!(applied(second.path(), &exported, &[])[0].ends_with("nothing to change"));
    let third = TestServer::start().await;
    let third = third
        .restart_after(|dir| {
            let made = applied(dir, &exported, &[]);
            assert_eq!(made.len(), 3, "{made:?}");
        })
        .await;
    assert!(
        guest_role_arn(&third)
            .await
            .contains(":assumed-role/app-guest/")
    );
}

#[tokio::test]
async fn a_bad_entry_is_refused_by_its_name_and_nothing_is_applied() {
    let s = TestServer::start().await;
    let files = tempfile::tempdir().unwrap();
    // Good entries first, then a pool naming an OIDC provider that does
    // not exist.
    let mut bad = declaration();
    bad["IdentityPools"][0]["OpenIdConnectProviderARNs"] =
        json!(["arn:aws:iam::000000000000:oidc-provider/nowhere.example.com"]);
    let bad_file = write(files.path(), "bad.json", &bad);
    let mut malformed = declaration();
    malformed["Roles"][0]["AssumeRolePolicyDocument"]["Statement"][0]
        .as_object_mut()
        .unwrap()
        .remove("Principal");
    let malformed_file = write(files.path(), "malformed.json", &malformed);
    let mut elsewhere = declaration();
    elsewhere["IdentityPools"][0]["IdentityPoolId"] =
        json!("bogus:4b2f7c1e-1111-4a5b-9c3d-000000000001");
    let elsewhere_file = write(files.path(), "elsewhere.json", &elsewhere);
    let typo_file = files.path().join("typo.json");
    std::fs::write(&typo_file, r#"{"Rolez": []}"#).unwrap();
    let mut outputs = Vec::new();
    let s = s
        .restart_after(|dir| {
            for file in [&bad_file, &malformed_file, &typo_file, &elsewhere_file] {
                outputs.push(apply(dir, file, &[]));
            }
        })
        .await;
    let errors: Vec<String> = outputs
        .iter()
        .map(|out| {
            assert!(!out.status.success());
            assert_eq!(stdout(out), "");
            stderr(out)
        })
        .collect();
    assert!(
        errors[0].contains(
            "bad.json: IdentityPools[0] (my app): InvalidParameterException: Invalid OpenIdConnectProviderARN: arn:aws:iam::000000000000:oidc-provider/nowhere.example.com does not exist."
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("malformed.json: Roles[0] (app-guest): MalformedPolicyDocument:"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("typo.json: unknown field `Rolez`"),
        "{}",
        errors[2]
    );
    // A pinned id in a region no signed call could name would make a
    // pool nobody can see or manage.
    assert!(
        errors[3].contains(
            "elsewhere.json: IdentityPools[0] (my app): InvalidParameterException: IdentityPoolId bogus:4b2f7c1e-1111-4a5b-9c3d-000000000001 must be <region>:<uuid>"
        ),
        "{}",
        errors[3]
    );
    // Nothing of the files' good entries was made.
    let roles = s.iam().list_roles().send().await.unwrap();
    assert!(roles.roles().is_empty());
    let policies = s.iam().list_policies().send().await.unwrap();
    assert!(policies.policies().is_empty());
    let pools = s
        .cognito()
        .list_identity_pools()
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert!(pools.identity_pools().is_empty());
}

#[tokio::test]
async fn serve_applies_a_bootstrap_file_in_an_ephemeral_directory_it_removes() {
    use std::io::{BufRead, BufReader};

    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "app.json", &declaration());
    let mut child = cognate(&[
        "serve",
        "--ephemeral",
        "--bootstrap",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .env_remove("COGNATE_DATA_DIR")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::inherit())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut endpoint, mut data_dir, mut log) = (None, None, String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("ephemeral data directory ").nth(1) {
            data_dir = rest.split_whitespace().next().map(std::path::PathBuf::from);
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            endpoint = rest.split(';').next().map(str::to_string);
            break;
        }
    }
    let endpoint = endpoint.unwrap_or_else(|| panic!("no endpoint in:\n{log}"));
    let data_dir = data_dir.unwrap_or_else(|| panic!("no data directory in:\n{log}"));
    assert!(
        log.contains(&format!(
            "bootstrap {}: + create identity pool my app",
            file.display()
        )),
        "{log}"
    );
    assert!(data_dir.join("cognate.db").exists());
    // Drain the log so the server never blocks on a full pipe.
    let drain = std::thread::spawn(move || for _ in lines {});

    let cognito = crate::common::anonymous_cognito_at(&endpoint);
    let id = guest_id(&cognito, POOL_ID).await;
    assert!(id.starts_with("us-east-1:"));

    // SIGTERM: the server stops and takes its data with it.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    drain.join().unwrap();
    assert!(!data_dir.exists(), "{} is still there", data_dir.display());
}

#[tokio::test]
async fn an_unpinned_pool_gets_one_id_however_often_and_wherever_it_is_made() {
    let files = tempfile::tempdir().unwrap();
    let mut unpinned = declaration();
    unpinned["IdentityPools"][0]
        .as_object_mut()
        .unwrap()
        .remove("IdentityPoolId");
    let file = write(files.path(), "unpinned.json", &unpinned);
    let pool_line = |lines: &[String]| {
        lines
            .iter()
            .find(|l| l.contains("identity pool my app"))
            .cloned()
            .unwrap_or_else(|| panic!("{lines:?}"))
    };
    // The plan names the id the pool gets, in every deployment.
    let first = tempfile::tempdir().unwrap();
    let planned = pool_line(&applied(first.path(), &file, &["--dry-run"]));
    let made = pool_line(&applied(first.path(), &file, &[]));
    assert_eq!(planned, format!("would {made}"));
    let second = tempfile::tempdir().unwrap();
    assert_eq!(pool_line(&applied(second.path(), &file, &[])), made);

    // Applies racing on one database make one pool: the loser's insert
    // conflicts instead of making a second pool of that name.
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let mut args = vec!["apply", file.to_str().unwrap(), "--data-dir"];
                args.push(dir.path().to_str().unwrap());
                cognate(&args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> = racers
            .into_iter()
            .map(|r| r.wait_with_output().unwrap())
            .collect();
        assert!(outputs.iter().any(|o| o.status.success()));
        // Whatever the race did, the file applies and names one pool.
        let again = applied(dir.path(), &file, &[]);
        assert!(
            again.iter().all(|l| !l.contains("create identity pool")),
            "{again:?}"
        );
    }
}

#[tokio::test]
async fn ephemeral_refuses_a_database_elsewhere_and_cleans_up_when_stopped_while_starting() {
    use std::io::{BufRead, BufReader};

    let elsewhere = tempfile::tempdir().unwrap();
    let out = cognate(&["serve", "--ephemeral", "--listen", "127.0.0.1:0"])
        .env(
            "COGNATE_DATABASE_URL",
            format!("sqlite://{}/cognate.db", elsewhere.path().display()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("--ephemeral keeps everything in a temporary directory"),
        "{}",
        stdout(&out)
    );
    assert!(!elsewhere.path().join("cognate.db").exists());

    // SIGTERM right after the directory is made, while the server starts.
    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "app.json", &declaration());
    let mut child = cognate(&[
        "serve",
        "--ephemeral",
        "--bootstrap",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let data_dir = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line.split("ephemeral data directory ").nth(1)?;
            rest.split_whitespace().next().map(std::path::PathBuf::from)
        })
        .expect("the directory is logged");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    drop(lines);
    assert!(!data_dir.exists(), "{} is still there", data_dir.display());
}
