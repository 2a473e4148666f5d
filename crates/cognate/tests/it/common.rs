//! Starting servers and building SDK clients against them.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentity::config::Region;
use cognate::{Running, Settings};
use cognate_core::clock::OffsetClock;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tempfile::TempDir;

pub struct TestServer {
    pub server: Running,
    pub dir: TempDir,
    pub clock: OffsetClock,
    configure: fn(&mut Settings),
}

fn no_change(_: &mut Settings) {}

/// A Cognito client without credentials for the server at `endpoint`.
pub fn anonymous_cognito_at(endpoint: &str) -> aws_sdk_cognitoidentity::Client {
    let config = aws_sdk_cognitoidentity::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_cognitoidentity::Client::from_conf(config)
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(no_change).await
    }

    /// A server whose settings `configure` adjusts (e.g. provider overrides).
    pub async fn start_with(configure: fn(&mut Settings)) -> TestServer {
        Self::start_with_extra(configure, |_| {}).await
    }

    /// Like `start_with`, plus a closure for settings known only at run
    /// time (fixture addresses).
    pub async fn start_with_extra(
        configure: fn(&mut Settings),
        extra: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let clock = OffsetClock::default();
        let mut settings = Settings::for_data_dir(dir.path());
        configure(&mut settings);
        extra(&mut settings);
        let server = cognate::start_with_clock(settings, Arc::new(clock.clone()))
            .await
            .unwrap();
        TestServer {
            server,
            dir,
            clock,
            configure,
        }
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(self) -> TestServer {
        self.restart_after(|_| {}).await
    }

    /// Stops the server, runs `between` on its data directory (a command
    /// line tool, which must not share the embedded database with a
    /// running server), and starts it again.
    pub async fn restart_after(self, between: impl FnOnce(&std::path::Path)) -> TestServer {
        let TestServer {
            server,
            dir,
            clock,
            configure,
        } = self;
        server.stop().await;
        between(dir.path());
        let mut settings = Settings::for_data_dir(dir.path());
        configure(&mut settings);
        let server = cognate::start_with_clock(settings, Arc::new(clock.clone()))
            .await
            .unwrap();
        TestServer {
            server,
            dir,
            clock,
            configure,
        }
    }

    /// Stops the server and starts one with other settings on the same
    /// data directory.
    pub async fn restart_with(mut self, configure: fn(&mut Settings)) -> TestServer {
        self.configure = configure;
        self.restart().await
    }

    /// A Cognito client without credentials: public operations only.
    pub fn anonymous_cognito(&self) -> aws_sdk_cognitoidentity::Client {
        anonymous_cognito_at(&self.endpoint())
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    pub fn admin_credentials(&self) -> Credentials {
        Credentials::new(
            &self.server.admin_access_key_id,
            &self.server.admin_secret_access_key,
            None,
            None,
            "cognate-test-admin",
        )
    }

    pub fn cognito(&self) -> aws_sdk_cognitoidentity::Client {
        self.cognito_with(self.admin_credentials(), "us-east-1")
    }

    pub fn cognito_with(
        &self,
        credentials: Credentials,
        region: &str,
    ) -> aws_sdk_cognitoidentity::Client {
        let config = aws_sdk_cognitoidentity::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(credentials)
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_cognitoidentity::Client::from_conf(config)
    }

    pub fn sts_with(&self, credentials: Credentials) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(credentials)
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// An STS client without credentials (AssumeRoleWithWebIdentity).
    pub fn anonymous_sts(&self) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        self.sts_with(self.admin_credentials())
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(self.admin_credentials())
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }
}

/// The AWS error code of an SDK error.
pub fn code<E, R>(err: &aws_sdk_cognitoidentity::error::SdkError<E, R>) -> String
where
    E: aws_sdk_cognitoidentity::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_string)
        .unwrap_or_else(|| format!("not a service error: {err}"))
}

pub fn message<E, R>(err: &aws_sdk_cognitoidentity::error::SdkError<E, R>) -> String
where
    E: aws_sdk_cognitoidentity::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .map(str::to_string)
        .unwrap_or_default()
}

/// How `Raw::sign` signs a request.
pub struct Signing<'a> {
    pub key: (&'a str, &'a str),
    pub session_token: Option<&'a str>,
    pub service: &'a str,
    pub region: &'a str,
    pub time: std::time::SystemTime,
    /// The signature in the query string (a presigned URL).
    pub presigned: bool,
    /// Signed over `UNSIGNED-PAYLOAD`, as S3 clients may sign (in a header
    /// signature, `x-amz-content-sha256` says so).
    pub unsigned_payload: bool,
}

