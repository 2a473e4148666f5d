//! The basic (classic) flow and STS AssumeRoleWithWebIdentity, managed
//! policies, session policies and the policy simulator, through the Rust
//! SDK and raw Query requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_iam::types::{
    ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType, PolicyScopeType,
    PolicySourceType,
};
use aws_sdk_sts::types::PolicyDescriptorType;
use cognate_testkit::{BadToken, OidcProvider};
use serde_json::json;

use crate::common::{
    Raw, TestServer, assumed, code, create_role, guest_id, login_id, message, register_oidc,
};

const ACCOUNT: &str = "000000000000";
const CLIENT: &str = "sts-client-1";
const COGNITO: &str = "cognito-identity.amazonaws.com";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A Cognito trust policy: this pool, and an `amr` pattern.
fn cognito_trust(pool_id: &str, amr: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": COGNITO},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}
            }
        }]
    })
    .to_string()
}

fn allow(actions: &[&str], resource: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    })
    .to_string()
}

async fn put_policy(s: &TestServer, role: &str, name: &str, doc: &str) {
    s.iam()
        .put_role_policy()
        .role_name(role)
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap();
}

async fn create_pool(s: &TestServer, name: &str, oidc_arn: Option<&str>) -> String {
    let mut request = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name(name)
        .allow_unauthenticated_identities(true);
    if let Some(arn) = oidc_arn {
        request = request.open_id_connect_provider_arns(arn);
    }
    request.send().await.unwrap().identity_pool_id().to_string()
}

/// A new guest of the pool and its OpenID token (basic flow).
async fn guest_token(s: &TestServer, pool_id: &str) -> (String, String) {
    let anon = s.anonymous_cognito();
    let id = guest_id(&anon, pool_id).await;
    let token = anon
        .get_open_id_token()
        .identity_id(&id)
        .send()
        .await
        .unwrap()
        .token()
        .unwrap()
        .to_string();
    (id, token)
}

async fn assume(
    s: &TestServer,
    role_arn: &str,
    session: &str,
    token: &str,
) -> Result<
    aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
    aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError,
    >,
> {
    s.anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name(session)
        .web_identity_token(token)
        .send()
        .await
}

/// An unsigned AssumeRoleWithWebIdentity with raw parameters.
async fn raw_assume(s: &TestServer, params: &[(&str, &str)]) -> crate::common::RawResponse {
    let mut all = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
    ];
    all.extend_from_slice(params);
    Raw::query_params(&all).send(s).await
}

fn status<E>(
    err: &aws_sdk_sts::error::SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
) -> u16 {
    err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

/// A pool with guests, a guest role and an authenticated role.
struct GuestSetup {
    pool_id: String,
    unauth_role: String,
    unauth_name: String,
    auth_role: String,
}

async fn guest_setup(s: &TestServer) -> GuestSetup {
    let pool_id = create_pool(s, "basic", None).await;
    let unauth_name = "BasicGuest".to_string();
    let unauth_role =
        create_role(s, &unauth_name, &cognito_trust(&pool_id, "unauthenticated")).await;
    let auth_role = create_role(s, "BasicAuth", &cognito_trust(&pool_id, "authenticated")).await;
    GuestSetup {
        pool_id,
        unauth_role,
        unauth_name,
        auth_role,
    }
}

#[tokio::test]
async fn guest_basic_flow_to_get_caller_identity() {
    let s = TestServer::start().await;
    let g = guest_setup(&s).await;
    let (identity_id, token) = guest_token(&s, &g.pool_id).await;

    let out = assume(&s, &g.unauth_role, "s1", &token).await.unwrap();
    assert_eq!(out.provider(), Some(COGNITO));
    assert_eq!(out.audience(), Some(g.pool_id.as_str()));
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some(identity_id.as_str())
    );
    let user = out.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/s1", g.unauth_name)
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(user.assumed_role_id().ends_with(":s1"));
    assert_eq!(out.packed_policy_size(), None);
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    assert_eq!(c.access_key_id().len(), 20);
    assert_eq!(c.secret_access_key().len(), 40);
    let expires = c.expiration().secs();
    assert!((expires - now() - 3600).abs() < 10, "{}", expires - now());

    let me = s
        .sts_with(assumed(&out))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some(user.arn()));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));
    assert_eq!(me.account(), Some(ACCOUNT));

    // A shorter session.
    let short = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("short")
        .web_identity_token(&token)
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let expires = short.credentials().unwrap().expiration().secs();
    assert!((expires - now() - 900).abs() < 10);

    // The guest token against the role for authenticated identities.
    let err = assume(&s, &g.auth_role, "s1", &token).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    assert_eq!(
        message(&err),
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );
    assert_eq!(status(&err), 403);
}

