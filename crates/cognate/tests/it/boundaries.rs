//! Trust boundaries attacked from outside, over HTTP: a scoped session
//! must act only on what its policies allow, whatever members a body
//! carries; limits hold on every path; a third party's token never speaks
//! for cognate; signatures cover what the request does.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use cognate_server::limits::LimitsConfig;
use cognate_testkit::OidcProvider;
use serde_json::{Value, json};

use crate::common::{
    ACCOUNT, Raw, Signing, TestServer, allow, basic_session, call_as, code, create_policy,
    create_pool, create_role, describe_pool, guest_id_error, guest_session, identity_count,
    identity_exists, login_identity, message, new_guest, percent_encode, pool_arn, query_as,
    register_oidc, set_pool_role, trust, two_pools_and_a_session_of_the_first, vended,
};

#[tokio::test]
async fn a_session_scoped_to_one_pool_cannot_reach_another_pools_identities() {
    let s = TestServer::start().await;
    let (a, b, creds) = two_pools_and_a_session_of_the_first(&s).await;
    let a_guest = new_guest(&s, &a).await;
    let b_guest = new_guest(&s, &b).await;

    // Naming pool A, or one of its identities, beside B's identity opens
    // nothing: each identity is authorized on the pool it belongs to.
    for extra in [json!({"IdentityPoolId": a}), json!({"IdentityId": a_guest})] {
        let mut body = json!({"IdentityIdsToDelete": [b_guest]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = call_as(&s, &creds, "DeleteIdentities", &body).await;
        assert!(identity_exists(&s, &b_guest).await, "{body}: {}", r.body);
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        assert_eq!(
            r.json()["UnprocessedIdentityIds"],
            json!([{"IdentityId": b_guest, "ErrorCode": "AccessDenied"}]),
            "{body}"
        );
    }
    let r = call_as(
        &s,
        &creds,
        "DescribeIdentity",
        &json!({"IdentityId": b_guest, "IdentityPoolId": a}),
    )
    .await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
    assert!(!r.body.contains("CreationDate"), "{}", r.body);
    // The same calls on the session's own pool are allowed.
    let r = call_as(
        &s,
        &creds,
        "DescribeIdentity",
        &json!({"IdentityId": a_guest, "IdentityPoolId": b}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["IdentityId"], json!(a_guest));
    let r = call_as(
        &s,
        &creds,
        "DeleteIdentities",
        &json!({"IdentityIdsToDelete": [a_guest, b_guest], "IdentityPoolId": b}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["UnprocessedIdentityIds"],
        json!([{"IdentityId": b_guest, "ErrorCode": "AccessDenied"}])
    );
    assert!(!identity_exists(&s, &a_guest).await);
    assert!(identity_exists(&s, &b_guest).await);

    // Pool operations act on the pool they name, whatever else the body
    // says.
    for (operation, body) in [
        (
            "ListIdentities",
            json!({"IdentityPoolId": b, "MaxResults": 5, "IdentityId": a_guest}),
        ),
        (
            "DescribeIdentityPool",
            json!({"IdentityPoolId": b, "ResourceArn": pool_arn(&a)}),
        ),
        (
            "TagResource",
            json!({"ResourceArn": pool_arn(&b), "Tags": {"k": "v"}, "IdentityPoolId": a}),
        ),
    ] {
        let r = call_as(&s, &creds, operation, &body).await;
        assert_eq!(
            r.json_error(),
            "AccessDeniedException",
            "{operation}: {}",
            r.body
        );
    }
    let tags = s
        .cognito()
        .list_tags_for_resource()
        .resource_arn(pool_arn(&b))
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_none_or(|t| t.is_empty()));
}

fn few_guests(settings: &mut cognate::Settings) {
    settings.limits = LimitsConfig {
        guests_per_address_per_minute: 0.001,
        guests_per_address_burst: 3.0,
        ..LimitsConfig::default()
    };
}

#[tokio::test]
async fn a_repeated_member_does_not_skip_the_guest_limits() {
    let s = TestServer::start_with(few_guests).await;
    let pool = create_pool(&s, "limited", true).await;
    for _ in 0..3 {
        new_guest(&s, &pool).await;
    }
    let err = guest_id_error(&s.anonymous_cognito(), &pool).await;
    assert_eq!(code(&err), "TooManyRequestsException");
    for body in [
        format!(r#"{{"IdentityPoolId":"{pool}","IdentityPoolId":"{pool}"}}"#),
        format!(r#"{{"IdentityPoolId":"{pool}","Logins":{{}},"Logins":{{}}}}"#),
        format!(r#"{{"IdentityPoolId":"us-east-1:0","IdentityPoolId":"{pool}"}}"#),
    ] {
        let r = Raw::json("GetId", &body).send(&s).await;
        assert_ne!(r.status, 200, "{body}: {}", r.body);
    }
    assert_eq!(identity_count(&s, &pool).await, 3);
}

#[tokio::test]
async fn a_third_party_token_cannot_choose_its_role() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let provider = register_oidc(&s, &idp, "client").await;
    let pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("claims")
        .allow_unauthenticated_identities(false)
        .open_id_connect_provider_arns(provider)
        .send()
        .await
        .unwrap()
        .identity_pool_id;
    let plain = create_role(&s, "Plain", &trust(&pool, "authenticated")).await;
    let privileged = create_role(&s, "Privileged", &trust(&pool, "authenticated")).await;
    set_pool_role(&s, &pool, "authenticated", &plain).await;
    // The claim name cognate once used inside for a SAML assertion's roles.
    let token = idp.id_token(json!({
        "sub": "mallory",
        "aud": "client",
        "cognate:saml_roles": [privileged],
    }));
    let anon = s.anonymous_cognito();
    let id = login_identity(&s, &pool, &idp.logins_key(), &token).await;
    for custom in [None, Some(privileged.as_str())] {
        let vended_creds = anon
            .get_credentials_for_identity()
            .identity_id(&id)
            .logins(idp.logins_key(), &token)
            .set_custom_role_arn(custom.map(str::to_string))
            .send()
            .await;
        // Refusing CustomRoleArn is fine; getting the privileged role is not.
        let Ok(out) = vended_creds else { continue };
        let me = s
            .sts_with(vended(out.credentials().unwrap()))
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert!(
            me.arn().unwrap().contains("assumed-role/Plain/"),
            "{custom:?}: {}",
            me.arn().unwrap()
        );
    }
}

#[tokio::test]
async fn setting_a_pools_roles_needs_pass_role_on_each_role() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "roles", true).await;
    let creds = basic_session(
        &s,
        &pool,
        "PoolAdmin",
        &allow(&["cognito-identity:*"], &[&pool_arn(&pool)]),
    )
    .await;
    let own = format!("arn:aws:iam::{ACCOUNT}:role/PoolAdmin");
    let god = create_role(&s, "Everything", &trust(&pool, "unauthenticated")).await;
    s.iam()
        .put_role_policy()
        .role_name("Everything")
        .policy_name("all")
        .policy_document(allow(&["*"], &["*"]))
        .send()
        .await
        .unwrap();
    let set_roles = |body: Value| {
        let (s, creds) = (&s, &creds);
        async move { call_as(s, creds, "SetIdentityPoolRoles", &body).await }
    };
    let roles = || async {
        s.cognito()
            .get_identity_pool_roles()
            .identity_pool_id(&pool)
            .send()
            .await
            .unwrap()
            .roles
            .unwrap_or_default()
    };
    let r = set_roles(json!({"IdentityPoolId": pool, "Roles": {"unauthenticated": god}})).await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
    assert!(r.body.contains("iam:PassRole"), "{}", r.body);
    assert!(r.body.contains(&god), "{}", r.body);
    assert!(roles().await.is_empty());

    // Allowed to pass one role only: that one, and not another through a
    // role mapping rule.
    s.iam()
        .put_role_policy()
        .role_name("PoolAdmin")
        .policy_name("scope")
        .policy_document(
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "cognito-identity:*", "Resource": pool_arn(&pool)},
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": own},
                ]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let r = set_roles(
        json!({"IdentityPoolId": pool, "Roles": {"unauthenticated": own, "authenticated": own}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(roles().await["authenticated"], own);
    let r = set_roles(json!({"IdentityPoolId": pool, "Roles": {"unauthenticated": god}})).await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
    // A mapping rule must name a configured provider; the pass-role check
    // comes first, so any provider name shows it.
    let r = set_roles(json!({
        "IdentityPoolId": pool,
        "Roles": {"unauthenticated": own},
        "RoleMappings": {"accounts.google.com": {"Type": "Rules", "RulesConfiguration": {"Rules": [
            {"Claim": "sub", "MatchType": "Equals", "Value": "x", "RoleARN": god}
        ]}}}
    }))
    .await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
    assert!(r.body.contains("iam:PassRole"), "{}", r.body);
    assert_eq!(roles().await["unauthenticated"], own);
}

/// A Query request's form body.
fn form(params: &[(&str, &str)]) -> Raw {
    Raw::query_params(params)
}

fn admin_key(s: &TestServer) -> (String, String) {
    (
        s.server.admin_access_key_id.clone(),
        s.server.admin_secret_access_key.clone(),
    )
}

async fn role_exists(s: &TestServer, name: &str) -> bool {
    s.iam().get_role().role_name(name).send().await.is_ok()
}

#[tokio::test]
async fn a_presigned_request_takes_its_parameters_from_its_signed_query_only() {
    let s = TestServer::start().await;
    let key = admin_key(&s);
    let trust_doc = trust("us-east-1:00000000-0000-0000-0000-000000000000", "*");
    let mut raw = Raw {
        method: "POST",
        path_and_query: format!(
            "/?Action=CreateRole&Version=2010-05-08&RoleName=Presigned&AssumeRolePolicyDocument={}",
            percent_encode(&trust_doc)
        ),
        headers: Vec::new(),
        body: Vec::new(),
    };
    raw = raw.sign(
        &s,
        &Signing {
            presigned: true,
            unsigned_payload: true,
            ..Signing::new((&key.0, &key.1), "iam", SystemTime::now())
        },
    );
    // The presigner signed no Path and no MaxSessionDuration.
    raw.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    raw.body = b"Path=%2Fsmuggled%2F&MaxSessionDuration=43200".to_vec();
    let r = raw.send(&s).await;
    if r.status == 200 {
        let role = s
            .iam()
            .get_role()
            .role_name("Presigned")
            .send()
            .await
            .unwrap();
        let role = role.role().unwrap();
        assert_eq!(role.path(), "/", "{}", r.body);
        assert_eq!(role.max_session_duration(), Some(3600));
    } else {
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(!role_exists(&s, "Presigned").await);
    }
}

#[tokio::test]
async fn a_header_signature_covers_the_body_that_arrived() {
    let s = TestServer::start().await;
    let key = admin_key(&s);
    let trust_doc = trust("us-east-1:00000000-0000-0000-0000-000000000000", "*");
    let signed_body = |name: &str| {
        form(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", &trust_doc),
        ])
        .sign(
            &s,
            &Signing {
                unsigned_payload: true,
                ..Signing::new((&key.0, &key.1), "iam", SystemTime::now())
            },
        )
    };
    // Signed over UNSIGNED-PAYLOAD, then the body swapped.
    let mut raw = signed_body("Signed");
    raw.body = form(&[
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", "Swapped"),
        ("AssumeRolePolicyDocument", &trust_doc),
    ])
    .body;
    let r = raw.send(&s).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.xml_error(), "SignatureDoesNotMatch", "{}", r.body);
    assert!(!role_exists(&s, "Swapped").await);
    // Not swapped: still refused, the signature covers no body.
    let r = signed_body("Signed").send(&s).await;
    assert_eq!(r.xml_error(), "SignatureDoesNotMatch", "{}", r.body);
    assert!(!role_exists(&s, "Signed").await);
}

#[tokio::test]
async fn a_credential_scope_must_name_a_valid_region() {
    let s = TestServer::start().await;
    let key = admin_key(&s);
    let long = "x".repeat(120);
    for region in ["a:b", long.as_str(), "us-east-1 ", "US-EAST-1", "-1", "x"] {
        let r = Raw::json(
            "CreateIdentityPool",
            r#"{"IdentityPoolName":"scoped","AllowUnauthenticatedIdentities":true}"#,
        )
        .sign(
            &s,
            &Signing {
                region,
                ..Signing::new((&key.0, &key.1), "cognito-identity", SystemTime::now())
            },
        )
        .send(&s)
        .await;
        assert_eq!(r.status, 400, "{region:?}: {}", r.body);
        assert_eq!(r.json_error(), "InvalidSignatureException", "{region:?}");
        assert!(
            r.body
                .contains("Credential should be scoped to a valid region"),
            "{}",
            r.body
        );
    }
    // A well-formed region other than the default is served.
    let r = Raw::json(
        "CreateIdentityPool",
        r#"{"IdentityPoolName":"scoped","AllowUnauthenticatedIdentities":true}"#,
    )
    .sign(
        &s,
        &Signing {
            region: "eu-west-1",
            ..Signing::new((&key.0, &key.1), "cognito-identity", SystemTime::now())
        },
    )
    .send(&s)
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["IdentityPoolId"]
            .as_str()
            .unwrap()
            .starts_with("eu-west-1:")
    );
    let pools = s
        .cognito_with(s.admin_credentials(), "eu-west-1")
        .list_identity_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert_eq!(pools.identity_pools().len(), 1);
}

#[tokio::test]
async fn openid_provider_urls_are_checked_when_registered() {
    let s = TestServer::start().await;
    for (url, expected) in [
        ("http://127.0.0.1@evil.example", "InvalidInput"),
        ("http://127.evil.example", "InvalidInput"),
        ("https://user:pw@127.0.0.1", "InvalidInput"),
        ("https://issuer.example/path?x=1", "InvalidInput"),
        ("https://", "ValidationError"),
        ("issuer.example", "ValidationError"),
    ] {
        let err = s
            .iam()
            .create_open_id_connect_provider()
            .url(url)
            .client_id_list("c")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), expected, "{url}: {err:?}");
        assert!(
            message(&err).starts_with("Invalid Open ID Connect Provider URL"),
            "{url}: {}",
            message(&err)
        );
    }
    let listed = s
        .iam()
        .list_open_id_connect_providers()
        .send()
        .await
        .unwrap();
    assert!(listed.open_id_connect_provider_list().is_empty());
    // Loopback issuers over plain http stay allowed (tests, sidecars).
    for url in [
        "http://127.0.0.1:9/a",
        "http://localhost:9",
        "http://[::1]:9",
    ] {
        s.iam()
            .create_open_id_connect_provider()
            .url(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e:?}"));
    }
}

