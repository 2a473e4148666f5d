//! The cognate server as a library: resolve settings, open the store, bind
//! the listener, serve. `main.rs` is the command line around it; tests
//! start servers in-process with `start`.

pub mod bootstrap;
pub mod config;
pub mod logging;
pub mod secrets;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;

use cognate_core::clock::{Clock, SystemClock};
use cognate_core::{Cognate, DomainConfig};
use cognate_federation::FederatedVerifier;
use cognate_server::{AdminKey, AppState};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {message}")]
    DataDir { path: String, message: String },
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error("cannot open the database: {0}")]
    Store(String),
    #[error("cannot listen on {address}: {message}")]
    Listen { address: String, message: String },
    #[error("cannot set up provider token verification: {0}")]
    Federation(String),
    #[error("cannot open the domain: {0}")]
    Domain(String),
    #[error("cannot apply the bootstrap file: {0}")]
    Bootstrap(String),
}

/// How long stopping waits to write the audit events still queued.
const AUDIT_FLUSH_AT_STOP: std::time::Duration = std::time::Duration::from_secs(5);

/// A server that is accepting connections.
pub struct Running {
    pub addr: SocketAddr,
    pub issuer: String,
    pub admin_access_key_id: String,
    pub admin_secret_access_key: String,
    /// Where generated admin credentials were stored, if they were.
    pub admin_credentials_file: Option<std::path::PathBuf>,
    /// The admin console's own listen address, when it has one
    /// (`[console] listen`); otherwise it is served on `addr`, if enabled.
    pub console_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// The console's own listener, when it has one.
    console: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    background: Vec<JoinHandle<()>>,
    /// The domain once opened (on PostgreSQL maybe after the start), for
    /// what is left to do once requests have finished: the audit events
    /// still queued for the database.
    domain: OpenedDomain,
}

/// Where the domain is put once it is open.
type OpenedDomain = Arc<std::sync::OnceLock<Arc<Cognate>>>;

impl Running {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, and returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some((tx, task)) = self.console.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
        let _ = (&mut self.task).await;
        for task in &self.background {
            task.abort();
        }
        // The requests' last audit events, within a bound: a database that
        // no longer answers must not hold the stop.
        let Some(cognate) = self.domain.get() else {
            return;
        };
        if tokio::time::timeout(AUDIT_FLUSH_AT_STOP, flush_audit(cognate))
            .await
            .is_err()
        {
            tracing::warn!(
                "audit events still queued for the database at stop were not all written within {AUDIT_FLUSH_AT_STOP:?}"
            );
        }
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Opens the store and the domain over it (also used by the admin
/// commands, which need no listener).
pub async fn open_domain(
    settings: &Settings,
    store: Arc<dyn cognate_core::store::Store>,
    clock: Arc<dyn Clock>,
    issuer: String,
) -> Result<Cognate, StartError> {
    let master = secrets::master_key(settings.master_key.as_deref(), &settings.data_dir)?;
    let verifier = FederatedVerifier::new(settings.federation.clone())
        .map_err(|e| StartError::Federation(e.to_string()))?;
    Cognate::open(
        store,
        clock,
        Arc::new(verifier),
        DomainConfig {
            account: settings.account_id.clone(),
            default_region: settings.region.clone(),
            issuer,
            max_pools_per_region: settings.max_pools_per_region,
            guest_ttl_secs: settings.guest_ttl.map(|d| d.as_secs() as i64),
            signing_algorithm: settings.signing_algorithm,
        },
        &master,
    )
    .await
    .map_err(|e| StartError::Domain(e.to_string()))
}

/// The domain of `settings` for a command-line tool (`apply`, `keys
/// rotate`): the store without `serve`'s time limits, the real clock.
pub async fn open_admin_domain(settings: &Settings) -> Result<Cognate, StartError> {
    let issuer = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    let store = open_store_unbounded(settings).await?;
    let mut cognate = open_domain(settings, store, Arc::new(SystemClock), issuer).await?;
    cognate.record_audit_in_database(&settings.audit);
    Ok(cognate)
}

/// Writes the audit events still queued for the database (a command-line
/// tool, before it exits).
pub async fn flush_audit(cognate: &Cognate) {
    if let Some(writer) = cognate.audit_trail().writer(cognate.store().clone()) {
        writer.flush().await;
    }
}

/// Writes the audit trail to the database as events come, and purges it
/// of events older than the retention now and then.
fn spawn_audit_tasks(
    cognate: &Arc<Cognate>,
    config: &cognate_core::audit::AuditConfig,
) -> Vec<JoinHandle<()>> {
    let Some(writer) = cognate.audit_trail().writer(cognate.store().clone()) else {
        return Vec::new();
    };
    let mut tasks = vec![tokio::spawn(writer.run())];
    if config.retention_days > 0 {
        let retention =
            std::time::Duration::from_secs(config.retention_days.saturating_mul(86_400));
        let every = std::time::Duration::from_secs(config.purge_interval_secs.max(1));
        let cognate = cognate.clone();
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                match cognate.purge_audit(retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("purged {n} audit events older than the retention"),
                    Err(e) => tracing::warn!(error = %e, "purging old audit events failed"),
                }
            }
        }));
    }
    tasks
}

