//! Adversarial inputs: replayed login tokens, hostile OpenID providers,
//! replayed signatures, forged session tokens, oversized and malformed
//! requests. Each case asserts the documented error, that no server fault
//! (5xx) comes back, that it answers within a deadline, and that it leaves
//! no state behind. Each test prints how many cases it ran.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cognate_testkit::{Behavior, OidcProvider};
use serde_json::{Value, json};

use crate::common::{
    Raw, RawResponse, TestServer, code, create_pool, create_role, describe_pool, guest_id,
    identity_count, login_id, message, percent_encode, set_pool_role, trust,
};

const CLIENT: &str = "adversarial-client";

/// Awaits `f`, failing the test if it takes longer than `secs`.
async fn deadline<F: Future>(secs: u64, what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {secs} s"),
    }
}

fn no_fault(r: &RawResponse, what: &str) {
    assert!(
        r.status < 500,
        "{what}: server fault {}: {}",
        r.status,
        r.body
    );
    assert!(
        r.header("x-amzn-requestid").is_some(),
        "{what}: no request id"
    );
}

/// A pool trusting the given OIDC fixtures (registered through IAM).
async fn oidc_pool(s: &TestServer, idps: &[&OidcProvider], guests: bool) -> String {
    let mut arns = Vec::new();
    for idp in idps {
        arns.push(
            s.iam()
                .create_open_id_connect_provider()
                .url(idp.issuer())
                .client_id_list(CLIENT)
                .send()
                .await
                .unwrap()
                .open_id_connect_provider_arn()
                .unwrap()
                .to_string(),
        );
    }
    s.cognito()
        .create_identity_pool()
        .identity_pool_name("adversarial")
        .allow_unauthenticated_identities(guests)
        .set_open_id_connect_provider_arns(Some(arns))
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string()
}

async fn pool_count(s: &TestServer) -> usize {
    s.cognito()
        .list_identity_pools()
        .max_results(60)
        .send()
        .await
        .unwrap()
        .identity_pools()
        .len()
}

async fn role_count(s: &TestServer) -> usize {
    s.iam().list_roles().send().await.unwrap().roles().len()
}

// ---------------------------------------------------------------------------
// Login tokens replayed after their identity was merged away or deleted
// ---------------------------------------------------------------------------

