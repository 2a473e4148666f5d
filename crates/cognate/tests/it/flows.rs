//! The authentication flows end to end over HTTP: guests and OIDC logins
//! validated against real fixture issuers, OpenID tokens and vended
//! credentials, through the Rust SDK. The rules of linking, merging and
//! role mapping are tested in-process (`cognate-core/tests/domain`).

use std::time::Duration;

use aws_credential_types::Credentials;
use cognate_testkit::{BadToken, CognitoUserPool, OidcProvider};
use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::common::{
    TestServer, code, create_role, guest_id_error, guest_open_id_token, message, register_oidc,
    set_pool_roles, trust, trust_with_tags, vended, verify_with_jwks,
};

const CLIENT: &str = "app-client-1";

/// A pool trusting one OIDC fixture, with guest and authenticated roles.
struct Setup {
    pool_id: String,
    key: String,
    auth_role: String,
    unauth_role: String,
}

async fn oidc_pool(s: &TestServer, idp: &OidcProvider, allow_guests: bool) -> Setup {
    let arn = register_oidc(s, idp, CLIENT).await;
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("flows")
        .allow_unauthenticated_identities(allow_guests)
        .open_id_connect_provider_arns(arn)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let suffix = &pool_id[pool_id.len() - 6..];
    let unauth_role = create_role(
        s,
        &format!("Unauth-{suffix}"),
        &trust(&pool_id, "unauthenticated"),
    )
    .await;
    let auth_role = create_role(
        s,
        &format!("Auth-{suffix}"),
        &trust(&pool_id, "authenticated"),
    )
    .await;
    set_pool_roles(&s.cognito(), &pool_id, &unauth_role, &auth_role).await;
    Setup {
        pool_id,
        key: idp.logins_key(),
        auth_role,
        unauth_role,
    }
}

async fn identity_count(s: &TestServer, pool_id: &str, hide_disabled: bool) -> usize {
    s.cognito()
        .list_identities()
        .identity_pool_id(pool_id)
        .max_results(60)
        .hide_disabled(hide_disabled)
        .send()
        .await
        .unwrap()
        .identities()
        .len()
}

#[tokio::test]
async fn guest_enhanced_flow_to_get_caller_identity() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let setup = oidc_pool(&s, &idp, true).await;
    let anon = s.anonymous_cognito();

    let a = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .send()
        .await
        .unwrap();
    let b = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .send()
        .await
        .unwrap();
    let id = a.identity_id().unwrap().to_string();
    assert_ne!(
        a.identity_id(),
        b.identity_id(),
        "every guest GetId is a new identity"
    );
    assert!(id.starts_with("us-east-1:"));

    let creds = anon
        .get_credentials_for_identity()
        .identity_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(creds.identity_id(), Some(id.as_str()));
    let c = creds.credentials().unwrap();
    assert!(c.access_key_id().unwrap().starts_with("ASIA"));
    assert_eq!(c.access_key_id().unwrap().len(), 20);
    assert_eq!(c.secret_key().unwrap().len(), 40);
    let expires = c.expiration().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (expires - now - 3600).abs() < 10,
        "expires in {}",
        expires - now
    );

    let me = s
        .sts_with(vended(c))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let role_name = setup.unauth_role.rsplit('/').next().unwrap();
    assert_eq!(
        me.arn().unwrap(),
        format!("arn:aws:sts::000000000000:assumed-role/{role_name}/CognitoIdentityCredentials")
    );
    assert!(me.user_id().unwrap().starts_with("AROA"));
    assert!(
        me.user_id()
            .unwrap()
            .ends_with(":CognitoIdentityCredentials")
    );

    // The basic flow's token for a guest.
    let token = anon
        .get_open_id_token()
        .identity_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(token.identity_id(), Some(id.as_str()));
    let claims = decode_claims(token.token().unwrap());
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["aud"], setup.pool_id);
    assert_eq!(claims["amr"], json!(["unauthenticated"]));
    assert_eq!(claims["iss"], s.server.issuer);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
}

