"""SAML identity providers through boto3: IAM's SAML provider calls, SAML
logins in the enhanced flow (GetId, GetCredentialsForIdentity with the
assertion's roles and CustomRoleArn), and STS AssumeRoleWithSAML, with
responses signed by an independent XML-DSig implementation (signxml,
lxml's canonicalization)."""

import base64
import hashlib
import json
import uuid

import botocore
import pytest

from conftest import session_identity, trust_policy
from saml_fixture import SamlIdp

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def idp():
    return SamlIdp()


@pytest.fixture(scope="module")
def saml_arn(iam_client, idp):
    name = "corp-" + uuid.uuid4().hex[:8]
    return iam_client.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]


def expect_error(code, fn, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kwargs)
    err = e.value.response["Error"]
    assert err["Code"] == code, err
    status = {"EntityAlreadyExists": 409, "NoSuchEntity": 404, "AccessDenied": 403}.get(code, 400)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, e.value.response
    return err["Message"]



def make_role(iam, pool_id, prefix):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(pool_id, "authenticated"))["Role"]["Arn"]


@pytest.fixture(scope="module")
def pool(admin, iam_client, saml_arn):
    cognito, iam = admin, iam_client
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="saml", AllowUnauthenticatedIdentities=False, SamlProviderARNs=[saml_arn]
    )["IdentityPoolId"]
    roles = {
        "default": make_role(iam, pool_id, "SamlDefault"),
        "engineers": make_role(iam, pool_id, "Engineers"),
        "auditors": make_role(iam, pool_id, "Auditors"),
    }
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": roles["default"]})
    return pool_id, roles


def assumed_role_arn(server, credentials):
    return session_identity(server, credentials)["Arn"]


def saml_identity(public, pool_id, saml_arn, response):
    """The identity GetId finds or makes for a SAML login."""
    return public.get_id(IdentityPoolId=pool_id, Logins={saml_arn: response})["IdentityId"]


def role_name(arn):
    return arn.rsplit("/", 1)[1]


# --- IAM ---------------------------------------------------------------------


def test_saml_provider_lifecycle(iam):
    idp = SamlIdp()
    name = "lifecycle-" + uuid.uuid4().hex[:8]
    created = iam.create_saml_provider(
        Name=name, SAMLMetadataDocument=idp.metadata(), Tags=[{"Key": "team", "Value": "identity"}]
    )
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:saml-provider/{name}"
    assert created["Tags"] == [{"Key": "team", "Value": "identity"}]

    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == idp.metadata()
    assert got["CreateDate"].year >= 2024
    assert got["Tags"] == [{"Key": "team", "Value": "identity"}]

    listed = [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    assert arn in listed

    msg = expect_error("EntityAlreadyExists", iam.create_saml_provider, Name=name, SAMLMetadataDocument=idp.metadata())
    assert name in msg

    rotated = SamlIdp(entity_id=idp.entity_id)
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=rotated.metadata())[
        "SAMLProviderArn"
    ] == arn
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == rotated.metadata()

    iam.delete_saml_provider(SAMLProviderArn=arn)
    assert arn not in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    msg = expect_error("NoSuchEntity", iam.get_saml_provider, SAMLProviderArn=arn)
    assert arn in msg
    expect_error("NoSuchEntity", iam.delete_saml_provider, SAMLProviderArn=arn)


def test_bad_metadata_is_refused(iam):
    not_metadata = "<html><body>" + "x" * 1000 + "</body></html>"
    msg = expect_error("InvalidInput", iam.create_saml_provider, Name="bad-" + uuid.uuid4().hex[:6], SAMLMetadataDocument=not_metadata)
    assert "metadata" in msg.lower()
    no_key = SamlIdp().metadata().replace('<md:KeyDescriptor use="signing">', '<md:KeyDescriptor use="encryption">')
    expect_error("InvalidInput", iam.create_saml_provider, Name="nokey-" + uuid.uuid4().hex[:6], SAMLMetadataDocument=no_key)


def test_pool_needs_an_existing_saml_provider(cognito):
    missing = f"arn:aws:iam::{ACCOUNT}:saml-provider/missing-{uuid.uuid4().hex[:6]}"
    msg = expect_error(
        "InvalidParameterException",
        cognito.create_identity_pool,
        IdentityPoolName="saml",
        AllowUnauthenticatedIdentities=False,
        SamlProviderARNs=[missing],
    )
    assert missing in msg


