//! Settings: a flag, else an environment variable, else a key in the TOML
//! file given with `--config`, else the default (DESIGN.md's contract).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cognate_console::ConsoleConfig;
use cognate_core::keys::SigningAlgorithm;
use cognate_federation::{FederationConfig, ProviderOverride};
use cognate_server::authz::{ApiRoute, ForwardAuth};
use cognate_server::client_address::TrustedProxies;
use cognate_server::limits::LimitsConfig;
use cognate_server::listener::HttpConfig;
use serde::Deserialize;

/// AWS's default quota of identity pools per account and region.
pub const DEFAULT_MAX_POOLS_PER_REGION: usize = 1000;

/// Unused guests are deleted after 90 days unless configured otherwise.
pub const DEFAULT_GUEST_TTL_DAYS: u64 = 90;

/// The `[database]` settings: how long `cognate serve` lets a request wait
/// on PostgreSQL. A request that runs out of time is answered at once with
/// the protocol's retryable server error. (The embedded SQLite has its own
/// bound, a 10 s busy timeout.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A statement running longer is cancelled (`statement_timeout`).
    pub statement_timeout_ms: u64,
    /// A statement waiting longer for a lock is cancelled (`lock_timeout`).
    pub lock_timeout_ms: u64,
    /// A request waits this long for a connection of the pool.
    pub acquire_timeout_ms: u64,
    /// An idle connection is closed after this long.
    pub idle_timeout_secs: u64,
    /// One database operation may take this long in all, its retries and
    /// waits included (0: no limit). It bounds what the limits above do
    /// not, such as a commit waiting for a synchronous standby.
    pub operation_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            statement_timeout_ms: 5_000,
            lock_timeout_ms: 2_000,
            acquire_timeout_ms: 2_000,
            idle_timeout_secs: 60,
            operation_timeout_ms: 10_000,
        }
    }
}

/// What `--config FILE` may contain. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub issuer: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub admin_access_key_id: Option<String>,
    pub admin_secret_access_key: Option<String>,
    pub max_connections: Option<u32>,
    pub master_key: Option<String>,
    /// `RS512` or `ES256`: the algorithm of new signing keys.
    pub signing_algorithm: Option<String>,
    /// Seconds between rereads of the signing keys (rotation on another node).
    pub key_reload_interval: Option<u64>,
    /// Days after which an unused guest identity is deleted (0: never).
    pub guest_ttl_days: Option<u64>,
    /// Seconds between sweeps of unused guests.
    pub guest_sweep_interval: Option<u64>,
    /// Identity pools per region (AWS's default quota: 1000).
    pub max_pools_per_region: Option<usize>,
    /// Where the named providers and user pools really are:
    /// `[providers."accounts.google.com"] issuer = "http://127.0.0.1:9999"`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderOverride>,
    /// Timeouts and cache lifetimes of provider key fetching.
    #[serde(default)]
    pub federation: Option<FederationConfig>,
    /// Abuse limits of the unsigned operations (per second, per address
    /// and per pool); 0 disables one.
    #[serde(default)]
    pub limits: Option<LimitsConfig>,
    /// Addresses and ranges of the proxies in front of cognate, whose
    /// `X-Forwarded-For` names the client the limits count.
    pub trusted_proxies: Option<Vec<String>>,
    /// Client connections: time limits on headers and bodies, how many at
    /// once.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// Time limits on the database (PostgreSQL).
    #[serde(default)]
    pub database: Option<DatabaseConfig>,
    /// Forward-auth: who may ask (`callers`) and the SigV4 service the
    /// signatures are scoped to (`service`, default `execute-api`).
    #[serde(default)]
    pub authz: Option<AuthzConfig>,
    /// The APIs forward-auth decides for.
    #[serde(default)]
    pub apis: Vec<ApiConfig>,
    /// Settings for deployments made for tests (`[testing]`).
    #[serde(default)]
    pub testing: Option<TestingConfig>,
    /// The admin console (`[console] enabled`, `listen`).
    #[serde(default)]
    pub console: Option<ConsoleConfig>,
    /// The audit trail in the database (`[audit] database`,
    /// `retention_days`, `credentials`, `queue`, `purge_interval_secs`).
    #[serde(default)]
    pub audit: Option<cognate_core::audit::AuditConfig>,
}

