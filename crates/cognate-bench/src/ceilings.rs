//! What the hardware allows, measured in the same run: token signing
//! (RS512 as cognate signs its OpenID tokens, and ES256 for comparison) on
//! two threads, and SQLite commits on the disk of the server's data
//! directory with the store's settings (WAL, synchronous=FULL).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub struct Ceilings {
    /// RSA-2048 PKCS#1 v1.5 SHA-512 signatures per second, 2 threads.
    /// Measured at the start, and again around the operations compared
    /// with it; the best counts (see [`Ceilings::rs512`]).
    pub rs512_runs: Vec<(&'static str, f64)>,
    /// RS512 verifications per second, 2 threads (what checking a
    /// cognate token costs, e.g. in AssumeRoleWithWebIdentity).
    pub rs512_verify: f64,
    /// ECDSA P-256 SHA-256 signatures per second, 2 threads.
    pub es256: f64,
    /// SQLite measurements: when, single-row commits/s, rows/s in
    /// 64-row transactions.
    pub sqlite: Vec<SqliteCeiling>,
}

pub struct SqliteCeiling {
    pub when: &'static str,
    /// Measured while two threads kept both cores busy (yielding to any
    /// other thread), as they are under load: on a VM an idle vCPU wakes
    /// up late for I/O completions, and fsync looks several times slower
    /// than it is for a busy server.
    pub busy: bool,
    pub commits: f64,
    pub batched_rows: f64,
}

impl Ceilings {
    /// The RS512 signing rate operations are compared with: the best
    /// measurement (other work on a shared machine only lowers it).
    pub fn rs512(&self) -> f64 {
        self.rs512_runs.iter().map(|r| r.1).fold(f64::NAN, f64::max)
    }

    /// The single-row commit rate operations are compared with: the best
    /// busy-CPU measurement taken right around them (fsync latency on a
    /// shared disk drifts), else the busy one at the start.
    pub fn commits(&self) -> f64 {
        self.near(|c| c.commits)
    }

    /// Rows per second in 64-row transactions, chosen like `commits`.
    pub fn batched_rows(&self) -> f64 {
        self.near(|c| c.batched_rows)
    }

    fn near(&self, value: impl Fn(&SqliteCeiling) -> f64) -> f64 {
        let near: Vec<f64> = self
            .sqlite
            .iter()
            .filter(|c| c.busy && c.when != "at the start")
            .map(&value)
            .collect();
        if near.is_empty() {
            self.sqlite.iter().find(|c| c.busy).map_or(f64::NAN, value)
        } else {
            near.into_iter().fold(f64::NAN, f64::max)
        }
    }
}

/// A typical signing input: base64url header and claims of a cognate token.
fn signing_input() -> Vec<u8> {
    let header = r#"eyJraWQiOiJjb2duYXRlLTAxMjM0NTY3ODlhYiIsInR5cCI6IkpXUyIsImFsZyI6IlJTNTEyIn0"#;
    let claims = serde_json::json!({
        "sub": "us-east-1:7d2b1a4e-3f7c-4c1e-9a51-2f0b6c9d8e77",
        "aud": "us-east-1:0c6f9e1a-8b2d-4f3e-a7c5-1d9e2b3f4a5c",
        "amr": ["unauthenticated"],
        "iss": "http://127.0.0.1:8085",
        "exp": 1_900_000_600,
        "iat": 1_900_000_000,
    })
    .to_string();
    format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.as_bytes())).into_bytes()
}

/// Runs `op` on two threads for `time`; operations per second in total.
/// Slices a ceiling is measured in; the best slice counts, since other
/// work on a shared machine can only lower a rate.
const SLICES: u32 = 5;

fn on_two_threads(time: Duration, op: impl Fn() + Sync) -> f64 {
    (0..SLICES)
        .map(|_| on_two_threads_once(time / SLICES, &op))
        .fold(0.0, f64::max)
}

fn on_two_threads_once(time: Duration, op: &(impl Fn() + Sync)) -> f64 {
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < time {
                        op();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a ceiling thread"))
            .sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

pub fn rs512(time: Duration) -> f64 {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
    let input = signing_input();
    let rng = SystemRandom::new();
    on_two_threads(time, || sign_rs512(&pair, &rng, &input))
}

/// One RS512 signature, as `KeyRing::sign` makes it.
fn sign_rs512(pair: &RsaKeyPair, rng: &SystemRandom, input: &[u8]) {
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA512, rng, input, &mut sig)
        .expect("RSA signing");
}

pub fn rs512_verify(time: Duration) -> f64 {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
    let input = signing_input();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA512,
        &SystemRandom::new(),
        &input,
        &mut sig,
    )
    .expect("RSA signing");
    let public = signature::UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA512,
        pair.public_key().as_ref().to_vec(),
    );
    on_two_threads(time, || {
        public.verify(&input, &sig).expect("RSA verification");
    })
}

