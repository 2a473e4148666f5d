//! The HTTP face of cognate: one endpoint for Cognito Identity (JSON 1.1),
//! STS and IAM (Query), plus health, metrics and OpenID discovery.

pub mod admin_key;
pub mod app;
pub mod auth;
pub mod authz;
pub mod call;
pub mod client_address;
pub mod cognito;
pub mod form;
pub mod handlers;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod openid;
pub mod operation;
pub mod query;
pub mod reset;
pub mod state;
pub mod validate;
pub mod wire_error;
pub mod xml;

pub use admin_key::AdminKey;
pub use app::{ServingApp, router, starting_router};
/// The router `router` makes, for the binary that serves it.
pub use axum::Router;
pub use state::AppState;