fn decode_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn guest_refusals() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let closed = oidc_pool(&s, &idp, false).await;
    let anon = s.anonymous_cognito();
    let err = guest_id_error(&anon, &closed.pool_id).await;
    assert_eq!(code(&err), "NotAuthorizedException");
    assert_eq!(
        message(&err),
        "Unauthenticated access is not supported for this identity pool."
    );

    let err = anon
        .get_credentials_for_identity()
        .identity_id("us-east-1:00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");

    let err = guest_id_error(&anon, "us-east-1:00000000-0000-0000-0000-000000000000").await;
    assert_eq!(code(&err), "ResourceNotFoundException");

    // A pool without an unauthenticated role.
    let open = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("no-roles")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap();
    let guest = anon
        .get_id()
        .identity_pool_id(open.identity_pool_id())
        .send()
        .await
        .unwrap();
    let err = anon
        .get_credentials_for_identity()
        .identity_id(guest.identity_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityPoolConfigurationException");
    assert_eq!(
        message(&err),
        "Invalid identity pool configuration. Check assigned IAM roles for this pool."
    );

    // A role whose trust policy names another pool.
    let elsewhere = create_role(
        &s,
        "TrustsAnotherPool",
        &trust(
            "us-east-1:11111111-1111-1111-1111-111111111111",
            "unauthenticated",
        ),
    )
    .await;
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(open.identity_pool_id())
        .roles("unauthenticated", elsewhere)
        .send()
        .await
        .unwrap();
    let err = anon
        .get_credentials_for_identity()
        .identity_id(guest.identity_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityPoolConfigurationException");
}

#[tokio::test]
async fn authenticated_flow_with_an_oidc_provider() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let setup = oidc_pool(&s, &idp, true).await;
    let anon = s.anonymous_cognito();
    let token = idp.id_token(json!({"sub": "alice", "aud": CLIENT}));

    let first = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .logins(&setup.key, &token)
        .send()
        .await
        .unwrap();
    let again = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .logins(
            &setup.key,
            idp.id_token(json!({"sub": "alice", "aud": CLIENT})),
        )
        .send()
        .await
        .unwrap();
    let id = first.identity_id().unwrap().to_string();
    assert_eq!(again.identity_id(), Some(id.as_str()));

    let creds = anon
        .get_credentials_for_identity()
        .identity_id(&id)
        .logins(&setup.key, &token)
        .send()
        .await
        .unwrap();
    let me = s
        .sts_with(vended(creds.credentials().unwrap()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let role_name = setup.auth_role.rsplit('/').next().unwrap();
    assert!(
        me.arn()
            .unwrap()
            .contains(&format!("assumed-role/{role_name}/"))
    );

    let err = anon
        .get_credentials_for_identity()
        .identity_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
    assert!(
        message(&err).starts_with("Logins don't match"),
        "{}",
        message(&err)
    );

    let described = s
        .cognito()
        .describe_identity()
        .identity_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.logins(), std::slice::from_ref(&setup.key));

    // Cognito's own token is refused by GetId.
    let open_id = anon
        .get_open_id_token()
        .identity_id(&id)
        .logins(&setup.key, &token)
        .send()
        .await
        .unwrap();
    let claims = decode_claims(open_id.token().unwrap());
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    assert!(amr.contains(&"authenticated".to_string()));
    assert!(amr.contains(&setup.key));
    let err = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .logins("cognito-identity.amazonaws.com", open_id.token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Invalid login token. Can't pass in a Cognito token."
    );
}

#[tokio::test]
async fn every_bad_token_is_refused_and_changes_nothing() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let setup = oidc_pool(&s, &idp, true).await;
    let anon = s.anonymous_cognito();
    let guest = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .send()
        .await
        .unwrap();
    let guest = guest.identity_id().unwrap();
    for kind in BadToken::ALL {
        let bad = idp.bad_token(kind, json!({"sub": "mallory", "aud": CLIENT}));
        let err = anon
            .get_id()
            .identity_pool_id(&setup.pool_id)
            .logins(&setup.key, &bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(&err),
            "NotAuthorizedException",
            "{kind:?}: {}",
            message(&err)
        );
        assert!(
            !message(&err).contains(&bad),
            "the token leaked into the message"
        );
        let err = anon
            .get_credentials_for_identity()
            .identity_id(guest)
            .logins(&setup.key, &bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "NotAuthorizedException", "{kind:?}");
    }
    assert_eq!(identity_count(&s, &setup.pool_id, false).await, 1);
    let described = s
        .cognito()
        .describe_identity()
        .identity_id(guest)
        .send()
        .await
        .unwrap();
    assert!(described.logins().is_empty(), "a bad token linked a login");

    // A provider the pool does not trust.
    let other = OidcProvider::start().await;
    let err = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .logins(
            other.logins_key(),
            other.id_token(json!({"sub": "x", "aud": CLIENT})),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Token is not from a supported provider of this identity pool."
    );
}

