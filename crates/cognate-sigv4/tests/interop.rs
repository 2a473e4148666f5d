//! Requests signed by the official `aws-sigv4` crate must verify; tampered ones must not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use aws_sigv4::http_request::{PercentEncodingMode, UriPathNormalizationMode};
use cognate_sigv4::SigV4Error;
use common::*;

#[test]
fn get_header_form_verifies_and_parses() {
    let signed = Spec::new("GET", "/").sign();
    let info = signed.verify().unwrap();
    assert_eq!(info.access_key_id, AKID);
    assert_eq!(info.date, "20260101");
    assert_eq!(info.region, REGION);
    assert_eq!(info.service, SERVICE);
    assert_eq!(info.signed_headers, vec!["host", "x-amz-date"]);
    assert_eq!(info.amz_date, "20260101T000000Z");
    assert_eq!(info.request_time, t0());
    assert_eq!(info.security_token, None);
    assert_eq!(info.presigned_expires, None);
    assert!(!info.is_presigned());
    assert_eq!(info.signature, signed.signature());
    assert_eq!(info.signature.len(), 64);
    assert_eq!(
        info.credential_scope(),
        "20260101/us-east-1/cognito-identity/aws4_request"
    );
    // Debug never shows the signature.
    assert!(!format!("{info:?}").contains(&info.signature));
}

#[test]
fn post_json_body() {
    let body = br#"{"IdentityPoolId":"us-east-1:0000-1111","Logins":{"a":"b"}}"#;
    let signed = Spec::new("POST", "/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityService.GetId")
        .body(body)
        .sign();
    let info = signed.verify().unwrap();
    assert_eq!(
        info.signed_headers,
        vec!["content-type", "host", "x-amz-date", "x-amz-target"]
    );
}

#[test]
fn post_form_body() {
    let mut spec = Spec::new("POST", "/")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&WebIdentityToken=a.b.c");
    spec.service = "sts".to_string();
    let info = spec.sign().verify().unwrap();
    assert_eq!(info.service, "sts");
}

#[test]
fn header_values_are_trimmed_and_collapsed() {
    let signed = Spec::new("POST", "/")
        .header("x-amz-meta-spaces", "  a   b    c  ")
        .header("x-amz-meta-repeat", "one")
        .header("x-amz-meta-repeat", " two ")
        .body(b"{}")
        .sign();
    signed.verify().unwrap();
}

#[test]
fn header_names_any_case_and_unsigned_headers_ignored() {
    let mut signed = Spec::new("POST", "/")
        .header("x-amz-target", "AWSCognitoIdentityService.GetId")
        .body(b"{}")
        .sign();
    for (name, _) in &mut signed.headers {
        *name = name.to_ascii_uppercase();
    }
    signed.add_header("User-Agent", "aws-sdk-rust/1.0");
    signed.add_header("X-Forwarded-For", "10.0.0.1");
    signed.add_header("x-unsigned", "a");
    signed.add_header("x-unsigned", "b");
    signed.verify().unwrap();
}

#[test]
fn query_strings() {
    let queries = [
        "a=b",
        "Action=ListUsers&Version=2010-05-08",
        "space=a%20b&plus=a+b",
        "eq=x%3Dy&raw=x=y",
        "unicode=%E2%9C%93%F0%9F%A6%80&%C3%A9=accent",
        "r=2&r=1&r=10&r=",
        "empty=&flag&=novalue",
        "z=1&a=2&A=3&_=4&~=5&-=6",
        "reserved=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D",
        "tilde=~&dot=.&under=_&dash=-",
        "lower=%e2%9c%93",
        "pct=%25",
        "a=1&&b=2&",
        "X-Amz-Foo=bar",
    ];
    for query in queries {
        let signed = Spec::new("GET", &format!("/?{query}")).sign();
        assert_eq!(signed.query, query);
        signed
            .verify()
            .unwrap_or_else(|e| panic!("query {query:?}: {e:?}"));
        let presigned = Spec::new("GET", &format!("/?{query}"))
            .presigned(Duration::from_secs(300))
            .sign();
        presigned
            .verify()
            .unwrap_or_else(|e| panic!("presigned query {query:?}: {e:?}"));
    }
}

