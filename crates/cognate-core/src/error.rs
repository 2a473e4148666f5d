//! Domain errors. Each variant is a kind of failure the protocols know; the
//! server turns them into wire errors in exactly one place
//! (`cognate-server/src/wire_error.rs`). Messages are shown to clients, so
//! they must never contain secrets or tokens.

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Model constraint violations, already phrased the AWS way
    /// ("Value 'x' at 'identityPoolName' failed to satisfy constraint: ...").
    #[error("{}", validation_message(.0))]
    Validation(Vec<String>),
    /// A constraint violation phrased on its own, without the
    /// "N validation errors detected" preamble (STS: "The requested
    /// DurationSeconds exceeds the MaxSessionDuration set for this role.").
    #[error("{0}")]
    Constraint(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotAuthorized(String),
    /// Cognito's ResourceNotFoundException, IAM's NoSuchEntity.
    #[error("{0}")]
    ResourceNotFound(String),
    /// Cognito's ResourceConflictException, IAM's EntityAlreadyExists.
    #[error("{0}")]
    ResourceConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidIdentityPoolConfiguration(String),
    #[error("{0}")]
    ExternalService(String),
    #[error("{0}")]
    DeveloperUserAlreadyRegistered(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// The caller is authenticated but its policies do not allow the call.
    #[error("{0}")]
    AccessDenied(String),
    // IAM and STS specific kinds (IAM's NoSuchEntity and
    // EntityAlreadyExists are ResourceNotFound and ResourceConflict).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    DeleteConflict(String),
    /// IAM's InvalidInput (e.g. a policy given to a simulation is not valid).
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    InvalidIdentityToken(String),
    #[error("{0}")]
    ExpiredToken(String),
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// A bug or a backend failure. The text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A pool that does not exist (or that the caller cannot see).
    pub fn pool_not_found(id: &str) -> Error {
        Error::ResourceNotFound(format!("IdentityPool '{id}' not found."))
    }

    /// An identity that does not exist (or that the caller cannot see).
    pub fn identity_not_found(id: &str) -> Error {
        Error::ResourceNotFound(format!("Identity '{id}' not found."))
    }

    /// A disabled identity: merged away, or left without logins.
    pub fn identity_forbidden(id: &str) -> Error {
        Error::NotAuthorized(format!("Access to Identity '{id}' is forbidden."))
    }
}

fn validation_message(errors: &[String]) -> String {
    match errors.len() {
        1 => format!("1 validation error detected: {}", errors.join("; ")),
        n => format!("{n} validation errors detected: {}", errors.join("; ")),
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Error::ConcurrentModification(m),
            StoreError::LimitExceeded(m) => Error::LimitExceeded(m),
            StoreError::NotFound(m) => Error::ResourceNotFound(m),
            StoreError::AlreadyExists(m) => Error::ResourceConflict(m),
            StoreError::Backend(m) => Error::Internal(m),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
