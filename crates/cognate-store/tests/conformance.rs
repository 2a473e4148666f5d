//! The store conformance suite against each engine.

mod sqlite {
    use std::sync::Arc;

    use cognate_core::store::Store;
    use cognate_store::sqlite::SqliteStore;
    use cognate_store::StoreOptions;

    async fn fresh() -> Option<Arc<dyn Store>> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/test.db", dir.path().display());
        let store = SqliteStore::open(&url, &StoreOptions::default()).await.unwrap();
        // The directory lives as long as the test process; tests are short.
        std::mem::forget(dir);
        Some(Arc::new(store))
    }

    cognate_store::conformance_tests!(fresh());
}

/// The same cases against PostgreSQL, when `COGNATE_TEST_POSTGRES_URL`
/// names a server (`scripts/pg-test-server` starts a throwaway one). Each
/// case gets a database of its own, so cases run in parallel. Without the
/// variable the cases do nothing, unless `COGNATE_TEST_REQUIRE_POSTGRES=1`
/// (as in CI), which makes them fail.
mod postgres {
    use std::hash::{BuildHasher, Hasher, RandomState};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use cognate_core::store::Store;
    use cognate_store::StoreOptions;
    use cognate_store::postgres::PostgresStore;
    use sqlx::{Connection, PgConnection};
    use tokio::sync::OnceCell;

    const URL_VAR: &str = "COGNATE_TEST_POSTGRES_URL";
    const REQUIRE_VAR: &str = "COGNATE_TEST_REQUIRE_POSTGRES";
    /// Test databases are named `cognate_t_<unix seconds>_<random>`.
    const PREFIX: &str = "cognate_t_";
    /// Test databases older than this are dropped by later runs.
    const STALE_AFTER: Duration = Duration::from_secs(3600);

    fn server_url() -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                    panic!(
                        "{REQUIRE_VAR}=1 but {URL_VAR} is not set: start a server with \
                         `scripts/pg-test-server` and export {URL_VAR}=<the URL it prints>"
                    );
                }
                None
            }
        }
    }

    /// The URL with its database (the path) replaced.
    fn with_database(url: &str, database: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let (scheme, rest) = base.split_once("://").expect("a URL with a scheme");
        let authority = rest.split_once('/').map_or(rest, |(authority, _)| authority);
        let mut out = format!("{scheme}://{authority}/{database}");
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        out
    }

    fn unique_name() -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u32(COUNTER.fetch_add(1, Ordering::Relaxed));
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        format!("{PREFIX}{secs}_{:016x}", hasher.finish())
    }

    /// Drops test databases that earlier runs left behind (once per run).
    async fn drop_stale_databases(admin: &mut PgConnection) {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                .bind(PREFIX)
                .fetch_all(&mut *admin)
                .await
                .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for name in names {
            let created = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|secs| secs.parse::<u64>().ok());
            if created.is_some_and(|created| created + STALE_AFTER.as_secs() < now) {
                // Best effort: another run may be dropping it too.
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut *admin)
                    .await;
            }
        }
    }

    /// A new, empty database on the test server; its URL.
    async fn fresh_database(url: &str) -> String {
        static CLEANED: OnceCell<()> = OnceCell::const_new();
        let mut admin = PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {URL_VAR}: {e}"));
        CLEANED
            .get_or_init(|| drop_stale_databases(&mut admin))
            .await;
        let name = unique_name();
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        with_database(url, &name)
    }

    async fn fresh() -> Option<Arc<dyn Store>> {
        let url = server_url()?;
        let database = fresh_database(&url).await;
        // Few connections per case: cases run in parallel on one server.
        let options = StoreOptions { max_connections: 4 };
        let store = PostgresStore::open(&database, &options).await.unwrap();
        Some(Arc::new(store))
    }

    cognate_store::conformance_tests!(fresh());

    /// Nodes starting together against one new database all migrate it
    /// without tripping over each other (no advisory lock is taken).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_opens_migrate_once() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let mut opens = Vec::new();
        for _ in 0..4 {
            let database = database.clone();
            opens.push(tokio::spawn(async move {
                PostgresStore::open(&database, &StoreOptions { max_connections: 2 }).await
            }));
        }
        for open in opens {
            let store = open.await.unwrap().unwrap();
            assert_eq!(store.get_setting("k").await.unwrap(), None);
        }
    }

    /// A wrong password never shows up in the error.
    #[tokio::test]
    async fn errors_do_not_reveal_the_password() {
        let Some(url) = server_url() else { return };
        let Some((scheme, rest)) = url.split_once("://") else { return };
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let secret = "s3cr3t-pa55word";
        let wrong = format!("{scheme}://nobody:{secret}@{host}");
        let error = match PostgresStore::open(&wrong, &StoreOptions::default()).await {
            Ok(_) => panic!("a connection as an unknown role succeeded"),
            Err(e) => e.to_string(),
        };
        assert!(!error.contains(secret), "{error}");
    }
}
