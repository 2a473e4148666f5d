//! IdP metadata parsing: entity ID, signing keys, validUntil.

use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, UintRef};
use x509_cert::der::{Decode, Reader, SliceReader};

use crate::error::SamlError;
use crate::{NS_DSIG, NS_MD, b64_lenient, parse_xml, time};

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// A public key usable to verify IdP signatures.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum SigningKey {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// Uncompressed SEC1 point on P-256.
    EcP256(Vec<u8>),
    /// Uncompressed SEC1 point on P-384.
    EcP384(Vec<u8>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key bytes.
        f.write_str(match self {
            SigningKey::Rsa(_) => "SigningKey::Rsa",
            SigningKey::EcP256(_) => "SigningKey::EcP256",
            SigningKey::EcP384(_) => "SigningKey::EcP384",
        })
    }
}

/// A SAML identity provider's metadata, as stored by IAM `CreateSAMLProvider`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's `entityID`; assertions must be issued by exactly this value.
    pub entity_id: String,
    pub(crate) keys: Vec<SigningKey>,
    valid_until: Option<i64>,
}

impl IdpMetadata {
    /// Parses an IdP's SAML metadata: an `md:EntityDescriptor` (or an
    /// `md:EntitiesDescriptor` holding exactly one) with an `md:IDPSSODescriptor`
    /// whose `md:KeyDescriptor`s (`use="signing"` or no `use`) carry
    /// `ds:X509Certificate` values.
    ///
    /// Certificates with unsupported keys (anything but RSA 2048..8192 bits or
    /// EC P-256/P-384) are skipped; an error is returned if none is left.
    /// Certificate validity periods are not checked (as AWS does not), and a
    /// metadata signature, if present, is not verified.
    pub fn parse(xml: &str) -> Result<IdpMetadata, SamlError> {
        let doc = parse_xml(xml)?;
        let root = doc.root_element();
        let mut valid_until: Option<i64> = None;
        let mut note_valid_until = |node: roxmltree::Node<'_, '_>| -> Result<(), SamlError> {
            if let Some(v) = node.attribute("validUntil") {
                let t = time::parse_datetime(v, false)
                    .ok_or(SamlError::InvalidTime("metadata validUntil"))?;
                valid_until = Some(valid_until.map_or(t, |cur| cur.min(t)));
            }
            Ok(())
        };

        let entity = if root.has_tag_name((NS_MD, "EntityDescriptor")) {
            root
        } else if root.has_tag_name((NS_MD, "EntitiesDescriptor")) {
            let mut found = root
                .descendants()
                .filter(|n| n.has_tag_name((NS_MD, "EntityDescriptor")));
            let (Some(one), None) = (found.next(), found.next()) else {
                return Err(SamlError::NotMetadata);
            };
            for anc in one.ancestors().filter(|n| n.is_element()) {
                note_valid_until(anc)?;
            }
            one
        } else {
            return Err(SamlError::NotMetadata);
        };
        note_valid_until(entity)?;
        let entity_id = entity
            .attribute("entityID")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(SamlError::NotMetadata)?
            .to_string();

        let idps: Vec<_> = entity
            .children()
            .filter(|n| n.has_tag_name((NS_MD, "IDPSSODescriptor")))
            .collect();
        if idps.is_empty() {
            return Err(SamlError::NoIdpDescriptor);
        }
        let mut keys = Vec::new();
        for idp in idps {
            note_valid_until(idp)?;
            for kd in idp
                .children()
                .filter(|n| n.has_tag_name((NS_MD, "KeyDescriptor")))
            {
                match kd.attribute("use") {
                    None | Some("signing") => {}
                    Some(_) => continue,
                }
                for cert in kd.descendants().filter(|n| {
                    n.has_tag_name((NS_DSIG, "X509Certificate"))
                        && n.parent_element()
                            .is_some_and(|p| p.has_tag_name((NS_DSIG, "X509Data")))
                }) {
                    let text: String = cert
                        .children()
                        .filter(|c| c.is_text())
                        .filter_map(|c| c.text())
                        .collect();
                    let der = b64_lenient(&text).ok_or(SamlError::InvalidCertificate)?;
                    if let Some(key) = key_from_certificate(&der)?
                        && !keys.contains(&key)
                    {
                        keys.push(key);
                    }
                }
            }
        }
        if keys.is_empty() {
            return Err(SamlError::NoSigningKey);
        }
        Ok(IdpMetadata {
            entity_id,
            keys,
            valid_until,
        })
    }

    /// The earliest `validUntil` found on the EntitiesDescriptor /
    /// EntityDescriptor / IDPSSODescriptor (unix seconds), if any: each
    /// bounds everything inside it.
    pub fn valid_until(&self) -> Option<i64> {
        self.valid_until
    }

    /// How many usable signing keys the metadata holds.
    pub fn signing_key_count(&self) -> usize {
        self.keys.len()
    }
}

/// Extracts a supported public key; `Ok(None)` for a valid certificate with
/// an unsupported key type or size.
fn key_from_certificate(der: &[u8]) -> Result<Option<SigningKey>, SamlError> {
    let cert = Certificate::from_der(der).map_err(|_| SamlError::InvalidCertificate)?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let Some(bits) = spki.subject_public_key.as_bytes() else {
        return Err(SamlError::InvalidCertificate);
    };
    if spki.algorithm.oid == OID_RSA {
        let Some(modulus_bits) = rsa_modulus_bits(bits) else {
            return Err(SamlError::InvalidCertificate);
        };
        if (2048..=8192).contains(&modulus_bits) {
            return Ok(Some(SigningKey::Rsa(bits.to_vec())));
        }
        return Ok(None);
    }
    if spki.algorithm.oid == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return Ok(match curve {
            Some(c) if c == OID_P256 && bits.len() == 65 && bits[0] == 4 => {
                Some(SigningKey::EcP256(bits.to_vec()))
            }
            Some(c) if c == OID_P384 && bits.len() == 97 && bits[0] == 4 => {
                Some(SigningKey::EcP384(bits.to_vec()))
            }
            _ => None,
        });
    }
    Ok(None)
}

/// Bit length of the modulus of a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(der).ok()?;
    let n_bytes = reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let _e = UintRef::decode(r)?;
            Ok(n.as_bytes().to_vec())
        })
        .ok()?;
    if !reader.is_finished() {
        return None;
    }
    let first = *n_bytes.first()?;
    Some(n_bytes.len() * 8 - first.leading_zeros() as usize)
}