#[tokio::test]
async fn open_id_tokens_verify_against_the_published_jwks_and_survive_rotation() {
    let s = TestServer::start_with(|settings| {
        settings.key_reload_interval = Duration::from_secs(1);
    })
    .await;
    let idp = OidcProvider::start().await;
    let setup = oidc_pool(&s, &idp, true).await;
    let anon = s.anonymous_cognito();
    let id = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .send()
        .await
        .unwrap();
    let id = id.identity_id().unwrap().to_string();
    let old_token = guest_open_id_token(&anon, &id).await;
    let claims = verify_with_jwks(&s, &old_token, Algorithm::RS512, &setup.pool_id).await;
    assert_eq!(claims["sub"], id.as_str());

    // Rotate with the command line, as an operator would.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cognate"))
        .args(["keys", "rotate", "--data-dir"])
        .arg(s.dir.path())
        .env_remove("COGNATE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_kid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let new_token = guest_open_id_token(&anon, &id).await;
    let header = jsonwebtoken::decode_header(&new_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    let claims = verify_with_jwks(&s, &new_token, Algorithm::RS512, &setup.pool_id).await;
    assert_eq!(claims["sub"], id.as_str());
    // The retired key stays published while its tokens may be valid.
    let claims = verify_with_jwks(&s, &old_token, Algorithm::RS512, &setup.pool_id).await;
    assert_eq!(claims["sub"], id.as_str());
}

#[tokio::test]
async fn vended_credentials_are_checked_on_every_use() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let setup = oidc_pool(&s, &idp, true).await;
    let anon = s.anonymous_cognito();
    let id = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .send()
        .await
        .unwrap();
    let creds = anon
        .get_credentials_for_identity()
        .identity_id(id.identity_id().unwrap())
        .send()
        .await
        .unwrap();
    let c = creds.credentials().unwrap();

    // The role has no permissions: a signed admin call is denied.
    let guest_cognito = s.cognito_with(vended(c), "us-east-1");
    let err = guest_cognito
        .list_identity_pools()
        .max_results(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // Once its role allows it, the same credentials succeed.
    let role_name = setup.unauth_role.rsplit('/').next().unwrap();
    s.iam()
        .put_role_policy()
        .role_name(role_name)
        .policy_name("list-pools")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cognito-identity:ListIdentityPools","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    guest_cognito
        .list_identity_pools()
        .max_results(5)
        .send()
        .await
        .unwrap();

    // A tampered session token is not ours.
    let token = c.session_token().unwrap();
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = Credentials::new(
        c.access_key_id().unwrap(),
        c.secret_key().unwrap(),
        Some(String::from_utf8(bytes).unwrap()),
        None,
        "forged",
    );
    let err = s
        .sts_with(forged)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidClientTokenId");
    // The right token with another access key id is refused too.
    let swapped = Credentials::new(
        "ASIAAAAAAAAAAAAAAAAA",
        c.secret_key().unwrap(),
        Some(token.to_string()),
        None,
        "x",
    );
    let err = s
        .sts_with(swapped)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidClientTokenId");

    // After an hour they have expired.
    s.clock.advance(Duration::from_secs(3601));
    let err = s
        .sts_with(vended(c))
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    // The client signs with the real clock; the server's clock moved an
    // hour, so either the skew or the expiry refuses it.
    let refused = code(&err);
    assert!(
        refused == "ExpiredToken" || refused == "SignatureDoesNotMatch",
        "{refused}"
    );
}

/// Guest credentials of the enhanced flow are narrowed by the guest
/// scope-down policy whatever the role allows; authenticated ones are not.
#[tokio::test]
async fn guest_credentials_are_scoped_down() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let setup = oidc_pool(&s, &idp, true).await;
    let both = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cognito-identity:ListIdentityPools","iam:ListRoles"],"Resource":"*"}]}"#;
    for role in [&setup.unauth_role, &setup.auth_role] {
        s.iam()
            .put_role_policy()
            .role_name(role.rsplit('/').next().unwrap())
            .policy_name("both")
            .policy_document(both)
            .send()
            .await
            .unwrap();
    }
    let iam_with = |c: Credentials| {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(s.endpoint())
            .credentials_provider(c)
            .build();
        aws_sdk_iam::Client::from_conf(config)
    };
    let anon = s.anonymous_cognito();
    let guest = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .send()
        .await
        .unwrap();
    let guest_creds = anon
        .get_credentials_for_identity()
        .identity_id(guest.identity_id().unwrap())
        .send()
        .await
        .unwrap();
    let guest_creds = vended(guest_creds.credentials().unwrap());
    // cognito-identity:* is in the scope-down list, iam:* is not.
    s.cognito_with(guest_creds.clone(), "us-east-1")
        .list_identity_pools()
        .max_results(5)
        .send()
        .await
        .unwrap();
    let err = iam_with(guest_creds).list_roles().send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");

    let token = idp.id_token(json!({"sub": "scoped-user", "aud": CLIENT}));
    let user = anon
        .get_id()
        .identity_pool_id(&setup.pool_id)
        .logins(&setup.key, &token)
        .send()
        .await
        .unwrap();
    let user_creds = anon
        .get_credentials_for_identity()
        .identity_id(user.identity_id().unwrap())
        .logins(&setup.key, &token)
        .send()
        .await
        .unwrap();
    let user_creds = vended(user_creds.credentials().unwrap());
    iam_with(user_creds).list_roles().send().await.unwrap();
}

/// A user pool on this machine, named as Amplify names it from a local
/// emulator's `iss` (`127.0.0.1:<port>/<pool id>`), is a user pool: its ID
/// tokens are checked as a user pool's (`token_use`, `aud` against the
/// client id, issuer `http://<name>`), and a login through it is
/// `<name>:CognitoSignIn:<sub>` in the `amr`, which a trust policy can
/// require; its default principal tags are a user pool's.
#[tokio::test]
async fn a_loopback_user_pool_signs_in_as_a_user_pool() {
    let s = TestServer::start().await;
    let user_pool = CognitoUserPool::start_with_pool_id("local_Lb0Xq7Zp").await;
    let key = user_pool.logins_key();
    assert!(key.starts_with("127.0.0.1:"), "{key}");
    let c = s.cognito();
    let pool_id = c
        .create_identity_pool()
        .identity_pool_name("loopback-user-pool")
        .allow_unauthenticated_identities(false)
        .cognito_identity_providers(
            aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                .provider_name(&key)
                .client_id("localclient1")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    // Only a login that says CognitoSignIn through this user pool may
    // assume the authenticated role.
    let signed_in = format!("{key}:CognitoSignIn:*");
    let auth_role = create_role(
        &s,
        "LocalUserPoolAuth",
        &trust_with_tags(&pool_id, &signed_in),
    )
    .await;
    let unauth_role = create_role(
        &s,
        "LocalUserPoolUnauth",
        &trust(&pool_id, "unauthenticated"),
    )
    .await;
    set_pool_roles(&c, &pool_id, &unauth_role, &auth_role).await;
    c.set_principal_tag_attribute_map()
        .identity_pool_id(&pool_id)
        .identity_provider_name(&key)
        .use_defaults(true)
        .send()
        .await
        .unwrap();

    let anon = s.anonymous_cognito();
    let token = user_pool.id_token(json!({"sub": "alice-sub", "aud": "localclient1"}));
    let id = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .logins(&key, &token)
        .send()
        .await
        .unwrap()
        .identity_id()
        .unwrap()
        .to_string();

    let open_id = anon
        .get_open_id_token()
        .identity_id(&id)
        .logins(&key, &token)
        .send()
        .await
        .unwrap();
    let claims = decode_claims(open_id.token().unwrap());
    assert_eq!(
        claims["amr"],
        json!([
            "authenticated",
            key,
            format!("{key}:CognitoSignIn:alice-sub")
        ])
    );
    assert_eq!(
        claims["https://aws.amazon.com/tags"]["principal_tags"],
        json!({"client": ["localclient1"], "username": ["alice-sub"]})
    );

    let creds = anon
        .get_credentials_for_identity()
        .identity_id(&id)
        .logins(&key, &token)
        .send()
        .await
        .unwrap();
    let me = s
        .sts_with(vended(creds.credentials().unwrap()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(
        me.arn()
            .unwrap()
            .contains("assumed-role/LocalUserPoolAuth/"),
        "{:?}",
        me.arn()
    );

    // Checked as a user pool's ID token: an access token, another app
    // client and another user pool's issuer are refused.
    let access = user_pool.access_token(json!({"sub": "alice-sub", "aud": "localclient1"}));
    let other_client = user_pool.id_token(json!({"sub": "alice-sub", "aud": "otherclient"}));
    let other_pool = CognitoUserPool::start_with_pool_id("local_Other123").await;
    let other_issuer = other_pool.id_token(json!({"sub": "alice-sub", "aud": "localclient1"}));
    for (what, bad) in [
        ("access token", access),
        ("other client", other_client),
        ("other issuer", other_issuer),
    ] {
        let err = anon
            .get_credentials_for_identity()
            .identity_id(&id)
            .logins(&key, bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(&err),
            "NotAuthorizedException",
            "{what}: {}",
            message(&err)
        );
    }
}
