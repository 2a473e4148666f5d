//! AWS Signature Version 4 request parsing and verification.
//!
//! Pure functions: no I/O, no async, no clock reads (the current time is an
//! argument). Two steps:
//!
//! 1. [`parse`] extracts what the signature claims ([`SignedRequestInfo`]) from
//!    the `Authorization` header or from presigned-URL query parameters; it
//!    returns `Ok(None)` for an unsigned request.
//! 2. The server looks up the secret for [`SignedRequestInfo::access_key_id`]
//!    (optionally checking region and service with
//!    [`SignedRequestInfo::check_scope`]) and calls [`verify`], or derives (and
//!    caches) the key with [`signing_key`] and calls [`verify_with_signing_key`].
//!
//! Canonicalisation follows the `aws-sigv4` crate with its default settings
//! (which the other AWS SDKs agree with for non-S3 services): the raw,
//! already-percent-encoded path is normalised and encoded once more ("double
//! encoding"); see [`verify_with_signing_key`] for the other accepted forms.

mod canonical;
mod error;
mod parse;
mod time;

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_lc_rs::{digest, hmac};

pub use crate::error::{AuthParameter, ErrorKind, ScopeProblem, SigV4Error};

/// The only supported signing algorithm.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Last element of every SigV4 credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";
/// Maximum `X-Amz-Expires` of a presigned URL (7 days), in seconds.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;
/// Allowed clock skew between the request timestamp and the server (15 min).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// A request as the server received it. Everything is borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, as sent (`GET`, `POST`, ...).
    pub method: &'a str,
    /// Raw path, still percent-encoded, without the query string.
    pub path: &'a str,
    /// Raw query string, without the leading `?` (empty when absent).
    pub query: &'a str,
    /// Header names (any case) and values; repeated names are allowed. Must
    /// include `host` (for HTTP/2 requests, synthesise it from `:authority`).
    pub headers: &'a [(&'a str, &'a str)],
    /// Request body.
    pub body: &'a [u8],
}

/// What a signed request claims.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequestInfo {
    /// Access key id from the credential.
    pub access_key_id: String,
    /// Credential scope date, `YYYYMMDD` (equal to the date of [`Self::amz_date`]).
    pub date: String,
    /// Credential scope region.
    pub region: String,
    /// Credential scope service.
    pub service: String,
    /// `SignedHeaders`, in the order given (always contains `host`).
    pub signed_headers: Vec<String>,
    /// The signature (hex) as sent. Not secret, but it authenticates the
    /// request for up to 15 minutes: do not log it (`Debug` redacts it).
    pub signature: String,
    /// Request timestamp, from `X-Amz-Date` (header or query) or `Date`.
    pub request_time: SystemTime,
    /// Request timestamp as used in the string to sign, `YYYYMMDD'T'HHMMSS'Z'`.
    pub amz_date: String,
    /// Session token (`x-amz-security-token` header / `X-Amz-Security-Token`).
    pub security_token: Option<String>,
    /// `X-Amz-Expires` (seconds) for a presigned URL; `None` for the header form.
    pub presigned_expires: Option<u64>,
}

impl SignedRequestInfo {
    /// `YYYYMMDD/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }

    /// Whether the signature came from presigned-URL query parameters.
    pub fn is_presigned(&self) -> bool {
        self.presigned_expires.is_some()
    }

    /// Checks the credential scope's region and service against what this
    /// endpoint serves, producing AWS's messages (`InvalidSignatureException` /
    /// `SignatureDoesNotMatch`). Optional; [`verify`] does not need it.
    pub fn check_scope(&self, region: &str, service: &str) -> Result<(), SigV4Error> {
        let mut problems = Vec::new();
        if self.region != region {
            problems.push(ScopeProblem::Region {
                got: self.region.clone(),
            });
        }
        if self.service != service {
            problems.push(ScopeProblem::Service {
                expected: service.to_string(),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SigV4Error::InvalidCredentialScope { problems })
        }
    }
}

impl SignedRequestInfo {
    /// Checks that `name` (any case) is among the signed headers, for a
    /// header that decides what the request does: unsigned, it could be
    /// changed on a captured request.
    pub fn require_signed_header(&self, name: &str) -> Result<(), SigV4Error> {
        if self
            .signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            Ok(())
        } else {
            Err(SigV4Error::HeaderNotSigned {
                name: name.to_string(),
            })
        }
    }
}

