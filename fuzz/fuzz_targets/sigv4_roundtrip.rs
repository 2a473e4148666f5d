//! Differential: whatever the `aws-sigv4` crate (the Rust SDK's signer)
//! signs, cognate must verify. The input is a request in the fuzz text
//! format; only requests that `http` would accept over the wire are used
//! (the server sees nothing else), and the path/query come from `http::Uri`
//! as the server gets them.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use cognate_fuzz::{TextRequest, aws_sign};
use libfuzzer_sys::fuzz_target;

const KEY: (&str, &str) = ("AKIAROUNDTRIP0000000", "roundtrip/secret");

fuzz_target!(|data: &[u8]| {
    let t = TextRequest::parse(data);
    let Ok(method) = http::Method::from_bytes(t.method.as_bytes()) else {
        return;
    };
    let target = if t.query.is_empty() {
        t.path.clone()
    } else {
        format!("{}?{}", t.path, t.query)
    };
    let Ok(uri) = target.parse::<http::Uri>() else {
        return;
    };
    if uri.scheme().is_some() || uri.authority().is_some() || !uri.path().starts_with('/') {
        return;
    }
    // Presigned-URL parameters next to an Authorization header are refused
    // as ambiguous: not a signer/verifier disagreement.
    if uri
        .query()
        .is_some_and(|q| q.to_ascii_lowercase().contains("x-amz-"))
    {
        return;
    }
    // Headers as the server's HeaderMap would hold them: valid names
    // (lower-cased), values that are visible ASCII, no signer-owned names.
    let mut headers: Vec<(String, String)> = vec![("host".into(), "example.com".into())];
    for (k, v) in &t.headers {
        let Ok(name) = http::HeaderName::from_bytes(k.as_bytes()) else {
            return;
        };
        let Ok(value) = http::HeaderValue::from_str(v) else {
            return;
        };
        if value.to_str().is_err() {
            return;
        }
        let name = name.as_str().to_string();
        if matches!(
            name.as_str(),
            "host"
                | "authorization"
                | "date"
                | "x-amz-date"
                | "x-amz-security-token"
                | "x-amz-content-sha256"
        ) {
            return;
        }
        // Leading and trailing whitespace (OWS: spaces and tabs) is not part
        // of an HTTP field value; hyper strips it before the server sees
        // it, so the client's signer must not see it either (aws-sigv4
        // trims only spaces).
        headers.push((name, v.trim_matches([' ', '\t']).to_string()));
    }
    let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let full = format!("http://example.com{uri}");
    let Some(added) = aws_sign(
        method.as_str(),
        &full,
        &headers,
        &t.body,
        KEY,
        "us-east-1",
        "sts",
        time,
    ) else {
        return;
    };
    headers.extend(added);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = cognate_sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        body: &t.body,
    };
    // A query with a malformed escape or invalid UTF-8 is refused: it
    // canonicalises like another query.
    if !well_formed(req.query) {
        match cognate_sigv4::parse(&req) {
            Err(cognate_sigv4::SigV4Error::Malformed { .. }) => return,
            other => panic!("malformed query {:?} gave {other:?}", req.query),
        }
    }
    let info = match cognate_sigv4::parse(&req) {
        Ok(Some(info)) => info,
        other => panic!("aws-sigv4 signed {req:?} but parse gave {other:?}"),
    };
    if let Err(e) = cognate_sigv4::verify(&req, &info, KEY.1, time) {
        panic!("aws-sigv4 signed {req:?} but verify failed: {e:?}");
    }
});

fn well_formed(query: &str) -> bool {
    let bytes = query.as_bytes();
    let escapes = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    escapes
        && query.split(['&', '=']).all(|piece| {
            let mut out = Vec::new();
            let b = piece.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).is_ok()
        })
}