# --- logins ------------------------------------------------------------------


def test_saml_login_enhanced_flow(server, public, cognito, pool, idp, saml_arn):
    pool_id, roles = pool
    user = "alice-" + uuid.uuid4().hex[:6]
    first = idp.response(user, roles=[(roles["engineers"], saml_arn)])
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins={saml_arn: first})["IdentityId"]

    # Another (fresh) assertion for the same NameID finds the same identity.
    second = idp.response(user, roles=[(roles["engineers"], saml_arn)])
    got = public.get_credentials_for_identity(IdentityId=identity_id, Logins={saml_arn: second})
    assert got["IdentityId"] == identity_id
    arn = assumed_role_arn(server, got["Credentials"])
    assert role_name(roles["engineers"]) in arn, arn

    described = cognito.describe_identity(IdentityId=identity_id)
    assert described["Logins"] == [saml_arn]

    # Another user is another identity.
    other = public.get_id(IdentityPoolId=pool_id, Logins={saml_arn: idp.response("bob-" + uuid.uuid4().hex[:6])})
    assert other["IdentityId"] != identity_id


def test_no_role_in_the_assertion_uses_the_pool_role(server, public, pool, idp, saml_arn):
    pool_id, roles = pool
    user = "carol-" + uuid.uuid4().hex[:6]
    identity_id = saml_identity(public, pool_id, saml_arn, idp.response(user))
    got = public.get_credentials_for_identity(IdentityId=identity_id, Logins={saml_arn: idp.response(user)})
    assert role_name(roles["default"]) in assumed_role_arn(server, got["Credentials"])


def test_custom_role_arn_chooses_among_the_assertion_roles(server, public, pool, idp, saml_arn):
    pool_id, roles = pool
    user = "dave-" + uuid.uuid4().hex[:6]
    granted = [(roles["engineers"], saml_arn), (roles["auditors"], saml_arn)]
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins={saml_arn: idp.response(user, roles=granted)})[
        "IdentityId"
    ]
    msg = expect_error(
        "InvalidParameterException",
        public.get_credentials_for_identity,
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user, roles=granted)},
    )
    assert "CustomRoleArn" in msg
    got = public.get_credentials_for_identity(
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user, roles=granted)},
        CustomRoleArn=roles["auditors"],
    )
    assert role_name(roles["auditors"]) in assumed_role_arn(server, got["Credentials"])
    expect_error(
        "NotAuthorizedException",
        public.get_credentials_for_identity,
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user, roles=granted)},
        CustomRoleArn=roles["default"],
    )
    # A role paired with another provider is not granted through this one.
    other_provider = f"arn:aws:iam::{ACCOUNT}:saml-provider/someone-else"
    got = public.get_credentials_for_identity(
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user, roles=[(roles["auditors"], other_provider)])},
    )
    assert role_name(roles["default"]) in assumed_role_arn(server, got["Credentials"])


def _swap_name_id(xml):
    start = xml.index('nameid-format:persistent">') + len('nameid-format:persistent">')
    end = xml.index("</saml:NameID>", start)
    return xml[:start] + "mallory" + xml[end:]


@pytest.mark.parametrize(
    "case",
    ["tampered", "other_key", "expired", "not_yet_valid", "wrong_audience", "wrong_recipient", "garbage"],
)
def test_bad_assertions_are_refused(case, public, pool, idp, saml_arn):
    pool_id, _ = pool
    user = "erin-" + uuid.uuid4().hex[:6]
    response, why = {
        "tampered": (lambda: idp.response(user, tamper=_swap_name_id), "digest mismatch"),
        "other_key": (lambda: idp.response(user, sign_with=SamlIdp()), "signature verification failed"),
        "expired": (lambda: idp.response(user, issued_ago=3600, lifetime=60), "expired"),
        "not_yet_valid": (lambda: idp.response(user, issued_ago=-3600), "not yet valid"),
        "wrong_audience": (lambda: idp.response(user, audience="urn:someone:else"), "audience"),
        "wrong_recipient": (lambda: idp.response(user, recipient="https://evil.example/acs"), "recipient"),
        "garbage": (lambda: "not base64 and not XML!", "base64"),
    }[case]
    response = response()
    msg = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id, Logins={saml_arn: response})
    assert msg.startswith("Invalid login token."), msg
    assert why in msg, msg
    assert response[:40] not in msg


