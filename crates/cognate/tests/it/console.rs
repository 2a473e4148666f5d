//! The admin console's security properties over real HTTP: sign-in and
//! its throttle, the session cookie (flags, expiry, sign-out that holds
//! across a restart), CSRF and cross-site refusals, the headers of every
//! response, escaping, and where the console is served (or not).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::common::TestServer;

/// A client that follows no redirects and keeps the console cookie by
/// hand, as the tests need to see (and replay) it.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookie(&self) -> Option<&str> {
        self.headers.get(SET_COOKIE).and_then(|v| v.to_str().ok())
    }

    /// The CSRF token the page's forms carry.
    pub(crate) fn csrf(&self) -> String {
        let re = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap();
        re.captures(&self.body).unwrap()[1].to_string()
    }
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_string(),
            cookie: None,
        }
    }

    pub(crate) fn of(s: &TestServer) -> Browser {
        Browser::new(&s.endpoint())
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", format!("cognate_console={cookie}")),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(set) = headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let value = set
                .strip_prefix("cognate_console=")
                .unwrap()
                .split(';')
                .next()
                .unwrap();
            self.cookie = (!value.is_empty()).then(|| value.to_string());
        }
        Answer {
            status,
            headers,
            body: response.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.post_with(path, form, &[]).await
    }

    pub(crate) async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    async fn sign_in_as(&mut self, key_id: &str, secret: &str) -> Answer {
        self.post(
            "/console/sign-in",
            &[("access_key_id", key_id), ("secret_access_key", secret)],
        )
        .await
    }

    /// Signs in with the server's admin key; returns the CSRF token.
    pub(crate) async fn sign_in(&mut self, s: &TestServer) -> String {
        let answer = self
            .sign_in_as(
                &s.server.admin_access_key_id,
                &s.server.admin_secret_access_key,
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert!(self.cookie.is_some());
        self.get("/console/keys").await.csrf()
    }
}

fn assert_security_headers(answer: &Answer, what: &str) {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "{what}: {csp}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
}

