//! The store conformance suite against each engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod sqlite {
    use std::sync::Arc;

    use cognate_core::store::Store;
    use cognate_store::StoreOptions;
    use cognate_store::sqlite::SqliteStore;

    /// A store in a temporary directory, which is removed when the
    /// returned `TempDir` is dropped at the end of the test.
    async fn fresh() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/test.db", dir.path().display());
        let store = SqliteStore::open(&url, &StoreOptions::default())
            .await
            .unwrap();
        Some((Arc::new(store), dir))
    }

    cognate_store::conformance_tests!(fresh());

    /// Concurrent writes share group commits; a failing one (a duplicate
    /// id) must fail alone and leave nothing, while the others land.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_does_not_fail_its_group() {
        use cognate_core::store::{NewIdentity, StoreError};

        let (store, _dir) = fresh().await.unwrap();
        let pool = cognate_store::conformance::pool("us-east-1:group", "000000000000");
        store.insert_pool(&pool, 10).await.unwrap();
        let guest = |i: usize| NewIdentity {
            id: format!("us-east-1:guest-{i}"),
            pool_id: pool.id.clone(),
            created_at: 1,
        };
        store.insert_guests(&[guest(0)]).await.unwrap();
        let mut tasks = Vec::new();
        for i in 1..200 {
            let store = store.clone();
            // Every tenth request also carries the existing guest 0.
            let batch = if i % 10 == 0 {
                vec![guest(i), guest(0)]
            } else {
                vec![guest(i)]
            };
            tasks.push(tokio::spawn(async move {
                (i, store.insert_guests(&batch).await)
            }));
        }
        for task in tasks {
            let (i, result) = task.await.unwrap();
            let stored = store.get_identity(&guest(i).id).await.unwrap();
            if i % 10 == 0 {
                assert!(
                    matches!(result, Err(StoreError::Conflict(_))),
                    "{i}: {result:?}"
                );
                assert!(stored.is_none(), "{i}: a failed write left its first row");
            } else {
                assert_eq!(result, Ok(()), "{i}");
                assert!(stored.is_some(), "{i}: an acknowledged guest is missing");
            }
        }
    }
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

    use cognate_core::model::{Login, Pool};
    use cognate_core::store::{IdentityChanges, NewIdentity, Store, StoreError};
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
        let authority = rest
            .split_once('/')
            .map_or(rest, |(authority, _)| authority);
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

    async fn fresh() -> Option<(Arc<dyn Store>, ())> {
        let url = server_url()?;
        let database = fresh_database(&url).await;
        // Few connections per case: cases run in parallel on one server.
        let options = StoreOptions {
            max_connections: 4,
            ..Default::default()
        };
        let store = PostgresStore::open(&database, &options).await.unwrap();
        Some((Arc::new(store), ()))
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
                PostgresStore::open(
                    &database,
                    &StoreOptions {
                        max_connections: 2,
                        ..Default::default()
                    },
                )
                .await
            }));
        }
        for open in opens {
            let store = open.await.unwrap().unwrap();
            assert_eq!(store.get_setting("k").await.unwrap(), None);
        }
    }

    /// Stress beyond the shared suite: many nodes creating pools in one
    /// account and region at once never exceed the limit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_pool_inserts_respect_the_limit() {
        let Some((store, _held)) = fresh().await else {
            return;
        };
        let mut tasks = Vec::new();
        for i in 0..24 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut pool = test_pool(&format!("us-east-1:{i:02}"));
                if i % 2 == 0 {
                    pool.region = "eu-west-1".into();
                }
                store.insert_pool(&pool, 5).await
            }));
        }
        let mut inserted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => inserted += 1,
                Err(StoreError::LimitExceeded(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(inserted, 10);
        for region in ["us-east-1", "eu-west-1"] {
            assert_eq!(
                store
                    .list_pools("111", region, None, 100)
                    .await
                    .unwrap()
                    .len(),
                5
            );
        }
    }

    /// Stress beyond the shared suite: read-decide-write loops lose no
    /// update. Each change advances a counter kept in `updated_at` of one
    /// identity, on condition that it and a second identity (named first
    /// or second) are unchanged; the store retries deadlocks and
    /// serialization failures itself, so nothing but `Conflict` comes back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_versioned_changes_lose_no_update() {
        let Some((store, _held)) = fresh().await else {
            return;
        };
        let pool_id = "us-east-1:p";
        let ids: Vec<String> = (0..4).map(|i| format!("us-east-1:i{i}")).collect();
        let guests: Vec<NewIdentity> = ids
            .iter()
            .map(|id| NewIdentity {
                id: id.clone(),
                pool_id: pool_id.into(),
                created_at: 0,
            })
            .collect();
        store.insert_guests(&guests).await.unwrap();
        const ROUNDS: i64 = 10;
        let mut tasks = Vec::new();
        for t in 0..8usize {
            let store = store.clone();
            let counter = ids[t % 4].clone();
            let other = ids[(t + 1) % 4].clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    loop {
                        let seen = store.get_identity(&counter).await.unwrap().unwrap();
                        let also = store.get_identity(&other).await.unwrap().unwrap();
                        let mut expect_versions = vec![
                            (counter.clone(), seen.version),
                            (other.clone(), also.version),
                        ];
                        if t % 2 == 1 {
                            expect_versions.reverse();
                        }
                        let change = IdentityChanges {
                            pool_id: pool_id.into(),
                            now: seen.updated_at + 1,
                            expect_versions,
                            touch: vec![counter.clone()],
                            ..Default::default()
                        };
                        match store.apply_identity_changes(&change).await {
                            Ok(()) => break,
                            Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                            Err(other) => panic!("unexpected error {other:?}"),
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        // Each identity is the counter of two tasks.
        for id in &ids {
            let identity = store.get_identity(id).await.unwrap().unwrap();
            assert_eq!(identity.updated_at, 2 * ROUNDS, "{id}");
            assert_eq!(identity.version, 1 + 2 * ROUNDS, "{id}");
        }
    }

    /// Stress beyond the shared suite: deleting a pool while its
    /// identities are being changed leaves none of them, and no login,
    /// behind (a change either lands before the delete or fails).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_a_pool_under_concurrent_changes() {
        let Some((store, _held)) = fresh().await else {
            return;
        };
        let pool = test_pool("us-east-1:p");
        store.insert_pool(&pool, 5).await.unwrap();
        let ids: Vec<String> = (0..4).map(|i| format!("us-east-1:i{i}")).collect();
        for id in &ids {
            store
                .apply_identity_changes(&IdentityChanges {
                    pool_id: pool.id.clone(),
                    now: 1,
                    create: Some(NewIdentity {
                        id: id.clone(),
                        pool_id: pool.id.clone(),
                        created_at: 1,
                    }),
                    links: vec![(id.clone(), login("dev", id))],
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for (t, id) in ids.iter().enumerate() {
            let (store, pool_id, id) = (store.clone(), pool.id.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                for round in 0..25 {
                    let change = IdentityChanges {
                        pool_id: pool_id.clone(),
                        now: 2,
                        links: vec![(id.clone(), login("dev", &format!("{t}-{round}")))],
                        ..Default::default()
                    };
                    match store.apply_identity_changes(&change).await {
                        Ok(()) | Err(StoreError::Conflict(_)) => {}
                        Err(other) => panic!("unexpected error {other:?}"),
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(store.delete_pool(&pool.id).await.unwrap());
        for task in tasks {
            task.await.unwrap();
        }
        assert!(
            store
                .list_identities(&pool.id, false, None, 100)
                .await
                .unwrap()
                .is_empty()
        );
        let mut logins: Vec<Login> = ids.iter().map(|id| login("dev", id)).collect();
        for t in 0..4 {
            logins.extend((0..25).map(|round| login("dev", &format!("{t}-{round}"))));
        }
        assert_eq!(
            store.find_login_owners(&pool.id, &logins).await.unwrap(),
            vec![]
        );
    }

    /// Connections killed under the store (a failover, a restart, an
    /// administrator) are replaced and the interrupted work is retried;
    /// only a connection lost while committing may surface, as an error
    /// that says so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_connections_are_retried() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let store = PostgresStore::open(
            &database,
            &StoreOptions {
                max_connections: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let name = database.rsplit('/').next().unwrap().to_string();
        let killer = tokio::spawn(async move {
            let mut admin = PgConnection::connect(&url).await.unwrap();
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(15)).await;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(&name)
                .execute(&mut admin)
                .await
                .unwrap();
            }
        });
        let mut unknown = 0;
        for i in 0..300 {
            let result = store.init_setting(&format!("k{i}"), b"v").await;
            match result {
                Ok(value) => assert_eq!(value, b"v"),
                Err(StoreError::Backend(e)) if e.contains("may or may not") => unknown += 1,
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        killer.await.unwrap();
        assert!(unknown < 20, "{unknown} commits with an unknown outcome");
    }

    /// The reads each request starts with share a few pipelined
    /// connections: killed under many concurrent readers, they are opened
    /// anew and every read answers, with what was committed before it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_reads_survive_killed_connections() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let store = Arc::new(
            PostgresStore::open(
                &database,
                &StoreOptions {
                    max_connections: 8,
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        );
        let pool = test_pool("us-east-1:pipelined");
        store.insert_pool(&pool, 1000).await.unwrap();
        let id = "us-east-1:00000000-0000-0000-0000-00000000beef";
        store
            .insert_guests(&[NewIdentity {
                id: id.into(),
                pool_id: pool.id.clone(),
                created_at: 5,
            }])
            .await
            .unwrap();
        let generation = store.config_generation().await.unwrap();
        let name = database.rsplit('/').next().unwrap().to_string();
        let killer = tokio::spawn(async move {
            let mut admin = PgConnection::connect(&url).await.unwrap();
            let mut killed = 0i64;
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(15)).await;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
                killed += n;
            }
            killed
        });
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let (seen, identity) = store.generation_and_identity(id).await.unwrap();
                        assert_eq!(seen, generation);
                        assert_eq!(identity.expect("the guest").pool_id, "us-east-1:pipelined");
                        assert_eq!(store.config_generation().await.unwrap(), generation);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.await.unwrap();
        }
        assert!(killer.await.unwrap() > 0, "no connection was killed");
        // A change committed afterwards is seen by the next read.
        let mut changed = pool.clone();
        changed.name = "renamed".into();
        changed.version = pool.version + 1;
        store.update_pool(&changed, pool.version).await.unwrap();
        assert!(store.config_generation().await.unwrap() > generation);
        let (after, _) = store.generation_and_identity(id).await.unwrap();
        assert!(after > generation);
    }

    /// A quiet node gives its connections back: the pipelined ones and the
    /// pool's close after the idle timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_closed() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let store = PostgresStore::open(
            &database,
            &StoreOptions {
                max_connections: 8,
                idle_timeout: Duration::from_millis(300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let pool = test_pool("us-east-1:idle");
        store.insert_pool(&pool, 1000).await.unwrap();
        for _ in 0..20 {
            store.config_generation().await.unwrap();
            store.get_pool(&pool.id).await.unwrap().unwrap();
        }
        let name = database.rsplit('/').next().unwrap().to_string();
        let mut admin = PgConnection::connect(&url).await.unwrap();
        let backends = async |admin: &mut PgConnection| -> i64 {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&name)
            .fetch_one(admin)
            .await
            .unwrap()
        };
        assert!(backends(&mut admin).await > 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let open = backends(&mut admin).await;
            if open == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{open} connections still open 10 s after the last read"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // And the next read opens what it needs again.
        assert_eq!(store.get_pool(&pool.id).await.unwrap().unwrap().id, pool.id);
    }

    /// Sends `signal` (`STOP`, `CONT`) to a process of the test server;
    /// false when it cannot (a server on another host or user).
    fn signal(pid: i32, signal: &str) -> bool {
        std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Resumes a stopped process however the test ends.
    struct Resume(i32);

    impl Drop for Resume {
        fn drop(&mut self) {
            signal(self.0, "CONT");
        }
    }

    /// A pipelined connection whose backend stops answering (a stalled
    /// host, a network that drops the packets) is given up once a read on
    /// it is abandoned at the operation timeout, as sqlx's pool does with
    /// one of its own: the following reads go to a connection opened anew
    /// instead of waiting on it, one operation timeout each, for ever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_pipelined_connection_is_replaced() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let store = PostgresStore::open(
            &database,
            &StoreOptions {
                // One pipelined connection.
                max_connections: 4,
                acquire_timeout: Duration::from_millis(500),
                operation_timeout: Some(Duration::from_millis(500)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let generation = store.config_generation().await.unwrap();
        let name = database.rsplit('/').next().unwrap().to_string();
        let mut admin = PgConnection::connect(&url).await.unwrap();
        let pid: i32 = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 \
             AND query = 'SELECT value FROM config_generation WHERE id = 1'",
        )
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if !signal(pid, "STOP") {
            eprintln!("skipped: cannot stop the test server's backends");
            return;
        }
        let _resume = Resume(pid);
        // The read sent to the stopped backend is abandoned.
        assert!(store.config_generation().await.is_err());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match store.config_generation().await {
                Ok(seen) => {
                    assert_eq!(seen, generation);
                    break;
                }
                Err(e) => assert!(
                    std::time::Instant::now() < deadline,
                    "reads still fail 5 s after their connection stalled: {e}"
                ),
            }
        }
    }

    /// Readers queued behind the opening of a pipelined connection wait no
    /// longer than the acquire timeout in all, as for a pool's
    /// connection: not one acquire timeout per reader ahead of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_a_pipelined_connection_waits_at_most_the_acquire_timeout() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let acquire_timeout = Duration::from_millis(400);
        let store = Arc::new(
            PostgresStore::open(
                &database,
                &StoreOptions {
                    // One pipelined connection, not opened yet.
                    max_connections: 4,
                    acquire_timeout,
                    operation_timeout: Some(Duration::from_secs(10)),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        );
        let mut admin = PgConnection::connect(&url).await.unwrap();
        let data: String = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(&mut admin)
            .await
            .unwrap();
        let Some(postmaster) = std::fs::read_to_string(format!("{data}/postmaster.pid"))
            .ok()
            .and_then(|pid| pid.lines().next()?.trim().parse::<i32>().ok())
        else {
            eprintln!("skipped: the test server's data directory is not readable");
            return;
        };
        // New connections are accepted by the kernel, never answered.
        if !signal(postmaster, "STOP") {
            eprintln!("skipped: cannot stop the test server");
            return;
        }
        let resume = Resume(postmaster);
        let readers: Vec<_> = (0..6)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let outcome = store.config_generation().await;
                    (started.elapsed(), outcome.is_ok())
                })
            })
            .collect();
        let mut waits = Vec::new();
        for reader in readers {
            waits.push(reader.await.unwrap());
        }
        drop(resume);
        for (waited, ok) in &waits {
            assert!(!ok, "a read answered while the server was stopped");
            assert!(
                *waited < acquire_timeout * 2,
                "a reader waited {waited:?} for a connection (acquire timeout {acquire_timeout:?}): {waits:?}"
            );
        }
    }

    /// The pipelined connections get what the pool's do: the lock and
    /// statement timeouts (a read of a locked table fails in time, saying
    /// why) and the URL's application name and options.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_connections_have_the_pools_settings() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        let with_settings =
            format!("{database}?application_name=cognate_piped&options=-c%20work_mem%3D7MB");
        let store = PostgresStore::open(
            &with_settings,
            &StoreOptions {
                max_connections: 4,
                statement_timeout: Some(Duration::from_millis(4321)),
                lock_timeout: Some(Duration::from_millis(300)),
                // Fails the test, rather than hanging it, without them.
                operation_timeout: Some(Duration::from_secs(5)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let id = "us-east-1:00000000-0000-0000-0000-0000000000aa";
        assert!(store.generation_and_identity(id).await.unwrap().1.is_none());
        let name = database.rsplit('/').next().unwrap().to_string();
        let mut admin = PgConnection::connect(&url).await.unwrap();
        let application: String = sqlx::query_scalar(
            "SELECT application_name FROM pg_stat_activity WHERE datname = $1 \
             AND query LIKE 'SELECT g.value AS generation%'",
        )
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert_eq!(application, "cognate_piped");
        // Without a lock timeout, the statement timeout cuts the wait.
        let statement_bound = PostgresStore::open(
            &with_settings,
            &StoreOptions {
                max_connections: 4,
                statement_timeout: Some(Duration::from_millis(300)),
                operation_timeout: Some(Duration::from_secs(5)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        statement_bound.config_generation().await.unwrap();

        let mut holder = PgConnection::connect(&database).await.unwrap();
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")
            .execute(&mut holder)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let error = store.generation_and_identity(id).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered after {:?}",
            started.elapsed()
        );
        assert!(error.to_string().contains("lock timeout"), "{error}");
        let started = std::time::Instant::now();
        let error = statement_bound
            .generation_and_identity(id)
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered after {:?}",
            started.elapsed()
        );
        assert!(error.to_string().contains("statement timeout"), "{error}");
        drop(holder);
        assert!(store.generation_and_identity(id).await.unwrap().1.is_none());
    }

    /// When PostgreSQL has no connection to spare for a pipelined one (here
    /// the role's connection limit, SQLSTATE 53300 as for a full server),
    /// the read is served by the pool's connection instead of failing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_with_no_room_for_a_pipelined_connection_uses_the_pool() {
        let Some(url) = server_url() else { return };
        let database = fresh_database(&url).await;
        // Migrated by the superuser; then a role allowed one connection.
        let owner = PostgresStore::open(&database, &StoreOptions::default())
            .await
            .unwrap();
        drop(owner);
        let role = format!("lim_{}", database.rsplit('/').next().unwrap());
        let mut admin = PgConnection::connect(&database).await.unwrap();
        for statement in [
            format!("CREATE ROLE \"{role}\" LOGIN CONNECTION LIMIT 1"),
            format!("GRANT ALL ON SCHEMA public TO \"{role}\""),
            format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO \"{role}\""),
            format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO \"{role}\""),
        ] {
            sqlx::query(&statement).execute(&mut admin).await.unwrap();
        }
        let limited = {
            let (scheme, rest) = database.split_once("://").unwrap();
            let rest = rest.split_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{role}@{rest}")
        };
        let store = PostgresStore::open(
            &limited,
            &StoreOptions {
                // One pipelined connection and a pool of one: the pool
                // waits for its connection rather than open another.
                max_connections: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // The migrations' connection (closed by then) has left.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let open: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = $1")
                    .bind(&role)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if open == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{open} connections left"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The pool's connection takes the role's one.
        let pool = test_pool("us-east-1:noroom");
        store.insert_pool(&pool, 1000).await.unwrap();
        let generation = store.config_generation().await.unwrap();
        assert!(generation > 0);
        assert_eq!(
            store.get_pool(&pool.id).await.unwrap().map(|p| p.id),
            Some(pool.id.clone())
        );
        let (seen, identity) = store
            .generation_and_identity("us-east-1:none")
            .await
            .unwrap();
        assert_eq!((seen, identity), (generation, None));
        drop(store);
        tokio::time::sleep(Duration::from_millis(200)).await;
        sqlx::query(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
        ))
        .execute(&mut admin)
        .await
        .unwrap();
    }

    fn login(provider: &str, subject: &str) -> Login {
        Login {
            provider: provider.into(),
            subject: subject.into(),
        }
    }

    fn test_pool(id: &str) -> Pool {
        Pool {
            id: id.into(),
            account: "111".into(),
            region: "us-east-1".into(),
            name: "stress".into(),
            allow_unauthenticated: true,
            allow_classic_flow: None,
            supported_login_providers: Default::default(),
            developer_provider_name: None,
            open_id_connect_provider_arns: vec![],
            cognito_identity_providers: vec![],
            saml_provider_arns: vec![],
            tags: Default::default(),
            roles: Default::default(),
            role_mappings: Default::default(),
            principal_tag_maps: Default::default(),
            created_at: 1,
            updated_at: 1,
            version: 1,
        }
    }

    /// A wrong password never shows up in the error.
    #[tokio::test]
    async fn errors_do_not_reveal_the_password() {
        let Some(url) = server_url() else { return };
        let Some((scheme, rest)) = url.split_once("://") else {
            return;
        };
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

/// The embedded database holds every identity and login: its files are
/// readable by their owner only.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/private.db", dir.path().display());
    let store = cognate_store::sqlite::SqliteStore::open(&url, &Default::default())
        .await
        .unwrap();
    cognate_core::store::Store::init_setting(&store, "x", b"y")
        .await
        .unwrap();
    for name in ["private.db", "private.db-wal", "private.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}
