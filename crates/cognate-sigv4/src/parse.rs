//! Extraction of the signature claims from a request.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_lc_rs::digest;
use base64::Engine as _;

use crate::canonical::{header_values, query_pairs};
use crate::error::{AuthParameter, ScopeProblem, SigV4Error};
use crate::time::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{ALGORITHM, MAX_PRESIGNED_EXPIRES, Request, SCOPE_TERMINATOR, SignedRequestInfo};

const PRESIGN_ALGORITHM: &str = "X-Amz-Algorithm";
const PRESIGN_CREDENTIAL: &str = "X-Amz-Credential";
const PRESIGN_DATE: &str = "X-Amz-Date";
const PRESIGN_EXPIRES: &str = "X-Amz-Expires";
const PRESIGN_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
const PRESIGN_SIGNATURE: &str = "X-Amz-Signature";
const PRESIGN_SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// Returns the single value of header `name`; an error if it is repeated.
fn single_header<'a>(req: &'a Request<'a>, name: &'a str) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = header_values(req, name);
    let first = values.next();
    if values.next().is_some() {
        return Err(SigV4Error::malformed(format!(
            "Only one '{name}' header is allowed."
        )));
    }
    Ok(first)
}

pub(crate) fn parse(req: &Request<'_>) -> Result<Option<SignedRequestInfo>, SigV4Error> {
    let authorization = single_header(req, "authorization")?;
    // Malformed escapes and invalid UTF-8 decode to the same canonical
    // query as other strings (`%zz` as `%25zz`, any bad byte as U+FFFD):
    // a captured request could be changed without changing its signature.
    if !crate::canonical::query_is_well_formed(req.query) {
        return Err(SigV4Error::malformed(
            "The query string is not valid percent-encoded UTF-8.",
        ));
    }
    let presigned = query_pairs(req.query).any(|(name, _)| {
        name == PRESIGN_ALGORITHM || name == PRESIGN_CREDENTIAL || name == PRESIGN_SIGNATURE
    });
    match (authorization, presigned) {
        (None, false) => Ok(None),
        (Some(_), true) => Err(SigV4Error::MultipleAuthMechanisms),
        (Some(value), false) => parse_header_form(req, value).map(Some),
        (None, true) => parse_query_form(req).map(Some),
    }
}

/// The algorithm token, echoed only when it looks like an auth scheme name
/// followed by parameters; a bare token (possibly a secret) is not echoed.
fn printable_algorithm(token: &str, has_params: bool) -> String {
    let plausible = has_params
        && !token.is_empty()
        && token.len() <= 32
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plausible {
        token.to_string()
    } else {
        "<redacted>".to_string()
    }
}

fn parse_header_form(
    req: &Request<'_>,
    authorization: &str,
) -> Result<SignedRequestInfo, SigV4Error> {
    let authorization = authorization.trim();
    let (algorithm, params) = authorization
        .split_once([' ', '\t'])
        .unwrap_or((authorization, ""));
    let params = params.trim();
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm {
            algorithm: printable_algorithm(algorithm, !params.is_empty()),
        });
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for component in params.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((key, value)) = component.split_once('=') else {
            let hash = digest::digest(&digest::SHA256, authorization.as_bytes());
            return Err(SigV4Error::MalformedAuthorization {
                authorization_sha256: base64::engine::general_purpose::STANDARD.encode(hash),
            });
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SigV4Error::malformed(format!(
                "Authorization header contains duplicate '{}' parameter.",
                key.trim()
            )));
        }
        let value = value.trim();
        if !value.is_empty() {
            *slot = Some(value);
        }
    }

    let amz_date = single_header(req, "x-amz-date")?;
    let date = single_header(req, "date")?;

    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push(AuthParameter::Credential);
    }
    if signature.is_none() {
        missing.push(AuthParameter::Signature);
    }
    if signed_headers.is_none() {
        missing.push(AuthParameter::SignedHeaders);
    }
    if amz_date.is_none() && date.is_none() {
        missing.push(AuthParameter::Date);
    }
    let (Some(credential), Some(signature), Some(signed_headers)) =
        (credential, signature, signed_headers)
    else {
        return Err(SigV4Error::MissingAuthorizationParameters {
            missing,
            algorithm: ALGORITHM.to_string(),
        });
    };
    if !missing.is_empty() {
        return Err(SigV4Error::MissingAuthorizationParameters {
            missing,
            algorithm: ALGORITHM.to_string(),
        });
    }

    let signed_headers = parse_signed_headers(req, signed_headers)?;

    let (request_time, amz_date) = match (amz_date, date) {
        (Some(value), _) => {
            let time = parse_amz_date(value.trim()).ok_or_else(|| SigV4Error::InvalidDate {
                value: value.to_string(),
            })?;
            (time, value.trim().to_string())
        }
        (None, Some(value)) => {
            let value = value.trim();
            let time = parse_http_date(value)
                .or_else(|| parse_amz_date(value))
                .ok_or_else(|| SigV4Error::InvalidDate {
                    value: value.to_string(),
                })?;
            (time, format_amz_date(time))
        }
        (None, None) => {
            // Unreachable: reported as missing above.
            return Err(SigV4Error::MissingAuthorizationParameters {
                missing: vec![AuthParameter::Date],
                algorithm: ALGORITHM.to_string(),
            });
        }
    };

    let security_token = single_header(req, "x-amz-security-token")?.map(str::to_string);
    build_info(
        credential,
        signed_headers,
        signature,
        request_time,
        amz_date,
        security_token,
        None,
    )
}

