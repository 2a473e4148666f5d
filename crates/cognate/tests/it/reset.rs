//! `POST /admin/reset` (issue 23, item 3): with `allow_reset` on, the
//! admin key empties the deployment (pools, identities, IAM) and the
//! signing keys stay; with it off, and for any other caller, nothing
//! changes.

use cognate_testkit::OidcProvider;
use serde_json::{Value, json};

use crate::common::{
    Raw, RawResponse, Signing, TestServer, allow, code, create_developer_pool, create_policy,
    create_role, discovery_and_jwks, fresh_postgres_database, guest_id, guest_session, new_guest,
    postgres_server, register_oidc, set_pool_roles, spawn_cognate, trust,
};
use crate::multinode::{MASTER, admin, cognito, node_command_with};

const SAML_METADATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cognate-saml/tests/vectors/metadata.xml"
);

fn allowing_reset(settings: &mut cognate::Settings) {
    settings.allow_reset = true;
}

fn reset_request() -> Raw {
    Raw {
        method: "POST",
        path_and_query: "/admin/reset".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{}".to_vec(),
    }
}

/// The reset, signed by the admin key for `cognito-identity`.
async fn admin_reset(s: &TestServer) -> RawResponse {
    reset_request()
        .admin_signed(s, "cognito-identity")
        .send(s)
        .await
}

/// A refusal: its status and `__type`, in the JSON protocol's shape.
fn refusal(response: &RawResponse) -> (u16, String) {
    (response.status, response.json_error())
}

async fn pool_count(s: &TestServer) -> usize {
    let listed = s.cognito().list_identity_pools().max_results(60).send();
    listed.await.unwrap().identity_pools().len()
}

/// Some of everything a test makes: pools (one with developer
/// identities, one trusting an OIDC provider), guests, a developer
/// mapping, a login, roles with inline and attached managed policies,
/// OIDC and SAML providers. Returns the OIDC fixture's pool.
async fn populate(s: &TestServer, idp: &OidcProvider) -> String {
    let cognito = s.cognito();
    let iam = s.iam();
    let developer_pool = create_developer_pool(&cognito, "dev", "login.example").await;
    let mapped = cognito
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&developer_pool)
        .logins("login.example", "user-1")
        .send()
        .await
        .unwrap();
    assert!(mapped.identity_id().is_some());
    let oidc_arn = register_oidc(s, idp, "client-1").await;
    let oidc_pool = cognito
        .create_identity_pool()
        .identity_pool_name("oidc")
        .allow_unauthenticated_identities(true)
        .open_id_connect_provider_arns(oidc_arn)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let guest_role = create_role(s, "Guest", &trust(&oidc_pool, "unauthenticated")).await;
    let user_role = create_role(s, "User", &trust(&oidc_pool, "authenticated")).await;
    set_pool_roles(&cognito, &oidc_pool, &guest_role, &user_role).await;
    iam.put_role_policy()
        .role_name("Guest")
        .policy_name("inline")
        .policy_document(allow(&["cognito-identity:*"], &["*"]))
        .send()
        .await
        .unwrap();
    let policy = create_policy(s, "Managed", &allow(&["sts:GetCallerIdentity"], &["*"])).await;
    iam.attach_role_policy()
        .role_name("User")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    new_guest(s, &oidc_pool).await;
    let token = idp.id_token(json!({"sub": "alice", "aud": "client-1"}));
    let login = s.anonymous_cognito().get_id().identity_pool_id(&oidc_pool);
    login.logins(idp.logins_key(), token).send().await.unwrap();
    iam.create_saml_provider()
        .name("Corp")
        .saml_metadata_document(std::fs::read_to_string(SAML_METADATA).unwrap())
        .send()
        .await
        .unwrap();
    oidc_pool
}

