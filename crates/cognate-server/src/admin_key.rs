//! The signers of requests: the admin key (the account root's long-term
//! credentials) and the SigV4 keys derived from its secret, and the
//! sessions cognate vended as they sign requests.

use std::sync::Arc;

use cognate_core::session::Session;
use cognate_sigv4::SigningKey;

/// The long-term admin credentials.
#[derive(Clone)]
pub struct AdminKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The admin secret's derived SigV4 keys, by date, region and service.
/// Deriving one is four HMACs that every signed admin request would
/// otherwise repeat; the key depends on nothing else. Bounded: scopes that
/// fail verification are derived too, so the map is cleared when full.
#[derive(Default)]
pub struct AdminSigningKeys(std::sync::Mutex<Vec<(SigningScope, SigningKey)>>);

type SigningScope = (String, String, String);

/// Dates roll over daily and a deployment uses few regions.
const MAX_CACHED_SIGNING_KEYS: usize = 16;

impl AdminSigningKeys {
    pub(crate) fn key(&self, secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
        let mut keys = match self.0.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        let found = keys
            .iter()
            .find(|((d, r, s), _)| d == date && r == region && s == service);
        if let Some((_, key)) = found {
            return key.clone();
        }
        if keys.len() >= MAX_CACHED_SIGNING_KEYS {
            keys.clear();
        }
        let key = SigningKey::derive(secret, date, region, service);
        keys.push((
            (date.to_owned(), region.to_owned(), service.to_owned()),
            key.clone(),
        ));
        key
    }
}

/// Sessions that signed requests, by access key id: the session their
/// token seals, opened once, and the SigV4 keys derived from its secret
/// for each scope it signed in (forward-auth sees the same session many
/// times a second). An entry serves only the very token it was opened
/// from. Bounded: cleared when full.
#[derive(Default)]
pub struct SessionSigners(std::sync::Mutex<std::collections::HashMap<String, OpenedSession>>);

struct OpenedSession {
    token: TokenKey,
    session: Arc<Session>,
    /// Date, region, service, and the key derived for them.
    keys: Vec<(String, String, String, SigningKey)>,
    derived: Arc<SessionDerived>,
}

/// What is made of a session once, for all the requests it signs: the
/// identity headers a forward-auth allow answers with (formatted and
/// checked as header values once, not for every decision).
#[derive(Default)]
pub(crate) struct SessionDerived {
    pub identity_headers: std::sync::OnceLock<Arc<crate::authz::IdentityHeaders>>,
}

const MAX_CACHED_SESSIONS: usize = 4096;

/// Longest token kept as it is; a longer one (session policies and tags
/// make them so) is kept as its SHA-256, so 4096 entries stay within a few
/// megabytes. A guest's token (~500 characters) is compared without
/// hashing it on every request.
const MAX_TOKEN_KEPT: usize = 1024;

/// What an entry remembers of the token it was opened from (compared
/// only through `matches`, in constant time).
enum TokenKey {
    Whole(Box<str>),
    Sha256([u8; 32]),
}

impl TokenKey {
    fn of(token: &str) -> TokenKey {
        if token.len() <= MAX_TOKEN_KEPT {
            return TokenKey::Whole(token.into());
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest.as_ref());
        TokenKey::Sha256(hash)
    }

    /// Whether `token` is the one remembered; in constant time, since the
    /// token is a credential.
    fn matches(&self, token: &str) -> bool {
        let equal = aws_lc_rs::constant_time::verify_slices_are_equal;
        match self {
            TokenKey::Whole(kept) => equal(kept.as_bytes(), token.as_bytes()).is_ok(),
            TokenKey::Sha256(hash) => {
                token.len() > MAX_TOKEN_KEPT
                    && equal(
                        hash,
                        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
                            .as_ref(),
                    )
                    .is_ok()
            }
        }
    }
}
/// Scopes kept per session: a day's date in a region or two.
const MAX_SCOPES_PER_SESSION: usize = 8;

/// Why a session may not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionRefusal {
    /// The token does not open, or was issued to another access key id.
    Unrecognized,
    Expired,
}

