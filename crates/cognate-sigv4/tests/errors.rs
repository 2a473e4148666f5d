//! Parse-time rejections: exact AWS messages and codes, no secrets echoed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cognate_sigv4::{AuthParameter, ErrorKind, Request, ScopeProblem, SigV4Error};
use common::*;

const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

fn parse_with(
    headers: &[(&str, &str)],
    query: &str,
) -> Result<Option<cognate_sigv4::SignedRequestInfo>, SigV4Error> {
    cognate_sigv4::parse(&Request {
        method: "POST",
        path: "/",
        query,
        headers,
        body: b"{}",
    })
}

fn auth_error(authorization: &str) -> SigV4Error {
    let err = parse_with(
        &[
            ("host", HOST),
            ("x-amz-date", "20260101T000000Z"),
            ("authorization", authorization),
        ],
        "",
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(!message.contains(SIG), "signature echoed: {message}");
    err
}

fn auth(credential: &str, signed_headers: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={SIG}"
    )
}

#[test]
fn unsigned_request_is_none() {
    assert_eq!(parse_with(&[("host", HOST)], "").unwrap(), None);
    assert_eq!(
        parse_with(
            &[("host", HOST)],
            "Action=GetId&X-Amz-Date=20260101T000000Z"
        )
        .unwrap(),
        None
    );
    assert_eq!(parse_with(&[], "").unwrap(), None);
}

#[test]
fn unsupported_algorithm() {
    let err = auth_error("AWS4-HMAC-SHA512 Credential=a/b/c/d/aws4_request");
    assert_eq!(
        err.to_string(),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."
    );
    assert_eq!(err.aws_code_json(), "IncompleteSignatureException");
    assert_eq!(err.aws_code_query(), "IncompleteSignature");
    assert_eq!(err.kind(), ErrorKind::IncompleteSignature);

    let err = auth_error("Bearer eyJhbGciOi.secret.jwt");
    assert_eq!(err.to_string(), "Unsupported AWS 'algorithm': 'Bearer'.");

    // A bare token is never echoed.
    let err = auth_error("sk_live_0123456789");
    assert_eq!(
        err.to_string(),
        "Unsupported AWS 'algorithm': '<redacted>'."
    );
    assert!(!format!("{err:?}").contains("sk_live"));
}

#[test]
fn missing_parameters() {
    let err = auth_error("AWS4-HMAC-SHA256 Foo=Bar, Baz=Burp");
    assert_eq!(
        err.to_string(),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"
    );
    assert_eq!(err.aws_code_json(), "IncompleteSignatureException");

    let err = auth_error(&format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20260101/us-east-1/s/aws4_request, Signature={SIG}"
    ));
    assert_eq!(
        err,
        SigV4Error::MissingAuthorizationParameters {
            missing: vec![AuthParameter::SignedHeaders],
            algorithm: "AWS4-HMAC-SHA256".to_string(),
        }
    );
    assert_eq!(
        err.to_string(),
        "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"
    );

    // Empty values count as missing.
    let err = auth_error("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=");
    assert!(matches!(
        err,
        SigV4Error::MissingAuthorizationParameters { ref missing, .. }
            if *missing == vec![AuthParameter::Credential, AuthParameter::Signature]
    ));

    // No date header at all.
    let err = parse_with(
        &[
            ("host", HOST),
            (
                "authorization",
                &auth(&format!("{AKID}/20260101/r/s/aws4_request"), "host"),
            ),
        ],
        "",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"
    );
    assert!(!err.to_string().contains(SIG));

    let err = auth_error("AWS4-HMAC-SHA256");
    assert!(
        matches!(err, SigV4Error::MissingAuthorizationParameters { ref missing, .. } if missing.len() == 3)
    );
}

#[test]
fn missing_equal_sign_is_hashed_not_echoed() {
    let header = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20260101/r/s/aws4_request, SignedHeaders=host, Signature {SIG}"
    );
    let err = auth_error(&header);
    let message = err.to_string();
    assert!(message.starts_with(
        "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '"
    ), "{message}");
    assert!(!message.contains(AKID));
    assert_eq!(err.aws_code_query(), "IncompleteSignature");
}

