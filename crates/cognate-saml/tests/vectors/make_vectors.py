#!/usr/bin/env python3
"""Generates the cognate-saml test fixtures with an independent implementation.

Requires: pip install signxml   (pulls in lxml and cryptography)

Writes, next to this script:
  idp_key.pem, idp_cert.pem          RSA-2048 IdP signing key + self-signed cert
  other_key.pem, other_cert.pem      a second RSA-2048 key (wrong-key case)
  ec_key.pem, ec_cert.pem            an EC P-256 key (ECDSA case)
  metadata.xml                       IdP metadata (signing = idp cert,
                                     encryption = other cert, must be ignored)
  metadata_ec.xml                    IdP metadata holding the EC cert
  responses/<case>.xml               signed SAML responses (raw XML; the Rust
                                     tests base64-encode them, after tampering)
  c14n/<name>.input.xml              canonicalization inputs
  c14n/<name>.<element>.<mode>.out   lxml's canonical output for that element
  c14n/manifest.txt                  one line per output:
                                     name element exclusive with_comments prefixes file

Every run makes new keys, so regenerate everything together.
All timestamps are fixed: issued 2030-01-01T00:00:00Z, valid until 01:00:00Z.
"""

import base64
import datetime
import os
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

HERE = os.path.dirname(os.path.abspath(__file__))
ENTITY_ID = "https://idp.example.com/metadata"
RECIPIENT = "https://signin.aws.amazon.com/saml"
AUDIENCE = "urn:amazon:webservices"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
PLACEHOLDER = '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"></ds:Signature>'


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


def make_cert(key, cn):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=datetime.timezone.utc))
        .sign(key, hashes.SHA256())
    )


def pem_pair(key, cert, stem):
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    write(stem + "_key.pem", key_pem)
    write(stem + "_cert.pem", cert_pem)
    return key_pem, cert_pem


def cert_b64(cert_pem):
    lines = cert_pem.decode().strip().splitlines()
    return "\n".join(lines[1:-1])


def metadata(signing_pem, encryption_pem=None):
    enc = ""
    if encryption_pem is not None:
        enc = f"""
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64(encryption_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{ENTITY_ID}" validUntil="2031-01-01T00:00:00Z">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>
{cert_b64(signing_pem)}
      </ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>{enc}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


ROLE_VALUES = """
        <saml:AttributeValue>arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/ExampleIdP</saml:AttributeValue>
        <saml:AttributeValue> arn:aws:iam::123456789012:saml-provider/ExampleIdP , arn:aws:iam::123456789012:role/ReadOnly </saml:AttributeValue>
        <saml:AttributeValue>not-a-role-pair</saml:AttributeValue>"""


def plain_response(assertion_sig="", response_sig=""):
    return f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="2030-01-01T00:00:00Z" Destination="{RECIPIENT}">
  <saml:Issuer>{ENTITY_ID}</saml:Issuer>{response_sig}
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_assert1" Version="2.0" IssueInstant="2030-01-01T00:00:00Z">
    <saml:Issuer>{ENTITY_ID}</saml:Issuer>{assertion_sig}
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice@example.com</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="2030-01-01T01:00:00Z" Recipient="{RECIPIENT}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2030-01-01T00:00:00Z" NotOnOrAfter="2030-01-01T01:00:00.500Z">
      <saml:AudienceRestriction>
        <saml:Audience>{AUDIENCE}</saml:Audience>
      </saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2030-01-01T00:00:00Z" SessionIndex="_session1">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">{ROLE_VALUES}
      </saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">
        <saml:AttributeValue>alice</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="groups">
        <saml:AttributeValue>dev</saml:AttributeValue>
        <saml:AttributeValue>ops &amp; on-call</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"""


