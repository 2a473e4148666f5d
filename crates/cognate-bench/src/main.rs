//! `cognate-bench`: throughput and latency of cognate's hot operations
//! against a minimal axum baseline and against what the machine allows
//! (signing and SQLite commit ceilings), plus `fill`, which loads a store
//! with synthetic identities. See docs/benchmarks.md.
//!
//! Not part of the test suite: run it with `cargo run --release -p cognate-bench`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ceilings;
mod children;
mod client;
mod console;
mod fill;
mod load;
mod paired;
mod pgwire;
mod postgres;
mod report;
mod scale;
mod startup;

use std::net::SocketAddr;

/// The same allocator as the `cognate` binary: this binary re-executes
/// itself as the server (`serve-cognate`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use cognate_testkit::OidcProvider;
use http_body_util::Full;
use serde_json::{Value, json};

use crate::children::{ADMIN_KEY_ID, ADMIN_SECRET, ChildServer};
use crate::client::{FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, Signer, form, xml_text};
use crate::load::{MakeRequest, rotating};
use crate::report::{Ceiling, Row};

#[derive(Parser)]
#[command(
    name = "cognate-bench",
    about = "Load, latency and ceilings of cognate's hot operations (see docs/benchmarks.md)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Insert N synthetic guest identities into a pool of a SQLite store.
    Fill(FillArgs),
    /// GetCredentialsForIdentity at a small and a large store (10 million
    /// identities by default), and the server's memory at each.
    Scale(scale::ScaleArgs),
    /// cognate on PostgreSQL beside the embedded SQLite in one run, with
    /// PostgreSQL's ceilings (`pgbench -S`, durable single-row commits)
    /// measured on the same server, which the bench starts itself.
    Postgres(postgres::PostgresArgs),
    /// Start-up time of `cognate serve --ephemeral` (process start to
    /// `/healthz` 200), beside the axum baseline's.
    Startup(startup::StartupArgs),
    /// The admin console's identity list at a million identities: server
    /// time of its pages, filters and searches (`Server-Timing`).
    Console(console::ConsoleArgs),
    /// (internal) Run cognate as `cognate serve` would; the bench's child process.
    #[command(hide = true)]
    ServeCognate(ServeArgs),
    /// (internal) Run the axum baseline; the bench's child process.
    #[command(hide = true)]
    ServeBaseline {
        #[arg(long)]
        listen: String,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Seconds measured per operation and concurrency [default: 5, with --quick 2].
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds of unmeasured warm-up before each measurement [default: 1, with --quick 0.25].
    #[arg(long)]
    warmup: Option<f64>,
    /// Concurrency levels (connections) [default: 16,64; with --quick 16].
    #[arg(long, value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Fewer levels and shorter ceilings and warm-ups: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Only operations whose name contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run this `cognate` binary (`cognate serve ...`) instead of re-executing
    /// this one as the server (e.g. target/release/cognate).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where the temporary data directory is made [default: the system temp dir].
    #[arg(long)]
    tmp_dir: Option<PathBuf>,
    /// How the load generator's threads are scheduled on the cores they
    /// share with the servers.
    #[arg(long, value_enum, default_value_t = load::ClientScheduling::Batch)]
    client_scheduling: load::ClientScheduling,
    /// Keep the server's log (stdout) in this file [default: a temporary file].
    #[arg(long)]
    server_log: Option<PathBuf>,
    /// Synthetic identities `fill` adds after the load, to report its rate (0: skip).
    #[arg(long)]
    fill_count: Option<u64>,
    /// Rounds of the paired measurements (each target line alternating
    /// with its reference in 1-second slices; 0: skip) [default: 5, with --quick 2].
    #[arg(long)]
    paired_rounds: Option<u32>,
}

#[derive(Args)]
struct FillArgs {
    /// The server's data directory (the store is <dir>/cognate.db).
    #[arg(long)]
    data_dir: PathBuf,
    /// The pool to fill, `<region>:<uuid>`.
    #[arg(long)]
    pool_id: String,
    /// How many identities to add.
    #[arg(long)]
    count: u64,
    /// Identities per transaction.
    #[arg(long, default_value_t = 100_000)]
    batch: usize,
    /// Create the pool in the store if it does not exist.
    #[arg(long)]
    create_pool: bool,
}

