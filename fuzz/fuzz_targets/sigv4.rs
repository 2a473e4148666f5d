//! `cognate_sigv4::parse` + `verify` on arbitrary requests (fuzz text
//! format, see `src/lib.rs`). Neither may panic; a request that `parse`
//! accepts must be verifiable (with any secret, at any time) without panic,
//! and its errors must map to wire codes.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cognate_fuzz::TextRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = TextRequest::parse(data);
    let headers: Vec<(&str, &str)> = t
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = cognate_sigv4::Request {
        method: &t.method,
        path: &t.path,
        query: &t.query,
        headers: &headers,
        body: &t.body,
    };
    match cognate_sigv4::parse(&req) {
        Ok(Some(info)) => {
            let _ = format!("{info:?}");
            let _ = info.credential_scope();
            let _ = info.check_scope("us-east-1", "sts");
            // At the claimed time (so the signature itself is checked), and
            // at far-away times (so the clock checks run on odd values).
            let nows = [
                info.request_time,
                info.request_time + Duration::from_secs(901),
                UNIX_EPOCH,
                SystemTime::now(),
                UNIX_EPOCH + Duration::from_secs(u32::MAX as u64 * 4),
            ];
            for now in nows {
                match cognate_sigv4::verify(&req, &info, "secret", now) {
                    Ok(()) => {}
                    Err(e) => {
                        let _ = (e.to_string(), e.aws_code_json(), e.aws_code_query());
                        let _ = (e.kind().http_status_json(), e.is_clock_skew());
                    }
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            let _ = (
                e.to_string(),
                e.aws_code_json(),
                e.aws_code_query(),
                e.kind(),
            );
        }
    }
});