/// The store of `settings`, with `cognate serve`'s time limits on the
/// database (see [`open_store_unbounded`] for the command-line tools).
pub async fn open_store(
    settings: &Settings,
) -> Result<Arc<dyn cognate_core::store::Store>, StartError> {
    let limits = &settings.database;
    let millis = std::time::Duration::from_millis;
    open_store_with(
        settings,
        cognate_store::StoreOptions {
            max_connections: settings.max_connections,
            statement_timeout: Some(millis(limits.statement_timeout_ms)),
            lock_timeout: Some(millis(limits.lock_timeout_ms)),
            acquire_timeout: millis(limits.acquire_timeout_ms),
            idle_timeout: std::time::Duration::from_secs(limits.idle_timeout_secs),
            operation_timeout: (limits.operation_timeout_ms > 0)
                .then(|| millis(limits.operation_timeout_ms)),
        },
    )
    .await
}

/// The store of `settings` without statement or lock limits: an export,
/// import or key rotation may rightly take longer than a request.
pub async fn open_store_unbounded(
    settings: &Settings,
) -> Result<Arc<dyn cognate_core::store::Store>, StartError> {
    let options = cognate_store::StoreOptions {
        max_connections: settings.max_connections,
        ..Default::default()
    };
    open_store_with(settings, options).await
}

async fn open_store_with(
    settings: &Settings,
    options: cognate_store::StoreOptions,
) -> Result<Arc<dyn cognate_core::store::Store>, StartError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| StartError::DataDir {
        path: settings.data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    cognate_store::open(&settings.database_url, &options)
        .await
        .map_err(|e| StartError::Store(e.to_string()))
}

/// Rereads the signing keys now and then, so a rotation made by another
/// node or by `cognate keys rotate` is picked up.
fn spawn_key_reloader(cognate: Arc<Cognate>, every: std::time::Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(e) = cognate.signing_keys().reload().await {
                tracing::warn!(error = %e, "rereading the signing keys failed");
            }
        }
    })
}

/// Deletes unused guest identities now and then (when a TTL is set).
fn spawn_guest_sweeper(cognate: Arc<Cognate>, every: std::time::Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match cognate.identities().sweep_idle_guests().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("deleted {n} unused guest identities"),
                Err(e) => tracing::warn!(error = %e, "sweeping unused guests failed"),
            }
        }
    })
}

