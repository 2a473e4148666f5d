//! Console sessions: signing in with the admin key, the sealed cookie,
//! and signing out.
//!
//! The cookie is the session itself, sealed (AES-256-GCM) under the
//! console's cookie key, which the database keeps sealed under the master
//! key: any node of the deployment opens it, a restarted node too, and no
//! one can read or forge it. It holds a random session id, the CSRF token
//! of the session, when it was issued and last used, and a fingerprint of
//! the admin key it was signed in with (changing the admin key signs every
//! session out). It never holds the secret.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognate_server::AdminKey;
use serde::{Deserialize, Serialize};

use crate::Console;

/// The cookie's name. (Not `__Host-`: that prefix requires `Path=/`, and
/// the console's cookie is sent to `/console/` only.)
pub(crate) const COOKIE: &str = "cognate_console";
/// The path the cookie is sent to.
pub(crate) const COOKIE_PATH: &str = "/console/";
/// A session unused this long is over.
pub(crate) const IDLE_SECS: i64 = 30 * 60;
/// A session is over this long after sign-in, used or not.
pub(crate) const MAX_SECS: i64 = 8 * 60 * 60;
/// A session's "last used" is written back (a new cookie) at most this
/// often.
const REFRESH_SECS: i64 = 60;
/// Additional data of the sealed cookie: a sealed session token or
/// anything else sealed under another purpose does not open as one.
const PURPOSE: &str = "cognate-console-session-v1";

/// A signed-in session, as its cookie carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Session {
    /// Random, hex: what sign-out records.
    pub id: String,
    /// Random, base64url: every state-changing request must carry it.
    pub csrf: String,
    /// Signed in at (epoch seconds).
    pub issued: i64,
    /// Last used at.
    pub seen: i64,
    /// Which admin key signed in (`admin_fingerprint`).
    pub key: String,
}

/// Why a cookie does not open a session (said in the log at debug level
/// only; the browser is sent to sign in again whatever the reason).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Unreadable,
    OtherAdminKey,
    Expired,
    SignedOut,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut input = Vec::new();
    for part in parts {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &input).as_ref());
    out
}

/// Whether `access_key_id` and `secret` are the admin key. Both sides are
/// hashed first, so the comparison takes the same time whatever the
/// lengths, and is made in constant time.
pub(crate) fn is_admin_key(admin: &AdminKey, access_key_id: &str, secret: &str) -> bool {
    let given = sha256(&[
        b"cognate-console-sign-in",
        access_key_id.as_bytes(),
        secret.as_bytes(),
    ]);
    let expected = sha256(&[
        b"cognate-console-sign-in",
        admin.access_key_id.as_bytes(),
        admin.secret_access_key.as_bytes(),
    ]);
    verify_slices_are_equal(&given, &expected).is_ok()
}

/// What a session remembers of the admin key: not the secret, and not
/// enough to find it (a hash of it and the key id, inside a sealed cookie).
fn admin_fingerprint(admin: &AdminKey) -> String {
    let hash = sha256(&[
        b"cognate-console-admin-key",
        admin.access_key_id.as_bytes(),
        admin.secret_access_key.as_bytes(),
    ]);
    hex::encode(&hash[..16])
}

fn random(len: usize) -> Result<Vec<u8>, cognate_core::Error> {
    cognate_core::ids::random_bytes(len)
}

impl Console {
    pub(crate) fn now(&self) -> i64 {
        self.app.cognate.clock().now_secs()
    }

    /// A new session for the admin key, signed in now.
    pub(crate) fn new_session(&self) -> Result<Session, cognate_core::Error> {
        let now = self.now();
        Ok(Session {
            id: hex::encode(random(16)?),
            csrf: URL_SAFE_NO_PAD.encode(random(32)?),
            issued: now,
            seen: now,
            key: admin_fingerprint(&self.app.admin),
        })
    }

