//! Verification of SAML 2.0 authentication responses against IdP metadata.
//!
//! This is what a Cognito Identity compatible server needs to accept the
//! base64 `SAMLResponse` an identity provider POSTs (passed as the `Logins`
//! value for a SAML provider ARN), given the metadata document IAM
//! `CreateSAMLProvider` stored. No network access is involved.
//!
//! # Trust model
//!
//! The only trusted input is the IdP metadata: its `entityID` and the public
//! keys of its signing certificates. Everything in the response is hostile
//! until a signature made with one of those keys covers it:
//!
//! 1. The response must be a `samlp:Response` with status `Success` holding
//!    exactly one `saml:Assertion` anywhere in the document, as a direct child
//!    of the Response; no `EncryptedAssertion`; no DTD; no two elements with
//!    the same ID.
//! 2. Only two signature positions are considered: a `ds:Signature` that is a
//!    direct child of the Assertion and references `#<Assertion ID>`, or one
//!    that is a direct child of the Response and references
//!    `#<Response ID>` (a signed Response covers its Assertion). Each must be
//!    an enveloped signature with exactly one Reference, exclusive or inclusive
//!    C14N, SHA-256/384/512 digests and RSA (or ECDSA) SHA-2 signatures,
//!    verified with the metadata keys only (any `KeyInfo` in the response is
//!    ignored). At least one must be present, and every one present must
//!    verify.
//! 3. After that, every value is read from that same Assertion node (its
//!    direct children), never by searching the document: issuer, NameID,
//!    the bearer subject confirmation, conditions and attributes.
//!
//! A signature anywhere else (inside `Extensions`, an `Object`, `Advice`, a
//! second assertion, ...) is never trusted, because it proves only that the
//! IdP signed *some* element, not the element we go on to read. This, the
//! single-assertion rule and the unique-ID rule defeat XML signature wrapping:
//! the element whose signature is checked is, by construction, the element
//! whose content is used. Text that matters (NameID, Issuer, Audience,
//! attribute values) must consist of text nodes only, so a comment cannot
//! truncate it (the canonical form used for the digest drops comments).

mod c14n;
mod dsig;
mod error;
mod metadata;
mod time;

use base64::Engine as _;
use roxmltree::Node;

pub use error::SamlError;
pub use metadata::IdpMetadata;

/// Largest decoded SAML response accepted, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 100 * 1024;

/// Most namespaces in scope at any element. Real responses have a handful;
/// the bound keeps canonicalization (quadratic in them per element) cheap
/// on hostile input, which is canonicalized before any signature is known
/// to be good.
pub(crate) const MAX_IN_SCOPE_NAMESPACES: usize = 64;

pub(crate) const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
/// The attribute AWS reads role / provider ARN pairs from.
pub const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";

/// What the relying party expects of the assertion.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// Current time, unix seconds.
    pub now: i64,
    /// Tolerance applied to NotBefore / NotOnOrAfter, e.g. 300.
    pub clock_skew_secs: i64,
    /// Every AudienceRestriction (at least one is required) must name one of these.
    pub audiences: &'a [&'a str],
    /// `SubjectConfirmationData/@Recipient` must be one of these.
    pub recipients: &'a [&'a str],
}

/// The content of a verified assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The assertion's Issuer (equal to the metadata entity ID).
    pub issuer: String,
    /// `Subject/NameID` text (surrounding whitespace trimmed).
    pub name_id: String,
    /// `Subject/NameID/@Format`.
    pub name_id_format: Option<String>,
    /// `Attribute/@Name` -> AttributeValue texts, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// The earliest expiry among Conditions and SubjectConfirmationData (unix seconds).
    pub not_on_or_after: i64,
}

