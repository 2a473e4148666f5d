//! The answers of forward-auth, in API Gateway's words: the identity
//! headers a proxy copies to the upstream on allow, and each denial's
//! status, `x-amzn-ErrorType` and message (the one place they are made).

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cognate_core::invoke::InvokeIdentity;
use cognate_policy::MatchedStatement;
use cognate_sigv4::{ErrorKind, SigV4Error};
use serde_json::{Value, json};

use super::Allowed;

/// Why a request may not pass.
#[derive(Debug)]
pub(crate) enum Denial {
    /// Unsigned, or for no configured API (API Gateway says the same of an
    /// unknown route).
    MissingAuthenticationToken,
    Signature(SigV4Error),
    /// The access key or session token is not one this deployment issued.
    UnrecognizedClient,
    ExpiredToken,
    /// The policies do not allow `execute-api:Invoke`.
    AccessDenied {
        message: String,
        resource: String,
        matched_statements: Vec<MatchedStatement>,
    },
    /// The caller is not among the forward-auth callers.
    NotACaller,
    /// The proxy routed the request on another host than the one signed.
    HostMismatch {
        routed: String,
        signed: String,
    },
    /// The proxy's request does not describe the original one.
    BadForwardRequest(String),
    /// The description is ambiguous: the client sent forwarding headers of
    /// its own, or sent one twice.
    AmbiguousRequest(String),
    /// The domain failed; the detail is logged, never sent.
    Internal(String),
}

/// The identity headers, in the order the README lists them. Every one is
/// sent on every allow, empty when it has no value: nginx's
/// `proxy_set_header` then removes a client's copy. (Caddy's `copy_headers`
/// skips empty values, so its configuration deletes client copies itself.)
pub static IDENTITY_HEADERS: [HeaderName; 11] = [
    HeaderName::from_static("x-cognito-identity-id"),
    HeaderName::from_static("x-cognito-identity-pool-id"),
    HeaderName::from_static("x-cognito-authentication-type"),
    HeaderName::from_static("x-cognito-authentication-provider"),
    HeaderName::from_static("x-amzn-user-arn"),
    HeaderName::from_static("x-amzn-caller"),
    HeaderName::from_static("x-amzn-access-key"),
    HeaderName::from_static("x-amzn-account-id"),
    HeaderName::from_static("x-amzn-source-ip"),
    HeaderName::from_static("x-amzn-content-sha256"),
    HeaderName::from_static("x-amzn-resource-arn"),
];

/// The header carrying a denial's JSON body, for proxies that drop the
/// auth reply's body (nginx rebuilds its error page from it).
const ERROR_BODY: HeaderName = HeaderName::from_static("x-cognate-error-body");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// Who a caller is, as the first eight of [`IDENTITY_HEADERS`] say it:
/// the text, for `/authz/decide`, and an allow's headers, for a proxy.
/// Made once per session (`SessionDerived`): the values are formatted and
/// checked, and the names hashed into a map, once; each allow clones the
/// map and fills in its own values.
pub(crate) struct IdentityHeaders {
    identity: InvokeIdentity,
    /// Every header of an allow, in the order sent: the identity's values,
    /// and the request's own (source IP, payload hash, resource, request
    /// id) empty.
    template: HeaderMap,
}

impl IdentityHeaders {
    pub fn of(identity: InvokeIdentity) -> IdentityHeaders {
        let mut template = HeaderMap::with_capacity(IDENTITY_HEADERS.len() + 1);
        let values = identity_strings(&identity).map(header_value);
        let empty = || HeaderValue::from_static("");
        for (i, name) in IDENTITY_HEADERS.iter().enumerate() {
            let value = values.get(i).cloned().unwrap_or_else(empty);
            template.insert(name.clone(), value);
        }
        template.insert(REQUEST_ID, empty());
        IdentityHeaders { identity, template }
    }
}

/// The identity's fields in the order of [`IDENTITY_HEADERS`].
fn identity_strings(id: &InvokeIdentity) -> [&str; 8] {
    [
        &id.cognito_identity_id,
        &id.cognito_identity_pool_id,
        &id.cognito_authentication_type,
        &id.cognito_authentication_provider,
        &id.user_arn,
        &id.caller,
        &id.access_key,
        &id.account_id,
    ]
}

