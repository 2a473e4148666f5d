//! Waits on PostgreSQL are bounded: a statement held by a lock is
//! cancelled and answered at once with the protocol's retryable server
//! error, whose request id names its log line; `/readyz` says "not ready"
//! within its bound while the database hangs, and `/healthz` (liveness)
//! does not wait on it. Needs `COGNATE_TEST_POSTGRES_URL`.

use std::time::{Duration, Instant};

use sqlx::Connection as _;

use crate::common::{Node, fresh_postgres_database, postgres_server, spawn_cognate};
use crate::multinode::{MASTER, admin, cognito, node_command_with};

fn start(database: &str, config_text: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let cmd = node_command_with(&["serve"], database, MASTER, dir.path(), config_text);
    spawn_cognate(cmd, dir).unwrap()
}

/// A connection of another client holding `table` locked until dropped
/// (its transaction is rolled back with it).
async fn lock(server_database: &str, table: &str) -> sqlx::PgConnection {
    let mut conn = sqlx::PgConnection::connect(server_database).await.unwrap();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// A pool allowing guests, made with the admin key; its id.
async fn guest_pool(node: &Node, name: &str) -> String {
    let cognito = cognito(&node.endpoint, Some(admin()));
    let created = cognito
        .create_identity_pool()
        .identity_pool_name(name)
        .allow_unauthenticated_identities(true)
        .send()
        .await;
    created.unwrap().identity_pool_id().to_string()
}

async fn get_id(node: &Node, pool_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(&node.endpoint)
        .header("x-amz-target", "AWSCognitoIdentityService.GetId")
        .header("content-type", "application/x-amz-json-1.1")
        .body(serde_json::json!({ "IdentityPoolId": pool_id }).to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_locked_table_gives_a_timely_retryable_error_whose_request_id_is_logged() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_bounded").await;
    let node = start(&database, "[database]\nlock_timeout_ms = 300\n");
    let pool_id = guest_pool(&node, "bounded").await;
    assert_eq!(get_id(&node, &pool_id).await.status(), 200);

    let holder = lock(&database, "identities").await;
    let started = Instant::now();
    let answer = get_id(&node, &pool_id).await;
    let waited = started.elapsed();
    let status = answer.status();
    let request_id = answer
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("a 5xx carries its request id");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "InternalErrorException", "{body}");
    // The lock timeout (0.3 s), not the lock's holder, decides.
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    // The log line names the request, the operation and the cause.
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let log = node.log.lock().unwrap().clone();
        if let Some(line) = log.lines().find(|l| l.contains(&request_id)) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no log line names {request_id}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(line.contains("GetId"), "{line}");
    assert!(line.contains("lock timeout"), "{line}");

    drop(holder);
    assert_eq!(get_id(&node, &pool_id).await.status(), 200);
}

/// A wait that no statement or lock timeout cuts (here both are off, as a
/// commit waiting for a synchronous standby is not cut by them) is still
/// bounded by the operation timeout.
#[tokio::test]
async fn the_operation_timeout_bounds_what_statement_timeouts_do_not() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_operation").await;
    let node = start(
        &database,
        "[database]\nstatement_timeout_ms = 0\nlock_timeout_ms = 0\noperation_timeout_ms = 700\n",
    );
    let pool_id = guest_pool(&node, "operation").await;
    assert_eq!(get_id(&node, &pool_id).await.status(), 200);

    let holder = lock(&database, "identities").await;
    let started = Instant::now();
    let answer = get_id(&node, &pool_id).await;
    let waited = started.elapsed();
    let status = answer.status();
    let request_id = answer
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("a 5xx carries its request id");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "InternalErrorException", "{body}");
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let log = node.log.lock().unwrap().clone();
        if let Some(line) = log.lines().find(|l| l.contains(&request_id)) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no log line names {request_id}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(line.contains("operation timeout"), "{line}");

    drop(holder);
    assert_eq!(get_id(&node, &pool_id).await.status(), 200);
}

#[tokio::test]
async fn readiness_says_not_ready_within_its_bound_while_the_database_hangs() {
    let Some(server) = postgres_server() else {
        return;
    };
    let database = fresh_postgres_database(&server, "cognate_ready").await;
    let node = start(&database, "");
    let probe = |path: &'static str| {
        let url = format!("{}{path}", node.endpoint);
        async move {
            let started = Instant::now();
            let r = reqwest::Client::new()
                .get(url)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), started.elapsed())
        }
    };
    assert_eq!(probe("/readyz").await.0, 200);

    // Every request begins by reading the configuration generation.
    let holder = lock(&database, "config_generation").await;
    let (status, waited) = probe("/readyz").await;
    assert_eq!(status, 503);
    assert!(
        waited < Duration::from_millis(1500),
        "answered after {waited:?}"
    );
    let (status, waited) = probe("/healthz").await;
    assert_eq!(status, 200, "liveness does not wait on the database");
    assert!(
        waited < Duration::from_millis(500),
        "answered after {waited:?}"
    );

    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    while probe("/readyz").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready again after the lock went"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_node_starts_before_its_database_and_serves_once_it_can() {
    let Some(server) = postgres_server() else {
        return;
    };

    // A database that does not exist yet stands for one that is down.
    let name = format!("cognate_late_{}", uuid::Uuid::new_v4().simple());
    let (base, _) = server.rsplit_once('/').unwrap();
    let database = format!("{base}/{name}");
    let node = start(&database, "");
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let request = client.get(format!("{}{path}", node.endpoint));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/healthz").await, 200);
    assert_eq!(status("/readyz").await, 503);
    let refused = get_id(&node, "us-east-1:00000000-0000-0000-0000-000000000000").await;
    assert_eq!(refused.status(), 503, "a retryable error while starting");
    assert!(refused.headers().contains_key("x-amzn-requestid"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["__type"], "ServiceUnavailable", "{body}");

    let mut admin_conn = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin_conn)
        .await
        .unwrap();
    let created = Instant::now();
    while status("/readyz").await != 200 {
        assert!(
            created.elapsed() < Duration::from_secs(15),
            "not ready 15 s after the database came:\n{}",
            node.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("ready {:?} after the database came", created.elapsed());
    let pool_id = guest_pool(&node, "late").await;
    assert_eq!(get_id(&node, &pool_id).await.status(), 200);
}
