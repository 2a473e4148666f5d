//! Verifying a request whose body is held elsewhere (forward-auth): the
//! signed `x-amz-content-sha256` stands for the body, and is what the
//! verifier answers for the body's holder to compare.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cognate_sigv4::{DetachedPayload, SigV4Error};
use common::*;

fn verify(signed: &Signed, payload: DetachedPayload<'_>) -> Result<String, SigV4Error> {
    signed.with(|req| {
        let info = cognate_sigv4::parse(req)?.expect("signed");
        let key = cognate_sigv4::signing_key(SECRET, &info.date, &info.region, &info.service);
        cognate_sigv4::verify_detached_payload(req, &info, &key, t0(), payload)
    })
}

fn with_hash(method: &str, body: &[u8]) -> Signed {
    let mut spec = Spec::new(method, "/prod/pets").body(body);
    spec.content_sha256_header = true;
    spec.sign()
}

#[test]
fn a_signed_body_hash_stands_for_the_body() {
    let body = br#"{"name":"rex"}"#;
    let mut signed = with_hash("POST", body);
    // The body does not come along.
    signed.body.clear();
    let hash = cognate_sigv4::payload_hash(body);
    let unseen = DetachedPayload::Unseen { has_body: true };
    assert_eq!(verify(&signed, unseen), Ok(hash.clone()));
    // The holder's hash must agree with it...
    assert_eq!(
        verify(&signed, DetachedPayload::Hash(&hash)),
        Ok(hash.clone())
    );
    let other = cognate_sigv4::payload_hash(b"other");
    assert_eq!(
        verify(&signed, DetachedPayload::Hash(&other)),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    // ...and another hash in the header is another signature.
    signed.set_header("x-amz-content-sha256", &other);
    assert!(matches!(
        verify(&signed, unseen),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn a_body_without_a_declared_hash_is_refused() {
    // Signed over the body, without the header: nothing binds a body the
    // verifier does not see.
    let mut signed = Spec::new("POST", "/prod/pets").body(b"{}").sign();
    signed.body.clear();
    assert_eq!(
        verify(&signed, DetachedPayload::Unseen { has_body: true }),
        Err(SigV4Error::BodyHashMissing)
    );
    // Without a body, the empty body's hash is what was signed.
    let get = Spec::new("GET", "/prod/pets").sign();
    let empty = cognate_sigv4::payload_hash(b"");
    assert_eq!(
        verify(&get, DetachedPayload::Unseen { has_body: false }),
        Ok(empty.clone())
    );
    // A holder's hash stands in for the header.
    let mut post = Spec::new("POST", "/prod/pets").body(b"{}").sign();
    post.body.clear();
    let hash = cognate_sigv4::payload_hash(b"{}");
    assert_eq!(verify(&post, DetachedPayload::Hash(&hash)), Ok(hash));
}

#[test]
fn unsigned_payload_is_only_for_requests_without_a_body() {
    let mut spec = Spec::new("POST", "/prod/pets");
    spec.unsigned_payload = true;
    spec.content_sha256_header = true;
    let signed = spec.sign();
    assert_eq!(
        verify(&signed, DetachedPayload::Unseen { has_body: true }),
        Err(SigV4Error::UnsignedPayload)
    );
    // What the body's holder is told to compare with is a real hash: the
    // empty body's.
    assert_eq!(
        verify(&signed, DetachedPayload::Unseen { has_body: false }),
        Ok(cognate_sigv4::payload_hash(b""))
    );
}

#[test]
fn a_presigned_url_may_be_signed_over_unsigned_payload() {
    let mut spec = Spec::new("GET", "/prod/pets").presigned(minutes(5));
    spec.unsigned_payload = true;
    let signed = spec.sign();
    assert_eq!(
        verify(&signed, DetachedPayload::Unseen { has_body: false }),
        Ok(cognate_sigv4::payload_hash(b""))
    );
}
