//! The one place where failures become wire errors: the AWS error code and
//! HTTP status for each protocol, rendered as JSON 1.1 or Query XML.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cognate_core::Error;
use cognate_sigv4::SigV4Error;

use crate::operation::{QueryFraming, Service};
use crate::xml::escape;

/// The wire protocol a request came in on; errors answer in the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Query(Service),
}

/// An error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
    /// Why the server failed, for its log only: never sent.
    pub cause: Option<String>,
}

impl ApiError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status,
            cause: None,
        }
    }

    fn caused_by(mut self, cause: &str) -> ApiError {
        self.cause = Some(cause.to_string());
        self
    }

    /// A body over `limit` bytes.
    pub fn body_too_large(limit: usize) -> ApiError {
        ApiError::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body exceeds the limit of {limit} bytes."),
        )
    }

    /// A body that did not arrive in time.
    pub fn body_timeout() -> ApiError {
        ApiError::new(
            "RequestTimeoutException",
            StatusCode::REQUEST_TIMEOUT,
            "The request body was not received in time.",
        )
    }

    /// An `X-Amz-Target` that names no operation.
    pub fn unknown_operation(target: &str) -> ApiError {
        ApiError::new(
            "UnknownOperationException",
            StatusCode::BAD_REQUEST,
            format!(
                "Unknown operation: '{target}'. Expected AWSCognitoIdentityService.<Operation>."
            ),
        )
    }

    /// A JSON body that is not the operation's input.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", StatusCode::BAD_REQUEST, message)
    }

    /// A Query request that is not well formed (`MalformedQueryString`,
    /// `MissingAction`, `InvalidAction`, ...).
    pub fn bad_query(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(code, StatusCode::BAD_REQUEST, message)
    }

    pub fn is_server_fault(&self) -> bool {
        self.status.is_server_error()
    }

    /// A domain error in the protocol of the request.
    pub fn from_domain(error: &Error, protocol: Protocol) -> ApiError {
        use StatusCode as S;
        let message = error.to_string();
        let json = |code| ApiError::new(code, S::BAD_REQUEST, message.clone());
        match protocol {
            Protocol::Json => match error {
                Error::Validation(_) | Error::Constraint(_) => json("ValidationException"),
                Error::InvalidParameter(_) | Error::InvalidInput(_) => {
                    json("InvalidParameterException")
                }
                Error::NotAuthorized(_) => json("NotAuthorizedException"),
                Error::ResourceNotFound(_) => json("ResourceNotFoundException"),
                Error::ResourceConflict(_) | Error::DeleteConflict(_) => {
                    json("ResourceConflictException")
                }
                Error::LimitExceeded(_) => json("LimitExceededException"),
                Error::InvalidIdentityPoolConfiguration(_) => {
                    json("InvalidIdentityPoolConfigurationException")
                }
                Error::ExternalService(_) => json("ExternalServiceException"),
                Error::DeveloperUserAlreadyRegistered(_) => {
                    json("DeveloperUserAlreadyRegisteredException")
                }
                Error::ConcurrentModification(_) => json("ConcurrentModificationException"),
                Error::TooManyRequests(_) => json("TooManyRequestsException"),
                Error::AccessDenied(_) => json("AccessDeniedException"),
                Error::MalformedPolicyDocument(_)
                | Error::InvalidIdentityToken(_)
                | Error::PackedPolicyTooLarge(_) => json("InvalidParameterException"),
                Error::ExpiredToken(_) => json("NotAuthorizedException"),
                Error::Internal(detail) => ApiError::internal().caused_by(detail),
            },
            Protocol::Query(service) => {
                let q = |code, status| ApiError::new(code, status, message.clone());
                match error {
                    Error::Validation(_) | Error::Constraint(_) => {
                        q("ValidationError", S::BAD_REQUEST)
                    }
                    Error::InvalidParameter(_) => q("InvalidParameterValue", S::BAD_REQUEST),
                    Error::InvalidInput(_) => q("InvalidInput", S::BAD_REQUEST),
                    Error::ResourceNotFound(_) => q("NoSuchEntity", S::NOT_FOUND),
                    Error::ResourceConflict(_) => q("EntityAlreadyExists", S::CONFLICT),
                    Error::DeleteConflict(_) => q("DeleteConflict", S::CONFLICT),
                    Error::LimitExceeded(_) => q("LimitExceeded", S::CONFLICT),
                    Error::MalformedPolicyDocument(_) => {
                        q("MalformedPolicyDocument", S::BAD_REQUEST)
                    }
                    Error::InvalidIdentityToken(_) => q("InvalidIdentityToken", S::BAD_REQUEST),
                    Error::ExpiredToken(_) => q("ExpiredTokenException", S::BAD_REQUEST),
                    Error::PackedPolicyTooLarge(_) => q("PackedPolicyTooLarge", S::BAD_REQUEST),
                    Error::AccessDenied(_) | Error::NotAuthorized(_) => {
                        q("AccessDenied", S::FORBIDDEN)
                    }
                    Error::TooManyRequests(_) => q("Throttling", S::BAD_REQUEST),
                    Error::ConcurrentModification(_) => q("ConcurrentModification", S::CONFLICT),
                    Error::ExternalService(_) => match service {
                        Service::Sts => q("IDPCommunicationError", S::BAD_REQUEST),
                        _ => q("ServiceFailure", S::SERVICE_UNAVAILABLE),
                    },
                    Error::InvalidIdentityPoolConfiguration(_)
                    | Error::DeveloperUserAlreadyRegistered(_) => {
                        q("InvalidParameterValue", S::BAD_REQUEST)
                    }
                    Error::Internal(detail) => ApiError::internal_query(service).caused_by(detail),
                }
            }
        }
    }

    /// A signature failure in the protocol of the request.
    pub fn from_sigv4(error: &SigV4Error, protocol: Protocol) -> ApiError {
        let kind = error.kind();
        match protocol {
            Protocol::Json => ApiError::new(
                kind.aws_code_json(),
                StatusCode::from_u16(kind.http_status_json()).unwrap_or(StatusCode::BAD_REQUEST),
                error.to_string(),
            ),
            Protocol::Query(_) => ApiError::new(
                kind.aws_code_query(),
                StatusCode::from_u16(kind.http_status_query()).unwrap_or(StatusCode::FORBIDDEN),
                error.to_string(),
            ),
        }
    }

    pub fn missing_authentication(protocol: Protocol) -> ApiError {
        match protocol {
            Protocol::Json => ApiError::new(
                "MissingAuthenticationTokenException",
                StatusCode::BAD_REQUEST,
                "Request is missing Authentication Token",
            ),
            Protocol::Query(_) => ApiError::new(
                "MissingAuthenticationToken",
                StatusCode::FORBIDDEN,
                "Request is missing Authentication Token",
            ),
        }
    }

    pub fn unknown_access_key(protocol: Protocol) -> ApiError {
        match protocol {
            Protocol::Json => ApiError::new(
                "UnrecognizedClientException",
                StatusCode::BAD_REQUEST,
                "The security token included in the request is invalid.",
            ),
            Protocol::Query(_) => ApiError::new(
                "InvalidClientTokenId",
                StatusCode::FORBIDDEN,
                "The security token included in the request is invalid.",
            ),
        }
    }

    pub fn expired_session(protocol: Protocol) -> ApiError {
        match protocol {
            Protocol::Json => ApiError::new(
                "ExpiredTokenException",
                StatusCode::BAD_REQUEST,
                "The security token included in the request is expired",
            ),
            Protocol::Query(_) => ApiError::new(
                "ExpiredToken",
                StatusCode::FORBIDDEN,
                "The security token included in the request is expired",
            ),
        }
    }

    /// `POST /admin/reset` on a deployment that does not allow it.
    pub fn reset_not_enabled() -> ApiError {
        ApiError::new(
            "ResetNotEnabledException",
            StatusCode::NOT_FOUND,
            "Resetting is not enabled on this deployment. Start it with --allow-reset \
             (COGNATE_ALLOW_RESET=true, or allow_reset = true under [testing] in the \
             config file) where its data may be thrown away, as in tests.",
        )
    }

    /// A node that cannot reach its database yet (retryable: a 503).
    pub fn starting() -> ApiError {
        ApiError::new(
            "ServiceUnavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is starting: its database cannot be reached yet. Please try again.",
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            "InternalErrorException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred. Please try again.",
        )
    }

    fn internal_query(service: Service) -> ApiError {
        let code = match service {
            Service::Iam => "ServiceFailure",
            _ => "InternalFailure",
        };
        ApiError::new(
            code,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The request processing has failed because of an unknown error.",
        )
    }

    /// Renders the error in the shape of `protocol`.
    pub fn render(&self, protocol: Protocol, request_id: &str) -> Response {
        match protocol {
            Protocol::Json => {
                let body = serde_json::json!({"__type": self.code, "message": self.message});
                let mut response = (self.status, body.to_string()).into_response();
                let headers = response.headers_mut();
                headers.insert(
                    "content-type",
                    HeaderValue::from_static("application/x-amz-json-1.1"),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("{}:", self.code)) {
                    headers.insert("x-amzn-errortype", v);
                }
                // Header values must be visible ASCII; fall back to none.
                let ascii: String = self
                    .message
                    .chars()
                    .map(|c| {
                        if c.is_ascii_graphic() || c == ' ' {
                            c
                        } else {
                            '?'
                        }
                    })
                    .collect();
                if let Ok(v) = HeaderValue::from_str(&ascii) {
                    headers.insert("x-amzn-errormessage", v);
                }
                response
            }
            Protocol::Query(service) => {
                let fault = if self.is_server_fault() {
                    "Receiver"
                } else {
                    "Sender"
                };
                let body = format!(
                    "<ErrorResponse xmlns=\"{}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    service.xml_namespace(),
                    self.code,
                    escape(&self.message),
                    escape(request_id)
                );
                let mut response = (self.status, body).into_response();
                response
                    .headers_mut()
                    .insert("content-type", HeaderValue::from_static("text/xml"));
                response
            }
        }
    }
}
