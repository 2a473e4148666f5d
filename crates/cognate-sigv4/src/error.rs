//! Errors produced while parsing or verifying a SigV4 request.
//!
//! Every variant renders (via `Display`) the message AWS itself returns for the
//! same condition, and knows its AWS error code for both the JSON protocol
//! (Cognito Identity) and the Query protocol (STS, IAM). Messages never contain
//! the request signature, the secret key or the session token.

use std::fmt;

/// AWS error family a [`SigV4Error`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `IncompleteSignatureException` (JSON) / `IncompleteSignature` (Query): the
    /// signature information is missing or malformed.
    IncompleteSignature,
    /// `InvalidSignatureException` (JSON) / `SignatureDoesNotMatch` (Query): the
    /// signature is well formed but does not authenticate this request (wrong
    /// signature, clock skew, bad credential scope, ...).
    SignatureDoesNotMatch,
    /// `AccessDeniedException` (JSON) / `AccessDenied` (Query): a presigned URL
    /// has expired.
    AccessDenied,
}

impl ErrorKind {
    /// AWS JSON-protocol error code (the `__type` of the error body).
    pub fn aws_code_json(self) -> &'static str {
        match self {
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::SignatureDoesNotMatch => "InvalidSignatureException",
            ErrorKind::AccessDenied => "AccessDeniedException",
        }
    }

    /// AWS Query-protocol error code (`<Error><Code>`).
    pub fn aws_code_query(self) -> &'static str {
        match self {
            ErrorKind::IncompleteSignature => "IncompleteSignature",
            ErrorKind::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorKind::AccessDenied => "AccessDenied",
        }
    }

    /// HTTP status AWS JSON-protocol services use for this family (best effort:
    /// AWS JSON services report authentication failures as client errors, 400).
    pub fn http_status_json(self) -> u16 {
        400
    }

    /// HTTP status AWS Query-protocol services (STS, IAM) use for this family.
    pub fn http_status_query(self) -> u16 {
        match self {
            ErrorKind::IncompleteSignature => 400,
            ErrorKind::SignatureDoesNotMatch | ErrorKind::AccessDenied => 403,
        }
    }
}

/// A parameter the `Authorization` header must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthParameter {
    /// `Credential=AKID/date/region/service/aws4_request`
    Credential,
    /// `Signature=<hex>`
    Signature,
    /// `SignedHeaders=a;b;c`
    SignedHeaders,
    /// Not an `Authorization` parameter proper: an `X-Amz-Date` or `Date` header.
    Date,
}

impl AuthParameter {
    fn message(self) -> &'static str {
        match self {
            AuthParameter::Credential => "Authorization header requires 'Credential' parameter.",
            AuthParameter::Signature => "Authorization header requires 'Signature' parameter.",
            AuthParameter::SignedHeaders => {
                "Authorization header requires 'SignedHeaders' parameter."
            }
            AuthParameter::Date => {
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            }
        }
    }
}

/// One problem with the credential scope (`date/region/service/aws4_request`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeProblem {
    /// The scope's region is not one this server accepts.
    Region {
        /// Region named in the credential scope.
        got: String,
    },
    /// The scope's service is not the one being called.
    Service {
        /// Service the request should have been scoped to.
        expected: String,
    },
    /// The scope does not end in `aws4_request`.
    Terminator {
        /// Terminator found in the credential scope.
        got: String,
    },
    /// The scope's date differs from the date of the request timestamp.
    Date {
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// `YYYYMMDD` of the request timestamp.
        request_date: String,
        /// The request timestamp (`YYYYMMDD'T'HHMMSS'Z'`).
        request_time: String,
    },
}

impl fmt::Display for ScopeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeProblem::Region { got } => {
                write!(
                    f,
                    "Credential should be scoped to a valid region, not '{got}'."
                )
            }
            ScopeProblem::Service { expected } => {
                write!(
                    f,
                    "Credential should be scoped to correct service: '{expected}'."
                )
            }
            ScopeProblem::Terminator { got } => write!(
                f,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{got}'."
            ),
            ScopeProblem::Date {
                scope_date,
                request_date,
                request_time,
            } => write!(
                f,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{scope_date}' != '{request_date}', from '{request_time}'."
            ),
        }
    }
}