#[tokio::test]
async fn login_token_replayed_after_its_identity_was_merged_away_maps_to_the_survivor() {
    let s = TestServer::start().await;
    let idp1 = OidcProvider::start().await;
    let idp2 = OidcProvider::start().await;
    let pool_id = oidc_pool(&s, &[&idp1, &idp2], false).await;
    let anon = s.anonymous_cognito();
    let t1 = idp1.id_token(json!({"sub": "alice", "aud": CLIENT}));
    let t2 = idp2.id_token(json!({"sub": "alice2", "aud": CLIENT}));
    let older = login_id(&anon, &pool_id, &idp2.logins_key(), &t2).await;
    s.clock.advance(Duration::from_secs(5));
    let newer = login_id(&anon, &pool_id, &idp1.logins_key(), &t1).await;
    let merged = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .logins(idp1.logins_key(), &t1)
        .logins(idp2.logins_key(), &t2)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    assert_eq!(merged, older);

    // 1. The same token, replayed alone, lands on the survivor.
    let replay = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .logins(idp1.logins_key(), &t1)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.identity_id(), Some(older.as_str()));
    // 2. Replayed against the merged-away id: it is disabled.
    let err = anon
        .get_open_id_token()
        .identity_id(&newer)
        .logins(idp1.logins_key(), &t1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException", "{}", message(&err));
    // 3. ... and GetCredentialsForIdentity refuses it the same way.
    let err = anon
        .get_credentials_for_identity()
        .identity_id(&newer)
        .logins(idp1.logins_key(), &t1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException", "{}", message(&err));
    // 4. Against the survivor, it works and the token names the survivor.
    let token = anon
        .get_open_id_token()
        .identity_id(&older)
        .logins(idp1.logins_key(), &t1)
        .send()
        .await
        .unwrap();
    assert_eq!(token.identity_id(), Some(older.as_str()));
    // Nothing new was made: the survivor and the disabled one.
    assert_eq!(identity_count(&s, &pool_id).await, 2);
    let d = Raw::json(
        "DescribeIdentity",
        &json!({"IdentityId": newer}).to_string(),
    )
    .admin_signed(&s, "cognito-identity")
    .send(&s)
    .await
    .json();
    assert_eq!(d["MergedInto"], older.as_str());
    eprintln!("adversarial cases (replay after merge): 4");
}

#[tokio::test]
async fn login_token_replayed_after_its_identity_was_deleted_makes_a_new_identity() {
    let s = TestServer::start().await;
    let idp = OidcProvider::start().await;
    let pool_id = oidc_pool(&s, &[&idp], false).await;
    let anon = s.anonymous_cognito();
    let t = idp.id_token(json!({"sub": "bob", "aud": CLIENT}));
    let first = login_id(&anon, &pool_id, &idp.logins_key(), &t).await;
    let out = s
        .cognito()
        .delete_identities()
        .identity_ids_to_delete(&first)
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_identity_ids().is_empty());

    // 1. The deleted id is gone.
    let err = s
        .cognito()
        .describe_identity()
        .identity_id(&first)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    // 2. The token replayed against the deleted id is refused.
    let err = anon
        .get_open_id_token()
        .identity_id(&first)
        .logins(idp.logins_key(), &t)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException", "{}", message(&err));
    // 3. The token replayed in GetId makes a new identity.
    let second = login_id(&anon, &pool_id, &idp.logins_key(), &t).await;
    assert_ne!(second, first, "a deleted identity came back");
    assert_eq!(identity_count(&s, &pool_id).await, 1);
    let d = s
        .cognito()
        .describe_identity()
        .identity_id(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(d.logins(), [idp.logins_key()]);
    eprintln!("adversarial cases (replay after delete): 3");
}

// ---------------------------------------------------------------------------
// Hostile OpenID providers
// ---------------------------------------------------------------------------

fn short_http_timeout(settings: &mut cognate::Settings) {
    settings.federation.http_timeout = Duration::from_secs(1);
}

/// How one hostile provider behaves.
enum Hostile {
    Jwks(Behavior),
    Discovery(Behavior),
    JwksDocument(fn(&OidcProvider) -> Value),
    DiscoveryDocument(fn(&OidcProvider) -> Value),
    /// Discovery redirects to the same path on another fixture host.
    DiscoveryToOtherHost,
    /// The JWKS redirects to the other fixture host.
    JwksToOtherHost,
    /// The JWKS redirects within the same origin (allowed).
    JwksSameOrigin,
    /// Discovery redirects to itself, forever.
    DiscoveryLoop,
}

fn with_member(idp: &OidcProvider, name: &str, value: Value) -> Value {
    let mut jwks = idp.jwks();
    for k in jwks["keys"].as_array_mut().unwrap() {
        k[name] = value.clone();
    }
    jwks
}

#[tokio::test]
async fn hostile_openid_providers_are_refused_quickly_and_change_nothing() {
    let s = TestServer::start_with(short_http_timeout).await;
    let anon = s.anonymous_cognito();
    let cases: Vec<(&str, Hostile, &str)> = vec![
        (
            "huge JWKS (2 MiB)",
            Hostile::Jwks(Behavior::Huge(2 * 1024 * 1024)),
            "ExternalServiceException",
        ),
        (
            "slow JWKS (30 s)",
            Hostile::Jwks(Behavior::Slow(Duration::from_secs(30))),
            "ExternalServiceException",
        ),
        (
            "slow discovery (30 s)",
            Hostile::Discovery(Behavior::Slow(Duration::from_secs(30))),
            "ExternalServiceException",
        ),
        (
            "malformed JWKS",
            Hostile::Jwks(Behavior::Malformed),
            "ExternalServiceException",
        ),
        (
            "malformed discovery",
            Hostile::Discovery(Behavior::Malformed),
            "ExternalServiceException",
        ),
        (
            "JWKS answers 500",
            Hostile::Jwks(Behavior::Status(500)),
            "ExternalServiceException",
        ),
        (
            "discovery answers 404",
            Hostile::Discovery(Behavior::Status(404)),
            "ExternalServiceException",
        ),
        (
            "JWKS with private RSA members",
            Hostile::JwksDocument(|idp| with_member(idp, "d", json!("AQAB"))),
            "NotAuthorizedException",
        ),
        (
            "JWKS with CRT private members",
            Hostile::JwksDocument(|idp| with_member(idp, "qi", json!("AQAB"))),
            "NotAuthorizedException",
        ),
        (
            "JWKS with a symmetric key under the token's kid",
            Hostile::JwksDocument(|idp| {
                let kid = idp.jwks()["keys"][0]["kid"].clone();
                json!({"keys": [{"kty": "oct", "kid": kid, "k": "c2VjcmV0", "alg": "HS256"}]})
            }),
            "NotAuthorizedException",
        ),
        (
            "JWKS keys for encryption only",
            Hostile::JwksDocument(|idp| with_member(idp, "use", json!("enc"))),
            "NotAuthorizedException",
        ),
        (
            "JWKS without a keys array",
            Hostile::JwksDocument(|_| json!({"keys": {"not": "an array"}})),
            "ExternalServiceException",
        ),
        (
            "JWKS with 101 keys",
            Hostile::JwksDocument(|idp| {
                let k = idp.jwks()["keys"][0].clone();
                json!({"keys": vec![k; 101]})
            }),
            "ExternalServiceException",
        ),
        (
            "JWKS whose keys are numbers",
            Hostile::JwksDocument(|_| json!({"keys": [1, 2, 3]})),
            "NotAuthorizedException",
        ),
        (
            "discovery naming another issuer",
            Hostile::DiscoveryDocument(|idp| {
                let mut d = idp.discovery_document();
                d["issuer"] = json!("https://evil.example");
                d
            }),
            "ExternalServiceException",
        ),
        (
            "discovery without jwks_uri",
            Hostile::DiscoveryDocument(|idp| {
                let mut d = idp.discovery_document();
                d.as_object_mut().unwrap().remove("jwks_uri");
                d
            }),
            "ExternalServiceException",
        ),
        (
            "discovery whose jwks_uri is plain http to a public host",
            Hostile::DiscoveryDocument(|idp| {
                let mut d = idp.discovery_document();
                d["jwks_uri"] = json!("http://jwks.example.com/keys");
                d
            }),
            "ExternalServiceException",
        ),
        (
            "discovery whose jwks_uri carries credentials",
            Hostile::DiscoveryDocument(|idp| {
                let mut d = idp.discovery_document();
                let uri = idp.jwks_url().replace("http://", "http://user:pw@");
                d["jwks_uri"] = json!(uri);
                d
            }),
            "ExternalServiceException",
        ),
        (
            "discovery whose jwks_uri is a file URL",
            Hostile::DiscoveryDocument(|idp| {
                let mut d = idp.discovery_document();
                d["jwks_uri"] = json!("file:///etc/passwd");
                d
            }),
            "ExternalServiceException",
        ),
        (
            "discovery redirecting to another host",
            Hostile::DiscoveryToOtherHost,
            "ExternalServiceException",
        ),
        (
            "JWKS redirecting to another host",
            Hostile::JwksToOtherHost,
            "ExternalServiceException",
        ),
        (
            "discovery redirecting to itself forever",
            Hostile::DiscoveryLoop,
            "ExternalServiceException",
        ),
        (
            "JWKS redirecting within its origin (allowed)",
            Hostile::JwksSameOrigin,
            "",
        ),
    ];
    let total = cases.len();
    for (what, hostile, expected) in cases {
        let idp = OidcProvider::start().await;
        let other = OidcProvider::start().await;
        let pool_id = oidc_pool(&s, &[&idp], false).await;
        match hostile {
            Hostile::Jwks(b) => idp.set_jwks_behavior(b),
            Hostile::DiscoveryLoop => {
                idp.set_discovery_behavior(Behavior::Redirect(idp.discovery_url()))
            }
            Hostile::Discovery(b) => idp.set_discovery_behavior(b),
            Hostile::JwksDocument(f) => idp.set_jwks_document(Some(f(&idp))),
            Hostile::DiscoveryDocument(f) => idp.set_discovery_document(Some(f(&idp))),
            Hostile::DiscoveryToOtherHost => {
                idp.set_discovery_behavior(Behavior::Redirect(other.discovery_url()))
            }
            Hostile::JwksToOtherHost => idp.set_jwks_behavior(Behavior::Redirect(other.jwks_url())),
            Hostile::JwksSameOrigin => idp.set_jwks_behavior(Behavior::Redirect(format!(
                "{}/.well-known/jwks-alt.json",
                idp.issuer()
            ))),
        }
        let token = idp.id_token(json!({"sub": "mallory", "aud": CLIENT}));
        let started = std::time::Instant::now();
        let result = deadline(
            10,
            what,
            anon.get_id()
                .identity_pool_id(&pool_id)
                .logins(idp.logins_key(), &token)
                .send(),
        )
        .await;
        let took = started.elapsed();
        if expected.is_empty() {
            let id = result.unwrap_or_else(|e| panic!("{what}: {} {}", code(&e), message(&e)));
            assert!(id.identity_id().is_some());
            assert_eq!(identity_count(&s, &pool_id).await, 1, "{what}");
        } else {
            let err = result.expect_err(what);
            assert_eq!(code(&err), expected, "{what}: {}", message(&err));
            // The message names the Logins key, never a token or a URL.
            assert!(
                !message(&err).contains(&token) && !message(&err).contains("://"),
                "{what}: the message leaks the token or a URL: {}",
                message(&err)
            );
            assert_eq!(identity_count(&s, &pool_id).await, 0, "{what}: state left");
        }
        assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
        assert_eq!(
            other.discovery_fetches() + other.jwks_fetches(),
            0,
            "{what}: a request reached another host"
        );
    }
    eprintln!("adversarial cases (hostile providers): {total}");
}

// ---------------------------------------------------------------------------
// SigV4 replays outside the clock-skew window
// ---------------------------------------------------------------------------

#[tokio::test]
async fn signed_requests_replayed_outside_the_skew_window_are_refused() {
    let s = TestServer::start().await;
    let key = (
        s.server.admin_access_key_id.clone(),
        s.server.admin_secret_access_key.clone(),
    );
    let signed_at = SystemTime::now();
    let create_pool = || {
        Raw::json(
            "CreateIdentityPool",
            r#"{"IdentityPoolName":"replayed","AllowUnauthenticatedIdentities":true}"#,
        )
        .signed(&s, (&key.0, &key.1), "cognito-identity", signed_at)
    };
    let create_role = || {
        let trust = percent_encode(&trust(
            "us-east-1:00000000-0000-0000-0000-000000000000",
            "x",
        ));
        Raw::query(&format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=Replayed&AssumeRolePolicyDocument={trust}"
        ))
        .signed(&s, (&key.0, &key.1), "iam", signed_at)
    };
    let never_sent = Raw::json(
        "CreateIdentityPool",
        r#"{"IdentityPoolName":"late","AllowUnauthenticatedIdentities":true}"#,
    )
    .signed(&s, (&key.0, &key.1), "cognito-identity", signed_at);

    let r = create_pool().send(&s).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = create_role().send(&s).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Replayed at once: SigV4 has no nonce, AWS accepts it too (a second
    // pool; the role name is taken).
    let r = create_role().send(&s).await;
    assert_eq!(r.xml_error(), "EntityAlreadyExists");

    s.clock.advance(Duration::from_secs(16 * 60));
    // 1. JSON replay after 16 minutes.
    let r = create_pool().send(&s).await;
    no_fault(&r, "JSON replay");
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "InvalidSignatureException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired"),
        "{}",
        r.body
    );
    // 2. Query replay after 16 minutes.
    let r = create_role().send(&s).await;
    no_fault(&r, "Query replay");
    assert_eq!(r.status, 403);
    assert_eq!(r.xml_error(), "SignatureDoesNotMatch");
    assert!(r.body.contains("Signature expired"), "{}", r.body);
    // 3. A request held back for 16 minutes and then delivered.
    let r = never_sent.send(&s).await;
    assert_eq!(r.json_error(), "InvalidSignatureException");
    // 4. Signed 16 minutes in the server's future.
    let ahead = Raw::json("ListIdentityPools", r#"{"MaxResults":5}"#).signed(
        &s,
        (&key.0, &key.1),
        "cognito-identity",
        SystemTime::now() + Duration::from_secs(32 * 60 + 5),
    );
    let r = ahead.send(&s).await;
    assert_eq!(r.json_error(), "InvalidSignatureException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("Signature not yet current"),
        "{}",
        r.body
    );
    // Nothing was made by the refused ones (asked at the server's time).
    let now = cognate_core::clock::Clock::now(&s.clock);
    let pools = Raw::json("ListIdentityPools", r#"{"MaxResults":60}"#)
        .signed(&s, (&key.0, &key.1), "cognito-identity", now)
        .send(&s)
        .await;
    assert_eq!(
        pools.json()["IdentityPools"].as_array().unwrap().len(),
        1,
        "{}",
        pools.body
    );
    let roles = Raw::query("Action=ListRoles&Version=2010-05-08")
        .signed(&s, (&key.0, &key.1), "iam", now)
        .send(&s)
        .await;
    assert_eq!(
        roles.body.matches("<RoleName>").count(),
        1,
        "{}",
        roles.body
    );
    eprintln!("adversarial cases (SigV4 replays): 4");
}