/// A malformed escape or invalid UTF-8 canonicalises like another query
/// (`%zz` like `%25zz`, `%ff` like `%EF%BF%BD`): such a query is refused
/// rather than verified, so a signed query cannot be rewritten.
#[test]
fn malformed_query_escapes_are_refused() {
    for query in ["badpct=%zz", "id=%ff", "half=%2"] {
        let signed = Spec::new("GET", &format!("/?{query}")).sign();
        let err = signed.verify().unwrap_err();
        assert!(
            err.to_string().contains("not valid percent-encoded UTF-8"),
            "{query}: {err}"
        );
    }
}

#[test]
fn odd_paths() {
    let paths = [
        "/",
        "/a%20b/",
        "/%2F",
        "//double",
        "/a//b///c",
        "/%E2%9C%93/%F0%9F%A6%80",
        "/a/./b/../c",
        "/a/b/..",
        "/../x",
        "/a:b@c!$'()*+,;=",
        "/100%25",
        "/%2525",
        "/~user/-._",
        "/trailing/",
        "/%2e%2E/x",
        "/a%2Fb%3Fc%23d",
    ];
    for path in paths {
        let signed = Spec::new("GET", path).sign();
        assert_eq!(signed.path, path);
        signed
            .verify()
            .unwrap_or_else(|e| panic!("path {path:?}: {e:?}"));
        let presigned = Spec::new("GET", &format!("{path}?x=1"))
            .presigned(Duration::from_secs(60))
            .sign();
        presigned
            .verify()
            .unwrap_or_else(|e| panic!("presigned path {path:?}: {e:?}"));
    }
}

