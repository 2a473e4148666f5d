//! Forward-auth: your own API behind real nginx and Caddy, which ask
//! cognate before they proxy; requests signed by the Rust SDK's signer
//! (`aws-sigv4`) with credentials cognate vended. Envoy's and Traefik's
//! request shapes (neither is packaged by Debian) are sent to the endpoint
//! directly.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use cognate::Settings;
use cognate_server::authz::ApiRoute;
use cognate_testkit::{EchoUpstream, OidcProvider, Proxy, ProxyKind};
use serde_json::{Value, json};

use crate::common::{
    ACCOUNT, TestServer, assumed, create_pool, create_role, guest_credentials, guest_id,
    guest_open_id_token, login_id, register_oidc, set_pool_roles, signing_params, trust, vended,
};

const API: &str = "petsapi01";
const CLIENT: &str = "forward-client";

fn arn(method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:{API}/prod/{method}/{path}")
}

fn with_api(settings: &mut Settings) {
    settings.forward_auth.apis.push(ApiRoute {
        id: API.into(),
        stage: "prod".into(),
        region: "us-east-1".into(),
        host: None,
        path_prefix: "/".into(),
    });
}

/// What the pool's roles allow: pets to read (but not the secret ones),
/// one's own user folder, and, authenticated, the private area.
fn policy(authenticated: bool) -> String {
    let mut allowed = vec![
        arn("GET", "pets/*"),
        arn("POST", "pets"),
        arn("*", "users/${cognito-identity.amazonaws.com:sub}/*"),
    ];
    if authenticated {
        allowed.push(arn("GET", "private/*"));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": allowed},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": arn("*", "pets/secret*")},
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": arn("GET", "office/*"),
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": arn("GET", "vault/*"),
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]
    })
    .to_string()
}

/// A server with the API configured, an upstream, the proxies installed
/// here, and a pool whose guests and OIDC users have roles.
struct Fixture {
    s: TestServer,
    idp: OidcProvider,
    _upstream: EchoUpstream,
    proxies: Vec<Proxy>,
    pool: String,
    guest_role: String,
    auth_role: String,
}

impl Fixture {
    async fn start() -> Fixture {
        let s = TestServer::start_with(with_api).await;
        let idp = OidcProvider::start().await;
        let upstream = EchoUpstream::start().await;
        let cognate = s.server.addr.to_string();
        let proxies = ProxyKind::ALL
            .into_iter()
            .filter_map(|kind| Proxy::start(kind, &cognate, upstream.addr()))
            .collect();
        let provider = register_oidc(&s, &idp, CLIENT).await;
        let pool = create_pool(&s, "forward", true).await;
        s.cognito()
            .update_identity_pool()
            .identity_pool_id(&pool)
            .identity_pool_name("forward")
            .allow_unauthenticated_identities(true)
            .open_id_connect_provider_arns(provider)
            .send()
            .await
            .unwrap();
        let guest_role = create_role(&s, "ApiGuest", &trust(&pool, "unauthenticated")).await;
        let auth_role = create_role(&s, "ApiUser", &trust(&pool, "authenticated")).await;
        for (role, authenticated) in [("ApiGuest", false), ("ApiUser", true)] {
            s.iam()
                .put_role_policy()
                .role_name(role)
                .policy_name("api")
                .policy_document(policy(authenticated))
                .send()
                .await
                .unwrap();
        }
        set_pool_roles(&s.cognito(), &pool, &guest_role, &auth_role).await;
        Fixture {
            s,
            idp,
            _upstream: upstream,
            proxies,
            pool,
            guest_role,
            auth_role,
        }
    }

    /// A new guest: its identity id and credentials.
    async fn guest(&self) -> (String, Credentials) {
        let anon = self.s.anonymous_cognito();
        let id = guest_id(&anon, &self.pool).await;
        let credentials = guest_credentials(&anon, &id).await;
        (id, credentials)
    }

    /// An OIDC user's identity id and credentials.
    async fn user(&self, sub: &str) -> (String, Credentials) {
        let anon = self.s.anonymous_cognito();
        let token = self.idp.id_token(json!({"sub": sub, "aud": CLIENT}));
        let key = self.idp.logins_key();
        let id = login_id(&anon, &self.pool, &key, &token).await;
        let out = anon
            .get_credentials_for_identity()
            .identity_id(&id)
            .logins(&key, &token)
            .send()
            .await
            .unwrap();
        (id, vended(out.credentials().unwrap()))
    }
}

/// A request to the API, signed by `aws-sigv4` as an app signs it.
struct Signed {
    method: &'static str,
    path_and_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Clone, Copy)]
struct How {
    time: SystemTime,
    presigned: bool,
    /// Sign `x-amz-content-sha256` (what a request with a body needs).
    content_sha256: bool,
    service: &'static str,
}

impl Default for How {
    fn default() -> How {
        How {
            time: SystemTime::now(),
            presigned: false,
            content_sha256: true,
            service: "execute-api",
        }
    }
}

fn sign(
    host: &str,
    creds: &Credentials,
    method: &'static str,
    path_and_query: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    how: How,
) -> Signed {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        sign,
    };
    let identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    if how.presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(300));
    } else if how.content_sha256 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = signing_params(&identity, "us-east-1", how.service, how.time, settings);
    let uri = format!("http://{host}{path_and_query}");
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.into())];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let signable = SignableRequest::new(
        method,
        uri.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method(method)
        .uri(&uri)
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    for (name, value) in request.headers() {
        headers.push((name.to_string(), value.to_str().unwrap().to_string()));
    }
    Signed {
        method,
        path_and_query: request.uri().path_and_query().unwrap().to_string(),
        headers,
        body: body.to_vec(),
    }
}

/// `GET path` through `proxy`, signed with `creds`.
fn get(proxy: &Proxy, creds: &Credentials, path: &str, how: How) -> Signed {
    sign(&proxy.addr.to_string(), creds, "GET", path, &[], b"", how)
}

/// What came back: the status, the error type and the JSON body.
struct Answer {
    status: u16,
    error_type: Option<String>,
    json: Value,
    text: String,
}

impl Answer {
    /// The headers the upstream received (it echoes them).
    fn upstream_header(&self, name: &str) -> Option<String> {
        let values = self.json["headers"][name].as_array()?;
        assert_eq!(values.len(), 1, "{name} more than once: {values:?}");
        values[0].as_str().map(str::to_string)
    }

    fn message(&self) -> String {
        self.json["message"]
            .as_str()
            .or(self.json["Message"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

async fn send(base: &str, request: &Signed) -> Answer {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut builder = client.request(method, format!("{base}{}", request.path_and_query));
    for (name, value) in &request.headers {
        if name != "host" {
            builder = builder.header(name, value);
        }
    }
    let response = builder.body(request.body.clone()).send().await.unwrap();
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        error_type,
        json,
        text,
    }
}

/// Signs for `proxy` and sends through it.
async fn call(
    proxy: &Proxy,
    creds: &Credentials,
    method: &'static str,
    path: &str,
    body: &[u8],
) -> Answer {
    let request = sign(
        &proxy.addr.to_string(),
        creds,
        method,
        path,
        &[],
        body,
        How::default(),
    );
    send(&proxy.url(), &request).await
}

fn denied_message(role: &str, method: &str, path: &str) -> String {
    format!(
        "User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/CognitoIdentityCredentials is not authorized to perform: execute-api:Invoke on resource: {}",
        arn(method, path)
    )
}

#[tokio::test]
async fn real_proxies_pass_what_the_role_allows_with_who_called() {
    let f = Fixture::start().await;
    let (guest, guest_creds) = f.guest().await;
    let (user, user_creds) = f.user("forward-user").await;
    for proxy in &f.proxies {
        let kind = proxy.kind;
        // Allowed: the upstream answers, told who called.
        let a = call(proxy, &guest_creds, "GET", "/pets/7?color=red", b"").await;
        assert_eq!(a.status, 200, "{kind:?}: {}\n{}", a.text, proxy.log());
        assert_eq!(a.json["uri"], "/pets/7?color=red");
        let header = |name| a.upstream_header(name).unwrap_or_default();
        assert_eq!(header("x-cognito-identity-id"), guest);
        assert_eq!(header("x-cognito-identity-pool-id"), f.pool);
        assert_eq!(header("x-cognito-authentication-type"), "unauthenticated");
        assert_eq!(
            header("x-amzn-user-arn"),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/ApiGuest/CognitoIdentityCredentials")
        );
        assert!(header("x-amzn-caller").ends_with(":CognitoIdentityCredentials"));
        assert_eq!(header("x-amzn-access-key"), guest_creds.access_key_id());
        assert_eq!(header("x-amzn-account-id"), ACCOUNT);
        assert_eq!(header("x-amzn-source-ip"), "127.0.0.1");
        assert_eq!(header("x-amzn-resource-arn"), arn("GET", "pets/7"));
        assert_eq!(
            header("x-amzn-content-sha256"),
            cognate_sigv4::payload_hash(b"")
        );
        // A guest has no provider: the header is absent or empty, never
        // anything a client sent.
        assert_eq!(
            a.upstream_header("x-cognito-authentication-provider")
                .unwrap_or_default(),
            ""
        );

        // A body, covered by its signed hash, which the upstream checks.
        let a = call(proxy, &guest_creds, "POST", "/pets", br#"{"name":"rex"}"#).await;
        assert_eq!(a.status, 200, "{kind:?}: {}", a.text);
        assert_eq!(
            a.json["bodySha256"],
            cognate_sigv4::payload_hash(br#"{"name":"rex"}"#)
        );

        // Denied by the policy: API Gateway's 403.
        let a = call(proxy, &guest_creds, "DELETE", "/pets/7", b"").await;
        assert_eq!(a.status, 403, "{kind:?}: {}", a.text);
        assert_eq!(
            a.error_type.as_deref(),
            Some("AccessDeniedException"),
            "{kind:?}"
        );
        assert_eq!(
            a.json["Message"],
            denied_message("ApiGuest", "DELETE", "pets/7")
        );
        // An explicit deny says so.
        let a = call(proxy, &guest_creds, "GET", "/pets/secret-1", b"").await;
        assert_eq!(a.status, 403, "{kind:?}");
        assert_eq!(
            a.json["Message"],
            format!(
                "{} with an explicit deny",
                denied_message("ApiGuest", "GET", "pets/secret-1")
            )
        );

        // Per-identity paths: one's own, not another's.
        let own = format!("/users/{guest}/notes");
        assert_eq!(
            call(proxy, &guest_creds, "PUT", &own, b"x").await.status,
            200
        );
        let other = format!("/users/{user}/notes");
        let a = call(proxy, &guest_creds, "PUT", &other, b"x").await;
        assert_eq!(a.status, 403, "{kind:?}");

        // The authenticated role is not the guest role.
        let a = call(proxy, &guest_creds, "GET", "/private/report", b"").await;
        assert_eq!(a.status, 403, "{kind:?}");
        let a = call(proxy, &user_creds, "GET", "/private/report", b"").await;
        assert_eq!(a.status, 200, "{kind:?}: {}", a.text);
        assert_eq!(
            a.upstream_header("x-cognito-authentication-type")
                .as_deref(),
            Some("authenticated")
        );
        let key = f.idp.logins_key();
        assert_eq!(
            a.upstream_header("x-cognito-authentication-provider"),
            Some(format!("{key},{key}:{CLIENT}:forward-user"))
        );
        assert!(
            a.upstream_header("x-amzn-user-arn")
                .unwrap()
                .contains("/ApiUser/")
        );
    }
}

#[tokio::test]
async fn a_client_cannot_forge_who_it_is() {
    let f = Fixture::start().await;
    let (guest, creds) = f.guest().await;
    let forged = [
        ("x-cognito-identity-id", "us-east-1:forged-identity"),
        ("x-cognito-identity-pool-id", "us-east-1:forged"),
        ("x-cognito-authentication-type", "authenticated"),
        ("x-cognito-authentication-provider", "accounts.google.com"),
        ("x-amzn-user-arn", "arn:aws:iam::000000000000:role/Forged"),
        ("x-amzn-caller", "forged"),
        ("x-amzn-access-key", "AKIAFORGED"),
        ("x-amzn-account-id", "999999999999"),
        ("x-amzn-source-ip", "10.0.0.1"),
        ("x-amzn-content-sha256", "0000"),
        ("x-amzn-resource-arn", "arn:aws:execute-api:forged"),
    ];
    for proxy in &f.proxies {
        let kind = proxy.kind;
        // Copies added to a signed request, and copies signed with it:
        // the first pass with cognate's values in their place; the second
        // pass the same way (nginx) or are refused (Caddy deletes the
        // copies before it asks, which breaks their signature). Never does
        // a copy reach the upstream.
        let mut unsigned = get(proxy, &creds, "/pets/1", How::default());
        unsigned
            .headers
            .extend(forged.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let signed = sign(
            &proxy.addr.to_string(),
            &creds,
            "GET",
            "/pets/1",
            &forged,
            b"",
            How::default(),
        );
        for (what, request) in [("unsigned", unsigned), ("signed", signed)] {
            let a = send(&proxy.url(), &request).await;
            if what == "signed" && a.status == 403 {
                assert_eq!(kind, ProxyKind::Caddy, "{}", a.text);
                continue;
            }
            assert_eq!(a.status, 200, "{kind:?}, {what}: {}", a.text);
            assert_eq!(
                a.upstream_header("x-cognito-identity-id"),
                Some(guest.clone())
            );
            assert_eq!(
                a.upstream_header("x-cognito-authentication-type")
                    .as_deref(),
                Some("unauthenticated")
            );
            assert_eq!(
                a.upstream_header("x-cognito-authentication-provider")
                    .unwrap_or_default(),
                ""
            );
            assert!(
                a.upstream_header("x-amzn-user-arn")
                    .unwrap()
                    .contains("assumed-role/ApiGuest/")
            );
            assert_eq!(
                a.upstream_header("x-amzn-content-sha256"),
                Some(cognate_sigv4::payload_hash(b""))
            );
            for (name, value) in forged {
                assert_ne!(
                    a.upstream_header(name).as_deref(),
                    Some(value),
                    "{kind:?}: {name}"
                );
            }
        }
        // The admin key is the account root: every Cognito header is empty,
        // so only the proxy's own deletion keeps the client's copies out.
        let mut root = get(proxy, &f.s.admin_credentials(), "/pets/1", How::default());
        root.headers
            .extend(forged.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let a = send(&proxy.url(), &root).await;
        assert_eq!(a.status, 200, "{kind:?}: {}", a.text);
        for (name, value) in forged {
            assert_ne!(
                a.upstream_header(name).as_deref(),
                Some(value),
                "{kind:?}: {name}"
            );
        }
        assert_eq!(
            a.upstream_header("x-amzn-user-arn").as_deref(),
            Some("arn:aws:iam::000000000000:root")
        );
    }
}

#[tokio::test]
async fn tampered_replayed_and_foreign_requests_are_refused() {
    let f = Fixture::start().await;
    let (_, creds) = f.guest().await;
    let other = TestServer::start_with(with_api).await;
    let other_pool = create_pool(&other, "other", true).await;
    let other_role = create_role(&other, "Other", &trust(&other_pool, "unauthenticated")).await;
    crate::common::set_pool_role(&other, &other_pool, "unauthenticated", &other_role).await;
    let anon = other.anonymous_cognito();
    let other_guest = guest_id(&anon, &other_pool).await;
    let foreign = guest_credentials(&anon, &other_guest).await;

    for proxy in &f.proxies {
        let kind = proxy.kind;
        let host = proxy.addr.to_string();
        let signed = |method, path: &str, extra: &[(&str, &str)], body: &[u8], how| {
            sign(&host, &creds, method, path, extra, body, how)
        };
        let refused = |a: &Answer, error_type: &str| {
            assert_eq!(a.status, 403, "{kind:?}: {}", a.text);
            assert_eq!(
                a.error_type.as_deref(),
                Some(error_type),
                "{kind:?}: {}",
                a.text
            );
        };

        // Unsigned.
        let a = send(
            &proxy.url(),
            &Signed {
                method: "GET",
                path_and_query: "/pets/1".into(),
                headers: vec![],
                body: vec![],
            },
        )
        .await;
        refused(&a, "MissingAuthenticationTokenException");
        assert_eq!(a.json, json!({"message": "Missing Authentication Token"}));

        // Tampered path, query and signed header.
        let mut r = signed(
            "GET",
            "/pets/1?a=1",
            &[("x-app", "one")],
            b"",
            How::default(),
        );
        r.path_and_query = "/pets/2?a=1".into();
        refused(&send(&proxy.url(), &r).await, "InvalidSignatureException");
        r.path_and_query = "/pets/1?a=2".into();
        refused(&send(&proxy.url(), &r).await, "InvalidSignatureException");
        r.path_and_query = "/pets/1?a=1".into();
        for (name, value) in &mut r.headers {
            if name == "x-app" {
                *value = "two".into();
            }
        }
        refused(&send(&proxy.url(), &r).await, "InvalidSignatureException");

        // A tampered body passes the proxy's check (which never sees it)
        // but not the upstream's: the body is not the one signed.
        let mut r = signed("POST", "/pets", &[], br#"{"name":"rex"}"#, How::default());
        r.body = br#"{"name":"evil"}"#.to_vec();
        let a = send(&proxy.url(), &r).await;
        assert_eq!(a.status, 400, "{kind:?}: {}", a.text);
        assert!(
            a.message().contains("does not match"),
            "{kind:?}: {}",
            a.text
        );
        // A body whose hash the signature does not carry is refused.
        let no_hash = How {
            content_sha256: false,
            ..How::default()
        };
        let a = send(&proxy.url(), &signed("POST", "/pets", &[], b"{}", no_hash)).await;
        refused(&a, "InvalidSignatureException");
        assert!(
            a.message().contains("x-amz-content-sha256"),
            "{kind:?}: {}",
            a.text
        );

        // Outside the 15-minute window.
        let stale = How {
            time: SystemTime::now() - Duration::from_secs(20 * 60),
            ..How::default()
        };
        let a = send(&proxy.url(), &signed("GET", "/pets/1", &[], b"", stale)).await;
        refused(&a, "InvalidSignatureException");
        assert!(a.message().starts_with("Signature expired"), "{}", a.text);

        // Scoped to another service.
        let sts = How {
            service: "sts",
            ..How::default()
        };
        let a = send(&proxy.url(), &signed("GET", "/pets/1", &[], b"", sts)).await;
        refused(&a, "InvalidSignatureException");
        assert!(a.message().contains("execute-api"), "{}", a.text);

        // Another deployment's credentials.
        let r = sign(&host, &foreign, "GET", "/pets/1", &[], b"", How::default());
        let a = send(&proxy.url(), &r).await;
        refused(&a, "AccessDeniedException");
        assert_eq!(
            a.json["message"],
            "The security token included in the request is invalid."
        );

        // The presigned form works like the header form.
        let presigned = How {
            presigned: true,
            ..How::default()
        };
        let a = send(&proxy.url(), &signed("GET", "/pets/3", &[], b"", presigned)).await;
        assert_eq!(a.status, 200, "{kind:?}: {}", a.text);
    }

    // An expired session, an hour and more later.
    f.s.clock.advance(Duration::from_secs(3700));
    for proxy in &f.proxies {
        let later = How {
            time: SystemTime::now() + Duration::from_secs(3700),
            ..How::default()
        };
        let r = get(proxy, &creds, "/pets/1", later);
        let a = send(&proxy.url(), &r).await;
        assert_eq!(a.status, 403, "{:?}: {}", proxy.kind, a.text);
        assert_eq!(a.error_type.as_deref(), Some("ExpiredTokenException"));
    }
}

/// Sessions of the basic flow (AssumeRoleWithWebIdentity) are judged the
/// same way, without the guest scope-down policy.
#[tokio::test]
async fn credentials_from_assume_role_with_web_identity_pass_too() {
    let f = Fixture::start().await;
    let anon = f.s.anonymous_cognito();
    let id = guest_id(&anon, &f.pool).await;
    let token = guest_open_id_token(&anon, &id).await;
    let out =
        f.s.anonymous_sts()
            .assume_role_with_web_identity()
            .role_arn(&f.guest_role)
            .role_session_name("basic-flow")
            .web_identity_token(token)
            .send()
            .await
            .unwrap();
    let creds = assumed(&out);
    for proxy in &f.proxies {
        let a = call(proxy, &creds, "GET", "/pets/9", b"").await;
        assert_eq!(a.status, 200, "{:?}: {}", proxy.kind, a.text);
        assert_eq!(a.upstream_header("x-cognito-identity-id"), Some(id.clone()));
        assert_eq!(
            a.upstream_header("x-amzn-user-arn"),
            Some(format!(
                "arn:aws:sts::{ACCOUNT}:assumed-role/ApiGuest/basic-flow"
            ))
        );
        let a = call(proxy, &creds, "GET", "/private/x", b"").await;
        assert_eq!(a.status, 403, "{:?}", proxy.kind);
    }
    let _ = &f.auth_role;
}

/// What forward-auth decides, IAM's SimulatePrincipalPolicy decides too,
/// for the same role, action, resource and context.
#[tokio::test]
async fn decisions_agree_with_simulate_principal_policy() {
    let f = Fixture::start().await;
    let (guest, creds) = f.guest().await;
    let cases = [
        ("GET", "/pets/1"),
        ("POST", "/pets"),
        ("DELETE", "/pets/1"),
        ("GET", "/pets/secret-plans"),
        ("PUT", "/users/GUEST/files"),
        ("PUT", "/users/us-east-1:someone-else/files"),
        ("GET", "/private/report"),
        ("GET", "/"),
    ];
    for (method, path) in cases {
        let path = path.replace("GUEST", &guest);
        let decided = decide(&f.s, &creds, method, &path).await;
        let resource = arn(method, path.trim_start_matches('/'));
        let simulated =
            f.s.iam()
                .simulate_principal_policy()
                .policy_source_arn(&f.guest_role)
                .action_names("execute-api:Invoke")
                .resource_arns(&resource)
                .context_entries(
                    aws_sdk_iam::types::ContextEntry::builder()
                        .context_key_name("cognito-identity.amazonaws.com:sub")
                        .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::String)
                        .context_key_values(&guest)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        let simulated = simulated.evaluation_results()[0]
            .eval_decision()
            .as_str()
            .to_string();
        let allowed = decided["decision"] == "Allow";
        assert_eq!(
            allowed,
            simulated == "allowed",
            "{method} {path}: decide {decided}, simulation {simulated}"
        );
        if simulated == "explicitDeny" {
            assert!(
                decided["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("with an explicit deny")
            );
        }
    }
}

/// `POST /authz/decide` with a signed request as middleware saw it.
async fn decide(s: &TestServer, creds: &Credentials, method: &'static str, path: &str) -> Value {
    let host = "api.example.com";
    let request = sign(host, creds, method, path, &[], b"", How::default());
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let (path, query) = match request.path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (request.path_and_query.clone(), String::new()),
    };
    let response = reqwest::Client::new()
        .post(format!("{}/authz/decide", s.endpoint()))
        .json(
            &json!({"method": method, "path": path, "query": query, "headers": headers,
            "sourceIp": "203.0.113.7", "hasBody": false}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn decide_answers_the_principal_and_the_statements() {
    let f = Fixture::start().await;
    let (guest, creds) = f.guest().await;
    let allowed = decide(&f.s, &creds, "GET", "/pets/1").await;
    assert_eq!(allowed["decision"], "Allow");
    assert_eq!(allowed["principal"]["cognitoIdentityId"], guest);
    assert_eq!(allowed["resource"], arn("GET", "pets/1"));
    assert_eq!(
        allowed["matchedStatements"].as_array().unwrap().len(),
        2,
        "{allowed}"
    );
    let denied = decide(&f.s, &creds, "GET", "/pets/secret").await;
    assert_eq!(denied["decision"], "Deny");
    assert_eq!(denied["status"], 403);
    assert_eq!(denied["errorType"], "AccessDeniedException");
    assert_eq!(denied["matchedStatements"][0]["effect"], "Deny");
}

/// Envoy's ext_authz (HTTP): the original method, the original path after
/// the prefix, the original headers, the body when `with_request_body` is
/// set. Traefik's ForwardAuth: X-Forwarded-* and, with `forwardBody`, the
/// body. Neither is in Debian, so their requests are made here as their
/// documentation describes them.
#[tokio::test]
async fn envoy_and_traefik_request_shapes_are_understood() {
    let f = Fixture::start().await;
    let (guest, creds) = f.guest().await;
    let client = reqwest::Client::new();
    let endpoint = f.s.endpoint();
    let host = "api.example.com";
    let body = br#"{"name":"tom"}"#;

    // Envoy, with the body.
    let r = sign(host, &creds, "POST", "/pets?x=1", &[], body, How::default());
    let envoy = client.post(format!("{endpoint}/authz/forward/pets?x=1"));
    let envoy = with_headers(envoy, &r.headers).body(body.to_vec());
    let response = envoy.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-cognito-identity-id"], guest.as_str());
    // ...and with another body than the one signed.
    let envoy = client.post(format!("{endpoint}/authz/forward/pets?x=1"));
    let envoy = with_headers(envoy, &r.headers).body(b"{}".to_vec());
    assert_refused(envoy, "InvalidSignatureException").await;

    // Traefik: a GET carrying the original as X-Forwarded-*, and the body.
    let r = sign(host, &creds, "POST", "/pets", &[], body, How::default());
    let traefik = client
        .get(format!("{endpoint}/authz/forward"))
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-uri", "/pets")
        .header("x-forwarded-host", host)
        .header("x-forwarded-proto", "https");
    let signed = r.headers.iter().filter(|(k, _)| k != "host");
    let response = with_headers(traefik, signed)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // An allow answers the identity headers in the README's order, then
    // its request id; the session's part is made once, so a second allow
    // must still carry its own request's values.
    let ask_again = |path: &'static str| {
        let r = sign(host, &creds, "GET", path, &[], b"", How::default());
        let request = client
            .get(format!("{endpoint}/authz/forward"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-uri", path)
            .header("x-forwarded-host", host);
        let request = with_headers(request, r.headers.iter().filter(|(k, _)| k != "host"));
        async move { request.send().await.unwrap() }
    };
    let first = ask_again("/pets/1").await;
    let second = ask_again("/pets/2").await;
    let names: Vec<&str> = first
        .headers()
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("x-"))
        .collect();
    assert_eq!(
        names,
        [
            "x-cognito-identity-id",
            "x-cognito-identity-pool-id",
            "x-cognito-authentication-type",
            "x-cognito-authentication-provider",
            "x-amzn-user-arn",
            "x-amzn-caller",
            "x-amzn-access-key",
            "x-amzn-account-id",
            "x-amzn-source-ip",
            "x-amzn-content-sha256",
            "x-amzn-resource-arn",
            "x-amzn-requestid",
        ]
    );
    for (answer, path) in [(&first, "pets/1"), (&second, "pets/2")] {
        let header = |name| answer.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("x-amzn-resource-arn"), arn("GET", path));
        assert_eq!(header("x-cognito-identity-id"), guest);
        assert_eq!(header("x-amzn-source-ip"), "127.0.0.1");
        assert_eq!(
            header("x-amzn-content-sha256"),
            cognate_sigv4::payload_hash(b"")
        );
    }
    let id = |answer: &reqwest::Response| answer.headers()["x-amzn-requestid"].clone();
    assert!(!id(&first).is_empty());
    assert_ne!(id(&first), id(&second));
}

/// The client's address and protocol, as the proxy reports them, reach the
/// policies as `aws:SourceIp` and `aws:SecureTransport`.
#[tokio::test]
async fn the_clients_address_and_protocol_reach_the_conditions() {
    let f = Fixture::start().await;
    let (_, creds) = f.guest().await;
    let client = reqwest::Client::new();
    let endpoint = f.s.endpoint();
    let ask = |path: &'static str, forwarded_for: Option<&'static str>, proto: &'static str| {
        let r = sign(
            "api.example.com",
            &creds,
            "GET",
            path,
            &[],
            b"",
            How::default(),
        );
        let mut request = client
            .get(format!("{endpoint}/authz/forward"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-uri", path)
            .header("x-forwarded-host", "api.example.com")
            .header("x-forwarded-proto", proto);
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        let request = with_headers(request, r.headers.iter().filter(|(k, _)| k != "host"));
        async move { request.send().await.unwrap() }
    };
    let allowed = |r: &reqwest::Response| r.status() == 200;
    assert!(allowed(
        &ask("/office/plan", Some("10.1.2.3"), "http").await
    ));
    let from_outside = ask("/office/plan", Some("192.0.2.9"), "http").await;
    assert_eq!(from_outside.status(), 403);
    assert!(allowed(&ask("/vault/key", None, "https").await));
    assert_eq!(ask("/vault/key", None, "http").await.status(), 403);
    // The address the upstream is told is the one the policy saw.
    let told = ask("/office/plan", Some("10.1.2.3"), "http").await;
    assert_eq!(told.headers()["x-amzn-source-ip"], "10.1.2.3");
}

#[tokio::test]
async fn only_the_configured_callers_may_ask() {
    fn elsewhere(settings: &mut Settings) {
        with_api(settings);
        settings.forward_auth.callers =
            cognate_server::client_address::TrustedProxies::parse(&["10.9.9.9"]).unwrap();
    }
    let s = TestServer::start_with(elsewhere).await;
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 403);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "AccessDeniedException"
        );
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("configured callers"),
            "{body}"
        );
    };
    let response = reqwest::Client::new()
        .get(format!("{}/authz/forward", s.endpoint()))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/pets/1")
        .send()
        .await
        .unwrap();
    refused(response).await;
    let response = reqwest::Client::new()
        .post(format!("{}/authz/decide", s.endpoint()))
        .json(&json!({"method": "GET", "path": "/", "headers": {}, "sourceIp": "10.0.0.1", "hasBody": false}))
        .send()
        .await
        .unwrap();
    refused(response).await;
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body` on a new connection; the status of the answer.
async fn raw_status(addr: &str, head: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{head}\r\nconnection: close\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `request` with the signature's `headers` added.
fn with_headers<'a>(
    mut request: reqwest::RequestBuilder,
    headers: impl IntoIterator<Item = &'a (String, String)>,
) -> reqwest::RequestBuilder {
    for (k, v) in headers {
        request = request.header(k, v);
    }
    request
}

/// Sends `request` and checks that it is refused with API Gateway's
/// `error_type`.
async fn assert_refused(request: reqwest::RequestBuilder, error_type: &str) {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["x-amzn-errortype"], error_type);
}

/// `head` (a request line) with the signature's header lines after it.
fn head_with(mut head: String, headers: &[(String, String)]) -> String {
    for (k, v) in headers {
        head.push_str(&format!("\r\n{k}: {v}"));
    }
    head
}

/// Requests whose description is ambiguous, or whose parts disagree, are
/// refused instead of decided on one reading.
#[tokio::test]
async fn ambiguous_and_inconsistent_requests_are_refused() {
    let f = Fixture::start().await;
    let (_, creds) = f.guest().await;
    let client = reqwest::Client::new();
    let endpoint = f.s.endpoint();
    let host = "api.example.com";

    // Envoy's path names the request: a client's X-Forwarded-Uri does not.
    let r = sign(host, &creds, "GET", "/pets/1", &[], b"", How::default());
    let envoy = client
        .get(format!("{endpoint}/authz/forward/admin/users"))
        .header("x-forwarded-uri", "/pets/1")
        .header("x-forwarded-method", "GET");
    assert_refused(with_headers(envoy, &r.headers), "InvalidSignatureException").await;

    // Both conventions at once: one of them is the client's.
    let both = client
        .get(format!("{endpoint}/authz/forward"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/pets/1")
        .header("x-original-method", "DELETE")
        .header("x-original-uri", "/admin");
    assert_refused(with_headers(both, &r.headers), "AccessDeniedException").await;

    // Envoy without the body reports its own length (0): a POST must carry
    // its hash, whatever the length says.
    let no_hash = How {
        content_sha256: false,
        ..How::default()
    };
    let r = sign(host, &creds, "POST", "/pets", &[], b"", no_hash);
    let envoy = client
        .post(format!("{endpoint}/authz/forward/pets"))
        .header("content-length", "0");
    assert_refused(with_headers(envoy, &r.headers), "InvalidSignatureException").await;

    // Paths that servers rewrite are not decided.
    let r = sign(
        host,
        &creds,
        "GET",
        "/pets/..;/admin",
        &[],
        b"",
        How::default(),
    );
    let odd = client
        .get(format!("{endpoint}/authz/forward"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/pets/..;/admin")
        .header("x-forwarded-host", host);
    let signed = r.headers.iter().filter(|(k, _)| k != "host");
    assert_refused(
        with_headers(odd, signed),
        "MissingAuthenticationTokenException",
    )
    .await;

    // Path parameters, which servlet containers drop (`/pets;x/1` serves
    // `/pets/1`), are not decided either.
    let r = sign(host, &creds, "GET", "/pets;x/1", &[], b"", How::default());
    let params = client
        .get(format!("{endpoint}/authz/forward"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/pets;x/1")
        .header("x-forwarded-host", host);
    let signed = r.headers.iter().filter(|(k, _)| k != "host");
    assert_refused(
        with_headers(params, signed),
        "MissingAuthenticationTokenException",
    )
    .await;

    // A method is case-sensitive: `get` is not decided as `GET`.
    let r = sign(host, &creds, "get", "/pets/1", &[], b"", How::default());
    let lower = client
        .get(format!("{endpoint}/authz/forward"))
        .header("x-forwarded-method", "get")
        .header("x-forwarded-uri", "/pets/1")
        .header("x-forwarded-host", host);
    let signed = r.headers.iter().filter(|(k, _)| k != "host");
    assert_refused(
        with_headers(lower, signed),
        "MissingAuthenticationTokenException",
    )
    .await;

    // Envoy sending only the beginning of a body: not decided on it.
    let body = br#"{"name":"tom"}"#;
    let r = sign(host, &creds, "POST", "/pets", &[], body, How::default());
    let partial = client
        .post(format!("{endpoint}/authz/forward/pets"))
        .header("x-envoy-auth-partial-body", "true");
    let response = with_headers(partial, &r.headers)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "BadRequestException"
    );

    for proxy in &f.proxies {
        let kind = proxy.kind;
        let addr = proxy.addr.to_string();
        // nginx routes an absolute-form request on its request line's host,
        // not on the Host header that was signed; Caddy takes the request
        // line's host for both. Either way it is not let through.
        let r = sign(
            "signed.example.com",
            &creds,
            "GET",
            "/pets/1",
            &[],
            b"",
            How::default(),
        );
        let head = head_with(format!("GET http://{addr}/pets/1 HTTP/1.1"), &r.headers);
        assert_eq!(raw_status(&addr, &head, b"").await, 403, "{kind:?}");

        // A chunked body without its hash.
        let r = get(proxy, &creds, "/pets", no_hash);
        let mut head = head_with("POST /pets HTTP/1.1".to_string(), &r.headers);
        head.push_str("\r\ntransfer-encoding: chunked");
        let status = raw_status(&addr, &head, b"2\r\n{}\r\n0\r\n\r\n").await;
        assert_eq!(status, 403, "{kind:?}");

        // A resource path beyond ASCII reaches the upstream whole.
        let a = call(proxy, &creds, "GET", "/pets/caf%C3%A9", b"").await;
        assert_eq!(a.status, 200, "{kind:?}: {}", a.text);
        assert_eq!(
            a.upstream_header("x-amzn-resource-arn"),
            Some(arn("GET", "pets/café"))
        );
    }
}

/// `/authz/decide` reads a body no larger than any other request's (and
/// only from a configured caller).
#[tokio::test]
async fn decide_reads_a_bounded_body() {
    let f = Fixture::start().await;
    let url = format!("{}/authz/decide", f.s.endpoint());
    // Over the 1 MiB limit of every request, under axum's own default.
    let padding = "x".repeat(1_500_000);
    let question = json!({"method": "GET", "path": "/pets/1", "headers": {"x-pad": padding},
        "hasBody": false, "sourceIp": "10.0.0.1"});
    let response = reqwest::Client::new()
        .post(&url)
        .json(&question)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
}

/// `/authz/decide` wants the client's address and whether there was a
/// body: the middleware's own address would meet conditions meant for
/// clients, and a forgotten body would go unchecked.
#[tokio::test]
async fn decide_needs_the_clients_address_and_the_body() {
    let f = Fixture::start().await;
    let url = format!("{}/authz/decide", f.s.endpoint());
    let client = reqwest::Client::new();
    for question in [
        json!({"method": "GET", "path": "/pets/1", "headers": {}, "hasBody": false}),
        json!({"method": "GET", "path": "/pets/1", "headers": {}, "sourceIp": "10.0.0.1"}),
    ] {
        let response = client.post(&url).json(&question).send().await.unwrap();
        assert_eq!(response.status(), 400, "{question}");
    }
}
