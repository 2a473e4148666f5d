//! The audit trail: one structured event for every state change and every
//! credential vended. Each event goes two ways:
//! - a `tracing` event with target `cognate::audit`, which the binary
//!   writes as JSON lines (`--audit-log`);
//! - when `[audit] database` is on, a row of the store's audit table
//!   (`AuditRecord`), which the console's Activity page reads.
//!
//! Events carry ids, names and counts, never tokens, secret keys or
//! session tokens; a login is named by its provider only (its subject is
//! a user id at the provider: personal data).
//!
//! The database write is off the request's path: `record` puts the row in
//! a bounded in-memory queue and returns; one task per node writes what
//! queued up in one batch per transaction (`AuditWriter`), so credential
//! vending, the hottest call, never waits for the database. A full queue
//! (the database slower than the events) drops the new event, counts it
//! and warns at most every 10 s, rather than blocking requests or growing
//! without bound. What is queued when the process dies is lost; the file
//! sink sees every event.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use crate::access::{Authority, Caller};
use crate::clock::Clock;
use crate::model::{Login, MergeRecord, Pool};
use crate::store::Store;

pub const TARGET: &str = "cognate::audit";

/// Who an event is recorded as when no request is acting: the node's own
/// background work (the guest sweep, a rotation at start).
pub const SYSTEM_CALLER: &str = "cognate";
/// The admin console, signed in with the admin key.
pub const CONSOLE_CALLER: &str = "console";
/// The admin key, over the API or on the command line.
pub const ADMIN_CALLER: &str = "admin";

/// Rows written per transaction at most.
const BATCH: usize = 500;
/// Rows deleted per purge statement at most: a purge never holds the
/// database (SQLite's one writer) for long.
const PURGE_BATCH: usize = 1000;
/// A failed batch is tried this often before it is dropped.
const WRITE_ATTEMPTS: u32 = 3;
/// Warnings about dropped events, at most one per this.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// `[audit]` in the TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Record the trail in the database (the console's Activity page).
    pub database: bool,
    /// Rows older than this many days are purged; 0 keeps them.
    pub retention_days: u64,
    /// Record credential vending (GetCredentialsForIdentity,
    /// AssumeRoleWithWebIdentity, AssumeRoleWithSAML) in the database
    /// too (off by default; the log file always has them). They are most
    /// of the events of a busy deployment, and on PostgreSQL a write per
    /// vending costs more than the vending's own read.
    pub credentials: bool,
    /// Events waiting for the database at most; beyond, new ones are
    /// dropped (and counted).
    pub queue: usize,
    /// Seconds between purges.
    pub purge_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            database: true,
            retention_days: 30,
            credentials: false,
            queue: 10_000,
            purge_interval_secs: 3600,
        }
    }
}

/// One event of the trail as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix milliseconds.
    pub at: i64,
    /// Unique, and ordered by time within a node (a UUIDv7): with `at`,
    /// the key that pages are cut at.
    pub id: String,
    /// What happened (`pool_created`, `credentials_vended`, ...).
    pub kind: String,
    pub pool_id: Option<String>,
    pub identity_id: Option<String>,
    /// The second identity of a merge (`identity_id` is the one merged
    /// away, this the one it was merged into): a filter on either finds it.
    pub other_identity_id: Option<String>,
    /// Who: an assumed-role ARN, `admin`, `console`, `anonymous` (an
    /// unsigned public call) or `cognate` (the node itself).
    pub caller: String,
    /// A small JSON object: names, counts, the role of vended credentials.
    /// Never a secret.
    pub detail: String,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub pool_id: Option<String>,
    /// Matches `identity_id` or `other_identity_id`.
    pub identity_id: Option<String>,
    pub kind: Option<String>,
    /// At or after (Unix milliseconds).
    pub since: Option<i64>,
    /// Before (Unix milliseconds).
    pub until: Option<i64>,
    /// Keyset: only events before this (at, id), as the last of the
    /// previous page.
    pub before: Option<(i64, String)>,
}