impl fmt::Debug for SignedRequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequestInfo")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .field("request_time", &self.request_time)
            .field("amz_date", &self.amz_date)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("presigned_expires", &self.presigned_expires)
            .finish()
    }
}

/// Extracts the signature claims of `req`.
///
/// Returns `Ok(None)` when the request carries neither an `Authorization`
/// header nor presigned-URL parameters (`X-Amz-Algorithm`, `X-Amz-Credential`
/// or `X-Amz-Signature`): the server decides whether that is
/// `MissingAuthenticationToken`. Checks made here: header/parameter syntax,
/// algorithm, credential shape, timestamp syntax, scope terminator and scope
/// date, `host` signed, every signed header present, `X-Amz-Expires` range.
pub fn parse(req: &Request<'_>) -> Result<Option<SignedRequestInfo>, SigV4Error> {
    parse::parse(req)
}

/// Derives the SigV4 signing key
/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
///
/// It only depends on its arguments, so servers may cache it per
/// (access key id, date, region, service).
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut seed = Vec::with_capacity(4 + secret_access_key.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let mut key = hmac_sha256(&seed, date.as_bytes());
    for part in [region, service, SCOPE_TERMINATOR] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    key
}

/// A signing key from [`signing_key`] with its HMAC state made, for a
/// server that caches keys: each verification then skips the HMAC key
/// schedule (two SHA-256 blocks). Shared, not copied, when cloned: a
/// cache hands one out for every request.
#[derive(Clone)]
pub struct SigningKey(std::sync::Arc<KeyState>);

struct KeyState {
    bytes: [u8; 32],
    hmac: hmac::Key,
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &SigningKey) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0.bytes, &other.0.bytes).is_ok()
    }
}

impl Eq for SigningKey {}

impl SigningKey {
    /// Derives the key for `secret_access_key` and the scope (see [`signing_key`]).
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> SigningKey {
        SigningKey::from(&signing_key(secret_access_key, date, region, service))
    }
}