#[tokio::test]
async fn model_patterns_are_ascii_and_tags_refuse_control_characters() {
    let s = TestServer::start().await;
    for name in [
        "line\u{2028}sep",
        "no\u{a0}break",
        "ideo\u{3000}space",
        "next\u{85}line",
    ] {
        let err = s
            .cognito()
            .create_identity_pool()
            .identity_pool_name(name)
            .allow_unauthenticated_identities(false)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{name:?}");
    }
    for (key, value) in [
        ("nul\0key", "v"),
        ("k", "nul\0value"),
        ("bell\u{7}", "v"),
        ("k", "esc\u{1b}[31m"),
    ] {
        let err = s
            .cognito()
            .create_identity_pool()
            .identity_pool_name("tagged")
            .allow_unauthenticated_identities(false)
            .identity_pool_tags(key, value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{key:?}={value:?}");
    }
    let pools = s
        .cognito()
        .list_identity_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert!(pools.identity_pools().is_empty());
    // Unicode letters in tags are fine, as in AWS.
    s.cognito()
        .create_identity_pool()
        .identity_pool_name("tagged")
        .allow_unauthenticated_identities(false)
        .identity_pool_tags("équipe", "données")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn required_members_are_required() {
    let s = TestServer::start().await;
    let r = Raw::json("CreateIdentityPool", r#"{"IdentityPoolName":"no flag"}"#)
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "ValidationException", "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "1 validation error detected: Value null at 'allowUnauthenticatedIdentities' failed to satisfy constraint: Member must not be null"
    );
    let pool = create_pool(&s, "exists", false).await;
    let r = Raw::json(
        "UpdateIdentityPool",
        &json!({"IdentityPoolId": pool, "IdentityPoolName": "renamed"}).to_string(),
    )
    .admin_signed(&s, "cognito-identity")
    .send(&s)
    .await;
    assert_eq!(r.json_error(), "ValidationException", "{}", r.body);
    assert!(
        r.body.contains("'allowUnauthenticatedIdentities'"),
        "{}",
        r.body
    );
    let described = describe_pool(&s, &pool).await;
    assert_eq!(described.identity_pool_name(), "exists");
}

#[tokio::test]
async fn a_newline_in_a_name_cannot_forge_a_log_line() {
    use aws_config::BehaviorVersion;
    use aws_sdk_cognitoidentity::config::Region;
    const KEY_ID: &str = "AKIALOGTESTADMIN0000";
    const SECRET: &str = "log/test/secret/key/00000000000000000000";
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.arg("serve")
        .env("COGNATE_DATA_DIR", dir.path().join("data"))
        .env("COGNATE_LISTEN", "127.0.0.1:0")
        .env("COGNATE_ADMIN_ACCESS_KEY_ID", KEY_ID)
        .env("COGNATE_ADMIN_SECRET_ACCESS_KEY", SECRET)
        // The audit events in the text log, where a name is printed.
        .env("COGNATE_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("COGNATE_DATABASE_URL");
    let node = crate::common::spawn_cognate(cmd, dir).unwrap();
    let cognito = aws_sdk_cognitoidentity::Client::from_conf(
        aws_sdk_cognitoidentity::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&node.endpoint)
            .credentials_provider(Credentials::new(KEY_ID, SECRET, None, None, "admin"))
            .build(),
    );
    cognito
        .create_identity_pool()
        .identity_pool_name("innocent account=999\nFORGED ERROR admin key leaked\r")
        .allow_unauthenticated_identities(false)
        .send()
        .await
        .unwrap();
    // The event is written after the answer; give the writer a moment.
    for _ in 0..50 {
        if node.log.lock().unwrap().contains("innocent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let log = node.log.lock().unwrap().clone();
    assert!(log.contains("innocent"), "{log}");
    assert!(!log.lines().any(|line| line.starts_with("FORGED")), "{log}");
    assert!(!log.contains('\r'), "{log}");
}

/// A cognate process under a small open-file limit, as a crowded host
/// would run it, with short time limits (192 connections at once, 24 per
/// client address).
fn spawn_with_few_files() -> crate::common::Node {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cognate.toml");
    std::fs::write(&config, "[http]\nwrite_timeout_secs = 2\n").unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" serve --config "$1""#)
        .arg(env!("CARGO_BIN_EXE_cognate"))
        .arg(&config)
        .env("COGNATE_DATA_DIR", dir.path().join("data"))
        .env("COGNATE_LISTEN", "127.0.0.1:0")
        .env("COGNATE_HEADER_READ_TIMEOUT", "2")
        .env("NO_COLOR", "1")
        .env_remove("COGNATE_DATABASE_URL");
    crate::common::spawn_cognate(cmd, dir).unwrap()
}

/// A connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server.parse().unwrap()).await.unwrap()
}

/// Reads until the server closes the connection, for at most `secs`:
/// the bytes read if it did.
async fn closed_within(stream: &mut tokio::net::TcpStream, secs: u64) -> Option<usize> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(total),
            Ok(Ok(n)) => total += n,
        }
    }
}

