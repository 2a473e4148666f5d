//! `cognate-bench fill`: puts N synthetic guest identities into a pool of
//! an embedded (SQLite) store. The pool is created through the store (so
//! the schema is the server's, migrated by it); the rows go in through
//! rusqlite directly, 100,000 per transaction, ids sorted within each
//! transaction and a 1 GiB page cache, without fsync: a fixture for
//! measuring the server with a big table, not a durable write path.

use std::path::Path;
use std::time::Instant;

use cognate_core::ids::identity_id;
use cognate_core::model::Pool;
use cognate_core::store::Store;
use cognate_store::StoreOptions;
use cognate_store::sqlite::SqliteStore;

/// Identity ids kept from a fill, chosen uniformly (reservoir sampling).
pub const SAMPLE: usize = 4096;

pub struct FillReport {
    pub rows: u64,
    pub seconds: f64,
    /// Up to `SAMPLE` of the inserted ids, uniformly chosen.
    pub sample: Vec<String>,
}

impl FillReport {
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// xorshift64*: enough randomness for choosing a sample.
struct SampleRng(u64);

impl SampleRng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Inserts `count` guests into `pool_id` of the store in `data_dir`,
/// `batch` per transaction. With `create_pool`, a missing pool is created
/// (allowing guests, account 000000000000).
pub async fn fill(
    data_dir: &Path,
    pool_id: &str,
    count: u64,
    batch: usize,
    create_pool: bool,
    progress: bool,
) -> Result<FillReport, String> {
    let url = format!("sqlite://{}/cognate.db", data_dir.display());
    let store = SqliteStore::open(
        &url,
        &StoreOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("cannot open {url}: {e}"))?;
    let Some((region, _)) = pool_id.split_once(':') else {
        return Err(format!("'{pool_id}' is not a pool id (<region>:<uuid>)"));
    };
    let existing = store
        .get_pool(pool_id)
        .await
        .map_err(|e| format!("reading the pool: {e}"))?;
    if existing.is_none() {
        if !create_pool {
            return Err(format!(
                "no pool {pool_id} in {url}: create it through the server first, or pass --create-pool"
            ));
        }
        let now = unix_now();
        let pool = Pool {
            allow_unauthenticated: true,
            ..Pool::empty(pool_id, "000000000000", region, "filled", now)
        };
        store
            .insert_pool(&pool, usize::MAX)
            .await
            .map_err(|e| format!("creating the pool: {e}"))?;
    }
    drop(store);
    let path = data_dir.join("cognate.db");
    let (pool_id, region) = (pool_id.to_string(), region.to_string());
    tokio::task::spawn_blocking(move || {
        insert_rows(&path, &pool_id, &region, count, batch, progress)
    })
    .await
    .map_err(|e| format!("the fill thread: {e}"))?
}

fn insert_rows(
    path: &Path,
    pool_id: &str,
    region: &str,
    count: u64,
    batch: usize,
    progress: bool,
) -> Result<FillReport, String> {
    let sql = |e: rusqlite::Error| format!("SQLite: {e}");
    let conn = rusqlite::Connection::open(path).map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sql)?;
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576;")
        .map_err(sql)?;
    let started = Instant::now();
    let mut rng = SampleRng(unix_now() as u64 | 1);
    let mut sample = Vec::with_capacity(SAMPLE);
    let mut done = 0u64;
    let mut last_report = Instant::now();
    while done < count {
        let n = (count - done).min(batch as u64) as usize;
        let now = unix_now();
        let millis = (now as u64).saturating_mul(1000);
        let mut ids: Vec<String> = (0..n).map(|_| identity_id(region, millis)).collect();
        // Sorted, a transaction's inserts share index pages.
        ids.sort_unstable();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
        {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
                     VALUES (?1, ?2, ?3, ?3, 0, NULL, 1)",
                )
                .map_err(sql)?;
            for id in &ids {
                insert
                    .execute(rusqlite::params![id, pool_id, now])
                    .map_err(sql)?;
            }
        }
        conn.execute_batch("COMMIT").map_err(sql)?;
        for id in ids {
            done += 1;
            if sample.len() < SAMPLE {
                sample.push(id);
            } else {
                let slot = rng.below(done) as usize;
                if slot < SAMPLE {
                    sample[slot] = id;
                }
            }
        }
        if progress && last_report.elapsed().as_secs() >= 5 {
            last_report = Instant::now();
            eprintln!(
                "  {done} of {count} rows, {:.0} rows/s",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    // Leave the WAL small for the server that reads the file next.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .map_err(sql)?;
    Ok(FillReport {
        rows: done,
        seconds: started.elapsed().as_secs_f64(),
        sample,
    })
}
