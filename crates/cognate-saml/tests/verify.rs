//! SAML response verification against fixtures signed by an independent
//! implementation (Python signxml + lxml; see tests/vectors/make_vectors.py).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use base64::Engine as _;
use cognate_saml::{Expectations, IdpMetadata, SamlError, VerifiedAssertion, verify_response};

/// 2030-01-01T00:00:00Z: IssueInstant / NotBefore of every fixture.
const ISSUED: i64 = 1_893_456_000;
/// 2030-01-01T01:00:00Z: NotOnOrAfter of every fixture.
const EXPIRES: i64 = ISSUED + 3600;
const NOW: i64 = ISSUED + 600;
const RECIPIENT: &str = "https://signin.aws.amazon.com/saml";
const AUDIENCE: &str = "urn:amazon:webservices";
const ENTITY_ID: &str = "https://idp.example.com/metadata";
const PROVIDER: &str = "arn:aws:iam::123456789012:saml-provider/ExampleIdP";

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn response(case: &str) -> String {
    read(&format!("responses/{case}.xml"))
}

fn idp() -> IdpMetadata {
    IdpMetadata::parse(&read("metadata.xml")).unwrap()
}

fn expect_at(now: i64) -> Expectations<'static> {
    Expectations {
        now,
        clock_skew_secs: 300,
        audiences: &[AUDIENCE, "urn:other"],
        recipients: &[RECIPIENT],
    }
}

fn b64(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

fn verify_with(
    xml: &str,
    idp: &IdpMetadata,
    expect: &Expectations,
) -> Result<VerifiedAssertion, SamlError> {
    verify_response(&b64(xml), idp, expect)
}

fn verify(xml: &str) -> Result<VerifiedAssertion, SamlError> {
    verify_with(xml, &idp(), &expect_at(NOW))
}

/// Replaces exactly one occurrence (so a fixture change cannot silently
/// turn a tamper test into a no-op).
fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(
        xml.matches(from).count(),
        1,
        "expected exactly one {from:?}"
    );
    xml.replacen(from, to, 1)
}

/// The `<saml:Assertion ...>...</saml:Assertion>` text of a fixture.
fn assertion_text(xml: &str) -> &str {
    let start = xml.find("<saml:Assertion ").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &xml[start..end]
}

/// An unsigned assertion for a different user, for wrapping attacks.
fn evil_assertion(xml: &str, id: &str) -> String {
    let signed = assertion_text(xml);
    let sig_start = signed.find("<ds:Signature").unwrap();
    let sig_end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..sig_start], &signed[sig_end..]);
    unsigned
        .replace("alice@example.com", "admin@example.com")
        .replace("ID=\"_assert1\"", &format!("ID=\"{id}\""))
}

fn assert_alice(v: &VerifiedAssertion) {
    assert_eq!(v.issuer, ENTITY_ID);
    assert_eq!(v.name_id, "alice@example.com");
    assert_eq!(
        v.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
    assert_eq!(v.not_on_or_after, EXPIRES);
    let names: Vec<&str> = v.attributes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "https://aws.amazon.com/SAML/Attributes/Role",
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName",
            "groups"
        ]
    );
    assert_eq!(v.attributes[0].1.len(), 3);
    assert_eq!(
        v.attribute("https://aws.amazon.com/SAML/Attributes/RoleSessionName")
            .unwrap(),
        ["alice"]
    );
    assert_eq!(v.attribute("groups").unwrap(), ["dev", "ops & on-call"]);
    assert_eq!(
        v.roles(),
        vec![
            (
                "arn:aws:iam::123456789012:role/Admin".to_string(),
                PROVIDER.to_string()
            ),
            (
                "arn:aws:iam::123456789012:role/ReadOnly".to_string(),
                PROVIDER.to_string()
            ),
        ]
    );
}

// ---------------------------------------------------------------- valid cases

#[test]
fn assertion_signed_verifies() {
    assert_alice(&verify(&response("assertion_signed")).unwrap());
}

#[test]
fn response_signed_verifies() {
    assert_alice(&verify(&response("response_signed")).unwrap());
}

