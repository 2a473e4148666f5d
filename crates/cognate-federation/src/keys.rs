//! Signing keys per issuer: discovery, JWKS, caching, single-flight
//! refetching with a cooldown, and stale keys when the provider is down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::Value;

use crate::http::{FetchError, Http, parse_url};
use crate::jwt::Jwk;

/// A JWKS with more entries than this is refused.
const MAX_KEYS: usize = 100;

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`.
    /// The document's `issuer` must be this issuer.
    Discovery { issuer: String },
    /// This JWKS URL, no discovery.
    Direct { jwks_uri: String },
}

impl KeySource {
    fn cache_key(&self) -> String {
        match self {
            KeySource::Discovery { issuer } => {
                format!("discovery {}", issuer.trim_end_matches('/'))
            }
            KeySource::Direct { jwks_uri } => format!("jwks {jwks_uri}"),
        }
    }

    fn describe(&self) -> &str {
        match self {
            KeySource::Discovery { issuer } => issuer,
            KeySource::Direct { jwks_uri } => jwks_uri,
        }
    }
}

/// Keys as fetched at one moment.
struct KeySet {
    keys: Vec<Jwk>,
    fetched_at: Instant,
    generation: u64,
    jwks_uri: Url,
}

impl KeySet {
    /// The keys a token may be verified with: those with its `kid` (or all,
    /// when it names none). `None`: the kid is not in this set.
    fn select(&self, kid: Option<&str>) -> Option<Vec<Jwk>> {
        let found: Vec<Jwk> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .cloned()
                .collect(),
            None => self.keys.clone(),
        };
        if found.is_empty() { None } else { Some(found) }
    }
}

#[derive(Default)]
struct FetchState {
    generation: u64,
    last_attempt: Option<Instant>,
    last_failure: Option<(Instant, FetchError)>,
}

/// One issuer's cache. Readers take the snapshot without waiting; fetches
/// happen under `fetch`, so concurrent misses share one fetch.
#[derive(Default)]
struct Entry {
    current: RwLock<Option<Arc<KeySet>>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl Entry {
    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, set: Arc<KeySet>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(set);
    }
}

pub(crate) struct KeyCache {
    http: Http,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    ttl: Duration,
    cooldown: Duration,
    stale_if_error: Duration,
}

impl KeyCache {
    pub(crate) fn new(
        http: Http,
        ttl: Duration,
        cooldown: Duration,
        stale_if_error: Duration,
    ) -> Self {
        KeyCache {
            http,
            entries: Mutex::new(HashMap::new()),
            ttl,
            cooldown,
            stale_if_error,
        }
    }

    fn entry(&self, source: &KeySource) -> Arc<Entry> {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(source.cache_key()).or_default().clone()
    }

    fn fresh(&self, set: &KeySet) -> bool {
        set.fetched_at.elapsed() < self.ttl
    }

    /// The candidate keys for a token naming `kid`. `Ok(None)`: the issuer
    /// does not publish that kid (after refetching, if the cooldown allowed).
    /// `Err`: the keys could not be fetched and no usable cached keys exist.
    pub(crate) async fn keys_for(
        &self,
        source: &KeySource,
        kid: Option<&str>,
    ) -> Result<Option<Vec<Jwk>>, FetchError> {
        let entry = self.entry(source);

        // Fast path: fresh keys that know the kid.
        let seen = entry.snapshot();
        if let Some(set) = &seen
            && self.fresh(set)
            && let Some(found) = set.select(kid)
        {
            return Ok(Some(found));
        }
        let seen_generation = seen.as_ref().map_or(0, |s| s.generation);

        // Single flight: whoever holds the lock fetches; the others then
        // look again at what it fetched.
        let mut state = entry.fetch.lock().await;
        let snapshot = entry.snapshot();
        let now = Instant::now();
        let mut jwks_uri_hint = None;
        match &snapshot {
            Some(set) if self.fresh(set) => {
                if let Some(found) = set.select(kid) {
                    return Ok(Some(found));
                }
                // Unknown kid. Someone fetched while we waited: that fetch
                // answers for us too.
                if set.generation != seen_generation {
                    return Ok(None);
                }
                if state
                    .last_attempt
                    .is_some_and(|t| now.duration_since(t) < self.cooldown)
                {
                    return Ok(None);
                }
                // Keys are fresh: refetch the JWKS only, not the discovery.
                jwks_uri_hint = Some(set.jwks_uri.clone());
            }
            _ => {
                if let Some((at, err)) = &state.last_failure
                    && now.duration_since(*at) < self.cooldown
                {
                    return self.stale_or(snapshot.as_deref(), kid, err.clone());
                }
            }
        }

        // Recorded once the fetch has finished: if this future is dropped
        // mid-fetch (client gone), the next waiter fetches instead.
        let fetched = self.fetch(source, jwks_uri_hint).await;
        state.last_attempt = Some(Instant::now());
        match fetched {
            Ok((keys, jwks_uri)) => {
                state.generation += 1;
                state.last_failure = None;
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Instant::now(),
                    generation: state.generation,
                    jwks_uri,
                });
                entry.store(set.clone());
                tracing::debug!(
                    source = source.describe(),
                    keys = set.keys.len(),
                    "fetched signing keys"
                );
                Ok(set.select(kid))
            }
            Err(err) => {
                tracing::warn!(source = source.describe(), error = %err, "could not fetch signing keys");
                state.last_failure = Some((Instant::now(), err.clone()));
                self.stale_or(snapshot.as_deref(), kid, err)
            }
        }
    }

    /// After a failed (or recently failed) fetch: keys that expired less than
    /// `stale_if_error` ago still serve, if they know the kid.
    fn stale_or(
        &self,
        snapshot: Option<&KeySet>,
        kid: Option<&str>,
        err: FetchError,
    ) -> Result<Option<Vec<Jwk>>, FetchError> {
        if let Some(set) = snapshot
            && set.fetched_at.elapsed() < self.ttl + self.stale_if_error
            && let Some(found) = set.select(kid)
        {
            return Ok(Some(found));
        }
        Err(err)
    }

    async fn fetch(
        &self,
        source: &KeySource,
        jwks_uri_hint: Option<Url>,
    ) -> Result<(Vec<Jwk>, Url), FetchError> {
        let jwks_uri = match (source, jwks_uri_hint) {
            (_, Some(uri)) => uri,
            (KeySource::Direct { jwks_uri }, None) => parse_url(jwks_uri)?,
            (KeySource::Discovery { issuer }, None) => self.discover(issuer).await?,
        };
        let doc = self.http.get_json_ok(&jwks_uri).await?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(FetchError::Invalid("JWKS without a keys array".into()));
        };
        if entries.len() > MAX_KEYS {
            return Err(FetchError::Invalid(format!(
                "JWKS with more than {MAX_KEYS} keys"
            )));
        }
        let mut keys = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            match Jwk::from_json(entry) {
                Ok(k) => keys.push(k),
                Err(why) => {
                    let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
                    tracing::warn!(
                        source = source.describe(),
                        index = i,
                        kid,
                        reason = why,
                        "ignoring JWKS key"
                    );
                }
            }
        }
        Ok((keys, jwks_uri))
    }

    async fn discover(&self, issuer: &str) -> Result<Url, FetchError> {
        parse_url(issuer)?;
        let url = parse_url(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))?;
        let doc = self.http.get_json_ok(&url).await?;
        match doc.get("issuer").and_then(Value::as_str) {
            Some(named) if named.trim_end_matches('/') == issuer.trim_end_matches('/') => {}
            _ => {
                return Err(FetchError::Invalid(
                    "discovery document names another issuer".into(),
                ));
            }
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| FetchError::Invalid("discovery document without jwks_uri".into()))?;
        parse_url(jwks_uri)
    }
}