#[tokio::test]
async fn slow_and_greedy_clients_cannot_hold_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = spawn_with_few_files();
    let addr = node.endpoint.trim_start_matches("http://").to_string();
    // More half-sent requests than the process has file descriptors, from
    // 20 addresses.
    let mut slow = Vec::new();
    for n in 0..280 {
        let mut stream = connect_from(&format!("127.0.1.{}", n % 20 + 1), &addr).await;
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: cognate\r\nX-Amz-Target: AWSCognito")
            .await
            .unwrap();
        slow.push(stream);
    }
    // Another client is still answered, within a few header time limits.
    let started = std::time::Instant::now();
    let health = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        reqwest::get(format!("{}/healthz", node.endpoint)),
    )
    .await;
    let health = health.expect("/healthz answers while slow clients hold connections");
    assert_eq!(health.unwrap().status(), 200);
    eprintln!("healthz answered after {:?}", started.elapsed());
    // And the server has hung up on the slow clients.
    for stream in slow.iter_mut().take(20) {
        assert!(
            closed_within(stream, 10).await.is_some(),
            "the server closes a connection whose headers never arrive"
        );
    }
    drop(slow);

    // One address gets its share of the connections (24 here), no more:
    // the rest are told 503 at once.
    let mut greedy = Vec::new();
    for _ in 0..30 {
        greedy.push(connect_from("127.0.2.1", &addr).await);
    }
    let mut refused = 0;
    for stream in &mut greedy {
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_millis(300), stream.read(&mut buf)).await
            && buf[..n].starts_with(b"HTTP/1.1 503")
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 6, "24 of 30 connections from one address served");
    drop(greedy);

    // A client that pipelines requests and never reads the answers is cut
    // off once a response has waited the write time limit (2 s here).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.3.1:0".parse().unwrap()).unwrap();
    let mut pipelining = socket.connect(addr.parse().unwrap()).await.unwrap();
    let request = b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: cognate\r\n\r\n";
    let answer_len = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        node.endpoint
    ))
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap()
    .len();
    let count = 20_000;
    let many: Vec<u8> = request.repeat(count);
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        pipelining.write_all(&many),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    // Had it waited, reading now would take every answer, then idle out.
    let read = closed_within(&mut pipelining, 20).await;
    assert!(
        read.is_some_and(|bytes| bytes < count * answer_len / 2),
        "{read:?} bytes of {} before the server closed: the server closes a connection whose answers are never read",
        count * answer_len
    );
}

