//! XML-DSig verification of one enveloped signature over the element that
//! directly contains it.

use aws_lc_rs::{digest, signature};
use roxmltree::Node;

use crate::c14n::{C14nMode, canonicalize};
use crate::error::SamlError;
use crate::metadata::SigningKey;
use crate::{NS_DSIG, b64_lenient};

const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Longest InclusiveNamespaces PrefixList accepted (after removing repeats).
const MAX_INCLUSIVE_PREFIXES: usize = 32;

const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ALG_EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const ALG_C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ALG_C14N10_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ALG_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
const ALG_SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
const ALG_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ALG_RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const ALG_RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const ALG_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const ALG_ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
const SHA1_SIGNATURE_METHODS: [&str; 3] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
];

#[derive(Clone, Copy)]
enum SigAlg {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

fn ds_children<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, SamlError> {
    let mut out = Vec::new();
    for child in node.children() {
        if child.is_element() {
            if child.tag_name().namespace() != Some(NS_DSIG) {
                return Err(SamlError::MalformedSignature("unexpected element"));
            }
            out.push(child);
        } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
            return Err(SamlError::MalformedSignature("unexpected text"));
        }
    }
    Ok(out)
}

fn is_ds(node: &Node<'_, '_>, name: &str) -> bool {
    node.has_tag_name((NS_DSIG, name))
}

fn algorithm<'a>(node: &Node<'a, '_>) -> Result<&'a str, SamlError> {
    node.attribute("Algorithm")
        .ok_or(SamlError::MalformedSignature("missing Algorithm"))
}

/// Base64 content of a ds:DigestValue / ds:SignatureValue (text only).
fn b64_content(node: &Node<'_, '_>, what: &'static str) -> Result<Vec<u8>, SamlError> {
    let mut text = String::new();
    for c in node.children() {
        match c.node_type() {
            roxmltree::NodeType::Text => text.push_str(c.text().unwrap_or("")),
            roxmltree::NodeType::Comment => {}
            _ => return Err(SamlError::MalformedSignature(what)),
        }
    }
    b64_lenient(&text).ok_or(SamlError::MalformedSignature(what))
}

/// A canonicalization algorithm (as CanonicalizationMethod or Transform).
fn c14n_mode(alg: &str, method: &Node<'_, '_>) -> Result<Option<C14nMode>, SamlError> {
    let (exclusive, with_comments) = match alg {
        ALG_EXC_C14N => (true, false),
        ALG_EXC_C14N_COMMENTS => (true, true),
        ALG_C14N10 => (false, false),
        ALG_C14N10_COMMENTS => (false, true),
        _ => return Ok(None),
    };
    let mut inclusive_prefixes = Vec::new();
    for child in method.children().filter(|c| c.is_element()) {
        if exclusive
            && child.has_tag_name((NS_EXC_C14N, "InclusiveNamespaces"))
            && inclusive_prefixes.is_empty()
            && !child.children().any(|c| c.is_element())
        {
            let list = child.attribute("PrefixList").unwrap_or("");
            for p in list.split_ascii_whitespace() {
                let p = if p == "#default" { "" } else { p };
                if !inclusive_prefixes.iter().any(|known| known == p) {
                    inclusive_prefixes.push(p.to_string());
                }
            }
            if inclusive_prefixes.len() > MAX_INCLUSIVE_PREFIXES {
                return Err(SamlError::TooManyNamespaces);
            }
        } else {
            return Err(SamlError::MalformedSignature(
                "unexpected canonicalization parameter",
            ));
        }
    }
    Ok(Some(C14nMode {
        exclusive,
        with_comments,
        inclusive_prefixes,
    }))
}

