//! The error type. Every message is a fixed string (optionally naming which
//! check or which kind of algorithm failed); no variant carries data taken
//! from the input document or from key material, so `Display` output is safe
//! to return to a client.

/// Why a SAML response or an IdP metadata document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SamlError {
    // ---- transport / parsing ----
    /// The SAML response is not valid base64.
    #[error("SAML response is not valid base64")]
    InvalidBase64,
    /// The decoded document is larger than [`crate::MAX_RESPONSE_BYTES`].
    #[error("SAML response is too large")]
    TooLarge,
    /// More namespaces in scope, or a longer InclusiveNamespaces list, than
    /// any real IdP sends: refused before canonicalization can cost much.
    #[error("SAML document declares too many namespaces")]
    TooManyNamespaces,
    /// The document is not UTF-8 text.
    #[error("SAML document is not UTF-8")]
    NotUtf8,
    /// The document contains a DTD (DOCTYPE), which is never accepted.
    #[error("SAML document contains a DTD, which is not allowed")]
    DtdNotAllowed,
    /// The document is not well-formed (namespace-aware) XML.
    #[error("SAML document is not well-formed XML")]
    MalformedXml,

    // ---- response structure ----
    /// The document element is not a `samlp:Response`.
    #[error("document is not a SAML 2.0 protocol Response")]
    NotAResponse,
    /// `Status/StatusCode/@Value` is not `...:status:Success`.
    #[error("SAML response status is not Success")]
    StatusNotSuccess,
    /// The response carries an `EncryptedAssertion` (or encrypted ID/attribute).
    #[error("encrypted assertions are not supported")]
    EncryptedAssertionUnsupported,
    /// Not exactly one `saml:Assertion`, or it is not a direct child of the Response.
    #[error("SAML response must contain exactly one Assertion, as a direct child of the Response")]
    AssertionCount,
    /// Two elements carry the same ID attribute value.
    #[error("SAML document contains duplicate ID attributes")]
    DuplicateId,
    /// A required element or attribute is absent or appears too often.
    #[error("SAML document is missing or repeats a required item: {0}")]
    Structure(&'static str),
    /// `Version` is not `2.0`.
    #[error("unsupported SAML version")]
    UnsupportedVersion,

    // ---- signatures ----
    /// Neither the Assertion nor the Response carries an enveloped signature.
    #[error("SAML assertion is not signed")]
    MissingSignature,
    /// The `ds:Signature` element is not shaped as XML-DSig requires.
    #[error("malformed XML signature: {0}")]
    MalformedSignature(&'static str),
    /// The signature's Reference does not point at the element that encloses it.
    #[error("signature reference does not point at the signed element")]
    ReferenceMismatch,
    /// An algorithm URI that is not in the allowed set.
    #[error("unsupported {0} algorithm")]
    UnsupportedAlgorithm(&'static str),
    /// A SHA-1 based digest or signature method.
    #[error("SHA-1 digests and signatures are not accepted")]
    Sha1NotAccepted,
    /// The digest of the referenced element does not match the DigestValue.
    #[error("signed content digest mismatch (the document was modified)")]
    DigestMismatch,
    /// No signing key from the IdP metadata verifies the SignatureValue.
    #[error("signature verification failed")]
    BadSignature,

    // ---- assertion content ----
    /// The Assertion's (or Response's) Issuer is not the metadata entity ID.
    #[error("issuer does not match the identity provider")]
    IssuerMismatch,
    /// An element whose text matters contains comments, PIs or child elements.
    #[error("unexpected content in {0}")]
    UnexpectedContent(&'static str),
    /// No (or more than one) bearer SubjectConfirmation.
    #[error("assertion must have exactly one bearer SubjectConfirmation")]
    BearerConfirmation,
    /// SubjectConfirmationData/@Recipient is not an expected recipient.
    #[error("assertion recipient is not accepted")]
    RecipientMismatch,
    /// The assertion (or its subject confirmation) has expired.
    #[error("assertion has expired")]
    Expired,
    /// Conditions/@NotBefore is in the future.
    #[error("assertion is not yet valid")]
    NotYetValid,
    /// No AudienceRestriction, or none of its audiences is accepted.
    #[error("assertion audience is not accepted")]
    AudienceMismatch,
    /// A time value is not a UTC xs:dateTime.
    #[error("invalid date/time value in {0}")]
    InvalidTime(&'static str),

    // ---- metadata ----
    /// The document is not an `md:EntityDescriptor` (or an `md:EntitiesDescriptor` with exactly one).
    #[error("document is not SAML metadata with exactly one EntityDescriptor")]
    NotMetadata,
    /// The EntityDescriptor has no `md:IDPSSODescriptor`.
    #[error("metadata has no IDPSSODescriptor")]
    NoIdpDescriptor,
    /// A signing certificate could not be decoded.
    #[error("metadata contains an invalid X.509 certificate")]
    InvalidCertificate,
    /// No signing certificate with a supported key (RSA 2048..8192, EC P-256/P-384).
    #[error("metadata has no usable signing certificate")]
    NoSigningKey,
}
