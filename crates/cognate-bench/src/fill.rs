//! `cognate-bench fill`: puts N synthetic guest identities into a pool of
//! an embedded (SQLite) store, through the store's own `insert_guests`, in
//! large transactions. For measuring the server with a big table.

use std::path::Path;
use std::time::Instant;

use cognate_core::ids::regional_uuid;
use cognate_core::model::Pool;
use cognate_core::store::{NewIdentity, Store};
use cognate_store::StoreOptions;
use cognate_store::sqlite::SqliteStore;

pub struct FillReport {
    pub rows: u64,
    pub seconds: f64,
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
    let store = SqliteStore::open(&url, &StoreOptions { max_connections: 1 })
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
            id: pool_id.to_string(),
            account: "000000000000".into(),
            region: region.to_string(),
            name: "filled".into(),
            allow_unauthenticated: true,
            allow_classic_flow: None,
            supported_login_providers: Default::default(),
            developer_provider_name: None,
            open_id_connect_provider_arns: Vec::new(),
            cognito_identity_providers: Vec::new(),
            saml_provider_arns: Vec::new(),
            tags: Default::default(),
            roles: Default::default(),
            role_mappings: Default::default(),
            principal_tag_maps: Default::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        store
            .insert_pool(&pool, usize::MAX)
            .await
            .map_err(|e| format!("creating the pool: {e}"))?;
    }
    let started = Instant::now();
    let mut done = 0u64;
    let mut last_report = Instant::now();
    while done < count {
        let n = (count - done).min(batch as u64) as usize;
        let now = unix_now();
        let identities: Vec<NewIdentity> = (0..n)
            .map(|_| NewIdentity {
                id: regional_uuid(region),
                pool_id: pool_id.to_string(),
                created_at: now,
            })
            .collect();
        store
            .insert_guests(&identities)
            .await
            .map_err(|e| format!("inserting guests: {e}"))?;
        done += n as u64;
        if progress && last_report.elapsed().as_secs() >= 5 {
            last_report = Instant::now();
            eprintln!(
                "  {done} of {count} rows, {:.0} rows/s",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(FillReport {
        rows: done,
        seconds: started.elapsed().as_secs_f64(),
    })
}