/// Why a SigV4 request was rejected.
///
/// Use [`SigV4Error::kind`], [`SigV4Error::aws_code_json`] and
/// [`SigV4Error::aws_code_query`] to build the wire error; `Display` gives the
/// AWS message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    // ----- IncompleteSignature -------------------------------------------------
    /// The `Authorization` scheme / `X-Amz-Algorithm` is not `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': '{algorithm}'.")]
    UnsupportedAlgorithm {
        /// The algorithm named by the request (redacted when it looks like a bare token).
        algorithm: String,
    },

    /// A component of the `Authorization` header is not a `key=value` pair. The
    /// header is not echoed, only its SHA-256 (base64), as AWS does.
    #[error(
        "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with \
         SHA-256 and encoded with Base64): '{authorization_sha256}'."
    )]
    MalformedAuthorization {
        /// Base64 of the SHA-256 of the whole `Authorization` header value.
        authorization_sha256: String,
    },

    /// Required `Authorization` parameters (or the date header) are missing.
    #[error("{} Authorization={algorithm}", missing_message(.missing))]
    MissingAuthorizationParameters {
        /// What is missing, in AWS's reporting order.
        missing: Vec<AuthParameter>,
        /// The algorithm token of the header (never the rest of it).
        algorithm: String,
    },

    /// The presigned-URL form lacks some of its required query parameters.
    #[error(
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, \
         X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
    )]
    MissingPresignParameters {
        /// Names of the missing query parameters.
        missing: Vec<&'static str>,
    },

    /// The credential is not `AKID/YYYYMMDD/region/service/terminator`.
    #[error(
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got '{credential}'"
    )]
    MalformedCredential {
        /// The credential as sent (access key id and scope; not secret).
        credential: String,
    },

    /// `X-Amz-Date` (or `Date`) is not a valid timestamp.
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
         http://en.wikipedia.org/wiki/ISO_8601"
    )]
    InvalidDate {
        /// The value as sent.
        value: String,
    },

    /// `X-Amz-Expires` is not a number in `0..=604800`.
    #[error("{}", expires_message(.value))]
    InvalidExpires {
        /// The value as sent.
        value: String,
    },

    /// Both an `Authorization` header and presigned query parameters were sent.
    #[error(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature \
         query string parameter or the Authorization header should be specified"
    )]
    MultipleAuthMechanisms,

    /// A header or parameter that must appear once appears several times, or
    /// the signed header list is malformed.
    #[error("{message}")]
    Malformed {
        /// Human readable description (never contains secrets).
        message: String,
    },

    /// `x-amz-content-sha256` is neither `UNSIGNED-PAYLOAD` nor a SHA-256 hex digest.
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, or a valid sha256 value.")]
    InvalidContentSha256,

    // ----- SignatureDoesNotMatch -----------------------------------------------
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,

    /// A header the server needs signed is not among the signed headers
    /// (e.g. `X-Amz-Target`, which names a JSON call's operation).
    #[error("'{name}' must be a 'SignedHeader' in the AWS Authorization.")]
    HeaderNotSigned {
        /// The header, as the message names it.
        name: String,
    },

    /// A header listed in `SignedHeaders` is absent from the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. Signed \
         header '{name}' is not present in the request."
    )]
    SignedHeaderNotPresent {
        /// Name of the missing header, as listed in `SignedHeaders`.
        name: String,
    },

    /// The credential scope is wrong (terminator, date, and — via
    /// [`crate::SignedRequestInfo::check_scope`] — region or service).
    #[error("{}", scope_message(.problems))]
    InvalidCredentialScope {
        /// Every problem found, in AWS's reporting order.
        problems: Vec<ScopeProblem>,
    },

    /// The request timestamp is more than 15 minutes in the past.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - 15 min.)")]
    SignatureExpired {
        /// Request timestamp, `YYYYMMDD'T'HHMMSS'Z'`.
        request_time: String,
        /// `now - 15 min`.
        earliest: String,
        /// Server time.
        now: String,
    },

    /// The request timestamp is more than 15 minutes in the future.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + 15 min.)"
    )]
    SignatureNotYetCurrent {
        /// Request timestamp, `YYYYMMDD'T'HHMMSS'Z'`.
        request_time: String,
        /// `now + 15 min`.
        latest: String,
        /// Server time.
        now: String,
    },

    /// A request with a body declares `x-amz-content-sha256: UNSIGNED-PAYLOAD`:
    /// its signature would not cover the body.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         UNSIGNED-PAYLOAD is not accepted for a request with a body: sign the SHA-256 of the body."
    )]
    UnsignedPayload,

    /// A request whose body is checked elsewhere (a forward-auth subrequest
    /// carries none) has a body but no `x-amz-content-sha256`: nothing would
    /// bind the body to the signature.
    #[error(
        "The request has a body, so its signature must cover the body's SHA-256: send it, \
         signed, in the x-amz-content-sha256 header."
    )]
    BodyHashMissing,

    /// `x-amz-content-sha256` does not match the SHA-256 of the body received.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,

    /// The signature is wrong.
    ///
    /// The fields are for server-side debug logging only (AWS JSON services
    /// append them to the message; this crate does not). The canonical request
    /// contains header values (the session token value is redacted).
    #[error(
        "The request signature we calculated does not match the signature you provided. Check \
         your AWS Secret Access Key and signing method. Consult the service documentation for \
         details."
    )]
    SignatureMismatch {
        /// Canonical request computed by the server (SDK-default canonicalisation).
        canonical_request: String,
        /// String to sign computed by the server.
        string_to_sign: String,
    },

    // ----- AccessDenied --------------------------------------------------------
    /// A presigned URL is used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    PresignedUrlExpired {
        /// When the URL expired, `YYYYMMDD'T'HHMMSS'Z'`.
        expires: String,
        /// Server time.
        now: String,
    },
}

