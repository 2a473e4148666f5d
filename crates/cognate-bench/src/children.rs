//! The servers under test, each a child process: cognate (this binary
//! re-executed as `serve-cognate`, which runs `cognate::start` exactly as
//! `cognate serve` does, or the real `cognate` binary with `--server-bin`)
//! and the axum baseline (`serve-baseline`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

/// A child server; killed (by its pid) when dropped.
pub struct ChildServer {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
}

impl ChildServer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// VmRSS and VmHWM (peak) of the child, in KiB, from /proc.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        memory_kib(self.pid())
    }

    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("a bound address")
}

/// Admin key the bench gives the cognate child.
pub const ADMIN_KEY_ID: &str = "AKIABENCHADMIN000001";
pub const ADMIN_SECRET: &str = "benchSecretKey0000000000000000000000000000";

/// The TOML settings file given to the server (`--config`).
pub const BENCH_CONFIG: &str = "\
# Written by cognate-bench: no abuse limits (all load comes from one address).
[limits]
public_per_address_per_second = 0.0
public_per_address_burst = 0.0
guests_per_address_per_minute = 0.0
guests_per_address_burst = 0.0
guests_per_pool_per_second = 0.0
guests_per_pool_burst = 0.0
";

/// Starts cognate on `data_dir`, generating signing keys of
/// `signing_algorithm` (`RS512` or `ES256`), and waits until `/healthz`
/// answers. Its log (stdout, `COGNATE_LOG`, with `cognate serve`'s
/// default) goes to `log_file`.
pub async fn start_cognate(
    name: &'static str,
    data_dir: &Path,
    server_bin: Option<&PathBuf>,
    log_file: &Path,
    signing_algorithm: &str,
    extra_config: &str,
) -> ChildServer {
    let config = ChildConfig {
        signing_algorithm,
        tables: extra_config,
        ..ChildConfig::default()
    };
    start_cognate_with(name, data_dir, server_bin, log_file, &config).await
}

/// What a cognate child is given beyond the bench's defaults.
#[derive(Default)]
pub struct ChildConfig<'a> {
    /// `RS512` or `ES256` (empty: `RS512`).
    pub signing_algorithm: &'a str,
    /// Top-level keys of the config file (e.g. `max_connections = 64`).
    pub top_level: &'a str,
    /// Tables appended to the config file after `[limits]`.
    pub tables: &'a str,
    /// `COGNATE_DATABASE_URL` of the child (None: the embedded SQLite
    /// default in the data directory).
    pub database_url: Option<&'a str>,
}

/// [`start_cognate`] with a database URL and top-level settings.
pub async fn start_cognate_with(
    name: &'static str,
    data_dir: &Path,
    server_bin: Option<&PathBuf>,
    log_file: &Path,
    child: &ChildConfig<'_>,
) -> ChildServer {
    let signing_algorithm = if child.signing_algorithm.is_empty() {
        "RS512"
    } else {
        child.signing_algorithm
    };
    let extra_config = child.tables;
    let addr = free_addr();
    let exe = std::env::current_exe().expect("the path of this binary");
    let mut command = match server_bin {
        Some(bin) => {
            let mut c = Command::new(bin);
            c.arg("serve");
            c
        }
        None => {
            let mut c = Command::new(exe);
            c.arg("serve-cognate");
            c
        }
    };
    // The abuse limits of the public operations (per source address and
    // per pool) are off: every request comes from 127.0.0.1, and the bench
    // measures the server, not its throttle.
    let config = data_dir.with_file_name(format!("bench-config-{name}.toml"));
    // A top-level key: before the `[limits]` table.
    let text = format!(
        "signing_algorithm = \"{signing_algorithm}\"\n{}{BENCH_CONFIG}{extra_config}",
        child.top_level
    );
    std::fs::write(&config, text).expect("the bench config file");
    // The environment, as an operator sets it (`serve-cognate` reads it
    // as `cognate serve` does); never inherited from the bench's own.
    match child.database_url {
        Some(url) => command.env("COGNATE_DATABASE_URL", url),
        None => command.env_remove("COGNATE_DATABASE_URL"),
    };
    command
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--admin-access-key-id")
        .arg(ADMIN_KEY_ID)
        .arg("--admin-secret-access-key")
        .arg(ADMIN_SECRET)
        .stdout(std::fs::File::create(log_file).expect("the server log file"));
    spawn(name, command, addr, "/healthz").await
}

/// Starts the axum baseline and waits until it answers.
pub async fn start_baseline() -> ChildServer {
    let addr = free_addr();
    let exe = std::env::current_exe().expect("the path of this binary");
    let mut command = Command::new(exe);
    command
        .arg("serve-baseline")
        .arg("--listen")
        .arg(addr.to_string())
        .stdout(Stdio::null());
    spawn("baseline", command, addr, "/").await
}

async fn spawn(
    name: &'static str,
    mut command: Command,
    addr: SocketAddr,
    probe: &str,
) -> ChildServer {
    command.stdin(Stdio::null()).stderr(Stdio::inherit());
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {name} server: {e}"));
    let server = ChildServer { name, addr, child };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let method = if probe == "/healthz" { "GET" } else { "POST" };
        let request = http::Request::builder()
            .method(method)
            .uri(probe)
            .header("host", addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        if let Ok((200, _)) = crate::client::send_once(addr, request).await {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "the {name} server did not come up on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `serve-cognate`: the same settings resolution, start-up and default
/// logging (stdout, `COGNATE_LOG`, default `info,cognate::audit=off`) as
/// `cognate serve`.
pub fn serve_cognate(args: crate::ServeArgs) {
    use cognate::config::{FileConfig, Overrides, Settings};
    let filter = tracing_subscriber::EnvFilter::try_from_env("COGNATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,cognate::audit=off"));
    tracing_subscriber::fmt()
        .fmt_fields(cognate::logging::text_fields())
        .with_env_filter(filter)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let overrides = Overrides {
            listen: Some(args.listen),
            data_dir: args.data_dir,
            database_url: args.database_url,
            admin_access_key_id: args.admin_access_key_id,
            admin_secret_access_key: args.admin_secret_access_key,
            ..Default::default()
        };
        let file = match &args.config {
            Some(path) => FileConfig::load(path).expect("a valid config file"),
            None => FileConfig::default(),
        };
        let settings = Settings::resolve(overrides, file).expect("valid settings");
        let running = cognate::start(settings).await.expect("cognate starts");
        running.wait().await;
    });
}

/// The baseline's answer: a fixed 200-byte JSON document.
pub fn baseline_body() -> &'static str {
    static BODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let prefix =
            r#"{"IdentityId":"us-east-1:00000000-0000-0000-0000-000000000000","Padding":""#;
        let suffix = r#""}"#;
        let pad = 200 - prefix.len() - suffix.len();
        format!("{prefix}{}{suffix}", "x".repeat(pad))
    })
}

/// `serve-baseline`: a minimal axum server answering `POST /` (after
/// reading the body, as cognate must) with the fixed body.
pub fn serve_baseline(listen: String) {
    use axum::Router;
    use axum::routing::post;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let app = Router::new().route(
            "/",
            post(|_body: Bytes| async {
                (
                    [("content-type", "application/x-amz-json-1.1")],
                    baseline_body(),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .expect("the baseline listens");
        axum::serve(listener, app)
            .await
            .expect("the baseline serves");
    });
}
