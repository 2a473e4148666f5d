//! Framing, errors and authentication over raw HTTP.

use std::time::{Duration, SystemTime};

use crate::common::{Raw, TestServer, create_pool};

#[tokio::test]
async fn unknown_operation_malformed_json_and_wrong_types() {
    let s = TestServer::start().await;
    let r = Raw::json("Nope", "{}")
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "UnknownOperationException");

    let r = Raw::json("ListIdentityPools", "{not json")
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "SerializationException");

    let r = Raw::json("ListIdentityPools", r#"{"MaxResults":"ten"}"#)
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "SerializationException");
    assert!(
        r.json()["message"].as_str().unwrap().contains("ten"),
        "{}",
        r.body
    );

    let r = Raw::json("ListIdentityPools", "[1,2]")
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "SerializationException");

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = Raw::json("ListIdentityPools", &deep)
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "SerializationException");

    let mut wrong_type = Raw::json("ListIdentityPools", r#"{"MaxResults":1}"#);
    wrong_type.headers[0].1 = "text/plain".into();
    let r = wrong_type
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "SerializationException");

    let r = Raw::json("ListIdentityPools", r#"{"MaxResults":1}"#)
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), serde_json::json!({"IdentityPools": []}));
    assert!(r.header("x-amzn-requestid").is_some());
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
}

/// Every operation decodes its body once, into its input: an object of its
/// members, each once and of its type, in UTF-8; anything else is a
/// SerializationException naming what is wrong.
#[tokio::test]
async fn identity_operation_bodies_are_judged_like_every_other() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "bodies", true).await;
    let get_id = |body: Vec<u8>| {
        let mut raw = Raw::json("GetId", "");
        raw.body = body;
        raw
    };
    // A member given twice is ambiguous: refused, naming it.
    let twice = format!(r#"{{"IdentityPoolId":"us-east-1:nope","IdentityPoolId":"{pool}"}}"#);
    let r = get_id(twice.into_bytes()).send(&s).await;
    assert_eq!(r.json_error(), "SerializationException", "{}", r.body);
    assert!(
        r.body.contains("duplicate field `IdentityPoolId`"),
        "{}",
        r.body
    );
    assert_eq!(crate::common::identity_count(&s, &pool).await, 0);
    // Unknown members are ignored, known ones of the wrong type are named.
    let r = get_id(format!(r#"{{"IdentityPoolId":"{pool}","Extra":[{{"a":1}}]}}"#).into_bytes())
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get_id(format!(r#"{{"IdentityPoolId":"{pool}","Logins":[]}}"#).into_bytes())
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "SerializationException");
    assert!(r.body.contains("Logins"), "{}", r.body);
    // An array is not an object, even one that would fill every member.
    let nulls = format!("[{}]", vec!["null"; 16].join(","));
    let r = get_id(nulls.into_bytes()).send(&s).await;
    assert_eq!(r.json_error(), "SerializationException");
    assert!(r.body.contains("JSON object"), "{}", r.body);
    // Text that is not UTF-8, even in a member nobody reads, is not JSON.
    let mut bad_utf8 = format!(r#"{{"IdentityPoolId":"{pool}","Extra":""#).into_bytes();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
    let r = get_id(bad_utf8).send(&s).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json_error(), "SerializationException");
    // Nesting past serde_json's limit inside an unknown member.
    let deep = format!(
        r#"{{"IdentityPoolId":"{pool}","Extra":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let r = get_id(deep.into_bytes()).send(&s).await;
    assert_eq!(r.json_error(), "SerializationException");
    // Whitespace alone is an empty input: the pool is missing.
    let r = get_id(b" \n".to_vec()).send(&s).await;
    assert_eq!(r.json_error(), "ValidationException", "{}", r.body);
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_protocol_shape() {
    let s = TestServer::start().await;
    let body = format!(
        r#"{{"MaxResults":1,"Pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let r = Raw::json("ListIdentityPools", &body).send(&s).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json_error(), "RequestEntityTooLargeException");
}

#[tokio::test]
async fn signature_failures_get_the_codes_sdks_expect() {
    let s = TestServer::start().await;
    let body = r#"{"MaxResults":5}"#;

    let r = Raw::json("ListIdentityPools", body).send(&s).await;
    assert_eq!(r.json_error(), "MissingAuthenticationTokenException");

    let admin = s.server.admin_access_key_id.clone();
    let r = Raw::json("ListIdentityPools", body)
        .signed(
            &s,
            (&admin, "not-the-secret"),
            "cognito-identity",
            SystemTime::now(),
        )
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "InvalidSignatureException");

    let r = Raw::json("ListIdentityPools", body)
        .signed(
            &s,
            ("AKIAUNKNOWN000000000", "whatever"),
            "cognito-identity",
            SystemTime::now(),
        )
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "UnrecognizedClientException");

    let secret = s.server.admin_secret_access_key.clone();
    let old = SystemTime::now() - Duration::from_secs(16 * 60);
    let r = Raw::json("ListIdentityPools", body)
        .signed(&s, (&admin, &secret), "cognito-identity", old)
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "InvalidSignatureException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired"),
        "{}",
        r.body
    );

    let future = SystemTime::now() + Duration::from_secs(16 * 60);
    let r = Raw::json("ListIdentityPools", body)
        .signed(&s, (&admin, &secret), "cognito-identity", future)
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "InvalidSignatureException");

    // 14 minutes of skew is within the window.
    let skewed = SystemTime::now() - Duration::from_secs(14 * 60);
    let r = Raw::json("ListIdentityPools", body)
        .signed(&s, (&admin, &secret), "cognito-identity", skewed)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Signed for another service.
    let r = Raw::json("ListIdentityPools", body)
        .signed(&s, (&admin, &secret), "sts", SystemTime::now())
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "InvalidSignatureException");

    // A tampered body after signing.
    let mut tampered = Raw::json("ListIdentityPools", body).admin_signed(&s, "cognito-identity");
    tampered.body = br#"{"MaxResults":6}"#.to_vec();
    let r = tampered.send(&s).await;
    assert_eq!(r.json_error(), "InvalidSignatureException");
}