/// `[testing]`: what only a deployment made for tests should allow.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingConfig {
    /// `POST /admin/reset`, signed by the admin key, empties the
    /// deployment (pools, identities, IAM; keys and settings stay).
    /// Default false.
    pub allow_reset: Option<bool>,
}

/// `[authz]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzConfig {
    pub service: Option<String>,
    /// Addresses and ranges; default loopback.
    pub callers: Option<Vec<String>>,
}

/// `[[apis]]`: requests for `host` (any, when unset) under `path_prefix`
/// (default `/`) are for stage `stage` of API `id` in `region` (default the
/// server's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub id: String,
    pub stage: String,
    pub region: Option<String>,
    pub host: Option<String>,
    pub path_prefix: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Values given on the command line or in the environment (clap merges
/// those two); `None` falls through to the file, then the default.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub issuer: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub admin_access_key_id: Option<String>,
    pub admin_secret_access_key: Option<String>,
    pub master_key: Option<String>,
    pub signing_algorithm: Option<String>,
    /// Comma-separated addresses and ranges.
    pub trusted_proxies: Option<String>,
    pub header_read_timeout_secs: Option<u64>,
    pub max_client_connections: Option<usize>,
    pub allow_reset: Option<bool>,
    /// Whether the admin console is served.
    pub console: Option<bool>,
    /// The console's own listen address.
    pub console_listen: Option<String>,
}