/// Starts a server with the real clock.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    start_with_clock(settings, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(
    settings: Settings,
    clock: Arc<dyn Clock>,
) -> Result<Running, StartError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| StartError::DataDir {
        path: settings.data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let ((access_key_id, secret_access_key), generated_file) = match &settings.admin_key {
        Some(key) => (key.clone(), None),
        None => {
            let (key, _generated) = secrets::admin_key(&settings.data_dir)?;
            (
                key,
                Some(settings.data_dir.join(secrets::ADMIN_CREDENTIALS_FILE)),
            )
        }
    };
    let admin = AdminKey {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret_access_key.clone(),
    };
    let store = open_store(&settings).await;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| StartError::Listen {
            address: settings.listen.clone(),
            message: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen {
        address: settings.listen.clone(),
        message: e.to_string(),
    })?;
    let issuer = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    // The console on its own address: bound now, so a taken address fails
    // the start; served once the domain is open (on PostgreSQL, maybe
    // later), as the main listener is.
    let console_listener = match (&settings.console.listen, settings.console.enabled) {
        (Some(address), true) => {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|e| StartError::Listen {
                    address: address.clone(),
                    message: e.to_string(),
                })?;
            Some(listener)
        }
        _ => None,
    };
    let console_app: cognate_server::ServingApp = Arc::new(std::sync::RwLock::new(None));
    let domain = OpenedDomain::default();
    let (app, background) = match store {
        Ok(store) => {
            let (app, console, background) =
                serving(&settings, store, clock, issuer.clone(), admin, &domain).await?;
            if let (Some(console), Ok(mut slot)) = (console, console_app.write()) {
                *slot = Some(console);
            }
            (app, background)
        }
        // A node of several on PostgreSQL starts while its database cannot
        // be reached, says it is not ready, and serves once it can.
        Err(e) if is_postgres(&settings.database_url) => {
            tracing::warn!("{e}; serving as not ready, and trying again");
            let serving_app = Arc::new(std::sync::RwLock::new(None));
            let opener = spawn_opener(
                settings.clone(),
                clock,
                issuer.clone(),
                admin,
                serving_app.clone(),
                console_app.clone(),
                domain.clone(),
            );
            (cognate_server::starting_router(serving_app), vec![opener])
        }
        Err(e) => return Err(e),
    };
    let (tx, rx) = oneshot::channel::<()>();
    let http = settings.http.clone();
    let trusted_proxies = settings.trusted_proxies.clone();
    let mut console_addr = None;
    let console = match console_listener {
        Some(listener) => {
            console_addr = listener.local_addr().ok();
            let (tx, rx) = oneshot::channel::<()>();
            let (http, trusted_proxies) = (http.clone(), trusted_proxies.clone());
            let app = cognate_server::starting_router(console_app);
            let task = tokio::spawn(async move {
                cognate_server::listener::serve(listener, app, &http, &trusted_proxies, async {
                    let _ = rx.await;
                })
                .await;
            });
            Some((tx, task))
        }
        None => None,
    };
    let task = tokio::spawn(async move {
        cognate_server::listener::serve(listener, app, &http, &trusted_proxies, async {
            let _ = rx.await;
        })
        .await;
    });
    Ok(Running {
        addr,
        issuer,
        admin_access_key_id: access_key_id,
        admin_secret_access_key: secret_access_key,
        admin_credentials_file: generated_file,
        console_addr,
        shutdown: Some(tx),
        task,
        console,
        background,
        domain,
    })
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The routers of a node: the main one, and the console's when it has
/// its own listener; the background tasks.
type Served = (
    cognate_server::Router,
    Option<cognate_server::Router>,
    Vec<JoinHandle<()>>,
);