async fn pool_names(s: &TestServer) -> Vec<String> {
    let pools = s
        .cognito()
        .list_identity_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    pools
        .identity_pools()
        .iter()
        .filter_map(|p| p.identity_pool_name().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn pages_need_a_session_and_every_answer_carries_the_headers() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    for path in [
        "/console/",
        "/console/keys",
        "/console/pools/new",
        "/console/pools/us-east-1:00000000-0000-0000-0000-000000000000/identities",
        "/console/identities/us-east-1:00000000-0000-0000-0000-000000000000",
    ] {
        let answer = b.get(path).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            answer.location().starts_with("/console/sign-in?next="),
            "{path}: {}",
            answer.location()
        );
        assert_security_headers(&answer, path);
    }
    // A change without a session is refused, and nothing changes.
    let answer = b.post("/console/pools", &[("name", "nope")]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(pool_names(&s).await.is_empty());
    let answer = b.post("/console/keys/rotate", &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // The public pages and assets carry the headers too.
    for path in [
        "/console/sign-in",
        "/console/assets/console.css",
        "/console/assets/icon.svg",
    ] {
        let answer = b.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_security_headers(&answer, path);
    }
    let css = b.get("/console/assets/console.css").await;
    assert_eq!(
        css.headers["content-type"].to_str().unwrap(),
        "text/css; charset=utf-8"
    );

    // Signed in: pages, a refusal and an unknown page.
    let csrf = b.sign_in(&s).await;
    let pools = b.get("/console/").await;
    assert_eq!(pools.status, StatusCode::OK);
    assert_security_headers(&pools, "pools");
    let missing = b.get("/console/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers(&missing, "404");
    let refused = b.post("/console/pools", &[("csrf", "wrong")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_security_headers(&refused, "403");
    assert!(!csrf.is_empty());
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_attempts_are_throttled() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let id = s.server.admin_access_key_id.clone();
    let secret = s.server.admin_secret_access_key.clone();
    let wrong = format!("{secret}x");
    for attempt in 0..5 {
        let answer = b.sign_in_as(&id, &wrong).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(answer.set_cookie().is_none());
        assert!(answer.body.contains("is not the admin key"));
        assert!(!answer.body.contains(&wrong));
    }
    let answer = b.sign_in_as("AKIANOTTHEADMIN", &secret).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    // Over the limit even the right key waits: a guesser learns nothing.
    let answer = b.sign_in_as(&id, &secret).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.set_cookie().is_none());
    assert_eq!(answer.headers["retry-after"], "12");
    assert_security_headers(&answer, "throttled");
    // A page asked for still needs signing in.
    assert_eq!(b.get("/console/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_cookie_is_sealed_http_only_strict_scoped_and_short_lived() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let answer = b
        .sign_in_as(
            &s.server.admin_access_key_id,
            &s.server.admin_secret_access_key,
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/console/");
    let cookie = answer.set_cookie().unwrap().to_string();
    assert!(cookie.starts_with("cognate_console="), "{cookie}");
    for attribute in [
        "; HttpOnly",
        "; SameSite=Strict",
        "; Path=/console/",
        "; Max-Age=28800",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // Plain HTTP from a client that is not a trusted proxy: not Secure,
    // whatever X-Forwarded-Proto says.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let forged = b
        .post_with(
            "/console/sign-in",
            &[
                ("access_key_id", &s.server.admin_access_key_id),
                ("secret_access_key", &s.server.admin_secret_access_key),
            ],
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(!forged.set_cookie().unwrap().contains("Secure"));
    // The secret is nowhere in it, nor in the pages.
    let value = b.cookie.clone().unwrap();
    assert!(!value.contains(&s.server.admin_secret_access_key));
    let page = b.get("/console/keys").await;
    assert!(!page.body.contains(&s.server.admin_secret_access_key));
    // A cookie changed by one character opens nothing.
    let mut tampered = value.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    b.cookie = Some(String::from_utf8(tampered).unwrap());
    assert_eq!(b.get("/console/").await.status, StatusCode::SEE_OTHER);

    // Idle for 31 minutes: over.
    b.cookie = Some(value);
    assert_eq!(b.get("/console/").await.status, StatusCode::OK);
    s.clock.advance(Duration::from_secs(31 * 60));
    let idle = b.get("/console/").await;
    assert_eq!(idle.status, StatusCode::SEE_OTHER);
    assert!(idle.set_cookie().unwrap().contains("Max-Age=0"));
}

fn behind_a_tls_proxy(settings: &mut cognate::Settings) {
    settings.trusted_proxies =
        cognate_server::client_address::TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
}

#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let s = TestServer::start_with(behind_a_tls_proxy).await;
    let mut b = Browser::of(&s);
    let answer = b
        .post_with(
            "/console/sign-in",
            &[
                ("access_key_id", &s.server.admin_access_key_id),
                ("secret_access_key", &s.server.admin_secret_access_key),
            ],
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(answer.set_cookie().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn a_change_needs_the_sessions_csrf_token_and_the_consoles_origin() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let mut other = Browser::of(&s);
    let other_csrf = other.sign_in(&s).await;
    assert_ne!(csrf, other_csrf);

    let name = ("name", "csrf_pool");
    for (what, form) in [
        ("no token", vec![name]),
        ("a wrong token", vec![name, ("csrf", "AAAA")]),
        ("another session's token", vec![name, ("csrf", &other_csrf)]),
    ] {
        let answer = b.post("/console/pools", &form).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}");
    }
    let host = s.endpoint().trim_start_matches("http://").to_string();
    let form = [name, ("csrf", csrf.as_str())];
    for (what, headers) in [
        ("another origin", vec![("origin", "http://evil.example")]),
        ("an opaque origin", vec![("origin", "null")]),
        (
            "an opaque origin, cross-site",
            vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        ),
        (
            "another origin, said to be same-origin",
            vec![
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "same-origin"),
            ],
        ),
        ("cross-site", vec![("sec-fetch-site", "cross-site")]),
        ("same-site", vec![("sec-fetch-site", "same-site")]),
    ] {
        let answer = b.post_with("/console/pools", &form, &headers).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}");
    }
    // A cross-site sign-in form is refused as well.
    let answer = Browser::of(&s)
        .post_with(
            "/console/sign-in",
            &[
                ("access_key_id", &s.server.admin_access_key_id),
                ("secret_access_key", &s.server.admin_secret_access_key),
            ],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.set_cookie().is_none());
    assert!(pool_names(&s).await.is_empty());

    // From the console's own page, with its token: made.
    let origin = format!("http://{host}");
    let answer = b
        .post_with(
            "/console/pools",
            &form,
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(pool_names(&s).await, ["csrf_pool"]);
    // As a browser sends the console's own forms under its
    // `Referrer-Policy: no-referrer`: an opaque origin, same-origin.
    let form = [("name", "second_pool"), ("csrf", csrf.as_str())];
    let answer = b
        .post_with(
            "/console/pools",
            &form,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(pool_names(&s).await.len(), 2);
}

#[tokio::test]
async fn a_signed_out_session_cannot_be_replayed_even_after_a_restart() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let kept = b.cookie.clone().unwrap();
    let mut other = Browser::of(&s);
    other.sign_in(&s).await;
    let answer = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/console/sign-in");
    assert!(answer.set_cookie().unwrap().contains("Max-Age=0"));
    assert!(b.cookie.is_none());
    // The old cookie, replayed: refused, for reading and for changing.
    b.cookie = Some(kept.clone());
    assert_eq!(b.get("/console/").await.status, StatusCode::SEE_OTHER);
    let answer = b
        .post("/console/pools", &[("name", "replayed"), ("csrf", &csrf)])
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    // Another session is untouched.
    assert_eq!(other.get("/console/").await.status, StatusCode::OK);

    // The sign-out is in the database and the cookie key too: after a
    // restart the signed-out cookie is still refused, the other still
    // opens.
    let s = s.restart().await;
    let mut b = Browser::of(&s);
    b.cookie = Some(kept);
    assert_eq!(b.get("/console/").await.status, StatusCode::SEE_OTHER);
    other.base = s.endpoint();
    assert_eq!(other.get("/console/").await.status, StatusCode::OK);
    assert!(pool_names(&s).await.is_empty());
}

#[tokio::test]
async fn script_in_data_and_in_echoed_input_renders_inert() {
    const SCRIPT: &str = "<script>alert(1)</script>";
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    // A name the API refuses is echoed in its message and in the form.
    let answer = b
        .post("/console/pools", &[("name", SCRIPT), ("csrf", &csrf)])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains(
            "ValidationException: 1 validation error detected: Value &apos;&lt;script&gt;alert(1)&lt;/script&gt;&apos; at &apos;identityPoolName&apos; failed to satisfy constraint"
        ) || answer.body.contains(
            "ValidationException: 1 validation error detected: Value '&lt;script&gt;alert(1)&lt;/script&gt;' at 'identityPoolName' failed to satisfy constraint"
        ),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains(SCRIPT));

    // A developer user identifier holding a script, stored by the API.
    let answer = b
        .post(
            "/console/pools",
            &[
                ("name", "dev_pool"),
                ("developer_provider_name", "login.example"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let pool_id = s
        .cognito()
        .list_identity_pools()
        .max_results(10)
        .send()
        .await
        .unwrap()
        .identity_pools()[0]
        .identity_pool_id()
        .unwrap()
        .to_string();
    let out = s
        .cognito()
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins("login.example", SCRIPT)
        .send()
        .await
        .unwrap();
    let identity_id = out.identity_id().unwrap();
    let page = b.get(&format!("/console/identities/{identity_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains(SCRIPT));
    let list = b.get(&format!("/console/pools/{pool_id}/identities")).await;
    assert!(list.body.contains(identity_id));
    assert!(!list.body.contains(SCRIPT));
}

#[tokio::test]
async fn identities_page_through_in_id_order_and_merges_link_both_ways() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let answer = b
        .post(
            "/console/pools",
            &[
                ("name", "paged"),
                ("allow_unauthenticated", "on"),
                ("developer_provider_name", "login.example"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let pool_id = s
        .cognito()
        .list_identity_pools()
        .max_results(10)
        .send()
        .await
        .unwrap()
        .identity_pools()[0]
        .identity_pool_id()
        .unwrap()
        .to_string();
    let anonymous = s.anonymous_cognito();
    let mut made = Vec::new();
    for _ in 0..53 {
        let out = anonymous
            .get_id()
            .identity_pool_id(&pool_id)
            .send()
            .await
            .unwrap();
        made.push(out.identity_id().unwrap().to_string());
    }
    made.sort();
    let ids = regex::Regex::new(r#"/console/identities/([^"]+)""#).unwrap();
    let next = regex::Regex::new(r#"href="([^"]+)" rel="next""#).unwrap();
    let first = b.get(&format!("/console/pools/{pool_id}/identities")).await;
    let page_one: Vec<String> = ids
        .captures_iter(&first.body)
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(page_one, made[..50]);
    let next_page = next.captures(&first.body).unwrap()[1].replace("&amp;", "&");
    let second = b.get(&next_page).await;
    let page_two: Vec<String> = ids
        .captures_iter(&second.body)
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(page_two, made[50..]);
    assert!(next.captures(&second.body).is_none());
    // The list of pools counts them.
    let pools = b.get("/console/").await;
    assert!(pools.body.contains(">53</a>"), "{}", pools.body);
    // Found by id.
    let found = b
        .get(&format!(
            "/console/pools/{pool_id}/identities?id={}",
            made[7]
        ))
        .await;
    assert_eq!(found.status, StatusCode::SEE_OTHER);
    assert_eq!(found.location(), format!("/console/identities/{}", made[7]));

    // Two developer users merged: each identity's page links the other.
    let c = s.cognito();
    let one = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins("login.example", "one")
        .send()
        .await
        .unwrap();
    let two = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .logins("login.example", "two")
        .send()
        .await
        .unwrap();
    let (one, two) = (one.identity_id().unwrap(), two.identity_id().unwrap());
    c.merge_developer_identities()
        .identity_pool_id(&pool_id)
        .developer_provider_name("login.example")
        .source_user_identifier("two")
        .destination_user_identifier("one")
        .send()
        .await
        .unwrap();
    let into = b.get(&format!("/console/identities/{two}")).await;
    assert!(
        into.body.contains(&format!(
            "Merged into <a href=\"/console/identities/{one}\">"
        )),
        "{}",
        into.body
    );
    let from = b.get(&format!("/console/identities/{one}")).await;
    assert!(
        from.body.contains(&format!(
            "Merged from <a href=\"/console/identities/{two}\">"
        )),
        "{}",
        from.body
    );
}

#[tokio::test]
async fn rotating_a_key_changes_the_jwks() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let jwks = || async {
        reqwest::get(format!("{}/.well-known/jwks_uri", s.endpoint()))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let before = jwks().await;
    let answer = b.post("/console/keys/rotate", &[("csrf", &csrf)]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let kid = answer
        .location()
        .strip_prefix("/console/keys?rotated=")
        .unwrap()
        .to_string();
    let after = jwks().await;
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&kid.as_str()), "{kids:?}");
    assert_eq!(kids.len(), before["keys"].as_array().unwrap().len() + 1);
    let page = b.get("/console/keys").await;
    assert!(page.body.contains(&kid));
}

fn console_off(settings: &mut cognate::Settings) {
    settings.console.enabled = false;
}

fn console_apart(settings: &mut cognate::Settings) {
    settings.console.listen = Some("127.0.0.1:0".into());
}

#[tokio::test]
async fn a_disabled_console_is_not_there() {
    let s = TestServer::start_with(console_off).await;
    let mut b = Browser::of(&s);
    for path in [
        "/console/",
        "/console/sign-in",
        "/console/assets/console.css",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(s.server.console_addr.is_none());
}

#[tokio::test]
async fn a_console_on_its_own_address_is_not_on_the_main_one() {
    let s = TestServer::start_with(console_apart).await;
    let mut main = Browser::of(&s);
    for path in ["/console/", "/console/sign-in"] {
        assert_eq!(main.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let refused = main
        .post(
            "/console/sign-in",
            &[
                ("access_key_id", &s.server.admin_access_key_id),
                ("secret_access_key", &s.server.admin_secret_access_key),
            ],
        )
        .await;
    assert!(refused.set_cookie().is_none());
    let addr = s.server.console_addr.unwrap();
    assert_ne!(addr, s.server.addr);
    let mut apart = Browser::new(&format!("http://{addr}"));
    assert_eq!(apart.get("/console/sign-in").await.status, StatusCode::OK);
    apart.sign_in(&s).await;
    assert_eq!(apart.get("/console/").await.status, StatusCode::OK);
    // The API is not served there.
    assert_eq!(apart.get("/healthz").await.status, StatusCode::NOT_FOUND);
}

fn short_body_timeout(settings: &mut cognate::Settings) {
    settings.http.body_read_timeout_secs = 1;
}

/// Mends from an attack on the console: a slow form is cut off like a
/// slow API body; unknown paths outside /console/ stay the API's 404; a
/// planted cookie of the same name neither hides nor clears the admin's;
/// `next` cannot climb out of /console/; notices do not echo the query.
#[tokio::test]
async fn the_console_bounds_forms_keeps_to_its_paths_and_trusts_no_query_text() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let s = TestServer::start_with(short_body_timeout).await;
    // A sign-in whose body never finishes: 408 within the body timeout.
    let mut slow = tokio::net::TcpStream::connect(s.server.addr).await.unwrap();
    slow.write_all(
        format!(
            "POST /console/sign-in HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\nsec-fetch-site: same-origin\r\ncontent-length: 1000\r\n\r\nacc",
            s.server.addr
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = vec![0; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut answer))
        .await
        .expect("answered within the body timeout")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..read]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");

    // Not the console's: the API's plain 404, without its headers.
    let mut b = Browser::of(&s);
    let answer = b.get("/nonexistent").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.headers.get("content-security-policy").is_none());
    let answer = b
        .post_with("/foo", &[("x", "1")], &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // A planted cookie before the real one.
    b.sign_in(&s).await;
    let real = b.cookie.clone().unwrap();
    let answer = b
        .send(b.http.get(format!("{}/console/keys", b.base)).header(
            "cookie",
            format!("cognate_console=planted; cognate_console={real}"),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.set_cookie().is_none());

    // `next` climbing out of /console/ lands on the console's first page.
    let mut fresh = Browser::of(&s);
    let answer = fresh
        .post(
            "/console/sign-in",
            &[
                ("access_key_id", s.server.admin_access_key_id.as_str()),
                (
                    "secret_access_key",
                    s.server.admin_secret_access_key.as_str(),
                ),
                ("next", "/console/../../evil.example"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/console/");

    // Notices say what happened, not what a link's query says.
    let answer = fresh.get("/console/?deleted=ProductionPool").await;
    assert!(!answer.body.contains("ProductionPool"));
    let answer = fresh.get("/console/keys?rotated=ATTACKER-TEXT").await;
    assert!(!answer.body.contains("ATTACKER-TEXT"));
}

// ---- identities: filters, search, unlink and delete (issue 22) ----

/// Identity ids in a list page, in order.
fn listed(page: &Answer) -> Vec<String> {
    let ids = regex::Regex::new(r#"href="/console/identities/([^"/]+)""#).unwrap();
    ids.captures_iter(&page.body)
        .map(|c| c[1].to_string())
        .collect()
}

/// The "Next page" link of a list page.
fn next_link(page: &Answer) -> Option<String> {
    let next = regex::Regex::new(r#"href="([^"]+)" rel="next""#).unwrap();
    next.captures(&page.body)
        .map(|c| c[1].replace("&amp;", "&"))
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A pool with guests, a developer provider and an OIDC fixture, made
/// through the API; returns its id and the OIDC login key.
async fn mixed_pool(s: &TestServer, idp: &cognate_testkit::OidcProvider) -> (String, String) {
    let arn = crate::common::register_oidc(s, idp, "console-client").await;
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("mixed")
        .allow_unauthenticated_identities(true)
        .developer_provider_name("login.example")
        .open_id_connect_provider_arns(arn)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    (pool_id, idp.logins_key())
}

async fn developer_identity(s: &TestServer, pool_id: &str, user: &str) -> String {
    s.cognito()
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(pool_id)
        .logins("login.example", user)
        .send()
        .await
        .unwrap()
        .identity_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn identity_filters_list_guests_authenticated_and_disabled_a_page_at_a_time() {
    let s = TestServer::start().await;
    let idp = cognate_testkit::OidcProvider::start().await;
    let (pool_id, key) = mixed_pool(&s, &idp).await;
    let mut guests = Vec::new();
    for _ in 0..53 {
        guests.push(crate::common::new_guest(&s, &pool_id).await);
    }
    let token = idp.id_token(serde_json::json!({"sub": "oidc-user", "aud": "console-client"}));
    let oidc = crate::common::login_identity(&s, &pool_id, &key, &token).await;
    let alice = developer_identity(&s, &pool_id, "alice").await;
    let bob = developer_identity(&s, &pool_id, "bob").await;
    let carol = developer_identity(&s, &pool_id, "carol").await;
    // bob merged into alice: bob's identity is disabled.
    s.cognito()
        .merge_developer_identities()
        .identity_pool_id(&pool_id)
        .developer_provider_name("login.example")
        .source_user_identifier("bob")
        .destination_user_identifier("alice")
        .send()
        .await
        .unwrap();
    // carol's only login unlinked: disabled.
    s.cognito()
        .unlink_developer_identity()
        .identity_pool_id(&pool_id)
        .identity_id(&carol)
        .developer_provider_name("login.example")
        .developer_user_identifier("carol")
        .send()
        .await
        .unwrap();

    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let list = format!("/console/pools/{pool_id}/identities");
    // Guests: 53, over two pages; the next link keeps the filter.
    let first = b.get(&format!("{list}?show=guest")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let mut all_guests = sorted(guests.clone());
    assert_eq!(listed(&first), all_guests[..50]);
    let next = next_link(&first).expect("a next page");
    assert!(next.contains("show=guest"), "{next}");
    let second = b.get(&next).await;
    assert_eq!(listed(&second), all_guests[50..]);
    assert!(next_link(&second).is_none());
    assert!(second.body.contains("First page"));
    // Authenticated: the OIDC and alice (holding bob's login now).
    let authenticated = b.get(&format!("{list}?show=authenticated")).await;
    assert_eq!(
        listed(&authenticated),
        sorted(vec![oidc.clone(), alice.clone()])
    );
    assert!(
        authenticated
            .body
            .contains("<option value=\"authenticated\" selected>")
    );
    // Disabled: bob (merged) and carol (unlinked).
    let disabled = b.get(&format!("{list}?show=disabled")).await;
    assert_eq!(listed(&disabled), sorted(vec![bob.clone(), carol.clone()]));
    // All but disabled: 55, all: 57.
    let mut everyone = all_guests.clone();
    everyone.extend([oidc.clone(), alice.clone()]);
    all_guests = sorted(everyone);
    let enabled = b.get(&format!("{list}?show=enabled")).await;
    let mut seen = listed(&enabled);
    seen.extend(listed(&b.get(&next_link(&enabled).unwrap()).await));
    assert_eq!(seen, all_guests);
    // A guest who signs in moves to the authenticated list.
    let token = idp.id_token(serde_json::json!({"sub": "late", "aud": "console-client"}));
    s.anonymous_cognito()
        .get_open_id_token()
        .identity_id(&guests[0])
        .logins(&key, &token)
        .send()
        .await
        .unwrap();
    let authenticated = b.get(&format!("{list}?show=authenticated")).await;
    assert_eq!(
        listed(&authenticated),
        sorted(vec![oidc, alice, guests[0].clone()])
    );
    // A filter with no identities says so; an unknown one shows all.
    let other = crate::common::create_pool(&s, "empty", true).await;
    let none = b
        .get(&format!("/console/pools/{other}/identities?show=disabled"))
        .await;
    assert!(
        none.body.contains("No identities of this kind."),
        "{}",
        none.body
    );
    let unknown = b.get(&format!("{list}?show=nonsense")).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(listed(&unknown).len(), 50);
}

#[tokio::test]
async fn identities_are_found_by_id_login_and_developer_user_identifier() {
    const SCRIPT: &str = "<script>alert(1)</script>";
    let s = TestServer::start().await;
    let idp = cognate_testkit::OidcProvider::start().await;
    let (pool_id, key) = mixed_pool(&s, &idp).await;
    let token = idp.id_token(serde_json::json!({"sub": "sub-123", "aud": "console-client"}));
    let oidc = crate::common::login_identity(&s, &pool_id, &key, &token).await;
    let dev = developer_identity(&s, &pool_id, "dev-user").await;
    let scripted = developer_identity(&s, &pool_id, SCRIPT).await;
    let guest = crate::common::new_guest(&s, &pool_id).await;
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let list = format!("/console/pools/{pool_id}/identities");
    let find = async |b: &mut Browser, query: &[(&str, &str)]| {
        b.get(&format!(
            "{list}?{}",
            serde_urlencoded::to_string(query).unwrap()
        ))
        .await
    };
    // By id.
    let found = find(&mut b, &[("id", &guest)]).await;
    assert_eq!(found.status, StatusCode::SEE_OTHER);
    assert_eq!(found.location(), format!("/console/identities/{guest}"));
    let missing = "us-east-1:00000000-0000-0000-0000-000000000000";
    let not_found = find(&mut b, &[("id", missing)]).await;
    assert_eq!(not_found.status, StatusCode::OK);
    assert!(
        not_found
            .body
            .contains(&format!("This pool has no identity {missing}.")),
        "{}",
        not_found.body
    );
    // By login: an OIDC provider's key and subject.
    let found = find(&mut b, &[("provider", &key), ("subject", "sub-123")]).await;
    assert_eq!(found.location(), format!("/console/identities/{oidc}"));
    let not_found = find(&mut b, &[("provider", &key), ("subject", "sub-999")]).await;
    assert!(
        not_found.body.contains(&format!(
            "No identity of this pool holds the {key} login sub-999."
        )),
        "{}",
        not_found.body
    );
    // By login with the developer provider: LookupDeveloperIdentity.
    let found = find(
        &mut b,
        &[("provider", "login.example"), ("subject", "dev-user")],
    )
    .await;
    assert_eq!(found.location(), format!("/console/identities/{dev}"));
    // By developer user identifier, found and not (AWS's words).
    let found = find(&mut b, &[("developer_user", "dev-user")]).await;
    assert_eq!(found.location(), format!("/console/identities/{dev}"));
    let not_found = find(&mut b, &[("developer_user", "nobody")]).await;
    assert!(
        not_found.body.contains(&format!(
            "ResourceNotFoundException: Developer user identifier &apos;nobody&apos; not found in identity pool {pool_id}."
        )) || not_found.body.contains(&format!(
            "ResourceNotFoundException: Developer user identifier 'nobody' not found in identity pool {pool_id}."
        )),
        "{}",
        not_found.body
    );
    // Half a login is refused in words.
    let half = find(&mut b, &[("provider", &key)]).await;
    assert!(half.body.contains("give both its provider and its subject"));
    // A developer user identifier that is markup: found, and inert
    // wherever it is shown (the search echo, the identity, the unlink
    // confirmation).
    let found = find(&mut b, &[("developer_user", SCRIPT)]).await;
    assert_eq!(found.location(), format!("/console/identities/{scripted}"));
    let echoed = find(&mut b, &[("developer_user", "<script>x</script>")]).await;
    assert!(!echoed.body.contains("<script>"), "{}", echoed.body);
    assert!(echoed.body.contains("&lt;script&gt;x&lt;/script&gt;"));
    let page = b.get(&format!("/console/identities/{scripted}")).await;
    assert!(!page.body.contains("<script>"));
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let confirm = b
        .get(&format!(
            "/console/identities/{scripted}/unlink?{}",
            serde_urlencoded::to_string([("provider", "login.example"), ("subject", SCRIPT)])
                .unwrap()
        ))
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(!confirm.body.contains("<script>"), "{}", confirm.body);
    assert!(
        confirm
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
}

#[tokio::test]
async fn a_login_is_unlinked_and_an_identity_deleted_after_a_confirmation() {
    let s = TestServer::start().await;
    let idp = cognate_testkit::OidcProvider::start().await;
    let (pool_id, key) = mixed_pool(&s, &idp).await;
    // One identity with an OIDC login and a developer login.
    let both = developer_identity(&s, &pool_id, "dana").await;
    let token = idp.id_token(serde_json::json!({"sub": "dana-oidc", "aud": "console-client"}));
    s.cognito()
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool_id)
        .identity_id(&both)
        .logins("login.example", "dana")
        .logins(&key, &token)
        .send()
        .await
        .unwrap();
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let path = format!("/console/identities/{both}");
    let page = b.get(&path).await;
    // (The key, a host and port, needs no escaping in a query.)
    let unlink_oidc = format!("{path}/unlink?provider={key}&subject=dana-oidc");
    assert!(
        page.body.contains(&unlink_oidc.replace('&', "&amp;")),
        "{}",
        page.body
    );
    // The confirmation page names the login and carries the form.
    let confirm = b.get(&unlink_oidc).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Unlink a login?"));
    assert!(confirm.body.contains("dana-oidc"));
    let csrf = confirm.csrf();
    let form = [
        ("provider", key.as_str()),
        ("subject", "dana-oidc"),
        ("csrf", csrf.as_str()),
    ];
    // Without the token (or with another), refused, and nothing changes.
    let refused = b.post(&format!("{path}/unlink"), &form[..2]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = b
        .post(
            &format!("{path}/unlink"),
            &[form[0], form[1], ("csrf", "not-the-token")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let logins = async |s: &TestServer, id: String| {
        s.cognito()
            .describe_identity()
            .identity_id(id)
            .send()
            .await
            .unwrap()
            .logins()
            .to_vec()
    };
    assert_eq!(logins(&s, both.clone()).await.len(), 2);
    // With it: unlinked (UnlinkIdentity's rules), the identity kept.
    let done = b.post(&format!("{path}/unlink"), &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("{path}?unlinked=1"));
    let after = b.get(done.location()).await;
    assert!(after.body.contains("The login was unlinked."));
    assert_eq!(
        logins(&s, both.clone()).await,
        ["login.example".to_string()]
    );
    // Again: the login is not there, in AWS's words.
    let again = b.post(&format!("{path}/unlink"), &form).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(
        again.body.contains(&format!(
            "ResourceConflictException: No {key} login is linked to identity {both}."
        )),
        "{}",
        again.body
    );
    // The developer login, the last: UnlinkDeveloperIdentity; the identity
    // is disabled.
    let dev_form = [
        ("provider", "login.example"),
        ("subject", "dana"),
        ("csrf", csrf.as_str()),
    ];
    let done = b.post(&format!("{path}/unlink"), &dev_form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = b.get(&path).await;
    assert!(
        after
            .body
            .contains(r#"<dd id="identity-kind">disabled</dd>"#)
    );
    let forbidden = b.post(&format!("{path}/unlink"), &dev_form).await;
    assert_eq!(
        forbidden.status,
        StatusCode::BAD_REQUEST,
        "{}",
        forbidden.body
    );
    assert!(
        forbidden.body.contains(&format!(
            "NotAuthorizedException: Access to Identity &apos;{both}&apos; is forbidden."
        )) || forbidden.body.contains(&format!(
            "NotAuthorizedException: Access to Identity '{both}' is forbidden."
        )),
        "{}",
        forbidden.body
    );

    // Delete: a confirmation, refused without the token, then gone.
    let guest = crate::common::new_guest(&s, &pool_id).await;
    let gpath = format!("/console/identities/{guest}");
    assert!(
        b.get(&gpath)
            .await
            .body
            .contains(&format!("{gpath}/delete"))
    );
    let confirm = b.get(&format!("{gpath}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Delete this identity?"));
    let csrf = confirm.csrf();
    let refused = b.post(&format!("{gpath}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(crate::common::identity_exists(&s, &guest).await);
    let cross_site = b
        .post_with(
            &format!("{gpath}/delete"),
            &[("csrf", &csrf)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(crate::common::identity_exists(&s, &guest).await);
    let done = b.post(&format!("{gpath}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location(),
        format!("/console/pools/{pool_id}/identities?deleted=1")
    );
    assert!(
        b.get(done.location())
            .await
            .body
            .contains("The identity was deleted.")
    );
    assert!(!crate::common::identity_exists(&s, &guest).await);
    // Deleting it again: the API's not-found, in its words.
    let gone = b.post(&format!("{gpath}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST, "{}", gone.body);
    assert!(
        gone.body.contains(&format!(
            "ResourceNotFoundException: Identity &apos;{guest}&apos; not found."
        )) || gone.body.contains(&format!(
            "ResourceNotFoundException: Identity '{guest}' not found."
        )),
        "{}",
        gone.body
    );
}
