//! `cognate_saml`: IdP metadata parsing and SAML response verification.
//!
//! Input: the first byte picks the mode; the rest is XML. Even: parsed as
//! IdP metadata. Odd: base64-encoded and verified as a SAML response
//! against the metadata of cognate-saml's test vectors, at a time inside
//! the vectors' validity. Oracle: whatever verifies must be what that
//! IdP's key signed (its vectors are for `alice@example.com` and
//! `bob@example.com`), so a mutation that changes the subject and still
//! verifies is a signature-wrapping bug, not just a crash.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;

const METADATA: &str = include_str!("../../crates/cognate-saml/tests/vectors/metadata.xml");
/// 2030-01-01T00:00:30Z.
const NOW: i64 = 1_893_456_030;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(xml) = std::str::from_utf8(rest) else {
        return;
    };
    if mode % 2 == 0 {
        let _ = cognate_saml::IdpMetadata::parse(xml);
        return;
    }
    let Ok(idp) = cognate_saml::IdpMetadata::parse(METADATA) else {
        panic!("the vectors' metadata parses");
    };
    let expect = cognate_saml::Expectations {
        now: NOW,
        clock_skew_secs: 300,
        audiences: &["urn:amazon:webservices"],
        recipients: &["https://signin.aws.amazon.com/saml"],
    };
    if let Ok(assertion) = cognate_saml::verify_response(&STANDARD.encode(xml), &idp, &expect) {
        assert!(
            ["alice@example.com", "bob@example.com"].contains(&assertion.name_id.as_str()),
            "an unsigned subject verified: {}",
            assertion.name_id
        );
        assert_eq!(assertion.issuer, idp.entity_id);
    }
});
