//! Identifier formats: `<region>:<uuid>` pool and identity ids, ARNs, and the
//! random ids of IAM and STS (`AROA...`, `ASIA...`).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// `<region>:<uuid>`, lowercase.
pub fn regional_uuid(region: &str) -> String {
    format!("{region}:{}", uuid::Uuid::new_v4())
}

/// A new identity id: `<region>:` and a UUIDv7 (RFC 9562): 48 bits of
/// Unix milliseconds, then 74 random bits. Ids made close in time sort
/// close together, so a group commit of new identities lands on a few
/// index pages; random (v4) ids dirty two random pages per identity, which
/// bounds durable guest creation by the disk's write rate rather than its
/// commit rate. 74 random bits keep ids unguessable (a guest's id is what
/// GetCredentialsForIdentity asks for). The creation time can be read off
/// the id. Real Cognito ids are not all v4 either, so no client can rely
/// on the version nibble. `unix_millis` is the clock's time.
pub fn identity_id(region: &str, unix_millis: u64) -> String {
    format!("{region}:{}", time_ordered_uuid(unix_millis))
}

/// A UUIDv7 of `unix_millis` and 74 random bits (see `identity_id`).
pub fn time_ordered_uuid(unix_millis: u64) -> String {
    // A v4 UUID carries 122 random bits; these 10 bytes hold no version
    // or variant bits.
    let v4 = uuid::Uuid::new_v4().into_bytes();
    let mut random = [0u8; 10];
    random[..6].copy_from_slice(&v4[..6]);
    random[6..].copy_from_slice(&v4[10..14]);
    uuid::Builder::from_unix_timestamp_millis(unix_millis, &random)
        .into_uuid()
        .to_string()
}

/// Whether `region` can name a region: lowercase letters, digits and
/// hyphens, from a letter to a letter or digit, short enough that
/// `<region>:<uuid>` fits the 55 characters of a pool or identity id.
/// (AWS's longest region names have 14.)
pub fn is_valid_region(region: &str) -> bool {
    let bytes = region.as_bytes();
    (2..=18).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// AWS's regions in every partition (botocore's endpoints.json), which a
/// signed request may name besides the configured region. A fixed list,
/// so that the per-region pool quota cannot be multiplied by inventing
/// regions.
pub const AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-isoe-west-1",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    "us-west-1",
    "us-west-2",
];

/// The region prefix of a `<region>:<uuid>` id.
pub fn region_of(id: &str) -> Option<&str> {
    id.split_once(':').map(|(r, _)| r)
}

