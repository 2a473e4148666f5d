//! `cognate-bench postgres`: cognate on PostgreSQL beside cognate on its
//! embedded SQLite, in one run, with PostgreSQL's own ceilings measured on
//! the same server (issue 21): `pgbench -S` and the durable single-row
//! commit rate.
//!
//! The bench starts its own PostgreSQL (initdb in a temporary directory,
//! fsync and synchronous_commit on: the durable setup), a fresh database
//! for cognate and one for pgbench, and two cognate children: one on the
//! embedded store, one with `COGNATE_DATABASE_URL` naming the PostgreSQL
//! database. At the end a third cognate, on the same database through a
//! counting proxy (`pgwire`), answers a few hundred requests of each
//! operation one at a time, to count the round trips, transactions and
//! statements each costs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use cognate_testkit::OidcProvider;
use serde_json::json;

use crate::children::{self, ADMIN_KEY_ID, ADMIN_SECRET, ChildConfig, ChildServer};
use crate::client::Signer;
use crate::load::{self, MakeRequest, Outcome};
use crate::paired::{self, PairedLine, Reference, Target};
use crate::pgwire::{CountingProxy, Counts};
use crate::{Fixture, cognito_call, json_bodies, load_average, print_memory, secs, set_up};

#[derive(Args)]
pub struct PostgresArgs {
    /// Seconds measured per line.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of unmeasured warm-up before each line.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Concurrency levels (connections) [default: 64, where the issue
    /// sets its targets].
    #[arg(long, value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Rounds of the paired measurements (each PostgreSQL line alternating
    /// with its reference in 1-second slices; 0: skip).
    #[arg(long, default_value_t = 5)]
    paired_rounds: u32,
    /// `max_connections` of the cognate child on PostgreSQL (its pool).
    #[arg(long, default_value_t = 16)]
    max_connections: u32,
    /// PostgreSQL's binaries [default: the newest /usr/lib/postgresql/*/bin].
    #[arg(long)]
    pg_bin: Option<PathBuf>,
    /// `pgbench -i` scale (100,000 accounts per unit).
    #[arg(long, default_value_t = 10)]
    pgbench_scale: u32,
    /// Requests of each operation sent one at a time through the counting
    /// proxy, to count round trips, transactions and statements (0: skip).
    #[arg(long, default_value_t = 200)]
    probe_requests: u64,
    /// Where the temporary directories (both databases) are made
    /// [default: the system temp dir].
    #[arg(long)]
    tmp_dir: Option<PathBuf>,
    /// Run this `cognate` binary instead of re-executing this one.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// How the load generator's threads are scheduled.
    #[arg(long, value_enum, default_value_t = load::ClientScheduling::Batch)]
    client_scheduling: load::ClientScheduling,
}

/// The clients of the ceilings, as of the load: the 64.
const PGBENCH_CLIENTS: usize = 64;
/// Slices a ceiling is measured in (1 s each); the best counts.
const CEILING_SLICES: u32 = 3;

const GCFI: &str = "GetCredentialsForIdentity (guest)";
const GET_ID: &str = "GetId (new guest)";
const OPEN_ID: &str = "GetOpenIdToken (RS512)";
const OPERATIONS: [&str; 3] = [GCFI, GET_ID, OPEN_ID];

/// A throwaway PostgreSQL server in a temporary directory; stopped
/// (immediate mode) and deleted when dropped.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as when the bench runs as root
    /// (PostgreSQL refuses root), as `scripts/pg-test-server` does.
    user: Option<String>,
    pub port: u16,
    pub version: String,
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|rest| rest.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

fn newest_pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .expect("PostgreSQL binaries in /usr/lib/postgresql/*/bin (or --pg-bin)")
}