    /// The cookie's value for `session`.
    pub(crate) fn seal(&self, session: &Session) -> Result<String, cognate_core::Error> {
        let json = serde_json::to_vec(session)
            .map_err(|e| cognate_core::Error::Internal(format!("console session: {e}")))?;
        let sealed = self.cookie_key.seal(PURPOSE, &json)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The session a cookie's value carries, if it is one of this
    /// deployment's, for the current admin key, not expired and not
    /// signed out.
    pub(crate) async fn open_session(&self, value: &str) -> Result<Session, Refused> {
        let sealed = URL_SAFE_NO_PAD
            .decode(value.as_bytes())
            .map_err(|_| Refused::Unreadable)?;
        let plain = self
            .cookie_key
            .open(PURPOSE, &sealed)
            .ok_or(Refused::Unreadable)?;
        let session: Session = serde_json::from_slice(&plain).map_err(|_| Refused::Unreadable)?;
        if session.key != admin_fingerprint(&self.app.admin) {
            return Err(Refused::OtherAdminKey);
        }
        let now = self.now();
        let fresh = session.issued <= now + 60
            && now - session.issued < MAX_SECS
            && now - session.seen < IDLE_SECS;
        if !fresh {
            return Err(Refused::Expired);
        }
        // The database says whether it was signed out (on any node); if
        // it cannot say, the session is not let through.
        match self.app.cognate.console().is_signed_out(&session.id).await {
            Ok(false) => Ok(session),
            Ok(true) => Err(Refused::SignedOut),
            Err(e) => {
                tracing::warn!(error = %e, "console: cannot check a session's sign-out");
                Err(Refused::Unreadable)
            }
        }
    }

    /// `session` marked used now, if it is time to write that back.
    pub(crate) fn refreshed(&self, session: &Session) -> Option<Session> {
        let now = self.now();
        (now - session.seen >= REFRESH_SECS).then(|| Session {
            seen: now,
            ..session.clone()
        })
    }

    /// The `Set-Cookie` value for `session`: sent back over HTTPS only
    /// when the request came over HTTPS (`secure`), and not kept past the
    /// session's end.
    pub(crate) fn set_cookie(
        &self,
        session: &Session,
        secure: bool,
    ) -> Result<String, cognate_core::Error> {
        let max_age = (session.issued + MAX_SECS - self.now()).clamp(0, MAX_SECS);
        Ok(format!(
            "{COOKIE}={}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            self.seal(session)?,
            if secure { "; Secure" } else { "" }
        ))
    }
}

/// The `Set-Cookie` value that removes the cookie.
pub(crate) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The console cookie's values among a request's `Cookie` headers: more
/// than one when another site on the host planted one of the same name.
pub(crate) fn cookie_values(headers: &http::HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Whether `given` is the session's CSRF token, in constant time.
pub(crate) fn csrf_matches(session: &Session, given: &str) -> bool {
    verify_slices_are_equal(session.csrf.as_bytes(), given.as_bytes()).is_ok()
}

/// Sign-in attempts per client address (an IPv6 client's /64): a burst of
/// `BURST`, then one every `REFILL_SECS`. Every attempt counts, right or
/// wrong, so a guesser learns nothing from which are refused.
pub(crate) struct SignInLimiter {
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

pub(crate) const SIGN_IN_BURST: f64 = 5.0;
const REFILL_SECS: f64 = 12.0;
/// Addresses tracked at once; beyond, full buckets are forgotten first.
const MAX_TRACKED: usize = 10_000;

impl Default for SignInLimiter {
    fn default() -> Self {
        SignInLimiter {
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl SignInLimiter {
    /// Takes one attempt for `address`; false when it has none left.
    pub(crate) fn allow(&self, address: IpAddr) -> bool {
        let key = cognate_server::client_address::limit_key(address);
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() / REFILL_SECS < SIGN_IN_BURST
            });
            if buckets.len() >= MAX_TRACKED {
                // All busy: an attacker with many addresses. Refusing every
                // new address would lock the admin out too; forget the
                // tenth least recently seen instead (each forgotten one
                // regains a burst: a few guesses, not a lock-out).
                let mut seen: Vec<(Instant, IpAddr)> =
                    buckets.iter().map(|(key, (_, at))| (*at, *key)).collect();
                seen.sort_unstable();
                for (_, key) in seen.iter().take(MAX_TRACKED / 10) {
                    buckets.remove(key);
                }
            }
        }
        let (tokens, at) = buckets.entry(key).or_insert((SIGN_IN_BURST, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() / REFILL_SECS).min(SIGN_IN_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn admin() -> AdminKey {
        AdminKey {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
        }
    }

    #[test]
    fn only_the_admin_key_signs_in() {
        assert!(is_admin_key(&admin(), "AKIAEXAMPLE", "secret"));
        assert!(!is_admin_key(&admin(), "AKIAEXAMPLE", "secreT"));
        assert!(!is_admin_key(&admin(), "AKIAEXAMPLE", "secret "));
        assert!(!is_admin_key(&admin(), "AKIAEXAMPLF", "secret"));
        // The parts are length-prefixed: moving a character between them
        // is not the same key.
        assert!(!is_admin_key(&admin(), "AKIAEXAMPLEs", "ecret"));
        assert!(!is_admin_key(&admin(), "", ""));
    }

    #[test]
    fn attempts_are_limited_per_address() {
        let limiter = SignInLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..SIGN_IN_BURST as usize {
            assert!(limiter.allow(a));
        }
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
        // One /64 is one client.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..SIGN_IN_BURST as usize {
            assert!(limiter.allow(v6a));
        }
        assert!(!limiter.allow(v6b));
    }

    #[test]
    fn many_addresses_cannot_lock_a_new_one_out() {
        let limiter = SignInLimiter::default();
        for n in 0..MAX_TRACKED as u32 {
            let address = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            assert!(limiter.allow(address));
        }
        let admin: IpAddr = "192.0.2.77".parse().unwrap();
        assert!(limiter.allow(admin));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; cognate_console=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_values(&headers).next(), Some("abc"));
    }
}