const UPPER_ALNUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Random characters of `alphabet` (whose length divides 256, so every
/// character is equally likely). Fails rather than hand out predictable
/// secrets if the system's random source fails.
fn random_from<const N: usize>(alphabet: &[u8; N], len: usize) -> crate::Result<String> {
    Ok(chars_from(alphabet, &random_bytes(len)?))
}

/// One character of `alphabet` per random byte.
fn chars_from<const N: usize>(alphabet: &[u8; N], bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_chars(&mut out, alphabet, bytes);
    out
}

/// The alphabet's length is a constant, so `%` compiles to a mask rather
/// than a division per character.
fn push_chars<const N: usize>(out: &mut String, alphabet: &[u8; N], bytes: &[u8]) {
    out.extend(
        bytes
            .iter()
            .map(|b| alphabet.get((*b as usize) % N).copied().unwrap_or(b'A') as char),
    );
}

/// An IAM unique id with the given 4-letter prefix (`AROA`, `ANPA`, `AKIA`,
/// `ASIA`): 20 or 21 characters like AWS's.
pub fn unique_id(prefix: &str, total_len: usize) -> crate::Result<String> {
    Ok(format!(
        "{prefix}{}",
        random_from(UPPER_ALNUM, total_len.saturating_sub(prefix.len()))?
    ))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> crate::Result<String> {
    random_from(SECRET_CHARS, 40)
}

/// A temporary access key id (`ASIA` and 16 characters) and its secret,
/// from one draw of the random source (each draw has a fixed cost that
/// dominates at these sizes).
pub fn temporary_access_key() -> crate::Result<(String, String)> {
    const ID_CHARS: usize = 16;
    const SECRET_LEN: usize = 40;
    let mut random = [0u8; ID_CHARS + SECRET_LEN];
    fill_random(&mut random)?;
    let (id_bytes, secret_bytes) = random.split_at(ID_CHARS);
    let mut id = String::with_capacity(4 + ID_CHARS);
    id.push_str("ASIA");
    push_chars(&mut id, UPPER_ALNUM, id_bytes);
    Ok((id, chars_from(SECRET_CHARS, secret_bytes)))
}

/// `n` random bytes, for key material, drawn directly from the system's
/// cryptographic random generator.
pub fn random_bytes(n: usize) -> crate::Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    draw(&mut bytes)?;
    Ok(bytes)
}

/// Bytes of aws-lc's DRBG drawn at once per thread. A draw costs about a
/// microsecond whatever its size (aws-lc mixes the CPU's RDRAND into every
/// call), and vending credentials needs two small ones (key and nonce), so
/// they are served from a block drawn for about a dozen requests.
const RANDOM_BLOCK: usize = 1024;
/// Anything larger is drawn directly.
const LARGEST_FROM_BLOCK: usize = 128;

struct RandomBlock {
    bytes: [u8; RANDOM_BLOCK],
    /// Bytes before this offset have been handed out and wiped.
    next: usize,
}

thread_local! {
    static RANDOM: std::cell::RefCell<RandomBlock> = const {
        std::cell::RefCell::new(RandomBlock { bytes: [0; RANDOM_BLOCK], next: RANDOM_BLOCK })
    };
}

/// Fills `out` from the system's cryptographic random generator, through
/// this thread's block: for what every request draws (temporary keys,
/// nonces); long-lived keys use `random_bytes`. Each byte is handed out
/// once: it is wiped from the block as it is taken, and a block is never
/// reused after a failed draw. (cognate does not fork, which would copy a
/// block into two processes.)
pub fn fill_random(out: &mut [u8]) -> crate::Result<()> {
    if out.len() > LARGEST_FROM_BLOCK {
        return draw(out);
    }
    RANDOM.with_borrow_mut(|block| {
        if RANDOM_BLOCK - block.next < out.len() {
            block.next = RANDOM_BLOCK;
            draw(&mut block.bytes)?;
            block.next = 0;
        }
        let end = block.next + out.len();
        let taken = block
            .bytes
            .get_mut(block.next..end)
            .ok_or_else(|| crate::Error::Internal("random block overrun".into()))?;
        out.copy_from_slice(taken);
        taken.fill(0);
        block.next = end;
        Ok(())
    })
}

fn draw(out: &mut [u8]) -> crate::Result<()> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| crate::Error::Internal("the system random generator failed".into()))
}

#[cfg(test)]
mod identity_id_tests {
    use super::identity_id;

    #[test]
    fn identity_ids_are_regional_guids_that_sort_by_creation_time() {
        let first = identity_id("eu-west-1", 1_764_000_000_000);
        let second = identity_id("eu-west-1", 1_764_000_000_002);
        for id in [&first, &second] {
            let (region, guid) = id.split_once(':').unwrap_or_default();
            assert_eq!(region, "eu-west-1");
            assert_eq!(guid.len(), 36, "{id}");
            assert!(
                guid.chars()
                    .enumerate()
                    .all(|(i, c)| if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
                    }),
                "{id}"
            );
        }
        assert!(first < second, "{first} then {second}");
    }

    #[test]
    fn identity_ids_made_in_the_same_millisecond_differ_in_many_bits() {
        let ids: Vec<String> = (0..64)
            .map(|_| identity_id("us-east-1", 1_764_000_000_000))
            .collect();
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        // The random tail (last 12 hex digits) of two ids differs in most
        // positions, not in a counter's low bits.
        let tail = |id: &str| id[id.len() - 12..].to_string();
        let differing = tail(&ids[0])
            .chars()
            .zip(tail(&ids[1]).chars())
            .filter(|(a, b)| a != b)
            .count();
        assert!(differing >= 6, "{} vs {}", ids[0], ids[1]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod random_tests {
    use super::{LARGEST_FROM_BLOCK, RANDOM_BLOCK, fill_random};

    /// Across several refills of the block and odd sizes, no draw repeats
    /// or comes back wiped (all zero).
    #[test]
    fn block_draws_are_never_handed_out_twice() {
        let mut seen = std::collections::HashSet::new();
        let sizes = [12, 56, 1, 7, LARGEST_FROM_BLOCK, LARGEST_FROM_BLOCK + 1];
        let mut drawn = 0;
        for i in 0..(4 * RANDOM_BLOCK / 12) {
            let mut out = vec![0u8; sizes[i % sizes.len()]];
            fill_random(&mut out).unwrap();
            drawn += out.len();
            if out.len() >= 7 {
                assert!(out.iter().any(|b| *b != 0), "a wiped draw: {out:?}");
                assert!(seen.insert(out), "a draw came back twice");
            }
        }
        assert!(drawn > 4 * RANDOM_BLOCK);
    }
}
