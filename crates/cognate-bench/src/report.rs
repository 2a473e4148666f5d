//! The table.

use crate::ceilings::Ceilings;
use crate::load::Outcome;

/// Which measured ceiling an operation is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceiling {
    None,
    /// RS512 signatures/s: operations that sign a token.
    Rs512,
    /// ES256 signatures/s: operations that sign a token with an ES256 key.
    Es256,
    /// SQLite single-row commits/s: operations that commit one row.
    Commit,
}

pub struct Row {
    pub name: &'static str,
    pub concurrency: usize,
    pub ceiling: Ceiling,
    pub is_baseline: bool,
    pub outcome: Outcome,
}

fn fmt_ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms < 10.0 => format!("{ms:.2}"),
        Some(ms) => format!("{ms:.1}"),
        None => "-".into(),
    }
}

fn fmt_ratio(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v < 0.1 {
        format!("{v:.3}")
    } else {
        format!("{v:.2}")
    }
}

/// The one error code if every error has it.
fn only_error(o: &Outcome) -> Option<&str> {
    let mut codes = o.errors.keys();
    let first = codes.next()?;
    codes.next().is_none().then_some(first.as_str())
}

fn status(o: &Outcome) -> Option<String> {
    if o.successes > 0 || o.error_count() == 0 {
        return None;
    }
    match only_error(o) {
        Some("NotImplementedException") => Some("not implemented".into()),
        Some(code) => Some(format!("all errors: {code}")),
        None => Some("all errors".into()),
    }
}

pub fn print_table(rows: &[Row], ceilings: &Ceilings) {
    let header = [
        "operation",
        "conc",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "server CPU µs/req",
        "client CPU µs/req",
        "req/s vs baseline",
        "p99 vs baseline",
        "req/s vs ceiling",
    ];
    let mut lines: Vec<[String; 11]> = Vec::new();
    for row in rows {
        let o = &row.outcome;
        let baseline = rows
            .iter()
            .find(|b| b.is_baseline && b.concurrency == row.concurrency)
            .map(|b| &b.outcome);
        let (rate_ratio, p99_ratio) = match baseline {
            Some(b) if o.successes > 0 => (
                fmt_ratio(o.rate() / b.rate()),
                match (o.percentile_ms(0.99), b.percentile_ms(0.99)) {
                    (Some(x), Some(y)) => fmt_ratio(x / y),
                    _ => "-".into(),
                },
            ),
            _ => ("-".into(), "-".into()),
        };
        let ceiling = match row.ceiling {
            _ if o.successes == 0 => "-".into(),
            Ceiling::None => "".into(),
            Ceiling::Rs512 => format!("{} of RS512", fmt_ratio(o.rate() / ceilings.rs512())),
            Ceiling::Es256 => format!("{} of ES256", fmt_ratio(o.rate() / ceilings.es256)),
            Ceiling::Commit => format!(
                "{} of commits, {} of 64-row batches",
                fmt_ratio(o.rate() / ceilings.commits()),
                fmt_ratio(o.rate() / ceilings.batched_rows())
            ),
        };
        let rate = match status(o) {
            Some(s) => s,
            None => format!("{:.0}", o.rate()),
        };
        lines.push([
            row.name.to_string(),
            row.concurrency.to_string(),
            rate,
            fmt_ms(o.percentile_ms(0.50)),
            fmt_ms(o.percentile_ms(0.99)),
            o.error_count().to_string(),
            o.server_cpu_micros()
                .map_or("-".into(), |us| format!("{us:.0}")),
            o.client_cpu_micros()
                .map_or("-".into(), |us| format!("{us:.0}")),
            rate_ratio,
            p99_ratio,
            ceiling,
        ]);
    }
    let mut widths = header.map(|h| h.chars().count());
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let mut out = String::from("|");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 || i == cells.len() - 1 {
                out.push_str(&format!(" {cell}{} |", " ".repeat(pad)));
            } else {
                out.push_str(&format!(" {}{cell} |", " ".repeat(pad)));
            }
        }
        out
    };
    println!("{}", render(header.to_vec()));
    let mut rule = String::from("|");
    for (i, w) in widths.iter().enumerate() {
        if i == 0 || i == widths.len() - 1 {
            rule.push_str(&format!("{}|", "-".repeat(w + 2)));
        } else {
            rule.push_str(&format!("{}:|", "-".repeat(w + 1)));
        }
    }
    println!("{rule}");
    for line in &lines {
        println!("{}", render(line.iter().map(String::as_str).collect()));
    }
    println!(
        "\nceilings: RS512 {:.0} signatures/s (best of: {}), RS512 {:.0} verifications/s, ES256 {:.0} signatures/s (aws-lc-rs, 2 threads)",
        ceilings.rs512(),
        ceilings
            .rs512_runs
            .iter()
            .map(|(when, v)| format!("{v:.0} {when}"))
            .collect::<Vec<_>>()
            .join(", "),
        ceilings.rs512_verify,
        ceilings.es256
    );
    for c in &ceilings.sqlite {
        println!(
            "          SQLite {}, {} CPUs: {:.0} commits/s (1 row each), {:.0} rows/s (64 rows per commit)",
            c.when,
            if c.busy { "busy" } else { "idle" },
            c.commits,
            c.batched_rows
        );
    }
    println!(
        "          GetId (new guest) is compared with {:.0} commits/s and {:.0} rows/s (best busy-CPU measurement around it)",
        ceilings.commits(),
        ceilings.batched_rows()
    );
}

/// The ES256 line next to its RS512 twin: the reason the setting exists.
pub fn print_es256_summary(rows: &[Row], ceilings: &Ceilings, es256: &str, rs512: &str) {
    for row in rows.iter().filter(|r| r.name == es256) {
        let o = &row.outcome;
        if o.successes == 0 {
            continue;
        }
        let at = |name: &str| {
            rows.iter()
                .find(|r| r.name == name && r.concurrency == row.concurrency)
                .map(|r| &r.outcome)
                .filter(|o| o.successes > 0)
        };
        let baseline = rows
            .iter()
            .find(|b| b.is_baseline && b.concurrency == row.concurrency)
            .map(|b| o.rate() / b.outcome.rate());
        println!(
            "{es256} c={}: {} of baseline (target 0.3), {} of the ES256 signing ceiling{}",
            row.concurrency,
            baseline.map_or("-".into(), fmt_ratio),
            fmt_ratio(o.rate() / ceilings.es256),
            at(rs512).map_or(String::new(), |r| format!(
                ", {:.1}× the req/s of {rs512} (RS512)",
                o.rate() / r.rate()
            )),
        );
    }
}

pub fn print_errors(rows: &[Row]) {
    let with_errors: Vec<&Row> = rows
        .iter()
        .filter(|r| r.outcome.error_count() > 0)
        .collect();
    if with_errors.is_empty() {
        return;
    }
    println!("\nerrors by code");
    for row in with_errors {
        let codes: Vec<String> = row
            .outcome
            .errors
            .iter()
            .map(|(code, n)| format!("{code} ×{n}"))
            .collect();
        println!("  {} c={}: {}", row.name, row.concurrency, codes.join(", "));
    }
}