impl SessionSigners {
    /// The session `token` seals (opened by `open`, which is called only
    /// for a token not seen before) if it was issued to `access_key_id`
    /// and is not expired at `now_secs`, and the SigV4 key its secret
    /// gives for the scope (derived only for a live session).
    pub(crate) fn signer(
        &self,
        access_key_id: &str,
        token: &str,
        (date, region, service): (&str, &str, &str),
        now_secs: i64,
        open: impl FnOnce(&str) -> Option<Session>,
    ) -> Result<(Arc<Session>, SigningKey, Arc<SessionDerived>), SessionRefusal> {
        let mut sessions = self.lock();
        let cached = sessions
            .get_mut(access_key_id)
            .filter(|entry| entry.token.matches(token));
        let entry = match cached {
            Some(entry) => entry,
            None => {
                drop(sessions);
                let session = open(token)
                    .filter(|s| s.access_key_id == access_key_id)
                    .ok_or(SessionRefusal::Unrecognized)?;
                sessions = self.lock();
                if sessions.len() >= MAX_CACHED_SESSIONS {
                    sessions.clear();
                }
                let entry = OpenedSession {
                    token: TokenKey::of(token),
                    session: Arc::new(session),
                    keys: Vec::new(),
                    derived: Arc::default(),
                };
                sessions.insert(access_key_id.to_owned(), entry);
                sessions
                    .get_mut(access_key_id)
                    .ok_or(SessionRefusal::Unrecognized)?
            }
        };
        // Before a key is derived: an expired session makes none.
        if now_secs >= entry.session.expires_at {
            return Err(SessionRefusal::Expired);
        }
        let found = entry
            .keys
            .iter()
            .find(|(d, r, s, _)| d == date && r == region && s == service)
            .map(|(_, _, _, key)| key.clone());
        let key = match found {
            Some(key) => key,
            None => {
                let secret = &entry.session.secret_access_key;
                let key = SigningKey::derive(secret, date, region, service);
                if entry.keys.len() >= MAX_SCOPES_PER_SESSION {
                    entry.keys.clear();
                }
                let scope = (date.to_owned(), region.to_owned(), service.to_owned());
                entry.keys.push((scope.0, scope.1, scope.2, key.clone()));
                key
            }
        };
        Ok((Arc::clone(&entry.session), key, Arc::clone(&entry.derived)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, OpenedSession>> {
        match self.0.lock() {
            Ok(sessions) => sessions,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cached_signing_keys_are_the_derived_ones_and_stay_bounded() {
        let cache = AdminSigningKeys::default();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let derived = SigningKey::derive(secret, "20261127", "us-east-1", "sts");
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
        assert_ne!(
            cache.key(secret, "20261127", "eu-west-1", "sts"),
            derived,
            "another region has another key"
        );
        for n in 0..100 {
            let region = format!("xx-test-{n}");
            assert_eq!(
                cache.key(secret, "20261127", &region, "iam"),
                SigningKey::derive(secret, "20261127", &region, "iam")
            );
        }
        assert!(cache.0.lock().unwrap().len() <= MAX_CACHED_SIGNING_KEYS);
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
    }

    #[test]
    fn long_tokens_are_kept_as_hashes_and_still_told_apart() {
        let long = "t".repeat(MAX_TOKEN_KEPT + 1);
        let other = format!("{}u", "t".repeat(MAX_TOKEN_KEPT));
        let kept = TokenKey::of(&long);
        assert!(matches!(kept, TokenKey::Sha256(_)));
        assert!(kept.matches(&long));
        assert!(!kept.matches(&other));
        assert!(!kept.matches("short"));
        let short = TokenKey::of("short");
        assert!(matches!(short, TokenKey::Whole(_)));
        assert!(short.matches("short") && !short.matches("shorT") && !short.matches(&long));
    }

    #[test]
    fn a_session_is_opened_once_per_token_and_serves_only_that_token() {
        let cache = SessionSigners::default();
        let opened = std::cell::Cell::new(0);
        let session = |akid: &str, secret: &str| Session {
            access_key_id: akid.into(),
            secret_access_key: secret.into(),
            issued_at: 1,
            expires_at: 2,
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/R".into(),
            role_name: "R".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
            provider: "cognito-identity.amazonaws.com".into(),
            audience: "us-east-1:pool".into(),
            subject: "us-east-1:id".into(),
            amr: vec!["unauthenticated".into()],
            principal_tags: Default::default(),
            session_policies: Vec::new(),
            guest_scope_down: true,
        };
        let scope = ("20261206", "us-east-1", "execute-api");
        let derived = |secret| SigningKey::derive(secret, "20261206", "us-east-1", "execute-api");
        let signer = |akid: &str, token: &str, secret: &'static str| {
            cache.signer(akid, token, scope, 1, |_| {
                opened.set(opened.get() + 1);
                Some(session(akid, secret))
            })
        };
        let (first, key, _) = signer("ASIAEXAMPLE", "token-1", "first-secret").unwrap();
        assert_eq!(key, derived("first-secret"));
        assert_eq!(first.secret_access_key, "first-secret");
        let (_, again, _) = signer("ASIAEXAMPLE", "token-1", "ignored").unwrap();
        assert_eq!((again, opened.get()), (derived("first-secret"), 1));
        // Another token under the same access key id is opened, not reused.
        let (other, key, _) = signer("ASIAEXAMPLE", "token-2", "other-secret").unwrap();
        assert_eq!(
            (other.secret_access_key.as_str(), key),
            ("other-secret", derived("other-secret"))
        );
        assert_eq!(opened.get(), 2);
        // A token sealed for another access key id gives nothing.
        let stranger = |_: &str| Some(session("ASIAEXAMPLE", "s"));
        let refused = cache.signer("ASIAOTHER", "token-3", scope, 1, stranger);
        assert_eq!(refused.err(), Some(SessionRefusal::Unrecognized));
        // Another scope, another key from the same secret.
        let west = ("20261206", "eu-west-1", "execute-api");
        let (_, west_key, _) = cache
            .signer("ASIAEXAMPLE", "token-2", west, 1, |_| None)
            .unwrap();
        assert_eq!(
            west_key,
            SigningKey::derive("other-secret", "20261206", "eu-west-1", "execute-api")
        );
        // Expired (these sessions expire at 2): refused before a key is made.
        let tomorrow = ("20261207", "us-east-1", "sts");
        let expired = cache.signer("ASIAEXAMPLE", "token-2", tomorrow, 2, |_| None);
        assert_eq!(expired.err(), Some(SessionRefusal::Expired));
        let scopes = cache
            .0
            .lock()
            .unwrap()
            .get("ASIAEXAMPLE")
            .map(|e| e.keys.len());
        assert_eq!(scopes, Some(2));
        for n in 0..(MAX_CACHED_SESSIONS + 10) {
            let akid = format!("ASIA{n}");
            let _ = cache.signer(&akid, "t", scope, 1, |_| Some(session(&akid, "s")));
        }
        assert!(cache.0.lock().unwrap().len() <= MAX_CACHED_SESSIONS);
    }
}