#[test]
fn duplicate_parameters_and_headers() {
    let err = auth_error(&format!(
        "AWS4-HMAC-SHA256 Credential=a/20260101/r/s/aws4_request, Credential=b/20260101/r/s/aws4_request, SignedHeaders=host, Signature={SIG}"
    ));
    assert!(matches!(err, SigV4Error::Malformed { .. }));
    assert_eq!(err.aws_code_json(), "IncompleteSignatureException");

    let good = auth(
        &format!("{AKID}/20260101/r/s/aws4_request"),
        "host;x-amz-date",
    );
    let err = parse_with(
        &[
            ("host", HOST),
            ("x-amz-date", "20260101T000000Z"),
            ("Authorization", &good),
            ("authorization", &good),
        ],
        "",
    )
    .unwrap_err();
    assert!(matches!(err, SigV4Error::Malformed { .. }));
    assert!(!err.to_string().contains(SIG));

    let err = parse_with(
        &[
            ("host", HOST),
            ("x-amz-date", "20260101T000000Z"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("authorization", &good),
        ],
        "",
    )
    .unwrap_err();
    assert!(matches!(err, SigV4Error::Malformed { .. }));
}

#[test]
fn malformed_credential() {
    let err = auth_error(&auth(AKID, "host;x-amz-date"));
    assert_eq!(
        err.to_string(),
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE'"
    );
    assert_eq!(err.aws_code_json(), "IncompleteSignatureException");
    let err = auth_error(&auth(
        &format!("{AKID}/20260101/r/s/aws4_request/x"),
        "host;x-amz-date",
    ));
    assert!(matches!(err, SigV4Error::MalformedCredential { .. }));
    let err = auth_error(&auth("/20260101/r/s/aws4_request", "host;x-amz-date"));
    assert!(matches!(err, SigV4Error::MalformedCredential { .. }));
}

#[test]
fn credential_scope_problems() {
    let err = auth_error(&auth(
        &format!("{AKID}/20260101/us-east-1/s/aws5_request"),
        "host;x-amz-date",
    ));
    assert_eq!(
        err.to_string(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    assert_eq!(err.aws_code_json(), "InvalidSignatureException");
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");

    let err = auth_error(&auth(
        &format!("{AKID}/20251231/us-east-1/s/aws4_request"),
        "host;x-amz-date",
    ));
    assert_eq!(
        err.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20251231' != '20260101', from '20260101T000000Z'."
    );
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");

    let err = auth_error(&auth(
        &format!("{AKID}/foobar/us-east-1/s/aws5_request"),
        "host;x-amz-date",
    ));
    assert_eq!(
        err.to_string(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'foobar' != '20260101', from '20260101T000000Z'."
    );
}

#[test]
fn check_scope_region_and_service() {
    let info = Spec::new("GET", "/").sign().info();
    info.check_scope(REGION, SERVICE).unwrap();
    let err = info.check_scope("eu-west-1", "sts").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Credential should be scoped to a valid region, not 'us-east-1'. Credential should be scoped to correct service: 'sts'."
    );
    assert_eq!(
        err,
        SigV4Error::InvalidCredentialScope {
            problems: vec![
                ScopeProblem::Region {
                    got: "us-east-1".to_string()
                },
                ScopeProblem::Service {
                    expected: "sts".to_string()
                },
            ]
        }
    );
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");
}

#[test]
fn host_must_be_signed_and_signed_headers_present() {
    let err = auth_error(&auth(
        &format!("{AKID}/20260101/r/s/aws4_request"),
        "x-amz-date",
    ));
    assert_eq!(err, SigV4Error::HostNotSigned);
    assert_eq!(
        err.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert_eq!(err.aws_code_json(), "InvalidSignatureException");

    let err = auth_error(&auth(
        &format!("{AKID}/20260101/r/s/aws4_request"),
        "host;x-amz-date;x-amz-target",
    ));
    assert_eq!(
        err,
        SigV4Error::SignedHeaderNotPresent {
            name: "x-amz-target".to_string()
        }
    );
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");

    let err = auth_error(&auth(
        &format!("{AKID}/20260101/r/s/aws4_request"),
        "host;;x-amz-date",
    ));
    assert!(matches!(err, SigV4Error::Malformed { .. }));

    // Presigned form: host is required too.
    let signed = Spec::new("GET", "/")
        .presigned(Duration::from_secs(60))
        .sign();
    let mut t = signed.clone();
    t.query = t
        .query
        .replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date");
    assert_eq!(t.parse().unwrap_err(), SigV4Error::HostNotSigned);
    // And a missing host header is a missing signed header.
    let mut t = signed.clone();
    t.remove_header("host");
    assert_eq!(
        t.parse().unwrap_err(),
        SigV4Error::SignedHeaderNotPresent {
            name: "host".to_string()
        }
    );
}

#[test]
fn invalid_dates() {
    let credential = format!("{AKID}/20260101/r/s/aws4_request");
    for bad in [
        "2026-01-01T00:00:00Z",
        "20260101",
        "20261301T000000Z",
        "1767225600",
    ] {
        let err = parse_with(
            &[
                ("host", HOST),
                ("x-amz-date", bad),
                ("authorization", &auth(&credential, "host;x-amz-date")),
            ],
            "",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )
        );
        assert_eq!(err.aws_code_json(), "IncompleteSignatureException");
    }
    let err = parse_with(
        &[
            ("host", HOST),
            ("date", "yesterday"),
            ("authorization", &auth(&credential, "host;date")),
        ],
        "",
    )
    .unwrap_err();
    assert!(matches!(err, SigV4Error::InvalidDate { .. }));

    let signed = Spec::new("GET", "/")
        .presigned(Duration::from_secs(60))
        .sign();
    let mut t = signed.clone();
    t.query = t
        .query
        .replace("X-Amz-Date=20260101T000000Z", "X-Amz-Date=2026-01-01");
    assert!(matches!(
        t.parse().unwrap_err(),
        SigV4Error::InvalidDate { .. }
    ));
}

#[test]
fn presigned_parameter_errors() {
    let signed = Spec::new("GET", "/?a=1")
        .presigned(Duration::from_secs(60))
        .sign();
    let signature = signed.signature();

    // Each required parameter removed in turn.
    for name in [
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Algorithm",
    ] {
        let mut t = signed.clone();
        t.query = t
            .query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect::<Vec<_>>()
            .join("&");
        let err = t.parse().unwrap_err();
        assert_eq!(
            err,
            SigV4Error::MissingPresignParameters {
                missing: vec![match name {
                    "X-Amz-Credential" => "X-Amz-Credential",
                    "X-Amz-Date" => "X-Amz-Date",
                    "X-Amz-Expires" => "X-Amz-Expires",
                    "X-Amz-SignedHeaders" => "X-Amz-SignedHeaders",
                    "X-Amz-Signature" => "X-Amz-Signature",
                    _ => "X-Amz-Algorithm",
                }]
            },
            "{name}"
        );
        assert_eq!(err.aws_code_json(), "IncompleteSignatureException");
        assert!(!err.to_string().contains(&signature));
    }

    let mut t = signed.clone();
    t.query = t.query.replace(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256",
    );
    assert_eq!(
        t.parse().unwrap_err().to_string(),
        "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'."
    );

    let mut t = signed.clone();
    t.query.push_str("&X-Amz-Credential=x");
    assert!(matches!(
        t.parse().unwrap_err(),
        SigV4Error::Malformed { .. }
    ));

    // Both mechanisms at once.
    let mut t = signed.clone();
    t.add_header(
        "Authorization",
        &auth(&format!("{AKID}/20260101/r/s/aws4_request"), "host"),
    );
    let err = t.parse().unwrap_err();
    assert_eq!(err, SigV4Error::MultipleAuthMechanisms);
    assert_eq!(err.aws_code_query(), "IncompleteSignature");
}

#[test]
fn presigned_signature_only_is_still_presigned() {
    // A lone X-Amz-Signature marks the request as (broken) presigned, not unsigned.
    let err = parse_with(&[("host", HOST)], &format!("X-Amz-Signature={SIG}")).unwrap_err();
    assert!(matches!(err, SigV4Error::MissingPresignParameters { .. }));
    assert!(!err.to_string().contains(SIG));
}

#[test]
fn mismatch_message_and_codes() {
    let mut signed = Spec::new("POST", "/").body(b"{}").sign();
    signed.body = b"{ }".to_vec();
    let err = signed.verify().unwrap_err();
    assert_eq!(
        err.to_string(),
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    );
    assert_eq!(err.aws_code_json(), "InvalidSignatureException");
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");
    assert_eq!(err.kind().http_status_query(), 403);
    assert!(!format!("{err:?}").contains(&signed.signature()));
    assert!(!format!("{err:?}").contains(SECRET));
}
