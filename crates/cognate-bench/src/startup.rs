//! `cognate-bench startup`: how long `cognate serve --ephemeral` takes
//! from process start to its first `/healthz` 200, bare and with a
//! bootstrap file, beside the same for the axum baseline process (the
//! reference: spawning a process and binding a port), in alternating runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

#[derive(clap::Args)]
pub struct StartupArgs {
    /// The `cognate` binary [default: `cognate` beside this one].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Start-ups measured per line.
    #[arg(long, default_value_t = 15)]
    runs: usize,
}

/// A bootstrap file of one guest pool and its role.
const BOOTSTRAP: &str = r#"{
  "Roles": [{
    "RoleName": "guest",
    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
      "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:00000000-0000-4000-8000-000000000001"}}}]},
    "Policies": [{"PolicyName": "whoami", "PolicyDocument": {"Version": "2012-10-17",
      "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}}]
  }],
  "IdentityPools": [{
    "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000001",
    "IdentityPoolName": "app",
    "AllowUnauthenticatedIdentities": true,
    "Roles": {"unauthenticated": "arn:aws:iam::${AWS::AccountId}:role/guest"}
  }]
}"#;

pub async fn run(args: StartupArgs) {
    let bin = args.server_bin.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("the path of this binary");
        exe.with_file_name("cognate")
    });
    assert!(
        bin.exists(),
        "{} does not exist: build it (cargo build --release --bin cognate) or pass --server-bin",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bootstrap = dir.path().join("bootstrap.json");
    std::fs::write(&bootstrap, BOOTSTRAP).expect("the bootstrap file");
    let this = std::env::current_exe().expect("the path of this binary");

    println!("cognate-bench startup: process start to the first /healthz 200");
    println!("  server: {} serve --ephemeral", bin.display());
    println!(
        "  {} start-ups per line, the lines alternating run by run",
        args.runs
    );
    let mut lines: [(&str, Vec<f64>); 3] = [
        ("baseline (axum hello world)", Vec::new()),
        ("cognate serve --ephemeral", Vec::new()),
        ("  ... --bootstrap (1 pool, 1 role)", Vec::new()),
    ];
    for _ in 0..args.runs {
        lines[0].1.push(start_once(baseline(&this), "/").await);
        lines[1]
            .1
            .push(start_once(ephemeral(&bin, None), "/healthz").await);
        lines[2]
            .1
            .push(start_once(ephemeral(&bin, Some(&bootstrap)), "/healthz").await);
    }
    let reference = median(&mut lines[0].1.clone());
    println!(
        "\n  {:<36} {:>9} {:>9} {:>9} {:>9}",
        "", "median", "p90", "max", "/ base"
    );
    for (name, times) in &mut lines {
        times.sort_by(f64::total_cmp);
        let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
        let med = median(times);
        println!(
            "  {name:<36} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>9.2}",
            med,
            p90,
            times[times.len() - 1],
            med / reference
        );
    }
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

fn baseline(this: &Path) -> (Command, SocketAddr) {
    let addr = free_addr();
    let mut command = Command::new(this);
    command
        .arg("serve-baseline")
        .arg("--listen")
        .arg(addr.to_string());
    (command, addr)
}

fn ephemeral(bin: &Path, bootstrap: Option<&Path>) -> (Command, SocketAddr) {
    let addr = free_addr();
    let mut command = Command::new(bin);
    command
        .args(["serve", "--ephemeral", "--listen"])
        .arg(addr.to_string())
        .env("COGNATE_ADMIN_ACCESS_KEY_ID", crate::children::ADMIN_KEY_ID)
        .env(
            "COGNATE_ADMIN_SECRET_ACCESS_KEY",
            crate::children::ADMIN_SECRET,
        )
        .env_remove("COGNATE_DATA_DIR")
        .env_remove("COGNATE_DATABASE_URL");
    if let Some(file) = bootstrap {
        command.arg("--bootstrap").arg(file);
    }
    (command, addr)
}

/// Milliseconds from spawning to the first 200 at `probe`, polled every
/// millisecond; the process is then stopped.
async fn start_once((mut command, addr): (Command, SocketAddr), probe: &str) -> f64 {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = command.spawn().expect("the server starts");
    let deadline = started + Duration::from_secs(30);
    let method = if probe == "/healthz" { "GET" } else { "POST" };
    loop {
        let request = http::Request::builder()
            .method(method)
            .uri(probe)
            .header("host", addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        if let Ok((200, _)) = crate::client::send_once(addr, request).await {
            break;
        }
        assert!(Instant::now() < deadline, "no answer on {addr}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    // SIGTERM, so the ephemeral directory is removed.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    elapsed
}