fn check(output: std::io::Result<std::process::Output>, what: &str) -> String {
    let output = output.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl PgServer {
    /// initdb, the durable settings, and start; waits until it answers.
    pub fn start(bin: PathBuf, parent: &Path) -> PgServer {
        let user = running_as_root().then(|| {
            let exists = |name: &str| {
                Command::new("id")
                    .args(["-u", name])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if exists("postgres") {
                return "postgres".to_string();
            }
            if !exists("cognate-pg") {
                check(
                    Command::new("useradd")
                        .args(["--system", "--no-create-home", "--shell"])
                        .args(["/usr/sbin/nologin", "cognate-pg"])
                        .output(),
                    "useradd cognate-pg",
                );
            }
            "cognate-pg".to_string()
        });
        let dir = tempfile::Builder::new()
            .prefix("cognate-bench-pg-")
            .tempdir_in(parent)
            .expect("a temporary directory for PostgreSQL");
        if let Some(user) = &user {
            check(
                Command::new("chown").arg(user).arg(dir.path()).output(),
                "chown of the PostgreSQL directory",
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = PgServer {
            dir,
            bin,
            user,
            port,
            version: String::new(),
        };
        let data = server.data_dir();
        check(
            server
                .command("initdb")
                .arg("-D")
                .arg(&data)
                .args(["--username=cognate", "--auth=trust", "--encoding=UTF8"])
                .args(["--locale=C.UTF-8", "--no-sync"])
                .output(),
            "initdb",
        );
        // The durable setup: fsync, synchronous_commit and full_page_writes
        // on (PostgreSQL's defaults, stated so no one copies the test
        // server's settings into a benchmark). Connections for pgbench's 64
        // clients beside cognate's pool.
        let settings = format!(
            "# Written by cognate-bench postgres: durable settings.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             fsync = on\n\
             synchronous_commit = on\n\
             full_page_writes = on\n",
            server.dir.path().display()
        );
        std::fs::write(data.join("postgresql.auto.conf"), settings)
            .expect("the PostgreSQL settings");
        if let Some(user) = &server.user {
            check(
                Command::new("chown")
                    .arg("-R")
                    .arg(user)
                    .arg(server.dir.path())
                    .output(),
                "chown of the PostgreSQL directory",
            );
        }
        check(
            server
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "start"])
                .output(),
            "pg_ctl start",
        );
        server.version = server.psql("postgres", "SHOW server_version");
        for db in ["cognate", "pgbench"] {
            server.psql("postgres", &format!("CREATE DATABASE {db}"));
        }
        server
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A PostgreSQL program, as the server's user when running as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The URL of database `db` at `addr` (the server, or a proxy to it).
    pub fn url_via(addr: SocketAddr, db: &str) -> String {
        format!("postgres://cognate@{addr}/{db}?sslmode=disable")
    }

    /// Runs `sql` with psql; the unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        check(
            Command::new(self.bin.join("psql"))
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
                .arg("-p")
                .arg(self.port.to_string())
                .args(["-U", "cognate", "-d", db, "-c", sql])
                .output(),
            "psql",
        )
        .trim()
        .to_string()
    }

    fn pgbench(&self) -> Command {
        let mut c = Command::new(self.bin.join("pgbench"));
        c.args(["-h", "127.0.0.1", "-U", "cognate"])
            .arg("-p")
            .arg(self.port.to_string());
        c
    }

    /// The postmaster's pid, from its pid file.
    fn postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// CPU seconds the whole server has used: the postmaster (with its
    /// reaped children) and every process it forked that still runs.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let postmaster = self.postmaster()?;
        let own = |pid: u32| -> Option<(u32, f64)> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ppid: u32 = fields.get(1)?.parse().ok()?;
            let ticks: Vec<f64> = fields
                .get(11..15)?
                .iter()
                .filter_map(|f| f.parse().ok())
                .collect();
            // utime, stime, cutime, cstime
            Some((ppid, ticks.iter().sum::<f64>() / 100.0))
        };
        let mut total = own(postmaster)?.1;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, seconds)) = own(pid).filter(|(ppid, _)| *ppid == postmaster) {
                let _ = ppid;
                total += seconds;
            }
        }
        Some(total)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The table the commit ceiling writes to: cognate's `identities`.
const COMMIT_TABLE: &str = "CREATE TABLE identities (
    id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, pool_id TEXT NOT NULL,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE, merged_into TEXT, version BIGINT NOT NULL);
CREATE INDEX identities_by_pool ON identities (pool_id, id);";

/// One row per transaction, shaped like a new guest (a time-ordered id
/// would be kinder to the index; at these table sizes it does not matter).
const COMMIT_SCRIPT: &str = "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version) \
VALUES ('us-east-1:' || gen_random_uuid(), 'us-east-1:0c6f9e1a-8b2d-4f3e-a7c5-1d9e2b3f4a5c', 1, 1, false, NULL, 1);\n";