#[tokio::test]
async fn reset_empties_the_deployment_and_keeps_its_keys() {
    let s = TestServer::start_with(allowing_reset).await;
    let idp = OidcProvider::start().await;
    let old_pool = populate(&s, &idp).await;
    let (_, jwks_before) = discovery_and_jwks(&s).await;

    let response = admin_reset(&s).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.header("x-amzn-requestid").is_some());
    assert_eq!(
        response.json(),
        json!({"removed": {
            "identityPools": 2,
            "identities": 3,
            "logins": 2,
            "merges": 0,
            "roles": 2,
            "policies": 1,
            "rolePolicyAttachments": 1,
            "openIdConnectProviders": 1,
            "samlProviders": 1,
        }})
    );

    // Nothing is left...
    assert_eq!(pool_count(&s).await, 0);
    let gone = s
        .cognito()
        .describe_identity_pool()
        .identity_pool_id(&old_pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "ResourceNotFoundException");
    let iam = s.iam();
    assert!(iam.list_roles().send().await.unwrap().roles().is_empty());
    let local = aws_sdk_iam::types::PolicyScopeType::Local;
    let policies = iam.list_policies().scope(local).send().await.unwrap();
    assert!(policies.policies().is_empty());
    let oidc = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(oidc.open_id_connect_provider_list().is_empty());
    let saml = iam.list_saml_providers().send().await.unwrap();
    assert!(saml.saml_provider_list().is_empty());
    let guest = s.anonymous_cognito().get_id().identity_pool_id(&old_pool);
    let refused = guest.send().await.unwrap_err();
    assert_eq!(code(&refused), "ResourceNotFoundException");

    // ...but the keys that signed the old tokens.
    let (_, jwks_after) = discovery_and_jwks(&s).await;
    assert_eq!(jwks_before, jwks_after);

    // The server serves on at once: the same names again, a guest, and
    // credentials of the new role (not the cached old one of that name).
    let idp_arn = register_oidc(&s, &idp, "client-1").await;
    let pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("oidc")
        .allow_unauthenticated_identities(true)
        .open_id_connect_provider_arns(idp_arn)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let session = guest_session(&s, &pool, "Guest", &allow(&["sts:*"], &["*"])).await;
    let who = s.sts_with(session).get_caller_identity().send().await;
    let arn = who.unwrap().arn().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:sts::000000000000:assumed-role/Guest/"),
        "{arn}"
    );
    // A second reset finds just what was made since.
    let again = admin_reset(&s).await.json();
    assert_eq!(again["removed"]["identityPools"], 1);
    assert_eq!(again["removed"]["roles"], 1);
}

#[tokio::test]
async fn reset_is_refused_unless_enabled() {
    let s = TestServer::start().await;
    create_developer_pool(&s.cognito(), "kept", "login.example").await;
    create_role(&s, "Kept", &trust("us-east-1:x", "unauthenticated")).await;

    let response = admin_reset(&s).await;
    assert_eq!(refusal(&response), (404, "ResetNotEnabledException".into()));
    let message = response.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("--allow-reset"), "{message}");
    assert!(message.contains("allow_reset"), "{message}");
    assert_eq!(pool_count(&s).await, 1);
    assert_eq!(s.iam().list_roles().send().await.unwrap().roles().len(), 1);
}

