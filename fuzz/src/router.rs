//! The cognate router in process: the app `cognate::start` serves (same
//! state, same `cognate_server::router`), over SQLite, without the TCP
//! listener; requests go through `tower::ServiceExt::oneshot`.
//!
//! It never reaches the network: its login verifier is a stub (tokens
//! `ok:<subject>` are accepted, everything else refused), so OIDC providers
//! the fuzzer registers through IAM are never fetched.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use async_trait::async_trait;
use axum::body::Body;
use cognate_core::clock::SystemClock;
use cognate_core::federation::{LoginError, LoginVerifier, ProviderSpec, VerifiedLogin};
use cognate_server::{AdminKey, AppState};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::aws_sign;

pub const ADMIN_KEY_ID: &str = "AKIAFUZZADMIN0000000";
pub const ADMIN_SECRET: &str = "fuzz/admin/secret/000000000000000000000000";
const MASTER_KEY: [u8; 32] = [7; 32];
pub const DEV_PROVIDER: &str = "login.fuzz";

/// Accepts `ok:<subject>` for the first audience of the provider; refuses
/// everything else. Never does I/O.
struct StubVerifier;

#[async_trait]
impl LoginVerifier for StubVerifier {
    async fn verify(
        &self,
        provider: &ProviderSpec,
        token: &str,
        _now: SystemTime,
    ) -> Result<VerifiedLogin, LoginError> {
        let subject = token.strip_prefix("ok:").ok_or(LoginError::Malformed)?;
        if subject.is_empty() {
            return Err(LoginError::MissingClaim("sub"));
        }
        let audience = provider
            .audiences
            .first()
            .cloned()
            .ok_or(LoginError::AudienceNotAllowed)?;
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), subject.into());
        claims.insert("aud".into(), audience.clone().into());
        Ok(VerifiedLogin {
            provider: provider.name.clone(),
            subject: subject.to_string(),
            audience,
            claims,
            saml_roles: None,
        })
    }
}

/// One cognate app over SQLite in a temporary directory (on /dev/shm when
/// there is one, so fsync is cheap), shared by all executions of a target.
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    app: axum::Router,
    /// Substituted for `$POOL`, `$IDENTITY`, `$ROLE` in inputs, so the fuzzer
    /// reaches past "not found".
    pub pool_id: String,
    pub identity_id: String,
    pub role_arn: String,
    _dir: DataDir,
}

/// The harness's data directory (removed on drop, when that happens).
struct DataDir(std::path::PathBuf);

