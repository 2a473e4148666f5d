//! `cognate-bench console`: the admin console's identity list at a
//! million identities (issue 22's target: every page in under 50 ms of
//! server time).
//!
//! The pool is filled (or found filled, with `--data-dir`) directly in
//! the SQLite file, in bulk, as `fill` does, but with the mix a real pool
//! has: mostly guests, some authenticated identities (each with a login
//! row) and a few disabled ones (merged away). Then the bench signs in to
//! the console over HTTP as a browser would and reads, on one kept-alive
//! connection, the list's first page, the pages after it (following the
//! "Next page" link), a page deep in the keyset, each filter the same way,
//! the searches and an identity's page. Server time is the console's own
//! `Server-Timing: total;dur=` (the handler, the session check and the
//! rendering); the client's time on loopback is shown beside it, and
//! `/healthz`'s as the floor of a request on this machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use crate::children::{self, ADMIN_KEY_ID, ADMIN_SECRET};
use crate::client::{Signer, cognito};

/// The bench pool's name and developer provider.
const POOL_NAME: &str = "console-bench";
const DEVELOPER_PROVIDER: &str = "bench.dev";

#[derive(Args)]
pub struct ConsoleArgs {
    /// Identities in the pool.
    #[arg(long, default_value_t = 1_000_000)]
    identities: u64,
    /// Use (and keep) this data directory; a pool filled by an earlier run
    /// is reused [default: a temporary directory].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Requests measured per line (after two unmeasured ones).
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Run this `cognate` binary instead of re-executing this one.
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// The mix of the fill, per 100 identities: 1 disabled, 10 authenticated,
/// the rest guests.
fn state_of(n: u64) -> State {
    match n % 100 {
        0 => State::Disabled,
        1..=10 => State::Authenticated,
        _ => State::Guest,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Guest,
    Authenticated,
    Disabled,
}

pub async fn run(args: ConsoleArgs) {
    let tmp = tempfile::Builder::new()
        .prefix("cognate-console-bench-")
        .tempdir()
        .expect("a temporary directory");
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => tmp.path().join("data"),
    };
    std::fs::create_dir_all(&data_dir).expect("the data directory");
    println!("cognate-bench console");
    println!("  load average at the start: {}", crate::load_average());
    let log = tmp.path().join("cognate.log");
    let server = children::start_cognate(
        "cognate",
        &data_dir,
        args.server_bin.as_ref(),
        &log,
        "ES256",
        "",
    )
    .await;
    let signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, server.addr);
    let pool_id = bench_pool(server.addr, &signer).await;
    let db = data_dir.join("cognate.db");
    let present = count(&db, &pool_id);
    if present < args.identities {
        let started = Instant::now();
        let added = fill_mixed(&db, &pool_id, present, args.identities - present);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  fill: {added} identities in {seconds:.1} s ({:.0} rows/s), through rusqlite in 100,000-row transactions",
            added as f64 / seconds
        );
    } else {
        println!("  reusing {present} identities of {pool_id}");
    }
    let total = count(&db, &pool_id);
    println!(
        "  pool {pool_id}: {total} identities ({} guests, {} authenticated, {} disabled)",
        count_where(&db, &pool_id, "disabled = 0 AND has_logins = 0"),
        count_where(&db, &pool_id, "disabled = 0 AND has_logins = 1"),
        count_where(&db, &pool_id, "disabled = 1"),
    );
    print_plans(&db);

    let mut client = Client::connect(server.addr).await;
    client.sign_in().await;
    let pool_path = format!("/console/pools/{pool_id}/identities");
    let mut lines: Vec<Line> = Vec::new();
    lines.push(
        client
            .measure("/healthz (a request's floor)", "/healthz", args.repeat)
            .await,
    );
    lines.push(
        client
            .measure("pools (counts to 10,000)", "/console/", args.repeat)
            .await,
    );
    for (label, show, deep_where) in [
        ("all", "all", "1 = 1"),
        ("guests", "guest", "disabled = 0 AND has_logins = 0"),
        (
            "authenticated",
            "authenticated",
            "disabled = 0 AND has_logins = 1",
        ),
        ("disabled", "disabled", "disabled = 1"),
    ] {
        let first = format!("{pool_path}?show={show}");
        lines.push(
            client
                .measure(&format!("{label}: first page"), &first, args.repeat)
                .await,
        );
        lines.push(
            client
                .follow_next(&format!("{label}: pages 2-11"), &first, 10)
                .await,
        );
        // A page that starts 99% of the way through this list.
        let deep_after = deep_id(&db, &pool_id, deep_where, 0.99);
        let deep = format!(
            "{first}&after={}",
            cognate_core::service::page_token::encode(&deep_after)
        );
        lines.push(
            client
                .measure(&format!("{label}: a page 99% deep"), &deep, args.repeat)
                .await,
        );
    }
    let some_identity = deep_id(&db, &pool_id, "disabled = 0 AND has_logins = 1", 0.5);
    let some_user = user_of(&db, &some_identity);
    lines.push(
        client
            .measure(
                "search by id (303)",
                &format!("{pool_path}?id={some_identity}"),
                args.repeat,
            )
            .await,
    );
    lines.push(
        client
            .measure(
                "search by developer user (303)",
                &format!("{pool_path}?developer_user={some_user}"),
                args.repeat,
            )
            .await,
    );
    lines.push(
        client
            .measure(
                "an identity's page",
                &format!("/console/identities/{some_identity}"),
                args.repeat,
            )
            .await,
    );

    println!(
        "\n| request | n | server p50 ms | server p90 ms | server max ms | client p50 ms | status | rows |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---:|");
    for line in &lines {
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            line.label,
            line.server.len(),
            opt(percentile(&line.server, 0.5)),
            opt(percentile(&line.server, 0.9)),
            opt(line.server.iter().copied().reduce(f64::max)),
            percentile(&line.client, 0.5).unwrap_or(f64::NAN),
            line.status,
            line.rows
        );
    }
    let worst = lines
        .iter()
        .filter(|l| l.label.contains("page") || l.label.contains("search"))
        .flat_map(|l| l.server.iter().copied())
        .reduce(f64::max);
    println!(
        "\nslowest console page or search, server time: {} ms (target < 50 ms)",
        opt(worst)
    );
    println!("load average at the end: {}", crate::load_average());
    server.stop();
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    Some(sorted[at])
}

