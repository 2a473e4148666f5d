//! The domain of cognate: identity pools, identities, logins and the rules
//! that link, merge and turn them into tokens and credentials. Nothing here
//! knows about HTTP or a particular database.

pub mod access;
pub mod arn;
pub mod audit;
pub mod authz;
pub mod clock;
pub mod config_cache;
pub mod console;
pub mod credentials;
pub mod developer;
pub mod error;
pub mod federation;
pub mod iam;
pub mod identities;
pub mod ids;
pub mod invoke;
pub mod keys;
pub mod logins;
pub mod model;
pub mod operation;
pub mod pools;
pub mod reset;
mod saml;
pub mod service;
pub mod session;
pub mod store;
pub mod sts;
pub mod sts_saml;
pub mod trust;

pub use access::{Authority, Caller};
pub use error::{Error, Result};
pub use service::{Cognate, DomainConfig};