#[tokio::test]
async fn authenticated_basic_flow_with_an_oidc_login() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let provider_arn = register_oidc(&s, &idp, CLIENT).await;
    let pool_id = create_pool(&s, "oidc basic", Some(&provider_arn)).await;
    let auth_role = create_role(&s, "OidcAuth", &cognito_trust(&pool_id, "authenticated")).await;
    let unauth_role = create_role(
        &s,
        "OidcUnauth",
        &cognito_trust(&pool_id, "unauthenticated"),
    )
    .await;

    let anon = s.anonymous_cognito();
    let login = idp.id_token(json!({"sub": "alice", "aud": CLIENT}));
    let id = login_id(&anon, &pool_id, &idp.logins_key(), &login).await;
    let token = anon
        .get_open_id_token()
        .identity_id(&id)
        .logins(idp.logins_key(), &login)
        .send()
        .await
        .unwrap()
        .token()
        .unwrap()
        .to_string();

    let out = assume(&s, &auth_role, "alice-session", &token)
        .await
        .unwrap();
    assert_eq!(out.provider(), Some(COGNITO));
    assert_eq!(out.audience(), Some(pool_id.as_str()));
    assert_eq!(out.subject_from_web_identity_token(), Some(id.as_str()));
    let me = s
        .sts_with(assumed(&out))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn().unwrap(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/OidcAuth/alice-session")
    );

    // The authenticated token does not fit the guest role.
    let err = assume(&s, &unauth_role, "x1", &token).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}

#[tokio::test]
async fn untrusted_expired_forged_and_malformed_tokens_are_refused() {
    let s = TestServer::start().await;
    let g = guest_setup(&s).await;
    let (_, token) = guest_token(&s, &g.pool_id).await;

    // A role trusting another pool.
    let other_pool = create_role(
        &s,
        "OtherPool",
        &cognito_trust("us-east-1:11111111-2222-3333-4444-555555555555", "*"),
    )
    .await;
    let err = assume(&s, &other_pool, "s1", &token).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // A role trusting another federated principal.
    let google = create_role(
        &s,
        "GoogleOnly",
        &json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity"
            }]
        })
        .to_string(),
    )
    .await;
    let err = assume(&s, &google, "s1", &token).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // A role that does not exist.
    let err = assume(
        &s,
        &format!("arn:aws:iam::{ACCOUNT}:role/NoSuchRole"),
        "s1",
        &token,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    assert_eq!(status(&err), 403);

    // A forged token: the payload changed under the original signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims = decode_claims(&token);
    claims["sub"] = json!("us-east-1:00000000-0000-0000-0000-000000000000");
    parts[1] = b64(&claims.to_string());
    let forged = parts.join(".");
    let err = assume(&s, &g.unauth_role, "s1", &forged).await.unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityToken");
    assert_eq!(status(&err), 400);

    // Not a JWT: the SDK and the raw protocol see the same error.
    let err = assume(&s, &g.unauth_role, "s1", "abc.def")
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityToken");
    assert_eq!(
        message(&err),
        "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
    );
    let raw = raw_assume(
        &s,
        &[
            ("RoleArn", &g.unauth_role),
            ("RoleSessionName", "s1"),
            ("WebIdentityToken", "abc.def"),
        ],
    )
    .await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.xml_error(), "InvalidIdentityToken");
    assert!(raw.body.contains("<Type>Sender</Type>"), "{}", raw.body);
    assert!(
        raw.body
            .starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
    );

    // The token lives 10 minutes.
    s.clock.advance(Duration::from_secs(601));
    let err = assume(&s, &g.unauth_role, "s1", &token).await.unwrap_err();
    assert_eq!(code(&err), "ExpiredTokenException");
    assert!(
        message(&err).starts_with("Token expired: current date/time "),
        "{}",
        message(&err)
    );
    assert!(message(&err).contains(" must be before the expiration date/time "));
    assert_eq!(status(&err), 400);
}