#[tokio::test]
async fn iam_and_sts_members_follow_their_models() {
    use aws_sdk_iam::types::Tag;
    let s = TestServer::start().await;
    let iam = s.iam();
    let doc = trust("us-east-1:00000000-0000-0000-0000-000000000000", "*");
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    let create = |name: &'static str| {
        iam.create_role()
            .role_name(name)
            .assume_role_policy_document(&doc)
    };
    for (what, request, expected) in [
        ("path", create("R1").path("/a b/"), "ValidationError"),
        (
            "description",
            create("R2").description("bell\u{7}"),
            "ValidationError",
        ),
        (
            "document",
            iam.create_role()
                .role_name("R3")
                .assume_role_policy_document(doc.replace("Allow", "Allow\u{1}")),
            "ValidationError",
        ),
        (
            "tag key",
            create("R4").tags(tag("nul\0", "v")),
            "ValidationError",
        ),
        (
            "tag value",
            create("R5").tags(tag("k", "esc\u{1b}")),
            "ValidationError",
        ),
        (
            "duplicate tag keys",
            create("R6").tags(tag("Team", "a")).tags(tag("team", "b")),
            "InvalidInput",
        ),
        (
            "51 tags",
            (0..51).fold(create("R7"), |r, n| r.tags(tag(&format!("k{n}"), "v"))),
            "ValidationError",
        ),
    ] {
        let err = request.send().await.unwrap_err();
        assert_eq!(
            err.as_service_error().and_then(|e| e.meta().code()),
            Some(expected),
            "{what}: {err:?}"
        );
    }
    assert!(
        iam.list_roles().send().await.unwrap().roles().is_empty(),
        "nothing half made"
    );
    // Within the model: created, and found by its path.
    create("Tagged")
        .path("/app/")
        .tags(tag("équipe", "données"))
        .send()
        .await
        .unwrap();
    create("Plain").send().await.unwrap();
    let under_app = iam.list_roles().path_prefix("/app/").send().await.unwrap();
    let names: Vec<&str> = under_app.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["Tagged"]);
    let err = iam
        .list_roles()
        .marker("line\nbreak")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("ValidationError")
    );
    // STS: an ARN member with a control character.
    let r = Raw::query_params(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::000000000000:role/\u{0}x"),
        ("RoleSessionName", "session"),
        ("WebIdentityToken", "token"),
    ])
    .send(&s)
    .await;
    assert_eq!(r.xml_error(), "ValidationError", "{}", r.body);
    assert!(r.xml_message().starts_with("1 validation error detected: Value 'arn:aws:iam::000000000000:role/\\u{0}x' at 'roleArn'"), "{}", r.body);
}