impl DataDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Harness {
    pub fn get() -> &'static Harness {
        static H: OnceLock<Harness> = OnceLock::new();
        H.get_or_init(Harness::new)
    }

    #[allow(clippy::unwrap_used, clippy::expect_used)]
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        // libFuzzer ends the process with exit(), so statics are never
        // dropped: the directory is named by pid and the ones of processes
        // that are gone are removed here.
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("cognate-fuzz-")
                    && pid.parse::<u32>().is_ok()
                    && !std::path::Path::new(&format!("/proc/{pid}")).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let path = base.join(format!("cognate-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("data directory");
        let dir = DataDir(path);
        let app = rt.block_on(async {
            let url = format!("sqlite://{}/cognate.db", dir.path().display());
            let store = cognate_store::open(&url, &cognate_store::StoreOptions::default())
                .await
                .expect("store");
            let cognate = cognate_core::Cognate::open(
                store,
                Arc::new(SystemClock),
                Arc::new(StubVerifier),
                cognate_core::DomainConfig {
                    account: "000000000000".into(),
                    default_region: "us-east-1".into(),
                    issuer: "http://127.0.0.1:8085".into(),
                    max_pools_per_region: 1000,
                    guest_ttl_secs: None,
                    // ES256 keys are made in microseconds, RSA ones in seconds.
                    signing_algorithm: cognate_core::keys::SigningAlgorithm::Es256,
                },
                &MASTER_KEY,
            )
            .await
            .expect("domain");
            let state = Arc::new(AppState {
                cognate: Arc::new(cognate),
                admin: AdminKey {
                    access_key_id: ADMIN_KEY_ID.into(),
                    secret_access_key: ADMIN_SECRET.into(),
                },
                admin_signing_keys: Default::default(),
                session_signers: Default::default(),
                metrics: Default::default(),
                max_body_bytes: 1024 * 1024,
                body_read_timeout: std::time::Duration::from_secs(30),
                // Throttling would only hide code from the fuzzer.
                limiter: cognate_server::limits::Limiter::new(
                    &cognate_server::limits::LimitsConfig::unlimited(),
                ),
                trusted_proxies: Default::default(),
                forward_auth: Default::default(),
                allow_reset: false,
            });
            cognate_server::router(state)
        });
        let mut h = Harness {
            rt,
            app,
            pool_id: String::new(),
            identity_id: String::new(),
            role_arn: String::new(),
            _dir: dir,
        };
        // A pool, an identity and a role for the placeholders.
        let pool = h.json(
            true,
            "CreateIdentityPool",
            &serde_json::json!({
                "IdentityPoolName": "fuzz",
                "AllowUnauthenticatedIdentities": true,
                "DeveloperProviderName": DEV_PROVIDER,
                "SupportedLoginProviders": {"accounts.google.com": "fuzz-client"},
            })
            .to_string(),
        );
        let pool: serde_json::Value = serde_json::from_slice(&pool.body).expect("pool json");
        h.pool_id = pool["IdentityPoolId"]
            .as_str()
            .expect("pool id")
            .to_string();
        let id = h.json(
            false,
            "GetId",
            &serde_json::json!({"IdentityPoolId": h.pool_id}).to_string(),
        );
        let id: serde_json::Value = serde_json::from_slice(&id.body).expect("id json");
        h.identity_id = id["IdentityId"].as_str().expect("identity id").to_string();
        let trust = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"Federated":"cognito-identity.amazonaws.com"},
            "Action":"sts:AssumeRoleWithWebIdentity"}]})
        .to_string();
        let form = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=Fuzz&AssumeRolePolicyDocument={}",
            form_encode(&trust)
        );
        let role = h.query(true, "POST", "", form.as_bytes());
        let text = String::from_utf8_lossy(&role.body).to_string();
        h.role_arn = text
            .split("<Arn>")
            .nth(1)
            .and_then(|s| s.split("</Arn>").next())
            .unwrap_or("arn:aws:iam::000000000000:role/Fuzz")
            .to_string();
        let roles = serde_json::json!({"IdentityPoolId": h.pool_id,
            "Roles": {"authenticated": h.role_arn, "unauthenticated": h.role_arn}});
        h.json(true, "SetIdentityPoolRoles", &roles.to_string());
        h
    }

    /// Replaces the placeholders.
    pub fn substitute(&self, text: &str) -> String {
        text.replace("$POOL", &self.pool_id)
            .replace("$IDENTITY", &self.identity_id)
            .replace("$ROLE", &self.role_arn)
    }

    pub fn substitute_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        if bytes.contains(&b'$') {
            // Only valid UTF-8 is substituted; other bytes pass through.
            match std::str::from_utf8(bytes) {
                Ok(s) => self.substitute(s).into_bytes(),
                Err(_) => bytes.to_vec(),
            }
        } else {
            bytes.to_vec()
        }
    }

    /// Sends a request through the router and collects the response.
    pub fn send(&self, request: http::Request<Body>) -> Response {
        self.rt.block_on(async {
            let response = match self.app.clone().oneshot(request).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            let body = match body.collect().await {
                Ok(b) => b.to_bytes().to_vec(),
                Err(e) => panic!("the response body failed: {e}"),
            };
            Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            }
        })
    }

    /// Builds `method uri` with `headers` and `body`, optionally signed with
    /// the admin key for `service`; `None` when `http` refuses the pieces
    /// (hyper would have refused them before the router).
    pub fn request(
        &self,
        method: &str,
        uri: &str,
        mut headers: Vec<(String, String)>,
        body: Vec<u8>,
        sign_for: Option<&str>,
    ) -> Option<http::Request<Body>> {
        headers.insert(0, ("host".into(), "localhost".into()));
        if let Some(service) = sign_for {
            let full = format!("http://localhost{uri}");
            let added = aws_sign(
                method,
                &full,
                &headers,
                &body,
                (ADMIN_KEY_ID, ADMIN_SECRET),
                "us-east-1",
                service,
                SystemTime::now(),
            )?;
            headers.extend(added);
        }
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let mut request = b.body(Body::from(body)).ok()?;
        // What `into_make_service_with_connect_info` adds for a real
        // connection.
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40_000,
            ))));
        Some(request)
    }

    /// A JSON 1.1 call.
    pub fn json(&self, signed: bool, target: &str, body: &str) -> Response {
        let headers = vec![
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            (
                "x-amz-target".into(),
                format!("AWSCognitoIdentityService.{target}"),
            ),
        ];
        let req = self
            .request(
                "POST",
                "/",
                headers,
                body.as_bytes().to_vec(),
                signed.then_some("cognito-identity"),
            )
            .unwrap_or_else(|| panic!("cannot build a {target} request"));
        self.send(req)
    }

    /// A Query call: `query` in the URL, `body` as the form.
    pub fn query(&self, signed: bool, method: &str, query: &str, body: &[u8]) -> Response {
        let service = service_of_form(query.as_bytes(), body);
        let uri = if query.is_empty() {
            "/".to_string()
        } else {
            format!("/?{query}")
        };
        let headers = if body.is_empty() {
            vec![]
        } else {
            vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )]
        };
        match self.request(
            method,
            &uri,
            headers,
            body.to_vec(),
            signed.then_some(service),
        ) {
            Some(req) => self.send(req),
            None => Response {
                status: 0,
                headers: http::HeaderMap::new(),
                body: Vec::new(),
            },
        }
    }
}