/// The kinds of event, for the console's filter.
pub const KINDS: &[&str] = &[
    "pool_created",
    "pool_updated",
    "pool_deleted",
    "identity_created",
    "identity_deleted",
    "identity_disabled",
    "identities_merged",
    "login_linked",
    "login_unlinked",
    "idle_guests_deleted",
    "credentials_vended",
    "signing_key_rotated",
    "deployment_reset",
    "role_changed",
    "policy_changed",
    "provider_changed",
];

tokio::task_local! {
    static ACTING: Arc<str>;
}

/// Runs `work` with its audit events recorded as done by `caller` (the
/// label `caller_label` makes). Set once where a request is
/// authenticated, so the domain's methods need not pass it along.
pub async fn acting_as<F: std::future::Future>(caller: impl Into<Arc<str>>, work: F) -> F::Output {
    ACTING.scope(caller.into(), work).await
}

/// How a caller is named in the trail.
pub fn caller_label(caller: &Caller) -> String {
    match &caller.authority {
        Authority::Root => ADMIN_CALLER.to_string(),
        Authority::Anonymous => "anonymous".to_string(),
        Authority::Session(session) => session.assumed_role_arn(),
    }
}

fn acting() -> String {
    ACTING
        .try_with(|caller| caller.to_string())
        .unwrap_or_else(|_| SYSTEM_CALLER.to_string())
}

/// Counts of the database sink, for the console and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    pub enabled: bool,
    pub queued: u64,
    pub written: u64,
    /// Dropped because the queue was full.
    pub dropped: u64,
    /// Dropped because the database refused the batch `WRITE_ATTEMPTS` times.
    pub failed: u64,
}

/// The queue between the requests and the writer.
struct Queue {
    events: Mutex<VecDeque<AuditRecord>>,
    capacity: usize,
    credentials: bool,
    ready: tokio::sync::Notify,
    /// Held while a batch is written: one writer at a time, so that a
    /// flush at stop waits for the batch in flight.
    writing: tokio::sync::Mutex<()>,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

/// Where the domain's events go (see the module's comment).
pub struct AuditTrail {
    clock: Arc<dyn Clock>,
    queue: Option<Arc<Queue>>,
}

impl AuditTrail {
    /// Events to the `tracing` sink only.
    pub(crate) fn new(clock: Arc<dyn Clock>) -> AuditTrail {
        AuditTrail { clock, queue: None }
    }

    /// Also queues events for the database, as `config` says. Their
    /// writer is `writer()`'s, to be run by the caller.
    pub(crate) fn record_in_database(&mut self, config: &AuditConfig) {
        self.queue = config.database.then(|| {
            Arc::new(Queue {
                events: Mutex::new(VecDeque::new()),
                capacity: config.queue.max(1),
                credentials: config.credentials,
                ready: tokio::sync::Notify::new(),
                writing: tokio::sync::Mutex::new(()),
                written: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                last_warning: Mutex::new(None),
            })
        });
    }

    /// The task that writes queued events to `store`, if events go there.
    pub fn writer(&self, store: Arc<dyn Store>) -> Option<AuditWriter> {
        self.queue.as_ref().map(|queue| AuditWriter {
            queue: queue.clone(),
            store,
        })
    }

    pub fn stats(&self) -> AuditStats {
        let Some(queue) = &self.queue else {
            return AuditStats::default();
        };
        AuditStats {
            enabled: true,
            queued: queue.events.lock().map_or(0, |events| events.len() as u64),
            written: queue.written.load(Ordering::Relaxed),
            dropped: queue.dropped.load(Ordering::Relaxed),
            failed: queue.failed.load(Ordering::Relaxed),
        }
    }