# Namespace-heavy: prefixes declared on the Response and used in the
# Assertion, the assertion namespace as the *default* namespace, a default
# namespace redeclaration and undeclaration, namespaced attributes, xml:lang,
# a QName in an attribute value (xs:string, only kept by the PrefixList),
# character references for TAB / CR / LF in attribute values and CR in text.
def ns_heavy_response():
    return f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ext="urn:example:ext" xmlns:unused="urn:example:unused" ID="_resp_ns" Version="2.0" IssueInstant="2030-01-01T00:00:00Z">
  <Issuer>{ENTITY_ID}</Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <Assertion xmlns:also="urn:example:also" ID="_assert_ns" Version="2.0" IssueInstant="2030-01-01T00:00:00Z" ext:trace="a&#9;b&#10;c&#13;d &quot;q&quot; &lt;x&gt;">
    <Issuer>{ENTITY_ID}</Issuer>
    {PLACEHOLDER}
    <Subject>
      <NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:emailAddress" ext:verified="true">bob@example.com</NameID>
      <SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <SubjectConfirmationData NotOnOrAfter="2030-01-01T01:00:00+00:00" Recipient="{RECIPIENT}"/>
      </SubjectConfirmation>
    </Subject>
    <Conditions NotBefore="2030-01-01T00:00:00Z" NotOnOrAfter="2030-01-01T01:00:00Z">
      <AudienceRestriction><Audience>{AUDIENCE}</Audience></AudienceRestriction>
    </Conditions>
    <AuthnStatement AuthnInstant="2030-01-01T00:00:00Z">
      <AuthnContext>
        <AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</AuthnContextClassRef>
        <AuthnContextDecl xmlns="urn:example:decl" xmlns:ext="urn:example:ext2" ext:z="2" b="1" a="0"><Inner xmlns=""><Deep xmlns="urn:example:decl">x&#13;y &amp; &lt;z&gt;</Deep><?keep-me data ?></Inner><also:Used/></AuthnContextDecl>
      </AuthnContext>
    </AuthnStatement>
    <AttributeStatement>
      <Attribute Name="https://aws.amazon.com/SAML/Attributes/Role" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
        <AttributeValue xsi:type="xs:string">arn:aws:iam::123456789012:role/Dev,arn:aws:iam::123456789012:saml-provider/ExampleIdP</AttributeValue>
      </Attribute>
      <Attribute Name="displayName">
        <AttributeValue xml:lang="en" xsi:type="xs:string">Bob  Builder</AttributeValue>
      </Attribute>
    </AttributeStatement>
  </Assertion>
</samlp:Response>
"""


class LegacySigner(XMLSigner):
    """signxml refuses SHA-1 by default; the SHA-1 refusal fixtures need it."""

    def check_deprecated_methods(self):
        pass


def sign(xml, key_pem, cert_pem, ref, c14n=EXC_C14N, sig="rsa-sha256", digest="sha256", prefixes=None):
    root = etree.fromstring(xml.encode())
    signer = LegacySigner(signature_algorithm=sig, digest_algorithm=digest, c14n_algorithm=c14n)
    signed = signer.sign(
        root, key=key_pem, cert=cert_pem, reference_uri=ref, inclusive_ns_prefixes=prefixes
    )
    return etree.tostring(signed, encoding="unicode")


def add_transform_prefixes(xml, key, prefixes):
    """signxml applies inclusive_ns_prefixes to the Reference digest but only
    writes the InclusiveNamespaces element under CanonicalizationMethod. Per
    XML-DSig the Reference's own exc-c14n Transform must carry it, so add it
    there and re-sign SignedInfo (lxml exc-c14n + cryptography RSA-SHA256)."""
    ds = "http://www.w3.org/2000/09/xmldsig#"
    root = etree.fromstring(xml.encode())
    signed_info = root.find(f".//{{{ds}}}SignedInfo")
    for t in signed_info.iter(f"{{{ds}}}Transform"):
        if t.get("Algorithm") == EXC_C14N:
            inc = etree.SubElement(t, f"{{{EXC_C14N}}}InclusiveNamespaces", nsmap={"ec": EXC_C14N})
            inc.set("PrefixList", " ".join(prefixes))
    c14n = etree.tostring(signed_info, method="c14n", exclusive=True, inclusive_ns_prefixes=prefixes)
    sig = key.sign(c14n, padding.PKCS1v15(), hashes.SHA256())
    sv = root.find(f".//{{{ds}}}SignatureValue")
    sv.text = base64.b64encode(sig).decode()
    return etree.tostring(root, encoding="unicode")


def placeholder_response(where):
    if where == "assertion":
        return plain_response(assertion_sig="\n    " + PLACEHOLDER)
    return plain_response(response_sig="\n  " + PLACEHOLDER)


def main():
    idp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    idp_key_pem, idp_cert_pem = pem_pair(idp_key, make_cert(idp_key, "idp.example.com"), "idp")
    other_key_pem, other_cert_pem = pem_pair(other_key, make_cert(other_key, "other.example.com"), "other")
    ec_key_pem, ec_cert_pem = pem_pair(ec_key, make_cert(ec_key, "ec.example.com"), "ec")

    write("metadata.xml", metadata(idp_cert_pem, other_cert_pem))
    write("metadata_ec.xml", metadata(ec_cert_pem))

    cases = {}
    cases["assertion_signed"] = sign(placeholder_response("assertion"), idp_key_pem, idp_cert_pem, "#_assert1")
    cases["response_signed"] = sign(placeholder_response("response"), idp_key_pem, idp_cert_pem, "#_resp1")
    # Both: sign the assertion, then add a Response placeholder and sign the Response.
    inner = sign(placeholder_response("assertion"), idp_key_pem, idp_cert_pem, "#_assert1")
    inner = inner.replace(
        f"<saml:Issuer>{ENTITY_ID}</saml:Issuer>\n  <samlp:Status>",
        f"<saml:Issuer>{ENTITY_ID}</saml:Issuer>\n  {PLACEHOLDER}\n  <samlp:Status>",
        1,
    )
    cases["both_signed"] = sign(inner, idp_key_pem, idp_cert_pem, "#_resp1", sig="rsa-sha512", digest="sha512")
    cases["assertion_signed_sha384"] = sign(
        placeholder_response("assertion"), idp_key_pem, idp_cert_pem, "#_assert1", sig="rsa-sha384", digest="sha384"
    )
    cases["assertion_signed_c14n10"] = sign(
        placeholder_response("assertion"), idp_key_pem, idp_cert_pem, "#_assert1", c14n=C14N10
    )
    cases["ns_heavy"] = add_transform_prefixes(
        sign(ns_heavy_response(), idp_key_pem, idp_cert_pem, "#_assert_ns", prefixes=["xs"]), idp_key, ["xs"]
    )
    cases["ns_heavy_c14n10"] = sign(ns_heavy_response(), idp_key_pem, idp_cert_pem, "#_assert_ns", c14n=C14N10)
    cases["wrong_key"] = sign(placeholder_response("assertion"), other_key_pem, other_cert_pem, "#_assert1")
    cases["ec_assertion_signed"] = sign(
        placeholder_response("assertion"), ec_key_pem, ec_cert_pem, "#_assert1", sig="ecdsa-sha256"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases["sha1"] = sign(
            placeholder_response("assertion"), idp_key_pem, idp_cert_pem, "#_assert1", sig="rsa-sha1", digest="sha1"
        )
        cases["sha1_digest_only"] = sign(
            placeholder_response("assertion"), idp_key_pem, idp_cert_pem, "#_assert1", digest="sha1"
        )
    cases["unsigned"] = plain_response()
    for name, xml in cases.items():
        write(f"responses/{name}.xml", xml)

    # ---- canonicalization vectors (lxml / libxml2) ----
    # Notes on lxml quirks avoided here: lxml silently drops "#default" from
    # inclusive_ns_prefixes (it is not in the document's name dictionary), and
    # libxml2's inclusive C14N emits a spurious xmlns="" under a namespace
    # under the document element when the document has a comment before it.
    c14n_inputs = {
        "ns_heavy": (ns_heavy_response().replace(PLACEHOLDER, "<!-- a comment -->"),
                     ["Response", "Assertion", "Subject", "AuthnContextDecl", "Inner", "AttributeStatement"]),
        "signed_ns_heavy": (cases["ns_heavy"], ["Assertion", "SignedInfo"]),
        "signed_both": (cases["both_signed"], ["Response", "Assertion", "SignedInfo"]),
        "misc": ("""<?xml version="1.0"?>
