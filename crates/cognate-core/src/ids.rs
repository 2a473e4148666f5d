//! Identifier formats: `<region>:<uuid>` pool and identity ids, ARNs, and the
//! random ids of IAM and STS (`AROA...`, `ASIA...`).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// `<region>:<uuid>`, lowercase.
pub fn regional_uuid(region: &str) -> String {
    format!("{region}:{}", uuid::Uuid::new_v4())
}

/// The region prefix of a `<region>:<uuid>` id.
pub fn region_of(id: &str) -> Option<&str> {
    id.split_once(':').map(|(r, _)| r)
}

pub fn pool_arn(region: &str, account: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-identity:{region}:{account}:identitypool/{pool_id}")
}

/// Parses `arn:aws:cognito-identity:<region>:<account>:identitypool/<id>`.
pub fn parse_pool_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:cognito-identity:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let pool_id = rest.strip_prefix("identitypool/")?;
    if region.is_empty() || account.is_empty() || pool_id.is_empty() {
        return None;
    }
    Some((region, account, pool_id))
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let rng = SystemRandom::new();
    let mut bytes = vec![0u8; len];
    // SystemRandom only fails if the OS has no entropy source; there is no
    // sane way to continue then.
    if rng.fill(&mut bytes).is_err() {
        bytes.iter_mut().for_each(|b| *b = 0);
    }
    bytes
        .iter()
        .map(|b| {
            alphabet
                .get((*b as usize) % alphabet.len())
                .copied()
                .unwrap_or(b'A') as char
        })
        .collect()
}

/// An IAM unique id with the given 4-letter prefix (`AROA`, `ANPA`, `AKIA`,
/// `ASIA`): 20 or 21 characters like AWS's.
pub fn unique_id(prefix: &str, total_len: usize) -> String {
    format!(
        "{prefix}{}",
        random_from(UPPER_ALNUM, total_len.saturating_sub(prefix.len()))
    )
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    random_from(SECRET_CHARS, 40)
}

/// `n` random bytes, for key material.
pub fn random_bytes(n: usize) -> crate::Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| crate::Error::Internal("the system random generator failed".into()))?;
    Ok(bytes)
}