#[test]
fn both_signed_verifies() {
    assert_alice(&verify(&response("both_signed")).unwrap());
}

#[test]
fn sha384_verifies() {
    assert_alice(&verify(&response("assertion_signed_sha384")).unwrap());
}

#[test]
fn inclusive_c14n_signature_verifies() {
    assert_alice(&verify(&response("assertion_signed_c14n10")).unwrap());
}

#[test]
fn ecdsa_p256_verifies() {
    let idp = IdpMetadata::parse(&read("metadata_ec.xml")).unwrap();
    let v = verify_with(&response("ec_assertion_signed"), &idp, &expect_at(NOW)).unwrap();
    assert_alice(&v);
    // and an RSA-signed response does not verify with the EC metadata
    assert_eq!(
        verify_with(&response("assertion_signed"), &idp, &expect_at(NOW)),
        Err(SamlError::BadSignature)
    );
}

fn assert_bob(v: &VerifiedAssertion) {
    assert_eq!(v.issuer, ENTITY_ID);
    assert_eq!(v.name_id, "bob@example.com");
    assert_eq!(
        v.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:emailAddress")
    );
    assert_eq!(v.not_on_or_after, EXPIRES);
    assert_eq!(v.attribute("displayName").unwrap(), ["Bob  Builder"]);
    assert_eq!(
        v.roles(),
        vec![(
            "arn:aws:iam::123456789012:role/Dev".to_string(),
            PROVIDER.to_string()
        )]
    );
}

#[test]
fn namespace_heavy_exclusive_verifies() {
    assert_bob(&verify(&response("ns_heavy")).unwrap());
}

#[test]
fn namespace_heavy_inclusive_verifies() {
    assert_bob(&verify(&response("ns_heavy_c14n10")).unwrap());
}

#[test]
fn base64_with_line_breaks_verifies() {
    let encoded = b64(&response("assertion_signed"));
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let v = verify_response(
        &format!("\n{}\r\n", wrapped.join("\r\n")),
        &idp(),
        &expect_at(NOW),
    )
    .unwrap();
    assert_alice(&v);
}

#[test]
fn clock_skew_boundaries() {
    let xml = response("assertion_signed");
    let idp = idp();
    // NotOnOrAfter is exclusive: valid while now - skew < expiry.
    assert!(verify_with(&xml, &idp, &expect_at(EXPIRES + 299)).is_ok());
    assert_eq!(
        verify_with(&xml, &idp, &expect_at(EXPIRES + 300)),
        Err(SamlError::Expired)
    );
    // NotBefore is inclusive: valid while notBefore <= now + skew.
    assert!(verify_with(&xml, &idp, &expect_at(ISSUED - 300)).is_ok());
    assert_eq!(
        verify_with(&xml, &idp, &expect_at(ISSUED - 301)),
        Err(SamlError::NotYetValid)
    );
}

// ---------------------------------------------------------------- refusals

#[test]
fn tampered_name_id_is_refused() {
    let xml = replace_once(
        &response("assertion_signed"),
        "alice@example.com",
        "admin@example.com",
    );
    assert_eq!(verify(&xml), Err(SamlError::DigestMismatch));
    let xml = replace_once(
        &response("response_signed"),
        "alice@example.com",
        "admin@example.com",
    );
    assert_eq!(verify(&xml), Err(SamlError::DigestMismatch));
}

#[test]
fn tampered_attribute_is_refused() {
    let xml = replace_once(&response("ns_heavy"), "role/Dev,", "role/Admin,");
    assert_eq!(verify(&xml), Err(SamlError::DigestMismatch));
}