def test_saml_is_enhanced_flow_only(public, pool, idp, saml_arn):
    pool_id, _ = pool
    user = "frank-" + uuid.uuid4().hex[:6]
    identity_id = saml_identity(public, pool_id, saml_arn, idp.response(user))
    msg = expect_error(
        "InvalidParameterException",
        public.get_open_id_token,
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user)},
    )
    assert "enhanced flow" in msg


def test_rotated_idp_key_follows_update_saml_provider(iam, cognito, public, idp):
    rotating = SamlIdp()
    arn = iam.create_saml_provider(Name="rotating-" + uuid.uuid4().hex[:6], SAMLMetadataDocument=rotating.metadata())[
        "SAMLProviderArn"
    ]
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="rotation", AllowUnauthenticatedIdentities=False, SamlProviderARNs=[arn]
    )["IdentityPoolId"]
    user = "gina-" + uuid.uuid4().hex[:6]
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins={arn: rotating.response(user)})["IdentityId"]

    old = SamlIdp(entity_id=rotating.entity_id)
    old.key, old.cert = rotating.key, rotating.cert
    rotating.new_key()
    # Until IAM is told, the new key is refused and the old one works.
    expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id, Logins={arn: rotating.response(user)})
    iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=rotating.metadata())
    # The next request sees the new metadata.
    assert public.get_id(IdentityPoolId=pool_id, Logins={arn: rotating.response(user)})["IdentityId"] == identity_id
    expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id, Logins={arn: old.response(user)})


def test_provider_not_on_the_pool_is_refused(iam, public, pool, idp):
    pool_id, _ = pool
    stranger = SamlIdp()
    arn = iam.create_saml_provider(Name="stranger-" + uuid.uuid4().hex[:6], SAMLMetadataDocument=stranger.metadata())[
        "SAMLProviderArn"
    ]
    expect_error(
        "NotAuthorizedException", public.get_id, IdentityPoolId=pool_id, Logins={arn: stranger.response("henry")}
    )


def test_role_mappings_apply_to_saml_logins(server, admin, iam_client, public, idp, saml_arn):
    pool_id = admin.create_identity_pool(
        IdentityPoolName="saml-mapped", AllowUnauthenticatedIdentities=False, SamlProviderARNs=[saml_arn]
    )["IdentityPoolId"]
    default = make_role(iam_client, pool_id, "MappedDefault")
    engineers = make_role(iam_client, pool_id, "MappedEngineers")
    auditors = make_role(iam_client, pool_id, "MappedAuditors")

    # Rules over the assertion's attributes.
    admin.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={"authenticated": default},
        RoleMappings={
            saml_arn: {
                "Type": "Rules",
                "AmbiguousRoleResolution": "AuthenticatedRole",
                "RulesConfiguration": {
                    "Rules": [{"Claim": "department", "MatchType": "Equals", "Value": "audit", "RoleARN": auditors}]
                },
            }
        },
    )
    user = "ivy-" + uuid.uuid4().hex[:6]

    def credentials_for(**kwargs):
        identity_id = saml_identity(public, pool_id, saml_arn, idp.response(user))
        got = public.get_credentials_for_identity(
            IdentityId=identity_id, Logins={saml_arn: idp.response(user, **kwargs)}
        )
        return role_name(assumed_role_arn(server, got["Credentials"]).split("/CognitoIdentityCredentials")[0])

    assert credentials_for(attributes={"department": ["audit"]}) == role_name(auditors)
    assert credentials_for(attributes={"department": ["sales"]}) == role_name(default)

    # Token: the assertion's own Role pairs, and Deny when it has none.
    admin.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={"authenticated": default},
        RoleMappings={saml_arn: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}},
    )
    assert credentials_for(roles=[(engineers, saml_arn)]) == role_name(engineers)
    identity_id = saml_identity(public, pool_id, saml_arn, idp.response(user))
    msg = expect_error(
        "NotAuthorizedException",
        public.get_credentials_for_identity,
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user)},
    )
    assert "denied" in msg
    # Attributes that only look like Cognito's role claims grant nothing.
    msg = expect_error(
        "NotAuthorizedException",
        public.get_credentials_for_identity,
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user, attributes={"cognito:roles": [auditors], "cognito:preferred_role": [auditors]})},
    )
    assert "denied" in msg


