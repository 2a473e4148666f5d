//! Reverse proxies that ask cognate (forward-auth) before they proxy, and
//! the upstream behind them: real nginx and Caddy processes from the
//! system's packages, configured with the files in
//! `deploy/forward-auth/` (the configurations the README shows), in front
//! of [`EchoUpstream`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::server::{FixtureServer, json_response};

/// The documented nginx server block.
pub const NGINX_CONF: &str = include_str!("../../../deploy/forward-auth/nginx.conf");
/// The documented Caddy site block.
pub const CADDYFILE: &str = include_str!("../../../deploy/forward-auth/Caddyfile");
/// nginx proxying without asking anyone, for comparison.
const NGINX_PLAIN: &str = "server {\n    listen {{listen}};\n    location / {\n        proxy_pass http://{{upstream}};\n    }\n}\n";

/// An upstream that answers what it received: 200 with
/// `{"method", "uri", "headers": {name: [values]}, "bodySha256"}`, or,
/// as the documented setups require of an upstream, 400 when the body does
/// not match the `X-Amzn-Content-Sha256` cognate verified, or that header
/// is missing (it fails closed).
pub struct EchoUpstream {
    server: FixtureServer,
}

impl EchoUpstream {
    pub async fn start() -> EchoUpstream {
        let server = FixtureServer::start(|_| Router::new().fallback(echo)).await;
        EchoUpstream { server }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.server
            .base_url()
            .strip_prefix("http://")
            .unwrap_or_default()
    }
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body_sha256 = sha256_hex(&body);
    let verified = headers.get("x-amzn-content-sha256");
    if verified.is_none_or(|verified| verified.as_bytes() != body_sha256.as_bytes()) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"message": "The body does not match the SHA-256 its signature covers."}),
        );
    }
    let mut seen: Map<String, Value> = Map::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match seen.entry(name.as_str()).or_insert_with(|| json!([])) {
            Value::Array(values) => values.push(Value::String(value)),
            _ => unreachable!("every entry is an array"),
        }
    }
    json_response(
        StatusCode::OK,
        &json!({
            "method": method.as_str(),
            "uri": uri.to_string(),
            "headers": seen,
            "bodySha256": body_sha256,
        }),
    )
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Which proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    Nginx,
    Caddy,
}

impl ProxyKind {
    pub const ALL: [ProxyKind; 2] = [ProxyKind::Nginx, ProxyKind::Caddy];

    fn binary(self) -> Option<PathBuf> {
        let candidates: &[&str] = match self {
            ProxyKind::Nginx => &["/usr/sbin/nginx", "/usr/bin/nginx"],
            ProxyKind::Caddy => &["/usr/bin/caddy", "/usr/local/bin/caddy"],
        };
        candidates.iter().map(PathBuf::from).find(|p| p.exists())
    }
}

