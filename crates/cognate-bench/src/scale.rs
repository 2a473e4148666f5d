//! `cognate-bench scale`: GetCredentialsForIdentity (guest) with a small
//! and then a large number of identities in the embedded store, in one
//! run against one server, and the server's resident memory at each size.
//! Requests rotate over identities chosen uniformly from all the rows, so
//! lookups land all over the tables, as real clients' would.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use cognate_testkit::OidcProvider;
use serde_json::json;

use crate::children::{self, ADMIN_KEY_ID, ADMIN_SECRET, ChildServer};
use crate::client::Signer;
use crate::fill::{FillReport, fill};
use crate::{cognito_call, json_bodies, load, load_average, print_memory, secs, set_up};

#[derive(Args)]
pub struct ScaleArgs {
    /// Identities in the store for the second measurement.
    #[arg(long, default_value_t = 10_000_000)]
    identities: u64,
    /// Identities in the store for the first measurement.
    #[arg(long, default_value_t = 10_000)]
    small: u64,
    /// Seconds measured per line.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Connections [default: 16,64].
    #[arg(long, value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Where the temporary data directory is made [default: the system temp dir].
    #[arg(long)]
    tmp_dir: Option<PathBuf>,
    /// Run this `cognate` binary instead of re-executing this one.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// How the load generator's threads are scheduled on the cores they
    /// share with the server.
    #[arg(long, value_enum, default_value_t = load::ClientScheduling::Batch)]
    client_scheduling: load::ClientScheduling,
}

struct Measured {
    identities: u64,
    concurrency: usize,
    rate: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    errors: u64,
}

pub async fn run(args: ScaleArgs) {
    let duration = secs(args.duration);
    let warmup = Duration::from_secs(1);
    let levels = if args.concurrency.is_empty() {
        vec![16, 64]
    } else {
        args.concurrency.clone()
    };
    let tmp = match &args.tmp_dir {
        Some(dir) => tempfile::Builder::new()
            .prefix("cognate-scale-")
            .tempdir_in(dir),
        None => tempfile::Builder::new().prefix("cognate-scale-").tempdir(),
    }
    .expect("a temporary directory");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("the data directory");
    println!("cognate-bench scale");
    println!("  load average at the start: {}", load_average());
    println!(
        "  {} then {} identities; {} s measured after 1 s warm-up per line; concurrency {:?}",
        args.small,
        args.identities,
        duration.as_secs_f64(),
        levels
    );

    let idp = OidcProvider::start().await;
    let log = tmp.path().join("cognate.log");
    let cognate = children::start_cognate(
        "cognate",
        &data_dir,
        args.server_bin.as_ref(),
        &log,
        "RS512",
        "",
    )
    .await;
    let signer = Signer::new(ADMIN_KEY_ID, ADMIN_SECRET, cognate.addr);
    let fixture = set_up(cognate.addr, &signer, &idp).await;
    let present = fixture.guests.len() as u64 + 1;
    print_memory("after set-up", &cognate);

    let mut results = Vec::new();
    let small = grow(
        &data_dir,
        &fixture.pool_id,
        args.small.saturating_sub(present),
    )
    .await;
    // Measures at one size and answers the server's resident memory.
    let measure_at = async |sample: &[String], in_store: u64, results: &mut Vec<Measured>| {
        let scheduling = args.client_scheduling;
        let (warmup, duration) = (warmup, duration);
        measure(
            &cognate, &signer, sample, in_store, &levels, warmup, duration, scheduling, results,
        )
        .await;
        print_memory(&format!("at {in_store} identities"), &cognate);
        cognate.memory_kib().map(|(rss, _)| rss)
    };
    let mut in_store = present + small.rows;
    let small_rss = measure_at(&small.sample, in_store, &mut results).await;

    let large = grow(
        &data_dir,
        &fixture.pool_id,
        args.identities.saturating_sub(in_store),
    )
    .await;
    in_store += large.rows;
    let db_bytes: u64 = ["cognate.db", "cognate.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data_dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  database file: {:.2} GiB",
        db_bytes as f64 / (1024.0 * 1024.0 * 1024.0)
    );
    // The sample of the large fill covers all but the first rows.
    let large_rss = measure_at(&large.sample, in_store, &mut results).await;

    println!("\n| identities | c | req/s | p50 ms | p99 ms | errors | x the small store |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for m in &results {
        let reference = results
            .iter()
            .find(|r| r.concurrency == m.concurrency)
            .map_or(f64::NAN, |r| r.rate);
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {:.2} |",
            m.identities,
            m.concurrency,
            m.rate,
            ms(m.p50),
            ms(m.p99),
            m.errors,
            m.rate / reference
        );
    }
    let mib =
        |kib: Option<u64>| kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "\nserver resident memory: {} at the small size, {} at {in_store} identities (target < 150 MiB)",
        mib(small_rss),
        mib(large_rss)
    );
    println!("load average at the end: {}", load_average());
    cognate.stop();
    drop(idp);
}

async fn grow(data_dir: &std::path::Path, pool_id: &str, count: u64) -> FillReport {
    let started = Instant::now();
    let report = fill(data_dir, pool_id, count, 100_000, false, true)
        .await
        .expect("filling the store");
    println!(
        "  fill: {} identities in {:.1} s ({:.0} rows/s)",
        report.rows,
        started.elapsed().as_secs_f64(),
        report.rate()
    );
    report
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    cognate: &ChildServer,
    signer: &Signer,
    sample: &[String],
    identities: u64,
    levels: &[usize],
    warmup: Duration,
    duration: Duration,
    scheduling: load::ClientScheduling,
    results: &mut Vec<Measured>,
) {
    let bodies = json_bodies(sample.iter().map(|id| json!({"IdentityId": id})));
    for &c in levels {
        let make = cognito_call(signer, "GetCredentialsForIdentity", bodies.clone(), false);
        let outcome = load::run(
            cognate.addr,
            make,
            c,
            warmup,
            duration,
            cognate.pid(),
            scheduling,
        )
        .await;
        println!(
            "  GetCredentialsForIdentity (guest) at {identities} identities c={c:<3} {:>8.0} req/s  {} errors",
            outcome.rate(),
            outcome.error_count()
        );
        results.push(Measured {
            identities,
            concurrency: c,
            rate: outcome.rate(),
            p50: outcome.percentile_ms(0.5),
            p99: outcome.percentile_ms(0.99),
            errors: outcome.error_count(),
        });
    }
}