impl VerifiedAssertion {
    /// Values of [`ROLE_ATTRIBUTE`] as (role ARN, provider ARN) pairs. Each
    /// value is two comma-separated ARNs in either order (one containing
    /// `:role/`, the other `:saml-provider/`); whitespace around them is
    /// trimmed; malformed values are skipped.
    pub fn roles(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, values) in &self.attributes {
            if name != ROLE_ATTRIBUTE {
                continue;
            }
            for value in values {
                let mut parts = value.split(',').map(str::trim);
                let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                let is_role = |s: &str| s.contains(":role/") && !s.contains(":saml-provider/");
                let is_provider = |s: &str| s.contains(":saml-provider/") && !s.contains(":role/");
                if is_role(a) && is_provider(b) {
                    out.push((a.to_string(), b.to_string()));
                } else if is_provider(a) && is_role(b) {
                    out.push((b.to_string(), a.to_string()));
                }
            }
        }
        out
    }

    /// The values of one attribute (first occurrence of that name), if present.
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Decodes standard-alphabet base64, ignoring ASCII whitespace; padding optional.
pub(crate) fn b64_lenient(s: &str) -> Option<Vec<u8>> {
    let cleaned: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(cleaned).ok()
}

/// Parses XML with DTDs refused.
pub(crate) fn parse_xml(xml: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    // roxmltree tolerates an empty `<!DOCTYPE x>`; refuse any.
    if xml.contains("<!DOCTYPE") {
        return Err(SamlError::DtdNotAllowed);
    }
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(xml, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlError::DtdNotAllowed,
        _ => SamlError::MalformedXml,
    })
}

/// Direct element children of `node` with the given expanded name.
fn children_named<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Vec<Node<'a, 'i>> {
    node.children()
        .filter(|c| c.has_tag_name((ns, name)))
        .collect()
}

fn exactly_one<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &str,
    name: &str,
    what: &'static str,
) -> Result<Node<'a, 'i>, SamlError> {
    match children_named(node, ns, name).as_slice() {
        [one] => Ok(*one),
        _ => Err(SamlError::Structure(what)),
    }
}

fn at_most_one<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &str,
    name: &str,
    what: &'static str,
) -> Result<Option<Node<'a, 'i>>, SamlError> {
    match children_named(node, ns, name).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(SamlError::Structure(what)),
    }
}

/// The text of an element that may contain only text (no comments, PIs or
/// elements), so its value cannot be truncated or spliced.
fn strict_text(node: Node<'_, '_>, what: &'static str) -> Result<String, SamlError> {
    let mut s = String::new();
    for c in node.children() {
        if c.is_text() {
            s.push_str(c.text().unwrap_or(""));
        } else {
            return Err(SamlError::UnexpectedContent(what));
        }
    }
    Ok(s)
}

fn time_attr(node: Node<'_, '_>, attr: &str, what: &'static str) -> Result<Option<i64>, SamlError> {
    match node.attribute(attr) {
        None => Ok(None),
        Some(v) => time::parse_datetime(v, true)
            .map(Some)
            .ok_or(SamlError::InvalidTime(what)),
    }
}

/// Verifies a base64 SAML response against the IdP metadata; see the crate
/// documentation for what is checked.
pub fn verify_response(
    response_b64: &str,
    idp: &IdpMetadata,
    expect: &Expectations,
) -> Result<VerifiedAssertion, SamlError> {
    // Base64 of MAX_RESPONSE_BYTES is ~4/3 of it; allow generous line breaks.
    if response_b64.len() > MAX_RESPONSE_BYTES * 2 {
        return Err(SamlError::TooLarge);
    }
    let bytes = b64_lenient(response_b64).ok_or(SamlError::InvalidBase64)?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::TooLarge);
    }
    let xml = String::from_utf8(bytes).map_err(|_| SamlError::NotUtf8)?;
    let doc = parse_xml(&xml)?;
    verify_document(&doc, idp, expect)
}

