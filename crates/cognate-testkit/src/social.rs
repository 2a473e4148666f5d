//! Facebook Graph API and Login with Amazon, as token tables behind the
//! endpoints the verifiers call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::server::{Behavior, FixtureServer, json_response, lock};
use crate::{random_alnum, unix_now};

#[derive(Debug, Clone)]
struct IssuedToken {
    /// Facebook app id / Amazon client id.
    client: String,
    user_id: String,
    issued_at: i64,
    expires_at: i64,
}

#[derive(Default)]
struct Table {
    tokens: HashMap<String, IssuedToken>,
    profiles: HashMap<String, Map<String, Value>>,
    behavior: Behavior,
    tokeninfo_user_id: bool,
}

struct SocialShared {
    table: Mutex<Table>,
    requests: AtomicUsize,
}

impl SocialShared {
    fn new() -> Arc<Self> {
        Arc::new(SocialShared {
            table: Mutex::new(Table {
                tokeninfo_user_id: true,
                ..Table::default()
            }),
            requests: AtomicUsize::new(0),
        })
    }

    fn issue(&self, prefix: &str, client: &str, user_id: &str, expires_at: i64) -> String {
        let token = format!("{prefix}{}", random_alnum(96));
        lock(&self.table).tokens.insert(
            token.clone(),
            IssuedToken {
                client: client.to_owned(),
                user_id: user_id.to_owned(),
                issued_at: unix_now(),
                expires_at,
            },
        );
        token
    }

    /// Counts the request and returns the current behaviour.
    fn enter(&self) -> Behavior {
        self.requests.fetch_add(1, Ordering::SeqCst);
        lock(&self.table).behavior.clone()
    }

    fn lookup(&self, token: Option<&str>) -> Lookup {
        let Some(token) = token else {
            return Lookup::Missing;
        };
        let table = lock(&self.table);
        match table.tokens.get(token) {
            None => Lookup::Unknown,
            Some(t) if t.expires_at <= unix_now() => Lookup::Expired(t.clone()),
            Some(t) => Lookup::Valid(
                t.clone(),
                table.profiles.get(&t.user_id).cloned().unwrap_or_default(),
            ),
        }
    }
}

enum Lookup {
    Missing,
    Unknown,
    Expired(IssuedToken),
    Valid(IssuedToken, Map<String, Value>),
}

/// The token from `access_token=` or an `Authorization: Bearer|OAuth`
/// header, or (Amazon) `x-amz-access-token`.
fn token_from(query: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = query.get("access_token") {
        return Some(t.clone());
    }
    if let Some(t) = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(t.to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
        Some(value.trim().to_owned())
    } else {
        None
    }
}

// ---------------------------------------------------------------- Facebook

/// The Facebook Graph API endpoints used to check user access tokens:
/// `GET /me?fields=...`, `GET /app`, `GET /debug_token?input_token=...`
/// (also under a version prefix such as `/v19.0/me`). The token comes from
/// `access_token=` or `Authorization: Bearer`/`OAuth`. Unknown tokens and
/// expired ones get Graph's `OAuthException` code 190 (subcode 463 when
/// expired) with status 400.
pub struct FacebookGraph {
    shared: Arc<SocialShared>,
    server: FixtureServer,
}

impl FacebookGraph {
    pub async fn start() -> Self {
        let shared = SocialShared::new();
        let state = shared.clone();
        let server = FixtureServer::start(move |_| {
            Router::new()
                .route("/me", get(fb_me))
                .route("/app", get(fb_app))
                .route("/debug_token", get(fb_debug_token))
                .route("/{version}/me", get(fb_me))
                .route("/{version}/app", get(fb_app))
                .route("/{version}/debug_token", get(fb_debug_token))
                .with_state(state)
        })
        .await;
        FacebookGraph { shared, server }
    }

    /// `http://127.0.0.1:PORT`: the Graph API base URL to configure.
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// A user access token for `app_id`, valid for an hour.
    pub fn issue_token(&self, app_id: &str, user_id: &str) -> String {
        self.issue_token_expiring_at(app_id, user_id, unix_now() + 3600)
    }

    pub fn issue_token_expiring_at(&self, app_id: &str, user_id: &str, expires_at: i64) -> String {
        self.shared.issue("EAA", app_id, user_id, expires_at)
    }

