//! Framing, errors and authentication over raw HTTP.

use std::time::{Duration, SystemTime};

use crate::common::{Raw, TestServer};

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