// ---------------------------------------------------------------------------
// Session tokens: from another installation, truncated, tampered
// ---------------------------------------------------------------------------

/// A guest pool with an unauthenticated role; returns vended credentials.
async fn vend(s: &TestServer) -> (String, String, String) {
    let pool_id = create_pool(s, "vending", true).await;
    let role = create_role(
        s,
        &format!("Guest-{}", &pool_id[pool_id.len() - 6..]),
        &trust(&pool_id, "unauthenticated"),
    )
    .await;
    set_pool_role(s, &pool_id, "unauthenticated", &role).await;
    let anon = s.anonymous_cognito();
    let id = guest_id(&anon, &pool_id).await;
    let out = anon
        .get_credentials_for_identity()
        .identity_id(&id)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    (
        c.access_key_id().unwrap().to_string(),
        c.secret_key().unwrap().to_string(),
        c.session_token().unwrap().to_string(),
    )
}

fn creds(akid: &str, secret: &str, token: &str) -> Credentials {
    Credentials::new(akid, secret, Some(token.to_string()), None, "adversarial")
}

async fn caller_identity_code(s: &TestServer, c: Credentials) -> String {
    let r = deadline(
        10,
        "GetCallerIdentity",
        s.sts_with(c).get_caller_identity().send(),
    )
    .await;
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => {
            let raw = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            assert!(raw < 500, "server fault {raw}");
            use aws_sdk_sts::error::ProvideErrorMetadata;
            e.as_service_error()
                .and_then(|e| e.code())
                .unwrap_or("not a service error")
                .to_string()
        }
    }
}

