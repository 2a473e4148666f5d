"""A SAML 2.0 identity provider for the tests: its own RSA key and
self-signed certificate, its metadata document, and signed responses made
with signxml (lxml's canonicalization, independent of cognate's).

The responses are what an IdP configured with AWS's service provider
metadata posts: audience `urn:amazon:webservices`, recipient
`https://signin.aws.amazon.com/saml`, and the Role attribute as
`role-arn,provider-arn` pairs.
"""

import base64
import datetime
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConstructionMethod, XMLSigner

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"


def _xml_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class SamlIdp:
    def __init__(self, entity_id=None):
        self.entity_id = entity_id or f"https://idp-{uuid.uuid4().hex[:8]}.example/saml"
        self.new_key()

    def new_key(self):
        """A fresh signing key and certificate (a key rotation at the IdP)."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cognate test IdP")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )

    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def metadata(self):
        der = self.cert.public_bytes(serialization.Encoding.DER)
        cert_b64 = base64.b64encode(der).decode()
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{self.entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo>
        <ds:X509Data>
          <ds:X509Certificate>{cert_b64}</ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{self.entity_id}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""

    def response(
        self,
        name_id,
        roles=(),
        attributes=None,
        audience="urn:amazon:webservices",
        recipient="https://signin.aws.amazon.com/saml",
        lifetime=300,
        issued_ago=0,
        sign_with=None,
        tamper=None,
    ):
        """A base64 SAML response whose assertion is signed (exclusive
        c14n, RSA-SHA256). `roles` are (role_arn, provider_arn) pairs;
        `tamper` edits the serialized XML after signing."""
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=issued_ago)
        until = now + datetime.timedelta(seconds=lifetime)
        response_id = "_" + uuid.uuid4().hex
        assertion_id = "_" + uuid.uuid4().hex
        attributes = dict(attributes or {})
        if roles:
            attributes[ROLE_ATTRIBUTE] = [f"{role},{provider}" for role, provider in roles]
        attribute_xml = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
            for name, values in attributes.items()
        )
        assertion = etree.fromstring(
            f"""<saml:Assertion xmlns:saml="{SAML}" ID="{assertion_id}" Version="2.0" IssueInstant="{_xml_time(now)}">
  <saml:Issuer>{self.entity_id}</saml:Issuer>
  <ds:Signature xmlns:ds="{DS}" Id="placeholder"></ds:Signature>
  <saml:Subject>
    <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>
    <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
      <saml:SubjectConfirmationData NotOnOrAfter="{_xml_time(until)}" Recipient="{recipient}"/>
    </saml:SubjectConfirmation>
  </saml:Subject>
  <saml:Conditions NotBefore="{_xml_time(now - datetime.timedelta(seconds=5))}" NotOnOrAfter="{_xml_time(until)}">
    <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AuthnStatement AuthnInstant="{_xml_time(now)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
  <saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>
</saml:Assertion>"""
        )
        key, cert = (sign_with or self).key, (sign_with or self).cert
        signer = XMLSigner(
            method=SignatureConstructionMethod.enveloped,
            signature_algorithm="rsa-sha256",
            digest_algorithm="sha256",
            c14n_algorithm=EXC_C14N,
        )
        signed = signer.sign(
            assertion,
            key=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
            reference_uri="#" + assertion_id,
        )
        response = etree.fromstring(
            f"""<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{response_id}" Version="2.0" IssueInstant="{_xml_time(now)}" Destination="{recipient}">
  <saml:Issuer>{self.entity_id}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
</samlp:Response>"""
        )
        response.append(signed)
        xml = etree.tostring(response).decode()
        if tamper:
            xml = tamper(xml)
        return base64.b64encode(xml.encode()).decode()