impl SigV4Error {
    /// The AWS error family of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SigV4Error::UnsupportedAlgorithm { .. }
            | SigV4Error::MalformedAuthorization { .. }
            | SigV4Error::MissingAuthorizationParameters { .. }
            | SigV4Error::MissingPresignParameters { .. }
            | SigV4Error::MalformedCredential { .. }
            | SigV4Error::InvalidDate { .. }
            | SigV4Error::InvalidExpires { .. }
            | SigV4Error::MultipleAuthMechanisms
            | SigV4Error::Malformed { .. }
            | SigV4Error::InvalidContentSha256 => ErrorKind::IncompleteSignature,
            SigV4Error::HostNotSigned
            | SigV4Error::HeaderNotSigned { .. }
            | SigV4Error::SignedHeaderNotPresent { .. }
            | SigV4Error::InvalidCredentialScope { .. }
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::ContentSha256Mismatch
            | SigV4Error::UnsignedPayload
            | SigV4Error::BodyHashMissing
            | SigV4Error::SignatureMismatch { .. } => ErrorKind::SignatureDoesNotMatch,
            SigV4Error::PresignedUrlExpired { .. } => ErrorKind::AccessDenied,
        }
    }

    /// AWS JSON-protocol error code, e.g. `InvalidSignatureException`.
    pub fn aws_code_json(&self) -> &'static str {
        self.kind().aws_code_json()
    }

    /// AWS Query-protocol error code, e.g. `SignatureDoesNotMatch`.
    pub fn aws_code_query(&self) -> &'static str {
        self.kind().aws_code_query()
    }

    /// Whether the error is a clock-skew rejection (SDKs react to these by
    /// correcting their clock offset and retrying).
    pub fn is_clock_skew(&self) -> bool {
        matches!(
            self,
            SigV4Error::SignatureExpired { .. } | SigV4Error::SignatureNotYetCurrent { .. }
        )
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        SigV4Error::Malformed {
            message: message.into(),
        }
    }
}

fn missing_message(missing: &[AuthParameter]) -> String {
    missing
        .iter()
        .map(|m| m.message())
        .collect::<Vec<_>>()
        .join(" ")
}

fn scope_message(problems: &[ScopeProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn expires_message(value: &str) -> &'static str {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if !numeric {
        "X-Amz-Expires should be a number"
    } else if value.starts_with('-') {
        "X-Amz-Expires must be non-negative"
    } else {
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires \
         must be less than 604800 seconds"
    }
}