/// The flags of `cognate serve` that the bench passes to its child.
#[derive(Args)]
pub struct ServeArgs {
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    listen: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, env = "COGNATE_DATABASE_URL")]
    database_url: Option<String>,
    #[arg(long)]
    admin_access_key_id: Option<String>,
    #[arg(long)]
    admin_secret_access_key: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::ServeCognate(args)) => children::serve_cognate(args),
        Some(Command::ServeBaseline { listen }) => children::serve_baseline(listen),
        Some(Command::Fill(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let result = runtime.block_on(fill::fill(
                &args.data_dir,
                &args.pool_id,
                args.count,
                args.batch.max(1),
                args.create_pool,
                true,
            ));
            match result {
                Ok(r) => println!(
                    "inserted {} identities into {} in {:.2} s: {:.0} rows/s ({} per transaction)",
                    r.rows,
                    args.pool_id,
                    r.seconds,
                    r.rate(),
                    args.batch
                ),
                Err(e) => {
                    eprintln!("fill: {e}");
                    std::process::exit(1);
                }
            }
        }
        Some(Command::Startup(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(startup::run(args));
        }
        Some(Command::Postgres(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(postgres::run(args));
        }
        Some(Command::Console(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(console::run(args));
        }
        Some(Command::Scale(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(scale::run(args));
        }
        None => {
            // The client side (load generator, fixture, set-up) gets two
            // worker threads; each server is a separate process with
            // tokio's default (one worker per core): they compete for the
            // same cores as a client and a server on one machine would.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(run(cli.run));
        }
    }
}

const CLIENT_ID: &str = "bench-client";
const DEVELOPER_PROVIDER: &str = "login.bench.dev";
const GUESTS: usize = 256;

/// What the set-up made.
struct Fixture {
    pool_id: String,
    guests: Vec<String>,
    login_key: String,
    login_token: String,
    login_identity: String,
    unauth_role: String,
    guest_tokens: Vec<String>,
}

async fn set_up(addr: SocketAddr, signer: &Signer, idp: &OidcProvider) -> Fixture {
    let provider_xml = client::query(
        addr,
        signer,
        "iam",
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", idp.issuer()),
            ("ClientIDList.member.1", CLIENT_ID),
        ],
    )
    .await
    .expect("CreateOpenIDConnectProvider");
    let provider_arn = xml_text(&provider_xml, "OpenIDConnectProviderArn").expect("a provider ARN");
    let pool = client::cognito(
        addr,
        signer,
        "CreateIdentityPool",
        &json!({
            "IdentityPoolName": "bench",
            "AllowUnauthenticatedIdentities": true,
            "DeveloperProviderName": DEVELOPER_PROVIDER,
            "OpenIdConnectProviderARNs": [provider_arn],
        }),
        true,
    )
    .await
    .expect("CreateIdentityPool");
    let pool_id = pool["IdentityPoolId"]
        .as_str()
        .expect("a pool id")
        .to_string();
    let mut roles = Vec::new();
    for (name, amr) in [
        ("BenchUnauth", "unauthenticated"),
        ("BenchAuth", "authenticated"),
    ] {
        let document = cognate_testkit::cognito_trust_policy(&pool_id, amr);
        let xml = client::query(
            addr,
            signer,
            "iam",
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", &document),
            ],
        )
        .await
        .expect("CreateRole");
        roles.push(xml_text(&xml, "Arn").expect("a role ARN"));
    }
    client::cognito(
        addr,
        signer,
        "SetIdentityPoolRoles",
        &json!({
            "IdentityPoolId": pool_id,
            "Roles": {"unauthenticated": roles[0], "authenticated": roles[1]},
        }),
        true,
    )
    .await
    .expect("SetIdentityPoolRoles");

    let guests = new_guests(addr, signer, &pool_id).await;

    let login_key = idp.logins_key();
    let login_token = idp.id_token(json!({"sub": "bench-user-1", "aud": CLIENT_ID}));
    let login_identity = client::cognito(
        addr,
        signer,
        "GetId",
        &json!({"IdentityPoolId": pool_id, "Logins": {&login_key: &login_token}}),
        false,
    )
    .await
    .expect("GetId with an OIDC login")["IdentityId"]
        .as_str()
        .expect("an identity id")
        .to_string();

    let guest_tokens = guest_tokens(addr, signer, &guests).await;

    Fixture {
        pool_id,
        guests,
        login_key,
        login_token,
        login_identity,
        unauth_role: roles[0].clone(),
        guest_tokens,
    }
}

/// GUESTS new guests of the pool, 16 at a time.
async fn new_guests(addr: SocketAddr, signer: &Signer, pool_id: &str) -> Vec<String> {
    let mut guests = Vec::with_capacity(GUESTS);
    while guests.len() < GUESTS {
        let batch: Vec<_> = (0..16)
            .map(|_| {
                let signer = signer.clone();
                let input = json!({"IdentityPoolId": pool_id});
                tokio::spawn(async move {
                    client::cognito(addr, &signer, "GetId", &input, false)
                        .await
                        .expect("GetId")["IdentityId"]
                        .as_str()
                        .expect("an identity id")
                        .to_string()
                })
            })
            .collect();
        for task in batch {
            guests.push(task.await.expect("a GetId task"));
        }
    }
    guests
}

/// The ES256 server's set-up: only what GetOpenIdToken needs, a pool
/// allowing guests and GUESTS guests of it (no roles: the operation
/// resolves none).
async fn set_up_guests(addr: SocketAddr, signer: &Signer) -> Vec<String> {
    let pool = client::cognito(
        addr,
        signer,
        "CreateIdentityPool",
        &json!({"IdentityPoolName": "bench-es256", "AllowUnauthenticatedIdentities": true}),
        true,
    )
    .await
    .expect("CreateIdentityPool");
    let pool_id = pool["IdentityPoolId"].as_str().expect("a pool id");
    new_guests(addr, signer, pool_id).await
}

/// Cognito tokens of 16 guests (for AssumeRoleWithWebIdentity); they
/// last 15 minutes, so a long run fetches new ones before using them.
async fn guest_tokens(addr: SocketAddr, signer: &Signer, guests: &[String]) -> Vec<String> {
    let mut tokens = Vec::new();
    for guest in guests.iter().take(16) {
        let answer = client::cognito(
            addr,
            signer,
            "GetOpenIdToken",
            &json!({"IdentityId": guest}),
            false,
        )
        .await
        .expect("GetOpenIdToken");
        tokens.push(answer["Token"].as_str().expect("a token").to_string());
    }
    tokens
}

const ASSUME_ROLE: &str = "AssumeRoleWithWebIdentity";
const OPEN_ID_TOKEN: &str = "GetOpenIdToken (guest)";
const OPEN_ID_TOKEN_ES256: &str = "GetOpenIdToken (ES256)";
const GET_CREDENTIALS_GUEST: &str = "GetCredentialsForIdentity (guest)";
const DESCRIBE_POOL_SIGNED: &str = "DescribeIdentityPool (SigV4)";
const FORWARD_DECISION: &str = "forward-auth decision (allowed)";
const NGINX_PLAIN: &str = "nginx -> baseline (no auth)";
const NGINX_FORWARD: &str = "nginx + forward-auth -> baseline";
/// The API forward-auth decides for in the bench.
const FORWARD_API: &str = "[[apis]]\nid = \"benchapi01\"\nstage = \"prod\"\n";
const FORWARD_RESOURCE: &str = "arn:aws:execute-api:us-east-1:000000000000:benchapi01/prod/POST/";

/// The forward-auth lines: a guest's credentials allowed to invoke
/// `POST /`, and nginx in front of the baseline with and without asking.
struct ForwardLines {
    signer: client::ApiSigner,
    plain: cognate_testkit::Proxy,
    forward: cognate_testkit::Proxy,
}

impl ForwardLines {
    async fn set_up(
        cognate: SocketAddr,
        baseline: SocketAddr,
        signer: &Signer,
        f: &Fixture,
    ) -> Option<ForwardLines> {
        let role = f.unauth_role.rsplit('/').next().expect("a role name");
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": FORWARD_RESOURCE}]});
        client::query(
            cognate,
            signer,
            "iam",
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", role),
                ("PolicyName", "invoke"),
                ("PolicyDocument", &policy.to_string()),
            ],
        )
        .await
        .expect("PutRolePolicy");
        let answer = client::cognito(
            cognate,
            signer,
            "GetCredentialsForIdentity",
            &json!({"IdentityId": f.guests[0]}),
            false,
        )
        .await
        .expect("GetCredentialsForIdentity");
        let c = &answer["Credentials"];
        let text = |k: &str| c[k].as_str().expect("a credential").to_string();
        let api_signer = client::ApiSigner::new(
            &text("AccessKeyId"),
            &text("SecretKey"),
            &text("SessionToken"),
        );
        let upstream = baseline.to_string();
        let kind = cognate_testkit::ProxyKind::Nginx;
        let forward = cognate_testkit::Proxy::start(kind, &cognate.to_string(), &upstream)?;
        let plain = cognate_testkit::Proxy::start_plain_nginx(&upstream)?;
        Some(ForwardLines {
            signer: api_signer,
            plain,
            forward,
        })
    }

    fn scenarios(&self, cognate: SocketAddr) -> Vec<Scenario> {
        let signed = |host: String| {
            Arc::new(client::SignedOnce::new(
                self.signer.clone(),
                "POST",
                host,
                "/",
            ))
        };
        let api = signed("api.bench".into());
        let decision: MakeRequest = Arc::new(move |_| {
            let mut builder = http::Request::builder()
                .method("GET")
                .uri("/authz/forward")
                .header("host", cognate.to_string())
                .header("x-forwarded-method", "POST")
                .header("x-forwarded-uri", "/")
                .header("x-forwarded-host", "api.bench");
            for (name, value) in api.headers() {
                builder = builder.header(name, value);
            }
            builder
                .body(Full::new(Bytes::new()))
                .expect("a valid request")
        });
        let through = |addr: SocketAddr, sign: bool| -> MakeRequest {
            let api = sign.then(|| signed(addr.to_string()));
            Arc::new(move |_| {
                let host = addr.to_string();
                let mut builder = http::Request::builder()
                    .method("POST")
                    .uri("/")
                    .header("host", &host)
                    .header("content-length", "0");
                for (name, value) in api.iter().flat_map(|api| api.headers()) {
                    builder = builder.header(name, value);
                }
                builder
                    .body(Full::new(Bytes::new()))
                    .expect("a valid request")
            })
        };
        vec![
            Scenario {
                name: FORWARD_DECISION,
                addr: cognate,
                make: decision,
                ceiling: Ceiling::None,
            },
            Scenario {
                name: NGINX_PLAIN,
                addr: self.plain.addr,
                make: through(self.plain.addr, false),
                ceiling: Ceiling::None,
            },
            Scenario {
                name: NGINX_FORWARD,
                addr: self.forward.addr,
                make: through(self.forward.addr, true),
                ceiling: Ceiling::None,
            },
        ]
    }
}

