//! Test helpers: sign requests with the official `aws-sigv4` crate and hand
//! them to `cognate_sigv4` the way the server would see them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use cognate_sigv4::{Request, SigV4Error, SignedRequestInfo};

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const OTHER_AKID: &str = "AKIDOTHER";
pub const OTHER_SECRET: &str = "0therSecretKey/0000000000000000000000000";
pub const HOST: &str = "cognito-identity.us-east-1.amazonaws.com";
pub const REGION: &str = "us-east-1";
pub const SERVICE: &str = "cognito-identity";

/// 2026-01-01T00:00:00Z
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

pub fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// Secret lookup as the server would do it.
pub fn secret_for(akid: &str) -> &'static str {
    match akid {
        AKID => SECRET,
        OTHER_AKID => OTHER_SECRET,
        _ => "unknown",
    }
}

#[derive(Clone)]
pub struct Spec {
    pub method: String,
    /// Path and query as they go on the request line, e.g. `/a%20b?x=1`.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub session_token: Option<String>,
    pub region: String,
    pub service: String,
    pub time: SystemTime,
    pub location: SignatureLocation,
    pub expires: Duration,
    pub unsigned_payload: bool,
    pub content_sha256_header: bool,
    pub encoding: PercentEncodingMode,
    pub normalization: UriPathNormalizationMode,
}

impl Spec {
    pub fn new(method: &str, path_and_query: &str) -> Self {
        Spec {
            method: method.to_string(),
            path_and_query: path_and_query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            session_token: None,
            region: REGION.to_string(),
            service: SERVICE.to_string(),
            time: t0(),
            location: SignatureLocation::Headers,
            expires: Duration::from_secs(900),
            unsigned_payload: false,
            content_sha256_header: false,
            encoding: PercentEncodingMode::Double,
            normalization: UriPathNormalizationMode::Enabled,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    pub fn token(mut self, token: &str) -> Self {
        self.session_token = Some(token.to_string());
        self
    }

    pub fn presigned(mut self, expires: Duration) -> Self {
        self.location = SignatureLocation::QueryParams;
        self.expires = expires;
        self
    }

    pub fn sign(&self) -> Signed {
        let creds = Credentials::new(AKID, SECRET, self.session_token.clone(), None, "test");
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        settings.signature_location = self.location;
        settings.percent_encoding_mode = self.encoding;
        settings.uri_path_normalization_mode = self.normalization;
        if self.location == SignatureLocation::QueryParams {
            settings.expires_in = Some(self.expires);
        }
        if self.content_sha256_header {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();

        let uri = format!("https://{HOST}{}", self.path_and_query);
        let mut headers: Vec<(&str, &str)> = vec![("host", HOST)];
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let body = if self.unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&self.body)
        };
        let signable =
            SignableRequest::new(&self.method, uri.as_str(), headers.iter().copied(), body)
                .unwrap();
        let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();

        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(&uri);
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(()).unwrap();
        instructions.apply_to_request_http1x(&mut request);

        Signed {
            method: self.method.clone(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or_default().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
                .collect(),
            body: self.body.clone(),
        }
    }
}

/// A signed request as received by the server (owned, mutable for tampering).
#[derive(Clone, Debug)]
pub struct Signed {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Signed {
    pub fn with<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        };
        f(&req)
    }

    pub fn parse(&self) -> Result<Option<SignedRequestInfo>, SigV4Error> {
        self.with(cognate_sigv4::parse)
    }

    pub fn info(&self) -> SignedRequestInfo {
        self.parse().unwrap().expect("request is signed")
    }

    /// Parse + secret lookup + verify, as the server does.
    pub fn verify_at(&self, now: SystemTime) -> Result<SignedRequestInfo, SigV4Error> {
        self.with(|req| {
            let info = cognate_sigv4::parse(req)?.expect("request is signed");
            cognate_sigv4::verify(req, &info, secret_for(&info.access_key_id), now)?;
            Ok(info)
        })
    }

    pub fn verify(&self) -> Result<SignedRequestInfo, SigV4Error> {
        self.verify_at(t0())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        let slot = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no header {name}"));
        slot.1 = value.to_string();
    }

    pub fn add_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_string(), value.to_string()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn authorization(&self) -> &str {
        self.header("authorization").expect("authorization header")
    }

    pub fn signature(&self) -> String {
        if let Some(auth) = self.header("authorization") {
            auth.rsplit("Signature=").next().unwrap().to_string()
        } else {
            self.query
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-Signature="))
                .unwrap()
                .to_string()
        }
    }
}

#[track_caller]
pub fn assert_mismatch(result: Result<SignedRequestInfo, SigV4Error>) {
    match result {
        Err(SigV4Error::SignatureMismatch { .. }) => {}
        other => panic!("expected SignatureMismatch, got {other:?}"),
    }
}
