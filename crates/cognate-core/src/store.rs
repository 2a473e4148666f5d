//! The storage contract. One implementation per engine (`cognate-store`);
//! both run the same conformance suite. The domain decides, the store
//! applies: multi-record changes are handed over as one `IdentityChanges`
//! with the versions the decision was based on, and the store applies them
//! atomically or not at all.

use async_trait::async_trait;

use crate::model::{
    Identity, Login, ManagedPolicy, MergeRecord, OidcProvider, Pool, Role, SamlProvider,
    SigningKeyRecord,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A precondition failed (a version changed, a login was taken
    /// meanwhile). The caller re-reads and decides again.
    #[error("conflicting concurrent change: {0}")]
    Conflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A change to a managed policy (its versions, its default), made by
/// `Store::edit_managed_policy` under the store's lock.
pub type PolicyEdit =
    Box<dyn Fn(&mut ManagedPolicy) -> Result<(), crate::error::Error> + Send + Sync>;

/// The outcome of `Store::delete_managed_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDeletion {
    Deleted,
    NotFound,
    /// Still attached to at least one role: nothing was deleted.
    Attached,
}

/// What `Store::reset` removed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResetCounts {
    pub pools: u64,
    pub identities: u64,
    /// Logins of every kind: provider logins and developer user ids.
    pub logins: u64,
    pub merges: u64,
    /// Roles, with their inline policies (part of the role).
    pub roles: u64,
    pub managed_policies: u64,
    pub role_policy_attachments: u64,
    pub oidc_providers: u64,
    pub saml_providers: u64,
}

/// What an identity is now, as the console's filters select it. Each is
/// served by an index of its own (see the identity filter migrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityState {
    /// Enabled, without logins.
    Guest,
    /// Enabled, with at least one login.
    Authenticated,
    /// Disabled: merged into another identity, or left without logins.
    Disabled,
}

/// A new identity to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentity {
    pub id: String,
    pub pool_id: String,
    pub created_at: i64,
}