fn parse_query_form(req: &Request<'_>) -> Result<SignedRequestInfo, SigV4Error> {
    let names = [
        PRESIGN_ALGORITHM,
        PRESIGN_CREDENTIAL,
        PRESIGN_SIGNATURE,
        PRESIGN_DATE,
        PRESIGN_SIGNED_HEADERS,
        PRESIGN_EXPIRES,
        PRESIGN_SECURITY_TOKEN,
    ];
    let mut values: [Option<Cow<'_, str>>; 7] = Default::default();
    for (name, value) in query_pairs(req.query) {
        let Some(slot) = names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get_mut(i))
        else {
            continue;
        };
        if slot.is_some() {
            return Err(SigV4Error::malformed(format!(
                "Query parameter '{name}' must not be repeated."
            )));
        }
        *slot = Some(value);
    }
    let [
        algorithm,
        credential,
        signature,
        date,
        signed_headers,
        expires,
        token,
    ] = values;

    let missing: Vec<&'static str> = names
        .iter()
        .zip([
            &algorithm,
            &credential,
            &signature,
            &date,
            &signed_headers,
            &expires,
        ])
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(n, _)| *n)
        .collect();
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(date),
        Some(signed_headers),
        Some(expires),
    ) = (
        algorithm,
        credential,
        signature,
        date,
        signed_headers,
        expires,
    )
    else {
        return Err(SigV4Error::MissingPresignParameters { missing });
    };
    if !missing.is_empty() {
        return Err(SigV4Error::MissingPresignParameters { missing });
    }

    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm {
            algorithm: printable_algorithm(&algorithm, true),
        });
    }
    let signed_headers = parse_signed_headers(req, &signed_headers)?;
    let request_time = parse_amz_date(&date).ok_or_else(|| SigV4Error::InvalidDate {
        value: date.to_string(),
    })?;
    let expires = match expires.parse::<u64>() {
        Ok(secs) if secs <= MAX_PRESIGNED_EXPIRES && !expires.starts_with('+') => secs,
        _ => {
            return Err(SigV4Error::InvalidExpires {
                value: expires.into_owned(),
            });
        }
    };
    build_info(
        &credential,
        signed_headers,
        &signature,
        request_time,
        date.into_owned(),
        token.map(Cow::into_owned),
        Some(expires),
    )
}

/// Splits `SignedHeaders`, requires `host`, and checks that every signed
/// header is present in the request.
fn parse_signed_headers(req: &Request<'_>, value: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<String> = value.split(';').map(str::to_string).collect();
    if names.iter().any(|n| n.is_empty() || n.trim() != n) {
        return Err(SigV4Error::malformed(
            "SignedHeaders must be a ';'-separated list of header names.".to_string(),
        ));
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case("host")) {
        return Err(SigV4Error::HostNotSigned);
    }
    if let Some(absent) = names
        .iter()
        .find(|n| header_values(req, n).next().is_none())
    {
        return Err(SigV4Error::SignedHeaderNotPresent {
            name: absent.clone(),
        });
    }
    Ok(names)
}

fn build_info(
    credential: &str,
    signed_headers: Vec<String>,
    signature: &str,
    request_time: SystemTime,
    amz_date: String,
    security_token: Option<String>,
    presigned_expires: Option<u64>,
) -> Result<SignedRequestInfo, SigV4Error> {
    let mut parts = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SigV4Error::MalformedCredential {
            credential: credential.to_string(),
        });
    };
    if access_key_id.is_empty() {
        return Err(SigV4Error::MalformedCredential {
            credential: credential.to_string(),
        });
    }

    let mut problems = Vec::new();
    if terminator != SCOPE_TERMINATOR {
        problems.push(ScopeProblem::Terminator {
            got: terminator.to_string(),
        });
    }
    let request_date = amz_date.get(..8).unwrap_or_default();
    if date != request_date {
        problems.push(ScopeProblem::Date {
            scope_date: date.to_string(),
            request_date: request_date.to_string(),
            request_time: amz_date.clone(),
        });
    }
    if !problems.is_empty() {
        return Err(SigV4Error::InvalidCredentialScope { problems });
    }

    Ok(SignedRequestInfo {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature.to_string(),
        request_time,
        amz_date,
        security_token,
        presigned_expires,
    })
}