#[test]
fn aws_sigv4_double_encodes_the_path() {
    // `/100%25` is only accepted in its double-encoded form (`/100%2525`): the
    // single-encoded candidate is not offered for paths containing `%25`.
    Spec::new("GET", "/100%25").sign().verify().unwrap();

    // The canonical request reported on mismatch is the SDK-default one.
    let mut signed = Spec::new("GET", "/%2F/a%20b//c").sign();
    signed.set_header("x-amz-date", "20260101T000001Z");
    match signed.verify() {
        Err(SigV4Error::SignatureMismatch {
            canonical_request,
            string_to_sign,
        }) => {
            let lines: Vec<&str> = canonical_request.lines().collect();
            assert_eq!(lines[0], "GET");
            assert_eq!(lines[1], "/%252F/a%2520b/c");
            assert!(string_to_sign.starts_with(
                "AWS4-HMAC-SHA256\n20260101T000001Z\n20260101/us-east-1/cognito-identity/aws4_request\n"
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn single_encoding_and_unnormalized_signers_are_accepted() {
    for path in ["/a%20b/", "/%2F", "//double/./x", "/a:b", "/%E2%9C%93"] {
        for encoding in [PercentEncodingMode::Single, PercentEncodingMode::Double] {
            for normalization in [
                UriPathNormalizationMode::Enabled,
                UriPathNormalizationMode::Disabled,
            ] {
                let mut spec = Spec::new("GET", path);
                spec.encoding = encoding;
                spec.normalization = normalization;
                spec.sign()
                    .verify()
                    .unwrap_or_else(|e| panic!("{path} {encoding:?} {normalization:?}: {e:?}"));
            }
        }
    }
    // Documented limitation: single-encoded signatures over paths containing
    // `%25` are refused (they would be ambiguous with double encoding).
    let mut spec = Spec::new("GET", "/100%25");
    spec.encoding = PercentEncodingMode::Single;
    assert_mismatch(spec.sign().verify());
}

#[test]
fn session_token_header_form() {
    let signed = Spec::new("POST", "/")
        .token("FwoGZXIvYXdzEJr//////////token+with/special=chars")
        .body(b"{}")
        .sign();
    let info = signed.verify().unwrap();
    assert_eq!(
        info.security_token.as_deref(),
        Some("FwoGZXIvYXdzEJr//////////token+with/special=chars")
    );
    assert!(
        info.signed_headers
            .contains(&"x-amz-security-token".to_string())
    );
    assert!(!format!("{info:?}").contains("FwoGZXIvYXdz"));

    let mut tampered = signed.clone();
    tampered.set_header("x-amz-security-token", "FwoGZXIvYXdzEJrOTHER");
    match tampered.verify() {
        Err(SigV4Error::SignatureMismatch {
            canonical_request, ..
        }) => {
            assert!(canonical_request.contains("x-amz-security-token:<redacted>\n"));
            assert!(!canonical_request.contains("FwoGZXIvYXdzEJrOTHER"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn session_token_presigned() {
    let signed = Spec::new("GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
        .token("session+token/==")
        .presigned(Duration::from_secs(60))
        .sign();
    assert!(signed.query.contains("X-Amz-Security-Token="));
    let info = signed.verify().unwrap();
    assert_eq!(info.security_token.as_deref(), Some("session+token/=="));
    assert_eq!(info.presigned_expires, Some(60));
    assert!(info.is_presigned());
    assert_eq!(info.signed_headers, vec!["host"]);

    let mut tampered = signed.clone();
    tampered.query = tampered.query.replace(
        "X-Amz-Security-Token=session",
        "X-Amz-Security-Token=Session",
    );
    assert_ne!(tampered.query, signed.query);
    assert_mismatch(tampered.verify());
}

#[test]
fn unsigned_payload_only_without_a_body() {
    // Signed over UNSIGNED-PAYLOAD with no body: nothing is left unsigned.
    let mut spec = Spec::new("GET", "/object");
    spec.unsigned_payload = true;
    spec.content_sha256_header = true;
    let mut signed = spec.sign();
    assert_eq!(
        signed.header("x-amz-content-sha256"),
        Some("UNSIGNED-PAYLOAD")
    );
    signed.verify().unwrap();
    // With a body the signature would not cover it, whether or not it is
    // the body the client sent: refused.
    signed.body = b"original body".to_vec();
    assert!(matches!(
        signed.verify().unwrap_err(),
        SigV4Error::UnsignedPayload
    ));
    let mut spec = Spec::new("PUT", "/upload").body(b"original body");
    spec.unsigned_payload = true;
    spec.content_sha256_header = true;
    let err = spec.sign().verify().unwrap_err();
    assert!(matches!(err, SigV4Error::UnsignedPayload));
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");
    // The marker itself is signed.
    let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    signed.body = Vec::new();
    signed.set_header("x-amz-content-sha256", sha);
    assert_mismatch(signed.verify());
}

#[test]
fn presigned_unsigned_payload_only_without_a_body() {
    let mut spec = Spec::new("GET", "/object").presigned(Duration::from_secs(60));
    spec.unsigned_payload = true;
    let mut signed = spec.sign();
    signed.verify().unwrap();
    // A body added to a URL signed over UNSIGNED-PAYLOAD is not covered.
    signed.body = b"any body".to_vec();
    assert_mismatch(signed.verify());
    // A presigned request signed over its body verifies with that body only.
    let spec = Spec::new("POST", "/submit")
        .presigned(Duration::from_secs(60))
        .body(b"the body");
    let mut signed = spec.sign();
    signed.verify().unwrap();
    signed.body = b"another body".to_vec();
    assert_mismatch(signed.verify());
}

#[test]
fn content_sha256_header() {
    let mut spec = Spec::new("POST", "/").body(b"{\"a\":1}");
    spec.content_sha256_header = true;
    let signed = spec.sign();
    assert!(signed.header("x-amz-content-sha256").is_some());
    signed.verify().unwrap();

    let mut tampered = signed.clone();
    tampered.body = b"{\"a\":2}".to_vec();
    let err = tampered.verify().unwrap_err();
    assert_eq!(err, SigV4Error::ContentSha256Mismatch);
    assert_eq!(err.aws_code_json(), "InvalidSignatureException");

    let mut tampered = signed.clone();
    tampered.set_header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let err = tampered.verify().unwrap_err();
    assert_eq!(err, SigV4Error::InvalidContentSha256);
    assert_eq!(err.aws_code_query(), "IncompleteSignature");
}

#[test]
fn presigned_expiry() {
    let signed = Spec::new("GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
        .presigned(Duration::from_secs(900))
        .sign();
    assert!(signed.query.contains("X-Amz-Expires=900"));
    assert!(signed.header("authorization").is_none());
    signed.verify_at(t0()).unwrap();
    signed.verify_at(t0() + Duration::from_secs(899)).unwrap();
    signed.verify_at(t0() + Duration::from_secs(900)).unwrap();
    // Presigned URLs may be used well after 15 minutes, within X-Amz-Expires.
    let long = Spec::new("GET", "/")
        .presigned(Duration::from_secs(604_800))
        .sign();
    long.verify_at(t0() + Duration::from_secs(604_800)).unwrap();
    let err = long
        .verify_at(t0() + Duration::from_secs(604_801))
        .unwrap_err();
    assert!(matches!(err, SigV4Error::PresignedUrlExpired { .. }));

    let err = signed
        .verify_at(t0() + Duration::from_secs(901))
        .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::PresignedUrlExpired {
            expires: "20260101T001500Z".to_string(),
            now: "20260101T001501Z".to_string(),
        }
    );
    assert_eq!(err.to_string(), "Request has expired");
    assert_eq!(err.aws_code_json(), "AccessDeniedException");
    assert_eq!(err.aws_code_query(), "AccessDenied");

    // Not usable long before its date either.
    signed.verify_at(t0() - minutes(14)).unwrap();
    let err = signed.verify_at(t0() - minutes(16)).unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureNotYetCurrent { .. }));
}

#[test]
fn presigned_expires_bounds() {
    let signed = Spec::new("GET", "/")
        .presigned(Duration::from_secs(900))
        .sign();
    for (value, message) in [
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ),
        ("-1", "X-Amz-Expires must be non-negative"),
        ("abc", "X-Amz-Expires should be a number"),
        (
            "",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ),
    ] {
        let mut tampered = signed.clone();
        tampered.query = tampered
            .query
            .replace("X-Amz-Expires=900", &format!("X-Amz-Expires={value}"));
        let err = tampered.parse().unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.aws_code_json(), "IncompleteSignatureException");
    }
    // A longer lifetime than signed: signature mismatch.
    let mut tampered = signed.clone();
    tampered.query = tampered
        .query
        .replace("X-Amz-Expires=900", "X-Amz-Expires=901");
    assert_mismatch(tampered.verify());
}

fn tamper_base() -> Signed {
    Spec::new("POST", "/path/x?Action=Do&b=2")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityService.GetId")
        .body(b"{\"IdentityPoolId\":\"us-east-1:abc\"}")
        .sign()
}

#[test]
fn tampering_is_rejected() {
    let base = tamper_base();
    base.verify().unwrap();

    let mut t = base.clone();
    t.body = b"{\"IdentityPoolId\":\"us-east-1:abd\"}".to_vec();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.body.clear();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.set_header(
        "x-amz-target",
        "AWSCognitoIdentityService.GetCredentialsForIdentity",
    );
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.add_header("x-amz-target", "again");
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.set_header("host", "evil.example.com");
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.method = "PUT".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.method = "post".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.path = "/path/y".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.path = "/path/x/".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.query = "Action=Do&b=3".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.query = "Action=Do&b=2&c=1".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.query = "Action=Do".to_string();
    assert_mismatch(t.verify());

    // Date moved by one second (still within the skew window).
    let mut t = base.clone();
    t.set_header("x-amz-date", "20260101T000001Z");
    assert_mismatch(t.verify());

    // Region in the credential scope.
    let mut t = base.clone();
    let auth = t.authorization().replace("/us-east-1/", "/us-west-2/");
    t.set_header("authorization", &auth);
    assert_mismatch(t.verify());

    // Service in the credential scope.
    let mut t = base.clone();
    let auth = t.authorization().replace("/cognito-identity/", "/sts/");
    t.set_header("authorization", &auth);
    assert_mismatch(t.verify());

    // Access key: the server looks up another secret.
    let mut t = base.clone();
    let auth = t.authorization().replace(AKID, OTHER_AKID);
    t.set_header("authorization", &auth);
    assert_eq!(t.info().access_key_id, OTHER_AKID);
    assert_mismatch(t.verify());

    // Wrong secret.
    base.with(|req| {
        let info = cognate_sigv4::parse(req).unwrap().unwrap();
        let err = cognate_sigv4::verify(req, &info, OTHER_SECRET, t0()).unwrap_err();
        assert!(matches!(err, SigV4Error::SignatureMismatch { .. }));
    });

    // Signature: every hex digit position matters.
    let signature = base.signature();
    for i in [0, 31, 63] {
        let mut chars: Vec<char> = signature.chars().collect();
        chars[i] = if chars[i] == '0' { '1' } else { '0' };
        let forged: String = chars.into_iter().collect();
        let mut t = base.clone();
        let auth = t.authorization().replace(&signature, &forged);
        t.set_header("authorization", &auth);
        assert_mismatch(t.verify());
    }
    // Truncated / non-hex signatures.
    for forged in ["abcd", "zz", &signature[..62]] {
        let mut t = base.clone();
        let auth = t.authorization().replace(&signature, forged);
        t.set_header("authorization", &auth);
        assert_mismatch(t.verify());
    }
    // Upper-case hex of the right signature is still the right signature.
    let mut t = base.clone();
    let auth = t
        .authorization()
        .replace(&signature, &signature.to_ascii_uppercase());
    t.set_header("authorization", &auth);
    t.verify().unwrap();
}

#[test]
fn tampering_presigned_is_rejected() {
    let base = Spec::new("GET", "/p?Action=GetCallerIdentity&Version=2011-06-15")
        .presigned(Duration::from_secs(900))
        .sign();
    base.verify().unwrap();

    // The access key id is part of X-Amz-Credential, hence of the canonical
    // query: even with the same secret the signature no longer matches.
    let mut t = base.clone();
    t.query = t.query.replace(AKID, "AKIDEXAMPLF");
    t.with(|req| {
        let info = cognate_sigv4::parse(req).unwrap().unwrap();
        assert_eq!(info.access_key_id, "AKIDEXAMPLF");
        let err = cognate_sigv4::verify(req, &info, SECRET, t0()).unwrap_err();
        assert!(matches!(err, SigV4Error::SignatureMismatch { .. }));
    });

    let mut t = base.clone();
    t.query = t.query.replace("us-east-1", "us-west-2");
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.query = t.query.replace("Version=2011-06-15", "Version=2011-06-16");
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.query = t
        .query
        .replace("X-Amz-Date=20260101T000000Z", "X-Amz-Date=20260101T000100Z");
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.path = "/q".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.method = "POST".to_string();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.body = b"x".to_vec();
    assert_mismatch(t.verify());

    let mut t = base.clone();
    t.query.push_str("&extra=1");
    assert_mismatch(t.verify());

    // Unsigned header added: fine.
    let mut t = base.clone();
    t.add_header("x-whatever", "1");
    t.verify().unwrap();
}

#[test]
fn clock_skew() {
    let signed = Spec::new("GET", "/").sign();
    signed.verify_at(t0() + minutes(14)).unwrap();
    signed.verify_at(t0() - minutes(14)).unwrap();
    signed.verify_at(t0() + minutes(15)).unwrap();
    signed.verify_at(t0() - minutes(15)).unwrap();

    let err = signed.verify_at(t0() + minutes(16)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::SignatureExpired {
            request_time: "20260101T000000Z".to_string(),
            earliest: "20260101T000100Z".to_string(),
            now: "20260101T001600Z".to_string(),
        }
    );
    assert_eq!(
        err.to_string(),
        "Signature expired: 20260101T000000Z is now earlier than 20260101T000100Z (20260101T001600Z - 15 min.)"
    );
    assert_eq!(err.aws_code_json(), "InvalidSignatureException");
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");
    assert!(err.is_clock_skew());

    let err = signed.verify_at(t0() - minutes(16)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Signature not yet current: 20260101T000000Z is still later than 20251231T235900Z (20251231T234400Z + 15 min.)"
    );
    assert!(matches!(err, SigV4Error::SignatureNotYetCurrent { .. }));
    assert_eq!(err.aws_code_json(), "InvalidSignatureException");
    assert_eq!(err.aws_code_query(), "SignatureDoesNotMatch");

    // One second past the window.
    assert!(
        signed
            .verify_at(t0() + minutes(15) + Duration::from_secs(1))
            .unwrap_err()
            .is_clock_skew()
    );
}

#[test]
fn date_header_instead_of_x_amz_date() {
    // aws-sigv4 always signs x-amz-date; without it the request is refused.
    let mut signed = Spec::new("GET", "/").sign();
    signed.remove_header("x-amz-date");
    signed.add_header("Date", "Thu, 01 Jan 2026 00:00:00 GMT");
    assert!(matches!(
        signed.parse(),
        Err(SigV4Error::SignedHeaderNotPresent { ref name }) if name == "x-amz-date"
    ));

    // A signer relying on the `Date` header (signature computed with
    // aws-sigv4's own primitives): the ISO-8601 form of `Date` is signed.
    let canonical_request = format!(
        "POST\n/\n\ndate:Thu, 01 Jan 2026 00:00:00 GMT\nhost:{HOST}\n\ndate;host\n{}",
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"{}"))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/{REGION}/{SERVICE}/aws4_request\n{}",
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical_request.as_bytes()
        ))
    );
    let key = aws_sigv4::sign::v4::generate_signing_key(SECRET, t0(), REGION, SERVICE);
    let signature = aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes());
    let signed = Signed {
        method: "POST".to_string(),
        path: "/".to_string(),
        query: String::new(),
        headers: vec![
            ("Host".to_string(), HOST.to_string()),
            (
                "Date".to_string(),
                "Thu, 01 Jan 2026 00:00:00 GMT".to_string(),
            ),
            (
                "Authorization".to_string(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={AKID}/20260101/{REGION}/{SERVICE}/aws4_request, SignedHeaders=date;host, Signature={signature}"
                ),
            ),
        ],
        body: b"{}".to_vec(),
    };
    let info = signed.verify().unwrap();
    assert_eq!(info.amz_date, "20260101T000000Z");
    assert_eq!(info.request_time, t0());

    // An X-Amz-Date header takes precedence over Date.
    let mut t = signed.clone();
    t.add_header("X-Amz-Date", "20260101T000001Z");
    assert_mismatch(t.verify());

    let mut t = signed.clone();
    t.set_header("date", "Thu, 01 Jan 2026 00:00:01 GMT");
    assert_mismatch(t.verify());
}

/// Vectors from the AWS SigV4 test suite (`get-vanilla`, `normalize-path`),
/// independent of the aws-sigv4 crate.
#[test]
fn aws_test_suite_vectors() {
    let at = |time: &str, path: &str, signature: &str| Signed {
        method: "GET".to_string(),
        path: path.to_string(),
        query: String::new(),
        headers: vec![
            ("Host".to_string(), "example.amazonaws.com".to_string()),
            ("X-Amz-Date".to_string(), time.to_string()),
            (
                "Authorization".to_string(),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
                ),
            ),
        ],
        body: Vec::new(),
    };
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 20150830T123600Z
    at(
        "20150830T123600Z",
        "/",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    )
    .verify_at(now)
    .unwrap();
    // Normalised path (non-S3 signers).
    at(
        "20150830T123600Z",
        "/a/path/../to//something",
        "444cab3690e122afc941d086f06cfbc82c1b4f5c553e32ac81e7629a82ff3831",
    )
    .verify_at(now)
    .unwrap();
    // Same path signed without normalisation (S3-style signers).
    at(
        "20150830T123600Z",
        "/a/path/../to//something",
        "b475de2c96e7bfdfe03bd784d948218730ef62f48ac8bb9f2922af9a44f8657c",
    )
    .verify_at(now)
    .unwrap();
    assert_mismatch(
        at(
            "20150830T123600Z",
            "/a/path/../to//something/else",
            "444cab3690e122afc941d086f06cfbc82c1b4f5c553e32ac81e7629a82ff3831",
        )
        .verify_at(now),
    );
}

#[test]
fn signing_key_matches_aws_documentation() {
    // https://docs.aws.amazon.com/general/latest/gr/signature-v4-examples.html
    let key = cognate_sigv4::signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "20120215",
        "us-east-1",
        "iam",
    );
    assert_eq!(
        hex::encode(key),
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    );
}

#[test]
fn verify_with_cached_signing_key() {
    let signed = tamper_base();
    signed.with(|req| {
        let info = cognate_sigv4::parse(req).unwrap().unwrap();
        let key = cognate_sigv4::signing_key(SECRET, &info.date, &info.region, &info.service);
        cognate_sigv4::verify_with_signing_key(req, &info, &key, t0()).unwrap();
        let wrong = cognate_sigv4::signing_key(SECRET, &info.date, "eu-west-1", &info.service);
        assert!(matches!(
            cognate_sigv4::verify_with_signing_key(req, &info, &wrong, t0()),
            Err(SigV4Error::SignatureMismatch { .. })
        ));
    });
}