#[tokio::test]
async fn query_protocol_errors_are_xml() {
    let s = TestServer::start().await;
    let r = Raw::query("Action=Nope&Version=2011-06-15").send(&s).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.xml_error(), "InvalidAction");
    assert!(r.body.contains("<Type>Sender</Type>"));

    let r = Raw::query("Version=2011-06-15").send(&s).await;
    assert_eq!(r.xml_error(), "MissingAction");

    let r = Raw::query("Action=GetCallerIdentity&Version=2011-06-15")
        .send(&s)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.xml_error(), "MissingAuthenticationToken");

    let r = Raw::query("Action=GetCallerIdentity&Version=2011-06-15")
        .signed(&s, ("AKIAUNKNOWN000000000", "x"), "sts", SystemTime::now())
        .send(&s)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.xml_error(), "InvalidClientTokenId");

    let r = Raw::query("Action=GetCallerIdentity&Version=2011-06-15")
        .admin_signed(&s, "sts")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<GetCallerIdentityResult>"), "{}", r.body);
    assert!(
        r.body
            .contains("xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"")
    );

    // IAM validation errors are Query errors of IAM.
    let r = Raw::query("Action=GetRole&Version=2010-05-08&RoleName=bad%2Fname")
        .admin_signed(&s, "iam")
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.xml_error(), "ValidationError");
}

#[tokio::test]
async fn admin_get_caller_identity_is_the_account_root() {
    let s = TestServer::start().await;
    let me = s.sts().get_caller_identity().send().await.unwrap();
    assert_eq!(me.account(), Some("000000000000"));
    assert_eq!(me.arn(), Some("arn:aws:iam::000000000000:root"));
}

