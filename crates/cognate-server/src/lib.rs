//! The HTTP face of cognate: one endpoint for Cognito Identity (JSON 1.1),
//! STS and IAM (Query), plus health, metrics and OpenID discovery.

pub mod app;
pub mod auth;
pub mod call;
pub mod client_address;
pub mod cognito;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod openid;
pub mod operation;
pub mod query;
pub mod state;
pub mod validate;
pub mod wire_error;
pub mod xml;

pub use app::router;
pub use auth::AdminKey;
pub use state::AppState;
