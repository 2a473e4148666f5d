//! Paired measurements of the lines the issue sets targets for: the line
//! and what it is compared with (the baseline's load, or two threads
//! signing RS512) alternate in short slices, so both see the same machine.
//!
//! The main table compares a line's 5-second average with a baseline
//! measured a minute earlier and with the best of several signing slices;
//! on a shared VM whose speed drifts by a fifth within seconds, that
//! compares different machines. Here each ratio is of two rates measured
//! within the same few seconds, interleaved.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::ceilings;
use crate::load::{self, ClientScheduling, MakeRequest, Outcome};

/// A rate measured outside the load generator over one slice (e.g. a
/// `pgbench` run of that length): operations per second.
pub type MeasureRate =
    Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = f64> + Send>> + Send + Sync>;

/// What a line is compared with.
pub enum Reference {
    /// The baseline server under the same load (same client, same
    /// connection count).
    Baseline {
        addr: SocketAddr,
        make: MakeRequest,
        pid: u32,
    },
    /// Another server's line under the same load (e.g. the same operation
    /// on the embedded store), named `name` in the table.
    Line {
        name: &'static str,
        addr: SocketAddr,
        make: MakeRequest,
        pid: u32,
    },
    /// Two threads doing nothing but RS512 signatures.
    Rs512Signing,
    /// A rate measured by other means for the length of a slice.
    Rate {
        name: &'static str,
        measure: MeasureRate,
    },
}

impl Reference {
    fn name(&self) -> &'static str {
        match self {
            Reference::Baseline { .. } => "baseline",
            Reference::Line { name, .. } | Reference::Rate { name, .. } => name,
            Reference::Rs512Signing => "RS512 signing",
        }
    }
}

/// The target a paired line is held to: req/s at least `rate` of the
/// reference's, and, if given, p99 at most `p99` times the reference's.
#[derive(Clone, Copy)]
pub struct Target {
    pub rate: f64,
    pub p99: Option<f64>,
}

pub struct PairedLine {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub make: MakeRequest,
    pub pid: u32,
    pub reference: Reference,
    pub target: Target,
    /// Only at these concurrency levels is the target checked (others are
    /// measured and printed).
    pub target_levels: &'static [usize],
}

/// How the slices are laid out.
pub struct Slicing {
    pub rounds: u32,
    pub slice: Duration,
    pub warmup: Duration,
    pub scheduling: ClientScheduling,
}

enum Measured {
    Load(Outcome),
    /// A rate measured apart from the load generator (signing, pgbench).
    Rate {
        rate_sum: f64,
        slices: u32,
    },
}

impl Measured {
    fn rate(&self) -> f64 {
        match self {
            Measured::Load(o) => o.rate(),
            Measured::Rate { rate_sum, slices } => rate_sum / f64::from(*slices),
        }
    }

    fn p99_ms(&self) -> Option<f64> {
        match self {
            Measured::Load(o) => o.percentile_ms(0.99),
            Measured::Rate { .. } => None,
        }
    }
}

pub struct PairedResult {
    name: &'static str,
    concurrency: usize,
    reference_name: &'static str,
    line: Outcome,
    reference: Measured,
    target: Option<Target>,
}