#[tokio::test]
async fn request_constraints_and_session_duration() {
    let s = TestServer::start().await;
    let g = guest_setup(&s).await;
    let (_, token) = guest_token(&s, &g.pool_id).await;

    let raw = raw_assume(
        &s,
        &[
            ("RoleArn", &g.unauth_role),
            ("RoleSessionName", "a:b"),
            ("WebIdentityToken", &token),
        ],
    )
    .await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.xml_error(), "ValidationError");
    assert_eq!(
        raw.xml_message(),
        r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
    );

    // Sent raw: SDKs may refuse 899 themselves.
    let raw = raw_assume(
        &s,
        &[
            ("RoleArn", &g.unauth_role),
            ("RoleSessionName", "s1"),
            ("WebIdentityToken", &token),
            ("DurationSeconds", "899"),
        ],
    )
    .await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.xml_error(), "ValidationError");
    assert_eq!(
        raw.xml_message(),
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
    );
    // The token is never echoed.
    let raw = raw_assume(
        &s,
        &[
            ("RoleArn", "arn:short"),
            ("RoleSessionName", "s"),
            ("WebIdentityToken", &token),
            ("DurationSeconds", "43201"),
        ],
    )
    .await;
    assert_eq!(raw.xml_error(), "ValidationError");
    assert!(
        raw.xml_message()
            .starts_with("3 validation errors detected")
    );
    assert!(!raw.body.contains(&token));

    // Longer than the role allows.
    let err = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("long")
        .web_identity_token(&token)
        .duration_seconds(7200)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationError");
    assert_eq!(
        message(&err),
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
    // UpdateRole raises the maximum; then it fits.
    s.iam()
        .update_role()
        .role_name(&g.unauth_name)
        .max_session_duration(7200)
        .description("two hours")
        .send()
        .await
        .unwrap();
    let role = s
        .iam()
        .get_role()
        .role_name(&g.unauth_name)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.max_session_duration(), Some(7200));
    assert_eq!(role.description(), Some("two hours"));
    let out = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("long")
        .web_identity_token(&token)
        .duration_seconds(7200)
        .send()
        .await
        .unwrap();
    let expires = out.credentials().unwrap().expiration().secs();
    assert!((expires - now() - 7200).abs() < 10);
    let err = s
        .iam()
        .update_role()
        .role_name(&g.unauth_name)
        .max_session_duration(43201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationError");

    // UpdateAssumeRolePolicy: validated, and it takes effect.
    let err = s
        .iam()
        .update_assume_role_policy()
        .role_name(&g.unauth_name)
        .policy_document(allow(&["sts:*"], "*"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocument");
    s.iam()
        .update_assume_role_policy()
        .role_name(&g.unauth_name)
        .policy_document(cognito_trust(&g.pool_id, "authenticated"))
        .send()
        .await
        .unwrap();
    let err = assume(&s, &g.unauth_role, "s1", &token).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}

#[tokio::test]
async fn session_policies_narrow_what_the_role_allows() {
    let s = TestServer::start().await;
    let g = guest_setup(&s).await;
    let (_, token) = guest_token(&s, &g.pool_id).await;
    put_policy(
        &s,
        &g.unauth_name,
        "everything",
        &allow(&["cognito-identity:*"], "*"),
    )
    .await;
    let describe = |creds: Credentials| {
        let cognito = s.cognito_with(creds, "us-east-1");
        let pool_id = g.pool_id.clone();
        async move {
            cognito
                .describe_identity_pool()
                .identity_pool_id(pool_id)
                .send()
                .await
        }
    };
    let list = |creds: Credentials| {
        let cognito = s.cognito_with(creds, "us-east-1");
        async move { cognito.list_identity_pools().max_results(5).send().await }
    };

    // Without a session policy the role's policy applies in full.
    let full = assume(&s, &g.unauth_role, "full", &token).await.unwrap();
    describe(assumed(&full)).await.unwrap();

    // An inline session policy allowing only ListIdentityPools.
    let list_only = allow(&["cognito-identity:ListIdentityPools"], "*");
    let narrowed = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("narrow")
        .web_identity_token(&token)
        .policy(&list_only)
        .send()
        .await
        .unwrap();
    let packed = narrowed.packed_policy_size().unwrap();
    assert!((1..=100).contains(&packed), "{packed}");
    list(assumed(&narrowed)).await.unwrap();
    let err = describe(assumed(&narrowed)).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    assert!(
        message(&err).contains("assumed-role/BasicGuest/narrow"),
        "{}",
        message(&err)
    );

    // A managed session policy allowing only DescribeIdentityPool; with the
    // inline one, the two widen each other.
    let describe_only = s
        .iam()
        .create_policy()
        .policy_name("DescribeOnly")
        .policy_document(allow(&["cognito-identity:DescribeIdentityPool"], "*"))
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let managed = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("managed")
        .web_identity_token(&token)
        .policy_arns(PolicyDescriptorType::builder().arn(&describe_only).build())
        .send()
        .await
        .unwrap();
    describe(assumed(&managed)).await.unwrap();
    assert_eq!(
        code(&list(assumed(&managed)).await.unwrap_err()),
        "AccessDeniedException"
    );
    let both = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("both")
        .web_identity_token(&token)
        .policy(&list_only)
        .policy_arns(PolicyDescriptorType::builder().arn(&describe_only).build())
        .send()
        .await
        .unwrap();
    describe(assumed(&both)).await.unwrap();
    list(assumed(&both)).await.unwrap();
    // Session policies never widen the role: without the role's policy,
    // nothing is allowed.
    s.iam()
        .delete_role_policy()
        .role_name(&g.unauth_name)
        .policy_name("everything")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&list(assumed(&both)).await.unwrap_err()),
        "AccessDeniedException"
    );
    put_policy(
        &s,
        &g.unauth_name,
        "everything",
        &allow(&["cognito-identity:*"], "*"),
    )
    .await;

    // The simulator sees the same: the role allows both, the session
    // policy (as a custom policy or as a boundary) only one.
    let sim = s
        .iam()
        .simulate_principal_policy()
        .policy_source_arn(&g.unauth_role)
        .action_names("cognito-identity:DescribeIdentityPool")
        .action_names("cognito-identity:ListIdentityPools")
        .send()
        .await
        .unwrap();
    let results = sim.evaluation_results();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r.eval_decision(), &PolicyEvaluationDecisionType::Allowed);
        assert_eq!(r.eval_resource_name(), Some("*"));
        let m = &r.matched_statements()[0];
        assert_eq!(m.source_policy_id(), Some("everything"));
        assert_eq!(m.source_policy_type(), Some(&PolicySourceType::Role));
    }
    let custom = s
        .iam()
        .simulate_custom_policy()
        .policy_input_list(allow(&["cognito-identity:*"], "*"))
        .permissions_boundary_policy_input_list(&list_only)
        .action_names("cognito-identity:DescribeIdentityPool")
        .action_names("cognito-identity:ListIdentityPools")
        .send()
        .await
        .unwrap();
    let decisions: Vec<_> = custom
        .evaluation_results()
        .iter()
        .map(|r| (r.eval_action_name(), r.eval_decision().clone()))
        .collect();
    assert_eq!(
        decisions,
        [
            (
                "cognito-identity:DescribeIdentityPool",
                PolicyEvaluationDecisionType::ImplicitDeny
            ),
            (
                "cognito-identity:ListIdentityPools",
                PolicyEvaluationDecisionType::Allowed
            ),
        ]
    );
    let only_session = s
        .iam()
        .simulate_custom_policy()
        .policy_input_list(&list_only)
        .action_names("cognito-identity:DescribeIdentityPool")
        .send()
        .await
        .unwrap();
    assert_eq!(
        only_session.evaluation_results()[0].eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );

    // Bad session policies.
    let err = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("bad")
        .web_identity_token(&token)
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocument");
    let err = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("bad")
        .web_identity_token(&token)
        .policy_arns(
            PolicyDescriptorType::builder()
                .arn(format!("arn:aws:iam::{ACCOUNT}:policy/Missing"))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterValue");
    // A plaintext policy near the limit plus a managed ARN overflows.
    let padded = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "cognito-identity:ListIdentityPools",
            "Resource": format!("arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{}", "x".repeat(1850))
        }]
    })
    .to_string();
    assert!(padded.len() <= 2048);
    let err = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.unauth_role)
        .role_session_name("big")
        .web_identity_token(&token)
        .policy(&padded)
        .policy_arns(PolicyDescriptorType::builder().arn(&describe_only).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PackedPolicyTooLarge");
    assert!(
        message(&err).starts_with("Packed policy consumes "),
        "{}",
        message(&err)
    );
}