impl From<&[u8; 32]> for SigningKey {
    fn from(key: &[u8; 32]) -> SigningKey {
        SigningKey(std::sync::Arc::new(KeyState {
            bytes: *key,
            hmac: hmac::Key::new(hmac::HMAC_SHA256, key),
        }))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// What the verifiers accept as the signing key: the derived bytes, or a
/// [`SigningKey`] made from them.
pub trait VerifyingKey: sealed::Sealed {
    #[doc(hidden)]
    fn hmac_key(&self) -> std::borrow::Cow<'_, hmac::Key>;
}

impl VerifyingKey for [u8; 32] {
    fn hmac_key(&self) -> std::borrow::Cow<'_, hmac::Key> {
        std::borrow::Cow::Owned(hmac::Key::new(hmac::HMAC_SHA256, self))
    }
}

impl VerifyingKey for SigningKey {
    fn hmac_key(&self) -> std::borrow::Cow<'_, hmac::Key> {
        std::borrow::Cow::Borrowed(&self.0.hmac)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for [u8; 32] {}
    impl Sealed for super::SigningKey {}
}

/// The payload hash SigV4 signs for `body`: its SHA-256, lower-case hex.
pub fn payload_hash(body: &[u8]) -> String {
    canonical::sha256_hex(body)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    for (o, t) in out.iter_mut().zip(tag.as_ref()) {
        *o = *t;
    }
    out
}

/// Verifies the signature of `req` with the secret access key of
/// `info.access_key_id`. See [`verify_with_signing_key`].
pub fn verify(
    req: &Request<'_>,
    info: &SignedRequestInfo,
    secret_access_key: &str,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    let key = signing_key(secret_access_key, &info.date, &info.region, &info.service);
    verify_with_signing_key(req, info, &key, now)
}

/// Verifies the signature of `req` with a key from [`signing_key`] for
/// `info`'s date, region and service.
///
/// `info` must come from [`parse`] of the same `req`. Checks, in order:
/// the timestamp (±15 minutes of `now`; for presigned URLs not after
/// `X-Amz-Date + X-Amz-Expires` and not more than 15 minutes in the future),
/// `x-amz-content-sha256` against the body, then the signature (constant-time).
///
/// The signature always covers the body that arrived: the payload hash is
/// the SHA-256 of the body (an `x-amz-content-sha256` header, when present,
/// must equal it). `UNSIGNED-PAYLOAD`, in that header or implied by a
/// presigned URL (as S3-style presigners sign), is accepted only for a
/// request without a body.
///
/// Canonical URI forms accepted: normalised + double-encoded (the default of
/// aws-sigv4 and the JS, Java and Python SDKs), un-normalised + double-encoded
/// (Go SDK), and the two single-encoded forms (the raw path as received, as
/// S3-style signers use) unless the path contains `%25`. This cannot
/// authenticate a different resource: a double-encoded canonical URI decodes
/// back to the raw path it came from, so a single-encoded path equal to it is
/// the same path once decoded — except when `%25` is involved (`/%25` double
/// encodes to `/%2525`, a different raw path), hence that exclusion.
pub fn verify_with_signing_key(
    req: &Request<'_>,
    info: &SignedRequestInfo,
    signing_key: &impl VerifyingKey,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    check_time(info, now)?;
    let (first, second) = payload_hashes(req, info)?;
    match second {
        Some(second) => verify_canonical(req, info, signing_key, &[&first, second]),
        None => verify_canonical(req, info, signing_key, &[&first]),
    }
    .map(|_| ())
}

/// What the verifier knows of a body it does not hold (see
/// [`verify_detached_payload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetachedPayload<'a> {
    /// Only whether the request had a body, as a reverse proxy's
    /// forward-auth subrequest tells it.
    Unseen {
        /// Whether the original request carried a body.
        has_body: bool,
    },
    /// The body's SHA-256 (hex), computed by whoever holds it.
    Hash(&'a str),
}

/// Verifies a request whose body is held elsewhere: `req.body` is ignored.
///
/// The payload hash the signature must cover is the request's
/// `x-amz-content-sha256` (bound to the signature by the canonical
/// request's last line), or the body's hash when the caller knows it (a
/// declared header must then equal it). A request with a body must declare
/// its hash one way or the other, and never `UNSIGNED-PAYLOAD`. Returns the
/// payload hash the signature covers: whoever holds the body must compare
/// the body with it before acting on it.
pub fn verify_detached_payload(
    req: &Request<'_>,
    info: &SignedRequestInfo,
    signing_key: &impl VerifyingKey,
    now: SystemTime,
    payload: DetachedPayload<'_>,
) -> Result<String, SigV4Error> {
    check_time(info, now)?;
    let mut values = canonical::header_values(req, "x-amz-content-sha256");
    let declared = values.next().map(str::trim);
    if values.next().is_some() {
        return Err(SigV4Error::malformed(
            "Only one 'x-amz-content-sha256' header is allowed.",
        ));
    }
    let empty = canonical::EMPTY_SHA256;
    let is_hash = |v: &str| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit());
    let (has_body, known) = match payload {
        DetachedPayload::Unseen { has_body } => (has_body, None),
        DetachedPayload::Hash(hash) if is_hash(hash) => (
            !hash.eq_ignore_ascii_case(empty),
            Some(hash.to_ascii_lowercase()),
        ),
        DetachedPayload::Hash(_) => return Err(SigV4Error::InvalidContentSha256),
    };
    // The candidates as text borrowed where it can be: this runs for every
    // forward-auth decision.
    let lower_case: String;
    let (first, second) = match (declared, known) {
        (Some(canonical::UNSIGNED_PAYLOAD), _) if has_body => {
            return Err(SigV4Error::UnsignedPayload);
        }
        (Some(canonical::UNSIGNED_PAYLOAD), _) => (canonical::UNSIGNED_PAYLOAD, None),
        (Some(value), known) if is_hash(value) => {
            lower_case = value.to_ascii_lowercase();
            if known.is_some_and(|k| k != lower_case) {
                return Err(SigV4Error::ContentSha256Mismatch);
            }
            (lower_case.as_str(), None)
        }
        (Some(_), _) => return Err(SigV4Error::InvalidContentSha256),
        (None, Some(known)) => {
            lower_case = known;
            (lower_case.as_str(), None)
        }
        (None, None) if has_body => return Err(SigV4Error::BodyHashMissing),
        // A presigned URL may be signed over UNSIGNED-PAYLOAD, as S3-style
        // presigners do, when it carries no body.
        (None, None) if info.is_presigned() => (empty, Some(canonical::UNSIGNED_PAYLOAD)),
        (None, None) => (empty, None),
    };
    let matched = match second {
        Some(second) => verify_canonical(req, info, signing_key, &[first, second]),
        None => verify_canonical(req, info, signing_key, &[first]),
    }?;
    // Whoever holds the body compares it with a hash: for a request signed
    // without its body's hash, which has none, the empty body's.
    Ok(if matched == canonical::UNSIGNED_PAYLOAD {
        empty.to_string()
    } else {
        matched.to_string()
    })
}

