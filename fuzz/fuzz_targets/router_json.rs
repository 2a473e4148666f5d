//! The whole router, in process, on JSON 1.1 calls: `X-Amz-Target`
//! decoding, body decoding into every Cognito operation's input shape,
//! validation, the domain, and error rendering.
//!
//! Input: first line `[!]Operation` (`!`: signed with the admin key, so the
//! admin operations get past authentication), the rest is the body, in
//! which `$POOL`, `$IDENTITY` and `$ROLE` become a real pool id, identity
//! id and role ARN. Every answer must be a well-formed, non-5xx response.
#![no_main]

use cognate_fuzz::router::{Harness, check_api_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = Harness::get();
    let (first, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let first = String::from_utf8_lossy(first);
    let (signed, target) = match first.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, first.as_ref()),
    };
    let body = h.substitute_bytes(body);
    let headers = vec![
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "x-amz-target".to_string(),
            format!("AWSCognitoIdentityService.{target}"),
        ),
    ];
    let Some(req) = h.request(
        "POST",
        "/",
        headers,
        body,
        signed.then_some("cognito-identity"),
    ) else {
        return;
    };
    let r = h.send(req);
    check_api_response(target, &r, true);
});