#[tokio::test]
async fn a_pool_admin_cannot_pick_a_role_through_a_token_mapping_of_its_own_issuer() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let pool = create_pool(&s, "mapped", false).await;
    let provider = register_oidc(&s, &idp, "client").await;
    let privileged = create_role(&s, "Everything", &trust(&pool, "authenticated")).await;
    // A session that administers the pool, and may pass no role.
    let guests = create_pool(&s, "admins", true).await;
    let creds = guest_session(
        &s,
        &guests,
        "PoolAdmin",
        &allow(&["cognito-identity:*"], &[&pool_arn(&pool)]),
    )
    .await;
    let link = json!({
        "IdentityPoolId": pool,
        "IdentityPoolName": "mapped",
        "AllowUnauthenticatedIdentities": false,
        "OpenIdConnectProviderARNs": [provider],
    });
    let r = call_as(&s, &creds, "UpdateIdentityPool", &link).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mapping = json!({
        "IdentityPoolId": pool,
        "Roles": {},
        "RoleMappings": {idp.logins_key(): {"Type": "Token", "AmbiguousRoleResolution": "Deny"}},
    });
    let r = call_as(&s, &creds, "SetIdentityPoolRoles", &mapping).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The issuer names the role: not honoured (only a user pool's groups
    // name roles in a token), so the mapping is ambiguous and denies.
    let token = idp.id_token(json!({
        "sub": "mallory",
        "aud": "client",
        "cognito:preferred_role": privileged,
        "cognito:roles": [privileged],
    }));
    let anon = s.anonymous_cognito();
    let id = login_identity(&s, &pool, &idp.logins_key(), &token).await;
    let err = anon
        .get_credentials_for_identity()
        .identity_id(&id)
        .logins(idp.logins_key(), &token)
        .custom_role_arn(&privileged)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException", "{err:?}");
}

