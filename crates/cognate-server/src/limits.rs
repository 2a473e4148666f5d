//! Abuse limits for the unsigned operations: token buckets per source
//! address (an IPv6 client's /64) and, for guest creation, per pool.
//! Exceeding one answers TooManyRequestsException (Query: Throttling),
//! which the SDKs retry with backoff.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use crate::client_address::limit_key;

/// Limits in requests per second with a burst allowance. Zero disables one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Public calls (GetId, GetOpenIdToken, GetCredentialsForIdentity,
    /// UnlinkIdentity, AssumeRoleWithWebIdentity, AssumeRoleWithSAML) per
    /// source address.
    pub public_per_address_per_second: f64,
    pub public_per_address_burst: f64,
    /// New guest identities per source address.
    pub guests_per_address_per_minute: f64,
    pub guests_per_address_burst: f64,
    /// New guest identities per pool, all addresses together.
    pub guests_per_pool_per_second: f64,
    pub guests_per_pool_burst: f64,
}

impl Default for LimitsConfig {
    /// Generous for one app's users behind one address (a school, an
    /// office), tight enough that one address cannot fill the database.
    fn default() -> Self {
        LimitsConfig {
            public_per_address_per_second: 50.0,
            public_per_address_burst: 200.0,
            guests_per_address_per_minute: 60.0,
            guests_per_address_burst: 120.0,
            guests_per_pool_per_second: 500.0,
            guests_per_pool_burst: 2000.0,
        }
    }
}

impl LimitsConfig {
    /// No limits at all (benchmarks, tests of other things).
    pub fn unlimited() -> Self {
        LimitsConfig {
            public_per_address_per_second: 0.0,
            public_per_address_burst: 0.0,
            guests_per_address_per_minute: 0.0,
            guests_per_address_burst: 0.0,
            guests_per_pool_per_second: 0.0,
            guests_per_pool_burst: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by key. Idle buckets are dropped when the map grows, so
/// many addresses cannot grow it without bound.
struct Buckets<K> {
    rate_per_sec: f64,
    burst: f64,
    map: Mutex<HashMap<K, Bucket>>,
}

const MAX_TRACKED: usize = 100_000;

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(rate_per_sec: f64, burst: f64) -> Self {
        Buckets {
            rate_per_sec,
            burst: burst.max(1.0),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, key: &K, now: Instant) -> bool {
        if self.rate_per_sec <= 0.0 {
            return true;
        }
        let mut map = match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_TRACKED {
            let (rate, burst) = (self.rate_per_sec, self.burst);
            // Buckets that have refilled completely carry no information.
            map.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
            // Still nearly full (many keys busy at once, as many IPv6
            // prefixes can be): start over, so that the scan above runs
            // once per many new keys rather than for every one.
            if map.len() > MAX_TRACKED / 4 * 3 {
                map.clear();
            }
        }
        let bucket = map.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate_per_sec).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub struct Limiter {
    public_by_address: Buckets<IpAddr>,
    guests_by_address: Buckets<IpAddr>,
    guests_by_pool: Buckets<String>,
}

impl Limiter {
    pub fn new(config: &LimitsConfig) -> Self {
        Limiter {
            public_by_address: Buckets::new(
                config.public_per_address_per_second,
                config.public_per_address_burst,
            ),
            guests_by_address: Buckets::new(
                config.guests_per_address_per_minute / 60.0,
                config.guests_per_address_burst,
            ),
            guests_by_pool: Buckets::new(
                config.guests_per_pool_per_second,
                config.guests_per_pool_burst,
            ),
        }
    }

    /// A public call from `address`.
    pub fn allow_public(&self, address: IpAddr) -> bool {
        self.public_by_address
            .take(&limit_key(address), Instant::now())
    }

    /// A new guest in `pool_id` for `address`.
    pub fn allow_guest(&self, address: IpAddr, pool_id: &str) -> bool {
        let now = Instant::now();
        self.guests_by_address.take(&limit_key(address), now)
            && self.guests_by_pool.take(&pool_id.to_string(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let b: Buckets<u8> = Buckets::new(10.0, 5.0);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(b.take(&1, t0));
        }
        assert!(!b.take(&1, t0));
        // Another key has its own bucket.
        assert!(b.take(&2, t0));
        // 100 ms at 10/s refills one token.
        assert!(b.take(&1, t0 + Duration::from_millis(100)));
        assert!(!b.take(&1, t0 + Duration::from_millis(100)));
    }

    #[test]
    fn many_busy_keys_are_forgotten_at_once_not_scanned_for_each() {
        let b: Buckets<u32> = Buckets::new(0.001, 5.0);
        let t0 = Instant::now();
        for key in 0..MAX_TRACKED as u32 {
            assert!(b.take(&key, t0));
        }
        let len = || b.map.lock().unwrap_or_else(|p| p.into_inner()).len();
        assert_eq!(len(), MAX_TRACKED);
        // Every bucket is in use, so none can be dropped as refilled: the
        // map starts over instead of being scanned again for each new key.
        assert!(b.take(&u32::MAX, t0));
        assert_eq!(len(), 1);
    }

    #[test]
    fn a_zero_rate_disables_the_limit() {
        let b: Buckets<u8> = Buckets::new(0.0, 0.0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| b.take(&1, t0)));
    }
}