/// Everything one identity operation changes, applied in one transaction.
/// Order of application: create, preconditions, merges, unlinks, links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityChanges {
    pub pool_id: String,
    pub now: i64,
    pub create: Option<NewIdentity>,
    /// Identities the decision read, with the version it saw. Any mismatch
    /// (or a missing identity) aborts with `StoreError::Conflict`.
    pub expect_versions: Vec<(String, i64)>,
    /// Move every login of `from_identity` to `to_identity`, disable
    /// `from_identity`, and record the merge.
    pub merges: Vec<MergeRecord>,
    /// Logins to remove from an identity.
    pub unlinks: Vec<(String, Login)>,
    /// Logins to add to an identity. A login already owned by any identity
    /// of the pool aborts with `StoreError::Conflict`.
    pub links: Vec<(String, Login)>,
    /// Identities whose version and updated_at are bumped even if nothing
    /// else names them.
    pub touch: Vec<String>,
    /// Identities to disable (applied last): an identity whose last login
    /// was unlinked is inaccessible.
    pub disable: Vec<String>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- identity pools ----

    /// Inserts a pool unless the account already has `max_per_region`
    /// pools in its region (`LimitExceeded`).
    async fn insert_pool(&self, pool: &Pool, max_per_region: usize) -> StoreResult<()>;
    async fn get_pool(&self, id: &str) -> StoreResult<Option<Pool>>;
    /// Replaces the pool if its stored version is `expected_version`
    /// (`Conflict` otherwise, `NotFound` if gone). `pool.version` is the
    /// new version.
    async fn update_pool(&self, pool: &Pool, expected_version: i64) -> StoreResult<()>;
    /// Deletes the pool with its identities, logins and merges.
    async fn delete_pool(&self, id: &str) -> StoreResult<bool>;
    /// Pools of an account in a region ordered by id, after the given id.
    async fn list_pools(
        &self,
        account: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Pool>>;
    /// The pool (if any) of the account and region using this developer
    /// provider name.
    async fn pool_by_developer_provider(
        &self,
        account: &str,
        region: &str,
        developer_provider_name: &str,
    ) -> StoreResult<Option<String>>;

    // ---- identities ----

    async fn get_identity(&self, id: &str) -> StoreResult<Option<Identity>>;
    /// The owners of the given logins in a pool: (login, identity id) for
    /// each login that has one.
    async fn find_login_owners(
        &self,
        pool_id: &str,
        logins: &[Login],
    ) -> StoreResult<Vec<(Login, String)>>;
    async fn apply_identity_changes(&self, changes: &IdentityChanges) -> StoreResult<()>;
    /// Creates guest identities (no logins) in one transaction.
    async fn insert_guests(&self, identities: &[NewIdentity]) -> StoreResult<()>;
    /// Identities of a pool ordered by id, after the given id.
    async fn list_identities(
        &self,
        pool_id: &str,
        hide_disabled: bool,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>>;
    /// Identities of a pool in one state ordered by id, after the given
    /// id: a page costs the same at any depth and however rare the state.
    async fn list_identities_in_state(
        &self,
        pool_id: &str,
        state: IdentityState,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Identity>>;
    /// How many identities a pool has, counting no further than `cap`
    /// (the admin console shows "10,000 or more"): bounded work however
    /// large the pool.
    async fn count_identities(&self, pool_id: &str, cap: usize) -> StoreResult<usize>;
    /// Deletes an identity and its logins. False if it did not exist.
    async fn delete_identity(&self, id: &str) -> StoreResult<bool>;
    /// Merges into or out of an identity, oldest first.
    async fn merges_of(&self, identity_id: &str) -> StoreResult<Vec<MergeRecord>>;
    /// Subjects of one provider on an identity, ordered, after the given one.
    async fn subjects_of(
        &self,
        identity_id: &str,
        provider: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>>;

    // ---- IAM ----

    /// Inserts a role (`AlreadyExists` if the name is taken). Its
    /// `attached_policies` are ignored: a new role has none.
    async fn insert_role(&self, role: &Role) -> StoreResult<()>;
    /// The role, with `attached_policies` filled in from the attachments.
    async fn get_role(&self, account: &str, name: &str) -> StoreResult<Option<Role>>;
    /// Replaces an existing role (`NotFound` if gone). `attached_policies`
    /// is ignored: attachments change only through `attach_role_policy` and
    /// `detach_role_policy`, so a read-modify-write of the role cannot undo
    /// a concurrent attachment.
    async fn update_role(&self, role: &Role) -> StoreResult<()>;
    /// Deletes the role and its attachments.
    async fn delete_role(&self, account: &str, name: &str) -> StoreResult<bool>;
    async fn list_roles(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Role>>;

    /// Inserts a managed policy (`AlreadyExists` if its ARN, or its name in
    /// the account ignoring case, is taken). `attachment_count` is ignored.
    async fn insert_managed_policy(&self, policy: &ManagedPolicy) -> StoreResult<()>;
    /// Edits a managed policy atomically with respect to other edits:
    /// reads it, applies `edit`, and writes it back with a raised
    /// configuration generation, unless `edit` refuses (then nothing is
    /// written and its error is returned inside). `NotFound` if there is
    /// no such policy. `edit` may run more than once (retries).
    async fn edit_managed_policy(
        &self,
        arn: &str,
        edit: PolicyEdit,
    ) -> StoreResult<Result<ManagedPolicy, crate::error::Error>>;
    /// The policy, with `attachment_count` counted from the attachments.
    async fn get_managed_policy(&self, arn: &str) -> StoreResult<Option<ManagedPolicy>>;
    /// Deletes a policy unless a role has it attached; atomic with respect
    /// to concurrent attachments.
    async fn delete_managed_policy(&self, arn: &str) -> StoreResult<PolicyDeletion>;
    /// Managed policies of an account ordered by lower-cased name, after
    /// the given lower-cased name.
    async fn list_managed_policies(
        &self,
        account: &str,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<ManagedPolicy>>;
    /// Attaches a policy to a role; attaching it again changes nothing.
    /// `NotFound` if the role or the policy does not exist (atomic with
    /// respect to their deletion).
    async fn attach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<()>;
    /// Detaches a policy from a role; false if it was not attached.
    async fn detach_role_policy(
        &self,
        account: &str,
        role_name: &str,
        policy_arn: &str,
    ) -> StoreResult<bool>;

    async fn insert_oidc_provider(&self, provider: &OidcProvider) -> StoreResult<()>;
    async fn get_oidc_provider(&self, arn: &str) -> StoreResult<Option<OidcProvider>>;
    async fn update_oidc_provider(&self, provider: &OidcProvider) -> StoreResult<()>;
    async fn delete_oidc_provider(&self, arn: &str) -> StoreResult<bool>;
    async fn list_oidc_providers(&self, account: &str) -> StoreResult<Vec<OidcProvider>>;

    async fn insert_saml_provider(&self, provider: &SamlProvider) -> StoreResult<()>;
    async fn get_saml_provider(&self, arn: &str) -> StoreResult<Option<SamlProvider>>;
    async fn update_saml_provider(&self, provider: &SamlProvider) -> StoreResult<()>;
    async fn delete_saml_provider(&self, arn: &str) -> StoreResult<bool>;
    async fn list_saml_providers(&self, account: &str) -> StoreResult<Vec<SamlProvider>>;

    // ---- keys and settings ----

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Marks every unretired key but `except_kid` retired at `at`.
    async fn retire_signing_keys(&self, except_kid: &str, at: i64) -> StoreResult<()>;
    /// Drops keys retired before `before`.
    async fn delete_signing_keys_retired_before(&self, before: i64) -> StoreResult<u64>;

    async fn get_setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Deletes up to `limit` guests (no logins, never merged, not
    /// disabled) last changed before `before`; returns how many.
    async fn delete_idle_guests(&self, before: i64, limit: usize) -> StoreResult<u64>;

    /// Empties the deployment's configuration and identities in one
    /// transaction: every pool, identity, login, merge, role (inline
    /// policies included), managed policy, attachment, OIDC and SAML
    /// provider, of every account. Signing keys and settings (the master
    /// key check, the session sealing key) stay. Raises the configuration
    /// generation, so every node's caches drop what they hold.
    async fn reset(&self) -> StoreResult<ResetCounts>;

    // ---- configuration generation ----

    /// A counter that every change to pools, roles (attachments
    /// included), managed policies and OIDC providers raises, in the same
    /// transaction as the change; refused changes and identity writes
    /// leave it alone. Nodes compare it with their cache's generation.
    async fn config_generation(&self) -> StoreResult<i64>;

    /// `config_generation` and `get_identity` together, as every public
    /// call on an identity starts (one statement where the engine can).
    async fn generation_and_identity(&self, id: &str) -> StoreResult<(i64, Option<Identity>)> {
        let (generation, identity) = tokio::join!(self.config_generation(), self.get_identity(id));
        Ok((generation?, identity?))
    }

    // ---- export and import (moving a deployment between engines) ----

    /// Every pool of every account, ordered by id, after the given id.
    async fn list_all_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Pool>>;
    /// Every merge recorded in a pool, oldest first.
    async fn merges_of_pool(&self, pool_id: &str) -> StoreResult<Vec<MergeRecord>>;
    /// Writes identities exactly as given (logins, state, version, times)
    /// in one transaction. An existing id or login is `AlreadyExists`.
    async fn import_identities(&self, identities: &[Identity]) -> StoreResult<()>;
    /// Writes merge records as given, in order, in one transaction.
    async fn import_merges(&self, merges: &[MergeRecord]) -> StoreResult<()>;
    /// Sets a setting only if it is absent; returns the value that is
    /// stored afterwards (the existing one if another node won).
    async fn init_setting(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>>;

    // ---- the audit trail ----

    /// Appends audit events in one transaction. An event whose (at, id)
    /// is stored already is skipped, so a batch whose commit was lost can
    /// be written again.
    async fn append_audit(&self, events: &[crate::audit::AuditRecord]) -> StoreResult<()>;
    /// Events matching `query`, newest first ((at, id) descending), at
    /// most `limit`.
    async fn list_audit(
        &self,
        query: &crate::audit::AuditQuery,
        limit: usize,
    ) -> StoreResult<Vec<crate::audit::AuditRecord>>;
    /// Deletes up to `limit` of the oldest events before `before` (Unix
    /// milliseconds); returns how many.
    async fn purge_audit(&self, before: i64, limit: usize) -> StoreResult<u64>;
}
