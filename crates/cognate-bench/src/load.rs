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
}

impl Outcome {
    /// Server CPU time per successful request, in microseconds.
    pub fn server_cpu_micros(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.successes > 0).then(|| cpu * 1e6 / self.successes as f64)
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
) -> Outcome {
    let start = Instant::now() + warmup;
    let end = start + duration;
    let cpu_sampler = tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        let before = process_cpu_seconds(server_pid);
        tokio::time::sleep_until(end.into()).await;
        let after = process_cpu_seconds(server_pid);
        Some(after? - before?)
    });
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let make = make.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            connection(addr, make, counter, start, end).await
        }));
    }
    let mut outcome = Outcome {
        successes: 0,
        errors: BTreeMap::new(),
        latency: histogram(),
        seconds: duration.as_secs_f64(),
        server_cpu: None,
    };
    for task in tasks {
        let r = task.await.expect("a load connection task");
        outcome.successes += r.successes;
        for (code, n) in r.errors {
            *outcome.errors.entry(code).or_default() += n;
        }
        outcome
            .latency
            .add(&r.latency)
            .expect("histograms with the same bounds");
    }
    outcome.server_cpu = cpu_sampler.await.ok().flatten();
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
    let mut sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
    while Instant::now() < end {
        let s = match sender.as_mut() {
            Some(s) if !s.is_closed() => s,
            _ => match open(addr).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    if Instant::now() >= start {
                        *result.errors.entry(format!("connect: {e}")).or_default() += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let request = make(n);
        let t0 = Instant::now();
        let answer = async {
            let response = s.send_request(request).await?;
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
                sender = None;
                if counted {
                    *result.errors.entry(format!("transport: {e}")).or_default() += 1;
                }
            }
        }
    }
    result
}

async fn open(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    sender.ready().await.map_err(|e| e.to_string())?;
    Ok(sender)
}