#[tokio::test]
async fn managed_policies_grant_while_attached() {
    let s = TestServer::start().await;
    let g = guest_setup(&s).await;
    let other_pool = create_pool(&s, "other", None).await;
    let (_, token) = guest_token(&s, &g.pool_id).await;
    let iam = s.iam();

    // A policy for this pool only, under a path.
    let pool_arn = format!(
        "arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{}",
        g.pool_id
    );
    let created = iam
        .create_policy()
        .policy_name("DescribeThisPool")
        .path("/cognate/")
        .description("describe one pool")
        .policy_document(allow(&["cognito-identity:DescribeIdentityPool"], &pool_arn))
        .send()
        .await
        .unwrap();
    let policy = created.policy().unwrap();
    let arn = policy.arn().unwrap().to_string();
    assert_eq!(
        arn,
        format!("arn:aws:iam::{ACCOUNT}:policy/cognate/DescribeThisPool")
    );
    assert!(policy.policy_id().unwrap().starts_with("ANPA"));
    assert_eq!(policy.default_version_id(), Some("v1"));
    assert_eq!(policy.attachment_count(), Some(0));
    assert_eq!(policy.path(), Some("/cognate/"));
    let err = iam
        .create_policy()
        .policy_name("describethispool")
        .policy_document(allow(&["s3:*"], "*"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "EntityAlreadyExists");
    let err = iam
        .create_policy()
        .policy_name("Broken")
        .policy_document(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocument");
    let got = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(
        got.policy().unwrap().description(),
        Some("describe one pool")
    );
    let version = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    let version = version.policy_version().unwrap();
    assert!(version.is_default_version());
    let document = version.document().unwrap();
    assert!(document.contains("%22Version%22"), "{document}");

    // Paging through the account's policies.
    iam.create_policy()
        .policy_name("AnotherPolicy")
        .policy_document(allow(&["s3:GetObject"], "*"))
        .send()
        .await
        .unwrap();
    let first = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .max_items(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.policies().len(), 1);
    assert_eq!(first.policies()[0].policy_name(), Some("AnotherPolicy"));
    assert!(first.is_truncated());
    let second = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .max_items(1)
        .marker(first.marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.policies()[0].policy_name(), Some("DescribeThisPool"));
    assert!(!second.is_truncated());
    let aws = iam
        .list_policies()
        .scope(PolicyScopeType::Aws)
        .send()
        .await
        .unwrap();
    assert!(aws.policies().is_empty());

    // The role has no permissions yet.
    let out = assume(&s, &g.unauth_role, "managed", &token).await.unwrap();
    let cognito = s.cognito_with(assumed(&out), "us-east-1");
    let describe = |pool: String| {
        let cognito = cognito.clone();
        async move {
            cognito
                .describe_identity_pool()
                .identity_pool_id(pool)
                .send()
                .await
        }
    };
    let err = describe(g.pool_id.clone()).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    assert!(message(&err).contains(&pool_arn), "{}", message(&err));

    // Attached: granted, for this pool only, to credentials already vended.
    iam.attach_role_policy()
        .role_name(&g.unauth_name)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    describe(g.pool_id.clone()).await.unwrap();
    assert_eq!(
        code(&describe(other_pool.clone()).await.unwrap_err()),
        "AccessDeniedException"
    );
    // Naming the allowed pool as `ResourceArn` does not open another pool:
    // only the tagging operations act on `ResourceArn`.
    let session = assumed(&out);
    let token_header = (
        "x-amz-security-token".to_string(),
        session.session_token().unwrap().to_string(),
    );
    for (operation, body) in [
        (
            "DescribeIdentityPool",
            format!(r#"{{"IdentityPoolId":"{other_pool}","ResourceArn":"{pool_arn}"}}"#),
        ),
        (
            "ListIdentities",
            format!(
                r#"{{"IdentityPoolId":"{other_pool}","MaxResults":5,"ResourceArn":"{pool_arn}"}}"#
            ),
        ),
    ] {
        let mut raw = Raw::json(operation, &body);
        raw.headers.push(token_header.clone());
        let r = raw
            .signed(
                &s,
                (session.access_key_id(), session.secret_access_key()),
                "cognito-identity",
                std::time::SystemTime::now(),
            )
            .send(&s)
            .await;
        assert_eq!(r.status, 400, "{operation}: {}", r.body);
        assert_eq!(r.json_error(), "AccessDeniedException", "{operation}");
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(&g.unauth_name)
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    assert_eq!(
        attached.attached_policies()[0].policy_name(),
        Some("DescribeThisPool")
    );
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(arn.as_str())
    );
    let got = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(got.policy().unwrap().attachment_count(), Some(1));
    let only_attached = iam
        .list_policies()
        .only_attached(true)
        .send()
        .await
        .unwrap();
    assert_eq!(only_attached.policies().len(), 1);
    // The simulator names the managed policy.
    let sim = iam
        .simulate_principal_policy()
        .policy_source_arn(&g.unauth_role)
        .action_names("cognito-identity:DescribeIdentityPool")
        .resource_arns(&pool_arn)
        .resource_arns(format!(
            "arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{other_pool}"
        ))
        .send()
        .await
        .unwrap();
    let results = sim.evaluation_results();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].eval_resource_name(), Some(pool_arn.as_str()));
    assert_eq!(
        results[0].eval_decision(),
        &PolicyEvaluationDecisionType::Allowed
    );
    assert_eq!(
        results[0].matched_statements()[0].source_policy_id(),
        Some("DescribeThisPool")
    );
    assert_eq!(
        results[0].matched_statements()[0].source_policy_type(),
        Some(&PolicySourceType::UserManaged)
    );
    assert_eq!(
        results[1].eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );

    // Attached policies block deleting the policy and the role.
    let err = iam
        .delete_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DeleteConflict");
    let err = iam
        .delete_role()
        .role_name(&g.unauth_name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DeleteConflict");

    // Detached: denied again.
    iam.detach_role_policy()
        .role_name(&g.unauth_name)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&describe(g.pool_id.clone()).await.unwrap_err()),
        "AccessDeniedException"
    );
    let err = iam
        .detach_role_policy()
        .role_name(&g.unauth_name)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchEntity");
    let err = iam
        .attach_role_policy()
        .role_name(&g.unauth_name)
        .policy_arn(format!("arn:aws:iam::{ACCOUNT}:policy/Nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchEntity");
    iam.delete_policy().policy_arn(&arn).send().await.unwrap();
    let err = iam.get_policy().policy_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchEntity");
}

#[tokio::test]
async fn cognito_variables_resolve_in_simulations_and_sessions() {
    let s = TestServer::start().await;
    let g = guest_setup(&s).await;
    let other_pool = create_pool(&s, "other", None).await;
    let (identity_id, token) = guest_token(&s, &g.pool_id).await;
    // The documented per-identity pattern, plus the pool of the identity.
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnPrefix",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bucket/${cognito-identity.amazonaws.com:sub}/*"
            },
            {
                "Sid": "OwnPool",
                "Effect": "Allow",
                "Action": "cognito-identity:DescribeIdentityPool",
                "Resource": format!("arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/${{cognito-identity.amazonaws.com:aud}}")
            }
        ]
    })
    .to_string();
    put_policy(&s, &g.unauth_name, "per-identity", &doc).await;

    let simulate = |sub: Option<&str>| {
        let mut request = s
            .iam()
            .simulate_principal_policy()
            .policy_source_arn(&g.unauth_role)
            .action_names("s3:GetObject")
            .resource_arns(format!("arn:aws:s3:::bucket/{identity_id}/photo.jpg"));
        if let Some(sub) = sub {
            request = request.context_entries(
                ContextEntry::builder()
                    .context_key_name("cognito-identity.amazonaws.com:sub")
                    .context_key_values(sub)
                    .context_key_type(ContextKeyTypeEnum::String)
                    .build(),
            );
        }
        async move { request.send().await.unwrap() }
    };
    let own = simulate(Some(&identity_id)).await;
    let r = &own.evaluation_results()[0];
    assert_eq!(r.eval_decision(), &PolicyEvaluationDecisionType::Allowed);
    assert_eq!(
        r.matched_statements()[0].source_policy_id(),
        Some("per-identity")
    );
    let other = simulate(Some("us-east-1:99999999-9999-9999-9999-999999999999")).await;
    assert_eq!(
        other.evaluation_results()[0].eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );
    let missing = simulate(None).await;
    let r = &missing.evaluation_results()[0];
    assert_eq!(
        r.eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );
    assert_eq!(
        r.missing_context_values(),
        ["cognito-identity.amazonaws.com:sub"]
    );

    // The session carries the token's claims: its own pool only.
    let out = assume(&s, &g.unauth_role, "vars", &token).await.unwrap();
    let cognito = s.cognito_with(assumed(&out), "us-east-1");
    cognito
        .describe_identity_pool()
        .identity_pool_id(&g.pool_id)
        .send()
        .await
        .unwrap();
    let err = cognito
        .describe_identity_pool()
        .identity_pool_id(&other_pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
}