fn flip_bit(token: &str, index: impl Fn(usize) -> usize) -> String {
    let mut bytes = STANDARD.decode(token).unwrap();
    let i = index(bytes.len());
    bytes[i] ^= 0x10;
    STANDARD.encode(bytes)
}

#[tokio::test]
async fn forged_session_tokens_are_unrecognized() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    let (akid, secret, token) = vend(&a).await;
    let (akid2, secret2, token2) = vend(&a).await;
    let (b_akid, b_secret, b_token) = vend(&b).await;

    // Control: the real credentials work where they were vended.
    assert_eq!(
        caller_identity_code(&a, creds(&akid, &secret, &token)).await,
        "ok"
    );
    assert_eq!(
        caller_identity_code(&b, creds(&b_akid, &b_secret, &b_token)).await,
        "ok"
    );

    let cases: Vec<(&str, &TestServer, Credentials)> = vec![
        ("A's credentials at B", &b, creds(&akid, &secret, &token)),
        (
            "B's credentials at A",
            &a,
            creds(&b_akid, &b_secret, &b_token),
        ),
        (
            "A's key id and secret with B's session token, at A",
            &a,
            creds(&akid, &secret, &b_token),
        ),
        (
            "truncated by 10 characters",
            &a,
            creds(&akid, &secret, &token[..token.len() - 10]),
        ),
        (
            "truncated to half",
            &a,
            creds(&akid, &secret, &token[..token.len() / 2]),
        ),
        (
            "a flipped bit in the nonce",
            &a,
            creds(&akid, &secret, &flip_bit(&token, |_| 2)),
        ),
        (
            "a flipped bit in the ciphertext",
            &a,
            creds(&akid, &secret, &flip_bit(&token, |n| n / 2)),
        ),
        (
            "a flipped bit in the tag",
            &a,
            creds(&akid, &secret, &flip_bit(&token, |n| n - 1)),
        ),
        ("not base64", &a, creds(&akid, &secret, "!!!not-base64!!!")),
        ("empty", &a, creds(&akid, &secret, "")),
        (
            "another session's token under this key id",
            &a,
            creds(&akid, &secret2, &token2),
        ),
        (
            "another session's key id with this token",
            &a,
            creds(&akid2, &secret, &token),
        ),
    ];
    let total = cases.len();
    for (what, server, c) in cases {
        let got = caller_identity_code(server, c).await;
        assert_eq!(got, "InvalidClientTokenId", "{what}");
    }
    // The JSON protocol answers UnrecognizedClientException.
    let err = deadline(
        10,
        "ListIdentityPools",
        b.cognito_with(creds(&akid, &secret, &token), "us-east-1")
            .list_identity_pools()
            .max_results(5)
            .send(),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "UnrecognizedClientException");
    eprintln!("adversarial cases (session tokens): {}", total + 1);
}