/// A running proxy; stopped (and its directory removed) when dropped.
pub struct Proxy {
    pub kind: ProxyKind,
    /// `127.0.0.1:PORT`, where clients send their requests.
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Proxy {
    /// Starts `kind` listening on a free loopback port, asking cognate at
    /// `cognate` (`127.0.0.1:PORT`) and proxying to `upstream`. `None` when
    /// the proxy is not installed and `COGNATE_TEST_REQUIRE_PROXIES` is not
    /// `1` (CI sets it, so there a missing proxy fails).
    pub fn start(kind: ProxyKind, cognate: &str, upstream: &str) -> Option<Proxy> {
        let template = match kind {
            ProxyKind::Nginx => NGINX_CONF,
            ProxyKind::Caddy => CADDYFILE,
        };
        Proxy::start_site(kind, template, cognate, upstream)
    }

    /// nginx proxying to `upstream` without forward-auth: what the cost of
    /// asking is measured against.
    pub fn start_plain_nginx(upstream: &str) -> Option<Proxy> {
        Proxy::start_site(ProxyKind::Nginx, NGINX_PLAIN, "", upstream)
    }

    #[allow(clippy::expect_used, clippy::panic)] // test fixture
    fn start_site(kind: ProxyKind, template: &str, cognate: &str, upstream: &str) -> Option<Proxy> {
        let Some(binary) = kind.binary() else {
            assert!(
                std::env::var("COGNATE_TEST_REQUIRE_PROXIES").as_deref() != Ok("1"),
                "COGNATE_TEST_REQUIRE_PROXIES=1 but {kind:?} is not installed"
            );
            return None;
        };
        // The free port is free only until someone binds it: another test
        // running beside this one may take it first. Then start again.
        for _ in 0..4 {
            match Proxy::start_once(kind, &binary, template, cognate, upstream) {
                Ok(proxy) => return Some(proxy),
                // Caddy says "address already in use", nginx "Address ...".
                Err(log) if log.to_lowercase().contains("address already in use") => continue,
                Err(log) => panic!("{kind:?} did not start: {log}"),
            }
        }
        panic!("{kind:?} found no free port in four attempts");
    }

    #[allow(clippy::expect_used, clippy::panic)] // test fixture
    fn start_once(
        kind: ProxyKind,
        binary: &std::path::Path,
        template: &str,
        cognate: &str,
        upstream: &str,
    ) -> Result<Proxy, String> {
        let dir =
            std::env::temp_dir().join(format!("cognate-{kind:?}-{}", crate::random_alnum(10)));
        std::fs::create_dir_all(&dir).expect("proxy: directory");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let fill = |template: &str| {
            template
                .replace("{{listen}}", &listen)
                .replace("{{cognate}}", cognate)
                .replace("{{upstream}}", upstream)
        };
        let mut command = match kind {
            ProxyKind::Nginx => {
                let conf = dir.join("nginx.conf");
                std::fs::write(&conf, nginx_main(&dir, &fill(template))).expect("nginx.conf");
                let mut c = Command::new(binary);
                c.arg("-p").arg(&dir).arg("-c").arg(&conf);
                c
            }
            ProxyKind::Caddy => {
                let conf = dir.join("Caddyfile");
                std::fs::write(&conf, caddy_main(&dir, &fill(template))).expect("Caddyfile");
                let mut c = Command::new(binary);
                c.args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(&conf);
                c.env("HOME", &dir)
                    .env("XDG_DATA_HOME", dir.join("data"))
                    .env("XDG_CONFIG_HOME", dir.join("config"));
                c
            }
        };
        let log = std::fs::File::create(dir.join("proxy.log")).expect("proxy log");
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("proxy log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {kind:?}: {e}"));
        let addr: SocketAddr = listen.parse().expect("listen address");
        let mut proxy = Proxy {
            kind,
            addr,
            child,
            dir,
        };
        proxy.wait_listening()?;
        Ok(proxy)
    }

    /// Waits until the proxy accepts connections; its log if it exits or
    /// does not listen within 20 s.
    fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited ({status}): {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("did not listen on {}: {}", self.addr, self.log()))
    }

    /// What the proxy wrote to its log, for failure messages.
    pub fn log(&self) -> String {
        let mut text = std::fs::read_to_string(self.dir.join("proxy.log")).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default());
        text
    }

    /// The proxy's (master) process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nginx's main configuration around the documented server block: in the
/// foreground, every path in `dir`.
fn nginx_main(dir: &Path, server: &str) -> String {
    let d = dir.display();
    // As root, nginx's workers switch to `nobody`, who cannot use `dir`.
    let user = if is_root() { "user root;" } else { "" };
    format!(
        "daemon off;\n{user}\nworker_processes 1;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {server}\n}}\n"
    )
}

/// Caddy's global options around the documented site block: no admin
/// endpoint, no certificates, state in `dir`.
fn caddy_main(dir: &Path, site: &str) -> String {
    let d = dir.display();
    format!("{{\n  admin off\n  auto_https off\n  storage file_system {d}/data\n}}\n\n{site}\n")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[allow(clippy::expect_used)] // test fixture
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("local address").port()
}