#[test]
fn comment_in_name_id_is_refused() {
    // Comments are not part of the canonical form, so the digest still
    // matches: the NameID text rule is what stops the truncation attack.
    let xml = replace_once(
        &response("assertion_signed"),
        "alice@example.com</saml:NameID>",
        "alice@example.com<!----></saml:NameID>",
    );
    assert_eq!(verify(&xml), Err(SamlError::UnexpectedContent("NameID")));
    // Changing the text around the comment changes the digest.
    let xml = replace_once(
        &response("assertion_signed"),
        "alice@example.com</saml:NameID>",
        "alice@example.com<!---->.evil.example</saml:NameID>",
    );
    assert_eq!(verify(&xml), Err(SamlError::DigestMismatch));
    let xml = replace_once(
        &response("assertion_signed"),
        ">alice@example.com<",
        ">alice<!-- x -->@example.com<",
    );
    assert_eq!(verify(&xml), Err(SamlError::UnexpectedContent("NameID")));
}

#[test]
fn wrapping_second_unsigned_assertion_is_refused() {
    let xml = response("assertion_signed");
    let evil = evil_assertion(&xml, "_evil");
    // before and after the signed one
    let after = replace_once(
        &xml,
        "</saml:Assertion>",
        &format!("</saml:Assertion>{evil}"),
    );
    assert_eq!(verify(&after), Err(SamlError::AssertionCount));
    let signed = assertion_text(&xml).to_string();
    let before = replace_once(&xml, &signed, &format!("{evil}{signed}"));
    assert_eq!(verify(&before), Err(SamlError::AssertionCount));
    // same for a signed Response
    let xml = response("response_signed");
    let evil = evil_assertion(&xml.replace("<saml:Issuer>https://idp.example.com/metadata</saml:Issuer>\n    <saml:Subject>", "<saml:Issuer>https://idp.example.com/metadata</saml:Issuer><ds:Signature></ds:Signature>\n    <saml:Subject>"), "_evil");
    let after = replace_once(
        &xml,
        "</saml:Assertion>",
        &format!("</saml:Assertion>{evil}"),
    );
    assert_eq!(verify(&after), Err(SamlError::AssertionCount));
}

#[test]
fn wrapping_signed_assertion_moved_into_extensions_is_refused() {
    let xml = response("assertion_signed");
    let signed = assertion_text(&xml).to_string();
    let evil = evil_assertion(&xml, "_evil");
    // signed one hidden in samlp:Extensions, evil one in its place
    let moved = replace_once(&xml, &signed, &evil).replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_eq!(verify(&moved), Err(SamlError::AssertionCount));
    // ... with the evil one reusing the signed ID
    let evil_same_id = evil_assertion(&xml, "_assert1");
    let moved = replace_once(&xml, &signed, &evil_same_id).replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert!(matches!(
        verify(&moved),
        Err(SamlError::DuplicateId | SamlError::AssertionCount)
    ));
    // signed one moved alone (not a direct child of the Response any more)
    let moved = replace_once(
        &xml,
        &signed,
        &format!("<samlp:Extensions>{signed}</samlp:Extensions>"),
    );
    assert_eq!(verify(&moved), Err(SamlError::AssertionCount));
}

#[test]
fn wrapping_signed_assertion_moved_into_object_is_refused() {
    // Signed Response: the genuine signed assertion hidden inside a ds:Object
    // of an attacker-added signature, evil assertion in its place.
    let xml = response("assertion_signed");
    let signed = assertion_text(&xml).to_string();
    let evil = evil_assertion(&xml, "_evil");
    let wrapped = replace_once(
        &xml,
        &signed,
        &format!(
            "{evil}<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:Object>{signed}</ds:Object></ds:Signature>"
        ),
    );
    assert_eq!(verify(&wrapped), Err(SamlError::AssertionCount));
}

#[test]
fn signature_elsewhere_is_not_trusted() {
    // An unsigned assertion next to a signature that is not in a trusted
    // position (wrapped in an element of its own) counts as unsigned.
    let xml = response("assertion_signed");
    let sig_start = xml.find("<ds:Signature").unwrap();
    let sig_end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let sig = &xml[sig_start..sig_end];
    let moved = format!("{}{}", &xml[..sig_start], &xml[sig_end..]).replacen(
        "<saml:Subject>",
        &format!("<saml:Advice>{sig}</saml:Advice><saml:Subject>"),
        1,
    );
    assert_eq!(verify(&moved), Err(SamlError::MissingSignature));
}