impl Allowed {
    /// The values of [`IDENTITY_HEADERS`], in order.
    fn into_values(self) -> [String; 11] {
        let [a, b, c, d, e, f, g, h] = identity_strings(&self.identity.identity).map(str::to_owned);
        [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            self.source_ip.to_string(),
            self.payload_hash,
            self.resource,
        ]
    }

    /// 200 with the identity headers, for a proxy.
    pub fn into_response(self, request_id: String) -> Response {
        let [.., source_ip, content_sha256, resource_arn] = &IDENTITY_HEADERS;
        let mut request_values = [
            (source_ip, Some(ip_header_value(self.source_ip))),
            (content_sha256, Some(owned_header_value(self.payload_hash))),
            (resource_arn, Some(owned_header_value(self.resource))),
            (&REQUEST_ID, Some(owned_header_value(request_id))),
        ];
        // The names are in the cloned map already: only the request's own
        // values are set, by name.
        let mut headers = self.identity.template.clone();
        for (name, value) in headers.iter_mut() {
            if let Some((_, own)) = request_values.iter_mut().find(|(n, _)| *n == name)
                && let Some(own) = own.take()
            {
                *value = own;
            }
        }
        let mut response = StatusCode::OK.into_response();
        *response.headers_mut() = headers;
        response
    }

    /// The principal and the statements that allowed, for `/authz/decide`.
    pub fn into_json(self) -> Value {
        let resource = self.resource.clone();
        let matched = statements(&self.matched_statements);
        let principal: serde_json::Map<String, Value> = IDENTITY_HEADERS
            .iter()
            .zip(self.into_values())
            .map(|(name, value)| (json_name(name.as_str()), Value::String(value)))
            .collect();
        json!({
            "decision": "Allow",
            "status": 200,
            "resource": resource,
            "principal": principal,
            "matchedStatements": matched,
        })
    }
}

/// A header value holding `value`'s own buffer, checked, not copied; sent
/// empty when it cannot be a header value (as [`header_value`]).
fn owned_header_value(value: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(axum::body::Bytes::from(value))
        .unwrap_or(HeaderValue::from_static(""))
}

/// An address as its `Display` writes it; IPv4 (what nearly every client
/// comes from) written directly, without the formatting machinery.
fn ip_header_value(ip: IpAddr) -> HeaderValue {
    let IpAddr::V4(v4) = ip else {
        return header_value(&ip.to_string());
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            push_byte(&mut text, &mut len, b'.');
        }
        let (hundreds, tens, ones) = (octet / 100, octet / 10 % 10, octet % 10);
        if hundreds > 0 {
            push_byte(&mut text, &mut len, b'0' + hundreds);
        }
        if hundreds > 0 || tens > 0 {
            push_byte(&mut text, &mut len, b'0' + tens);
        }
        push_byte(&mut text, &mut len, b'0' + ones);
    }
    HeaderValue::from_bytes(text.get(..len).unwrap_or_default())
        .unwrap_or(HeaderValue::from_static(""))
}

fn push_byte(buffer: &mut [u8], len: &mut usize, byte: u8) {
    if let Some(slot) = buffer.get_mut(*len) {
        *slot = byte;
        *len += 1;
    }
}