    /// Queues a row, unless the queue is full (then counts it dropped).
    fn record(
        &self,
        kind: &'static str,
        caller: String,
        pool_id: Option<&str>,
        identity_id: Option<&str>,
        other_identity_id: Option<&str>,
        detail: serde_json::Value,
    ) {
        let Some(queue) = &self.queue else {
            return;
        };
        if kind == "credentials_vended" && !queue.credentials {
            return;
        }
        let millis = self.clock.now_millis();
        let record = AuditRecord {
            at: i64::try_from(millis).unwrap_or(i64::MAX),
            id: crate::ids::time_ordered_uuid(millis),
            kind: kind.to_string(),
            pool_id: pool_id.map(str::to_string),
            identity_id: identity_id.map(str::to_string),
            other_identity_id: other_identity_id.map(str::to_string),
            caller,
            detail: detail.to_string(),
        };
        let queued = match queue.events.lock() {
            Ok(mut events) if events.len() < queue.capacity => {
                events.push_back(record);
                true
            }
            _ => false,
        };
        if queued {
            queue.ready.notify_one();
            return;
        }
        let dropped = queue.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut last) = queue.last_warning.lock()
            && last.is_none_or(|at| at.elapsed() >= WARN_EVERY)
        {
            *last = Some(Instant::now());
            tracing::warn!(
                dropped_total = dropped,
                capacity = queue.capacity,
                "the audit queue is full (the database is slower than the events): \
                 events are dropped from the database trail (the audit log file still has them)"
            );
        }
    }

    pub fn pool_changed(&self, event: &'static str, pool: &Pool) {
        let caller = acting();
        tracing::info!(
            target: TARGET,
            event,
            caller,
            account = %pool.account,
            pool_id = %pool.id,
            pool_name = %pool.name,
            version = pool.version,
        );
        self.record(
            event,
            caller,
            Some(&pool.id),
            None,
            None,
            json!({"pool_name": pool.name, "version": pool.version}),
        );
    }