#[tokio::test]
async fn request_condition_keys_reach_the_policies() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "keys", true).await;
    let own = format!("arn:aws:iam::{ACCOUNT}:role/SelfService");
    let admin_policy = create_policy(&s, "Admin", &allow(&["*"], &["*"])).await;
    let readonly_policy = create_policy(
        &s,
        "ReadOnly",
        &allow(&["cognito-identity:Describe*"], &["*"]),
    )
    .await;
    // May attach any policy to itself, except Admin; may act only from
    // loopback.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"], "Resource": own},
            {"Effect": "Deny", "Action": "iam:AttachRolePolicy", "Resource": "*",
             "Condition": {"ArnEquals": {"iam:PolicyARN": admin_policy}}},
            {"Effect": "Allow", "Action": "cognito-identity:ListIdentityPools", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
            {"Effect": "Allow", "Action": "cognito-identity:ListIdentities", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}},
            {"Effect": "Allow", "Action": "cognito-identity:TagResource", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
            {"Effect": "Deny", "Action": "cognito-identity:*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/locked": "yes"}}},
            {"Effect": "Allow", "Action": "cognito-identity:DescribeIdentityPool", "Resource": "*"},
        ]
    })
    .to_string();
    let creds = basic_session(&s, &pool, "SelfService", &policy).await;
    let attach = |policy_arn: &str| {
        let (s, creds) = (&s, &creds);
        let params = [
            ("Action", "AttachRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", "SelfService"),
            ("PolicyArn", policy_arn),
        ]
        .map(|(k, v)| (k, v.to_string()));
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            query_as(s, creds, "iam", &params).await
        }
    };
    let r = attach(&admin_policy).await;
    assert_eq!(r.xml_error(), "AccessDenied", "{}", r.body);
    let r = attach(&readonly_policy).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // aws:SourceIp and aws:RequestedRegion: the session calls from loopback.
    let r = call_as(&s, &creds, "ListIdentityPools", &json!({"MaxResults": 5})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call_as(
        &s,
        &creds,
        "ListIdentities",
        &json!({"IdentityPoolId": pool, "MaxResults": 5}),
    )
    .await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
    // aws:RequestTag and aws:ResourceTag.
    let tag = |value: &str| json!({"ResourceArn": pool_arn(&pool), "Tags": {"team": value}});
    let r = call_as(&s, &creds, "TagResource", &tag("red")).await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
    let r = call_as(&s, &creds, "TagResource", &tag("blue")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let describe = json!({"IdentityPoolId": pool});
    let r = call_as(&s, &creds, "DescribeIdentityPool", &describe).await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.cognito()
        .tag_resource()
        .resource_arn(pool_arn(&pool))
        .tags("locked", "yes")
        .send()
        .await
        .unwrap();
    let r = call_as(&s, &creds, "DescribeIdentityPool", &describe).await;
    assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
}

#[tokio::test]
async fn a_json_calls_operation_must_be_signed() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "target", false).await;
    let key = admin_key(&s);
    // Signed without X-Amz-Target among the signed headers.
    let mut raw = Raw::json(
        "DescribeIdentityPool",
        &json!({"IdentityPoolId": pool}).to_string(),
    );
    let target = raw.headers.remove(1);
    raw = raw.signed(&s, (&key.0, &key.1), "cognito-identity", SystemTime::now());
    raw.headers.push((
        target.0,
        "AWSCognitoIdentityService.DeleteIdentityPool".into(),
    ));
    let r = raw.send(&s).await;
    assert_eq!(r.json_error(), "InvalidSignatureException", "{}", r.body);
    assert!(r.body.contains("X-Amz-Target"), "{}", r.body);
    s.cognito()
        .describe_identity_pool()
        .identity_pool_id(&pool)
        .send()
        .await
        .expect("the pool is still there");
}