#[tokio::test]
async fn health_and_metrics() {
    let s = TestServer::start().await;
    let health = reqwest::get(format!("{}/healthz", s.endpoint()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    s.cognito()
        .list_identity_pools()
        .max_results(5)
        .send()
        .await
        .unwrap();
    let _ = Raw::json("ListIdentityPools", "{}").send(&s).await;
    let metrics = reqwest::get(format!("{}/metrics", s.endpoint()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"cognate_requests_total{operation="ListIdentityPools",outcome="success"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"cognate_requests_total{operation="ListIdentityPools",outcome="client_error"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("cognate_request_duration_seconds_count{operation=\"ListIdentityPools\"} 2")
    );
}

#[tokio::test]
async fn admin_credentials_are_generated_private_and_stable() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start().await;
    let file = s.server.admin_credentials_file.clone().unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(s.server.admin_access_key_id.starts_with("AKIA"));
    let first = s.server.admin_access_key_id.clone();
    let s = s.restart().await;
    assert_eq!(s.server.admin_access_key_id, first);
}

/// §12 item 4: an admin operation without a signature is refused in the
/// JSON error shape, with its status.
#[tokio::test]
async fn unsigned_admin_calls_are_refused_with_a_status() {
    let s = TestServer::start().await;
    let r = Raw::json("ListIdentityPools", r#"{"MaxResults":5}"#)
        .send(&s)
        .await;
    assert_eq!(r.json_error(), "MissingAuthenticationTokenException");
    // The reference allows 400 or 403 (inferred); cognate answers the JSON
    // protocol's 400, and the Query protocol's 403 below.
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Request is missing Authentication Token"
    );
    let r = Raw::query("Action=ListRoles&Version=2010-05-08")
        .send(&s)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.xml_error(), "MissingAuthenticationToken");
}

/// §12 item 5: SDKs with credentials configured sign the public operations
/// too; the signature is tolerated.
#[tokio::test]
async fn signed_public_calls_are_answered() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "signed-public", true).await;
    // `cognito()` signs every call with the admin key.
    let id = s
        .cognito()
        .get_id()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    assert!(id.starts_with("us-east-1:"));
    // A signature by a key cognate does not know is ignored too.
    let r = Raw::json("GetId", &format!(r#"{{"IdentityPoolId":"{pool}"}}"#))
        .signed(
            &s,
            ("AKIAUNKNOWNKEY000000", "not-a-secret-cognate-knows"),
            "cognito-identity",
            SystemTime::now(),
        )
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["IdentityId"]
            .as_str()
            .unwrap()
            .starts_with("us-east-1:")
    );
}

/// §12 item 9: NotAuthorizedException in AWS's JSON error shape.
#[tokio::test]
async fn not_authorized_has_the_json_error_shape() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "no-guests", false).await;
    let r = Raw::json("GetId", &format!(r#"{{"IdentityPoolId":"{pool}"}}"#))
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    // json_error checks `x-amzn-ErrorType: NotAuthorizedException:` too.
    assert_eq!(r.json_error(), "NotAuthorizedException");
    assert_eq!(
        r.json()["message"],
        "Unauthenticated access is not supported for this identity pool."
    );
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
}

/// §12 items 76 and 77: map and list lengths.
#[tokio::test]
async fn login_maps_and_identity_lists_have_length_limits() {
    let s = TestServer::start().await;
    let pool = "us-east-1:00000000-0000-4000-8000-000000000000";
    let logins: serde_json::Map<String, serde_json::Value> = (0..11)
        .map(|n| (format!("login{n}.example.com"), "token".into()))
        .collect();
    let body = serde_json::json!({"IdentityPoolId": pool, "Logins": logins}).to_string();
    let r = Raw::json("GetId", &body).send(&s).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "ValidationException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("Member must have length less than or equal to 10"),
        "{}",
        r.body
    );

    let ids: Vec<String> = (0..61)
        .map(|n| format!("us-east-1:00000000-0000-4000-8000-{n:012}"))
        .collect();
    let body = serde_json::json!({ "IdentityIdsToDelete": ids }).to_string();
    let r = Raw::json("DeleteIdentities", &body)
        .admin_signed(&s, "cognito-identity")
        .send(&s)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_error(), "ValidationException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("Member must have length less than or equal to 60"),
        "{}",
        r.body
    );
}