fn verify_document(
    doc: &roxmltree::Document<'_>,
    idp: &IdpMetadata,
    expect: &Expectations,
) -> Result<VerifiedAssertion, SamlError> {
    let response = doc.root_element();
    if !response.has_tag_name((NS_SAMLP, "Response")) {
        return Err(SamlError::NotAResponse);
    }
    if response.attribute("Version") != Some("2.0") {
        return Err(SamlError::UnsupportedVersion);
    }
    let status = exactly_one(response, NS_SAMLP, "Status", "Status")?;
    let code = exactly_one(status, NS_SAMLP, "StatusCode", "StatusCode")?;
    if code.attribute("Value") != Some(STATUS_SUCCESS) {
        return Err(SamlError::StatusNotSuccess);
    }

    // Whole-document structural rules.
    let mut ids = std::collections::HashSet::new();
    let mut assertions = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        if node.namespaces().nth(MAX_IN_SCOPE_NAMESPACES).is_some() {
            return Err(SamlError::TooManyNamespaces);
        }
        if node.tag_name().namespace() == Some(NS_SAML) {
            match node.tag_name().name() {
                "EncryptedAssertion" | "EncryptedID" | "EncryptedAttribute" => {
                    return Err(SamlError::EncryptedAssertionUnsupported);
                }
                "Assertion" => assertions.push(node),
                _ => {}
            }
        }
        for attr in node.attributes() {
            let is_id = match attr.namespace() {
                None => matches!(attr.name(), "ID" | "Id" | "id"),
                Some(ns) => ns == "http://www.w3.org/XML/1998/namespace" && attr.name() == "id",
            };
            if is_id && !ids.insert(attr.value()) {
                return Err(SamlError::DuplicateId);
            }
        }
    }
    let [assertion] = assertions.as_slice() else {
        return Err(SamlError::AssertionCount);
    };
    let assertion = *assertion;
    if assertion.parent() != Some(response) {
        return Err(SamlError::AssertionCount);
    }

    // Signatures: only in the two trusted positions; all present must verify.
    let response_sig = at_most_one(response, NS_DSIG, "Signature", "Response Signature")?;
    let assertion_sig = at_most_one(assertion, NS_DSIG, "Signature", "Assertion Signature")?;
    if response_sig.is_none() && assertion_sig.is_none() {
        return Err(SamlError::MissingSignature);
    }
    if let Some(sig) = assertion_sig {
        dsig::verify_enveloped(sig, assertion, &idp.keys)?;
    }
    if let Some(sig) = response_sig {
        dsig::verify_enveloped(sig, response, &idp.keys)?;
    }

    // ---- From here on, read only from the verified assertion. ----
    if let Some(issuer) = at_most_one(response, NS_SAML, "Issuer", "Response Issuer")? {
        check_issuer(issuer, idp)?;
    }
    if assertion.attribute("Version") != Some("2.0") {
        return Err(SamlError::UnsupportedVersion);
    }
    let issuer = exactly_one(assertion, NS_SAML, "Issuer", "Assertion Issuer")?;
    let issuer = check_issuer(issuer, idp)?;

    let subject = exactly_one(assertion, NS_SAML, "Subject", "Subject")?;
    let name_id_node = exactly_one(subject, NS_SAML, "NameID", "NameID")?;
    let name_id = strict_text(name_id_node, "NameID")?.trim().to_string();
    if name_id.is_empty() {
        return Err(SamlError::Structure("NameID"));
    }
    let name_id_format = name_id_node.attribute("Format").map(str::to_string);

    let skew = expect.clock_skew_secs.max(0);
    let now = expect.now;
    let mut bearer = children_named(subject, NS_SAML, "SubjectConfirmation")
        .into_iter()
        .filter(|sc| sc.attribute("Method") == Some(CM_BEARER));
    let (Some(confirmation), None) = (bearer.next(), bearer.next()) else {
        return Err(SamlError::BearerConfirmation);
    };
    let scd = exactly_one(
        confirmation,
        NS_SAML,
        "SubjectConfirmationData",
        "SubjectConfirmationData",
    )?;
    let scd_expiry = time_attr(scd, "NotOnOrAfter", "SubjectConfirmationData NotOnOrAfter")?
        .ok_or(SamlError::Structure("SubjectConfirmationData NotOnOrAfter"))?;
    if scd_expiry <= now.saturating_sub(skew) {
        return Err(SamlError::Expired);
    }
    if let Some(nb) = time_attr(scd, "NotBefore", "SubjectConfirmationData NotBefore")?
        && nb > now.saturating_add(skew)
    {
        return Err(SamlError::NotYetValid);
    }
    let recipient = scd
        .attribute("Recipient")
        .ok_or(SamlError::RecipientMismatch)?;
    if !expect.recipients.contains(&recipient) {
        return Err(SamlError::RecipientMismatch);
    }

    let conditions = at_most_one(assertion, NS_SAML, "Conditions", "Conditions")?
        .ok_or(SamlError::AudienceMismatch)?;
    let mut not_on_or_after = scd_expiry;
    if let Some(t) = time_attr(conditions, "NotOnOrAfter", "Conditions NotOnOrAfter")? {
        if t <= now.saturating_sub(skew) {
            return Err(SamlError::Expired);
        }
        not_on_or_after = not_on_or_after.min(t);
    }
    if let Some(t) = time_attr(conditions, "NotBefore", "Conditions NotBefore")?
        && t > now.saturating_add(skew)
    {
        return Err(SamlError::NotYetValid);
    }
    let restrictions = children_named(conditions, NS_SAML, "AudienceRestriction");
    if restrictions.is_empty() {
        return Err(SamlError::AudienceMismatch);
    }
    for restriction in restrictions {
        let mut ok = false;
        for audience in children_named(restriction, NS_SAML, "Audience") {
            let a = strict_text(audience, "Audience")?;
            if expect.audiences.contains(&a.trim()) {
                ok = true;
            }
        }
        if !ok {
            return Err(SamlError::AudienceMismatch);
        }
    }

    let mut attributes = Vec::new();
    for statement in children_named(assertion, NS_SAML, "AttributeStatement") {
        for attr in children_named(statement, NS_SAML, "Attribute") {
            let name = attr
                .attribute("Name")
                .ok_or(SamlError::Structure("Attribute Name"))?
                .to_string();
            let mut values = Vec::new();
            for value in children_named(attr, NS_SAML, "AttributeValue") {
                if matches!(value.attribute((NS_XSI, "nil")), Some("true" | "1")) {
                    values.push(String::new());
                } else {
                    values.push(strict_text(value, "AttributeValue")?);
                }
            }
            attributes.push((name, values));
        }
    }

    Ok(VerifiedAssertion {
        issuer,
        name_id,
        name_id_format,
        attributes,
        not_on_or_after,
    })
}