#[test]
fn reference_to_another_element_is_refused() {
    let xml = replace_once(
        &response("assertion_signed"),
        "URI=\"#_assert1\"",
        "URI=\"#_resp1\"",
    );
    assert_eq!(verify(&xml), Err(SamlError::ReferenceMismatch));
    let xml = replace_once(
        &response("assertion_signed"),
        "URI=\"#_assert1\"",
        "URI=\"\"",
    );
    assert_eq!(verify(&xml), Err(SamlError::ReferenceMismatch));
    let xml = replace_once(
        &response("response_signed"),
        "URI=\"#_resp1\"",
        "URI=\"#_assert1\"",
    );
    assert_eq!(verify(&xml), Err(SamlError::ReferenceMismatch));
}

#[test]
fn duplicate_ids_are_refused() {
    let xml = replace_once(
        &response("assertion_signed"),
        "<samlp:Status>",
        "<samlp:Extensions><x xmlns=\"urn:x\" ID=\"_assert1\"/></samlp:Extensions><samlp:Status>",
    );
    assert_eq!(verify(&xml), Err(SamlError::DuplicateId));
}

#[test]
fn wrong_key_is_refused() {
    // Signed by another key whose certificate is in the response's KeyInfo
    // (and listed in the metadata for encryption only): never trusted.
    assert_eq!(verify(&response("wrong_key")), Err(SamlError::BadSignature));
}

#[test]
fn sha1_is_refused() {
    assert_eq!(verify(&response("sha1")), Err(SamlError::Sha1NotAccepted));
    assert_eq!(
        verify(&response("sha1_digest_only")),
        Err(SamlError::Sha1NotAccepted)
    );
    let msg = SamlError::Sha1NotAccepted.to_string();
    assert!(
        msg.contains("SHA-1") && msg.contains("not accepted"),
        "{msg}"
    );
}

#[test]
fn hmac_and_unknown_algorithms_are_refused() {
    let xml = replace_once(
        &response("assertion_signed"),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    );
    assert_eq!(
        verify(&xml),
        Err(SamlError::UnsupportedAlgorithm("signature"))
    );
    let xml = replace_once(
        &response("assertion_signed"),
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/>",
    );
    assert_eq!(
        verify(&xml),
        Err(SamlError::UnsupportedAlgorithm("transform"))
    );
}

#[test]
fn expired_is_refused() {
    let r = verify_with(
        &response("assertion_signed"),
        &idp(),
        &expect_at(EXPIRES + 3600),
    );
    assert_eq!(r, Err(SamlError::Expired));
}

#[test]
fn not_yet_valid_is_refused() {
    let r = verify_with(
        &response("assertion_signed"),
        &idp(),
        &expect_at(ISSUED - 3600),
    );
    assert_eq!(r, Err(SamlError::NotYetValid));
}

#[test]
fn wrong_audience_is_refused() {
    let expect = Expectations {
        audiences: &["urn:someone-else"],
        ..expect_at(NOW)
    };
    assert_eq!(
        verify_with(&response("assertion_signed"), &idp(), &expect),
        Err(SamlError::AudienceMismatch)
    );
}

#[test]
fn wrong_recipient_is_refused() {
    let expect = Expectations {
        recipients: &["https://sp.example.com/acs"],
        ..expect_at(NOW)
    };
    assert_eq!(
        verify_with(&response("assertion_signed"), &idp(), &expect),
        Err(SamlError::RecipientMismatch)
    );
}

#[test]
fn wrong_issuer_is_refused() {
    let other = IdpMetadata::parse(
        &read("metadata.xml").replace(ENTITY_ID, "https://other-idp.example.com/"),
    )
    .unwrap();
    assert_eq!(
        verify_with(&response("assertion_signed"), &other, &expect_at(NOW)),
        Err(SamlError::IssuerMismatch)
    );
    // A forged (unsigned) Response Issuer is also refused.
    let xml = replace_once(
        &response("assertion_signed"),
        "<saml:Issuer>https://idp.example.com/metadata</saml:Issuer>\n  <samlp:Status>",
        "<saml:Issuer>https://evil.example.com/</saml:Issuer>\n  <samlp:Status>",
    );
    assert_eq!(verify(&xml), Err(SamlError::IssuerMismatch));
}