    pub fn pool_deleted(&self, account: &str, pool_id: &str) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "pool_deleted", caller, account, pool_id);
        self.record("pool_deleted", caller, Some(pool_id), None, None, json!({}));
    }

    pub fn identity_created(&self, pool_id: &str, identity_id: &str, guest: bool) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "identity_created", caller, pool_id, identity_id, guest);
        self.record(
            "identity_created",
            caller,
            Some(pool_id),
            Some(identity_id),
            None,
            json!({"guest": guest}),
        );
    }

    /// `pool_id` when the caller knows it (DeleteIdentities reads it).
    pub fn identity_deleted(&self, pool_id: Option<&str>, identity_id: &str) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "identity_deleted", caller, pool_id, identity_id);
        self.record(
            "identity_deleted",
            caller,
            pool_id,
            Some(identity_id),
            None,
            json!({}),
        );
    }

    /// The login's subject is a user id at the provider: not a secret, but
    /// personal data; only the provider is recorded.
    pub fn login_linked(&self, pool_id: &str, identity_id: &str, login: &Login) {
        let caller = acting();
        tracing::info!(
            target: TARGET,
            event = "login_linked",
            caller,
            pool_id,
            identity_id,
            provider = %login.provider,
        );
        self.record(
            "login_linked",
            caller,
            Some(pool_id),
            Some(identity_id),
            None,
            json!({"provider": login.provider}),
        );
    }

    pub fn login_unlinked(&self, pool_id: &str, identity_id: &str, login: &Login) {
        let caller = acting();
        tracing::info!(
            target: TARGET,
            event = "login_unlinked",
            caller,
            pool_id,
            identity_id,
            provider = %login.provider,
        );
        self.record(
            "login_unlinked",
            caller,
            Some(pool_id),
            Some(identity_id),
            None,
            json!({"provider": login.provider}),
        );
    }

    pub fn identity_disabled(&self, pool_id: &str, identity_id: &str, reason: &'static str) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "identity_disabled", caller, pool_id, identity_id, reason);
        self.record(
            "identity_disabled",
            caller,
            Some(pool_id),
            Some(identity_id),
            None,
            json!({"reason": reason}),
        );
    }

    pub fn identities_merged(&self, merge: &MergeRecord) {
        let caller = acting();
        tracing::info!(
            target: TARGET,
            event = "identities_merged",
            caller,
            pool_id = %merge.pool_id,
            from_identity = %merge.from_identity,
            to_identity = %merge.to_identity,
            cause = merge.cause.as_str(),
        );
        self.record(
            "identities_merged",
            caller,
            Some(&merge.pool_id),
            Some(&merge.from_identity),
            Some(&merge.to_identity),
            json!({"cause": merge.cause.as_str()}),
        );
    }

    pub fn idle_guests_deleted(&self, count: u64) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "idle_guests_deleted", caller, count);
        self.record(
            "idle_guests_deleted",
            caller,
            None,
            None,
            None,
            json!({"count": count}),
        );
    }

    /// The deployment was emptied (`Cognate::reset`): what went, by kind.
    pub fn deployment_reset(&self, account: &str, removed: &crate::store::ResetCounts) {
        let caller = acting();
        tracing::info!(
            target: TARGET,
            event = "deployment_reset",
            caller,
            account,
            pools = removed.pools,
            identities = removed.identities,
            logins = removed.logins,
            merges = removed.merges,
            roles = removed.roles,
            managed_policies = removed.managed_policies,
            role_policy_attachments = removed.role_policy_attachments,
            oidc_providers = removed.oidc_providers,
            saml_providers = removed.saml_providers,
        );
        self.record(
            "deployment_reset",
            caller,
            None,
            None,
            None,
            json!({
                "pools": removed.pools,
                "identities": removed.identities,
                "logins": removed.logins,
                "merges": removed.merges,
                "roles": removed.roles,
                "managed_policies": removed.managed_policies,
                "oidc_providers": removed.oidc_providers,
                "saml_providers": removed.saml_providers,
            }),
        );
    }

    pub fn keys_rotated(&self, kid: &str) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "signing_key_rotated", caller, kid);
        self.record(
            "signing_key_rotated",
            caller,
            None,
            None,
            None,
            json!({"kid": kid}),
        );
    }

    /// An IAM role changed: `action` is the IAM call (`CreateRole`,
    /// `PutRolePolicy`, ...), `policy` the inline policy's name or the
    /// managed policy's ARN it concerns. Never a policy document: it can
    /// be big, and the call's name and the ARN say what changed.
    pub fn role_changed(&self, action: &'static str, role_arn: &str, policy: Option<&str>) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "role_changed", caller, action, arn = role_arn, policy);
        self.iam_changed("role_changed", caller, action, role_arn, "policy", policy);
    }

    /// A managed policy changed: `version_id` names the version a version
    /// call made, deleted or made the default. Never a document.
    pub fn policy_changed(&self, action: &'static str, policy_arn: &str, version_id: Option<&str>) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "policy_changed", caller, action, arn = policy_arn, version_id);
        self.iam_changed(
            "policy_changed",
            caller,
            action,
            policy_arn,
            "version_id",
            version_id,
        );
    }

    /// An OIDC or SAML provider changed: `client_id` is the audience an
    /// OIDC client id call added or removed (not a secret). Never a SAML
    /// metadata document.
    pub fn provider_changed(
        &self,
        action: &'static str,
        provider_arn: &str,
        client_id: Option<&str>,
    ) {
        let caller = acting();
        tracing::info!(target: TARGET, event = "provider_changed", caller, action, arn = provider_arn, client_id);
        self.iam_changed(
            "provider_changed",
            caller,
            action,
            provider_arn,
            "client_id",
            client_id,
        );
    }

    fn iam_changed(
        &self,
        kind: &'static str,
        caller: String,
        action: &'static str,
        arn: &str,
        what: &'static str,
        value: Option<&str>,
    ) {
        let mut detail = json!({"action": action, "arn": arn});
        if let Some(value) = value {
            detail[what] = json!(value);
        }
        self.record(kind, caller, None, None, None, detail);
    }

    /// The access key id is not a secret (every signed request shows it);
    /// the secret key and the session token are never recorded.
    pub fn credentials_vended(
        &self,
        pool_id: &str,
        identity_id: &str,
        role_arn: &str,
        access_key_id: &str,
        flow: &'static str,
    ) {
        let caller = acting();
        tracing::info!(
            target: TARGET,
            event = "credentials_vended",
            caller,
            pool_id,
            identity_id,
            role_arn,
            access_key_id,
            flow,
        );
        // A web identity or SAML session of no identity pool names its
        // provider's audience and subject here instead.
        let in_pool = crate::ids::region_of(pool_id).is_some();
        self.record(
            "credentials_vended",
            caller,
            in_pool.then_some(pool_id),
            in_pool.then_some(identity_id),
            None,
            json!({"role_arn": role_arn, "access_key_id": access_key_id, "flow": flow}),
        );
    }

    /// Everything an applied set of identity changes did.
    pub fn identity_changes(&self, changes: &crate::store::IdentityChanges) {
        if let Some(new) = &changes.create {
            self.identity_created(&changes.pool_id, &new.id, false);
        }
        for merge in &changes.merges {
            self.identities_merged(merge);
        }
        for (id, login) in &changes.unlinks {
            self.login_unlinked(&changes.pool_id, id, login);
        }
        for (id, login) in &changes.links {
            self.login_linked(&changes.pool_id, id, login);
        }
        for id in &changes.disable {
            self.identity_disabled(&changes.pool_id, id, "no logins left");
        }
    }
}

