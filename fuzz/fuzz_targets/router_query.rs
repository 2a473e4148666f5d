//! The whole router, in process, on Query (STS/IAM) calls: form decoding of
//! the URL and the body, Action/Version dispatch, parameter decoding,
//! policy documents, XML rendering.
//!
//! Input: optional first byte `!` (signed with the admin key, for the
//! service the Version names), then `?` to send the rest as a GET query
//! string, else the rest is a POST form body. `$POOL`, `$IDENTITY` and
//! `$ROLE` are substituted. Every answer must be a well-formed, non-5xx
//! response.
#![no_main]

use cognate_fuzz::router::{Harness, check_api_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = Harness::get();
    let (signed, rest) = match data.strip_prefix(b"!") {
        Some(rest) => (true, rest),
        None => (false, data),
    };
    let rest = h.substitute_bytes(rest);
    let r = match rest.strip_prefix(b"?") {
        Some(q) => {
            // Only what can stand in a URL reaches the router.
            let Ok(q) = std::str::from_utf8(q) else {
                return;
            };
            if q.parse::<http::Uri>().is_err() || format!("/?{q}").parse::<http::Uri>().is_err() {
                return;
            }
            h.query(signed, "GET", q, b"")
        }
        None => h.query(signed, "POST", "", &rest),
    };
    check_api_response("query", &r, false);
});
