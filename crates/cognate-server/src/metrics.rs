//! Request counters and latency histograms per operation, lock-free, in
//! the Prometheus text format. Handlers carry no metrics code: the
//! dispatcher records every request once.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::operation::Operation;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    ClientError,
    ServerError,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Success, Outcome::ClientError, Outcome::ServerError];

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }
}

#[derive(Default)]
struct OperationMetrics {
    outcomes: [AtomicU64; 3],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

pub struct Metrics {
    per_operation: Vec<OperationMetrics>,
    /// Requests refused before an operation was known.
    unparsed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            per_operation: Operation::ALL
                .iter()
                .map(|_| OperationMetrics::default())
                .collect(),
            unparsed: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn record(&self, operation: Operation, outcome: Outcome, elapsed: Duration) {
        let Some(m) = self.per_operation.get(operation.index()) else {
            return;
        };
        if let Some(c) = m.outcomes.get(outcome as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b)
            && let Some(b) = m.buckets.get(i)
        {
            b.fetch_add(1, Ordering::Relaxed);
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn record_unparsed(&self) {
        self.unparsed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        out.push_str("# HELP cognate_requests_total Requests by operation and outcome.\n");
        out.push_str("# TYPE cognate_requests_total counter\n");
        for (op, m) in Operation::ALL.iter().zip(&self.per_operation) {
            for outcome in Outcome::ALL {
                let n = m
                    .outcomes
                    .get(outcome as usize)
                    .map_or(0, |c| c.load(Ordering::Relaxed));
                let _ = writeln!(
                    out,
                    "cognate_requests_total{{operation=\"{}\",outcome=\"{}\"}} {n}",
                    op.name(),
                    outcome.label()
                );
            }
        }
        let _ = writeln!(
            out,
            "cognate_requests_total{{operation=\"unknown\",outcome=\"client_error\"}} {}",
            self.unparsed.load(Ordering::Relaxed)
        );
        out.push_str("# HELP cognate_request_duration_seconds Request latency by operation.\n");
        out.push_str("# TYPE cognate_request_duration_seconds histogram\n");
        for (op, m) in Operation::ALL.iter().zip(&self.per_operation) {
            let count = m.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, b) in BUCKETS.iter().zip(&m.buckets) {
                cumulative += b.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "cognate_request_duration_seconds_bucket{{operation=\"{}\",le=\"{bound}\"}} {cumulative}",
                    op.name()
                );
            }
            let _ = writeln!(
                out,
                "cognate_request_duration_seconds_bucket{{operation=\"{}\",le=\"+Inf\"}} {count}",
                op.name()
            );
            let _ = writeln!(
                out,
                "cognate_request_duration_seconds_sum{{operation=\"{}\"}} {}",
                op.name(),
                m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "cognate_request_duration_seconds_count{{operation=\"{}\"}} {count}",
                op.name()
            );
        }
        out
    }
}