/// Checks the signature over each canonical URI form and payload hash
/// accepted; answers the payload hash that matched.
///
/// This runs for every signed request, so the lines every candidate shares
/// are made once, each candidate's canonical request is streamed into the
/// digest rather than joined first, and the other URI forms are made only
/// when the usual one does not match. The texts an error shows are made on
/// failure only.
fn verify_canonical<'h>(
    req: &Request<'_>,
    info: &SignedRequestInfo,
    signing_key: &impl VerifyingKey,
    payload_hashes: &[&'h str],
) -> Result<&'h str, SigV4Error> {
    // "\n<query>\n<headers>\n<signed headers>\n", between the URI and the
    // payload hash.
    let mut shared = String::with_capacity(
        req.query.len()
            + req
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 2)
                .sum::<usize>()
            + 8,
    );
    shared.push('\n');
    canonical::push_canonical_query(&mut shared, req.query, info.is_presigned());
    shared.push('\n');
    canonical::push_canonical_headers(&mut shared, req, &info.signed_headers)
        .map_err(|name| SigV4Error::SignedHeaderNotPresent { name })?;
    shared.push('\n');
    for (i, name) in info.signed_headers.iter().enumerate() {
        if i > 0 {
            shared.push(';');
        }
        shared.push_str(name);
    }
    shared.push('\n');

    let key = signing_key.hmac_key();
    let mut provided = [0u8; 32];
    let provided = hex::decode_to_slice(&info.signature, &mut provided)
        .is_ok()
        .then_some(provided);
    // "AWS4-HMAC-SHA256\n<amz date>\n<scope>\n", then the hash.
    let mut string_to_sign = String::with_capacity(
        ALGORITHM.len()
            + info.amz_date.len()
            + info.date.len()
            + info.region.len()
            + info.service.len()
            + SCOPE_TERMINATOR.len()
            + 64
            + 8,
    );
    for piece in [
        ALGORITHM,
        "\n",
        &info.amz_date,
        "\n",
        &info.date,
        "/",
        &info.region,
        "/",
    ] {
        string_to_sign.push_str(piece);
    }
    for piece in [info.service.as_str(), "/", SCOPE_TERMINATOR, "\n"] {
        string_to_sign.push_str(piece);
    }
    let prefix = string_to_sign.len();
    let mut matches = |uri: &str, payload_hash: &str| {
        let Some(provided) = provided else {
            return false;
        };
        let mut digest = digest::Context::new(&digest::SHA256);
        for piece in [req.method, "\n", uri, &shared, payload_hash] {
            digest.update(piece.as_bytes());
        }
        string_to_sign.truncate(prefix);
        canonical::push_lower_hex(&mut string_to_sign, digest.finish().as_ref());
        hmac::verify(key.as_ref(), string_to_sign.as_bytes(), &provided).is_ok()
    };

    let primary = canonical::primary_canonical_uri(req.path);
    if let Some(hash) = payload_hashes.iter().find(|h| matches(&primary, h)) {
        return Ok(hash);
    }
    // The first candidate of the list is `primary`, tried above.
    for uri in canonical::canonical_uri_candidates(req.path).iter().skip(1) {
        if let Some(hash) = payload_hashes.iter().find(|h| matches(uri, h)) {
            return Ok(hash);
        }
    }

    // What the first form would have signed, for the error.
    let payload_hash = payload_hashes.first().copied().unwrap_or_default();
    let mut canonical_request = String::with_capacity(shared.len() + primary.len() + 80);
    for piece in [req.method, "\n", &primary, &shared, payload_hash] {
        canonical_request.push_str(piece);
    }
    let hash = canonical::sha256_hex(canonical_request.as_bytes());
    let string_to_sign = join_lines(&[ALGORITHM, &info.amz_date, &info.credential_scope(), &hash]);
    if let Some(token) = info.security_token.as_deref().filter(|t| !t.is_empty()) {
        canonical_request = canonical_request
            .replace(&canonical::uri_encode(token), "<redacted>")
            .replace(canonical::trim_all(token).as_ref(), "<redacted>");
    }
    Err(SigV4Error::SignatureMismatch {
        canonical_request,
        string_to_sign,
    })
}

