//! Time is passed in, never read directly, so tests can move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> i64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    /// Milliseconds since the Unix epoch (the time in new identity ids).
    fn now_millis(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the domain reads the wall clock.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The wall clock shifted by an adjustable offset, for tests that move time.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset_secs: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }

    pub fn rewind(&self, by: Duration) {
        self.offset_secs
            .fetch_sub(by.as_secs() as i64, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        let offset = self.offset_secs.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_secs(offset as u64)
        } else {
            now - Duration::from_secs(offset.unsigned_abs())
        }
    }
}

/// A clock that stands still until moved: tests of the domain read the
/// same instant on every call, so ids, timestamps and expiry are exact.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// Stopped at `unix_secs` seconds after the epoch.
    pub fn at(unix_secs: i64) -> ManualClock {
        ManualClock {
            millis: Arc::new(AtomicI64::new(unix_secs.saturating_mul(1000))),
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.millis.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let millis = self.millis.load(Ordering::SeqCst).max(0);
        UNIX_EPOCH + Duration::from_millis(millis as u64)
    }
}