#[tokio::test]
async fn oidc_provider_tokens_assume_roles_directly() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let host = idp.logins_key();
    let provider_arn = s
        .iam()
        .create_open_id_connect_provider()
        .url(idp.issuer())
        .client_id_list(CLIENT)
        .client_id_list("second-client")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_string();
    assert_eq!(
        provider_arn,
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host}")
    );
    let trust = |principal: &str, aud: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": principal},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{host}:aud"): aud}}
            }]
        })
        .to_string()
    };
    let by_host = create_role(&s, "ByHost", &trust(&host, CLIENT)).await;
    let by_arn = create_role(&s, "ByArn", &trust(&provider_arn, CLIENT)).await;
    let second_only = create_role(&s, "SecondOnly", &trust(&host, "second-client")).await;

    let token = idp.id_token(json!({"sub": "alice", "aud": CLIENT}));
    let out = assume(&s, &by_host, "alice", &token).await.unwrap();
    assert_eq!(out.provider(), Some(provider_arn.as_str()));
    assert_eq!(out.audience(), Some(CLIENT));
    assert_eq!(out.subject_from_web_identity_token(), Some("alice"));
    let me = s
        .sts_with(assumed(&out))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn().unwrap(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/ByHost/alice")
    );
    assume(&s, &by_arn, "alice", &token).await.unwrap();
    // Registered audience, but not the one the role trusts.
    let err = assume(&s, &second_only, "alice", &token).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");

    // An audience the provider was not registered with.
    let stranger = idp.id_token(json!({"sub": "alice", "aud": "unknown-client"}));
    let err = assume(&s, &by_host, "alice", &stranger).await.unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityToken");
    assert_eq!(message(&err), "Incorrect token audience");
    // Expired, tampered, unknown key.
    let expired = idp.bad_token(BadToken::Expired, json!({"sub": "alice", "aud": CLIENT}));
    let err = assume(&s, &by_host, "alice", &expired).await.unwrap_err();
    assert_eq!(code(&err), "ExpiredTokenException");
    assert!(message(&err).starts_with("Token expired: current date/time "));
    for kind in [
        BadToken::TamperedPayload,
        BadToken::TamperedSignature,
        BadToken::AlgNone,
        BadToken::Hs256WithPublicKey,
        BadToken::UnknownKid,
    ] {
        let bad = idp.bad_token(kind, json!({"sub": "alice", "aud": CLIENT}));
        let err = assume(&s, &by_host, "alice", &bad).await.unwrap_err();
        assert_eq!(
            code(&err),
            "InvalidIdentityToken",
            "{kind:?}: {}",
            message(&err)
        );
    }
    // An issuer nobody registered.
    let other = OidcProvider::start().await;
    let err = assume(
        &s,
        &by_host,
        "alice",
        &other.id_token(json!({"sub": "alice", "aud": CLIENT})),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityToken");
    assert_eq!(
        message(&err),
        format!(
            "No OpenIDConnect provider found in your account for {}",
            other.issuer()
        )
    );
}