/// `pieces` joined with newlines.
fn join_lines(pieces: &[&str]) -> String {
    let length = pieces.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut out = String::with_capacity(length);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(piece);
    }
    out
}

/// Checks the request's time against `now` (±15 minutes; a presigned URL
/// until it expires), as the verifiers do first: servers call it before
/// looking up or deriving a key, so a stale request costs them nothing.
pub fn check_time(info: &SignedRequestInfo, now: SystemTime) -> Result<(), SigV4Error> {
    let fmt = time::format_amz_date;
    if let Some(expires) = info.presigned_expires {
        // Presigned URLs live for X-Amz-Expires; the 15-minute window only
        // bounds how far in the future they may be dated.
        if let Some(expiry) = info.request_time.checked_add(Duration::from_secs(expires))
            && now > expiry
        {
            return Err(SigV4Error::PresignedUrlExpired {
                expires: fmt(expiry),
                now: fmt(now),
            });
        }
    } else if let Some(earliest) = now.checked_sub(MAX_CLOCK_SKEW)
        && info.request_time < earliest
    {
        return Err(SigV4Error::SignatureExpired {
            request_time: fmt(info.request_time),
            earliest: fmt(earliest),
            now: fmt(now),
        });
    }
    if let Some(latest) = now.checked_add(MAX_CLOCK_SKEW)
        && info.request_time > latest
    {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request_time: fmt(info.request_time),
            latest: fmt(latest),
            now: fmt(now),
        });
    }
    Ok(())
}

/// The payload hashes a signature of `req` may cover, most likely first.
fn payload_hashes<'a>(
    req: &'a Request<'a>,
    info: &SignedRequestInfo,
) -> Result<(Cow<'a, str>, Option<&'static str>), SigV4Error> {
    let mut values = canonical::header_values(req, "x-amz-content-sha256");
    let declared = values.next().map(str::trim);
    if values.next().is_some() {
        return Err(SigV4Error::malformed(
            "Only one 'x-amz-content-sha256' header is allowed.",
        ));
    }
    let body_hash = || -> Cow<'a, str> {
        if req.body.is_empty() {
            Cow::Borrowed(canonical::EMPTY_SHA256)
        } else {
            Cow::Owned(canonical::sha256_hex(req.body))
        }
    };
    match declared {
        // Only an empty body may go unsigned: otherwise what arrived could
        // be another body than the one the client meant.
        Some(canonical::UNSIGNED_PAYLOAD) if req.body.is_empty() => {
            Ok((Cow::Borrowed(canonical::UNSIGNED_PAYLOAD), None))
        }
        Some(canonical::UNSIGNED_PAYLOAD) => Err(SigV4Error::UnsignedPayload),
        Some(value) if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
            if value.eq_ignore_ascii_case(&body_hash()) {
                Ok((Cow::Borrowed(value), None))
            } else {
                Err(SigV4Error::ContentSha256Mismatch)
            }
        }
        Some(_) => Err(SigV4Error::InvalidContentSha256),
        // A presigned URL may be signed over UNSIGNED-PAYLOAD, as S3-style
        // presigners do, when it carries no body.
        None if info.is_presigned() && req.body.is_empty() => {
            Ok((body_hash(), Some(canonical::UNSIGNED_PAYLOAD)))
        }
        None => Ok((body_hash(), None)),
    }
}