/// The bench's pool, found by name or made (guests allowed, a developer
/// provider for the search by developer user identifier).
async fn bench_pool(addr: SocketAddr, signer: &Signer) -> String {
    let pools = cognito(
        addr,
        signer,
        "ListIdentityPools",
        &json!({"MaxResults": 60}),
        true,
    )
    .await
    .expect("ListIdentityPools");
    if let Some(id) = pools["IdentityPools"].as_array().and_then(|pools| {
        pools
            .iter()
            .find(|p| p["IdentityPoolName"] == POOL_NAME)
            .and_then(|p| p["IdentityPoolId"].as_str())
    }) {
        return id.to_string();
    }
    let made = cognito(
        addr,
        signer,
        "CreateIdentityPool",
        &json!({
            "IdentityPoolName": POOL_NAME,
            "AllowUnauthenticatedIdentities": true,
            "DeveloperProviderName": DEVELOPER_PROVIDER,
        }),
        true,
    )
    .await
    .expect("CreateIdentityPool");
    made["IdentityPoolId"]
        .as_str()
        .expect("a pool id")
        .to_string()
}

fn open(db: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).expect("the database file");
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .expect("a busy timeout");
    conn
}

fn count(db: &Path, pool_id: &str) -> u64 {
    count_where(db, pool_id, "1 = 1")
}

fn count_where(db: &Path, pool_id: &str, condition: &str) -> u64 {
    open(db)
        .query_row(
            &format!("SELECT count(*) FROM identities WHERE pool_id = ?1 AND {condition}"),
            [pool_id],
            |row| row.get::<_, i64>(0),
        )
        .expect("counting identities") as u64
}

