//! Crash safety: the real binary under a concurrent load of guest GetId,
//! developer logins (GetOpenIdTokenForDeveloperIdentity) and
//! MergeDeveloperIdentities is SIGKILLed at random moments and restarted on
//! the same data, five times; then everything that was acknowledged (HTTP
//! 200) must still be there, and the links must be consistent: every
//! developer user on exactly one live identity, no user on a merged-away
//! (disabled) identity, both sides of every acknowledged merge on one
//! identity. On SQLite always; on PostgreSQL too when
//! `COGNATE_TEST_POSTGRES_URL` is set (a fresh database).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentity::config::Region;

use crate::common::{code, create_developer_pool, fresh_postgres_database, postgres_server};

const KEY_ID: &str = "AKIACRASHTEST0000000";
const SECRET: &str = "crash/test/secret/000000000000000000000000";
const MASTER: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
const DEV: &str = "login.crash";
const KILLS: usize = 5;
const WORKERS: usize = 10;

/// A small xorshift generator; the seed is printed so a failure can be
/// replayed with `COGNATE_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("COGNATE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("crash test seed: {seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Node {
    child: Child,
    endpoint: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cognate serve` on `data_dir` (SQLite there unless `database`).
fn start_node(database: Option<&str>, data_dir: &Path) -> Node {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.arg("serve")
        .env("COGNATE_DATA_DIR", data_dir)
        .env("COGNATE_MASTER_KEY", MASTER)
        .env("COGNATE_ADMIN_ACCESS_KEY_ID", KEY_ID)
        .env("COGNATE_ADMIN_SECRET_ACCESS_KEY", SECRET)
        .env("COGNATE_LISTEN", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .env_remove("COGNATE_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = database {
        cmd.env("COGNATE_DATABASE_URL", url);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = String::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push_str(&line);
        seen.push('\n');
        if let Some(i) = line.find("listening on http://") {
            let rest = &line[i + "listening on ".len()..];
            let endpoint = rest.split([';', ' ']).next().unwrap().to_string();
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return Node { child, endpoint };
        }
    }
    let status = child.wait();
    panic!("cognate did not start after a crash ({status:?}):\n{seen}");
}

fn client(endpoint: &str, signed: bool) -> aws_sdk_cognitoidentity::Client {
    let mut b = aws_sdk_cognitoidentity::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled());
    if signed {
        b = b.credentials_provider(Credentials::new(KEY_ID, SECRET, None, None, "crash"));
    }
    aws_sdk_cognitoidentity::Client::from_conf(b.build())
}

/// What the server acknowledged.
#[derive(Default)]
struct Ledger {
    guests: Vec<String>,
    /// (developer user, identity the call answered with)
    links: Vec<(String, String)>,
    /// (source user, destination user)
    merges: Vec<(String, String)>,
    /// Users whose link was acknowledged, for picking existing users.
    users: Vec<String>,
    /// Service errors seen during the load, by code.
    errors: BTreeMap<String, usize>,
    attempts: usize,
}

async fn worker(
    endpoint: String,
    pool_id: String,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    seed: u64,
    prefix: String,
) {
    let anon = client(&endpoint, false);
    let admin = client(&endpoint, true);
    let mut rng = Rng(seed | 1);
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let pick = rng.below(10);
        let existing = {
            let l = ledger.lock().unwrap();
            let len = l.users.len() as u64;
            (len >= 2).then(|| {
                (
                    l.users[rng.below(len) as usize].clone(),
                    l.users[rng.below(len) as usize].clone(),
                )
            })
        };
        ledger.lock().unwrap().attempts += 1;
        let timeout = Duration::from_secs(10);
        if pick < 3 {
            let r = tokio::time::timeout(timeout, anon.get_id().identity_pool_id(&pool_id).send())
                .await;
            match r {
                Ok(Ok(out)) => ledger.lock().unwrap().guests.push(out.identity_id.unwrap()),
                Ok(Err(e)) => note_error(&ledger, &e),
                Err(_) => panic!("GetId hung for 10 s"),
            }
        } else if pick < 8 || existing.is_none() {
            let user = match (&existing, rng.below(3)) {
                (Some((u, _)), 0) => u.clone(),
                _ => {
                    n += 1;
                    format!("{prefix}-{n}")
                }
            };
            let r = tokio::time::timeout(
                timeout,
                admin
                    .get_open_id_token_for_developer_identity()
                    .identity_pool_id(&pool_id)
                    .logins(DEV, &user)
                    .send(),
            )
            .await;
            match r {
                Ok(Ok(out)) => {
                    let mut l = ledger.lock().unwrap();
                    l.links.push((user.clone(), out.identity_id.unwrap()));
                    l.users.push(user);
                }
                Ok(Err(e)) => note_error(&ledger, &e),
                Err(_) => panic!("GetOpenIdTokenForDeveloperIdentity hung for 10 s"),
            }
        } else {
            let (src, dst) = existing.unwrap();
            let r = tokio::time::timeout(
                timeout,
                admin
                    .merge_developer_identities()
                    .identity_pool_id(&pool_id)
                    .developer_provider_name(DEV)
                    .source_user_identifier(&src)
                    .destination_user_identifier(&dst)
                    .send(),
            )
            .await;
            match r {
                Ok(Ok(_)) => ledger.lock().unwrap().merges.push((src, dst)),
                Ok(Err(e)) => note_error(&ledger, &e),
                Err(_) => panic!("MergeDeveloperIdentities hung for 10 s"),
            }
        }
    }
}

fn note_error<E, R>(ledger: &Mutex<Ledger>, e: &aws_sdk_cognitoidentity::error::SdkError<E, R>)
where
    E: aws_sdk_cognitoidentity::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    // Transport errors (the process was killed) are not acknowledgements;
    // service errors are counted and judged after the run.
    let key = if e.as_service_error().is_some() {
        code(e)
    } else {
        "transport".to_string()
    };
    *ledger.lock().unwrap().errors.entry(key).or_default() += 1;
}

async fn create_pool(endpoint: &str) -> String {
    create_developer_pool(&client(endpoint, true), "crash", DEV).await
}

/// `true` for errors a killed process may cause, or contention answers.
fn tolerated(code: &str) -> bool {
    matches!(
        code,
        "transport" | "TooManyRequestsException" | "ResourceConflictException"
    )
}

async fn run(engine: &str, database: Option<String>) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut rng = Rng::new();
    let mut node = start_node(database.as_deref(), &data_dir);
    let pool_id = create_pool(&node.endpoint).await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for round in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            tasks.push(tokio::spawn(worker(
                node.endpoint.clone(),
                pool_id.clone(),
                ledger.clone(),
                stop.clone(),
                rng.next(),
                format!("r{round}w{w}"),
            )));
        }
        tokio::time::sleep(Duration::from_millis(100 + rng.below(300))).await;
        // SIGKILL: no shutdown, no flush.
        node.child.kill().unwrap();
        node.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("a load worker hung after the kill")
                .unwrap();
        }
        drop(node);
        node = start_node(database.as_deref(), &data_dir);
    }

    let ledger = Arc::try_unwrap(ledger)
        .unwrap_or_else(|_| panic!("the workers still hold the ledger"))
        .into_inner()
        .unwrap();
    for (code, count) in &ledger.errors {
        assert!(
            tolerated(code),
            "{engine}: {count} × {code} under load (only transport errors and contention answers are expected)"
        );
    }
    let checked = verify(&node.endpoint, &pool_id, &ledger).await;
    eprintln!(
        "crash test [{engine}]: {KILLS} kills, {} requests, {} acknowledged writes checked \
         ({} guests, {} developer links, {} merges), {} identities scanned, errors {:?}, {:.1} s",
        ledger.attempts,
        ledger.guests.len() + ledger.links.len() + ledger.merges.len(),
        ledger.guests.len(),
        ledger.links.len(),
        ledger.merges.len(),
        checked,
        ledger.errors,
        started.elapsed().as_secs_f64()
    );
    assert!(
        !ledger.links.is_empty() && !ledger.guests.is_empty(),
        "{engine}: the load acknowledged nothing"
    );
}

/// Checks the ledger against the restarted server; returns how many
/// identities the scan saw.
async fn verify(endpoint: &str, pool_id: &str, ledger: &Ledger) -> usize {
    let admin = client(endpoint, true);

    // Every identity, with what it says about itself.
    let mut merged_into: BTreeMap<String, String> = BTreeMap::new();
    let mut with_dev_login: Vec<String> = Vec::new();
    let mut all: BTreeSet<String> = BTreeSet::new();
    let mut next: Option<String> = None;
    loop {
        let page = admin
            .list_identities()
            .identity_pool_id(pool_id)
            .max_results(60)
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        for i in page.identities() {
            let id = i.identity_id().unwrap().to_string();
            if i.logins().iter().any(|l| l == DEV) {
                with_dev_login.push(id.clone());
            }
            all.insert(id);
        }
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    // Every identity is describable. MergedInto is beyond the SDK's shape:
    // ask over raw JSON.
    for id in &all {
        if let Some(into) = describe_raw(endpoint, id).await.get("MergedInto") {
            merged_into.insert(id.clone(), into.as_str().unwrap().to_string());
        }
    }

    // Every acknowledged guest exists.
    for g in &ledger.guests {
        assert!(all.contains(g), "acknowledged guest {g} is gone");
    }

    // Users per identity, from the identity side; each user on one identity.
    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    for id in &with_dev_login {
        assert!(
            !merged_into.contains_key(id),
            "merged-away identity {id} still has a developer login"
        );
        let users = lookup_users_of(&admin, pool_id, id).await;
        assert!(
            !users.is_empty(),
            "{id} lists the developer provider but no user"
        );
        for u in users {
            if let Some(other) = owner_of.insert(u.clone(), id.clone()) {
                panic!("half-merge: user {u} is on both {other} and {id}");
            }
        }
    }
    // Merged-away identities point at identities that exist, and have no
    // users.
    for (id, into) in &merged_into {
        assert!(
            all.contains(into),
            "{id} was merged into {into}, which is gone"
        );
    }
    for id in merged_into.keys() {
        let users = lookup_users_of(&admin, pool_id, id).await;
        assert!(
            users.is_empty(),
            "merged-away {id} still has users {users:?}"
        );
    }

    // Every acknowledged link resolves, from the user side, to the identity
    // it was made on or to where that identity was merged.
    let final_of = |id: &str| {
        let mut cur = id.to_string();
        for _ in 0..10_000 {
            match merged_into.get(&cur) {
                Some(next) => cur = next.clone(),
                None => return cur,
            }
        }
        panic!("a merge cycle through {id}");
    };
    for (user, identity) in &ledger.links {
        let found = admin
            .lookup_developer_identity()
            .identity_pool_id(pool_id)
            .developer_user_identifier(user)
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged user {user} does not resolve: {}", code(&e)))
            .identity_id
            .unwrap();
        assert_eq!(
            owner_of.get(user),
            Some(&found),
            "user {user}: lookup by user and by identity disagree"
        );
        assert_eq!(
            final_of(identity),
            found,
            "user {user} was acknowledged on {identity}, which does not lead to {found}"
        );
        assert!(
            !merged_into.contains_key(&found),
            "user {user} is on merged-away {found}"
        );
    }
    for (src, dst) in &ledger.merges {
        assert_eq!(
            owner_of.get(src),
            owner_of.get(dst),
            "acknowledged merge {src} → {dst} is not in effect"
        );
    }
    all.len()
}

async fn describe_raw(endpoint: &str, id: &str) -> serde_json::Value {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let body = serde_json::json!({ "IdentityId": id }).to_string();
    let identity = Credentials::new(KEY_ID, SECRET, None, None, "raw").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-identity")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = endpoint.trim_start_matches("http://").to_string();
    let headers = [
        ("host".to_string(), host),
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "x-amz-target".to_string(),
            "AWSCognitoIdentityService.DescribeIdentity".to_string(),
        ),
    ];
    let url = format!("{endpoint}/");
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&url)
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let mut rb = reqwest::Client::new().post(&url).body(body);
    for (k, v) in headers.iter().skip(1) {
        rb = rb.header(k, v);
    }
    for (k, v) in request.headers() {
        rb = rb.header(k.as_str(), v.to_str().unwrap());
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200, "DescribeIdentity {id}");
    r.json().await.unwrap()
}

async fn lookup_users_of(
    admin: &aws_sdk_cognitoidentity::Client,
    pool_id: &str,
    id: &str,
) -> Vec<String> {
    let mut users = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let r = admin
            .lookup_developer_identity()
            .identity_pool_id(pool_id)
            .identity_id(id)
            .max_results(60)
            .set_next_token(next.clone())
            .send()
            .await;
        let out = match r {
            Ok(out) => out,
            // An identity without developer users may be "not found".
            Err(e) if code(&e) == "ResourceNotFoundException" => return users,
            Err(e) => panic!("LookupDeveloperIdentity of {id}: {}", code(&e)),
        };
        users.extend(out.developer_user_identifier_list().iter().cloned());
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            return users;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_on_sqlite() {
    run("sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_on_postgres() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_crash").await;
    run("postgres", Some(database)).await;
}
