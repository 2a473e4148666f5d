//! A TCP proxy between a cognate child and PostgreSQL that counts what
//! crosses it, by reading the protocol's message framing (version 3, no
//! TLS: the URL it is given says `sslmode=disable`): round trips (the
//! server's ReadyForQuery), transactions (implicit and explicit, from the
//! transaction status ReadyForQuery reports), the statements executed (by
//! their SQL text) and bare Syncs (sqlx's connection check before it hands
//! out a pooled connection). The bytes pass through unchanged.
//!
//! Used for the per-operation probe of `cognate-bench postgres`, never
//! for the measured load (it adds a hop to every round trip).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What crossed the proxy since the last [`CountingProxy::take`].
#[derive(Default, Clone)]
pub struct Counts {
    /// ReadyForQuery messages: one per round trip (sqlx does not
    /// pipeline several Syncs).
    pub round_trips: u64,
    /// Round trips that carried nothing but a Sync (sqlx's
    /// `test_before_acquire` check of a pooled connection).
    pub bare_syncs: u64,
    /// Transactions: an explicit BEGIN, or a statement run outside one.
    pub transactions: u64,
    /// Executed statements (extended protocol Execute or simple Query),
    /// by SQL text with its whitespace collapsed.
    pub statements: BTreeMap<String, u64>,
    /// Parse messages (statements prepared, not found in sqlx's cache).
    pub parses: u64,
    /// Connections opened through the proxy.
    pub connections: u64,
}

impl Counts {
    pub fn statement_count(&self) -> u64 {
        self.statements.values().sum()
    }
}

/// One connection's view, shared by its two directions.
#[derive(Default)]
struct Conn {
    /// Statement name → SQL.
    prepared: HashMap<String, String>,
    /// Portal name → SQL of the statement bound to it.
    portals: HashMap<String, String>,
    /// A statement was executed since the last ReadyForQuery.
    executed: bool,
    /// Anything but Sync was sent since the last ReadyForQuery.
    work: bool,
    /// Transaction status of the last ReadyForQuery (`I`, `T`, `E`).
    status: u8,
}

pub struct CountingProxy {
    pub addr: SocketAddr,
    counts: Arc<Mutex<Counts>>,
}

impl CountingProxy {
    pub async fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the counting proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let counts = Arc::new(Mutex::new(Counts::default()));
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counts = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        counts.lock().expect("counts").connections += 1;
                        relay(client, server, counts).await;
                    }
                });
            }
        });
        CountingProxy { addr, counts }
    }

    /// The counts so far; the counters start again from zero.
    pub fn take(&self) -> Counts {
        std::mem::take(&mut *self.counts.lock().expect("counts"))
    }
}

async fn relay(client: TcpStream, server: TcpStream, counts: Arc<Mutex<Counts>>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // The start-up exchange ends with a ReadyForQuery too: not a bare Sync.
    let conn = Arc::new(Mutex::new(Conn {
        status: b'I',
        work: true,
        ..Conn::default()
    }));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = {
        let (conn, counts) = (conn.clone(), counts.clone());
        async move {
            let mut parser = Framing::new(true);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                parser.feed(&buf[..n], |kind, body| {
                    frontend(kind, body, &conn, &counts);
                });
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        }
    };
    let downstream = async move {
        let mut parser = Framing::new(false);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            parser.feed(&buf[..n], |kind, body| {
                if kind == b'Z' {
                    ready_for_query(body.first().copied().unwrap_or(b'I'), &conn, &counts);
                }
            });
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// The message framing of one direction: a type byte and a length
/// (counting itself); the client's first message (startup) has no type.
struct Framing {
    pending: Vec<u8>,
    startup: bool,
}

impl Framing {
    fn new(client: bool) -> Framing {
        Framing {
            pending: Vec::new(),
            startup: client,
        }
    }

    fn feed(&mut self, bytes: &[u8], mut on_message: impl FnMut(u8, &[u8])) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            if self.startup {
                if rest.len() < 4 {
                    break;
                }
                let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if rest.len() < len {
                    break;
                }
                at += len;
                self.startup = false;
                continue;
            }
            if rest.len() < 5 {
                break;
            }
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            if rest.len() < 1 + len {
                break;
            }
            on_message(rest[0], &rest[5..1 + len]);
            at += 1 + len;
        }
        self.pending.drain(..at);
    }
}

/// The NUL-terminated strings at the start of a message body.
fn cstrings(body: &[u8], n: usize) -> Vec<String> {
    body.split(|b| *b == 0)
        .take(n)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn collapse(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn frontend(kind: u8, body: &[u8], conn: &Mutex<Conn>, counts: &Mutex<Counts>) {
    let mut conn = conn.lock().expect("connection state");
    if kind != b'S' {
        conn.work = true;
    }
    match kind {
        b'Q' => {
            let sql = collapse(&cstrings(body, 1).concat());
            conn.executed = true;
            *counts
                .lock()
                .expect("counts")
                .statements
                .entry(sql)
                .or_default() += 1;
        }
        b'P' => {
            let parts = cstrings(body, 2);
            if let [name, sql] = &parts[..] {
                conn.prepared.insert(name.clone(), collapse(sql));
            }
            counts.lock().expect("counts").parses += 1;
        }
        b'B' => {
            let parts = cstrings(body, 2);
            if let [portal, statement] = &parts[..] {
                let sql = conn
                    .prepared
                    .get(statement)
                    .cloned()
                    .unwrap_or_else(|| format!("(prepared statement {statement:?})"));
                conn.portals.insert(portal.clone(), sql);
            }
        }
        b'E' => {
            let portal = cstrings(body, 1).concat();
            let sql = conn
                .portals
                .get(&portal)
                .cloned()
                .unwrap_or_else(|| "(unknown portal)".into());
            conn.executed = true;
            *counts
                .lock()
                .expect("counts")
                .statements
                .entry(sql)
                .or_default() += 1;
        }
        _ => {}
    }
}

fn ready_for_query(status: u8, conn: &Mutex<Conn>, counts: &Mutex<Counts>) {
    let mut conn = conn.lock().expect("connection state");
    let mut counts = counts.lock().expect("counts");
    counts.round_trips += 1;
    if !conn.work {
        counts.bare_syncs += 1;
    }
    let began = conn.status == b'I' && status != b'I';
    let implicit = conn.status == b'I' && status == b'I' && conn.executed;
    if began || implicit {
        counts.transactions += 1;
    }
    conn.status = status;
    conn.executed = false;
    conn.work = false;
}
