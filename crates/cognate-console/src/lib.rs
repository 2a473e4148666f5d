//! The admin console at `/console/` (DESIGN.md's fixed path): pages
//! rendered on the server with maud, no JavaScript, one stylesheet
//! embedded in the binary. Handlers are thin: they call the domain
//! (`cognate_core::Cognate`'s facades) as the account root, the caller the
//! admin key is, so every rule and every message is the API's.
//!
//! Security, in one place each:
//! - `session.rs`: sign-in with the admin access key (compared in
//!   constant time, attempts limited per client address), the sealed
//!   session cookie (AES-256-GCM under a key kept in the database, so
//!   every node and a restarted one open it; 30 minutes idle, 8 hours at
//!   most), sign-out recorded in the database so a replayed cookie is
//!   refused on every node.
//! - `guard.rs`: the middleware every console route goes through: the
//!   response headers (CSP and the rest), the session check, and on every
//!   state-changing request the same-origin check (`Sec-Fetch-Site`,
//!   `Origin`) and the CSRF token.

mod guard;
mod pages;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get, post};
use cognate_core::Caller;
use cognate_core::keys::SealingKey;
use cognate_server::AppState;
use serde::Deserialize;

/// `[console]` in the TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console (default true).
    pub enabled: bool,
    /// Serve it on this address only, not on the main listener (e.g.
    /// `127.0.0.1:8086`, to keep it off the public interface).
    pub listen: Option<String>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            listen: None,
        }
    }
}

/// What the console's handlers share.
pub struct Console {
    pub(crate) app: Arc<AppState>,
    pub(crate) cookie_key: SealingKey,
    pub(crate) sign_in_limiter: session::SignInLimiter,
    /// Snapshots of the metrics, for the Overview's rates.
    pub(crate) rates: Arc<pages::overview::Rates>,
}

pub(crate) type Shared = Arc<Console>;

impl Console {
    /// The console over the server's state; reads (or makes) the cookie
    /// key in the database.
    pub async fn open(app: Arc<AppState>) -> Result<Console, cognate_core::Error> {
        let cookie_key = app.cognate.console().cookie_key().await?;
        let rates = pages::overview::Rates::start(&app);
        Ok(Console {
            rates,
            app,
            cookie_key,
            sign_in_limiter: session::SignInLimiter::default(),
        })
    }

    /// The caller the console acts as: the account root (the admin key),
    /// in the server's region.
    pub(crate) fn caller(&self) -> Caller {
        let config = self.app.cognate.config();
        Caller::root(config.account.clone(), config.default_region.clone())
    }

    /// The console's routes, all under `/console`.
    pub fn router(self) -> Router {
        let shared: Shared = Arc::new(self);
        Router::new()
            .route("/console", get(pages::to_console))
            .route("/console/", get(pages::pools::list))
            .route(
                "/console/sign-in",
                get(pages::sign_in::form).post(pages::sign_in::submit),
            )
            .route("/console/sign-out", post(pages::sign_in::sign_out))
            .route("/console/assets/console.css", get(pages::stylesheet))
            .route("/console/assets/icon.svg", get(pages::icon))
            .route("/console/pools/new", get(pages::pools::new_form))
            .route("/console/pools", post(pages::pools::create))
            .route(
                "/console/pools/{id}",
                get(pages::pools::show).post(pages::pools::update),
            )
            .route(
                "/console/pools/{id}/delete",
                get(pages::pools::confirm_delete).post(pages::pools::delete),
            )
            .route(
                "/console/pools/{id}/identities",
                get(pages::identities::list),
            )
            .route("/console/identities/{id}", get(pages::identities::show))
            .route(
                "/console/identities/{id}/unlink",
                get(pages::identities::confirm_unlink).post(pages::identities::unlink),
            )
            .route(
                "/console/identities/{id}/delete",
                get(pages::identities::confirm_delete).post(pages::identities::delete),
            )
            .route(
                "/console/pools/{id}/roles",
                get(pages::roles::show).post(pages::roles::save),
            )
            .route(
                "/console/simulator",
                get(pages::simulator::form).post(pages::simulator::simulate),
            )
            .route(
                "/console/iam/roles",
                get(pages::iam::roles).post(pages::iam::create_role),
            )
            .route("/console/iam/roles/{name}", get(pages::iam::role))
            .route(
                "/console/iam/roles/{name}/trust",
                post(pages::iam::save_trust),
            )
            .route(
                "/console/iam/roles/{name}/policies",
                post(pages::iam::put_inline),
            )
            .route(
                "/console/iam/roles/{name}/policies/delete",
                post(pages::iam::delete_inline),
            )
            .route("/console/iam/roles/{name}/attach", post(pages::iam::attach))
            .route("/console/iam/roles/{name}/detach", post(pages::iam::detach))
            .route(
                "/console/iam/roles/{name}/delete",
                get(pages::iam::confirm_delete_role).post(pages::iam::delete_role),
            )
            .route(
                "/console/iam/policies",
                get(pages::iam::policies).post(pages::iam::create_policy),
            )
            .route("/console/iam/policy", get(pages::iam::policy))
            .route(
                "/console/iam/policy/versions",
                post(pages::iam::create_policy_version),
            )
            .route("/console/iam/providers", get(pages::iam::providers))
            .route("/console/iam/providers/oidc", post(pages::iam::create_oidc))
            .route("/console/iam/providers/saml", post(pages::iam::create_saml))
            .route("/console/iam/provider", get(pages::iam::provider))
            .route(
                "/console/iam/providers/delete",
                post(pages::iam::delete_provider),
            )
            .route("/console/overview", get(pages::overview::show))
            .route("/console/activity", get(pages::activity::list))
            .route("/console/keys", get(pages::keys::list))
            .route("/console/keys/rotate", post(pages::keys::rotate))
            .route("/console/{*rest}", any(pages::not_found))
            // Route layers: merged into the API's router, a plain layer
            // would also wrap its fallback and answer every unknown path
            // with the console's sign-in.
            .route_layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                guard::guard,
            ))
            .route_layer(axum::middleware::from_fn(guard::headers))
            .with_state(shared)
    }
}