struct Scenario {
    name: &'static str,
    addr: SocketAddr,
    make: MakeRequest,
    ceiling: Ceiling,
}

fn json_bodies(values: impl IntoIterator<Item = Value>) -> Vec<Bytes> {
    values
        .into_iter()
        .map(|v| Bytes::from(v.to_string()))
        .collect()
}

fn cognito_call(signer: &Signer, operation: &str, bodies: Vec<Bytes>, signed: bool) -> MakeRequest {
    rotating(
        signer.clone(),
        Some(format!("AWSCognitoIdentityService.{operation}")),
        JSON_CONTENT_TYPE,
        bodies,
        signed.then_some("cognito-identity"),
    )
}

fn scenarios(
    baseline: SocketAddr,
    cognate: SocketAddr,
    signer: &Signer,
    f: &Fixture,
) -> Vec<Scenario> {
    let guests = || f.guests.iter().map(|g| json!({"IdentityId": g}));
    let baseline_signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, baseline);
    vec![
        Scenario {
            name: "baseline (axum, fixed 200 B)",
            addr: baseline,
            make: rotating(
                baseline_signer,
                Some("AWSCognitoIdentityService.GetId".into()),
                JSON_CONTENT_TYPE,
                json_bodies([json!({"IdentityPoolId": f.pool_id})]),
                None,
            ),
            ceiling: Ceiling::None,
        },
        Scenario {
            name: "GetId (new guest)",
            addr: cognate,
            make: cognito_call(
                signer,
                "GetId",
                json_bodies([json!({"IdentityPoolId": f.pool_id})]),
                false,
            ),
            ceiling: Ceiling::Commit,
        },
        Scenario {
            name: "GetId (known OIDC login)",
            addr: cognate,
            make: cognito_call(
                signer,
                "GetId",
                json_bodies([json!({
                    "IdentityPoolId": f.pool_id,
                    "Logins": {&f.login_key: &f.login_token},
                })]),
                false,
            ),
            ceiling: Ceiling::None,
        },
        Scenario {
            name: GET_CREDENTIALS_GUEST,
            addr: cognate,
            make: cognito_call(
                signer,
                "GetCredentialsForIdentity",
                json_bodies(guests()),
                false,
            ),
            ceiling: Ceiling::None,
        },
        Scenario {
            name: "GetCredentialsForIdentity (OIDC)",
            addr: cognate,
            make: cognito_call(
                signer,
                "GetCredentialsForIdentity",
                json_bodies([json!({
                    "IdentityId": f.login_identity,
                    "Logins": {&f.login_key: &f.login_token},
                })]),
                false,
            ),
            ceiling: Ceiling::None,
        },
        Scenario {
            name: OPEN_ID_TOKEN,
            addr: cognate,
            make: cognito_call(signer, "GetOpenIdToken", json_bodies(guests()), false),
            ceiling: Ceiling::Rs512,
        },
        Scenario {
            name: "GetOpenIdTokenForDeveloperIdentity",
            addr: cognate,
            make: cognito_call(
                signer,
                "GetOpenIdTokenForDeveloperIdentity",
                json_bodies((0..256).map(|i| {
                    json!({
                        "IdentityPoolId": f.pool_id,
                        "Logins": {DEVELOPER_PROVIDER: format!("dev-user-{i}")},
                    })
                })),
                true,
            ),
            ceiling: Ceiling::Rs512,
        },
        Scenario {
            name: ASSUME_ROLE,
            addr: cognate,
            make: rotating(
                signer.clone(),
                None,
                FORM_CONTENT_TYPE,
                f.guest_tokens
                    .iter()
                    .map(|token| {
                        Bytes::from(form(&[
                            ("Action", "AssumeRoleWithWebIdentity"),
                            ("Version", "2011-06-15"),
                            ("RoleArn", &f.unauth_role),
                            ("RoleSessionName", "bench"),
                            ("WebIdentityToken", token),
                        ]))
                    })
                    .collect(),
                None,
            ),
            ceiling: Ceiling::Rs512,
        },
        Scenario {
            name: DESCRIBE_POOL_SIGNED,
            addr: cognate,
            make: cognito_call(
                signer,
                "DescribeIdentityPool",
                json_bodies([json!({"IdentityPoolId": f.pool_id})]),
                true,
            ),
            ceiling: Ceiling::None,
        },
    ]
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn print_memory(label: &str, server: &ChildServer) {
    match server.memory_kib() {
        Some((rss, hwm)) => println!(
            "  {:<9} pid {:<7} {label:<28} VmRSS {:>7.1} MiB (peak {:.1} MiB)",
            server.name,
            server.pid(),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        ),
        None => println!("  {} {label}: /proc unavailable", server.name),
    }
}