#[test]
fn missing_signature_is_refused() {
    assert_eq!(
        verify(&response("unsigned")),
        Err(SamlError::MissingSignature)
    );
}

#[test]
fn status_not_success_is_refused() {
    let xml = replace_once(
        &response("assertion_signed"),
        "urn:oasis:names:tc:SAML:2.0:status:Success",
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
    );
    assert_eq!(verify(&xml), Err(SamlError::StatusNotSuccess));
}

#[test]
fn encrypted_assertion_is_refused() {
    let xml = response("assertion_signed");
    let signed = assertion_text(&xml).to_string();
    let enc = replace_once(
        &xml,
        &signed,
        "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedAssertion>",
    );
    assert_eq!(verify(&enc), Err(SamlError::EncryptedAssertionUnsupported));
    assert_eq!(
        SamlError::EncryptedAssertionUnsupported.to_string(),
        "encrypted assertions are not supported"
    );
}

#[test]
fn dtd_is_refused() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;</samlp:Response>"#;
    assert_eq!(verify(laughs), Err(SamlError::DtdNotAllowed));
    let empty_doctype = format!("<!DOCTYPE x>{}", response("assertion_signed"));
    assert_eq!(verify(&empty_doctype), Err(SamlError::DtdNotAllowed));
    assert_eq!(IdpMetadata::parse(laughs), Err(SamlError::DtdNotAllowed));
}

#[test]
fn bad_base64_is_refused() {
    let idp = idp();
    for bad in ["not base64!", "PHNhbWw+*", "====", "A"] {
        assert_eq!(
            verify_response(bad, &idp, &expect_at(NOW)),
            Err(SamlError::InvalidBase64),
            "{bad}"
        );
    }
    // valid base64, not UTF-8 / not XML / not a Response
    assert_eq!(
        verify_response("//79", &idp, &expect_at(NOW)),
        Err(SamlError::NotUtf8)
    );
    assert_eq!(verify(""), Err(SamlError::MalformedXml));
    assert_eq!(verify("<a><b></a>"), Err(SamlError::MalformedXml));
    assert_eq!(verify(&read("metadata.xml")), Err(SamlError::NotAResponse));
}

#[test]
fn oversized_input_is_refused() {
    let idp = idp();
    let big = format!(
        "{}{}",
        response("assertion_signed"),
        " ".repeat(cognate_saml::MAX_RESPONSE_BYTES)
    );
    assert_eq!(
        verify_with(&big, &idp, &expect_at(NOW)),
        Err(SamlError::TooLarge)
    );
    let huge = "A".repeat(cognate_saml::MAX_RESPONSE_BYTES * 3);
    assert_eq!(
        verify_response(&huge, &idp, &expect_at(NOW)),
        Err(SamlError::TooLarge)
    );
}

#[test]
fn mutated_inputs_never_panic() {
    let xml = response("both_signed");
    let idp = idp();
    let expect = expect_at(NOW);
    let bytes = xml.as_bytes();
    for cut in (0..bytes.len()).step_by(53) {
        let truncated = String::from_utf8_lossy(&bytes[..cut]).into_owned();
        assert!(verify_with(&truncated, &idp, &expect).is_err());
    }
    for i in (0..bytes.len()).step_by(31) {
        for replacement in [b'<', b'>', b'"', b'x', b' ', b'&'] {
            let mut m = bytes.to_vec();
            m[i] = replacement;
            let s = String::from_utf8_lossy(&m).into_owned();
            let _ = verify_with(&s, &idp, &expect);
        }
    }
}

// ---------------------------------------------------------------- metadata