/// The id `fraction` of the way through the pool's identities matching
/// `condition`, in id order.
fn deep_id(db: &Path, pool_id: &str, condition: &str, fraction: f64) -> String {
    let n = count_where(db, pool_id, condition);
    let offset = ((n as f64) * fraction) as i64;
    open(db)
        .query_row(
            &format!(
                "SELECT id FROM identities WHERE pool_id = ?1 AND {condition} ORDER BY id LIMIT 1 OFFSET ?2"
            ),
            rusqlite::params![pool_id, offset],
            |row| row.get(0),
        )
        .expect("an identity deep in the list")
}

fn user_of(db: &Path, identity_id: &str) -> String {
    open(db)
        .query_row(
            "SELECT subject FROM logins WHERE identity_id = ?1",
            [identity_id],
            |row| row.get(0),
        )
        .expect("the identity's login")
}

/// SQLite's plan for the store's filtered list statements (the same
/// WHERE as `SqliteStore::list_identities_in_state`), so the report says
/// which index serves each filter.
fn print_plans(db: &Path) {
    let conn = open(db);
    for (label, condition) in [
        ("all", "1 = 1"),
        ("guests", "disabled = 0 AND has_logins = 0"),
        ("authenticated", "disabled = 0 AND has_logins = 1"),
        ("disabled", "disabled = 1"),
    ] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT * FROM identities WHERE pool_id = 'p' AND {condition} \
             AND id > '' ORDER BY id LIMIT 51"
        );
        let mut statement = conn.prepare(&sql).expect("a plan");
        let details: Vec<String> = statement
            .query_map([], |row| row.get::<_, String>(3))
            .expect("the plan")
            .collect::<Result<_, _>>()
            .expect("the plan's rows");
        println!("  plan, {label}: {}", details.join("; "));
    }
}

/// Adds `count` identities to the pool in the file, numbered from
/// `first` (which decides each one's state; see `state_of`).
fn fill_mixed(db: &Path, pool_id: &str, first: u64, count: u64) -> u64 {
    let conn = open(db);
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576;")
        .expect("pragmas");
    let region = pool_id.split_once(':').map_or("us-east-1", |(r, _)| r);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut done = 0u64;
    let mut previous: Option<String> = None;
    let started = Instant::now();
    while done < count {
        let n = (count - done).min(100_000);
        let mut rows: Vec<(String, u64)> = (0..n)
            .map(|i| {
                let number = first + done + i;
                // Ids a millisecond apart, as a pool filled over time.
                (
                    cognate_core::ids::identity_id(region, now - 10_000_000 + number),
                    number,
                )
            })
            .collect();
        rows.sort_unstable();
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("a transaction");
        {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO identities
                         (id, pool_id, created_at, updated_at, disabled, merged_into, version, has_logins)
                     VALUES (?1, ?2, ?3, ?3, ?4, ?5, 1, ?6)",
                )
                .expect("the insert");
            let mut login = conn
                .prepare_cached(
                    "INSERT INTO logins (pool_id, provider, subject, identity_id) VALUES (?1, ?2, ?3, ?4)",
                )
                .expect("the login insert");
            let created = (now / 1000) as i64;
            for (id, number) in &rows {
                let state = state_of(*number);
                let merged_into = match state {
                    State::Disabled => previous.clone(),
                    _ => None,
                };
                insert
                    .execute(rusqlite::params![
                        id,
                        pool_id,
                        created,
                        state == State::Disabled,
                        merged_into,
                        state == State::Authenticated
                    ])
                    .expect("an identity");
                if state == State::Authenticated {
                    login
                        .execute(rusqlite::params![
                            pool_id,
                            DEVELOPER_PROVIDER,
                            format!("user-{number}"),
                            id
                        ])
                        .expect("a login");
                }
                previous = Some(id.clone());
            }
        }
        conn.execute_batch("COMMIT").expect("the commit");
        done += n;
        eprintln!(
            "  {done} of {count} rows, {:.0} rows/s",
            done as f64 / started.elapsed().as_secs_f64()
        );
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("a checkpoint");
    done
}

struct Line {
    label: String,
    /// Server-Timing durations, ms.
    server: Vec<f64>,
    /// Client round trips on loopback, ms.
    client: Vec<f64>,
    status: String,
    /// Identities listed on the last page read (a page that answered
    /// something else would show here).
    rows: usize,
}