impl<'a> Signing<'a> {
    /// A header signature in us-east-1, no session token.
    pub fn new(key: (&'a str, &'a str), service: &'a str, time: std::time::SystemTime) -> Self {
        Signing {
            key,
            session_token: None,
            service,
            region: "us-east-1",
            time,
            presigned: false,
            unsigned_payload: false,
        }
    }
}

/// A raw HTTP request to the server, optionally signed by the `aws-sigv4`
/// crate at a chosen time with chosen credentials.
pub struct Raw {
    pub method: &'static str,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn json(target: &str, body: &str) -> Raw {
        Raw {
            method: "POST",
            path_and_query: "/".into(),
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.1".into()),
                (
                    "x-amz-target".into(),
                    format!("AWSCognitoIdentityService.{target}"),
                ),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    /// A Query request whose form body is built from `params`.
    pub fn query_params(params: &[(&str, &str)]) -> Raw {
        let encode = percent_encode;
        let body: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        Raw::query(&body.join("&"))
    }

    pub fn query(body: &str) -> Raw {
        Raw {
            method: "POST",
            path_and_query: "/".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Signs for `service` at `time` with the given key pair.
    pub fn signed(
        self,
        server: &TestServer,
        key: (&str, &str),
        service: &str,
        time: std::time::SystemTime,
    ) -> Raw {
        self.sign(server, &Signing::new(key, service, time))
    }

    /// Signs as `how` says: header or presigned form, any region, a
    /// session token, or over `UNSIGNED-PAYLOAD`.
    pub fn sign(self, server: &TestServer, how: &Signing<'_>) -> Raw {
        self.sign_for(&server.server.addr.to_string(), how)
    }

    /// As `sign`, for a server at `host` (`127.0.0.1:port`).
    pub fn sign_for(mut self, host: &str, how: &Signing<'_>) -> Raw {
        use aws_sigv4::http_request::{
            PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
            sign,
        };
        let identity = Credentials::new(
            how.key.0,
            how.key.1,
            how.session_token.map(str::to_string),
            None,
            "raw",
        )
        .into();
        let mut settings = SigningSettings::default();
        if how.presigned {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(std::time::Duration::from_secs(300));
        }
        // A presigned URL carries no headers: its payload hash is implied.
        if how.unsigned_payload && !how.presigned {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = signing_params(&identity, how.region, how.service, how.time, settings);
        let host = host.to_string();
        let uri = format!("http://{host}{}", self.path_and_query);
        let mut headers: Vec<(String, String)> = vec![("host".into(), host.clone())];
        headers.extend(self.headers.iter().cloned());
        let body = if how.unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&self.body)
        };
        let signable = SignableRequest::new(
            self.method,
            uri.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder()
            .method(self.method)
            .uri(&uri)
            .body(())
            .unwrap();
        instructions.apply_to_request_http1x(&mut request);
        for (name, value) in request.headers() {
            self.headers
                .push((name.to_string(), value.to_str().unwrap().to_string()));
        }
        self.path_and_query = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        self
    }

    /// Signed now with temporary credentials, their session token included.
    pub fn signed_as(mut self, server: &TestServer, creds: &Credentials, service: &str) -> Raw {
        if let Some(token) = creds.session_token() {
            self.headers
                .push(("x-amz-security-token".into(), token.to_string()));
        }
        self.signed(
            server,
            (creds.access_key_id(), creds.secret_access_key()),
            service,
            std::time::SystemTime::now(),
        )
    }

    pub fn admin_signed(self, server: &TestServer, service: &str) -> Raw {
        let key = (
            server.server.admin_access_key_id.clone(),
            server.server.admin_secret_access_key.clone(),
        );
        self.signed(
            server,
            (&key.0, &key.1),
            service,
            std::time::SystemTime::now(),
        )
    }

    pub async fn send(self, server: &TestServer) -> RawResponse {
        self.send_to(&server.endpoint()).await
    }

    /// Sends to the server at `endpoint` (`http://127.0.0.1:port`).
    pub async fn send_to(self, endpoint: &str) -> RawResponse {
        let client = reqwest::Client::new();
        let url = format!("{endpoint}{}", self.path_and_query);
        let mut request = client.request(self.method.parse().unwrap(), url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.body(self.body).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        RawResponse {
            status,
            headers,
            body,
        }
    }
}

pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The `__type` of a JSON error, after checking the error headers agree.
    pub fn json_error(&self) -> String {
        let code = self.json()["__type"].as_str().unwrap().to_string();
        assert_eq!(
            self.header("x-amzn-errortype"),
            Some(format!("{code}:").as_str())
        );
        assert!(self.header("x-amzn-requestid").is_some());
        code
    }

    /// `<Message>` of a Query XML error, unescaped.
    pub fn xml_message(&self) -> String {
        let start = self.body.find("<Message>").unwrap() + 9;
        let end = self.body.find("</Message>").unwrap();
        self.body[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    /// `<Code>` of a Query XML error.
    pub fn xml_error(&self) -> String {
        let start = self.body.find("<Code>").unwrap() + 6;
        let end = self.body.find("</Code>").unwrap();
        self.body[start..end].to_string()
    }
}

/// A cognate process started from the built binary.
pub struct Node {
    child: std::process::Child,
    pub endpoint: String,
    /// Everything the process wrote to stdout so far.
    pub log: Arc<std::sync::Mutex<String>>,
    pub dir: TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` (a `cognate serve` command) and waits for its "listening
/// on" line; on failure returns what it printed.
pub fn spawn_cognate(mut cmd: std::process::Command, dir: TempDir) -> Result<Node, String> {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    while let Some(Ok(line)) = lines.next() {
        let mut seen = log.lock().unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(i) = line.find("listening on http://") {
            let rest = &line[i + "listening on ".len()..];
            let endpoint = rest.split([';', ' ']).next().unwrap().to_string();
            drop(seen);
            let sink = log.clone();
            // Keep draining (and keeping) the log.
            std::thread::spawn(move || {
                for line in lines.by_ref().map_while(Result::ok) {
                    let mut seen = sink.lock().unwrap();
                    seen.push_str(&line);
                    seen.push('\n');
                }
            });
            return Ok(Node {
                child,
                endpoint,
                log,
                dir,
            });
        }
    }
    let _ = child.wait();
    let seen = log.lock().unwrap().clone();
    Err(seen)
}

/// How many identities (up to 60) `pool_id` lists.
pub async fn identity_count(s: &TestServer, pool_id: &str) -> usize {
    s.cognito()
        .list_identities()
        .identity_pool_id(pool_id)
        .max_results(60)
        .send()
        .await
        .unwrap()
        .identities()
        .len()
}

/// A trust policy for Cognito identities of a pool whose `amr` matches.
pub use cognate_testkit::cognito_trust_policy as trust;

/// A trust policy for Cognito identities of a pool whose `amr` matches,
/// which lets them tag their sessions too.
pub fn trust_with_tags(pool_id: &str, amr: &str) -> String {
    let actions = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"];
    cognate_testkit::cognito_trust_policy_for(pool_id, amr, &actions)
}

pub async fn create_role(s: &TestServer, name: &str, trust_policy: &str) -> String {
    create_role_with(&s.iam(), name, trust_policy).await
}

/// Creates a role through `iam` and returns its ARN.
pub async fn create_role_with(iam: &aws_sdk_iam::Client, name: &str, trust_policy: &str) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string()
}

/// The PostgreSQL server of the run, if any; a run that requires one
/// fails without it.
pub fn postgres_server() -> Option<String> {
    match std::env::var("COGNATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("COGNATE_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "COGNATE_TEST_REQUIRE_POSTGRES=1 but COGNATE_TEST_POSTGRES_URL is not set"
            );
            None
        }
    }
}

/// The discovery document and the JWKS it names, over HTTP (from the
/// server's address: the issuer may be a name that resolves nowhere).
pub async fn discovery_and_jwks(s: &TestServer) -> (Value, Value) {
    let get = |path: &str| {
        let url = format!("{}{path}", s.endpoint());
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let discovery = get("/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], s.server.issuer);
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks_uri", s.server.issuer)
    );
    (discovery, get("/.well-known/jwks_uri").await)
}

/// Verifies `token` with jsonwebtoken and the served JWKS, expecting `alg`;
/// returns its claims.
pub async fn verify_with_jwks(s: &TestServer, token: &str, alg: Algorithm, pool_id: &str) -> Value {
    let (_, jwks) = discovery_and_jwks(s).await;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the token's kid is published");
    let key = match alg {
        Algorithm::ES256 => {
            assert_eq!(jwk["kty"], "EC");
            assert_eq!(jwk["crv"], "P-256");
            assert_eq!(jwk["alg"], "ES256");
            assert_eq!(jwk["use"], "sig");
            DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
                .unwrap()
        }
        _ => {
            assert_eq!(jwk["kty"], "RSA");
            DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
                .unwrap()
        }
    };
    let mut validation = Validation::new(alg);
    validation.set_audience(&[pool_id]);
    validation.set_issuer(&[s.server.issuer.as_str()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

/// Credentials vended by GetCredentialsForIdentity, for a client to sign with.
pub fn vended(c: &aws_sdk_cognitoidentity::types::Credentials) -> Credentials {
    Credentials::new(
        c.access_key_id().unwrap(),
        c.secret_key().unwrap(),
        c.session_token().map(str::to_string),
        None,
        "vended",
    )
}

/// Sets a pool's guest and authenticated roles.
pub async fn set_pool_roles(
    cognito: &aws_sdk_cognitoidentity::Client,
    pool_id: &str,
    unauthenticated: &str,
    authenticated: &str,
) {
    let set = cognito.set_identity_pool_roles().identity_pool_id(pool_id);
    let set = set.roles("unauthenticated", unauthenticated);
    set.roles("authenticated", authenticated)
        .send()
        .await
        .unwrap();
}

/// A new identity pool of `name`, guests allowed or not: its id.
pub async fn create_pool(s: &TestServer, name: &str, allow_guests: bool) -> String {
    s.cognito()
        .create_identity_pool()
        .identity_pool_name(name)
        .allow_unauthenticated_identities(allow_guests)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string()
}

/// Makes `role_arn` the pool's role for `kind` (`authenticated` or
/// `unauthenticated`) alone.
pub async fn set_pool_role(s: &TestServer, pool_id: &str, kind: &str, role_arn: &str) {
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(pool_id)
        .roles(kind, role_arn)
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// Sessions and signed calls as a client of a scoped role would make them
// ---------------------------------------------------------------------------

pub const ACCOUNT: &str = "000000000000";

pub fn pool_arn(pool_id: &str) -> String {
    format!("arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{pool_id}")
}

pub fn allow(actions: &[&str], resources: &[&str]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]
    })
    .to_string()
}

pub async fn new_guest(s: &TestServer, pool_id: &str) -> String {
    s.anonymous_cognito()
        .get_id()
        .identity_pool_id(pool_id)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap()
}

/// A role `role` for the guests of `pool_id`, with the inline `policy`.
async fn guest_role(s: &TestServer, pool_id: &str, role: &str, policy: &str) -> String {
    let role_arn = create_role(s, role, &trust(pool_id, "unauthenticated")).await;
    s.iam()
        .put_role_policy()
        .role_name(role)
        .policy_name("scope")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    role_arn
}

/// Guest credentials of `pool_id` whose role allows `policy`.
pub async fn guest_session(s: &TestServer, pool_id: &str, role: &str, policy: &str) -> Credentials {
    let role_arn = guest_role(s, pool_id, role, policy).await;
    set_pool_role(s, pool_id, "unauthenticated", &role_arn).await;
    let id = new_guest(s, pool_id).await;
    let out = s
        .anonymous_cognito()
        .get_credentials_for_identity()
        .identity_id(id)
        .send()
        .await
        .unwrap();
    vended(out.credentials().unwrap())
}

/// Credentials of the basic flow (a guest's OpenID token given to STS
/// AssumeRoleWithWebIdentity): the role's policies without the guest
/// scope-down policy of the enhanced flow.
pub async fn basic_session(s: &TestServer, pool_id: &str, role: &str, policy: &str) -> Credentials {
    let role_arn = guest_role(s, pool_id, role, policy).await;
    let id = new_guest(s, pool_id).await;
    let token = s
        .anonymous_cognito()
        .get_open_id_token()
        .identity_id(id)
        .send()
        .await
        .unwrap()
        .token
        .unwrap();
    let out = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name("pool-admin")
        .web_identity_token(token)
        .send()
        .await
        .unwrap();
    assumed(&out)
}

/// Credentials AssumeRoleWithWebIdentity answered, for a client to sign with.
pub fn assumed(
    out: &aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
) -> Credentials {
    let c = out.credentials().unwrap();
    let token = Some(c.session_token().to_string());
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        token,
        None,
        "assumed",
    )
}

/// A JSON 1.1 call signed with `creds` (a session's, token included).
pub async fn call_as(
    s: &TestServer,
    creds: &Credentials,
    operation: &str,
    body: &Value,
) -> RawResponse {
    Raw::json(operation, &body.to_string())
        .signed_as(s, creds, "cognito-identity")
        .send(s)
        .await
}

/// A Query call of `service` signed with `creds`.
pub async fn query_as(
    s: &TestServer,
    creds: &Credentials,
    service: &str,
    params: &[(&str, &str)],
) -> RawResponse {
    Raw::query_params(params)
        .signed_as(s, creds, service)
        .send(s)
        .await
}

/// The OIDC fixture registered in IAM with one client id: its ARN.
pub async fn register_oidc(
    s: &TestServer,
    idp: &cognate_testkit::OidcProvider,
    client: &str,
) -> String {
    s.iam()
        .create_open_id_connect_provider()
        .url(idp.issuer())
        .client_id_list(client)
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn
        .unwrap()
}

pub async fn identity_exists(s: &TestServer, id: &str) -> bool {
    match s.cognito().describe_identity().identity_id(id).send().await {
        Ok(_) => true,
        Err(e) if code(&e) == "ResourceNotFoundException" => false,
        Err(e) => panic!("{e:?}"),
    }
}

/// The identity GetId gives for one login.
pub async fn login_identity(s: &TestServer, pool_id: &str, key: &str, token: &str) -> String {
    login_id(&s.anonymous_cognito(), pool_id, key, token).await
}

/// GetId for one login, through `client`.
pub async fn login_id(
    client: &aws_sdk_cognitoidentity::Client,
    pool_id: &str,
    key: &str,
    token: &str,
) -> String {
    let out = client.get_id().identity_pool_id(pool_id).logins(key, token);
    out.send().await.unwrap().identity_id.unwrap()
}

/// The error GetId of a new guest gets, through `client`.
pub async fn guest_id_error(
    client: &aws_sdk_cognitoidentity::Client,
    pool_id: &str,
) -> aws_sdk_cognitoidentity::error::SdkError<
    aws_sdk_cognitoidentity::operation::get_id::GetIdError,
    aws_sdk_cognitoidentity::config::http::HttpResponse,
> {
    let out = client.get_id().identity_pool_id(pool_id).send().await;
    out.unwrap_err()
}

/// A pool as DescribeIdentityPool answers it.
pub async fn describe_pool(
    s: &TestServer,
    pool_id: &str,
) -> aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput {
    let described = s
        .cognito()
        .describe_identity_pool()
        .identity_pool_id(pool_id);
    described.send().await.unwrap()
}

/// A guest's credentials (GetCredentialsForIdentity without logins),
/// through `client`.
pub async fn guest_credentials(
    client: &aws_sdk_cognitoidentity::Client,
    identity_id: &str,
) -> Credentials {
    let out = client
        .get_credentials_for_identity()
        .identity_id(identity_id);
    vended(out.send().await.unwrap().credentials().unwrap())
}

/// A guest's OpenID token (GetOpenIdToken without logins), through `client`.
pub async fn guest_open_id_token(
    client: &aws_sdk_cognitoidentity::Client,
    identity_id: &str,
) -> String {
    let out = client.get_open_id_token().identity_id(identity_id);
    out.send().await.unwrap().token.unwrap()
}

/// GetId of a new guest, through `client`.
pub async fn guest_id(client: &aws_sdk_cognitoidentity::Client, pool_id: &str) -> String {
    let out = client.get_id().identity_pool_id(pool_id).send().await;
    out.unwrap().identity_id.unwrap()
}

/// Two pools, and a guest session of the first whose role may do
/// anything to it (`cognito-identity:*` on its ARN) and nothing else.
pub async fn two_pools_and_a_session_of_the_first(s: &TestServer) -> (String, String, Credentials) {
    let a = create_pool(s, "pool a", true).await;
    let b = create_pool(s, "pool b", true).await;
    let creds = guest_session(
        s,
        &a,
        "OnlyPoolA",
        &allow(&["cognito-identity:*"], &[&pool_arn(&a)]),
    )
    .await;
    (a, b, creds)
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as
/// SigV4 and form bodies want.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A new empty database on the PostgreSQL test server; its URL.
pub async fn fresh_postgres_database(server: &str, prefix: &str) -> String {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A pool allowing guests and developer identities of `provider`.
pub async fn create_developer_pool(
    cognito: &aws_sdk_cognitoidentity::Client,
    name: &str,
    provider: &str,
) -> String {
    let created = cognito
        .create_identity_pool()
        .identity_pool_name(name)
        .allow_unauthenticated_identities(true)
        .developer_provider_name(provider)
        .send()
        .await;
    created.unwrap().identity_pool_id().to_string()
}

/// Creates a customer managed policy and returns its ARN.
pub async fn create_policy(s: &TestServer, name: &str, document: &str) -> String {
    let iam = s.iam();
    let created = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document);
    created.send().await.unwrap().policy.unwrap().arn.unwrap()
}

/// SigV4 signing parameters, as an SDK builds them.
pub fn signing_params<'a>(
    identity: &'a aws_smithy_runtime_api::client::identity::Identity,
    region: &'a str,
    service: &'a str,
    time: std::time::SystemTime,
    settings: aws_sigv4::http_request::SigningSettings,
) -> aws_sigv4::http_request::SigningParams<'a> {
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings);
    params.build().unwrap().into()
}
