//! The load generator: N keep-alive HTTP/1.1 connections, each sending its
//! next request as soon as the previous answer has been read (closed loop),
//! for a fixed time after a warm-up. Latency is measured per request from
//! just before it is handed to hyper to the last byte of the answer, into an
//! HdrHistogram (microseconds).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::client::{Call, Signer};

/// Makes the `n`-th request of a scenario (precomputed bodies; signing, if
/// any, happens here, per request, as an SDK would).
pub type MakeRequest = Arc<dyn Fn(u64) -> http::Request<Full<Bytes>> + Send + Sync>;

/// A request template: the same call, with one of several precomputed bodies.
pub fn rotating(
    signer: Signer,
    target: Option<String>,
    content_type: &'static str,
    bodies: Vec<Bytes>,
    sign_for: Option<&'static str>,
) -> MakeRequest {
    assert!(!bodies.is_empty());
    Arc::new(move |n| {
        let body = bodies[(n % bodies.len() as u64) as usize].clone();
        Call {
            target: target.as_deref(),
            content_type,
            body,
            sign_for,
        }
        .build(&signer)
    })
}

pub struct Outcome {
    pub successes: u64,
    /// Error code (`__type`, `<Code>`, or `HTTP nnn` / transport) → count.
    pub errors: BTreeMap<String, u64>,
    /// Latency of successful requests, microseconds.
    pub latency: Histogram<u64>,
    pub seconds: f64,
    /// CPU seconds (user + system) the server process used in the
    /// measured window, when known.
    pub server_cpu: Option<f64>,
    /// CPU seconds the bench process itself (the load generator) used in
    /// the measured window, when known: what the client takes from the
    /// cores the server shares.
    pub client_cpu: Option<f64>,
}

impl Outcome {
    /// Server CPU time per successful request, in microseconds.
    pub fn server_cpu_micros(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.successes > 0).then(|| cpu * 1e6 / self.successes as f64)
    }

    /// Load generator CPU time per successful request, in microseconds.
    pub fn client_cpu_micros(&self) -> Option<f64> {
        let cpu = self.client_cpu?;
        (self.successes > 0).then(|| cpu * 1e6 / self.successes as f64)
    }

    /// Adds another measurement of the same line (a later slice).
    pub fn absorb(&mut self, other: Outcome) {
        self.successes += other.successes;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.seconds += other.seconds;
        let sum = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
        self.server_cpu = sum(self.server_cpu, other.server_cpu);
        self.client_cpu = sum(self.client_cpu, other.client_cpu);
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.seconds
    }

    /// Percentile of successful requests, in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q) as f64 / 1000.0)
    }
}