def test_custom_role_arn_needs_a_role_in_the_assertion(public, pool, idp, saml_arn):
    pool_id, roles = pool
    user = "jack-" + uuid.uuid4().hex[:6]
    identity_id = saml_identity(public, pool_id, saml_arn, idp.response(user))
    msg = expect_error(
        "NotAuthorizedException",
        public.get_credentials_for_identity,
        IdentityId=identity_id,
        Logins={saml_arn: idp.response(user)},
        CustomRoleArn=roles["engineers"],
    )
    assert "CustomRoleArn" in msg


# --- STS AssumeRoleWithSAML ---------------------------------------------------

SESSION_NAME = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"


def saml_trust(provider_arn, **conditions):
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml", **conditions}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_assume_role_with_saml(server, iam_client, public_sts, idp, saml_arn):
    name = "SamlDirect-" + uuid.uuid4().hex[:6]
    role = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=saml_trust(saml_arn))["Role"]["Arn"]
    strict = iam_client.create_role(
        RoleName="SamlStrict-" + uuid.uuid4().hex[:6],
        AssumeRolePolicyDocument=saml_trust(saml_arn, **{"SAML:sub": "someone-else"}),
    )["Role"]["Arn"]
    user = "kim-" + uuid.uuid4().hex[:6]

    def assertion(roles=((role, saml_arn),), session_name="kim.session", **kwargs):
        attributes = {SESSION_NAME: [session_name]} if session_name else {}
        return idp.response(user, roles=list(roles), attributes=attributes, **kwargs)

    got = public_sts.assume_role_with_saml(RoleArn=role, PrincipalArn=saml_arn, SAMLAssertion=assertion())
    assert got["Subject"] == user
    assert got["SubjectType"] == "persistent"
    assert got["Issuer"] == idp.entity_id
    assert got["Audience"] == "https://signin.aws.amazon.com/saml"
    provider_name = saml_arn.rsplit("/", 1)[1]
    expected_qualifier = base64.b64encode(
        hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/{provider_name}".encode()).digest()
    ).decode()
    assert got["NameQualifier"] == expected_qualifier
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/kim.session"
    assert got["AssumedRoleUser"]["Arn"] == assumed
    assert assumed_role_arn(server, {
        "AccessKeyId": got["Credentials"]["AccessKeyId"],
        "SecretKey": got["Credentials"]["SecretAccessKey"],
        "SessionToken": got["Credentials"]["SessionToken"],
    }) == assumed

    def refused(code, **kwargs):
        request = {"RoleArn": role, "PrincipalArn": saml_arn, "SAMLAssertion": assertion()}
        request.update(kwargs)
        return expect_error(code, public_sts.assume_role_with_saml, **request)

    # A role the assertion does not grant, or grants through another provider.
    other_provider = f"arn:aws:iam::{ACCOUNT}:saml-provider/someone-else"
    refused("AccessDenied", SAMLAssertion=assertion(roles=[(role, other_provider)]))
    refused("AccessDenied", RoleArn=strict, SAMLAssertion=assertion(roles=[(role, saml_arn)]))
    # A role it grants whose trust policy's condition does not hold.
    refused("AccessDenied", RoleArn=strict, SAMLAssertion=assertion(roles=[(strict, saml_arn)]))
    assert "RoleSessionName" in refused("InvalidIdentityToken", SAMLAssertion=assertion(session_name=None))
    refused("InvalidIdentityToken", SAMLAssertion=assertion(tamper=_swap_name_id))
    refused("InvalidIdentityToken", SAMLAssertion=assertion(sign_with=SamlIdp()))
    refused("ExpiredTokenException", SAMLAssertion=assertion(issued_ago=3600, lifetime=60))
    assert "No SAML provider" in refused("InvalidIdentityToken", PrincipalArn=other_provider)
    refused("ValidationError", DurationSeconds=7200)