/// The domain over `store`, its background tasks, and the routers serving
/// it (the console's apart when it has its own listen address).
async fn serving(
    settings: &Settings,
    store: Arc<dyn cognate_core::store::Store>,
    clock: Arc<dyn Clock>,
    issuer: String,
    admin: AdminKey,
    domain: &OpenedDomain,
) -> Result<Served, StartError> {
    let mut cognate = open_domain(settings, store, clock, issuer).await?;
    cognate.record_audit_in_database(&settings.audit);
    // Here and not in `open_domain`: `cognate keys rotate` opens the domain
    // too, and must rotate once, not twice.
    if let Some(kid) = cognate
        .signing_keys()
        .ensure_algorithm()
        .await
        .map_err(|e| StartError::Domain(e.to_string()))?
    {
        tracing::info!(
            kid,
            algorithm = %settings.signing_algorithm,
            "the active signing key had another algorithm: rotated to a new key"
        );
        cognate.audit_trail().keys_rotated(&kid);
    }
    if let Some(path) = &settings.bootstrap {
        apply_bootstrap(&cognate, path).await?;
    }
    let cognate = Arc::new(cognate);
    let _ = domain.set(cognate.clone());
    let reloader = spawn_key_reloader(cognate.clone(), settings.key_reload_interval);
    let sweeper = spawn_guest_sweeper(cognate.clone(), settings.guest_sweep_interval);
    let mut background = vec![reloader, sweeper];
    background.extend(spawn_audit_tasks(&cognate, &settings.audit));
    let state = Arc::new(AppState {
        cognate,
        admin,
        admin_signing_keys: Default::default(),
        session_signers: Default::default(),
        metrics: Default::default(),
        max_body_bytes: 1024 * 1024,
        body_read_timeout: settings.http.body_read_timeout(),
        limiter: cognate_server::limits::Limiter::new(&settings.limits),
        trusted_proxies: settings.trusted_proxies.clone(),
        forward_auth: settings.forward_auth.clone(),
        allow_reset: settings.allow_reset,
    });
    if settings.allow_reset {
        tracing::warn!(
            "POST /admin/reset is enabled: the admin key can empty this deployment \
             (pools, identities, IAM); meant for tests only"
        );
    }
    let console = match settings.console.enabled {
        true => Some(
            cognate_console::Console::open(state.clone())
                .await
                .map_err(|e| StartError::Domain(e.to_string()))?
                .router(),
        ),
        false => None,
    };
    let mut app = cognate_server::router(state);
    let console = match (console, &settings.console.listen) {
        (Some(console), None) => {
            app = app.merge(console);
            None
        }
        (console, _) => console,
    };
    Ok((app, console, background))
}

/// Applies `serve --bootstrap`'s file, logging each change. Nodes that
/// start together race to make the same entities; the loser's second
/// pass finds them made.
async fn apply_bootstrap(cognate: &Cognate, path: &std::path::Path) -> Result<(), StartError> {
    let options = bootstrap::Options::default();
    let changes = match bootstrap::apply(cognate, path, options).await {
        Err(bootstrap::ApplyError::Entry { .. }) => bootstrap::apply(cognate, path, options).await,
        first => first,
    }
    .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    for change in &changes {
        tracing::info!("bootstrap {}: {change}", path.display());
    }
    if changes.is_empty() {
        tracing::info!("bootstrap {}: nothing to change", path.display());
    }
    Ok(())
}

/// Opens the store and the domain until it can (backing off to 5 s
/// between attempts, each failure logged), then hands the router to the
/// starting node.
fn spawn_opener(
    settings: Settings,
    clock: Arc<dyn Clock>,
    issuer: String,
    admin: AdminKey,
    serving_app: cognate_server::ServingApp,
    console_app: cognate_server::ServingApp,
    domain: OpenedDomain,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
            let store = match open_store(&settings).await {
                Ok(store) => store,
                Err(e) => {
                    tracing::warn!("{e}; trying again in {delay:?}");
                    continue;
                }
            };
            match serving(
                &settings,
                store,
                clock.clone(),
                issuer.clone(),
                admin.clone(),
                &domain,
            )
            .await
            {
                Ok((app, console, background)) => {
                    if let (Some(console), Ok(mut slot)) = (console, console_app.write()) {
                        *slot = Some(console);
                    }
                    if let Ok(mut slot) = serving_app.write() {
                        *slot = Some(app);
                    }
                    tracing::info!("the database answers: ready");
                    // The background tasks end with this one.
                    let _guard = AbortOnDrop(background);
                    std::future::pending::<()>().await;
                }
                // The database may have gone again meanwhile; a wrong
                // master key is said again each time.
                Err(e) => tracing::warn!("{e}; trying again in {delay:?}"),
            }
        }
    })
}

/// Aborts its tasks when dropped.
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