#[tokio::test]
async fn session_tags_need_tag_session_and_reach_policies() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let host = idp.logins_key();
    s.iam()
        .create_open_id_connect_provider()
        .url(idp.issuer())
        .client_id_list(CLIENT)
        .send()
        .await
        .unwrap();
    let trust = |actions: &[&str]| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": host.clone()},
                "Action": actions,
                "Condition": {"StringEquals": {format!("{host}:aud"): CLIENT}}
            }]
        })
        .to_string()
    };
    let untagged = create_role(&s, "NoTags", &trust(&["sts:AssumeRoleWithWebIdentity"])).await;
    let tagged = create_role(
        &s,
        "Tags",
        &trust(&["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]),
    )
    .await;
    put_policy(
        &s,
        "Tags",
        "engineers",
        &json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": "cognito-identity:ListIdentityPools",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/dept": "eng"}}
            }]
        })
        .to_string(),
    )
    .await;
    let token = |dept: &str| {
        idp.id_token(json!({
            "sub": "bob",
            "aud": CLIENT,
            "https://aws.amazon.com/tags": {"principal_tags": {"dept": [dept]}}
        }))
    };
    let err = assume(&s, &untagged, "bob", &token("eng"))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let eng = assume(&s, &tagged, "bob", &token("eng")).await.unwrap();
    assert!(eng.packed_policy_size().is_some());
    s.cognito_with(assumed(&eng), "us-east-1")
        .list_identity_pools()
        .max_results(5)
        .send()
        .await
        .unwrap();
    let sales = assume(&s, &tagged, "bob", &token("sales")).await.unwrap();
    let err = s
        .cognito_with(assumed(&sales), "us-east-1")
        .list_identity_pools()
        .max_results(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn decode_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
