//! Pools and roles as the hot paths (GetId, GetOpenIdToken,
//! GetCredentialsForIdentity, developer calls, AssumeRoleWithWebIdentity)
//! need them, cached per node, with each role's trust policy parsed once.
//!
//! Correct across nodes through the store's configuration generation,
//! which every configuration change raises in its own transaction:
//! - a request reads the generation once, first (`Cognate::config_view`);
//!   a generation newer than the cache's clears the cache, which takes it;
//! - a value read from the store after reading generation G is inserted
//!   only while the cache is still at exactly G: a slow request must not
//!   put what it read under a newer generation;
//! - a request that read an older generation than the cache's neither
//!   clears nor inserts (what the cache holds is at least as new).
//!
//! So a change committed before a request starts is seen by that request,
//! on every node. Only values found are cached: a missing pool or role is
//! read again each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cognate_policy::Policy;

use crate::model::{Pool, Role};
use crate::trust::{TrustMemo, WebIdentity, trust_allows};

/// Entries of each kind kept at most; a full map is emptied (simple, and
/// only deployments with thousands of active pools ever reach it).
pub const MAX_ENTRIES: usize = 4096;

/// A role with its trust policy parsed. `trust` is None when the stored
/// document does not parse (it was validated on write, so only data from
/// elsewhere): such a role trusts nobody.
#[derive(Debug)]
pub struct CachedRole {
    pub role: Role,
    pub trust: Option<Arc<Policy>>,
    trust_memo: Option<TrustMemo>,
    /// The role's identity policies (inline and attached managed), parsed,
    /// once the first signed request of its sessions needs them. Read from
    /// the store after the role was, so at least as new as it; a change to
    /// any of them raises the generation, which drops this entry.
    pub(crate) permissions: tokio::sync::OnceCell<Arc<crate::authz::RolePermissions>>,
}

