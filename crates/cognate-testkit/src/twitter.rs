//! Twitter's `GET /1.1/account/verify_credentials.json`, which answers only
//! requests signed with OAuth 1.0a (HMAC-SHA1) by a registered app's
//! consumer secret and a user's token secret. The signature is checked
//! here from RFC 5849 (written apart from cognate's signer), with the
//! timestamp window and single-use nonces Twitter enforces.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::server::{Behavior, FixtureServer, json_response, lock};
use crate::{random_alnum, unix_now};

struct User {
    consumer_key: String,
    secret: String,
    id: u64,
    screen_name: String,
}

#[derive(Default)]
struct Table {
    /// consumer key → consumer secret
    apps: HashMap<String, String>,
    /// access token → its user
    tokens: HashMap<String, User>,
    nonces: HashSet<String>,
    behavior: Behavior,
}

struct Shared {
    base_url: String,
    table: Mutex<Table>,
    requests: AtomicUsize,
}

/// The Twitter API fixture.
pub struct TwitterApi {
    shared: Arc<Shared>,
    server: FixtureServer,
}

impl TwitterApi {
    pub async fn start() -> Self {
        let mut shared = None;
        let server = FixtureServer::start(|base_url| {
            let state = Arc::new(Shared {
                base_url: base_url.to_owned(),
                table: Mutex::new(Table::default()),
                requests: AtomicUsize::new(0),
            });
            shared = Some(state.clone());
            Router::new()
                .route(
                    "/1.1/account/verify_credentials.json",
                    get(verify_credentials),
                )
                .with_state(state)
        })
        .await;
        #[allow(clippy::expect_used)] // start runs the closure before returning
        let shared = shared.expect("the router was built");
        TwitterApi { shared, server }
    }

    /// `http://127.0.0.1:PORT`: the API base URL to configure.
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// Registers an app; returns the pool's value for it,
    /// `consumerKey;consumerSecret`.
    pub fn register_app(&self) -> String {
        let (key, secret) = (random_alnum(25), random_alnum(50));
        lock(&self.shared.table)
            .apps
            .insert(key.clone(), secret.clone());
        format!("{key};{secret}")
    }

    /// A user's login for the app `consumer_key`: `accessToken;tokenSecret`.
    pub fn issue_token(&self, consumer_key: &str, user_id: u64, screen_name: &str) -> String {
        let token = format!("{user_id}-{}", random_alnum(40));
        let secret = random_alnum(45);
        lock(&self.shared.table).tokens.insert(
            token.clone(),
            User {
                consumer_key: consumer_key.to_owned(),
                secret: secret.clone(),
                id: user_id,
                screen_name: screen_name.to_owned(),
            },
        );
        format!("{token};{secret}")
    }

    /// Revokes a login (`accessToken;tokenSecret` or the token alone).
    pub fn revoke(&self, login: &str) {
        let token = login.split(';').next().unwrap_or(login);
        lock(&self.shared.table).tokens.remove(token);
    }

    pub fn set_behavior(&self, behavior: Behavior) {
        lock(&self.shared.table).behavior = behavior;
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

fn refused(code: u16, message: &str) -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"errors": [{"code": code, "message": message}]}),
    )
}

async fn verify_credentials(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Vec<(String, String)>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let behavior = lock(&shared.table).behavior.clone();
    let answer = check(&shared, &query, &uri, &headers);
    behavior.respond(|| answer).await
}

fn check(shared: &Shared, query: &[(String, String)], uri: &Uri, headers: &HeaderMap) -> Response {
    let cannot = || refused(32, "Could not authenticate you.");
    let Some(oauth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_oauth_header)
    else {
        return refused(215, "Bad Authentication data.");
    };
    let field = |name: &str| oauth.get(name).map(String::as_str).unwrap_or_default();
    if field("oauth_signature_method") != "HMAC-SHA1"
        || !matches!(
            oauth.get("oauth_version").map(String::as_str),
            None | Some("1.0")
        )
    {
        return cannot();
    }
    let timestamp: i64 = field("oauth_timestamp").parse().unwrap_or(0);
    if (unix_now() - timestamp).abs() > 300 {
        return cannot();
    }
    let mut table = lock(&shared.table);
    let Some(consumer_secret) = table.apps.get(field("oauth_consumer_key")).cloned() else {
        return cannot();
    };
    let Some(user) = table.tokens.get(field("oauth_token")) else {
        return refused(89, "Invalid or expired token.");
    };
    if user.consumer_key != field("oauth_consumer_key") {
        return refused(89, "Invalid or expired token.");
    }
    let (token_secret, id, screen_name) = (user.secret.clone(), user.id, user.screen_name.clone());
    let mut params: Vec<(String, String)> = query.to_vec();
    params.extend(
        oauth
            .iter()
            .filter(|(k, _)| k.as_str() != "oauth_signature")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let url = format!("{}{}", shared.base_url, uri.path());
    let expected = sign("GET", &url, &params, &consumer_secret, &token_secret);
    if expected != field("oauth_signature") {
        return cannot();
    }
    // A nonce serves once (replays are refused).
    let nonce = format!("{timestamp}:{}", field("oauth_nonce"));
    if field("oauth_nonce").is_empty() || !table.nonces.insert(nonce) {
        return cannot();
    }
    json_response(
        StatusCode::OK,
        &json!({
            "id": id,
            "id_str": id.to_string(),
            "name": format!("Fixture user {screen_name}"),
            "screen_name": screen_name,
            "protected": false,
            "followers_count": 3,
            "entities": {"description": {"urls": []}},
        }),
    )
}

/// `OAuth k="v", ...` with values percent-decoded.
fn parse_oauth_header(value: &str) -> Option<BTreeMap<String, String>> {
    let rest = value.strip_prefix("OAuth ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (name, quoted) = part.trim().split_once('=')?;
        let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
        fields.insert(decode(name)?, decode(inner)?);
    }
    Some(fields)
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 5849 §3.6: unreserved characters stay, every other byte is %XX.
fn encode(text: &str) -> String {
    const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    text.bytes()
        .map(|b| {
            if UNRESERVED.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// RFC 5849 §3.4: the signature base string, HMAC-SHA1 keyed by both
/// secrets, base64.
fn sign(
    method: &str,
    url: &str,
    params: &[(String, String)],
    consumer_secret: &str,
    token_secret: &str,
) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    // Sorting the encoded `k=v` strings orders by name, then value, since
    // '=' sorts before every character an encoded name can hold.
    pairs.sort();
    let base = [method, &encode(url), &encode(&pairs.join("&"))].join("&");
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        format!("{}&{}", encode(consumer_secret), encode(token_secret)).as_bytes(),
    );
    STANDARD.encode(hmac::sign(&key, base.as_bytes()))
}