#[tokio::test]
async fn denials_tell_nothing_of_what_the_caller_may_not_see() {
    let s = TestServer::start().await;
    let (a, b, creds) = two_pools_and_a_session_of_the_first(&s).await;
    let b_guest = new_guest(&s, &b).await;
    // Another pool's identity and one that does not exist are denied alike.
    let denied = |id: String| {
        let (s, creds) = (&s, &creds);
        async move {
            let r = call_as(s, creds, "DescribeIdentity", &json!({"IdentityId": id})).await;
            assert_eq!(r.json_error(), "AccessDeniedException", "{}", r.body);
            r.json()["message"].as_str().unwrap().to_string()
        }
    };
    let other = denied(b_guest.clone()).await;
    let missing = denied("us-east-1:01a24cff-0000-7000-8000-000000000000".into()).await;
    assert_eq!(other, missing);
    assert!(!other.contains(&b), "{other}");
    // A developer provider name taken by another pool: not which pool.
    s.cognito()
        .update_identity_pool()
        .identity_pool_id(&b)
        .identity_pool_name("b")
        .allow_unauthenticated_identities(true)
        .developer_provider_name("login.b")
        .send()
        .await
        .unwrap();
    let r = call_as(
        &s,
        &creds,
        "UpdateIdentityPool",
        &json!({"IdentityPoolId": a, "IdentityPoolName": "a",
            "AllowUnauthenticatedIdentities": true, "DeveloperProviderName": "login.b"}),
    )
    .await;
    assert_eq!(r.json_error(), "ResourceConflictException", "{}", r.body);
    assert!(!r.body.contains(&b), "{}", r.body);
    // A role is named as IAM names it, not by its ARN (which has its path).
    create_role(&s, "Hidden", &trust(&a, "*")).await;
    let r = query_as(
        &s,
        &creds,
        "iam",
        &[
            ("Action", "GetRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "Hidden"),
        ],
    )
    .await;
    assert_eq!(r.xml_error(), "AccessDenied", "{}", r.body);
    assert!(
        r.xml_message().ends_with("on resource: role Hidden"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_pool_is_seen_only_in_its_own_region() {
    let s = TestServer::start().await;
    let europe = s.cognito_with(s.admin_credentials(), "eu-west-1");
    let pool = europe
        .create_identity_pool()
        .identity_pool_name("regional")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id;
    assert!(pool.starts_with("eu-west-1:"));
    // From us-east-1 the pool does not exist, as on a regional endpoint.
    let err = s
        .cognito()
        .delete_identity_pool()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    europe
        .describe_identity_pool()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn tag_keys_are_one_key_whatever_their_case() {
    let s = TestServer::start().await;
    let err = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("tags")
        .allow_unauthenticated_identities(false)
        .identity_pool_tags("Env", "prod")
        .identity_pool_tags("env", "dev")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");
    let pool = create_pool(&s, "tags", false).await;
    let arn = pool_arn(&pool);
    let tag = |k: &'static str, v: &'static str| {
        s.cognito()
            .tag_resource()
            .resource_arn(&arn)
            .tags(k, v)
            .send()
    };
    tag("Protected", "true").await.unwrap();
    // Another spelling replaces the tag rather than adding a second one.
    tag("protected", "false").await.unwrap();
    let tags = s
        .cognito()
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags["protected"], "false");
    s.cognito()
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("PROTECTED")
        .send()
        .await
        .unwrap();
    let tags = s
        .cognito()
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert!(tags.is_empty(), "{tags:?}");
}