pub fn es256(time: Duration) -> f64 {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("an EC key");
    let pair =
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("the EC key parses");
    let input = signing_input();
    on_two_threads(time, || {
        pair.sign(&rng, &input).expect("ECDSA signing");
    })
}

/// Commits per second of one INSERT per transaction, then rows per second
/// with 64 INSERTs per transaction, into a table shaped like `identities`
/// in a fresh database in `dir`. Through rusqlite on this thread, as the
/// store's writer thread does: nothing but SQLite and the disk.
pub async fn sqlite(dir: &Path, time: Duration) -> (f64, f64) {
    let path = dir.join("ceiling.db");
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(&path).expect("a SQLite connection");
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .expect("WAL mode");
        assert!(
            mode.eq_ignore_ascii_case("wal"),
            "journal_mode stayed {mode}"
        );
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             CREATE TABLE identities (
                id TEXT PRIMARY KEY NOT NULL, pool_id TEXT NOT NULL, created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
                merged_into TEXT, version INTEGER NOT NULL) WITHOUT ROWID;
             CREATE INDEX identities_by_pool ON identities (pool_id, id);",
        )
        .expect("create table");
        // Grow the WAL to its working size first (it wraps after the
        // automatic checkpoint at 1000 pages and is reused, not truncated):
        // commits that extend the file also flush its size, which a running
        // server's commits rarely do. 300 commits of 64 rows wrap it.
        for _ in 0..300 {
            insert_rate(&conn, 64, Duration::ZERO);
        }
        let mut single: f64 = 0.0;
        let mut batched: f64 = 0.0;
        for _ in 0..SLICES {
            single = single.max(insert_rate(&conn, 1, time / SLICES));
            batched = batched.max(insert_rate(&conn, 64, time / SLICES));
        }
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        (single, batched)
    })
    .await
    .expect("the SQLite ceiling")
}

/// Rows per second inserted `batch` to a transaction, for `time`.
fn insert_rate(conn: &rusqlite::Connection, batch: usize, time: Duration) -> f64 {
    let pool = "us-east-1:0c6f9e1a-8b2d-4f3e-a7c5-1d9e2b3f4a5c";
    let insert = "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
                  VALUES (?1, ?2, 1, 1, 0, NULL, 1)";
    let started = Instant::now();
    let mut rows = 0u64;
    loop {
        conn.execute_batch("BEGIN").expect("begin");
        for _ in 0..batch {
            conn.prepare_cached(insert)
                .expect("prepare")
                .execute([
                    format!("us-east-1:{}", uuid::Uuid::new_v4()),
                    pool.to_string(),
                ])
                .expect("insert");
        }
        conn.execute_batch("COMMIT").expect("commit");
        rows += batch as u64;
        if started.elapsed() >= time {
            break;
        }
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

pub async fn measure(dir: &Path, time: Duration) -> Ceilings {
    let rs512 = tokio::task::spawn_blocking(move || rs512(time))
        .await
        .expect("RS512 ceiling");
    let rs512_verify = tokio::task::spawn_blocking(move || rs512_verify(time))
        .await
        .expect("RS512 verification ceiling");
    let es256 = tokio::task::spawn_blocking(move || es256(time))
        .await
        .expect("ES256 ceiling");
    let sqlite = vec![
        measure_sqlite(dir, time, "at the start", false).await,
        measure_sqlite(dir, time, "at the start", true).await,
    ];
    Ceilings {
        rs512_runs: vec![("at the start", rs512)],
        rs512_verify,
        es256,
        sqlite,
    }
}

/// RS512 signatures per second on two threads, off the async runtime.
pub async fn measure_rs512(time: Duration) -> f64 {
    tokio::task::spawn_blocking(move || rs512(time))
        .await
        .expect("RS512 ceiling")
}

/// RS512 signatures per second on two threads over all of `time` (not the
/// best slice): the paired measurements compare averages with averages.
pub async fn measure_rs512_average(time: Duration) -> f64 {
    // One key for all slices: generating one takes longer than a slice.
    static PAIR: std::sync::LazyLock<RsaKeyPair> =
        std::sync::LazyLock::new(|| RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key"));
    tokio::task::spawn_blocking(move || {
        let pair = &*PAIR;
        let input = signing_input();
        let rng = SystemRandom::new();
        on_two_threads_once(time, &|| sign_rs512(pair, &rng, &input))
    })
    .await
    .expect("RS512 ceiling")
}

pub async fn measure_sqlite(
    dir: &Path,
    time: Duration,
    when: &'static str,
    busy: bool,
) -> SqliteCeiling {
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..if busy { 2 } else { 0 })
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // Busy, but giving way to any runnable thread (SQLite's).
                while !stop.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let (commits, batched_rows) = sqlite(dir, time).await;
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().expect("a spinner thread");
    }
    SqliteCeiling {
        when,
        busy,
        commits,
        batched_rows,
    }
}