/// One kept-alive HTTP/1.1 connection with the console's cookie.
struct Client {
    addr: SocketAddr,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    cookie: String,
}

struct Answer {
    status: u16,
    server_ms: Option<f64>,
    client_ms: f64,
    body: String,
    set_cookie: Option<String>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("a connection");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("a handshake");
        tokio::spawn(conn);
        Client {
            addr,
            sender,
            cookie: String::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: &str) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if !self.cookie.is_empty() {
            request = request.header("cookie", format!("cognate_console={}", self.cookie));
        }
        if method == "POST" {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a request");
        self.sender.ready().await.expect("the connection");
        let started = Instant::now();
        let response = self.sender.send_request(request).await.expect("an answer");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let server_ms = header("server-timing").and_then(|v| {
            v.split("dur=")
                .nth(1)
                .and_then(|d| d.split([',', ';']).next())
                .and_then(|d| d.trim().parse::<f64>().ok())
        });
        let set_cookie = header("set-cookie");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let client_ms = started.elapsed().as_secs_f64() * 1000.0;
        Answer {
            status,
            server_ms,
            client_ms,
            body: String::from_utf8_lossy(&body).into_owned(),
            set_cookie,
        }
    }

    async fn sign_in(&mut self) {
        let form = crate::client::form(&[
            ("access_key_id", ADMIN_KEY_ID),
            ("secret_access_key", ADMIN_SECRET),
        ]);
        let answer = self.send("POST", "/console/sign-in", &form).await;
        assert_eq!(answer.status, 303, "signing in: {}", answer.body);
        let cookie = answer.set_cookie.expect("a session cookie");
        self.cookie = cookie
            .strip_prefix("cognate_console=")
            .and_then(|c| c.split(';').next())
            .expect("the cookie's value")
            .to_string();
    }

    async fn get(&mut self, path: &str) -> Answer {
        let answer = self.send("GET", path, "").await;
        // The session is refreshed now and then: keep the newest cookie.
        if let Some(value) = answer
            .set_cookie
            .as_deref()
            .and_then(|c| c.strip_prefix("cognate_console="))
            .and_then(|c| c.split(';').next())
            .filter(|c| !c.is_empty())
        {
            self.cookie = value.to_string();
        }
        answer
    }

    /// `path` `repeat` times, after two unmeasured requests.
    async fn measure(&mut self, label: &str, path: &str, repeat: usize) -> Line {
        for _ in 0..2 {
            self.get(path).await;
        }
        let mut line = Line {
            label: label.to_string(),
            server: Vec::new(),
            client: Vec::new(),
            status: String::new(),
            rows: 0,
        };
        for _ in 0..repeat {
            let answer = self.get(path).await;
            line.status = answer.status.to_string();
            line.rows = rows_of(&answer.body);
            line.server.extend(answer.server_ms);
            line.client.push(answer.client_ms);
        }
        line
    }

    /// From `first`, follows "Next page" `pages` times, measuring each
    /// page once; three rounds.
    async fn follow_next(&mut self, label: &str, first: &str, pages: usize) -> Line {
        let mut line = Line {
            label: label.to_string(),
            server: Vec::new(),
            client: Vec::new(),
            status: String::new(),
            rows: 0,
        };
        let next = next_link;
        for _ in 0..3 {
            let mut page = self.get(first).await;
            for _ in 0..pages {
                let Some(path) = next(&page.body) else {
                    break;
                };
                page = self.get(&path).await;
                line.status = page.status.to_string();
                line.rows = rows_of(&page.body);
                line.server.extend(page.server_ms);
                line.client.push(page.client_ms);
            }
        }
        line
    }
}

/// Identity rows in a list page.
fn rows_of(body: &str) -> usize {
    body.matches("<tr><td><a href=\"/console/identities/")
        .count()
}

/// The href of the page's `rel="next"` link, unescaped.
fn next_link(body: &str) -> Option<String> {
    let end = body.find("\" rel=\"next\"")?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    Some(body[start..end].replace("&amp;", "&"))
}
