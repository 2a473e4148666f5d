//! The admin key: the account root's long-term credentials, and the
//! SigV4 keys derived from its secret.

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
pub struct AdminSigningKeys(std::sync::Mutex<Vec<(SigningScope, [u8; 32])>>);

type SigningScope = (String, String, String);

/// Dates roll over daily and a deployment uses few regions.
const MAX_CACHED_SIGNING_KEYS: usize = 16;

impl AdminSigningKeys {
    pub(crate) fn key(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let mut keys = match self.0.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        let found = keys
            .iter()
            .find(|((d, r, s), _)| d == date && r == region && s == service);
        if let Some((_, key)) = found {
            return *key;
        }
        if keys.len() >= MAX_CACHED_SIGNING_KEYS {
            keys.clear();
        }
        let key = cognate_sigv4::signing_key(secret, date, region, service);
        keys.push((
            (date.to_owned(), region.to_owned(), service.to_owned()),
            key,
        ));
        key
    }
}

/// The SigV4 keys derived from the secrets of temporary credentials, by
/// access key id and scope, for their signed requests after the first
/// (forward-auth sees the same session many times a second). An entry is
/// used only for the very secret it was derived from. Bounded: cleared when
/// full.
#[derive(Default)]
pub struct SessionSigningKeys(
    std::sync::Mutex<std::collections::HashMap<SessionScope, SessionKey>>,
);

/// Access key id, date, region, service.
type SessionScope = (String, String, String, String);

struct SessionKey {
    secret: String,
    key: [u8; 32],
}

const MAX_CACHED_SESSION_KEYS: usize = 4096;

impl SessionSigningKeys {
    pub(crate) fn key(
        &self,
        access_key_id: &str,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let scope = (
            access_key_id.to_owned(),
            date.to_owned(),
            region.to_owned(),
            service.to_owned(),
        );
        let mut keys = match self.0.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(found) = keys.get(&scope)
            && found.secret == secret
        {
            return found.key;
        }
        if keys.len() >= MAX_CACHED_SESSION_KEYS {
            keys.clear();
        }
        let key = cognate_sigv4::signing_key(secret, date, region, service);
        let secret = secret.to_owned();
        keys.insert(scope, SessionKey { secret, key });
        key
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
        let derived = cognate_sigv4::signing_key(secret, "20261127", "us-east-1", "sts");
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
                cognate_sigv4::signing_key(secret, "20261127", &region, "iam")
            );
        }
        assert!(cache.0.lock().unwrap().len() <= MAX_CACHED_SIGNING_KEYS);
        assert_eq!(cache.key(secret, "20261127", "us-east-1", "sts"), derived);
    }

    #[test]
    fn a_session_key_serves_only_its_own_secret() {
        let cache = SessionSigningKeys::default();
        let key = |secret| {
            cache.key(
                "ASIAEXAMPLE",
                secret,
                "20261206",
                "us-east-1",
                "execute-api",
            )
        };
        let derived =
            |secret| cognate_sigv4::signing_key(secret, "20261206", "us-east-1", "execute-api");
        assert_eq!(key("first-secret"), derived("first-secret"));
        assert_eq!(key("first-secret"), derived("first-secret"));
        assert_eq!(key("other-secret"), derived("other-secret"));
        for n in 0..(MAX_CACHED_SESSION_KEYS + 10) {
            cache.key(&format!("ASIA{n}"), "s", "20261206", "us-east-1", "sts");
        }
        assert!(cache.0.lock().unwrap().len() <= MAX_CACHED_SESSION_KEYS);
    }
}
