//! `cognate serve`: the command line.

use std::path::PathBuf;

/// Requests allocate many small short-lived buffers on every worker
/// thread; mimalloc's per-thread heaps serve them without glibc's arena
/// locks (measured: docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cognate::config::{FileConfig, Overrides, Settings};

#[derive(Parser)]
#[command(
    name = "cognate",
    version,
    about = "A self-hosted Amazon Cognito Identity, STS and IAM server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Apply this bootstrap file (pools, roles, policies, providers)
        /// at start, as `cognate apply` does.
        #[arg(long, env = "COGNATE_BOOTSTRAP")]
        bootstrap: Option<PathBuf>,
        /// Keep everything in a temporary data directory, removed on exit:
        /// a fresh server for tests (the embedded database unless
        /// --database-url names another).
        #[arg(long)]
        ephemeral: bool,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Bring the database to what a bootstrap file declares: create what
    /// is missing, update what differs, and print each change.
    Apply {
        /// The bootstrap file (JSON; see docs/bootstrap.md).
        file: PathBuf,
        /// Print what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete pools, roles, managed policies and providers the
        /// file does not name.
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Write everything the database holds (pools, identities, logins,
    /// merges, IAM, sealed keys) as JSON lines, to move a deployment
    /// between engines; with --bootstrap, a bootstrap file of its
    /// configuration instead.
    Export {
        /// Where to write [default: stdout].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write a bootstrap file (pools pinned to their ids, roles,
        /// policies, providers; no identities, no keys).
        #[arg(long)]
        bootstrap: bool,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Read an export into an empty database (the same master key must be
    /// configured, since keys travel sealed under it).
    Import {
        /// The export to read.
        #[arg(long = "in")]
        input: PathBuf,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Manage the keys cognate signs its OpenID tokens with.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Make a new signing key current. Running servers pick it up within
    /// their key reload interval; the old key stays in the JWKS until every
    /// token it signed has expired.
    Rotate(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML file with settings (flags and environment variables win).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8085].
    #[arg(long, env = "COGNATE_LISTEN")]
    listen: Option<String>,
    /// Data directory: embedded database and key files [default: ./cognate-data].
    #[arg(long, env = "COGNATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://... or postgres://... [default: sqlite://<data dir>/cognate.db].
    #[arg(long, env = "COGNATE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Public issuer URL of the tokens cognate signs [default: http://<listen address>].
    #[arg(long, env = "COGNATE_ISSUER")]
    issuer: Option<String>,
    /// Region of identifiers when a request names none [default: us-east-1].
    #[arg(long, env = "COGNATE_REGION")]
    region: Option<String>,
    /// The 12-digit account id [default: 000000000000].
    #[arg(long, env = "COGNATE_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Admin access key id [default: generated and stored in the data dir].
    #[arg(long, env = "COGNATE_ADMIN_ACCESS_KEY_ID")]
    admin_access_key_id: Option<String>,
    /// Admin secret access key.
    #[arg(long, env = "COGNATE_ADMIN_SECRET_ACCESS_KEY", hide_env_values = true)]
    admin_secret_access_key: Option<String>,
    /// Master key sealing keys at rest, 64 hex digits [default: <data dir>/master.key].
    #[arg(long, env = "COGNATE_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Algorithm of new OpenID token signing keys: RS512 (as Cognito) or
    /// ES256 (much cheaper to sign). A change takes effect at the next start
    /// by rotating [default: RS512].
    #[arg(long, env = "COGNATE_SIGNING_ALGORITHM")]
    signing_algorithm: Option<String>,
    /// Proxies in front of cognate (comma-separated addresses and ranges,
    /// e.g. 10.0.0.0/8): abuse limits count the client their
    /// X-Forwarded-For names instead of the proxy [default: none].
    #[arg(long, env = "COGNATE_TRUSTED_PROXIES")]
    trusted_proxies: Option<String>,
    /// Seconds a client may take to send a request's headers; also how
    /// long an idle keep-alive connection stays open [default: 10].
    #[arg(long, env = "COGNATE_HEADER_READ_TIMEOUT")]
    header_read_timeout: Option<u64>,
    /// Client connections served at once; more wait until one closes
    /// [default: 3/4 of the open-file limit, at most 16384].
    #[arg(long, env = "COGNATE_MAX_CLIENT_CONNECTIONS")]
    max_client_connections: Option<usize>,
    /// Write the audit trail (one JSON object per state change) to this
    /// file, or "-" for stdout [default: off].
    #[arg(long, env = "COGNATE_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Let POST /admin/reset, signed by the admin key, empty the deployment
    /// (pools, identities, IAM; signing keys stay): for tests, never where
    /// the data matters [default: false].
    #[arg(
        long,
        env = "COGNATE_ALLOW_RESET",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    allow_reset: Option<bool>,
    /// Serve the admin console at /console/ [default: true].
    #[arg(
        long,
        env = "COGNATE_CONSOLE",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    console: Option<bool>,
    /// Serve the admin console on this address instead of the main one
    /// (e.g. 127.0.0.1:8086, to keep it off the public interface).
    #[arg(long, env = "COGNATE_CONSOLE_LISTEN")]
    console_listen: Option<String>,
}

/// The log on stdout (`COGNATE_LOG` filters it, default `info`), plus the
/// audit trail as JSON lines in the file `audit_log` names ("-" for stdout).
fn init_logging(audit_log: Option<&std::path::Path>, to_stderr: bool) -> Result<(), String> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::{EnvFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = EnvFilter::try_from_env("COGNATE_LOG")
        // The audit trail has its own sink (--audit-log).
        .unwrap_or_else(|_| EnvFilter::new("info,cognate::audit=off"));
    let text = tracing_subscriber::fmt::layer().fmt_fields(cognate::logging::text_fields());
    let log = if to_stderr {
        text.with_writer(std::io::stderr).boxed()
    } else {
        text.boxed()
    }
    .with_filter(filter);
    let audit = match audit_log {
        None => None,
        Some(path) => {
            let only_audit =
                Targets::new().with_target(cognate_core::audit::TARGET, tracing::Level::INFO);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false);
            Some(if path == std::path::Path::new("-") {
                layer
                    .with_writer(std::io::stdout)
                    .boxed()
                    .with_filter(only_audit)
            } else {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
                layer
                    .with_writer(std::sync::Mutex::new(file))
                    .boxed()
                    .with_filter(only_audit)
            })
        }
    };
    tracing_subscriber::registry().with(log).with(audit).init();
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let audit_log = match &cli.command {
        Command::Serve { args, .. }
        | Command::Keys {
            action: KeysAction::Rotate(args),
        }
        | Command::Apply { args, .. }
        | Command::Export { args, .. }
        | Command::Import { args, .. } => args.audit_log.clone(),
    };
    // An export may go to stdout: the log must not mix into it.
    let log_to_stderr = !matches!(cli.command, Command::Serve { .. });
    if let Err(e) = init_logging(audit_log.as_deref(), log_to_stderr) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    match cli.command {
        Command::Serve {
            bootstrap,
            ephemeral,
            args,
        } => serve(args, bootstrap, ephemeral).await,
        Command::Apply {
            file,
            dry_run,
            prune,
            args,
        } => apply(file, cognate::bootstrap::Options { dry_run, prune }, args).await,
        Command::Keys {
            action: KeysAction::Rotate(args),
        } => rotate_keys(args).await,
        Command::Export {
            out,
            bootstrap,
            args,
        } => export(out, bootstrap, args).await,
        Command::Import { input, args } => import(input, args).await,
    }
}

fn settings(args: ServeArgs) -> Option<Settings> {
    let file = match &args.config {
        Some(path) => match FileConfig::load(path) {
            Ok(file) => file,
            Err(e) => {
                tracing::error!("{e}");
                return None;
            }
        },
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        issuer: args.issuer,
        region: args.region,
        account_id: args.account_id,
        admin_access_key_id: args.admin_access_key_id,
        admin_secret_access_key: args.admin_secret_access_key,
        master_key: args.master_key,
        signing_algorithm: args.signing_algorithm,
        trusted_proxies: args.trusted_proxies,
        header_read_timeout_secs: args.header_read_timeout,
        max_client_connections: args.max_client_connections,
        allow_reset: args.allow_reset,
        console: args.console,
        console_listen: args.console_listen,
    };
    match Settings::resolve(overrides, file) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!("{e}");
            None
        }
    }
}

async fn export(out: Option<PathBuf>, bootstrap: bool, args: ServeArgs) -> ExitCode {
    let Some(settings) = settings(args) else {
        return ExitCode::FAILURE;
    };
    let store = match cognate::open_store_unbounded(&settings).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if bootstrap {
        return export_bootstrap(store.as_ref(), &settings.account_id, out).await;
    }
    let result = match &out {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => {
                let mut w = std::io::BufWriter::new(file);
                cognate::transfer::export(store.as_ref(), &settings.account_id, &mut w).await
            }
            Err(e) => Err(e.into()),
        },
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            cognate::transfer::export(store.as_ref(), &settings.account_id, &mut w).await
        }
    };
    match result {
        Ok(counts) => {
            tracing::info!(
                "exported {} pools, {} identities, {} merges, {} roles, {} other records",
                counts.pools,
                counts.identities,
                counts.merges,
                counts.roles,
                counts.other
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("export failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn import(input: PathBuf, args: ServeArgs) -> ExitCode {
    let Some(settings) = settings(args) else {
        return ExitCode::FAILURE;
    };
    let store = match cognate::open_store_unbounded(&settings).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let file = match std::fs::File::open(&input) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("cannot read {}: {e}", input.display());
            return ExitCode::FAILURE;
        }
    };
    match cognate::transfer::import(store.as_ref(), std::io::BufReader::new(file)).await {
        Ok(counts) => {
            tracing::info!(
                "imported {} pools, {} identities, {} merges, {} roles, {} other records",
                counts.pools,
                counts.identities,
                counts.merges,
                counts.roles,
                counts.other
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("import failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn export_bootstrap(
    store: &dyn cognate_core::store::Store,
    account: &str,
    out: Option<PathBuf>,
) -> ExitCode {
    let declared = match cognate::bootstrap::declared(store, account).await {
        Ok(declared) => declared,
        Err(e) => {
            tracing::error!("export failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut text = match serde_json::to_string_pretty(&declared) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!("export failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    text.push('\n');
    let written = match &out {
        Some(path) => std::fs::write(path, text),
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("writing the bootstrap file failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn apply(file: PathBuf, options: cognate::bootstrap::Options, args: ServeArgs) -> ExitCode {
    let Some(settings) = settings(args) else {
        return ExitCode::FAILURE;
    };
    let result = async {
        let domain = cognate::open_admin_domain(&settings).await?;
        let applied = cognate_core::audit::acting_as(
            cognate_core::audit::ADMIN_CALLER,
            cognate::bootstrap::apply(&domain, &file, options),
        )
        .await
        .map_err(|e| cognate::StartError::Bootstrap(e.to_string()));
        cognate::flush_audit(&domain).await;
        applied
    }
    .await;
    match result {
        Ok(changes) => {
            let would = if options.dry_run { "would " } else { "" };
            for change in &changes {
                println!("{would}{change}");
            }
            if changes.is_empty() {
                println!("{} is applied: nothing to change", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn rotate_keys(args: ServeArgs) -> ExitCode {
    let Some(settings) = settings(args) else {
        return ExitCode::FAILURE;
    };
    let result = async {
        let domain = cognate::open_admin_domain(&settings).await?;
        let kid = domain
            .signing_keys()
            .rotate()
            .await
            .map_err(|e| cognate::StartError::Domain(e.to_string()))?;
        cognate_core::audit::acting_as(cognate_core::audit::ADMIN_CALLER, async {
            domain.audit_trail().keys_rotated(&kid);
        })
        .await;
        cognate::flush_audit(&domain).await;
        Ok::<_, cognate::StartError>(kid)
    }
    .await;
    match result {
        Ok(kid) => {
            println!("new signing key: {kid}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mut args: ServeArgs, bootstrap: Option<PathBuf>, ephemeral: bool) -> ExitCode {
    // Listening for SIGTERM and Ctrl-C from here on (the first poll
    // installs the handlers), so that a signal during the start still
    // returns from here and removes an ephemeral directory.
    let mut shutdown = Box::pin(shutdown_signal());
    tokio::select! {
        biased;
        _ = &mut shutdown => return ExitCode::SUCCESS,
        _ = std::future::ready(()) => {}
    }
    // Removed when this returns, after the server has stopped.
    let ephemeral_dir = if ephemeral {
        match tempfile::Builder::new()
            .prefix("cognate-ephemeral-")
            .tempdir()
        {
            Ok(dir) => {
                tracing::info!(
                    "ephemeral data directory {} (removed on exit)",
                    dir.path().display()
                );
                args.data_dir = Some(dir.path().to_path_buf());
                Some(dir)
            }
            Err(e) => {
                tracing::error!("cannot make a temporary data directory: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let Some(mut settings) = settings(args) else {
        return ExitCode::FAILURE;
    };
    settings.bootstrap = bootstrap;
    if let Some(dir) = &ephemeral_dir {
        let inside = format!("sqlite://{}", dir.path().display());
        if !settings.database_url.starts_with(&inside) {
            tracing::error!(
                "--ephemeral keeps everything in a temporary directory, but a database URL \
                 is set (--database-url, COGNATE_DATABASE_URL or database_url in the config \
                 file): unset it, or leave out --ephemeral"
            );
            return ExitCode::FAILURE;
        }
    }
    let console_enabled = settings.console.enabled;
    // A fresh embedded database needs its first signing key: make it
    // while the database is being created.
    if ephemeral
        && settings.signing_algorithm == cognate_core::keys::SigningAlgorithm::Rs512
        && settings.database_url.starts_with("sqlite:")
    {
        cognate_core::keys::make_spare_rsa_key();
    }
    let started = tokio::select! {
        started = cognate::start(settings) => started,
        _ = &mut shutdown => {
            tracing::info!("stopped while starting");
            remove_ephemeral(ephemeral_dir).await;
            return ExitCode::SUCCESS;
        }
    };
    let running = match started {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match &running.admin_credentials_file {
        Some(file) => tracing::info!(
            "cognate listening on {}; admin credentials (access key id {}) are in {}",
            running.endpoint(),
            running.admin_access_key_id,
            file.display()
        ),
        None => tracing::info!(
            "cognate listening on {}; admin access key id {} from the environment",
            running.endpoint(),
            running.admin_access_key_id
        ),
    }
    match (running.console_addr, console_enabled) {
        (Some(addr), _) => tracing::info!("admin console on http://{addr}/console/"),
        (None, true) => tracing::info!("admin console on {}/console/", running.endpoint()),
        (None, false) => tracing::info!("admin console disabled"),
    }
    shutdown.await;
    tracing::info!("shutting down");
    running.stop().await;
    remove_ephemeral(ephemeral_dir).await;
    ExitCode::SUCCESS
}

/// Removes an ephemeral data directory. The embedded database's threads
/// may still be closing its files when a start is cut short: removal is
/// tried again for a second.
async fn remove_ephemeral(dir: Option<tempfile::TempDir>) {
    let Some(dir) = dir else { return };
    let path = dir.path().to_path_buf();
    if dir.close().is_ok() {
        return;
    }
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
            return;
        }
    }
    tracing::warn!("could not remove {}", path.display());
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