/// Verifies `sig` (a ds:Signature that is a direct child of `target`) as an
/// enveloped signature over `target`, using only `keys`.
pub(crate) fn verify_enveloped(
    sig: Node<'_, '_>,
    target: Node<'_, '_>,
    keys: &[SigningKey],
) -> Result<(), SamlError> {
    if sig.parent() != Some(target) {
        return Err(SamlError::ReferenceMismatch);
    }
    let target_id = target
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::Structure("ID attribute of the signed element"))?;

    let parts = ds_children(sig)?;
    let (Some(signed_info), Some(sig_value)) = (parts.first(), parts.get(1)) else {
        return Err(SamlError::MalformedSignature(
            "missing SignedInfo or SignatureValue",
        ));
    };
    if !is_ds(signed_info, "SignedInfo") || !is_ds(sig_value, "SignatureValue") {
        return Err(SamlError::MalformedSignature(
            "missing SignedInfo or SignatureValue",
        ));
    }
    if parts
        .iter()
        .skip(2)
        .any(|p| !is_ds(p, "KeyInfo") && !is_ds(p, "Object"))
    {
        return Err(SamlError::MalformedSignature("unexpected element"));
    }

    // --- SignedInfo: exactly CanonicalizationMethod, SignatureMethod, Reference.
    let si = ds_children(*signed_info)?;
    let [c14n_method, sig_method, reference] = si.as_slice() else {
        return Err(SamlError::MalformedSignature(
            "SignedInfo must hold exactly one Reference",
        ));
    };
    if !is_ds(c14n_method, "CanonicalizationMethod")
        || !is_ds(sig_method, "SignatureMethod")
        || !is_ds(reference, "Reference")
    {
        return Err(SamlError::MalformedSignature(
            "SignedInfo must hold exactly one Reference",
        ));
    }

    let sig_alg = match algorithm(sig_method)? {
        ALG_RSA_SHA256 => SigAlg::RsaSha256,
        ALG_RSA_SHA384 => SigAlg::RsaSha384,
        ALG_RSA_SHA512 => SigAlg::RsaSha512,
        ALG_ECDSA_SHA256 => SigAlg::EcdsaSha256,
        ALG_ECDSA_SHA384 => SigAlg::EcdsaSha384,
        a if SHA1_SIGNATURE_METHODS.contains(&a) => return Err(SamlError::Sha1NotAccepted),
        _ => return Err(SamlError::UnsupportedAlgorithm("signature")),
    };
    if sig_method.children().any(|c| c.is_element()) {
        return Err(SamlError::UnsupportedAlgorithm("signature"));
    }
    let si_mode = c14n_mode(algorithm(c14n_method)?, c14n_method)?
        .ok_or(SamlError::UnsupportedAlgorithm("canonicalization"))?;

    // --- Reference: must point at the enclosing element.
    let uri = reference.attribute("URI").unwrap_or("");
    if uri.strip_prefix('#') != Some(target_id) {
        return Err(SamlError::ReferenceMismatch);
    }
    let rparts = ds_children(*reference)?;
    let (transforms, rest) = match rparts.split_first() {
        Some((first, rest)) if is_ds(first, "Transforms") => (Some(*first), rest),
        _ => (None, rparts.as_slice()),
    };
    let [digest_method, digest_value] = rest else {
        return Err(SamlError::MalformedSignature(
            "Reference must hold DigestMethod and DigestValue",
        ));
    };
    if !is_ds(digest_method, "DigestMethod") || !is_ds(digest_value, "DigestValue") {
        return Err(SamlError::MalformedSignature(
            "Reference must hold DigestMethod and DigestValue",
        ));
    }
    // SignedInfo is canonicalized before its signature is known to be good,
    // so nothing in it may carry content the algorithms do not define.
    if digest_method.children().any(|c| c.is_element()) {
        return Err(SamlError::UnsupportedAlgorithm("digest"));
    }
    let digest_alg = match algorithm(digest_method)? {
        ALG_SHA256 => &digest::SHA256,
        ALG_SHA384 => &digest::SHA384,
        ALG_SHA512 => &digest::SHA512,
        ALG_SHA1 => return Err(SamlError::Sha1NotAccepted),
        _ => return Err(SamlError::UnsupportedAlgorithm("digest")),
    };

    // Transforms: [enveloped-signature] then at most one canonicalization, last.
    let mut exclude = None;
    let mut ref_mode: Option<C14nMode> = None;
    if let Some(transforms) = transforms {
        let list = ds_children(transforms)?;
        if list.is_empty() || list.len() > 2 {
            return Err(SamlError::MalformedSignature("unexpected Transforms"));
        }
        for t in list {
            if !is_ds(&t, "Transform") || ref_mode.is_some() {
                return Err(SamlError::MalformedSignature("unexpected Transforms"));
            }
            let alg = algorithm(&t)?;
            if alg == ALG_ENVELOPED {
                if exclude.is_some() || t.children().any(|c| c.is_element()) {
                    return Err(SamlError::MalformedSignature("unexpected Transforms"));
                }
                exclude = Some(sig.id());
            } else if let Some(mode) = c14n_mode(alg, &t)? {
                ref_mode = Some(mode);
            } else {
                return Err(SamlError::UnsupportedAlgorithm("transform"));
            }
        }
    }
    // A same-document "#id" reference yields a node-set without comments
    // (XML-DSig 4.3.3.3), so even a #WithComments transform sees none; a
    // node-set left unconverted is serialized with inclusive C14N 1.0.
    let mut ref_mode = ref_mode.unwrap_or(C14nMode {
        exclusive: false,
        with_comments: false,
        inclusive_prefixes: Vec::new(),
    });
    ref_mode.with_comments = false;

    // --- SignatureValue over canonical SignedInfo, with the metadata keys only.
    let signed_bytes = canonicalize(*signed_info, None, &si_mode)?;
    let sig_bytes = b64_content(sig_value, "SignatureValue")?;
    let verified = keys.iter().any(|key| {
        let alg: &'static dyn signature::VerificationAlgorithm = match (sig_alg, key) {
            (SigAlg::RsaSha256, SigningKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (SigAlg::RsaSha384, SigningKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (SigAlg::RsaSha512, SigningKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (SigAlg::EcdsaSha256, SigningKey::EcP256(_)) => &signature::ECDSA_P256_SHA256_FIXED,
            (SigAlg::EcdsaSha384, SigningKey::EcP384(_)) => &signature::ECDSA_P384_SHA384_FIXED,
            _ => return false,
        };
        let public = match key {
            SigningKey::Rsa(k) | SigningKey::EcP256(k) | SigningKey::EcP384(k) => k,
        };
        signature::UnparsedPublicKey::new(alg, public)
            .verify(&signed_bytes, &sig_bytes)
            .is_ok()
    });
    if !verified {
        return Err(SamlError::BadSignature);
    }

    // --- Digest of the referenced element.
    let expected = b64_content(digest_value, "DigestValue")?;
    let content = canonicalize(target, exclude, &ref_mode)?;
    let actual = digest::digest(digest_alg, &content);
    if actual.as_ref() != expected.as_slice() {
        return Err(SamlError::DigestMismatch);
    }
    Ok(())
}