#[tokio::test]
async fn only_the_admin_key_may_reset() {
    let s = TestServer::start_with(allowing_reset).await;
    let pool = create_developer_pool(&s.cognito(), "kept", "login.example").await;
    // A guest session whose role allows everything: still not the admin.
    let everything = allow(&["*"], &["*"]);
    let creds = guest_session(&s, &pool, "Everything", &everything).await;
    let as_guest = reset_request()
        .signed_as(&s, &creds, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(refusal(&as_guest), (403, "AccessDeniedException".into()));
    let message: Value = as_guest.json()["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("assumed-role/Everything/"),
        "{message}"
    );

    let unsigned = reset_request().send(&s).await;
    assert_eq!(
        refusal(&unsigned),
        (403, "MissingAuthenticationTokenException".into())
    );

    let now = std::time::SystemTime::now();
    let admin_id = s.server.admin_access_key_id.clone();
    let wrong_secret = reset_request()
        .signed(&s, (&admin_id, "not-the-secret"), "cognito-identity", now)
        .send(&s)
        .await;
    assert_eq!(
        refusal(&wrong_secret),
        (403, "InvalidSignatureException".into())
    );
    let unknown_key = reset_request()
        .signed(&s, ("AKIAUNKNOWN", "secret"), "cognito-identity", now)
        .send(&s)
        .await;
    assert_eq!(
        refusal(&unknown_key),
        (403, "UnrecognizedClientException".into())
    );
    let secret = s.server.admin_secret_access_key.clone();
    let for_sts = reset_request()
        .sign(&s, &Signing::new((&admin_id, &secret), "sts", now))
        .send(&s)
        .await;
    assert_eq!(refusal(&for_sts).0, 403, "{}", for_sts.body);
    // A body other than the one signed.
    let mut tampered = reset_request().admin_signed(&s, "cognito-identity");
    tampered.body = b"{\"x\":1}".to_vec();
    let tampered = tampered.send(&s).await;
    assert_eq!(
        refusal(&tampered),
        (403, "InvalidSignatureException".into())
    );
    let get = reqwest::get(format!("{}/admin/reset", s.endpoint())).await;
    assert_eq!(get.unwrap().status(), 405);

    assert_eq!(pool_count(&s).await, 1);
    assert_eq!(s.iam().list_roles().send().await.unwrap().roles().len(), 1);
}

/// The reset signed by the multi-node tests' admin key, sent to `endpoint`.
async fn admin_reset_on(endpoint: &str) -> RawResponse {
    let creds = admin();
    let key = (creds.access_key_id(), creds.secret_access_key());
    let host = endpoint.trim_start_matches("http://");
    let now = std::time::SystemTime::now();
    reset_request()
        .sign_for(host, &Signing::new(key, "cognito-identity", now))
        .send_to(endpoint)
        .await
}

/// A node of `database` started with `args` after `serve`, more lines for
/// its configuration file, and more environment.
fn start_node(
    database: &str,
    args: &[&str],
    config: &str,
    env: &[(&str, &str)],
) -> crate::common::Node {
    let dir = tempfile::tempdir().unwrap();
    let command = [&["serve"][..], args].concat();
    let mut cmd = node_command_with(&command, database, MASTER, dir.path(), config);
    cmd.envs(env.iter().copied());
    spawn_cognate(cmd, dir).unwrap()
}

async fn kids(endpoint: &str) -> Value {
    let url = format!("{endpoint}/.well-known/jwks_uri");
    let jwks: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect()
}

/// Two `cognate serve` processes on one PostgreSQL database: a reset
/// through one is seen by the next request on the other, whose cache held
/// the pool and the role; the settings come from the flag and, under the
/// environment, from the file.
#[tokio::test]
async fn a_reset_through_one_node_is_seen_by_the_next_request_on_another() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_reset").await;
    let a = start_node(&database, &["--allow-reset"], "", &[]);
    // The environment wins over the file.
    let file = "[testing]\nallow_reset = true\n";
    let b = start_node(&database, &[], file, &[("COGNATE_ALLOW_RESET", "false")]);
    let admin_a = cognito(&a.endpoint, Some(admin()));
    let pool = admin_a
        .create_identity_pool()
        .identity_pool_name("cached")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let iam = |endpoint: &str| {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(admin())
            .build();
        aws_sdk_iam::Client::from_conf(config)
    };
    let role = iam(&a.endpoint)
        .create_role()
        .role_name("Guest")
        .assume_role_policy_document(trust(&pool, "unauthenticated"))
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    let set = admin_a.set_identity_pool_roles().identity_pool_id(&pool);
    set.roles("unauthenticated", &role_arn)
        .send()
        .await
        .unwrap();
    // B's cache is warm: the pool and the role read, then served again.
    let anon_b = cognito(&b.endpoint, None);
    let guest = guest_id(&anon_b, &pool).await;
    for _ in 0..2 {
        let vend = anon_b.get_credentials_for_identity().identity_id(&guest);
        vend.send().await.unwrap();
    }
    let keys = kids(&a.endpoint).await;

    let refused = admin_reset_on(&b.endpoint).await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    let response = admin_reset_on(&a.endpoint).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["removed"]["identityPools"], 1);
    assert_eq!(response.json()["removed"]["identities"], 1);

    // B's next requests see it: no pool, no identity, no guest.
    let vend = anon_b.get_credentials_for_identity().identity_id(&guest);
    let err = vend.send().await.unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = anon_b.get_id().identity_pool_id(&pool).send().await;
    assert_eq!(code(&err.unwrap_err()), "ResourceNotFoundException");
    let roles = iam(&b.endpoint).list_roles().send().await.unwrap();
    assert!(roles.roles().is_empty());
    assert_eq!(kids(&b.endpoint).await, keys);
    assert_eq!(kids(&a.endpoint).await, keys);
    // And both serve on: a new pool through B, a guest of it through A.
    let admin_b = cognito(&b.endpoint, Some(admin()));
    let created = admin_b
        .create_identity_pool()
        .identity_pool_name("cached")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap();
    guest_id(&cognito(&a.endpoint, None), created.identity_pool_id()).await;
}