/// Writes the queued events to the store, a batch per transaction.
pub struct AuditWriter {
    queue: Arc<Queue>,
    store: Arc<dyn Store>,
}

impl AuditWriter {
    /// Writes batches as events arrive, until the task is aborted.
    pub async fn run(self) {
        loop {
            if !self.write_batch().await {
                self.queue.ready.notified().await;
            }
        }
    }

    /// Writes everything queued now (the command-line tools, before they
    /// exit).
    pub async fn flush(&self) {
        while self.write_batch().await {}
    }

    /// Writes one batch; false if there was nothing to write. The batch
    /// leaves the queue once written (or given up on), not before: a
    /// writer aborted midway (the server stopping) loses nothing, and the
    /// flush after it writes the batch again (appending is idempotent).
    async fn write_batch(&self) -> bool {
        let _writing = self.queue.writing.lock().await;
        let batch: Vec<AuditRecord> = match self.queue.events.lock() {
            Ok(events) => events.iter().take(BATCH).cloned().collect(),
            Err(_) => return false,
        };
        let done = || {
            if let Ok(mut events) = self.queue.events.lock() {
                let n = batch.len().min(events.len());
                events.drain(..n);
            }
        };
        if batch.is_empty() {
            return false;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.store.append_audit(&batch).await {
                Ok(()) => {
                    done();
                    self.queue
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return true;
                }
                Err(e) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "writing audit events failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => {
                    done();
                    self.queue
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::warn!(
                        error = %e,
                        events = batch.len(),
                        "writing audit events to the database failed: they are dropped \
                         from the database trail (the audit log file still has them)"
                    );
                    return true;
                }
            }
        }
    }
}

impl crate::service::Cognate {
    /// The audit trail of this node.
    pub fn audit_trail(&self) -> &AuditTrail {
        &self.audit
    }

    /// Records the trail in the database too, as `config` says (before
    /// the domain is shared; `AuditTrail::writer` then writes it).
    pub fn record_audit_in_database(&mut self, config: &AuditConfig) {
        self.audit.record_in_database(config);
    }

    /// The stored trail, newest first, `limit` events after `query.before`.
    /// Only the account root (the admin key, the console) may read it.
    pub async fn audit_events(
        &self,
        caller: &Caller,
        query: &AuditQuery,
        limit: usize,
    ) -> crate::Result<Vec<AuditRecord>> {
        if caller.authority != Authority::Root {
            return Err(crate::Error::AccessDenied(format!(
                "User: {} is not authorized to read the audit trail: only its admin key may.",
                caller.arn()
            )));
        }
        Ok(self.store.list_audit(query, limit).await?)
    }

    /// Deletes events older than `retention`, in bounded batches; returns
    /// how many.
    pub async fn purge_audit(&self, retention: Duration) -> crate::Result<u64> {
        let now = i64::try_from(self.clock.now_millis()).unwrap_or(i64::MAX);
        let before = now.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        let mut total = 0;
        loop {
            let deleted = self.store.purge_audit(before, PURGE_BATCH).await?;
            total += deleted;
            if deleted < PURGE_BATCH as u64 {
                return Ok(total);
            }
            // Let the requests' writes through between batches.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