/// Runs `rounds` × (reference slice, line slice) for each line and level.
pub async fn measure(
    lines: &[PairedLine],
    levels: &[usize],
    slicing: &Slicing,
) -> Vec<PairedResult> {
    let mut results = Vec::new();
    for line in lines {
        for &c in levels {
            let mut line_outcome: Option<Outcome> = None;
            let mut reference: Option<Measured> = None;
            for _ in 0..slicing.rounds {
                let measured = match &line.reference {
                    Reference::Baseline { addr, make, pid }
                    | Reference::Line {
                        addr, make, pid, ..
                    } => Measured::Load(
                        load::run(
                            *addr,
                            make.clone(),
                            c,
                            slicing.warmup,
                            slicing.slice,
                            *pid,
                            slicing.scheduling,
                        )
                        .await,
                    ),
                    Reference::Rs512Signing => Measured::Rate {
                        rate_sum: ceilings::measure_rs512_average(slicing.slice).await,
                        slices: 1,
                    },
                    Reference::Rate { measure, .. } => Measured::Rate {
                        rate_sum: measure(slicing.slice).await,
                        slices: 1,
                    },
                };
                reference = Some(match (reference, measured) {
                    (None, m) => m,
                    (Some(Measured::Load(mut a)), Measured::Load(b)) => {
                        a.absorb(b);
                        Measured::Load(a)
                    }
                    (
                        Some(Measured::Rate { rate_sum, slices }),
                        Measured::Rate {
                            rate_sum: r,
                            slices: s,
                        },
                    ) => Measured::Rate {
                        rate_sum: rate_sum + r,
                        slices: slices + s,
                    },
                    (Some(a), _) => a,
                });
                let outcome = load::run(
                    line.addr,
                    line.make.clone(),
                    c,
                    slicing.warmup,
                    slicing.slice,
                    line.pid,
                    slicing.scheduling,
                )
                .await;
                match &mut line_outcome {
                    None => line_outcome = Some(outcome),
                    Some(total) => total.absorb(outcome),
                }
            }
            let (Some(line_outcome), Some(reference)) = (line_outcome, reference) else {
                continue;
            };
            let result = PairedResult {
                name: line.name,
                concurrency: c,
                reference_name: line.reference.name(),
                line: line_outcome,
                reference,
                target: line.target_levels.contains(&c).then_some(line.target),
            };
            println!(
                "  {:<36} c={c:<3} {:>9.0} req/s against {} {:.0}/s: {}",
                result.name,
                result.line.rate(),
                result.reference_name,
                result.reference.rate(),
                fmt(result.line.rate() / result.reference.rate())
            );
            results.push(result);
        }
    }
    results
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "-".into()
    }
}

fn verdict(result: &PairedResult) -> String {
    let Some(Target { rate, p99 }) = result.target else {
        return String::new();
    };
    if result.line.error_count() > 0 {
        return "missed (errors)".into();
    }
    let rate_ratio = result.line.rate() / result.reference.rate();
    let rate_met = rate_ratio >= rate;
    let p99_met = match (
        p99,
        result.line.percentile_ms(0.99),
        result.reference.p99_ms(),
    ) {
        (None, _, _) => true,
        (Some(limit), Some(x), Some(y)) => x / y <= limit,
        (Some(_), _, _) => false,
    };
    // A target of p99 alone has rate 0.
    let mut target = if rate > 0.0 {
        format!("≥ {rate}")
    } else {
        String::new()
    };
    if let Some(limit) = p99 {
        if !target.is_empty() {
            target.push_str(", ");
        }
        target.push_str(&format!("p99 ≤ {limit}x"));
    }
    format!(
        "{target}: {}",
        if rate_met && p99_met { "met" } else { "missed" }
    )
}

pub fn print_table(results: &[PairedResult], slicing: &Slicing) {
    if results.is_empty() {
        return;
    }
    println!(
        "\npaired: each line against its reference, alternating {} times in slices of {:.1} s ({:.2} s warm-up per load slice)",
        slicing.rounds,
        slicing.slice.as_secs_f64(),
        slicing.warmup.as_secs_f64()
    );
    println!(
        "| operation | conc | req/s | p99 ms | errors | reference | reference /s | reference p99 ms | req/s vs reference | p99 vs reference | target |"
    );
    println!("|---|--:|--:|--:|--:|---|--:|--:|--:|--:|---|");
    for r in results {
        let p99 = r.line.percentile_ms(0.99);
        let ref_p99 = r.reference.p99_ms();
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {:.0} | {} | {} | {} | {} |",
            r.name,
            r.concurrency,
            r.line.rate(),
            p99.map_or("-".into(), |v| format!("{v:.2}")),
            r.line.error_count(),
            r.reference_name,
            r.reference.rate(),
            ref_p99.map_or("-".into(), |v| format!("{v:.2}")),
            fmt(r.line.rate() / r.reference.rate()),
            match (p99, ref_p99) {
                (Some(x), Some(y)) => fmt(x / y),
                _ => "-".into(),
            },
            verdict(r),
        );
    }
}