/// The resolved settings of a server.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// None: `http://<bound address>`, known once the listener is bound.
    pub issuer: Option<String>,
    pub region: String,
    pub account_id: String,
    /// Both or neither.
    pub admin_key: Option<(String, String)>,
    pub max_connections: u32,
    pub federation: FederationConfig,
    /// 64 hex digits; None: the key file in the data directory.
    pub master_key: Option<String>,
    /// Algorithm of the signing keys this server generates.
    pub signing_algorithm: SigningAlgorithm,
    pub key_reload_interval: std::time::Duration,
    pub limits: LimitsConfig,
    pub trusted_proxies: TrustedProxies,
    /// None: guests are kept forever.
    pub guest_ttl: Option<std::time::Duration>,
    pub guest_sweep_interval: std::time::Duration,
    pub max_pools_per_region: usize,
    pub http: HttpConfig,
    pub forward_auth: ForwardAuth,
    pub database: DatabaseConfig,
    /// Whether `POST /admin/reset` may empty the deployment; never by
    /// default.
    pub allow_reset: bool,
    /// A bootstrap file applied at start (`serve --bootstrap`).
    pub bootstrap: Option<PathBuf>,
    /// The admin console: on (the default) or off, and where.
    pub console: ConsoleConfig,
    /// The audit trail in the database.
    pub audit: cognate_core::audit::AuditConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    pub fn resolve(flags: Overrides, file: FileConfig) -> Result<Settings, ConfigError> {
        let listen = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8085".to_string());
        let data_dir = flags
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./cognate-data"));
        let database_url = flags
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/cognate.db", data_dir.display()));
        let region = flags
            .region
            .or(file.region)
            .unwrap_or_else(|| "us-east-1".to_string());
        if !cognate_core::ids::is_valid_region(&region) {
            return Err(ConfigError::Invalid(format!(
                "COGNATE_REGION must look like us-east-1, got '{region}'"
            )));
        }
        let account_id = flags
            .account_id
            .or(file.account_id)
            .unwrap_or_else(|| "000000000000".to_string());
        if account_id.len() != 12 || !account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConfigError::Invalid(format!(
                "COGNATE_ACCOUNT_ID must be 12 digits, got '{account_id}'"
            )));
        }
        let key_id = flags.admin_access_key_id.or(file.admin_access_key_id);
        let secret = flags
            .admin_secret_access_key
            .or(file.admin_secret_access_key);
        let admin_key = match (key_id, secret) {
            (Some(id), Some(secret)) => {
                if id.is_empty() || secret.is_empty() {
                    return Err(ConfigError::Invalid(
                        "the admin access key id and secret must not be empty".into(),
                    ));
                }
                Some((id, secret))
            }
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "set both COGNATE_ADMIN_ACCESS_KEY_ID and COGNATE_ADMIN_SECRET_ACCESS_KEY, or neither"
                        .into(),
                ));
            }
        };
        let signing_algorithm = match flags.signing_algorithm.or(file.signing_algorithm) {
            Some(name) => name
                .parse()
                .map_err(|e| ConfigError::Invalid(format!("COGNATE_SIGNING_ALGORITHM {e}")))?,
            None => SigningAlgorithm::default(),
        };
        let trusted_proxies = match (flags.trusted_proxies, file.trusted_proxies) {
            (Some(list), _) => TrustedProxies::parse(
                &list
                    .split(',')
                    .filter(|entry| !entry.trim().is_empty())
                    .collect::<Vec<_>>(),
            ),
            (None, Some(list)) => TrustedProxies::parse(&list),
            (None, None) => Ok(TrustedProxies::default()),
        }
        .map_err(|e| ConfigError::Invalid(format!("COGNATE_TRUSTED_PROXIES: {e}")))?;
        let mut federation = file.federation.unwrap_or_default();
        federation.providers.extend(file.providers);
        let mut http = file.http.unwrap_or_default();
        if let Some(secs) = flags.header_read_timeout_secs {
            http.header_read_timeout_secs = secs;
        }
        if let Some(max) = flags.max_client_connections {
            http.max_connections = Some(max);
        }
        let forward_auth = forward_auth(file.authz.unwrap_or_default(), file.apis, &region)?;
        let allow_reset = flags
            .allow_reset
            .or(file.testing.and_then(|testing| testing.allow_reset))
            .unwrap_or(false);
        let mut console = file.console.unwrap_or_default();
        if let Some(enabled) = flags.console {
            console.enabled = enabled;
        }
        if let Some(listen) = flags.console_listen {
            console.listen = Some(listen).filter(|l| !l.is_empty());
        }
        Ok(Settings {
            listen,
            data_dir,
            database_url,
            issuer: flags.issuer.or(file.issuer),
            region,
            account_id,
            admin_key,
            max_connections: file.max_connections.unwrap_or(8),
            federation,
            master_key: flags.master_key.or(file.master_key),
            signing_algorithm,
            key_reload_interval: std::time::Duration::from_secs(
                file.key_reload_interval.unwrap_or(60).max(1),
            ),
            limits: file.limits.unwrap_or_default(),
            trusted_proxies,
            guest_ttl: match file.guest_ttl_days.unwrap_or(DEFAULT_GUEST_TTL_DAYS) {
                0 => None,
                days => Some(std::time::Duration::from_secs(days * 86_400)),
            },
            guest_sweep_interval: std::time::Duration::from_secs(
                file.guest_sweep_interval.unwrap_or(3600).max(1),
            ),
            max_pools_per_region: file
                .max_pools_per_region
                .unwrap_or(DEFAULT_MAX_POOLS_PER_REGION),
            http,
            forward_auth,
            database: file.database.unwrap_or_default(),
            allow_reset,
            bootstrap: None,
            console,
            audit: file.audit.unwrap_or_default(),
        })
    }

    /// Defaults for an embedded server in `data_dir`, as tests use it.
    pub fn for_data_dir(data_dir: &Path) -> Settings {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir.to_path_buf()),
            ..Default::default()
        };
        // The defaults are valid by construction.
        Settings::resolve(overrides, FileConfig::default()).unwrap_or_else(|_| Settings {
            listen: "127.0.0.1:0".into(),
            data_dir: data_dir.to_path_buf(),
            database_url: format!("sqlite://{}/cognate.db", data_dir.display()),
            issuer: None,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            admin_key: None,
            max_connections: 8,
            federation: FederationConfig::default(),
            master_key: None,
            signing_algorithm: SigningAlgorithm::default(),
            key_reload_interval: std::time::Duration::from_secs(60),
            limits: LimitsConfig::default(),
            trusted_proxies: TrustedProxies::default(),
            guest_ttl: None,
            guest_sweep_interval: std::time::Duration::from_secs(3600),
            max_pools_per_region: DEFAULT_MAX_POOLS_PER_REGION,
            http: HttpConfig::default(),
            forward_auth: ForwardAuth::default(),
            database: DatabaseConfig::default(),
            allow_reset: false,
            bootstrap: None,
            console: ConsoleConfig::default(),
            audit: cognate_core::audit::AuditConfig::default(),
        })
    }
}