struct ConnResult {
    successes: u64,
    errors: BTreeMap<String, u64>,
    latency: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// The AWS error code of an answer, as well as it can be told.
fn error_code(status: u16, headers: &http::HeaderMap, body: &[u8]) -> String {
    if let Some(t) = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
    {
        let code = t.split(':').next().unwrap_or(t);
        if !code.is_empty() {
            return code.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    if let Some(code) = crate::client::xml_text(&text, "Code") {
        return code;
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(t) = v["__type"].as_str()
    {
        return t.rsplit('#').next().unwrap_or(t).to_string();
    }
    format!("HTTP {status}")
}

/// CPU seconds (user + system, all threads) a process has used, from
/// /proc/<pid>/stat (in USER_HZ ticks, 100 per second on Linux).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// How the load generator's threads are scheduled against the server's,
/// which share the same cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientScheduling {
    /// SCHED_BATCH: an answer that wakes the client does not preempt a
    /// server thread in the middle of its work; the client runs when a
    /// core is free or the server's time slice ends, and then reads every
    /// answer that is waiting. Closest on shared cores to a client on
    /// another machine, which takes no server CPU at all.
    Batch,
    /// SCHED_OTHER, the default policy: every answer may preempt the
    /// server (an inter-processor interrupt and a context switch).
    Normal,
}

impl ClientScheduling {
    /// Applies the policy to the calling thread. A refusal (say, the bench
    /// runs under `nice` and may not go back to nice 0) is reported once
    /// and the thread keeps the policy it has.
    fn apply(self) {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityOsValue,
            ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id,
        };
        static WARNED: std::sync::Once = std::sync::Once::new();
        let policy = match self {
            Self::Batch => NormalThreadSchedulePolicy::Batch,
            Self::Normal => NormalThreadSchedulePolicy::Other,
        };
        let applied = set_thread_priority_and_policy(
            thread_native_id(),
            // The OS value of a normal policy is the nice value: 0, as the
            // servers have.
            ThreadPriority::Os(ThreadPriorityOsValue::default()),
            ThreadSchedulePolicy::Normal(policy),
        );
        if let Err(e) = applied {
            WARNED.call_once(|| {
                eprintln!("warning: client threads left at their scheduling policy ({self:?} refused: {e:?})");
            });
        }
    }
}

/// Threads of the load generator, each an event loop of its own over its
/// share of the connections, as wrk does: an answer wakes only the thread
/// that waits for it, never a second one to share the work, which at a few
/// thousand answers a second cost the client several times the baseline
/// server's CPU per request.
pub const CLIENT_THREADS: usize = 2;

/// Runs `concurrency` connections against `addr` for `warmup + duration`,
/// counting answers that complete inside the measured window, and the CPU
/// time the server process `server_pid` used in it.
pub async fn run(
    addr: SocketAddr,
    make: MakeRequest,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    server_pid: u32,
    scheduling: ClientScheduling,
) -> Outcome {
    let start = Instant::now() + warmup;
    let end = start + duration;
    let cpu_sampler = tokio::spawn(async move {
        let client_pid = std::process::id();
        tokio::time::sleep_until(start.into()).await;
        let before = (
            process_cpu_seconds(server_pid),
            process_cpu_seconds(client_pid),
        );
        tokio::time::sleep_until(end.into()).await;
        let after = (
            process_cpu_seconds(server_pid),
            process_cpu_seconds(client_pid),
        );
        let used = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
        (used(after.0, before.0), used(after.1, before.1))
    });
    let counter = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            // Connections dealt out round-robin: thread t gets every
            // CLIENT_THREADS-th one.
            let connections = (t..concurrency).step_by(CLIENT_THREADS).count();
            let make = make.clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                scheduling.apply();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a load generator runtime");
                runtime.block_on(async move {
                    let tasks: Vec<_> = (0..connections)
                        .map(|_| {
                            tokio::spawn(connection(
                                addr,
                                make.clone(),
                                counter.clone(),
                                start,
                                end,
                            ))
                        })
                        .collect();
                    let mut results = Vec::with_capacity(tasks.len());
                    for task in tasks {
                        results.push(task.await.expect("a load connection task"));
                    }
                    results
                })
            })
        })
        .collect();
    let results = tokio::task::spawn_blocking(move || {
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("a load generator thread"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("the load generator threads");
    let mut outcome = Outcome {
        successes: 0,
        errors: BTreeMap::new(),
        latency: histogram(),
        seconds: duration.as_secs_f64(),
        server_cpu: None,
        client_cpu: None,
    };
    for r in results {
        outcome.successes += r.successes;
        for (code, n) in r.errors {
            *outcome.errors.entry(code).or_default() += n;
        }
        outcome
            .latency
            .add(&r.latency)
            .expect("histograms with the same bounds");
    }
    (outcome.server_cpu, outcome.client_cpu) = cpu_sampler.await.unwrap_or((None, None));
    outcome
}

async fn connection(
    addr: SocketAddr,
    make: MakeRequest,
    counter: Arc<AtomicU64>,
    start: Instant,
    end: Instant,
) -> ConnResult {
    let mut result = ConnResult {
        successes: 0,
        errors: BTreeMap::new(),
        latency: histogram(),
    };
    while Instant::now() < end {
        let (sender, conn) = match open(addr).await {
            Ok(pair) => pair,
            Err(e) => {
                if Instant::now() >= start {
                    *result.errors.entry(format!("connect: {e}")).or_default() += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // hyper's connection is driven in this task rather than a spawned
        // one: an answer then wakes one task, not two handing over to each
        // other (often across threads), which kept the client's cost per
        // request several times the baseline server's. Once `requests`
        // returns it drops the sender, and the connection ends.
        let requests = send_until_closed(sender, &make, &counter, start, end, &mut result);
        let _ = tokio::join!(requests, conn);
    }
    result
}

/// Sends requests on one connection, closed loop, until `end` or until the
/// connection fails.
async fn send_until_closed(
    mut sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    make: &MakeRequest,
    counter: &AtomicU64,
    start: Instant,
    end: Instant,
    result: &mut ConnResult,
) {
    while Instant::now() < end {
        if sender.ready().await.is_err() {
            return;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let request = make(n);
        let t0 = Instant::now();
        let answer = async {
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>((parts, body))
        }
        .await;
        let done = Instant::now();
        let counted = done >= start && done <= end;
        match answer {
            Ok((parts, body)) => {
                if !counted {
                    continue;
                }
                let status = parts.status.as_u16();
                if (200..300).contains(&status) {
                    result.successes += 1;
                    let micros = (done - t0).as_micros().max(1) as u64;
                    result.latency.saturating_record(micros);
                } else {
                    *result
                        .errors
                        .entry(error_code(status, &parts.headers, &body))
                        .or_default() += 1;
                }
            }
            Err(e) => {
                if counted {
                    *result.errors.entry(format!("transport: {e}")).or_default() += 1;
                }
                return;
            }
        }
    }
}

type Connection = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

async fn open(
    addr: SocketAddr,
) -> Result<
    (
        hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        Connection,
    ),
    String,
> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())
}
