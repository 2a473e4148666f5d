//! Canonical request construction, matching the `aws-sigv4` crate (and the
//! other AWS SDKs) byte for byte.

use std::borrow::Cow;

use aws_lc_rs::digest;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

use crate::Request;

/// Everything but the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~`.
const QUERY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Same, but `/` is kept (path segments are encoded, separators are not).
const PATH_ENCODE_SET: &AsciiSet = &QUERY_ENCODE_SET.remove(b'/');

pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The SHA-256 of nothing, the payload hash of every request without a body.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    if data.is_empty() {
        return EMPTY_SHA256.to_string();
    }
    lower_hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lower-case hex, in one allocation (the `hex` crate pushes a character
/// at a time).
fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_lower_hex(&mut out, bytes);
    out
}

/// Appends `bytes` to `out` in lower-case hex.
pub(crate) fn push_lower_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// URI-encodes a string for the canonical query string (`%20` for space,
/// uppercase hex, only unreserved characters left alone).
pub(crate) fn uri_encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_ENCODE_SET).to_string()
}

/// Decodes one `application/x-www-form-urlencoded` name or value exactly as
/// the `form_urlencoded` crate does (which is what `aws-sigv4` uses): `+` is a
/// space, `%XX` is decoded, malformed escapes are kept literally and invalid
/// UTF-8 is replaced with U+FFFD.
pub(crate) fn form_decode(value: &str) -> Cow<'_, str> {
    if !value.contains(['+', '%']) {
        return Cow::Borrowed(value);
    }
    let replaced: Vec<u8> = value
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_decode(&replaced).collect();
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

/// Whether every `%` of `query` starts an escape of two hex digits and the
/// decoded bytes of every name and value are UTF-8.
pub(crate) fn query_is_well_formed(query: &str) -> bool {
    let bytes = query.as_bytes();
    let escapes_ok = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    escapes_ok
        && query
            .split(['&', '='])
            .all(|piece| percent_decode(piece.as_bytes()).decode_utf8().is_ok())
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order.
/// Empty `&`-separated pieces are skipped; a piece without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (form_decode(name), form_decode(value))
        })
}

#[cfg(test)]
pub(crate) fn canonical_query(query: &str, exclude_signature: bool) -> String {
    let mut out = String::new();
    push_canonical_query(&mut out, query, exclude_signature);
    out
}

/// Appends the canonical query string to `out`: every parameter decoded,
/// re-encoded with [`uri_encode`], sorted by encoded name then encoded
/// value, joined as `name=value` with `&`. With `exclude_signature`, the
/// `X-Amz-Signature` parameter (presigned form) is left out.
pub(crate) fn push_canonical_query(out: &mut String, query: &str, exclude_signature: bool) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = query_pairs(query)
        .filter(|(name, _)| !(exclude_signature && name == "X-Amz-Signature"))
        .map(|(name, value)| (uri_encode_cow(name), uri_encode_cow(value)))
        .collect();
    pairs.sort();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// [`uri_encode`], borrowing when nothing needs encoding.
fn uri_encode_cow(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(v) => utf8_percent_encode(v, QUERY_ENCODE_SET).into(),
        Cow::Owned(v) => Cow::Owned(uri_encode(&v)),
    }
}

/// Absolute form of the raw path: `""` becomes `/`, a missing leading `/` is added.
fn absolute_path(path: &str) -> Cow<'_, str> {
    if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    }
}

/// Path normalisation exactly as `aws-sigv4` (and the JS/Java SDKs) do it:
/// RFC 3986 dot-segment removal plus removal of empty segments (`//`), keeping
/// a trailing slash. Only literal dots count (`%2E` is not a dot segment).
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    let path = absolute_path(path);
    if !(path.contains('.') || path.contains("//")) {
        return path;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&segments.join("/"));
    let ends_with_slash = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|suffix| path.ends_with(suffix));
    if ends_with_slash && !out.ends_with('/') {
        out.push('/');
    }
    Cow::Owned(out)
}

/// Encodes every byte of `path` except unreserved characters and `/`. Applied
/// to a raw (already percent-encoded) path this is the SDKs' "double
/// encoding": `%2F` becomes `%252F`.
pub(crate) fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH_ENCODE_SET).to_string()
}

/// The first of [`canonical_uri_candidates`], the one nearly every signer
/// uses, made without the others (and borrowing `path` when it can).
pub(crate) fn primary_canonical_uri(path: &str) -> Cow<'_, str> {
    match normalize_path(path) {
        Cow::Borrowed(normalized) => utf8_percent_encode(normalized, PATH_ENCODE_SET).into(),
        Cow::Owned(normalized) => Cow::Owned(encode_path(&normalized)),
    }
}