fn check_issuer(issuer: Node<'_, '_>, idp: &IdpMetadata) -> Result<String, SamlError> {
    if let Some(format) = issuer.attribute("Format")
        && format != NAMEID_ENTITY
    {
        return Err(SamlError::IssuerMismatch);
    }
    let text = strict_text(issuer, "Issuer")?;
    let text = text.trim();
    if text != idp.entity_id {
        return Err(SamlError::IssuerMismatch);
    }
    Ok(text.to_string())
}

#[doc(hidden)]
pub mod testing {
    //! Canonicalization entry point exposed for the conformance tests only.
    //! Not part of the stable API.

    use crate::SamlError;

    /// Canonicalizes the first element named `local_name` (any namespace) in
    /// `xml`, in document order.
    pub fn canonicalize_element(
        xml: &str,
        local_name: &str,
        exclusive: bool,
        with_comments: bool,
        inclusive_prefixes: &[&str],
    ) -> Result<Vec<u8>, SamlError> {
        let doc = crate::parse_xml(xml)?;
        let node = doc
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == local_name)
            .ok_or(SamlError::Structure("element"))?;
        let mode = crate::c14n::C14nMode {
            exclusive,
            with_comments,
            inclusive_prefixes: inclusive_prefixes
                .iter()
                .map(|p| {
                    if *p == "#default" {
                        String::new()
                    } else {
                        p.to_string()
                    }
                })
                .collect(),
        };
        crate::c14n::canonicalize(node, None, &mode)
    }
}
