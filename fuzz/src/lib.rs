//! Shared pieces of the fuzz targets: a text format for HTTP requests that
//! libFuzzer mutates well, an `aws-sigv4` signer, and (feature `router`)
//! an in-process cognate router.

use std::time::SystemTime;

#[cfg(feature = "router")]
pub mod router;

/// A request in the fuzz text format:
///
/// ```text
/// METHOD PATH[?QUERY]
/// Header-Name: value
///
/// body
/// ```
///
/// Nothing is validated: the pieces are whatever bytes the input has.
#[derive(Debug, Clone, Default)]
pub struct TextRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TextRequest {
    pub fn parse(data: &[u8]) -> TextRequest {
        let (head, body) = match find(data, b"\n\n") {
            Some(i) => (&data[..i], data[i + 2..].to_vec()),
            None => (data, Vec::new()),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n');
        let first = lines.next().unwrap_or("");
        let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                Some((n.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()))
            })
            .collect();
        TextRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Signs with `aws-sigv4` (default settings, as the SDKs use) and returns
/// the headers it adds; `None` if the signer refuses the request.
pub fn aws_sign(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
    (key_id, secret): (&str, &str),
    region: &str,
    service: &str,
    time: SystemTime,
) -> Option<Vec<(String, String)>> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity =
        aws_credential_types::Credentials::new(key_id, secret, None, None, "fuzz").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    let (added, _) = instructions.into_parts();
    Some(
        added
            .into_iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect(),
    )
}