impl CachedRole {
    pub fn new(role: Role) -> Self {
        let trust = crate::trust::parse_trust_policy(&role.assume_role_policy_document)
            .ok()
            .map(Arc::new);
        let trust_memo = trust
            .as_ref()
            .and_then(|p| TrustMemo::for_policy(p, &role.assume_role_policy_document));
        CachedRole {
            role,
            trust,
            trust_memo,
            permissions: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether the trust policy lets `who` assume the role (see
    /// [`TrustMemo`] for when a decision is shared).
    pub fn trusts(&self, who: &WebIdentity<'_>) -> bool {
        let Some(policy) = &self.trust else {
            return false;
        };
        match &self.trust_memo {
            Some(memo) => memo.trust_allows(policy, &self.role.arn, who),
            None => trust_allows(policy, &self.role.arn, who),
        }
    }
}

/// The generation one request read: every cached lookup of the request
/// goes through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigView {
    generation: i64,
}

impl ConfigView {
    pub fn generation(&self) -> i64 {
        self.generation
    }
}

#[derive(Debug)]
struct Inner {
    generation: i64,
    pools: HashMap<String, Arc<Pool>>,
    /// By account, then lower-cased name (IAM role names ignore case):
    /// two maps so that a lookup, made for every signed request of a
    /// session, needs no key of its own.
    roles: HashMap<String, HashMap<String, Arc<CachedRole>>>,
    /// Roles held, over every account.
    role_count: usize,
}

#[derive(Debug)]
pub struct ConfigCache {
    inner: Mutex<Inner>,
    max_entries: usize,
}

impl Default for ConfigCache {
    fn default() -> Self {
        ConfigCache::new(MAX_ENTRIES)
    }
}

impl ConfigCache {
    pub fn new(max_entries: usize) -> Self {
        ConfigCache {
            inner: Mutex::new(Inner {
                // Below any generation the store hands out.
                generation: i64::MIN,
                pools: HashMap::new(),
                roles: HashMap::new(),
                role_count: 0,
            }),
            max_entries: max_entries.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent, so a panic
        // elsewhere while holding the lock leaves nothing half done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the generation a request read: a newer one empties the cache.
    pub fn observe(&self, generation: i64) -> ConfigView {
        let mut inner = self.lock();
        if generation > inner.generation {
            inner.generation = generation;
            inner.pools.clear();
            inner.roles.clear();
            inner.role_count = 0;
        }
        ConfigView { generation }
    }

    /// The generation the cache is at.
    pub fn generation(&self) -> i64 {
        self.lock().generation
    }

    pub fn pool(&self, view: &ConfigView, id: &str) -> Option<Arc<Pool>> {
        let inner = self.lock();
        // What the cache holds is at least as new as the view.
        if inner.generation < view.generation {
            return None;
        }
        inner.pools.get(id).cloned()
    }

    /// Caches a pool read from the store under `view`; false when the
    /// cache has moved on since (the value is then not kept).
    pub fn insert_pool(&self, view: &ConfigView, pool: Arc<Pool>) -> bool {
        let mut inner = self.lock();
        if inner.generation != view.generation {
            return false;
        }
        if inner.pools.len() >= self.max_entries {
            inner.pools.clear();
        }
        inner.pools.insert(pool.id.clone(), pool);
        true
    }

    pub fn role(&self, view: &ConfigView, account: &str, name: &str) -> Option<Arc<CachedRole>> {
        let inner = self.lock();
        if inner.generation < view.generation {
            return None;
        }
        let roles = inner.roles.get(account)?;
        with_lower_name(name, |name| roles.get(name).cloned())
    }

    /// Caches a role read from the store under `view`; false when the
    /// cache has moved on since.
    pub fn insert_role(&self, view: &ConfigView, role: Arc<CachedRole>) -> bool {
        let name = role.role.name.to_lowercase();
        let mut inner = self.lock();
        if inner.generation != view.generation {
            return false;
        }
        if inner.role_count >= self.max_entries {
            inner.roles.clear();
            inner.role_count = 0;
        }
        let account = inner.roles.entry(role.role.account.clone()).or_default();
        if account.insert(name, role).is_none() {
            inner.role_count += 1;
        }
        true
    }
}

/// Calls `f` with a role name as the cache keys it (`str::to_lowercase`):
/// an ASCII name of IAM's length is lower-cased on the stack, since every
/// signed request of a session looks its role up.
fn with_lower_name<R>(name: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buffer = [0u8; 128];
    if name.is_ascii()
        && let Some(lower) = buffer.get_mut(..name.len())
    {
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        if let Ok(lower) = std::str::from_utf8(lower) {
            return f(lower);
        }
    }
    f(&name.to_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    fn pool(id: &str, name: &str) -> Arc<Pool> {
        Arc::new(Pool {
            allow_unauthenticated: true,
            ..Pool::empty(id, "111", "us-east-1", name, 1)
        })
    }

    fn role(name: &str, trust: &str) -> Arc<CachedRole> {
        Arc::new(CachedRole::new(Role {
            account: "111".into(),
            name: name.into(),
            path: "/".into(),
            role_id: "AROAEXAMPLE".into(),
            arn: format!("arn:aws:iam::111:role/{name}"),
            assume_role_policy_document: trust.into(),
            description: None,
            max_session_duration: 3600,
            created_at: 1,
            inline_policies: BTreeMap::new(),
            attached_policies: vec![],
            tags: BTreeMap::new(),
        }))
    }

    #[test]
    fn values_read_under_the_current_generation_are_kept() {
        let cache = ConfigCache::default();
        let view = cache.observe(3);
        assert!(cache.pool(&view, "p").is_none());
        assert!(cache.insert_pool(&view, pool("p", "first")));
        assert_eq!(cache.pool(&view, "p").unwrap().name, "first");
        // Another request of the same generation hits.
        let again = cache.observe(3);
        assert_eq!(cache.pool(&again, "p").unwrap().name, "first");
    }

    #[test]
    fn a_newer_generation_empties_the_cache() {
        let cache = ConfigCache::default();
        let old = cache.observe(3);
        cache.insert_pool(&old, pool("p", "first"));
        cache.insert_role(&old, role("Guest", "{}"));
        let new = cache.observe(4);
        assert_eq!(cache.generation(), 4);
        assert!(cache.pool(&new, "p").is_none());
        assert!(cache.role(&new, "111", "guest").is_none());
    }

    #[test]
    fn a_slow_request_cannot_insert_under_a_newer_generation() {
        let cache = ConfigCache::default();
        // A reads generation 3 and goes to the store...
        let slow = cache.observe(3);
        // ...meanwhile the pool changes and B reads generation 4.
        let fast = cache.observe(4);
        // A's value (possibly from before the change) must not be kept.
        assert!(!cache.insert_pool(&slow, pool("p", "stale")));
        assert!(!cache.insert_role(&slow, role("Guest", "{}")));
        assert!(cache.pool(&fast, "p").is_none());
        assert!(cache.role(&fast, "111", "Guest").is_none());
        // B's own read is kept.
        assert!(cache.insert_pool(&fast, pool("p", "fresh")));
        assert_eq!(cache.pool(&fast, "p").unwrap().name, "fresh");
    }

    #[test]
    fn an_older_generation_neither_clears_nor_inserts() {
        let cache = ConfigCache::default();
        let current = cache.observe(5);
        cache.insert_pool(&current, pool("p", "current"));
        let late = cache.observe(4);
        assert_eq!(cache.generation(), 5);
        // What the cache holds is newer than what the late request read.
        assert_eq!(cache.pool(&late, "p").unwrap().name, "current");
        assert!(!cache.insert_pool(&late, pool("q", "old")));
        assert!(cache.pool(&current, "q").is_none());
    }

    #[test]
    fn roles_ignore_name_case_and_keep_their_parsed_trust() {
        let cache = ConfigCache::default();
        let view = cache.observe(1);
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        cache.insert_role(&view, role("Guest", trust));
        let hit = cache.role(&view, "111", "GUEST").unwrap();
        assert!(hit.trust.is_some());
        assert!(cache.role(&view, "222", "Guest").is_none());
        // A document that does not parse trusts nobody.
        assert!(role("Broken", "not json").trust.is_none());
    }

    #[test]
    fn size_is_bounded() {
        let cache = ConfigCache::new(2);
        let view = cache.observe(1);
        for id in ["a", "b", "c"] {
            cache.insert_pool(&view, pool(id, id));
        }
        let held = ["a", "b", "c"]
            .iter()
            .filter(|id| cache.pool(&view, id).is_some())
            .count();
        assert!(held <= 2);
        assert!(cache.pool(&view, "c").is_some());
        // Roles too, counted over every account.
        for name in ["A", "B", "C"] {
            cache.insert_role(&view, role(name, "{}"));
        }
        let held = ["a", "b", "c"]
            .iter()
            .filter(|name| cache.role(&view, "111", name).is_some())
            .count();
        assert!(held <= 2);
        assert!(cache.role(&view, "111", "c").is_some());
    }
}
