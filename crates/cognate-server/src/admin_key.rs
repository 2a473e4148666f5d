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
}