#[test]
fn metadata_parses() {
    let md = idp();
    assert_eq!(md.entity_id, ENTITY_ID);
    assert_eq!(md.valid_until(), Some(1_924_992_000)); // 2031-01-01T00:00:00Z
    assert_eq!(md.signing_key_count(), 1); // the encryption key is ignored
    let wrapped = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" validUntil=\"2032-01-01T00:00:00Z\">{}</md:EntitiesDescriptor>",
        read("metadata.xml").replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    );
    let md = IdpMetadata::parse(&wrapped).unwrap();
    assert_eq!(md.entity_id, ENTITY_ID);
    // The earliest bound applies: the entity's own 2031-01-01.
    assert_eq!(md.valid_until(), Some(1_924_992_000));
    let no_valid_until = read("metadata.xml").replace(" validUntil=\"2031-01-01T00:00:00Z\"", "");
    assert_eq!(
        IdpMetadata::parse(&no_valid_until).unwrap().valid_until(),
        None
    );
    // a KeyDescriptor without `use` counts as signing
    let no_use = read("metadata.xml").replace(" use=\"signing\"", "");
    assert_eq!(IdpMetadata::parse(&no_use).unwrap().signing_key_count(), 1);
}

#[test]
fn metadata_without_signing_certificate_is_refused() {
    let md = read("metadata.xml").replace("use=\"signing\"", "use=\"encryption\"");
    assert_eq!(IdpMetadata::parse(&md), Err(SamlError::NoSigningKey));
}

#[test]
fn metadata_errors() {
    let md = read("metadata.xml");
    assert_eq!(
        IdpMetadata::parse(&md.replace("IDPSSODescriptor", "SPSSODescriptor")),
        Err(SamlError::NoIdpDescriptor)
    );
    assert_eq!(IdpMetadata::parse("<x/>"), Err(SamlError::NotMetadata));
    assert_eq!(
        IdpMetadata::parse(&response("assertion_signed")),
        Err(SamlError::NotMetadata)
    );
    assert_eq!(
        IdpMetadata::parse(&md.replace("<ds:X509Certificate>\n", "<ds:X509Certificate>\nAAAA")),
        Err(SamlError::InvalidCertificate)
    );
    let two = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{0}{0}</md:EntitiesDescriptor>",
        md.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    );
    assert_eq!(IdpMetadata::parse(&two), Err(SamlError::NotMetadata));
    assert_eq!(
        IdpMetadata::parse(&md.replace("2031-01-01T00:00:00Z", "next year")),
        Err(SamlError::InvalidTime("metadata validUntil"))
    );
}

// ---------------------------------------------------------------- errors

/// Every error's message is short and never carries key material.
#[test]
fn error_messages_carry_no_key_material() {
    let cert_b64: String = read("idp_cert.pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let xml = response("assertion_signed");
    let mut errors = vec![
        SamlError::InvalidBase64,
        SamlError::TooLarge,
        SamlError::TooManyNamespaces,
        SamlError::NotUtf8,
        SamlError::DtdNotAllowed,
        SamlError::MalformedXml,
        SamlError::NotAResponse,
        SamlError::StatusNotSuccess,
        SamlError::EncryptedAssertionUnsupported,
        SamlError::AssertionCount,
        SamlError::DuplicateId,
        SamlError::Structure("NameID"),
        SamlError::UnsupportedVersion,
        SamlError::MissingSignature,
        SamlError::MalformedSignature("SignatureValue"),
        SamlError::ReferenceMismatch,
        SamlError::UnsupportedAlgorithm("digest"),
        SamlError::Sha1NotAccepted,
        SamlError::DigestMismatch,
        SamlError::BadSignature,
        SamlError::IssuerMismatch,
        SamlError::UnexpectedContent("NameID"),
        SamlError::BearerConfirmation,
        SamlError::RecipientMismatch,
        SamlError::Expired,
        SamlError::NotYetValid,
        SamlError::AudienceMismatch,
        SamlError::InvalidTime("Conditions NotOnOrAfter"),
        SamlError::NotMetadata,
        SamlError::NoIdpDescriptor,
        SamlError::InvalidCertificate,
        SamlError::NoSigningKey,
    ];
    // plus errors produced from real inputs
    errors.push(verify(&response("wrong_key")).unwrap_err());
    errors.push(verify(&xml.replace("alice@", "eve@")).unwrap_err());
    errors.push(
        IdpMetadata::parse(
            &read("metadata.xml").replace("<ds:X509Certificate>\n", "<ds:X509Certificate>\nAAAA"),
        )
        .unwrap_err(),
    );
    for e in errors {
        let msg = e.to_string();
        assert!(!msg.is_empty() && msg.len() < 120, "{msg}");
        assert!(
            !msg.contains("-----BEGIN") && !msg.contains("PRIVATE"),
            "{msg}"
        );
        // no run of 20+ base64 characters (certificates, keys, signatures)
        let mut run = 0;
        for c in msg.chars() {
            run = if c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=' {
                run + 1
            } else {
                0
            };
            assert!(run < 20, "{msg}");
        }
        assert!(!msg.contains(&cert_b64[..16]), "{msg}");
        // Debug output of an error is equally safe
        assert!(!format!("{e:?}").contains(&cert_b64[..16]));
    }
    // Debug of the metadata never prints key bytes either
    let dbg = format!("{:?}", idp());
    assert!(
        !dbg.contains(&cert_b64[..16]) && !dbg.contains("MII"),
        "{dbg}"
    );
}

