//! OpenID discovery and JWKS for the tokens cognate signs.

use std::sync::Arc;

use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