/// The signing name a form most likely wants.
pub fn service_of_form(query: &[u8], body: &[u8]) -> &'static str {
    let has = |needle: &[u8]| {
        query.windows(needle.len()).any(|w| w == needle)
            || body.windows(needle.len()).any(|w| w == needle)
    };
    if has(b"2010-05-08") { "iam" } else { "sts" }
}

pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The invariants of every API response, whatever the input: no server
/// fault, a request id, and a body in the protocol's shape.
pub fn check_api_response(what: &str, r: &Response, json_protocol: bool) {
    if debug() {
        let body = String::from_utf8_lossy(&r.body);
        eprintln!("{what} -> {} {}", r.status, &body[..body.len().min(160)]);
    }
    if r.status == 0 {
        return;
    }
    assert!(
        r.status != 500,
        "{what}: server fault {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        r.headers.contains_key("x-amzn-requestid"),
        "{what}: no x-amzn-RequestId (status {})",
        r.status
    );
    if json_protocol {
        let v: serde_json::Value = match serde_json::from_slice(&r.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "{what}: JSON answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&r.body)
            ),
        };
        if r.status != 200 {
            assert!(v["__type"].is_string(), "{what}: error without __type: {v}");
            assert!(
                r.headers.contains_key("x-amzn-errortype"),
                "{what}: error without x-amzn-ErrorType"
            );
        }
    } else {
        let text = String::from_utf8_lossy(&r.body);
        if r.status != 200 {
            assert!(
                text.contains("<ErrorResponse") && text.contains("<Code>"),
                "{what}: Query error is not <ErrorResponse>: {text}"
            );
        } else {
            assert!(
                text.starts_with("<"),
                "{what}: Query answer is not XML: {text}"
            );
        }
    }
}

/// `FUZZ_DEBUG=1` prints each answer (to check that seeds get deep).
fn debug() -> bool {
    static D: OnceLock<bool> = OnceLock::new();
    *D.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}