/// What pgbench measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PgbenchLoad {
    /// `-S -M prepared`: one indexed SELECT per transaction.
    SelectOnly,
    /// One single-row INSERT per transaction (autocommit), `clients` at once.
    Commit { clients: usize },
}

impl PgbenchLoad {
    fn label(self) -> String {
        match self {
            PgbenchLoad::SelectOnly => format!("pgbench -S -M prepared, {PGBENCH_CLIENTS} clients"),
            PgbenchLoad::Commit { clients } => {
                if clients == 1 {
                    "single-row INSERT commits, 1 client, busy CPUs".to_string()
                } else {
                    format!("single-row INSERT commits, {clients} clients")
                }
            }
        }
    }
}

struct Pgbench {
    port: u16,
    bin: PathBuf,
    script: PathBuf,
}

impl Pgbench {
    /// Transactions per second over `seconds` (whole seconds, at least
    /// 1), pgbench's figure without its connection set-up.
    fn tps(&self, what: PgbenchLoad, seconds: u64) -> f64 {
        // One client's commits are measured with both cores kept busy (by
        // threads yielding to any other), as under load: on this VM an idle
        // vCPU wakes up late for I/O completions, and a lone committer
        // looks several times slower than it is for a busy server (as for
        // the SQLite ceiling, docs/benchmarks.md).
        let _busy = matches!(what, PgbenchLoad::Commit { clients: 1 }).then(Spinners::start);
        let mut c = Command::new(self.bin.join("pgbench"));
        c.args(["-h", "127.0.0.1", "-U", "cognate", "-n", "-M", "prepared"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-T")
            .arg(seconds.max(1).to_string());
        let clients = match what {
            PgbenchLoad::SelectOnly => {
                c.arg("-S");
                PGBENCH_CLIENTS
            }
            PgbenchLoad::Commit { clients } => {
                c.arg("-f").arg(&self.script);
                clients
            }
        };
        c.arg("-c")
            .arg(clients.to_string())
            .arg("-j")
            .arg(clients.min(2).to_string())
            .arg("pgbench");
        let out = check(c.output(), "pgbench");
        out.lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no tps in pgbench's output: {out}"))
    }

    async fn tps_async(self: &Arc<Self>, what: PgbenchLoad, seconds: u64) -> f64 {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.tps(what, seconds))
            .await
            .expect("pgbench")
    }

    /// The best of CEILING_SLICES one-second runs.
    async fn best(self: &Arc<Self>, what: PgbenchLoad) -> f64 {
        let mut best: f64 = 0.0;
        for _ in 0..CEILING_SLICES {
            best = best.max(self.tps_async(what, 1).await);
        }
        best
    }
}

/// Two threads keeping the cores busy while giving way to any runnable
/// thread; stopped when dropped.
struct Spinners {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Spinners {
    fn start() -> Spinners {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        Spinners { stop, threads }
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The ceilings, each measured at the start and after the load lines.
#[derive(Default)]
struct PgCeilings {
    runs: Vec<(&'static str, [f64; 3])>,
}

const SELECT_ONLY: usize = 0;
const COMMIT_1: usize = 1;
const COMMIT_64: usize = 2;
const LOADS: [PgbenchLoad; 3] = [
    PgbenchLoad::SelectOnly,
    PgbenchLoad::Commit { clients: 1 },
    PgbenchLoad::Commit {
        clients: PGBENCH_CLIENTS,
    },
];

impl PgCeilings {
    async fn measure(&mut self, pgbench: &Arc<Pgbench>, when: &'static str) {
        let mut values = [0.0; 3];
        for (i, what) in LOADS.iter().enumerate() {
            values[i] = pgbench.best(*what).await;
            println!("  {:<48} {when:<16} {:>9.0} tps", what.label(), values[i]);
        }
        self.runs.push((when, values));
    }

    fn best(&self, i: usize) -> f64 {
        self.runs.iter().map(|r| r.1[i]).fold(f64::NAN, f64::max)
    }
}

/// One engine's cognate and its three lines.
struct Engine {
    name: &'static str,
    server: ChildServer,
    lines: Vec<(&'static str, MakeRequest)>,
}

fn lines(signer: &Signer, f: &Fixture) -> Vec<(&'static str, MakeRequest)> {
    let guests = || json_bodies(f.guests.iter().map(|g| json!({"IdentityId": g})));
    vec![
        (
            GCFI,
            cognito_call(signer, "GetCredentialsForIdentity", guests(), false),
        ),
        (
            GET_ID,
            cognito_call(
                signer,
                "GetId",
                json_bodies([json!({"IdentityPoolId": f.pool_id})]),
                false,
            ),
        ),
        (
            OPEN_ID,
            cognito_call(signer, "GetOpenIdToken", guests(), false),
        ),
    ]
}

struct Measured {
    engine: &'static str,
    operation: &'static str,
    concurrency: usize,
    outcome: Outcome,
    /// CPU seconds PostgreSQL used in the measured window.
    pg_cpu: Option<f64>,
}

pub async fn run(args: PostgresArgs) {
    let duration = secs(args.duration);
    let warmup = secs(args.warmup);
    let levels = if args.concurrency.is_empty() {
        vec![64]
    } else {
        args.concurrency.clone()
    };
    let parent = args.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("cognate-bench-")
        .tempdir_in(&parent)
        .expect("a temporary directory");

    println!("cognate-bench postgres");
    println!("  load average at the start: {}", load_average());
    let bin = args.pg_bin.clone().unwrap_or_else(newest_pg_bin);
    let started = Instant::now();
    let pg = PgServer::start(bin.clone(), &parent);
    println!(
        "  PostgreSQL {} ({}), port {}, data in {} (deleted afterwards): fsync=on, synchronous_commit=on, full_page_writes=on, max_connections=200, other settings default (shared_buffers {}), started in {:.1} s",
        pg.version,
        bin.display(),
        pg.port,
        pg.dir.path().display(),
        pg.psql("postgres", "SHOW shared_buffers"),
        started.elapsed().as_secs_f64()
    );
    println!(
        "  machine: {} cores; SQLite data directory in {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        tmp.path().display()
    );
    println!(
        "  {} s measured after {} s warm-up per line; concurrency {:?}; closed loop, keep-alive HTTP/1.1; client scheduling {:?}",
        duration.as_secs_f64(),
        warmup.as_secs_f64(),
        levels,
        args.client_scheduling
    );
    println!(
        "  cognate on PostgreSQL: max_connections = {} (its pool); cognate on SQLite: the default (8 readers)",
        args.max_connections
    );

    // pgbench's tables and the commit ceiling's table, in their own database.
    let init = Instant::now();
    check(
        pg.pgbench()
            .args(["-i", "-q", "-s"])
            .arg(args.pgbench_scale.to_string())
            .arg("pgbench")
            .output(),
        "pgbench -i",
    );
    pg.psql("pgbench", COMMIT_TABLE);
    let script = pg.dir.path().join("commit.sql");
    std::fs::write(&script, COMMIT_SCRIPT).expect("the commit script");
    let pgbench = Arc::new(Pgbench {
        port: pg.port,
        bin: bin.clone(),
        script,
    });
    println!(
        "  pgbench -i -s {} in {:.1} s",
        args.pgbench_scale,
        init.elapsed().as_secs_f64()
    );

    println!(
        "\nceilings (same PostgreSQL server; best of {CEILING_SLICES} one-second pgbench runs, -M prepared)"
    );
    let mut ceilings = PgCeilings::default();
    ceilings.measure(&pgbench, "at the start").await;

    let idp = OidcProvider::start().await;
    let sqlite_dir = tmp.path().join("data-sqlite");
    let pg_dir = tmp.path().join("data-pg");
    for d in [&sqlite_dir, &pg_dir] {
        std::fs::create_dir_all(d).expect("a data directory");
    }
    let sqlite_server = children::start_cognate_with(
        "cognate-sqlite",
        &sqlite_dir,
        args.server_bin.as_ref(),
        &tmp.path().join("cognate-sqlite.log"),
        &ChildConfig::default(),
    )
    .await;
    let pg_url = PgServer::url_via(pg.addr(), "cognate");
    let top_level = format!("max_connections = {}\n", args.max_connections);
    let pg_server = children::start_cognate_with(
        "cognate-pg",
        &pg_dir,
        args.server_bin.as_ref(),
        &tmp.path().join("cognate-pg.log"),
        &ChildConfig {
            top_level: &top_level,
            database_url: Some(&pg_url),
            ..ChildConfig::default()
        },
    )
    .await;
    println!("\nmemory");
    print_memory("idle after start", &sqlite_server);
    print_memory("idle after start", &pg_server);

    let mut engines = Vec::new();
    let mut pg_fixture = None;
    for (name, server) in [("SQLite", sqlite_server), ("PostgreSQL", pg_server)] {
        let signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, server.addr);
        let t = Instant::now();
        let fixture = set_up(server.addr, &signer, &idp).await;
        println!(
            "set-up on {name}: pool {}, {} guests ({:.1} s)",
            fixture.pool_id,
            fixture.guests.len(),
            t.elapsed().as_secs_f64()
        );
        engines.push(Engine {
            name,
            lines: lines(&signer, &fixture),
            server,
        });
        if name == "PostgreSQL" {
            pg_fixture = Some(fixture);
        }
    }
    let pg_fixture = pg_fixture.expect("the PostgreSQL set-up");

    println!("\nprobes (one request each)");
    for e in &engines {
        for (op, make) in &e.lines {
            let (status, body) = crate::client::send_once(e.server.addr, make(0))
                .await
                .unwrap_or((0, "no answer".into()));
            let summary: String = body.chars().take(90).collect();
            println!("  {:<12} {op:<34} HTTP {status} {summary}", e.name);
        }
    }

    println!("\nload");
    let mut measured = Vec::new();
    for &c in &levels {
        for op in OPERATIONS {
            for e in &engines {
                let make = e
                    .lines
                    .iter()
                    .find(|l| l.0 == op)
                    .map(|l| l.1.clone())
                    .expect("the line");
                let start = Instant::now() + warmup;
                let pg_cpu = (e.name == "PostgreSQL").then(|| {
                    let cpu = |pg: &PgServer| pg.cpu_seconds();
                    (start, cpu(&pg))
                });
                let outcome = load::run(
                    e.server.addr,
                    make,
                    c,
                    warmup,
                    duration,
                    e.server.pid(),
                    args.client_scheduling,
                )
                .await;
                // The server's CPU from the start of the measured window
                // (sampled at the warm-up's start and scaled: close enough
                // for a steady load).
                let pg_cpu = pg_cpu.and_then(|(_, before)| {
                    let used = pg.cpu_seconds()? - before?;
                    Some(used * duration.as_secs_f64() / (duration + warmup).as_secs_f64())
                });
                println!(
                    "  {:<12} {op:<34} c={c:<3} {:>8.0} req/s  p99 {} ms  {} errors  cognate CPU {}{}",
                    e.name,
                    outcome.rate(),
                    ms(outcome.percentile_ms(0.99)),
                    outcome.error_count(),
                    per_request(outcome.server_cpu, &outcome),
                    pg_cpu.map_or(String::new(), |cpu| format!(
                        "  PostgreSQL CPU {}",
                        per_request(Some(cpu), &outcome)
                    )),
                );
                measured.push(Measured {
                    engine: e.name,
                    operation: op,
                    concurrency: c,
                    outcome,
                    pg_cpu,
                });
            }
        }
    }

    println!("\nceilings after the load lines");
    ceilings.measure(&pgbench, "after the load").await;

    let paired_results = if args.paired_rounds > 0 {
        println!("\npaired (each PostgreSQL line alternating with its reference)");
        let (sqlite, postgres) = (&engines[0], &engines[1]);
        let line = |e: &Engine, op: &str| {
            e.lines
                .iter()
                .find(|l| l.0 == op)
                .map(|l| l.1.clone())
                .expect("the line")
        };
        let rate = |what: PgbenchLoad| -> paired::MeasureRate {
            let pgbench = pgbench.clone();
            Arc::new(move |slice: Duration| {
                let pgbench = pgbench.clone();
                Box::pin(async move { pgbench.tps_async(what, slice.as_secs().max(1)).await })
            })
        };
        let at_64: &'static [usize] = &[64];
        let mut paired_lines = vec![
            PairedLine {
                name: GCFI,
                addr: postgres.server.addr,
                make: line(postgres, GCFI),
                pid: postgres.server.pid(),
                reference: Reference::Rate {
                    name: "pgbench -S (64 clients)",
                    measure: rate(PgbenchLoad::SelectOnly),
                },
                target: Target {
                    rate: 0.5,
                    p99: None,
                },
                target_levels: at_64,
            },
            PairedLine {
                name: GET_ID,
                addr: postgres.server.addr,
                make: line(postgres, GET_ID),
                pid: postgres.server.pid(),
                reference: Reference::Rate {
                    name: "single-row commits (1 client, busy CPUs)",
                    measure: rate(PgbenchLoad::Commit { clients: 1 }),
                },
                target: Target {
                    rate: 3.0,
                    p99: None,
                },
                target_levels: at_64,
            },
            PairedLine {
                name: GET_ID,
                addr: postgres.server.addr,
                make: line(postgres, GET_ID),
                pid: postgres.server.pid(),
                reference: Reference::Rate {
                    name: "single-row commits (64 clients)",
                    measure: rate(PgbenchLoad::Commit {
                        clients: PGBENCH_CLIENTS,
                    }),
                },
                target: Target {
                    rate: 0.0,
                    p99: None,
                },
                target_levels: &[],
            },
        ];
        for op in OPERATIONS {
            paired_lines.push(PairedLine {
                name: op,
                addr: postgres.server.addr,
                make: line(postgres, op),
                pid: postgres.server.pid(),
                reference: Reference::Line {
                    name: "the same on SQLite",
                    addr: sqlite.server.addr,
                    make: line(sqlite, op),
                    pid: sqlite.server.pid(),
                },
                target: Target {
                    rate: 0.0,
                    p99: Some(2.0),
                },
                target_levels: at_64,
            });
        }
        let slicing = paired::Slicing {
            rounds: args.paired_rounds,
            slice: secs(1.0),
            warmup: secs(0.2),
            scheduling: args.client_scheduling,
        };
        let results = paired::measure(&paired_lines, &levels, &slicing).await;
        Some((results, slicing))
    } else {
        None
    };

    println!("\nload average at the end: {}", load_average());
    println!("\nmemory");
    for e in &engines {
        print_memory("after the load", &e.server);
    }

    let probe = if args.probe_requests > 0 {
        Some(
            probe(
                &pg,
                // The same data directory: the master key the signing
                // keys in the database are sealed with is kept there.
                &pg_dir,
                args.server_bin.as_ref(),
                &tmp.path().join("cognate-probe.log"),
                &top_level,
                &pg_fixture,
                args.probe_requests,
            )
            .await,
        )
    } else {
        None
    };

    println!();
    print_table(&measured, &ceilings);
    if let Some((results, slicing)) = &paired_results {
        paired::print_table(results, slicing);
    }
    if let Some(probe) = &probe {
        print_probe(probe, args.probe_requests);
    }
    for e in engines {
        e.server.stop();
    }
    drop(idp);
    drop(pg);
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms < 10.0 => format!("{ms:.2}"),
        Some(ms) => format!("{ms:.1}"),
        None => "-".into(),
    }
}

fn per_request(cpu: Option<f64>, o: &Outcome) -> String {
    match cpu {
        Some(cpu) if o.successes > 0 => format!("{:.0} µs/req", cpu * 1e6 / o.successes as f64),
        _ => "?".into(),
    }
}

fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "-".into()
    }
}

fn print_table(measured: &[Measured], ceilings: &PgCeilings) {
    println!(
        "| operation | conc | SQLite req/s | SQLite p99 ms | PostgreSQL req/s | PostgreSQL p50 ms | PostgreSQL p99 ms | errors (PG) | cognate CPU µs/req (PG) | PostgreSQL CPU µs/req | PG / SQLite req/s | PG p99 / SQLite p99 | PG vs ceiling |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
    let find = |engine: &str, op: &str, c: usize| {
        measured
            .iter()
            .find(|m| m.engine == engine && m.operation == op && m.concurrency == c)
    };
    for m in measured.iter().filter(|m| m.engine == "PostgreSQL") {
        let Some(s) = find("SQLite", m.operation, m.concurrency) else {
            continue;
        };
        let (o, so) = (&m.outcome, &s.outcome);
        let vs_ceiling = match m.operation {
            GCFI => format!(
                "{} of pgbench -S",
                ratio(o.rate() / ceilings.best(SELECT_ONLY))
            ),
            GET_ID => format!(
                "{}x single-row commits (1 client, busy CPUs), {}x (64 clients)",
                ratio(o.rate() / ceilings.best(COMMIT_1)),
                ratio(o.rate() / ceilings.best(COMMIT_64))
            ),
            _ => String::new(),
        };
        println!(
            "| {} | {} | {:.0} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.operation,
            m.concurrency,
            so.rate(),
            ms(so.percentile_ms(0.99)),
            o.rate(),
            ms(o.percentile_ms(0.5)),
            ms(o.percentile_ms(0.99)),
            o.error_count(),
            o.server_cpu_micros()
                .map_or("-".into(), |v| format!("{v:.0}")),
            m.pg_cpu
                .filter(|_| o.successes > 0)
                .map_or("-".into(), |cpu| format!(
                    "{:.0}",
                    cpu * 1e6 / o.successes as f64
                )),
            ratio(o.rate() / so.rate()),
            match (o.percentile_ms(0.99), so.percentile_ms(0.99)) {
                (Some(a), Some(b)) => ratio(a / b),
                _ => "-".into(),
            },
            vs_ceiling,
        );
    }
    println!("\nceilings (best of each measurement's slices):");
    for (when, v) in &ceilings.runs {
        println!(
            "  {when:<16} pgbench -S {:.0} tps; single-row commits {:.0}/s (1 client), {:.0}/s (64 clients)",
            v[SELECT_ONLY], v[COMMIT_1], v[COMMIT_64]
        );
    }
    println!(
        "  compared with: pgbench -S {:.0} tps, single-row commits {:.0}/s (1 client), {:.0}/s (64 clients)",
        ceilings.best(SELECT_ONLY),
        ceilings.best(COMMIT_1),
        ceilings.best(COMMIT_64)
    );
}

/// Per operation: what `n` requests, one at a time, cost on PostgreSQL.
struct ProbeResult {
    operation: &'static str,
    counts: Counts,
    errors: u64,
}

/// A third cognate on the same database through the counting proxy; for
/// each operation a warm-up of 20 requests (statements get prepared,
/// caches filled), then `n` requests one at a time, counted.
async fn probe(
    pg: &PgServer,
    data_dir: &Path,
    server_bin: Option<&PathBuf>,
    log: &Path,
    top_level: &str,
    fixture: &Fixture,
    n: u64,
) -> Vec<ProbeResult> {
    std::fs::create_dir_all(data_dir).expect("the probe's data directory");
    let proxy = CountingProxy::start(pg.addr()).await;
    let url = PgServer::url_via(proxy.addr, "cognate");
    let server = children::start_cognate_with(
        "cognate-pg-probe",
        data_dir,
        server_bin,
        log,
        &ChildConfig {
            top_level,
            database_url: Some(&url),
            ..ChildConfig::default()
        },
    )
    .await;
    let signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, server.addr);
    let mut results = Vec::new();
    let mut probed = lines(&signer, fixture);
    // A signed call: its authorization (the caller's policies, by the
    // configuration generation) and the pool it describes.
    probed.push((
        "DescribeIdentityPool (SigV4)",
        cognito_call(
            &signer,
            "DescribeIdentityPool",
            json_bodies([json!({"IdentityPoolId": fixture.pool_id})]),
            true,
        ),
    ));
    for (op, make) in probed {
        for i in 0..20 {
            let _ = crate::client::send_once(server.addr, make(i)).await;
        }
        let _ = proxy.take();
        let mut errors = 0;
        for i in 0..n {
            match crate::client::send_once(server.addr, make(i)).await {
                Ok((200..=299, _)) => {}
                _ => errors += 1,
            }
        }
        results.push(ProbeResult {
            operation: op,
            counts: proxy.take(),
            errors,
        });
    }
    server.stop();
    results
}

fn print_probe(results: &[ProbeResult], n: u64) {
    println!(
        "\nround trips per request on PostgreSQL ({n} requests of each, one at a time, through a counting proxy; a third cognate on the same database)"
    );
    println!(
        "| operation | round trips | of them bare Syncs (pool check) | transactions | statements | Parse (prepared anew) | connections opened | errors |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|");
    let per = |v: u64| format!("{:.2}", v as f64 / n as f64);
    for r in results {
        let c = &r.counts;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.operation,
            per(c.round_trips),
            per(c.bare_syncs),
            per(c.transactions),
            per(c.statement_count()),
            per(c.parses),
            c.connections,
            r.errors
        );
    }
    for r in results {
        println!("\n{} — statements per request:", r.operation);
        let mut by_count: Vec<(&String, &u64)> = r.counts.statements.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1));
        for (sql, count) in by_count {
            let short: String = sql.chars().take(160).collect();
            println!("  {:>5.2}  {short}", *count as f64 / n as f64);
        }
    }
}