    /// A token that expired an hour ago.
    pub fn issue_expired_token(&self, app_id: &str, user_id: &str) -> String {
        self.issue_token_expiring_at(app_id, user_id, unix_now() - 3600)
    }

    pub fn revoke(&self, token: &str) {
        lock(&self.shared.table).tokens.remove(token);
    }

    /// Fields `/me` returns besides `id` (e.g. `name`, `email`).
    pub fn set_user_profile(&self, user_id: &str, profile: Value) {
        let profile = profile.as_object().cloned().unwrap_or_default();
        lock(&self.shared.table)
            .profiles
            .insert(user_id.to_owned(), profile);
    }

    pub fn set_behavior(&self, behavior: Behavior) {
        lock(&self.shared.table).behavior = behavior;
    }

    /// Requests served so far (all endpoints).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

fn fb_error(lookup: &Lookup) -> Response {
    let body = match lookup {
        Lookup::Missing => json!({"error": {
            "message": "An active access token must be used to query information about the current user.",
            "type": "OAuthException", "code": 2500, "fbtrace_id": random_alnum(11)}}),
        Lookup::Expired(t) => json!({"error": {
            "message": format!("Error validating access token: Session has expired at unix time {}. The current unix time is {}.", t.expires_at, unix_now()),
            "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": random_alnum(11)}}),
        _ => json!({"error": {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException", "code": 190, "fbtrace_id": random_alnum(11)}}),
    };
    json_response(StatusCode::BAD_REQUEST, &body)
}

async fn fb_me(
    State(shared): State<Arc<SocialShared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let behavior = shared.enter();
    let lookup = shared.lookup(token_from(&query, &headers).as_deref());
    behavior
        .respond(|| match &lookup {
            Lookup::Valid(t, profile) => {
                let mut body = Map::new();
                body.insert("id".into(), Value::String(t.user_id.clone()));
                let wanted: Vec<&str> = query
                    .get("fields")
                    .map(|f| f.split(',').map(str::trim).collect())
                    .unwrap_or_else(|| vec!["name"]);
                for (k, v) in profile {
                    if wanted.contains(&k.as_str()) {
                        body.insert(k.clone(), v.clone());
                    }
                }
                json_response(StatusCode::OK, &Value::Object(body))
            }
            other => fb_error(other),
        })
        .await
}

async fn fb_app(
    State(shared): State<Arc<SocialShared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let behavior = shared.enter();
    let lookup = shared.lookup(token_from(&query, &headers).as_deref());
    behavior
        .respond(|| match &lookup {
            Lookup::Valid(t, _) => json_response(
                StatusCode::OK,
                &json!({"id": t.client, "name": format!("Fixture app {}", t.client),
                        "link": format!("https://www.facebook.com/games/?app_id={}", t.client)}),
            ),
            other => fb_error(other),
        })
        .await
}

async fn fb_debug_token(
    State(shared): State<Arc<SocialShared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let behavior = shared.enter();
    let lookup = shared.lookup(query.get("input_token").map(String::as_str));
    behavior
        .respond(|| {
            let data = match &lookup {
                Lookup::Valid(t, _) => json!({
                    "app_id": t.client, "type": "USER",
                    "application": format!("Fixture app {}", t.client),
                    "data_access_expires_at": t.expires_at + 86400 * 90,
                    "expires_at": t.expires_at, "issued_at": t.issued_at,
                    "is_valid": true, "scopes": ["public_profile"], "user_id": t.user_id}),
                Lookup::Expired(t) => json!({
                    "app_id": t.client, "type": "USER",
                    "expires_at": t.expires_at, "is_valid": false,
                    "error": {"code": 190, "subcode": 463,
                              "message": "Session has expired."},
                    "scopes": [], "user_id": t.user_id}),
                _ => json!({"is_valid": false, "scopes": [],
                            "error": {"code": 190, "message": "Invalid OAuth access token."}}),
            };
            json_response(StatusCode::OK, &json!({ "data": data }))
        })
        .await
}

// ------------------------------------------------------- Login with Amazon

/// Login with Amazon: `GET /auth/o2/tokeninfo?access_token=...` (or header
/// `x-amz-access-token`) answers
/// `{"iss","user_id","aud","app_id","exp" (seconds left),"iat"}`;
/// `GET /user/profile` (`Authorization: bearer ...`) answers
/// `{"user_id","name","email",...}`. Unknown or expired tokens get
/// `{"error":"invalid_token",...}` (400 from tokeninfo, 401 from profile).
pub struct LoginWithAmazon {
    shared: Arc<SocialShared>,
    server: FixtureServer,
}

impl LoginWithAmazon {
    pub async fn start() -> Self {
        let shared = SocialShared::new();
        let state = shared.clone();
        let server = FixtureServer::start(move |_| {
            Router::new()
                .route("/auth/o2/tokeninfo", get(lwa_tokeninfo))
                .route("/user/profile", get(lwa_profile))
                .with_state(state)
        })
        .await;
        LoginWithAmazon { shared, server }
    }

    /// `http://127.0.0.1:PORT`: the API base URL to configure.
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// An `Atza|...` access token for `client_id`, valid for an hour.
    pub fn issue_token(&self, client_id: &str, user_id: &str) -> String {
        self.issue_token_expiring_at(client_id, user_id, unix_now() + 3600)
    }

    pub fn issue_token_expiring_at(
        &self,
        client_id: &str,
        user_id: &str,
        expires_at: i64,
    ) -> String {
        self.shared.issue("Atza|", client_id, user_id, expires_at)
    }

    pub fn issue_expired_token(&self, client_id: &str, user_id: &str) -> String {
        self.issue_token_expiring_at(client_id, user_id, unix_now() - 3600)
    }

    pub fn revoke(&self, token: &str) {
        lock(&self.shared.table).tokens.remove(token);
    }

    /// Fields `/user/profile` returns besides `user_id`.
    pub fn set_user_profile(&self, user_id: &str, profile: Value) {
        let profile = profile.as_object().cloned().unwrap_or_default();
        lock(&self.shared.table)
            .profiles
            .insert(user_id.to_owned(), profile);
    }

    /// Whether tokeninfo includes `user_id` (default true; real tokeninfo
    /// omits it unless the token has the `profile` scope).
    pub fn set_tokeninfo_includes_user_id(&self, on: bool) {
        lock(&self.shared.table).tokeninfo_user_id = on;
    }

    pub fn set_behavior(&self, behavior: Behavior) {
        lock(&self.shared.table).behavior = behavior;
    }

    /// Requests served so far (both endpoints).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

fn lwa_error(status: StatusCode, lookup: &Lookup) -> Response {
    let description = match lookup {
        Lookup::Missing => "The request is missing a required parameter : access_token",
        Lookup::Expired(_) => {
            "The access token provided is expired, revoked, malformed, or invalid for other reasons."
        }
        _ => "The request has an invalid parameter : access_token",
    };
    json_response(
        status,
        &json!({"error": "invalid_token", "error_description": description}),
    )
}

async fn lwa_tokeninfo(
    State(shared): State<Arc<SocialShared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let behavior = shared.enter();
    let lookup = shared.lookup(token_from(&query, &headers).as_deref());
    let with_user = lock(&shared.table).tokeninfo_user_id;
    behavior
        .respond(|| match &lookup {
            Lookup::Valid(t, _) => {
                let mut body = json!({
                    "iss": "https://www.amazon.com",
                    "aud": t.client,
                    "app_id": format!("amzn1.application.{}", t.client.len()),
                    "exp": t.expires_at - unix_now(),
                    "iat": t.issued_at,
                });
                if with_user && let Some(obj) = body.as_object_mut() {
                    obj.insert("user_id".into(), Value::String(t.user_id.clone()));
                }
                json_response(StatusCode::OK, &body)
            }
            other => lwa_error(StatusCode::BAD_REQUEST, other),
        })
        .await
}

async fn lwa_profile(
    State(shared): State<Arc<SocialShared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let behavior = shared.enter();
    let lookup = shared.lookup(token_from(&query, &headers).as_deref());
    behavior
        .respond(|| match &lookup {
            Lookup::Valid(t, profile) => {
                let mut body = Map::new();
                body.insert("user_id".into(), Value::String(t.user_id.clone()));
                for (k, v) in profile {
                    body.insert(k.clone(), v.clone());
                }
                json_response(StatusCode::OK, &Value::Object(body))
            }
            other => lwa_error(StatusCode::UNAUTHORIZED, other),
        })
        .await
}