/// `x-cognito-identity-id` → `cognitoIdentityId`.
fn json_name(header: &str) -> String {
    let bare = header
        .strip_prefix("x-amzn-")
        .or_else(|| header.strip_prefix("x-"))
        .unwrap_or(header);
    let mut out = String::with_capacity(bare.len());
    let mut upper = false;
    for c in bare.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn statements(matched: &[MatchedStatement]) -> Vec<Value> {
    matched
        .iter()
        .map(|m| {
            json!({
                "source": format!("{:?}", m.source).to_lowercase(),
                "policyIndex": m.policy_index,
                "policyId": m.policy_id,
                "statementIndex": m.statement_index,
                "sid": m.sid,
                "effect": format!("{:?}", m.effect),
            })
        })
        .collect()
}

impl Denial {
    /// Status, `x-amzn-ErrorType` and message.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        let forbidden = StatusCode::FORBIDDEN;
        match self {
            Denial::MissingAuthenticationToken => (
                forbidden,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token".into(),
            ),
            Denial::Signature(e) => {
                let kind = match e.kind() {
                    ErrorKind::IncompleteSignature => "IncompleteSignatureException",
                    ErrorKind::AccessDenied => "AccessDeniedException",
                    _ => "InvalidSignatureException",
                };
                (forbidden, kind, e.to_string())
            }
            // API Gateway's type for it (other services say
            // UnrecognizedClientException).
            Denial::UnrecognizedClient => (
                forbidden,
                "AccessDeniedException",
                "The security token included in the request is invalid.".into(),
            ),
            Denial::ExpiredToken => (
                forbidden,
                "ExpiredTokenException",
                "The security token included in the request is expired".into(),
            ),
            Denial::AccessDenied { message, .. } => {
                (forbidden, "AccessDeniedException", message.clone())
            }
            Denial::HostMismatch { routed, signed } => (
                forbidden,
                "IncompleteSignatureException",
                format!(
                    "The request was routed to host '{}' but signed for host '{}'.",
                    clip(routed),
                    clip(signed)
                ),
            ),
            Denial::NotACaller => (
                forbidden,
                "AccessDeniedException",
                "Forward-auth decisions are given only to the configured callers \
                 (authz.callers)."
                    .into(),
            ),
            Denial::AmbiguousRequest(message) => {
                (forbidden, "AccessDeniedException", message.clone())
            }
            Denial::BadForwardRequest(message) => (
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                message.clone(),
            ),
            Denial::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerErrorException",
                "Internal server error".into(),
            ),
        }
    }

    /// The body API Gateway sends: `{"message": ...}`, but `{"Message":
    /// ...}` for a policy's denial.
    fn body(&self, message: String) -> Value {
        match self {
            Denial::AccessDenied { .. } => json!({ "Message": message }),
            _ => json!({ "message": message }),
        }
    }

    pub fn into_response(self, request_id: &str) -> Response {
        if let Denial::Internal(detail) = &self {
            tracing::error!(%detail, "forward-auth decision failed");
        }
        let (status, error_type, message) = self.parts();
        let body = ascii_json(&self.body(message.clone()));
        // The header copy stays within a proxy's buffer for a reply's head
        // (nginx: 4 KiB by default), whatever the message echoes.
        let short = if body.len() > MAX_HEADER_BODY {
            ascii_json(&self.body(format!("{}...", clip(&message))))
        } else {
            body.clone()
        };
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(ERROR_TYPE, HeaderValue::from_static(error_type));
        headers.insert(REQUEST_ID, header_value(request_id));
        headers.insert(ERROR_BODY, header_value(&short));
        (status, headers, body).into_response()
    }

    /// The decision as `/authz/decide` answers it.
    pub fn to_json(&self) -> Value {
        let (status, error_type, message) = self.parts();
        let mut answer = json!({
            "decision": "Deny",
            "status": status.as_u16(),
            "errorType": error_type,
            "message": message,
        });
        if let Denial::AccessDenied {
            resource,
            matched_statements,
            ..
        } = self
        {
            answer["resource"] = json!(resource);
            answer["matchedStatements"] = json!(statements(matched_statements));
        }
        answer
    }

    pub fn is_internal(&self) -> bool {
        matches!(self, Denial::Internal(_))
    }
}

/// The longest denial body sent as a header.
const MAX_HEADER_BODY: usize = 2048;

/// At most 256 characters of something the request said.
fn clip(text: &str) -> String {
    text.chars().take(256).collect()
}

/// JSON text in ASCII (anything else as `\u` escapes), so that it can also
/// travel as a header value.
fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// A header value: text as UTF-8 bytes (a resource path may hold any
/// character); one that cannot be a header value (a control character) is
/// sent empty rather than dropped, so the header is always there.
fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_follow_api_gateway() {
        assert_eq!(json_name("x-cognito-identity-id"), "cognitoIdentityId");
        assert_eq!(json_name("x-amzn-user-arn"), "userArn");
        assert_eq!(json_name("x-amzn-source-ip"), "sourceIp");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "192.168.100.9",
            "255.255.255.255",
            "1.0.10.100",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = text.parse().unwrap_or(IpAddr::from([9, 9, 9, 9]));
            assert_eq!(ip_header_value(ip), ip.to_string().as_str(), "{text}");
        }
    }

    #[test]
    fn error_bodies_are_ascii() {
        let body = ascii_json(&json!({"message": "café 🚀"}));
        assert_eq!(body, r#"{"message":"caf\u00e9 \ud83d\ude80"}"#);
        let back: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(back["message"], "café 🚀");
    }
}