/// The first three fields of /proc/loadavg: how busy the machine is
/// with other work (2 cores here; anything above 0 competes with the run).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU seconds over wall seconds, as a percentage of one core.
fn percent_busy(cpu: Option<f64>, seconds: f64) -> String {
    cpu.map_or("?".into(), |cpu| format!("{:.0}%", cpu * 100.0 / seconds))
}

fn print_sqlite(c: &ceilings::SqliteCeiling) {
    println!(
        "  SQLite (WAL, synchronous=FULL), {:<12} {:<10} {:>6.0} commits/s of one row, {:>6.0} rows/s in 64-row commits",
        c.when,
        if c.busy { "busy CPUs" } else { "idle CPUs" },
        c.commits,
        c.batched_rows
    );
}

async fn run(args: RunArgs) {
    let quick = args.quick;
    let duration = secs(args.duration.unwrap_or(if quick { 2.0 } else { 5.0 }));
    let warmup = secs(args.warmup.unwrap_or(if quick { 0.25 } else { 1.0 }));
    let ceiling_time = secs(if quick { 0.5 } else { 1.0 });
    let levels = if !args.concurrency.is_empty() {
        args.concurrency.clone()
    } else if quick {
        vec![16]
    } else {
        vec![16, 64]
    };
    let paired_rounds = args.paired_rounds.unwrap_or(if quick { 2 } else { 5 });
    let fill_count = args
        .fill_count
        .unwrap_or(if quick { 10_000 } else { 100_000 });

    let tmp = match &args.tmp_dir {
        Some(dir) => tempfile::Builder::new()
            .prefix("cognate-bench-")
            .tempdir_in(dir),
        None => tempfile::Builder::new().prefix("cognate-bench-").tempdir(),
    }
    .expect("a temporary directory");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("the data directory");

    println!("cognate-bench");
    println!("  load average at the start: {}", load_average());
    println!(
        "  machine: {} cores; data directory {} (deleted afterwards)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        data_dir.display()
    );
    println!(
        "  {} s measured after {} s warm-up per line; concurrency {:?}; closed loop, keep-alive HTTP/1.1",
        duration.as_secs_f64(),
        warmup.as_secs_f64(),
        levels
    );
    println!(
        "  client: {} threads, an event loop each; scheduling {:?} (--client-scheduling)",
        load::CLIENT_THREADS,
        args.client_scheduling
    );
    match &args.server_bin {
        Some(bin) => println!("  server: {} serve (child process)", bin.display()),
        None => println!(
            "  server: this binary re-executed as `serve-cognate` (cognate::start, child process)"
        ),
    }

    let idp = OidcProvider::start().await;
    let baseline = children::start_baseline().await;
    let server_log = args
        .server_log
        .clone()
        .unwrap_or_else(|| tmp.path().join("cognate.log"));
    // Only a server that has the forward-auth lines to run is given an API
    // (older binaries, run with --server-bin, do not know the setting).
    let wants = |name: &str| {
        args.only.is_empty()
            || args
                .only
                .iter()
                .any(|o| name.to_lowercase().contains(&o.to_lowercase()))
    };
    let forward_wanted = [FORWARD_DECISION, NGINX_PLAIN, NGINX_FORWARD]
        .iter()
        .any(|name| wants(name));
    let cognate = children::start_cognate(
        "cognate",
        &data_dir,
        args.server_bin.as_ref(),
        &server_log,
        "RS512",
        if forward_wanted { FORWARD_API } else { "" },
    )
    .await;
    // A second cognate with ES256 signing keys, for its GetOpenIdToken
    // line; started only if that line is selected.
    let es256_server = if wants(OPEN_ID_TOKEN_ES256) {
        let dir = tmp.path().join("data-es256");
        std::fs::create_dir_all(&dir).expect("the ES256 data directory");
        Some(
            children::start_cognate(
                "cognate-es256",
                &dir,
                args.server_bin.as_ref(),
                &tmp.path().join("cognate-es256.log"),
                "ES256",
                "",
            )
            .await,
        )
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("\nmemory");
    print_memory("idle after start", &cognate);
    if let Some(es256) = &es256_server {
        print_memory("idle after start", es256);
    }
    print_memory("idle after start", &baseline);

    println!("\nceilings (same run, same disk as the data directory)");
    let mut ceilings = ceilings::measure(tmp.path(), ceiling_time).await;
    println!(
        "  RS512 signing (aws-lc-rs RSA-2048 PKCS#1 SHA-512, 2 threads): {:>9.0} signatures/s",
        ceilings.rs512()
    );
    println!(
        "  RS512 verification (same key, 2 threads):                     {:>9.0} verifications/s",
        ceilings.rs512_verify
    );
    println!(
        "  ES256 signing (aws-lc-rs P-256, 2 threads):                   {:>9.0} signatures/s",
        ceilings.es256
    );
    for c in &ceilings.sqlite {
        print_sqlite(c);
    }

    let signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, cognate.addr);
    let setup_started = Instant::now();
    let mut fixture = set_up(cognate.addr, &signer, &idp).await;
    println!(
        "\nset-up: pool {}, {} guests, one OIDC login, developer provider {DEVELOPER_PROVIDER} ({:.1} s)",
        fixture.pool_id,
        fixture.guests.len(),
        setup_started.elapsed().as_secs_f64()
    );
    print_memory("after set-up", &cognate);

    let mut all = scenarios(baseline.addr, cognate.addr, &signer, &fixture);
    if let Some(es256) = &es256_server {
        let es256_signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, es256.addr);
        let guests = set_up_guests(es256.addr, &es256_signer).await;
        println!(
            "set-up ({}): a guest pool, {} guests",
            es256.name,
            guests.len()
        );
        let line = Scenario {
            name: OPEN_ID_TOKEN_ES256,
            addr: es256.addr,
            make: cognito_call(
                &es256_signer,
                "GetOpenIdToken",
                json_bodies(guests.iter().map(|g| json!({"IdentityId": g}))),
                false,
            ),
            ceiling: Ceiling::Es256,
        };
        // Right after its RS512 twin, so the two are measured close in time.
        let at = all
            .iter()
            .position(|s| s.name == OPEN_ID_TOKEN)
            .map_or(all.len(), |i| i + 1);
        all.insert(at, line);
    }
    let forward_lines = if forward_wanted {
        let lines = ForwardLines::set_up(cognate.addr, baseline.addr, &signer, &fixture).await;
        match &lines {
            Some(lines) => all.extend(lines.scenarios(cognate.addr)),
            None => println!("forward-auth lines: nginx is not installed; skipped"),
        }
        lines
    } else {
        None
    };
    all.retain(|s| s.name.starts_with("baseline") || wants(s.name));

    println!("\nprobes (one request each)");
    for s in &all {
        let (status, body) = client::send_once(s.addr, (s.make)(0))
            .await
            .unwrap_or((0, "no answer".into()));
        let summary: String = body.chars().take(110).collect();
        println!("  {:<36} HTTP {status} {summary}", s.name);
    }

    println!("\nload");
    let mut rows = Vec::new();
    let first_rs512 = all.iter().position(|s| s.ceiling == Ceiling::Rs512);
    let last_rs512 = all.iter().rposition(|s| s.ceiling == Ceiling::Rs512);
    for (index, s) in all.iter().enumerate() {
        if Some(index) == first_rs512 {
            let v = ceilings::measure_rs512(ceiling_time).await;
            println!("  RS512 signing, before the signing operations: {v:.0} signatures/s");
            ceilings.rs512_runs.push(("before", v));
        }
        let refreshed;
        let s = if s.name == ASSUME_ROLE {
            fixture.guest_tokens = guest_tokens(cognate.addr, &signer, &fixture.guests).await;
            refreshed = scenarios(baseline.addr, cognate.addr, &signer, &fixture)
                .into_iter()
                .find(|r| r.name == ASSUME_ROLE)
                .expect("the AssumeRoleWithWebIdentity scenario");
            &refreshed
        } else {
            s
        };
        if s.ceiling == Ceiling::Commit {
            let c = ceilings::measure_sqlite(tmp.path(), ceiling_time, "before GetId", true).await;
            print_sqlite(&c);
            ceilings.sqlite.push(c);
        }
        for &c in &levels {
            let proxy = forward_lines.as_ref().and_then(|l| {
                [&l.plain, &l.forward]
                    .into_iter()
                    .find(|p| p.addr == s.addr)
                    .map(|p| p.pid())
            });
            let pid = match &es256_server {
                _ if proxy.is_some() => proxy.unwrap_or_default(),
                _ if s.addr == baseline.addr => baseline.pid(),
                Some(es256) if s.addr == es256.addr => es256.pid(),
                _ => cognate.pid(),
            };
            let outcome = load::run(
                s.addr,
                s.make.clone(),
                c,
                warmup,
                duration,
                pid,
                args.client_scheduling,
            )
            .await;
            println!(
                "  {:<36} c={c:<3} {:>9.0} req/s  {} errors  server CPU {}  client CPU {}",
                s.name,
                outcome.rate(),
                outcome.error_count(),
                percent_busy(outcome.server_cpu, outcome.seconds),
                percent_busy(outcome.client_cpu, outcome.seconds),
            );
            rows.push(Row {
                name: s.name,
                concurrency: c,
                ceiling: s.ceiling,
                is_baseline: s.name.starts_with("baseline"),
                outcome,
            });
        }
        if s.ceiling == Ceiling::Commit {
            let c = ceilings::measure_sqlite(tmp.path(), ceiling_time, "after GetId", true).await;
            print_sqlite(&c);
            ceilings.sqlite.push(c);
        }
        if Some(index) == last_rs512 {
            let v = ceilings::measure_rs512(ceiling_time).await;
            println!("  RS512 signing, after the signing operations: {v:.0} signatures/s");
            ceilings.rs512_runs.push(("after", v));
        }
    }

    let baseline_line = all
        .iter()
        .find(|s| s.name.starts_with("baseline"))
        .expect("the baseline line");
    let paired_lines: Vec<paired::PairedLine> = [
        (GET_CREDENTIALS_GUEST, 0.5, Some(2.0), &[64][..]),
        (OPEN_ID_TOKEN_ES256, 0.3, None, &[16, 64][..]),
        (OPEN_ID_TOKEN, 0.8, None, &[16, 64][..]),
        // No target: a signed call's cost, watched for changes (SigV4 and
        // authorization on every signed request).
        (DESCRIBE_POOL_SIGNED, 0.0, None, &[][..]),
        (FORWARD_DECISION, 0.5, None, &[64][..]),
        (NGINX_FORWARD, 0.5, None, &[64][..]),
    ]
    .into_iter()
    .filter_map(|(name, rate, p99, target_levels)| {
        let s = all.iter().find(|s| s.name == name)?;
        let pid = match &es256_server {
            Some(es256) if s.addr == es256.addr => es256.pid(),
            _ => cognate.pid(),
        };
        // Through nginx is held to nginx proxying without asking.
        if let Some(lines) = forward_lines.as_ref().filter(|_| name == NGINX_FORWARD) {
            let plain = all.iter().find(|p| p.name == NGINX_PLAIN)?;
            return Some(paired::PairedLine {
                name: s.name,
                addr: s.addr,
                make: s.make.clone(),
                pid: lines.forward.pid(),
                reference: paired::Reference::Line {
                    name: NGINX_PLAIN,
                    addr: plain.addr,
                    make: plain.make.clone(),
                    pid: lines.plain.pid(),
                },
                target: paired::Target { rate, p99 },
                target_levels,
            });
        }
        Some(paired::PairedLine {
            name: s.name,
            addr: s.addr,
            make: s.make.clone(),
            pid,
            reference: if s.ceiling == Ceiling::Rs512 {
                paired::Reference::Rs512Signing
            } else {
                paired::Reference::Baseline {
                    addr: baseline_line.addr,
                    make: baseline_line.make.clone(),
                    pid: baseline.pid(),
                }
            },
            target: paired::Target { rate, p99 },
            target_levels,
        })
    })
    .collect();
    let slicing = paired::Slicing {
        rounds: paired_rounds,
        slice: secs(if quick { 0.5 } else { 1.0 }),
        warmup: secs(if quick { 0.1 } else { 0.2 }),
        scheduling: args.client_scheduling,
    };
    let paired_results = if paired_rounds > 0 && !paired_lines.is_empty() {
        println!("\npaired (each target line alternating with its reference)");
        paired::measure(&paired_lines, &levels, &slicing).await
    } else {
        Vec::new()
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    println!("\nload average at the end: {}", load_average());
    println!("\nmemory");
    print_memory("after the load", &cognate);
    if let Some(es256) = &es256_server {
        print_memory("after the load", es256);
    }
    print_memory("after the load", &baseline);

    println!();
    report::print_table(&rows, &ceilings);
    report::print_es256_summary(&rows, &ceilings, OPEN_ID_TOKEN_ES256, OPEN_ID_TOKEN);
    report::print_errors(&rows);
    paired::print_table(&paired_results, &slicing);

    if fill_count > 0 {
        // The server is idle now; `fill` opens the same database beside it.
        match fill::fill(
            &data_dir,
            &fixture.pool_id,
            fill_count,
            100_000,
            false,
            false,
        )
        .await
        {
            Ok(r) => println!(
                "\nfill: {} identities in {:.2} s (100,000 per transaction): {:.0} rows/s",
                r.rows,
                r.seconds,
                r.rate()
            ),
            Err(e) => println!("\nfill: {e}"),
        }
    }

    cognate.stop();
    if let Some(es256) = es256_server {
        es256.stop();
    }
    baseline.stop();
    let log_lines = std::fs::read_to_string(&server_log)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    println!(
        "server log: {log_lines} lines at COGNATE_LOG={} (to a file; `cognate serve` logs to stdout)",
        std::env::var("COGNATE_LOG").unwrap_or_else(|_| "info,cognate::audit=off (default)".into())
    );
    drop(idp);
}