/// The forward-auth settings, checked: API ids and stages as API Gateway
/// names them, prefixes of whole path segments, known regions.
fn forward_auth(
    authz: AuthzConfig,
    apis: Vec<ApiConfig>,
    region: &str,
) -> Result<ForwardAuth, ConfigError> {
    let invalid = |what: String| ConfigError::Invalid(what);
    let mut settings = ForwardAuth::default();
    if let Some(service) = authz.service {
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(format!(
                "authz.service '{service}' is not a SigV4 service name"
            )));
        }
        settings.service = service;
    }
    if let Some(callers) = authz.callers {
        settings.callers =
            TrustedProxies::parse(&callers).map_err(|e| invalid(format!("authz.callers: {e}")))?;
    }
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    for api in apis {
        if !name(&api.id) || !name(&api.stage) {
            return Err(invalid(format!(
                "[[apis]] id '{}' and stage '{}' must be letters, digits, '-' and '_'",
                api.id, api.stage
            )));
        }
        let api_region = api.region.unwrap_or_else(|| region.to_string());
        if api_region != region && !cognate_core::ids::AWS_REGIONS.contains(&api_region.as_str()) {
            return Err(invalid(format!(
                "[[apis]] {}: unknown region '{api_region}'",
                api.id
            )));
        }
        let path_prefix = api.path_prefix.unwrap_or_else(|| "/".into());
        let odd_segment = path_prefix.contains("//")
            || path_prefix
                .split('/')
                .any(|segment| matches!(segment, "." | ".."));
        if !path_prefix.starts_with('/')
            || path_prefix.contains(['?', '#', '%', ';'])
            || odd_segment
        {
            return Err(invalid(format!(
                "[[apis]] {}: path_prefix '{path_prefix}' must be a path such as /api",
                api.id
            )));
        }
        let host = api.host.as_deref().map(cognate_server::authz::routing_host);
        let same = |other: &ApiRoute| {
            other.host == host
                && other.path_prefix.trim_end_matches('/') == path_prefix.trim_end_matches('/')
        };
        if settings.apis.iter().any(same) {
            return Err(invalid(format!(
                "[[apis]] {}: another API already has host {:?} and path_prefix '{path_prefix}'",
                api.id, api.host
            )));
        }
        settings.apis.push(ApiRoute {
            id: api.id,
            stage: api.stage,
            region: api_region,
            host,
            path_prefix,
        });
    }
    Ok(settings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn algorithm(flag: Option<&str>, file: Option<&str>) -> Result<SigningAlgorithm, ConfigError> {
        let flags = Overrides {
            signing_algorithm: flag.map(str::to_string),
            ..Default::default()
        };
        let file: FileConfig =
            toml::from_str(&file.map_or(String::new(), |f| format!("signing_algorithm = \"{f}\"")))
                .unwrap();
        Settings::resolve(flags, file).map(|s| s.signing_algorithm)
    }

    fn trusted_proxies(flag: Option<&str>, file: &str) -> Result<TrustedProxies, ConfigError> {
        let flags = Overrides {
            trusted_proxies: flag.map(str::to_string),
            ..Default::default()
        };
        Settings::resolve(flags, toml::from_str(file).unwrap()).map(|s| s.trusted_proxies)
    }

    #[test]
    fn the_pool_quota_is_a_file_setting() {
        let quota = |file: &str| {
            Settings::resolve(Overrides::default(), toml::from_str(file).unwrap())
                .unwrap()
                .max_pools_per_region
        };
        assert_eq!(quota(""), 1000);
        assert_eq!(quota("max_pools_per_region = 5"), 5);
    }

    #[test]
    fn apis_are_checked() {
        let apis =
            |text: &str| Settings::resolve(Overrides::default(), toml::from_str(text).unwrap());
        let ok = apis("[[apis]]\nid = \"a1\"\nstage = \"prod\"\nhost = \"API.Example.com:443\"\npath_prefix = \"/v1\"\n")
            .unwrap();
        assert_eq!(
            ok.forward_auth.apis[0].host.as_deref(),
            Some("api.example.com")
        );
        assert_eq!(ok.forward_auth.apis[0].region, "us-east-1");
        for bad in [
            "[[apis]]\nid = \"a 1\"\nstage = \"prod\"\n",
            "[[apis]]\nid = \"a1\"\nstage = \"prod\"\npath_prefix = \"v1\"\n",
            "[[apis]]\nid = \"a1\"\nstage = \"prod\"\npath_prefix = \"/a/../b\"\n",
            "[[apis]]\nid = \"a1\"\nstage = \"prod\"\npath_prefix = \"//a\"\n",
            "[[apis]]\nid = \"a1\"\nstage = \"prod\"\nregion = \"mars-1\"\n",
            "[[apis]]\nid = \"a1\"\nstage = \"prod\"\n[[apis]]\nid = \"a2\"\nstage = \"prod\"\npath_prefix = \"/\"\n",
        ] {
            assert!(apis(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_flag_then_file_then_none() {
        assert_eq!(
            trusted_proxies(None, "").unwrap(),
            TrustedProxies::default()
        );
        assert_eq!(
            trusted_proxies(None, r#"trusted_proxies = ["10.0.0.0/8", "::1"]"#).unwrap(),
            TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap()
        );
        assert_eq!(
            trusted_proxies(
                Some("192.0.2.1, fd00::/8,"),
                r#"trusted_proxies = ["10.0.0.0/8"]"#
            )
            .unwrap(),
            TrustedProxies::parse(&["192.0.2.1", "fd00::/8"]).unwrap()
        );
        let err = trusted_proxies(Some("10.0.0.0/40"), "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "COGNATE_TRUSTED_PROXIES: '10.0.0.0/40' is not an address or a range like 10.0.0.0/8"
        );
    }

    #[test]
    fn reset_is_allowed_only_when_asked_flag_then_file() {
        let allowed = |flag: Option<bool>, file: &str| {
            let flags = Overrides {
                allow_reset: flag,
                ..Default::default()
            };
            Settings::resolve(flags, toml::from_str(file).unwrap()).map(|s| s.allow_reset)
        };
        assert!(!allowed(None, "").unwrap());
        assert!(!Settings::for_data_dir(Path::new("/tmp/x")).allow_reset);
        assert!(allowed(None, "[testing]\nallow_reset = true\n").unwrap());
        assert!(!allowed(None, "[testing]\nallow_reset = false\n").unwrap());
        assert!(allowed(Some(true), "").unwrap());
        assert!(!allowed(Some(false), "[testing]\nallow_reset = true\n").unwrap());
        assert!(toml::from_str::<FileConfig>("[testing]\nallow_rest = true\n").is_err());
    }

    #[test]
    fn the_console_is_on_unless_turned_off_flag_then_file() {
        let console = |enabled: Option<bool>, listen: Option<&str>, file: &str| {
            let flags = Overrides {
                console: enabled,
                console_listen: listen.map(str::to_string),
                ..Default::default()
            };
            Settings::resolve(flags, toml::from_str(file).unwrap()).map(|s| s.console)
        };
        let on = console(None, None, "").unwrap();
        assert!(on.enabled && on.listen.is_none());
        assert!(Settings::for_data_dir(Path::new("/tmp/x")).console.enabled);
        assert!(
            !console(None, None, "[console]\nenabled = false\n")
                .unwrap()
                .enabled
        );
        assert!(
            console(Some(true), None, "[console]\nenabled = false\n")
                .unwrap()
                .enabled
        );
        assert!(!console(Some(false), None, "").unwrap().enabled);
        let own = console(None, None, "[console]\nlisten = \"127.0.0.1:8086\"\n").unwrap();
        assert_eq!(own.listen.as_deref(), Some("127.0.0.1:8086"));
        let flag = console(
            None,
            Some("127.0.0.1:9000"),
            "[console]\nlisten = \"127.0.0.1:8086\"\n",
        );
        assert_eq!(flag.unwrap().listen.as_deref(), Some("127.0.0.1:9000"));
        assert!(toml::from_str::<FileConfig>("[console]\nenable = false\n").is_err());
    }

    #[test]
    fn signing_algorithm_flag_then_file_then_rs512() {
        assert_eq!(algorithm(None, None).unwrap(), SigningAlgorithm::Rs512);
        assert_eq!(
            algorithm(None, Some("ES256")).unwrap(),
            SigningAlgorithm::Es256
        );
        assert_eq!(
            algorithm(Some("RS512"), Some("ES256")).unwrap(),
            SigningAlgorithm::Rs512
        );
        assert_eq!(
            algorithm(Some("es256"), None).unwrap(),
            SigningAlgorithm::Es256
        );
        let err = algorithm(Some("HS256"), None).unwrap_err().to_string();
        assert_eq!(
            err,
            "COGNATE_SIGNING_ALGORITHM must be RS512 or ES256, got 'HS256'"
        );
    }
}
