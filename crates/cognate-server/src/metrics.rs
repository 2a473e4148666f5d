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

/// One operation's counters at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationCounts {
    /// By outcome: success, client error, server error.
    pub outcomes: [u64; 3],
    /// Per latency bucket (not cumulative); requests over the last bound
    /// are `count` minus their sum.
    pub buckets: [u64; BUCKETS.len()],
    pub count: u64,
}

/// Every operation's counters at a moment: two of them make rates (the
/// console's Overview keeps a few).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    per_operation: Vec<(Operation, OperationCounts)>,
}

/// The 99th percentile of a window's latencies, from the histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Percentile {
    /// Interpolated within its bucket, as Prometheus's
    /// `histogram_quantile` does (seconds).
    About(f64),
    /// Beyond the last bucket's bound (seconds).
    Over(f64),
}

/// What one operation did between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationWindow {
    pub operation: Operation,
    pub requests: u64,
    pub per_second: f64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub p99: Option<Percentile>,
}

impl Metrics {
    pub fn snapshot(&self) -> Snapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            per_operation: Operation::ALL
                .iter()
                .zip(&self.per_operation)
                .map(|(op, m)| {
                    let mut counts = OperationCounts {
                        count: load(&m.count),
                        ..Default::default()
                    };
                    for (out, c) in counts.outcomes.iter_mut().zip(&m.outcomes) {
                        *out = load(c);
                    }
                    for (out, b) in counts.buckets.iter_mut().zip(&m.buckets) {
                        *out = load(b);
                    }
                    (*op, counts)
                })
                .collect(),
        }
    }
}

impl Snapshot {
    /// What each operation did since `earlier`, taken `elapsed` before
    /// this one; operations without requests are left out.
    pub fn since(&self, earlier: &Snapshot, elapsed: Duration) -> Vec<OperationWindow> {
        let secs = elapsed.as_secs_f64().max(0.001);
        let zero = OperationCounts::default();
        self.per_operation
            .iter()
            .map(|(op, now)| {
                let before = earlier
                    .per_operation
                    .iter()
                    .find(|(o, _)| o == op)
                    .map_or(&zero, |(_, c)| c);
                (*op, now, before)
            })
            .filter_map(|(operation, now, before)| {
                let requests = now.count.saturating_sub(before.count);
                if requests == 0 {
                    return None;
                }
                let outcome = |i: usize| {
                    now.outcomes
                        .get(i)
                        .zip(before.outcomes.get(i))
                        .map_or(0, |(n, b)| n.saturating_sub(*b))
                };
                let mut buckets = [0u64; BUCKETS.len()];
                for ((out, n), b) in buckets.iter_mut().zip(&now.buckets).zip(&before.buckets) {
                    *out = n.saturating_sub(*b);
                }
                Some(OperationWindow {
                    operation,
                    requests,
                    per_second: requests as f64 / secs,
                    client_errors: outcome(Outcome::ClientError as usize),
                    server_errors: outcome(Outcome::ServerError as usize),
                    p99: percentile(&buckets, requests, 0.99),
                })
            })
            .collect()
    }
}

/// The `q` quantile of `count` requests whose latencies fell in
/// `buckets` (the rest beyond the last bound): linear within the bucket
/// that holds it, from the bound below (0 for the first).
fn percentile(buckets: &[u64; BUCKETS.len()], count: u64, q: f64) -> Option<Percentile> {
    if count == 0 {
        return None;
    }
    let rank = q * count as f64;
    let mut cumulative = 0u64;
    let mut lower = 0.0;
    for (bound, n) in BUCKETS.iter().zip(buckets) {
        let below = cumulative;
        cumulative += n;
        if cumulative as f64 >= rank && *n > 0 {
            let within = (rank - below as f64) / *n as f64;
            return Some(Percentile::About(lower + (bound - lower) * within));
        }
        lower = *bound;
    }
    Some(Percentile::Over(lower))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_interpolated_within_its_bucket_or_over_the_last() {
        let mut buckets = [0u64; BUCKETS.len()];
        // 100 requests: 98 within 0.5 ms, 2 within (1, 2.5] ms.
        buckets[0] = 98;
        buckets[2] = 2;
        // Rank 99 is the first of the two in (0.001, 0.0025]: halfway.
        assert_eq!(
            percentile(&buckets, 100, 0.99),
            Some(Percentile::About(0.001 + 0.0015 * 0.5))
        );
        // Two of 100 beyond 5 s: the 99th is over the last bound.
        let mut slow = [0u64; BUCKETS.len()];
        slow[0] = 98;
        assert_eq!(percentile(&slow, 100, 0.99), Some(Percentile::Over(5.0)));
        assert_eq!(percentile(&slow, 0, 0.99), None);
    }

    #[test]
    fn a_window_counts_what_happened_since_the_earlier_snapshot() {
        let metrics = Metrics::default();
        metrics.record(Operation::GetId, Outcome::Success, Duration::from_millis(1));
        let earlier = metrics.snapshot();
        for _ in 0..9 {
            metrics.record(Operation::GetId, Outcome::Success, Duration::from_millis(2));
        }
        metrics.record(
            Operation::GetId,
            Outcome::ServerError,
            Duration::from_secs(9),
        );
        metrics.record(
            Operation::ListIdentityPools,
            Outcome::ClientError,
            Duration::ZERO,
        );
        let window = metrics.snapshot().since(&earlier, Duration::from_secs(2));
        assert_eq!(window.len(), 2, "{window:?}");
        let get_id = window
            .iter()
            .find(|w| w.operation == Operation::GetId)
            .unwrap();
        assert_eq!(get_id.requests, 10);
        assert_eq!(get_id.per_second, 5.0);
        assert_eq!((get_id.client_errors, get_id.server_errors), (0, 1));
        assert_eq!(get_id.p99, Some(Percentile::Over(5.0)));
        let list = window
            .iter()
            .find(|w| w.operation == Operation::ListIdentityPools)
            .unwrap();
        assert_eq!((list.requests, list.client_errors), (1, 1));
    }
}
