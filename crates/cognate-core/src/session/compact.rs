//! The session's plaintext inside a version-2 token: its fields in their
//! declared order, strings and lists length-prefixed (LEB128), times as
//! 8 bytes little-endian. About half the size of the JSON of version 1, so
//! the token, and every answer and signed request carrying it, is shorter.
//!
//! Decoding is strict: a truncated field, a byte left over, text that is
//! not UTF-8, or a flag other than 0 or 1 refuses the whole token. A field
//! added later needs a new version, which older nodes refuse (fail closed,
//! as `deny_unknown_fields` does for version 1).

use std::collections::BTreeMap;

use super::Session;

#[cfg(test)]
pub(super) fn encode(session: &Session) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    encode_into(session, &mut out);
    out
}

/// Appends the encoding of `session` to `out`.
pub(super) fn encode_into(session: &Session, out: &mut Vec<u8>) {
    let Session {
        access_key_id,
        secret_access_key,
        issued_at,
        expires_at,
        account,
        role_arn,
        role_name,
        role_id,
        session_name,
        provider,
        audience,
        subject,
        amr,
        principal_tags,
        session_policies,
        guest_scope_down,
    } = session;
    for text in [access_key_id, secret_access_key] {
        put_str(out, text);
    }
    out.extend_from_slice(&issued_at.to_le_bytes());
    out.extend_from_slice(&expires_at.to_le_bytes());
    for text in [
        account,
        role_arn,
        role_name,
        role_id,
        session_name,
        provider,
        audience,
        subject,
    ] {
        put_str(out, text);
    }
    put_len(out, amr.len());
    for item in amr {
        put_str(out, item);
    }
    put_len(out, principal_tags.len());
    for (key, value) in principal_tags {
        put_str(out, key);
        put_str(out, value);
    }
    put_len(out, session_policies.len());
    for policy in session_policies {
        put_str(out, policy);
    }
    out.push(u8::from(*guest_scope_down));
}

pub(super) fn decode(bytes: &[u8]) -> Option<Session> {
    let mut r = Reader { rest: bytes };
    let access_key_id = r.string()?;
    let secret_access_key = r.string()?;
    let issued_at = r.i64()?;
    let expires_at = r.i64()?;
    let account = r.string()?;
    let role_arn = r.string()?;
    let role_name = r.string()?;
    let role_id = r.string()?;
    let session_name = r.string()?;
    let provider = r.string()?;
    let audience = r.string()?;
    let subject = r.string()?;
    let amr = r.strings()?;
    let mut principal_tags = BTreeMap::new();
    for _ in 0..r.len()? {
        let key = r.string()?;
        let value = r.string()?;
        principal_tags.insert(key, value);
    }
    let session_policies = r.strings()?;
    let guest_scope_down = match r.byte()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    if !r.rest.is_empty() {
        return None;
    }
    Some(Session {
        access_key_id,
        secret_access_key,
        issued_at,
        expires_at,
        account,
        role_arn,
        role_name,
        role_id,
        session_name,
        provider,
        audience,
        subject,
        amr,
        principal_tags,
        session_policies,
        guest_scope_down,
    })
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(*first)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(taken)
    }

    /// A LEB128 length; at most 4 bytes (no session holds 256 MiB).
    fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in [0, 7, 14, 21] {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).ok()
    }

    fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.len()?;
        // Each item takes at least a byte: a count beyond what is left is
        // a lie, not a reason to reserve memory.
        if n > self.rest.len() {
            return None;
        }
        (0..n).map(|_| self.string()).collect()
    }

    fn i64(&mut self) -> Option<i64> {
        let bytes: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(i64::from_le_bytes(bytes))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The shared test session, with every list filled.
    fn session() -> Session {
        Session {
            issued_at: 1_700_000_000,
            expires_at: -5,
            amr: vec!["authenticated".into(), "accounts.example.com".into()],
            principal_tags: BTreeMap::from([("team".into(), "é".into())]),
            // Longer than 127 bytes: a two-byte length.
            session_policies: vec!["x".repeat(300)],
            guest_scope_down: true,
            ..crate::session::tests::session()
        }
    }

    #[test]
    fn decodes_what_it_encodes() {
        let s = session();
        assert_eq!(decode(&encode(&s)), Some(s));
        let empty = Session {
            amr: Vec::new(),
            principal_tags: BTreeMap::new(),
            session_policies: Vec::new(),
            guest_scope_down: false,
            ..session()
        };
        assert_eq!(decode(&encode(&empty)), Some(empty));
    }

    #[test]
    fn every_truncation_and_any_extra_byte_is_refused() {
        let bytes = encode(&session());
        for n in 0..bytes.len() {
            assert_eq!(decode(&bytes[..n]), None, "truncated to {n} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
    }

    #[test]
    fn a_flag_other_than_zero_or_one_and_bad_text_are_refused() {
        let mut bytes = encode(&session());
        *bytes.last_mut().unwrap() = 2;
        assert_eq!(decode(&bytes), None);
        let mut bad_utf8 = encode(&session());
        // The first string's first byte (after its one-byte length).
        bad_utf8[1] = 0xff;
        assert_eq!(decode(&bad_utf8), None);
    }
}