// ---------------------------------------------------------------------------
// Header and body size limits
// ---------------------------------------------------------------------------

async fn healthy(s: &TestServer) {
    let r = reqwest::get(format!("{}/healthz", s.endpoint()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Sends GetId with extra headers; the status, or 0 if the connection was
/// closed without an answer.
async fn get_id_with_headers(s: &TestServer, headers: &[(String, String)]) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut rb = client
        .post(format!("{}/", s.endpoint()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityService.GetId")
        .body(r#"{"IdentityPoolId":"us-east-1:00000000-0000-0000-0000-000000000000"}"#);
    for (k, v) in headers {
        rb = rb.header(k, v);
    }
    match deadline(10, "oversized headers", rb.send()).await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

#[tokio::test]
async fn header_size_limits() {
    let s = TestServer::start().await;
    // 1. One 1 MiB header: refused by the HTTP layer.
    let (status, _) =
        get_id_with_headers(&s, &[("x-padding".into(), "a".repeat(1024 * 1024))]).await;
    assert_eq!(status, 431, "a 1 MiB header");
    healthy(&s).await;
    // 2. 200 headers.
    let many: Vec<(String, String)> = (0..200).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let (status, _) = get_id_with_headers(&s, &many).await;
    assert_eq!(status, 431, "200 headers");
    healthy(&s).await;
    // 3. A 32 KiB X-Amz-Target: parsed, refused as an unknown operation,
    //    and the message is not echoed whole into the response header.
    let r = Raw {
        method: "POST",
        path_and_query: "/".into(),
        headers: vec![
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            (
                "x-amz-target".into(),
                format!("AWSCognitoIdentityService.{}", "A".repeat(32 * 1024)),
            ),
        ],
        body: b"{}".to_vec(),
    }
    .send(&s)
    .await;
    no_fault(&r, "long X-Amz-Target");
    assert_eq!(r.json_error(), "UnknownOperationException");
    // 4. A 32 KiB Authorization header on an admin call.
    let mut raw = Raw::json("ListIdentityPools", "{}");
    raw.headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/20240101/us-east-1/cognito-identity/aws4_request, SignedHeaders=host, Signature=00",
            "A".repeat(32 * 1024)
        ),
    ));
    let r = raw.send(&s).await;
    no_fault(&r, "long Authorization");
    assert_eq!(r.status, 400);
    healthy(&s).await;
    eprintln!("adversarial cases (header limits): 4");
}

#[tokio::test]
async fn body_size_limits() {
    let s = TestServer::start().await;
    const LIMIT: usize = 1024 * 1024;
    // 1. A Query form body one byte over the limit: XML 413.
    let mut body = "Action=GetCallerIdentity&Version=2011-06-15&Pad=".to_string();
    body.push_str(&"x".repeat(LIMIT + 1 - body.len()));
    let r = Raw::query(&body).send(&s).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.xml_error(), "RequestEntityTooLargeException");
    // 2. A chunked JSON body (no Content-Length) over the limit.
    let r = chunked_http(&s, 20, 64 * 1024).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    assert!(r.contains("RequestEntityTooLargeException"), "{r}");
    // 3. Exactly at the limit: read and judged on its content.
    let mut body = r#"{"IdentityPoolId":"not-an-id"}"#.to_string();
    body.push_str(&" ".repeat(LIMIT - body.len()));
    let r = Raw::json("GetId", &body).send(&s).await;
    no_fault(&r, "body at the limit");
    assert_eq!(r.json_error(), "ValidationException");
    assert_eq!(pool_count(&s).await, 0);
    eprintln!("adversarial cases (body limits): 3");
}

#[tokio::test]
async fn declared_content_length_over_the_limit_is_refused_at_once() {
    let s = TestServer::start().await;
    let r = raw_http(
        &s,
        &format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: AWSCognitoIdentityService.GetId\r\ncontent-length: {}\r\n\r\n{{",
            4 * 1024 * 1024
        ),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
}

/// Sends GetId with a chunked body of `chunks` × `size` spaces on a raw
/// connection and returns the start of the answer.
async fn chunked_http(s: &TestServer, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(s.server.addr).await.unwrap();
    let head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: AWSCognitoIdentityService.GetId\r\ntransfer-encoding: chunked\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..chunks {
        // The server may answer and stop reading before the end.
        if conn.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut buf = vec![0u8; 4096];
    let n = deadline(5, "chunked answer", conn.read(&mut buf))
        .await
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

/// Writes `request` on a raw TCP connection and returns what comes back
/// within 5 s (the connection is not closed by us, so a server waiting for
/// the promised body would time out here).
async fn raw_http(s: &TestServer, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(s.server.addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = deadline(5, "raw HTTP answer", conn.read(&mut buf))
        .await
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

// ---------------------------------------------------------------------------
// Deep nesting, invalid UTF-8
// ---------------------------------------------------------------------------

#[tokio::test]
async fn deeply_nested_json_is_a_serialization_error() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "nesting", true).await;
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let at_limit = format!("{}1{}", r#"{"a":"#.repeat(120), "}".repeat(120));
    let cases: Vec<(&str, bool, String, &str)> = vec![
        (
            "GetId",
            false,
            format!(r#"{{"IdentityPoolId":"{pool}","Logins":{deep_arrays}}}"#),
            "SerializationException",
        ),
        (
            "GetId",
            false,
            format!(r#"{{"IdentityPoolId":"{pool}","Logins":{deep_objects}}}"#),
            "SerializationException",
        ),
        (
            "GetId",
            false,
            format!(r#"{{"IdentityPoolId":"{pool}","Logins":{at_limit}}}"#),
            "SerializationException",
        ),
        (
            "GetOpenIdToken",
            false,
            deep_objects.clone(),
            "SerializationException",
        ),
        (
            "SetIdentityPoolRoles",
            true,
            format!(r#"{{"IdentityPoolId":"{pool}","Roles":{{}},"RoleMappings":{deep_objects}}}"#),
            "SerializationException",
        ),
        (
            "UpdateIdentityPool",
            true,
            format!(
                r#"{{"IdentityPoolId":"{pool}","IdentityPoolName":"n","AllowUnauthenticatedIdentities":true,"IdentityPoolTags":{deep_arrays}}}"#
            ),
            "SerializationException",
        ),
    ];
    let mut n = 0;
    for (op, signed, body, expected) in cases {
        let mut raw = Raw::json(op, &body);
        if signed {
            raw = raw.admin_signed(&s, "cognito-identity");
        }
        let r = deadline(10, op, raw.send(&s)).await;
        no_fault(&r, op);
        assert_eq!(r.status, 400, "{op}: {}", &r.body[..r.body.len().min(300)]);
        assert_eq!(r.json_error(), expected, "{op}");
        n += 1;
    }
    // A trust policy nested past the parser's depth, within the size quota.
    let nested = format!(
        r#"{{"Version":"2012-10-17","Statement":{}{{}}{}}}"#,
        "[".repeat(900),
        "]".repeat(900)
    );
    let r = Raw::query(&format!(
        "Action=CreateRole&Version=2010-05-08&RoleName=Deep&AssumeRolePolicyDocument={}",
        percent_encode(&nested)
    ))
    .admin_signed(&s, "iam")
    .send(&s)
    .await;
    no_fault(&r, "nested trust policy");
    assert_eq!(r.xml_error(), "MalformedPolicyDocument", "{}", r.body);
    n += 1;
    assert_eq!(identity_count(&s, &pool).await, 0);
    assert_eq!(role_count(&s).await, 0);
    let d = describe_pool(&s, &pool).await;
    assert!(d.identity_pool_tags().is_none_or(|t| t.is_empty()));
    eprintln!("adversarial cases (deep nesting): {n}");
}

#[tokio::test]
async fn invalid_utf8_in_json_and_form_bodies() {
    let s = TestServer::start().await;
    let mut n = 0;
    // JSON bodies.
    for (what, body) in [
        (
            "raw 0xFF in a string",
            b"{\"IdentityPoolId\":\"us-east-1:\xff\"}".to_vec(),
        ),
        (
            "raw 0xC3 0x28 in a key",
            b"{\"Identity\xc3\x28PoolId\":\"x\"}".to_vec(),
        ),
        (
            "a lone surrogate escape",
            br#"{"IdentityPoolId":"\ud800"}"#.to_vec(),
        ),
        (
            "overlong encoding of '/'",
            b"{\"IdentityPoolId\":\"\xc0\xaf\"}".to_vec(),
        ),
        (
            "UTF-16 body",
            "{\"IdentityPoolId\":\"x\"}"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
    ] {
        let mut raw = Raw::json("GetId", "");
        raw.body = body;
        let r = raw.send(&s).await;
        no_fault(&r, what);
        assert_eq!(r.status, 400, "{what}");
        assert_eq!(
            r.json_error(),
            "SerializationException",
            "{what}: {}",
            r.body
        );
        n += 1;
    }
    // Invalid UTF-8 in X-Amz-Target.
    let r = reqwest::Client::new()
        .post(format!("{}/", s.endpoint()))
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            reqwest::header::HeaderValue::from_bytes(b"AWSCognitoIdentityService.Get\xffId")
                .unwrap(),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["__type"], "UnknownOperationException");
    n += 1;

    // Form bodies: raw bytes and percent-encoded invalid sequences.
    for (what, body, signed, expected) in [
        (
            "raw 0xFF in Action",
            b"Action=GetCaller\xffIdentity&Version=2011-06-15".to_vec(),
            false,
            "InvalidAction",
        ),
        (
            "%FF in Action",
            b"Action=GetCaller%FFIdentity&Version=2011-06-15".to_vec(),
            false,
            "InvalidAction",
        ),
        (
            "%FF in Version",
            b"Action=GetCallerIdentity&Version=2011-06-15%FF".to_vec(),
            false,
            "InvalidAction",
        ),
        (
            "%C0%AF in RoleName",
            b"Action=GetRole&Version=2010-05-08&RoleName=a%C0%AFb".to_vec(),
            true,
            "ValidationError",
        ),
        (
            "raw 0xFE in a parameter name",
            b"Action=ListRoles&Version=2010-05-08&Max\xfeItems=5".to_vec(),
            true,
            "",
        ),
    ] {
        let mut raw = Raw::query("");
        raw.body = body;
        if signed {
            raw = raw.admin_signed(&s, "iam");
        }
        let r = raw.send(&s).await;
        no_fault(&r, what);
        if expected.is_empty() {
            assert_eq!(r.status, 200, "{what}: {}", r.body);
        } else {
            assert!(
                r.status == 400 || r.status == 404,
                "{what}: {} {}",
                r.status,
                r.body
            );
            assert_eq!(r.xml_error(), expected, "{what}: {}", r.body);
        }
        n += 1;
    }
    // In the URL of a GET.
    let r = Raw {
        method: "GET",
        path_and_query: "/?Action=GetCaller%C3%28Identity&Version=2011-06-15".into(),
        headers: vec![],
        body: vec![],
    }
    .send(&s)
    .await;
    no_fault(&r, "invalid UTF-8 in the URL");
    assert_eq!(r.xml_error(), "InvalidAction");
    n += 1;
    assert_eq!(pool_count(&s).await, 0);
    assert_eq!(role_count(&s).await, 0);
    eprintln!("adversarial cases (invalid UTF-8): {n}");
}

// ---------------------------------------------------------------------------
// Wrong JSON types in every public operation
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Shape {
    Str,
    Map,
    List,
}

/// An operation, a valid input, and its members with their shapes.
type PublicOp = (&'static str, Value, Vec<(&'static str, Shape)>);

fn wrong_values(shape: Shape) -> Vec<Value> {
    match shape {
        Shape::Str => vec![json!(5), json!(true), json!([]), json!({}), json!(1.5)],
        Shape::Map => vec![
            json!("x"),
            json!(5),
            json!(["a"]),
            json!({"k": 5}),
            json!({"k": ["v"]}),
        ],
        Shape::List => vec![json!("x"), json!({}), json!([5]), json!(5), json!([["a"]])],
    }
}

#[tokio::test]
async fn wrong_json_types_in_every_public_operation() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "types", true).await;
    let guest = guest_id(&s.anonymous_cognito(), &pool).await;
    let ops: Vec<PublicOp> = vec![
        (
            "GetId",
            json!({"IdentityPoolId": pool, "AccountId": "000000000000", "Logins": {}}),
            vec![
                ("IdentityPoolId", Shape::Str),
                ("AccountId", Shape::Str),
                ("Logins", Shape::Map),
            ],
        ),
        (
            "GetOpenIdToken",
            json!({"IdentityId": guest, "Logins": {}}),
            vec![("IdentityId", Shape::Str), ("Logins", Shape::Map)],
        ),
        (
            "GetCredentialsForIdentity",
            json!({"IdentityId": guest, "Logins": {}, "CustomRoleArn": "arn:aws:iam::000000000000:role/x"}),
            vec![
                ("IdentityId", Shape::Str),
                ("Logins", Shape::Map),
                ("CustomRoleArn", Shape::Str),
            ],
        ),
        (
            "UnlinkIdentity",
            json!({"IdentityId": guest, "Logins": {}, "LoginsToRemove": []}),
            vec![
                ("IdentityId", Shape::Str),
                ("Logins", Shape::Map),
                ("LoginsToRemove", Shape::List),
            ],
        ),
    ];
    let mut n = 0;
    for (op, valid, members) in &ops {
        for (member, shape) in members {
            for wrong in wrong_values(*shape) {
                let mut body = valid.clone();
                body[*member] = wrong.clone();
                let r = Raw::json(op, &body.to_string()).send(&s).await;
                no_fault(&r, op);
                assert_eq!(r.status, 400, "{op}.{member} = {wrong}: {}", r.body);
                assert_eq!(
                    r.json_error(),
                    "SerializationException",
                    "{op}.{member} = {wrong}: {}",
                    r.body
                );
                n += 1;
            }
        }
        // The body itself of the wrong type.
        for body in ["[]", "\"GetId\"", "5", "null", "true"] {
            let r = Raw::json(op, body).send(&s).await;
            no_fault(&r, op);
            assert_eq!(r.json_error(), "SerializationException", "{op} body {body}");
            n += 1;
        }
    }
    // AssumeRoleWithWebIdentity (Query): numbers that are not numbers.
    for params in [
        "DurationSeconds=abc",
        "DurationSeconds=1e3",
        "DurationSeconds=-1",
        "DurationSeconds=99999999999999999999999",
    ] {
        let r = Raw::query(&format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::000000000000:role/x&RoleSessionName=s&WebIdentityToken=t&{params}"
        ))
        .send(&s)
        .await;
        no_fault(&r, params);
        assert_eq!(r.status, 400, "{params}: {}", r.body);
        assert_eq!(r.xml_error(), "ValidationError", "{params}: {}", r.body);
        n += 1;
    }
    assert_eq!(identity_count(&s, &pool).await, 1, "state left behind");
    let d = s
        .cognito()
        .describe_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap();
    assert!(d.logins().is_empty());
    eprintln!("adversarial cases (wrong JSON types): {n}");
}

// ---------------------------------------------------------------------------
// Unknown Query Action/Version combinations
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unknown_query_action_and_version_combinations() {
    let s = TestServer::start().await;
    let cases = [
        (
            "POST",
            "Action=GetCallerIdentity&Version=2010-05-08",
            "InvalidAction",
        ),
        (
            "POST",
            "Action=CreateRole&Version=2011-06-15&RoleName=x",
            "InvalidAction",
        ),
        ("POST", "Action=GetCallerIdentity", "InvalidAction"),
        ("POST", "Action=GetCallerIdentity&Version=", "InvalidAction"),
        (
            "POST",
            "Action=GetCallerIdentity&Version=2011-06-16",
            "InvalidAction",
        ),
        ("POST", "Action=GetId&Version=2014-06-30", "InvalidAction"),
        ("POST", "Action=GetId&Version=2011-06-15", "InvalidAction"),
        (
            "POST",
            "Action=getcalleridentity&Version=2011-06-15",
            "InvalidAction",
        ),
        ("POST", "Action=&Version=2011-06-15", "InvalidAction"),
        (
            "POST",
            "Action=AssumeRole&Version=2011-06-15",
            "InvalidAction",
        ),
        (
            "POST",
            "Action=ListUsers&Version=2010-05-08",
            "InvalidAction",
        ),
        (
            "POST",
            "Action=GetCallerIdentity%00&Version=2011-06-15",
            "InvalidAction",
        ),
        (
            "POST",
            "Action=%20GetCallerIdentity&Version=2011-06-15",
            "InvalidAction",
        ),
        ("POST", "Version=2011-06-15", "MissingAction"),
        (
            "POST",
            "action=GetCallerIdentity&version=2011-06-15",
            "MissingAction",
        ),
        ("GET", "Action=Nope&Version=2011-06-15", "InvalidAction"),
        (
            "GET",
            "Action=CreateRole&Version=2011-06-15",
            "InvalidAction",
        ),
    ];
    for (method, params, expected) in cases {
        for signed in [false, true] {
            let mut raw = if method == "GET" {
                Raw {
                    method: "GET",
                    path_and_query: format!("/?{params}"),
                    headers: vec![],
                    body: vec![],
                }
            } else {
                Raw::query(params)
            };
            let service = if params.contains("2010-05-08") {
                "iam"
            } else {
                "sts"
            };
            if signed {
                raw = raw.admin_signed(&s, service);
            }
            let r = raw.send(&s).await;
            no_fault(&r, params);
            assert_eq!(
                r.status, 400,
                "{method} {params} (signed: {signed}): {}",
                r.body
            );
            assert_eq!(r.xml_error(), expected, "{method} {params}");
            assert!(r.body.contains("<Type>Sender</Type>"), "{}", r.body);
        }
    }
    assert_eq!(role_count(&s).await, 0);
    eprintln!(
        "adversarial cases (Query Action/Version): {}",
        cases.len() * 2
    );
}

#[tokio::test]
async fn a_wrong_json_type_names_the_member() {
    let s = TestServer::start().await;
    let r = Raw::json(
        "GetId",
        r#"{"IdentityPoolId":"us-east-1:00000000-0000-0000-0000-000000000000","Logins":{"accounts.google.com":5}}"#,
    )
    .send(&s)
    .await;
    assert_eq!(r.json_error(), "SerializationException");
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("Logins"), "{message}");
}
