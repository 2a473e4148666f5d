//! A small HTTP/1.1 client for setting up: one request per connection,
//! optionally SigV4-signed with the `aws-sigv4` crate (what the AWS SDKs use).

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Signs requests with one key pair, for one host, in us-east-1.
#[derive(Clone)]
pub struct Signer {
    identity: Identity,
    host: String,
}

impl Signer {
    pub fn new(access_key_id: &str, secret: &str, addr: SocketAddr) -> Signer {
        Signer {
            identity: Credentials::new(access_key_id, secret, None, None, "cognate-bench").into(),
            host: addr.to_string(),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The headers SigV4 adds (`authorization`, `x-amz-date`, ...) to a
    /// `POST /` with these headers and body, signed now for `service`.
    pub fn sign_post(
        &self,
        service: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let uri = format!("http://{}/", self.host);
        let all: Vec<(&str, &str)> = std::iter::once(("host", self.host.as_str()))
            .chain(headers.iter().copied())
            .collect();
        let settings = SigningSettings::default();
        sign_now(&self.identity, service, settings, "POST", &uri, &all, body)
    }
}

/// The headers SigV4 adds to a request, signed now in us-east-1.
fn sign_now(
    identity: &Identity,
    service: &str,
    settings: SigningSettings,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .expect("signing parameters are complete")
        .into();
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("a valid request");
    let (instructions, _) = sign(signable, &params)
        .expect("signing succeeds")
        .into_parts();
    let (headers, _) = instructions.into_parts();
    headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_string()))
        .collect()
}

/// Signs requests to an API behind forward-auth, as an app does: service
/// `execute-api`, temporary credentials, the body's hash in
/// `x-amz-content-sha256`.
#[derive(Clone)]
pub struct ApiSigner {
    identity: Identity,
}

impl ApiSigner {
    pub fn new(access_key_id: &str, secret: &str, session_token: &str) -> ApiSigner {
        let creds = Credentials::new(
            access_key_id,
            secret,
            Some(session_token.to_string()),
            None,
            "cognate-bench",
        );
        ApiSigner {
            identity: creds.into(),
        }
    }

    /// The headers SigV4 adds to `method host path` with an empty body,
    /// signed now.
    pub fn sign(&self, method: &str, host: &str, path: &str) -> Vec<(&'static str, String)> {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        let uri = format!("http://{host}{path}");
        let headers = [("host", host)];
        sign_now(
            &self.identity,
            "execute-api",
            settings,
            method,
            &uri,
            &headers,
            b"",
        )
    }
}

/// The signature headers of one request, made again when they are five
/// minutes old: a load generator that signed every request would spend,
/// on the cores it shares with the server, what a real client spends on
/// its own machine.
pub struct SignedOnce {
    signer: ApiSigner,
    method: &'static str,
    host: String,
    path: &'static str,
    signed: std::sync::Mutex<(std::time::Instant, Vec<(&'static str, String)>)>,
}

impl SignedOnce {
    pub fn new(signer: ApiSigner, method: &'static str, host: String, path: &'static str) -> Self {
        let headers = signer.sign(method, &host, path);
        SignedOnce {
            signer,
            method,
            host,
            path,
            signed: std::sync::Mutex::new((std::time::Instant::now(), headers)),
        }
    }

    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut signed = self.signed.lock().unwrap_or_else(|p| p.into_inner());
        if signed.0.elapsed() > std::time::Duration::from_secs(300) {
            *signed = (
                std::time::Instant::now(),
                self.signer.sign(self.method, &self.host, self.path),
            );
        }
        signed.1.clone()
    }
}

/// A `POST /` request: content type, optional target, body, and whether
/// (and for which service) to sign it.
pub struct Call<'a> {
    pub target: Option<&'a str>,
    pub content_type: &'a str,
    pub body: Bytes,
    pub sign_for: Option<&'a str>,
}

impl Call<'_> {
    /// The complete request, signed now if asked.
    pub fn build(&self, signer: &Signer) -> http::Request<Full<Bytes>> {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("host", signer.host())
            .header("content-type", self.content_type);
        if let Some(target) = self.target {
            builder = builder.header("x-amz-target", target);
        }
        if let Some(service) = self.sign_for {
            let mut headers = vec![("content-type", self.content_type)];
            if let Some(target) = self.target {
                headers.push(("x-amz-target", target));
            }
            for (name, value) in signer.sign_post(service, &headers, &self.body) {
                builder = builder.header(name, value);
            }
        }
        builder
            .body(Full::new(self.body.clone()))
            .expect("a valid request")
    }
}

/// Sends one request on a new connection; returns status and body.
pub async fn send_once(
    addr: SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> Result<(u16, String), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A Cognito JSON call; the parsed answer on 2xx.
pub async fn cognito(
    addr: SocketAddr,
    signer: &Signer,
    operation: &str,
    input: &Value,
    signed: bool,
) -> Result<Value, String> {
    let target = format!("AWSCognitoIdentityService.{operation}");
    let call = Call {
        target: Some(&target),
        content_type: JSON_CONTENT_TYPE,
        body: Bytes::from(input.to_string()),
        sign_for: signed.then_some("cognito-identity"),
    };
    let (status, body) = send_once(addr, call.build(signer)).await?;
    if !(200..300).contains(&status) {
        return Err(format!("{operation}: HTTP {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{operation}: {e}: {body}"))
}

/// Form-encodes parameters (everything but unreserved characters escaped).
pub fn form(params: &[(&str, &str)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, SET),
                utf8_percent_encode(v, SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A signed Query-protocol call (IAM, STS); the XML answer on 2xx.
pub async fn query(
    addr: SocketAddr,
    signer: &Signer,
    service: &str,
    params: &[(&str, &str)],
) -> Result<String, String> {
    let call = Call {
        target: None,
        content_type: FORM_CONTENT_TYPE,
        body: Bytes::from(form(params)),
        sign_for: Some(service),
    };
    let (status, body) = send_once(addr, call.build(signer)).await?;
    if !(200..300).contains(&status) {
        return Err(format!("{service} {params:?}: HTTP {status}: {body}"));
    }
    Ok(body)
}

/// The text of the first `<tag>` element of an XML document.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].to_string())
}
