//! The console's Activity page (the audit trail in the database) and its
//! Overview (rates from the node's metrics), over real HTTP, on SQLite
//! and, when a PostgreSQL server is given, on PostgreSQL; and the write
//! path of the trail under a burst of credential vending: nothing lost
//! while the database keeps up, nothing blocked when it stalls.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::{
    TestServer, allow, create_pool, create_role, fresh_postgres_database, new_guest,
    postgres_server, set_pool_role, trust,
};

/// A console client that follows no redirects and keeps the session
/// cookie (what `console::Browser` does, kept here so this file stands
/// alone).
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        &self.location
    }
}

impl Browser {
    fn of(s: &TestServer) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.endpoint(),
            cookie: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", format!("cognate_console={cookie}")),
            None => request,
        };
        let response = request.send().await.unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(set) = header(reqwest::header::SET_COOKIE) {
            let value = set
                .strip_prefix("cognate_console=")
                .unwrap()
                .split(';')
                .next()
                .unwrap();
            self.cookie = (!value.is_empty()).then(|| value.to_string());
        }
        Answer {
            status: response.status(),
            location: header(reqwest::header::LOCATION).unwrap_or_default(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        self.send(request).await
    }

    /// Signs in with the admin key; returns the CSRF token of the forms.
    async fn sign_in(&mut self, s: &TestServer) -> String {
        let answer = self
            .post(
                "/console/sign-in",
                &[
                    ("access_key_id", &s.server.admin_access_key_id),
                    ("secret_access_key", &s.server.admin_secret_access_key),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let keys = self.get("/console/keys").await.body;
        let re = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap();
        re.captures(&keys).unwrap()[1].to_string()
    }
}

/// Gets `path` until its body satisfies `ready` (the trail is written a
/// moment after the change), for at most 10 s.
async fn until(b: &mut Browser, path: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = b.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        if ready(&answer.body) {
            return answer.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there:\n{}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rows of the page's activity table.
fn rows(body: &str) -> usize {
    body.split("<tbody>").nth(1).map_or(0, |t| {
        t.split("</tbody>")
            .next()
            .unwrap_or("")
            .matches("<tr>")
            .count()
    })
}

/// The page's "Older" link, unescaped.
fn older(body: &str) -> Option<String> {
    let re = regex::Regex::new(r#"<a href="([^"]+)" rel="next">Older</a>"#).unwrap();
    re.captures(body).map(|c| c[1].replace("&amp;", "&"))
}

/// Every row of the trail `path` selects, walking the Older links.
async fn walk(b: &mut Browser, path: &str) -> (usize, usize) {
    let (mut total, mut pages) = (0, 0);
    let mut next = Some(path.to_string());
    while let Some(path) = next {
        let answer = b.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        total += rows(&answer.body);
        pages += 1;
        next = older(&answer.body);
    }
    (total, pages)
}

async fn activity_story(s: &TestServer) {
    let mut b = Browser::of(s);
    // Without a session: sent to sign in, nothing shown.
    let answer = b.get("/console/activity?kind=pool_created").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(answer.location().starts_with("/console/sign-in?next="));
    assert!(!answer.body.contains("pool_created"));
    let csrf = b.sign_in(s).await;

    let first = create_pool(s, "first", true).await;
    let second = create_pool(s, "second", true).await;
    let guests = [new_guest(s, &first).await, new_guest(s, &first).await];
    let body = until(&mut b, "/console/activity", |body| {
        body.contains(&guests[1]) && body.contains(&second)
    })
    .await;
    // Linked to their pages; the admin key is the caller of the pools,
    // an unsigned call of the guests.
    assert!(
        body.contains(&format!("href=\"/console/pools/{first}\"")),
        "{body}"
    );
    assert!(body.contains(&format!("href=\"/console/identities/{}\"", guests[0])));
    assert!(body.contains("<code>admin</code>") && body.contains("<code>anonymous</code>"));
    assert!(body.contains("pool_name: <code>first</code>"));

    // Filters: by pool, by identity, by kind, together, by time.
    let of_second = b
        .get(&format!("/console/activity?pool={second}"))
        .await
        .body;
    assert_eq!(rows(&of_second), 1, "{of_second}");
    assert!(!of_second.contains(&first));
    let of_guest = b
        .get(&format!("/console/activity?identity={}", guests[0]))
        .await
        .body;
    assert_eq!(rows(&of_guest), 1);
    assert!(of_guest.contains("identity_created") && !of_guest.contains(&guests[1]));
    let created = b
        .get(&format!(
            "/console/activity?pool={first}&kind=identity_created"
        ))
        .await
        .body;
    assert_eq!(rows(&created), 2);
    assert_eq!(
        rows(&b.get("/console/activity?kind=pool_created").await.body),
        2
    );
    let future = b.get("/console/activity?since=2999-01-01T00:00").await.body;
    assert_eq!(rows(&future), 0);
    assert!(future.contains("No events match."));
    let past = b.get("/console/activity?until=2000-01-01T00:00").await.body;
    assert_eq!(rows(&past), 0);

    // What the console does is the console's.
    let rotated = b.post("/console/keys/rotate", &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, StatusCode::SEE_OTHER);
    let keys = until(
        &mut b,
        "/console/activity?kind=signing_key_rotated",
        |body| rows(body) == 1,
    )
    .await;
    assert!(keys.contains("<code>console</code>"), "{keys}");

    // Pages of 50, cut by keyset: 60 updates of one pool page as 50 and 11.
    for i in 0..60 {
        s.cognito()
            .update_identity_pool()
            .identity_pool_id(&second)
            .identity_pool_name(format!("second-{i}"))
            .allow_unauthenticated_identities(true)
            .send()
            .await
            .unwrap();
    }
    let path = format!("/console/activity?pool={second}");
    let page = until(&mut b, &path, |body| body.contains("second-59")).await;
    assert_eq!(rows(&page), 50);
    let next = older(&page).expect("an Older link");
    assert!(
        next.contains(&format!("pool={second}")),
        "the filter stays: {next}"
    );
    let page2 = b.get(&next).await.body;
    assert_eq!(rows(&page2), 11, "{page2}");
    assert!(page2.contains("pool_created") && page2.contains("second-0<"));
    assert!(!page2.contains("second-59<"), "no event on two pages");
    assert!(older(&page2).is_none());
    assert_eq!(walk(&mut b, &path).await, (61, 2));

    // Input is echoed as text; a bad one is refused in words.
    let script = "<script>alert(1)</script>";
    let echoed = b
        .get(&format!(
            "/console/activity?identity={}&pool={}",
            urlencode(script),
            urlencode(script)
        ))
        .await;
    assert_eq!(echoed.status, StatusCode::OK);
    assert!(!echoed.body.contains("<script>"), "{}", echoed.body);
    assert!(
        echoed
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    let bad_kind = b
        .get(&format!("/console/activity?kind={}", urlencode(script)))
        .await;
    assert_eq!(bad_kind.status, StatusCode::BAD_REQUEST);
    assert!(!bad_kind.body.contains("<script>"));
    assert!(
        bad_kind
            .body
            .contains("There is no kind of event &apos;&lt;script&gt;")
            || bad_kind
                .body
                .contains("There is no kind of event '&lt;script&gt;"),
        "{}",
        bad_kind.body
    );
    let bad_time = b.get("/console/activity?since=yesterday").await;
    assert_eq!(bad_time.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_time
            .body
            .contains("From must be a time as YYYY-MM-DD HH:MM (UTC)")
    );
    let bad_token = b.get("/console/activity?before=nonsense").await;
    assert_eq!(bad_token.status, StatusCode::BAD_REQUEST);

    // Signed out: sent to sign in again.
    let out = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let answer = b.get("/console/activity").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(!answer.body.contains("identity_created"));
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_string()
}

#[tokio::test]
async fn activity_lists_filters_pages_and_escapes_on_sqlite() {
    let s = TestServer::start().await;
    activity_story(&s).await;
}

#[tokio::test]
async fn activity_lists_filters_pages_and_escapes_on_postgres() {
    let Some(server) = postgres_server() else {
        return;
    };
    let url = fresh_postgres_database(&server, "cognate_activity").await;
    let s = TestServer::start_with_extra(|_| {}, |settings| settings.database_url = url).await;
    activity_story(&s).await;
}

#[tokio::test]
async fn overview_shows_the_operations_called() {
    let s = TestServer::start().await;
    let mut b = Browser::of(&s);
    let answer = b.get("/console/overview").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    b.sign_in(&s).await;
    let before = b.get("/console/overview").await.body;
    assert!(!before.contains(">GetId<"), "{before}");
    let pool = create_pool(&s, "watched", true).await;
    for _ in 0..3 {
        new_guest(&s, &pool).await;
    }
    // A client error counts as one.
    let refused = s
        .anonymous_cognito()
        .get_id()
        .identity_pool_id("us-east-1:00000000-0000-0000-0000-000000000000")
        .send()
        .await;
    assert!(refused.is_err());
    let page = b.get("/console/overview").await;
    assert_eq!(page.status, StatusCode::OK);
    let recent = page
        .body
        .split("id=\"recent\"")
        .nth(1)
        .expect("a recent table")
        .to_string();
    let get_id = regex::Regex::new(
        r#"<th scope="row">GetId</th><td class="number">(\d+)</td><td class="number">([\d.]+)</td><td class="number">([\d.]+) %</td><td class="number">([\d.]+) %</td><td class="number">([^<]+)</td>"#,
    )
    .unwrap();
    let row = get_id
        .captures(&recent)
        .unwrap_or_else(|| panic!("{}", page.body));
    assert_eq!(&row[1], "4");
    assert!(row[2].parse::<f64>().unwrap() > 0.0);
    assert_eq!(&row[3], "25.0", "one of four refused");
    assert_eq!(&row[4], "0.0");
    assert!(row[5].ends_with("ms"), "p99 {}", &row[5]);
    assert!(recent.contains(">CreateIdentityPool<"));
    assert!(page.body.contains("id=\"audit-stats\""));
}

/// A burst of GetCredentialsForIdentity with the trail in the database:
/// every event is written while the database keeps up; while it stalls
/// (another process holds SQLite's write lock), vending still answers at
/// once and the small queue drops and counts instead of growing or
/// blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vending_burst_neither_loses_nor_blocks_on_the_trail() {
    fn small_queue(settings: &mut cognate::Settings) {
        settings.audit.queue = 50;
        settings.audit.credentials = true;
        settings.limits = cognate_server::limits::LimitsConfig::unlimited();
    }
    let s = TestServer::start_with(small_queue).await;
    let pool = create_pool(&s, "burst", true).await;
    let role = create_role(&s, "BurstGuest", &trust(&pool, "unauthenticated")).await;
    set_pool_role(&s, &pool, "unauthenticated", &role).await;
    let guest = new_guest(&s, &pool).await;
    let vend = |n: usize| {
        let client = s.anonymous_cognito();
        let guest = guest.clone();
        async move {
            let mut calls = tokio::task::JoinSet::new();
            for _ in 0..n {
                let (client, guest) = (client.clone(), guest.clone());
                calls.spawn(async move {
                    let started = Instant::now();
                    client
                        .get_credentials_for_identity()
                        .identity_id(guest)
                        .send()
                        .await
                        .unwrap();
                    started.elapsed()
                });
            }
            let mut slowest = Duration::ZERO;
            while let Some(took) = calls.join_next().await {
                slowest = slowest.max(took.unwrap());
            }
            slowest
        }
    };
    let metrics = || async {
        let text = reqwest::get(format!("{}/metrics", s.endpoint()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let count = |outcome: &str| -> u64 {
            let prefix = format!("cognate_audit_events_total{{outcome=\"{outcome}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .parse()
                .unwrap()
        };
        (count("written"), count("dropped_queue_full"))
    };
    let settled = |want: u64| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (written, dropped) = metrics().await;
            if written + dropped >= want {
                return (written, dropped);
            }
            assert!(Instant::now() < deadline, "{written} + {dropped} < {want}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // Pool, role and guest, then 40 vended at a time, within the queue:
    // all written. (CreateIdentityPool, CreateRole, SetIdentityPoolRoles,
    // GetId: four events.)
    let (base, _) = settled(4).await;
    assert_eq!(base, 4);
    for _ in 0..5 {
        vend(40).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (written, dropped) = settled(base + 200).await;
    assert_eq!((written, dropped), (base + 200, 0));
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let (vended, _) = walk(
        &mut b,
        &format!("/console/activity?kind=credentials_vended&identity={guest}"),
    )
    .await;
    assert_eq!(vended, 200, "every vending recorded");
    // The trail names the access key id, never the secret key or the
    // session token.
    let credentials = s
        .anonymous_cognito()
        .get_credentials_for_identity()
        .identity_id(&guest)
        .send()
        .await
        .unwrap();
    let credentials = credentials.credentials().unwrap();
    let key_id = credentials.access_key_id().unwrap();
    let page = until(
        &mut b,
        &format!("/console/activity?kind=credentials_vended&identity={guest}"),
        |body| body.contains(key_id),
    )
    .await;
    assert!(page.contains(&role), "the role is named");
    assert!(!page.contains(credentials.secret_key().unwrap()));
    assert!(!page.contains(credentials.session_token().unwrap()));

    // The database stalls: another process holds the write lock.
    let db = s.dir.path().join("cognate.db");
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let slowest = vend(300).await;
    // Blocked, a call would wait for SQLite's 10 s busy timeout (the lock
    // is held until every call has answered); 5 s leaves a slow machine
    // room.
    assert!(
        slowest < Duration::from_secs(5),
        "vending waited for the trail: {slowest:?}"
    );
    let (_, dropped) = metrics().await;
    assert!(dropped > 0, "the queue of 50 must have overflowed");
    holder.execute_batch("ROLLBACK").unwrap();
    // Every event is accounted for: written, or dropped and counted.
    let (written, dropped) = settled(base + 501).await;
    assert_eq!(written + dropped, base + 501);
    assert!(
        written >= base + 200 + 50,
        "the queued ones are written after the stall"
    );
}

/// By default the database trail leaves credential vending out (the log
/// file has it): the identity's creation is written, its vendings not.
#[tokio::test]
async fn vending_stays_out_of_the_database_trail_by_default() {
    let s = TestServer::start().await;
    let pool = create_pool(&s, "quiet", true).await;
    let role = create_role(&s, "QuietGuest", &trust(&pool, "unauthenticated")).await;
    set_pool_role(&s, &pool, "unauthenticated", &role).await;
    let guest = new_guest(&s, &pool).await;
    for _ in 0..3 {
        s.anonymous_cognito()
            .get_credentials_for_identity()
            .identity_id(&guest)
            .send()
            .await
            .unwrap();
    }
    let count = |kind: &str| -> i64 {
        rusqlite::Connection::open(s.dir.path().join("cognate.db"))
            .unwrap()
            .query_row(
                "SELECT count(*) FROM audit_events WHERE kind = ?1",
                [kind],
                |row| row.get(0),
            )
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while count("identity_created") == 0 {
        assert!(Instant::now() < deadline, "the guest's creation is written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The vendings came after the creation; give the writer a moment more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count("credentials_vended"), 0);
}

/// Stopping the server writes the audit events still queued, the batch
/// in flight included: here the writer is stuck behind another process's
/// write lock when the stop begins, and the lock goes 0.5 s later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_writes_the_events_still_queued() {
    fn with_vending(settings: &mut cognate::Settings) {
        settings.audit.credentials = true;
    }
    let s = TestServer::start_with(with_vending).await;
    let pool = create_pool(&s, "stop", true).await;
    let role = create_role(&s, "StopGuest", &trust(&pool, "unauthenticated")).await;
    set_pool_role(&s, &pool, "unauthenticated", &role).await;
    let guest = new_guest(&s, &pool).await;
    let db = s.dir.path().join("cognate.db");
    let vended_rows = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM audit_events WHERE kind = 'credentials_vended'",
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    for _ in 0..10 {
        s.anonymous_cognito()
            .get_credentials_for_identity()
            .identity_id(&guest)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(vended_rows(&db), 0, "the writer waits for the lock");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        holder.execute_batch("ROLLBACK").unwrap();
    });
    let mut written = None;
    let _restarted = s
        .restart_after(|dir| written = Some(vended_rows(&dir.join("cognate.db"))))
        .await;
    release.join().unwrap();
    assert_eq!(written, Some(10), "every vending's event written at stop");
}

/// Events older than `[audit] retention_days` are purged by the node's
/// own task; newer ones stay.
#[tokio::test]
async fn events_past_the_retention_are_purged() {
    fn one_day(settings: &mut cognate::Settings) {
        settings.audit.retention_days = 1;
        settings.audit.purge_interval_secs = 1;
    }
    let s = TestServer::start_with(one_day).await;
    let pool = create_pool(&s, "kept", true).await;
    // A guest made two days ago (GetId is unsigned, so the server's clock
    // may be moved under it).
    s.clock.rewind(Duration::from_secs(2 * 86_400));
    let old = new_guest(&s, &pool).await;
    s.clock.advance(Duration::from_secs(2 * 86_400));
    let recent = new_guest(&s, &pool).await;
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let path = format!("/console/activity?pool={pool}");
    let body = until(&mut b, &path, |body| {
        body.contains(&recent) && !body.contains(&old)
    })
    .await;
    assert!(body.contains("pool_created"), "{body}");
    assert_eq!(rows(&body), 2, "{body}");
}

/// The rows of the page's activity table, each row's HTML.
fn row_cells(body: &str) -> Vec<&str> {
    body.split("<tbody>")
        .nth(1)
        .and_then(|t| t.split("</tbody>").next())
        .map_or_else(Vec::new, |t| t.split("<tr>").skip(1).collect())
}

#[tokio::test]
async fn iam_changes_are_on_the_activity_page_without_their_documents() {
    let s = TestServer::start().await;
    let iam = s.iam();
    // A policy text no event may carry (it can be big).
    let document = allow(&["s3:GetObject"], &["arn:aws:s3:::never-in-the-trail/*"]);
    let role = create_role(&s, "AuditedIam", &trust("us-east-1:x", "*")).await;
    iam.put_role_policy()
        .role_name("AuditedIam")
        .policy_name("inline-one")
        .policy_document(&document)
        .send()
        .await
        .unwrap();
    let policy = iam
        .create_policy()
        .policy_name("audited-managed")
        .policy_document(&document)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.attach_role_policy()
        .role_name("AuditedIam")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    let provider = iam
        .create_open_id_connect_provider()
        .url("https://audited-issuer.example")
        .client_id_list("c1")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn
        .unwrap();
    iam.detach_role_policy()
        .role_name("AuditedIam")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    iam.delete_role_policy()
        .role_name("AuditedIam")
        .policy_name("inline-one")
        .send()
        .await
        .unwrap();
    iam.delete_policy()
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    iam.delete_role()
        .role_name("AuditedIam")
        .send()
        .await
        .unwrap();
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider)
        .send()
        .await
        .unwrap();

    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let expected: [(&str, &str, &str, Option<&str>); 10] = [
        ("role_changed", "CreateRole", &role, None),
        ("role_changed", "PutRolePolicy", &role, Some("inline-one")),
        ("role_changed", "AttachRolePolicy", &role, Some(&policy)),
        ("role_changed", "DetachRolePolicy", &role, Some(&policy)),
        (
            "role_changed",
            "DeleteRolePolicy",
            &role,
            Some("inline-one"),
        ),
        ("role_changed", "DeleteRole", &role, None),
        ("policy_changed", "CreatePolicy", &policy, None),
        ("policy_changed", "DeletePolicy", &policy, None),
        (
            "provider_changed",
            "CreateOpenIDConnectProvider",
            &provider,
            None,
        ),
        (
            "provider_changed",
            "DeleteOpenIDConnectProvider",
            &provider,
            None,
        ),
    ];
    for kind in ["role_changed", "policy_changed", "provider_changed"] {
        let of_kind: Vec<_> = expected.iter().filter(|e| e.0 == kind).collect();
        let path = format!("/console/activity?kind={kind}");
        let body = until(&mut b, &path, |body| rows(body) >= of_kind.len()).await;
        let table = row_cells(&body);
        assert_eq!(table.len(), of_kind.len(), "{body}");
        for (_, action, arn, subject) in &of_kind {
            let row = table
                .iter()
                .find(|row| row.contains(&format!("action: <code>{action}</code>")))
                .unwrap_or_else(|| panic!("no {action} in {body}"));
            assert!(row.contains("<code>admin</code>"), "{row}");
            assert!(row.contains(&format!("arn: <code>{arn}</code>")), "{row}");
            if let Some(subject) = subject {
                assert!(row.contains(&format!("<code>{subject}</code>")), "{row}");
            }
        }
        assert!(!body.contains("never-in-the-trail"), "{body}");
        assert!(!body.contains("s3:GetObject"), "{body}");
        assert!(!body.contains("AssumeRoleWithWebIdentity"), "{body}");
    }
    // The kind filter offers the new kinds.
    let page = b.get("/console/activity").await.body;
    for kind in ["role_changed", "policy_changed", "provider_changed"] {
        assert!(page.contains(&format!("option value=\"{kind}\"")), "{page}");
    }
}

/// An IAM event: its action, its ARN and what else it names.
type Expected<'a> = (&'a str, &'a str, Option<&'a str>);

#[tokio::test]
async fn every_iam_change_is_recorded_once_and_a_no_op_not_at_all() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let document = allow(&["s3:GetObject"], &["arn:aws:s3:::never-in-the-trail/*"]);
    let role = create_role(&s, "Changed", &trust("us-east-1:x", "*")).await;
    iam.update_role()
        .role_name("Changed")
        .description("changed")
        .send()
        .await
        .unwrap();
    iam.update_assume_role_policy()
        .role_name("Changed")
        .policy_document(trust("us-east-1:y", "*"))
        .send()
        .await
        .unwrap();
    let policy = iam
        .create_policy()
        .policy_name("versioned")
        .policy_document(&document)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    // Attached twice: the second changes nothing and records nothing.
    for _ in 0..2 {
        iam.attach_role_policy()
            .role_name("Changed")
            .policy_arn(&policy)
            .send()
            .await
            .unwrap();
    }
    iam.create_policy_version()
        .policy_arn(&policy)
        .policy_document(&document)
        .send()
        .await
        .unwrap();
    iam.set_default_policy_version()
        .policy_arn(&policy)
        .version_id("v2")
        .send()
        .await
        .unwrap();
    iam.delete_policy_version()
        .policy_arn(&policy)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    let oidc = iam
        .create_open_id_connect_provider()
        .url("https://changed-issuer.example")
        .client_id_list("c1")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn
        .unwrap();
    for _ in 0..2 {
        iam.add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&oidc)
            .client_id("c2")
            .send()
            .await
            .unwrap();
    }
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&oidc)
        .client_id("c2")
        .send()
        .await
        .unwrap();
    let metadata = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cognate-saml/tests/vectors/metadata.xml"
    ))
    .unwrap();
    let saml = iam
        .create_saml_provider()
        .name("ChangedIdP")
        .saml_metadata_document(&metadata)
        .send()
        .await
        .unwrap()
        .saml_provider_arn
        .unwrap();
    iam.update_saml_provider()
        .saml_provider_arn(&saml)
        .saml_metadata_document(&metadata)
        .send()
        .await
        .unwrap();
    iam.delete_saml_provider()
        .saml_provider_arn(&saml)
        .send()
        .await
        .unwrap();

    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let expected: &[(&str, &[Expected])] = &[
        (
            "role_changed",
            &[
                ("CreateRole", &role, None),
                ("UpdateRole", &role, None),
                ("UpdateAssumeRolePolicy", &role, None),
                ("AttachRolePolicy", &role, Some(&policy)),
            ],
        ),
        (
            "policy_changed",
            &[
                ("CreatePolicy", &policy, None),
                ("CreatePolicyVersion", &policy, Some("v2")),
                ("SetDefaultPolicyVersion", &policy, Some("v2")),
                ("DeletePolicyVersion", &policy, Some("v1")),
            ],
        ),
        (
            "provider_changed",
            &[
                ("CreateOpenIDConnectProvider", &oidc, None),
                ("AddClientIDToOpenIDConnectProvider", &oidc, Some("c2")),
                ("RemoveClientIDFromOpenIDConnectProvider", &oidc, Some("c2")),
                ("CreateSAMLProvider", &saml, None),
                ("UpdateSAMLProvider", &saml, None),
                ("DeleteSAMLProvider", &saml, None),
            ],
        ),
    ];
    for (kind, events) in expected {
        let path = format!("/console/activity?kind={kind}");
        let body = until(&mut b, &path, |body| rows(body) >= events.len()).await;
        let table = row_cells(&body);
        assert_eq!(table.len(), events.len(), "{body}");
        for (action, arn, subject) in *events {
            let of_action: Vec<_> = table
                .iter()
                .filter(|row| row.contains(&format!("action: <code>{action}</code>")))
                .collect();
            assert_eq!(of_action.len(), 1, "{action} in {body}");
            let row = of_action[0];
            assert!(row.contains("<code>admin</code>"), "{row}");
            assert!(row.contains(&format!("arn: <code>{arn}</code>")), "{row}");
            if let Some(subject) = subject {
                assert!(row.contains(&format!("<code>{subject}</code>")), "{row}");
            }
        }
        assert!(!body.contains("never-in-the-trail"), "{body}");
        assert!(!body.contains("EntityDescriptor"), "{body}");
    }
}
