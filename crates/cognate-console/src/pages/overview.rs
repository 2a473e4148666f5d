//! Overview: requests per second, error rates and p99 latency by
//! operation, from this node's own metrics (the counters and histograms
//! `/metrics` serves).
//!
//! A rate needs two readings: the console keeps a snapshot of the
//! counters every `EVERY`, the last `KEPT` of them (a minute), in memory.
//! The page compares the counters now with the oldest snapshot kept
//! ("the last minute", or less just after a start) and with the first one,
//! taken when the console opened ("since start"). Every node counts only
//! what it served: behind a load balancer each console shows its own node.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use cognate_server::AppState;
use cognate_server::metrics::{OperationWindow, Percentile, Snapshot};
use http::StatusCode;
use maud::{Markup, html};

use super::{Section, page, respond};
use crate::Shared;
use crate::guard::Signed;

const EVERY: Duration = Duration::from_secs(5);
/// Snapshots kept: with the one taken now, a minute's window.
const KEPT: usize = 12;

/// The snapshots the rates are computed from.
pub(crate) struct Rates {
    started: (Instant, Snapshot),
    recent: Mutex<VecDeque<(Instant, Snapshot)>>,
}

impl Rates {
    /// Starts keeping snapshots of `app`'s metrics; the task ends when the
    /// server's state is dropped.
    pub(crate) fn start(app: &Arc<AppState>) -> Arc<Rates> {
        let first = (Instant::now(), app.metrics.snapshot());
        let rates = Arc::new(Rates {
            started: first.clone(),
            recent: Mutex::new(VecDeque::from([first])),
        });
        let (weak_app, weak_rates): (Weak<AppState>, Weak<Rates>) =
            (Arc::downgrade(app), Arc::downgrade(&rates));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(EVERY);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let (Some(app), Some(rates)) = (weak_app.upgrade(), weak_rates.upgrade()) else {
                    return;
                };
                rates.keep((Instant::now(), app.metrics.snapshot()));
            }
        });
        rates
    }

    fn keep(&self, snapshot: (Instant, Snapshot)) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.push_back(snapshot);
            while recent.len() > KEPT {
                recent.pop_front();
            }
        }
    }

    fn oldest_recent(&self) -> (Instant, Snapshot) {
        self.recent
            .lock()
            .ok()
            .and_then(|recent| recent.front().cloned())
            .unwrap_or_else(|| self.started.clone())
    }
}

fn seconds(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

fn latency(p99: Option<Percentile>) -> String {
    match p99 {
        None => "–".into(),
        Some(Percentile::About(secs)) if secs < 1.0 => format!("{:.1} ms", secs * 1000.0),
        Some(Percentile::About(secs)) => format!("{secs:.2} s"),
        Some(Percentile::Over(secs)) => format!("over {secs} s"),
    }
}

fn share(part: u64, of: u64) -> String {
    if of == 0 {
        return "–".into();
    }
    format!("{:.1} %", part as f64 * 100.0 / of as f64)
}

fn table(id: &str, caption: &str, window: &[OperationWindow]) -> Markup {
    let total: u64 = window.iter().map(|w| w.requests).sum();
    let per_second: f64 = window.iter().map(|w| w.per_second).sum();
    let client: u64 = window.iter().map(|w| w.client_errors).sum();
    let server: u64 = window.iter().map(|w| w.server_errors).sum();
    html! {
        @if window.is_empty() {
            p { "No requests " (caption) "." }
        } @else {
            table id=(id) {
                caption { "Requests " (caption) }
                thead { tr {
                    th scope="col" { "Operation" }
                    th scope="col" class="number" { "Requests" }
                    th scope="col" class="number" { "Per second" }
                    th scope="col" class="number" { "Client errors (4xx)" }
                    th scope="col" class="number" { "Server errors (5xx)" }
                    th scope="col" class="number" { "p99 latency" }
                } }
                tbody {
                    @for w in window {
                        tr {
                            th scope="row" { (w.operation.name()) }
                            td class="number" { (w.requests) }
                            td class="number" { (format!("{:.2}", w.per_second)) }
                            td class="number" { (share(w.client_errors, w.requests)) }
                            td class="number" { (share(w.server_errors, w.requests)) }
                            td class="number" { (latency(w.p99)) }
                        }
                    }
                }
                tfoot { tr {
                    th scope="row" { "All operations" }
                    td class="number" { (total) }
                    td class="number" { (format!("{per_second:.2}")) }
                    td class="number" { (share(client, total)) }
                    td class="number" { (share(server, total)) }
                    td { }
                } }
            }
        }
    }
}

pub(crate) async fn show(
    State(console): State<Shared>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let now = (Instant::now(), console.app.metrics.snapshot());
    let (recent_at, recent) = console.rates.oldest_recent();
    let (started_at, started) = &console.rates.started;
    let recent_span = now.0.duration_since(recent_at);
    let lifetime = now.0.duration_since(*started_at);
    let mut last_minute = now.1.since(&recent, recent_span);
    let mut since_start = now.1.since(started, lifetime);
    for window in [&mut last_minute, &mut since_start] {
        window.sort_by_key(|w| std::cmp::Reverse(w.requests));
    }
    let audit = console.app.cognate.audit_trail().stats();
    let body = html! {
        h1 { "Overview" }
        p {
            "What this node served, from its own metrics (as "
            a href="/metrics" { code { "/metrics" } }
            " counts them). Behind a load balancer, each node's console shows its own traffic. "
            "Errors are the share of an operation's requests; p99 is read off the latency histogram, within its bucket."
        }
        h2 { "The last " (seconds(recent_span)) }
        (table("recent", &format!("in the last {}", seconds(recent_span)), &last_minute))
        h2 { "Since the console started (" (seconds(lifetime)) ")" }
        (table("lifetime", &format!("in the last {}", seconds(lifetime)), &since_start))
        h2 { "Audit trail" }
        @if audit.enabled {
            dl class="facts" id="audit-stats" {
                dt { "Written to the database" } dd { (audit.written) }
                dt { "Waiting" } dd { (audit.queued) }
                dt { "Dropped (queue full)" } dd { (audit.dropped) }
                dt { "Dropped (database refused)" } dd { (audit.failed) }
            }
            p { a href="/console/activity" { "See the activity" } }
        } @else {
            p { "The audit trail is not recorded in the database ([audit] database = false)." }
        }
    };
    respond(
        StatusCode::OK,
        page("Overview", Some(&signed), Section::Overview, body),
    )
}