<r xmlns="urn:r" xmlns:a="urn:a" xmlns:b="urn:b" xml:lang="fr" xml:space="preserve">
  <a:x b:attr="1" attr="2" a:attr="3" xmlns:c="urn:c">text &amp; more &gt; &#13;
    <empty/><c:y xmlns:a="urn:a2" a:z="&#9;"><!--inner--><a:w xmlns:a="urn:a"/></c:y>
    <d xmlns=""><e xmlns="urn:r"/><?pi   some   data?></d>
    <![CDATA[cdata <&> text]]>
  </a:x>
  <n><b:m/></n>
</r>
""", ["r", "x", "y", "d", "n"]),
    }
    manifest = []
    for name, (xml, elements) in c14n_inputs.items():
        write(f"c14n/{name}.input.xml", xml)
        doc = etree.fromstring(xml.encode())
        for el_name in elements:
            el = next(e for e in doc.iter() if isinstance(e.tag, str) and etree.QName(e).localname == el_name)
            variants = [
                ("exc", True, False, None),
                ("exc-comments", True, True, None),
                ("inc", False, False, None),
                ("inc-comments", False, True, None),
                ("exc-prefixes", True, False, ["xs", "b"]),
            ]
            if el is not doc:
                # lxml canonicalizes a non-root element as the root of a
                # copied document, not as a document subset: for inclusive
                # C14N it then drops inherited xml:* attributes and may emit
                # spurious xmlns="" (the Rust unit tests cover those cases
                # against the W3C spec instead).
                variants = [v for v in variants if v[1]]
            for mode, exclusive, comments, prefixes in variants:
                kwargs = {"method": "c14n", "exclusive": exclusive, "with_comments": comments}
                if prefixes:
                    kwargs["inclusive_ns_prefixes"] = prefixes
                out = etree.tostring(el, **kwargs)
                fname = f"{name}.{el_name}.{mode}.out"
                write(f"c14n/{fname}", out)
                manifest.append(
                    f"{name} {el_name} {int(exclusive)} {int(comments)} {','.join(prefixes or []) or '-'} {fname}"
                )
    write("c14n/manifest.txt", "\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