/// The canonical URIs under which a signature is accepted, most likely first.
///
/// 1. normalised, then double-encoded — the default of `aws-sigv4`, the JS v3,
///    Java v2 SDKs and botocore for every non-S3 service;
/// 2. not normalised, double-encoded — the Go SDKs (which do not remove dot
///    segments or `//`);
/// 3. and 4. the same two without the extra encoding ("single encoding", the
///    raw path as received: what S3-style signers and hand-written signers that
///    sign the request line verbatim produce).
///
/// Accepting several forms cannot make a signature valid for a *different*
/// resource: a double-encoded canonical URI percent-decodes to the raw path it
/// came from, so a single-encoded candidate equal to it denotes the same path
/// once decoded — except when the single-encoded candidate contains `%25`
/// (an encoded `%`), where `/%25` double-encoded (`/%2525`) would collide with
/// the different raw path `/%2525`. Single-encoded candidates containing
/// `%25` are therefore not offered.
pub(crate) fn canonical_uri_candidates(path: &str) -> Vec<String> {
    let absolute = absolute_path(path);
    let normalized = normalize_path(path);
    let mut out: Vec<String> = Vec::with_capacity(4);
    let mut push = |candidate: String| {
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    };
    push(encode_path(&normalized));
    push(encode_path(&absolute));
    for single in [&normalized, &absolute] {
        if !single.contains("%25") {
            push(single.to_string());
        }
    }
    out
}

/// Trims leading/trailing spaces and collapses runs of spaces into one, as
/// `aws-sigv4` does (only the space character is affected).
pub(crate) fn trim_all(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim_matches(' ');
    if !trimmed.contains("  ") {
        return Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut previous_space = false;
    for c in trimmed.chars() {
        if c == ' ' {
            if !previous_space {
                out.push(c);
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
    Cow::Owned(out)
}

/// All values of the header `name` (case-insensitive), in request order.
pub(crate) fn header_values<'a>(
    req: &'a Request<'a>,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    req.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// Appends the `name:value\n` lines for the signed headers (values of repeated headers
/// trimmed and joined with `,`). Returns the name of the first signed header
/// that is absent from the request as the error.
pub(crate) fn push_canonical_headers(
    out: &mut String,
    req: &Request<'_>,
    signed_headers: &[String],
) -> Result<(), String> {
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut found = false;
        for value in header_values(req, name) {
            if found {
                out.push(',');
            }
            out.push_str(&trim_all(value));
            found = true;
        }
        if !found {
            return Err(name.clone());
        }
        out.push('\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            hex::encode(digest::digest(&digest::SHA256, b"abc"))
        );
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn the_empty_hash_is_the_hash_of_nothing() {
        assert_eq!(
            EMPTY_SHA256,
            hex::encode(digest::digest(&digest::SHA256, b""))
        );
    }

    #[test]
    fn malformed_queries_are_told_apart() {
        assert!(query_is_well_formed(""));
        assert!(query_is_well_formed("a=1&b=%E2%9C%93&c=a+b&flag"));
        assert!(!query_is_well_formed("id=%ff"));
        assert!(!query_is_well_formed("x=%zz"));
        assert!(!query_is_well_formed("x=%2"));
    }

    #[test]
    fn query_encoding() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(canonical_query("b=2&a=1", false), "a=1&b=2");
        assert_eq!(canonical_query("a=2&a=1&a=10", false), "a=1&a=10&a=2");
        assert_eq!(canonical_query("flag&empty=", false), "empty=&flag=");
        assert_eq!(canonical_query("k=a=b", false), "k=a%3Db");
        assert_eq!(canonical_query("s=a+b&t=a%20b", false), "s=a%20b&t=a%20b");
        assert_eq!(canonical_query("u=%e2%9c%93", false), "u=%E2%9C%93");
        assert_eq!(canonical_query("x=%zz&&y=~._-", false), "x=%25zz&y=~._-");
        assert_eq!(canonical_query("bad=%FF", false), "bad=%EF%BF%BD");
        // Sort by *encoded* name: `%` (0x25) sorts before letters.
        assert_eq!(canonical_query("a=1&%21=2", false), "%21=2&a=1");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", false),
            "X-Amz-Date=1&X-Amz-Signature=abc"
        );
    }

    #[test]
    fn path_normalization() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("a/b"), "/a/b");
        assert_eq!(normalize_path("//double"), "/double");
        assert_eq!(normalize_path("/a/./b/../c/"), "/a/c/");
        assert_eq!(normalize_path("/a/b/.."), "/a/");
        assert_eq!(normalize_path("/../x"), "/x");
        assert_eq!(normalize_path("/%2E%2E/x"), "/%2E%2E/x");
        assert_eq!(normalize_path("/a//"), "/a/");
    }

    #[test]
    fn path_candidates() {
        assert_eq!(canonical_uri_candidates("/"), vec!["/"]);
        assert_eq!(
            canonical_uri_candidates("/a%20b/"),
            vec!["/a%2520b/", "/a%20b/"]
        );
        assert_eq!(
            canonical_uri_candidates("//a%2F"),
            vec!["/a%252F", "//a%252F", "/a%2F", "//a%2F"]
        );
        // `%25` in the raw path: only double-encoded forms.
        assert_eq!(canonical_uri_candidates("/100%25"), vec!["/100%2525"]);
        assert_eq!(canonical_uri_candidates("/a:b"), vec!["/a%3Ab", "/a:b"]);
    }

    #[test]
    fn header_trimming() {
        assert_eq!(trim_all("  a   b  c "), "a b c");
        assert_eq!(trim_all("a\tb"), "a\tb");
        assert_eq!(trim_all(""), "");
    }
}