// ---------------------------------------------------------- resource bounds
//
// SignedInfo is canonicalized before its signature is known to be good, so
// hostile input must not be able to make that expensive: these documents
// are refused up front, by structure, not by timing.

#[test]
fn too_many_namespaces_in_scope_are_refused() {
    let xml = response("assertion_signed");
    let declarations: String = (0..100)
        .map(|i| format!(" xmlns:p{i}=\"urn:example:{i}\""))
        .collect();
    let hostile = replace_once(
        &xml,
        "<samlp:Response ",
        &format!("<samlp:Response{declarations} "),
    );
    assert_eq!(verify(&hostile), Err(SamlError::TooManyNamespaces));
    // A realistic handful is fine (the signature is over the assertion,
    // which does not use them).
    let few: String = (0..8)
        .map(|i| format!(" xmlns:p{i}=\"urn:example:{i}\""))
        .collect();
    let fine = replace_once(&xml, "<samlp:Response ", &format!("<samlp:Response{few} "));
    assert_eq!(verify(&fine).unwrap().name_id, "alice@example.com");
}

#[test]
fn long_inclusive_prefix_lists_are_refused_before_the_signature() {
    let xml = response("assertion_signed");
    let c14n =
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
    let prefixes: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    let long = format!(
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="{}"/></ds:CanonicalizationMethod>"#,
        prefixes.join(" ")
    );
    assert_eq!(
        verify(&replace_once(&xml, c14n, &long)),
        Err(SamlError::TooManyNamespaces)
    );
    // Repeats count once: a long list of one prefix is not refused for its
    // length (the signature, made over a different SignedInfo, then fails).
    let repeated = format!(
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="{}"/></ds:CanonicalizationMethod>"#,
        "saml ".repeat(5000)
    );
    assert_eq!(
        verify(&replace_once(&xml, c14n, &repeated)),
        Err(SamlError::BadSignature)
    );
    // Content inside InclusiveNamespaces is not part of any algorithm.
    let stuffed = format!(
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="saml">{}</ec:InclusiveNamespaces></ds:CanonicalizationMethod>"#,
        "<b/>".repeat(1000)
    );
    assert!(matches!(
        verify(&replace_once(&xml, c14n, &stuffed)),
        Err(SamlError::MalformedSignature(_))
    ));
}

#[test]
fn elements_inside_digest_method_are_refused() {
    let xml = response("assertion_signed");
    let digest = r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>"#;
    let stuffed = format!(
        r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256">{}</ds:DigestMethod>"#,
        "<b/>".repeat(3000)
    );
    assert_eq!(
        verify(&replace_once(&xml, digest, &stuffed)),
        Err(SamlError::UnsupportedAlgorithm("digest"))
    );
}
