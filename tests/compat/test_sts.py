"""STS AssumeRoleWithWebIdentity through boto3: the basic (classic) flow.

Cognate's own OpenID tokens (guest, authenticated through a generic OIDC
provider registered via IAM, developer) and direct tokens of that OIDC
provider exchanged for role credentials; the trust policy, the model
constraints, bad and expired tokens, session policies. References are to
cognito-identity-wire.md §8 and §12 items 52-57.
"""

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import botocore
import jwt
import pytest

from oidc_fixture import OidcProvider, b64url

ACCOUNT = "000000000000"
COGNITO = "cognito-identity.amazonaws.com"
CLIENT = "sts-client-1"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc_arn(iam_client, oidc):
    return iam_client.create_open_id_connect_provider(Url=oidc.issuer, ClientIDList=[CLIENT])[
        "OpenIDConnectProviderArn"
    ]


def web_identity_trust(principal, condition):
    """A trust policy letting `principal`'s web identities that meet
    `condition` assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": principal},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }


def cognito_trust(pool_id, amr):
    return web_identity_trust(
        COGNITO,
        {
            "StringEquals": {f"{COGNITO}:aud": pool_id},
            "ForAnyValue:StringLike": {f"{COGNITO}:amr": amr},
        },
    )


def make_role(iam_client, prefix, trust, policy=None, **kwargs):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **kwargs)["Role"]["Arn"]
    if policy is not None:
        iam_client.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    return name, arn


class Pool:
    """A pool whose roles trust it; the basic flow calls the roles directly,
    so they are not set as the pool's defaults."""

    def __init__(self, admin, iam_client, **kwargs):
        self.id = admin.create_identity_pool(
            IdentityPoolName="sts", AllowUnauthenticatedIdentities=True, **kwargs
        )["IdentityPoolId"]
        self.unauth_name, self.unauth_arn = make_role(iam_client, "Unauth", cognito_trust(self.id, "unauthenticated"))
        self.auth_name, self.auth_arn = make_role(iam_client, "Auth", cognito_trust(self.id, "authenticated"))


@pytest.fixture(scope="module")
def pool(admin, iam_client, oidc_arn):
    return Pool(admin, iam_client, OpenIdConnectProviderARNs=[oidc_arn])


# --- helpers -------------------------------------------------------------------


def expect_error(code, fn, *args, status=400, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kwargs)
    err = e.value.response["Error"]
    assert err["Code"] == code, err
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, e.value.response
    return err.get("Message", "")


def session_client(server, service, credentials):
    return server.client(
        service,
        key=credentials["AccessKeyId"],
        secret=credentials["SecretAccessKey"],
        token=credentials["SessionToken"],
    )


def guest_token(public, pool):
    identity = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    got = public.get_open_id_token(IdentityId=identity)
    assert got["IdentityId"] == identity
    return identity, got["Token"]


def assume(public_sts, role_arn, token, session="s1", **kwargs):
    return public_sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token, **kwargs
    )


def raw_sts(server, **params):
    """An STS call as a raw form POST (no client-side validation). Returns
    (status, root element)."""
    body = urllib.parse.urlencode({"Version": "2011-06-15", **params}).encode()
    req = urllib.request.Request(
        server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


# --- guests (§12 52, 57) ------------------------------------------------------------


def test_guest_basic_flow(server, public, public_sts, pool):
    identity, token = guest_token(public, pool)
    before = time.time()
    got = assume(public_sts, pool.unauth_arn, token, session="guest1")
    assert got["Provider"] == COGNITO
    assert got["Audience"] == pool.id
    assert got["SubjectFromWebIdentityToken"] == identity
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{pool.unauth_name}/guest1"
    assert got["AssumedRoleUser"]["Arn"] == arn
    role_id = got["AssumedRoleUser"]["AssumedRoleId"]
    assert role_id.startswith("AROA") and role_id.endswith(":guest1")
    assert "PackedPolicySize" not in got  # no session policy, no tags

    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert creds["SessionToken"]
    expiration = creds["Expiration"]
    assert expiration.tzinfo is not None  # an ISO-8601 timestamp parsed into a datetime
    assert abs(expiration.timestamp() - (before + 3600)) < 60  # the default hour

    caller = session_client(server, "sts", creds).get_caller_identity()
    assert caller["Arn"] == arn
    assert caller["UserId"] == role_id
    assert caller["Account"] == ACCOUNT

    # DurationSeconds=900: a quarter of an hour (the token may be reused
    # until it expires).
    short = assume(public_sts, pool.unauth_arn, token, session="guest2", DurationSeconds=900)
    assert abs(short["Credentials"]["Expiration"].timestamp() - (time.time() + 900)) < 60
    assert short["Credentials"]["AccessKeyId"] != creds["AccessKeyId"]

    # §12 57: an access key the server never issued.
    unknown = server.client("sts", key="ASIAUNKNOWNKEY000000", secret="x" * 40, token="bm90LWEtdG9rZW4=")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.get_caller_identity()
    assert e.value.response["Error"]["Code"] in ("InvalidClientTokenId", "ExpiredToken")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# --- authenticated through OIDC (§12 52, 53) --------------------------------------


def test_authenticated_basic_flow(server, public, public_sts, oidc, pool):
    user = "user-" + uuid.uuid4().hex[:8]
    key = oidc.logins_key
    identity = public.get_id(IdentityPoolId=pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    got = public.get_open_id_token(IdentityId=identity, Logins={key: oidc.token(user, CLIENT)})
    assert got["IdentityId"] == identity
    token = got["Token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "authenticated" in claims["amr"] and key in claims["amr"]

    assumed = assume(public_sts, pool.auth_arn, token, session="s1")
    assert assumed["Provider"] == COGNITO
    assert assumed["Audience"] == pool.id
    assert assumed["SubjectFromWebIdentityToken"] == identity
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{pool.auth_name}/s1"
    caller = session_client(server, "sts", assumed["Credentials"]).get_caller_identity()
    assert caller["Arn"] == assumed["AssumedRoleUser"]["Arn"]
    assert caller["UserId"].endswith(":s1")

    # §12 53: a guest's token against the role that requires `authenticated`.
    _, guest = guest_token(public, pool)
    msg = expect_error("AccessDenied", assume, public_sts, pool.auth_arn, guest, status=403)
    assert msg == NOT_AUTHORIZED
    # And the other way round.
    msg = expect_error("AccessDenied", assume, public_sts, pool.unauth_arn, token, status=403)
    assert msg == NOT_AUTHORIZED


def test_trust_policy_names_the_pool(admin, iam_client, public, public_sts, pool):
    other = Pool(admin, iam_client)
    _, token = guest_token(public, other)
    # pool's guest role trusts pool, not other.
    expect_error("AccessDenied", assume, public_sts, pool.unauth_arn, token, status=403)
    assert assume(public_sts, other.unauth_arn, token)["Audience"] == other.id


# --- refusals (§12 54-56, §8.1) ----------------------------------------------------


def test_constraints(server, iam_client, public, public_sts, pool):
    _, token = guest_token(public, pool)

    msg = expect_error("ValidationError", assume, public_sts, pool.unauth_arn, token, session="a:b")
    assert msg == (
        "1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    ), msg

    # The role allows one hour (the default MaxSessionDuration).
    msg = expect_error("ValidationError", assume, public_sts, pool.unauth_arn, token, DurationSeconds=7200)
    assert "exceeds the MaxSessionDuration" in msg, msg
    assert msg == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    # Beyond the model's maximum (boto3 checks only minimums).
    msg = expect_error("ValidationError", assume, public_sts, pool.unauth_arn, token, DurationSeconds=43201)
    assert "at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200" in msg
    msg = expect_error("ValidationError", assume, public_sts, pool.unauth_arn, token, session="x" * 65)
    assert "at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64" in msg
    # A role that allows two hours grants them.
    _, long_arn = make_role(
        iam_client, "Long", cognito_trust(pool.id, "unauthenticated"), MaxSessionDuration=7200
    )
    got = assume(public_sts, long_arn, token, DurationSeconds=7200)
    assert abs(got["Credentials"]["Expiration"].timestamp() - (time.time() + 7200)) < 60

    # boto3 refuses DurationSeconds < 900 itself; the server must too.
    base = {
        "Action": "AssumeRoleWithWebIdentity",
        "RoleArn": pool.unauth_arn,
        "RoleSessionName": "raw",
        "WebIdentityToken": token,
    }
    status, root = raw_sts(server, DurationSeconds="899", **base)
    assert status == 400
    assert root.tag == f"{STS_NS}ErrorResponse"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Type") == "Sender"
    assert root.findtext(f"{STS_NS}Error/{STS_NS}Code") == "ValidationError"
    message = root.findtext(f"{STS_NS}Error/{STS_NS}Message")
    assert "'durationSeconds'" in message and "greater than or equal to 900" in message, message
    assert root.findtext(f"{STS_NS}RequestId")
    # The same raw call with 900 succeeds: only the duration was wrong.
    status, root = raw_sts(server, DurationSeconds="900", **base)
    assert status == 200, ET.tostring(root)
    assert root.tag == f"{STS_NS}AssumeRoleWithWebIdentityResponse"
    result = root.find(f"{STS_NS}AssumeRoleWithWebIdentityResult")
    assert result.findtext(f"{STS_NS}Credentials/{STS_NS}AccessKeyId").startswith("ASIA")
    assert result.findtext(f"{STS_NS}Provider") == COGNITO
    expiration = result.findtext(f"{STS_NS}Credentials/{STS_NS}Expiration")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", expiration), expiration
    assert root.findtext(f"{STS_NS}ResponseMetadata/{STS_NS}RequestId")


def test_bad_tokens(server, admin, public, public_sts, pool):
    msg = expect_error("InvalidIdentityToken", assume, public_sts, pool.unauth_arn, "abc.def")
    assert msg == NOT_A_JWT

    identity, token = guest_token(public, pool)
    # Claims changed after signing: another identity of the pool.
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    other = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    forged = ".".join([header, b64url(json.dumps(dict(claims, sub=other)).encode()), signature])
    expect_error("InvalidIdentityToken", assume, public_sts, pool.unauth_arn, forged)
    # A signature cut short.
    expect_error("InvalidIdentityToken", assume, public_sts, pool.unauth_arn, token[:-8])
    # The unchanged token still works.
    assert assume(public_sts, pool.unauth_arn, token)["SubjectFromWebIdentityToken"] == identity

    # An unknown role is refused like an untrusting one.
    unknown = f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole-{uuid.uuid4().hex[:6]}"
    msg = expect_error("AccessDenied", assume, public_sts, unknown, token, status=403)
    assert msg == NOT_AUTHORIZED


def test_expired_token(admin, iam_client, public_sts):
    # A developer token can be made to expire within seconds (2 s, so that it
    # cannot expire between issue and first use).
    dev = "login.sts." + uuid.uuid4().hex[:6]
    pool_id = admin.create_identity_pool(
        IdentityPoolName="sts-dev", AllowUnauthenticatedIdentities=False, DeveloperProviderName=dev
    )["IdentityPoolId"]
    _, arn = make_role(iam_client, "DevAuth", cognito_trust(pool_id, "authenticated"))
    got = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={dev: "u1"}, TokenDuration=2
    )
    assert assume(public_sts, arn, got["Token"])["SubjectFromWebIdentityToken"] == got["IdentityId"]
    time.sleep(2.1)  # real time is now at least iat + 2.1 >= exp
    msg = expect_error("ExpiredTokenException", assume, public_sts, arn, got["Token"])
    assert msg.startswith("Token expired: current date/time "), msg


# --- session policies (§8.1 step 7) ----------------------------------------------------


def test_session_policy_narrows_access(server, admin, iam_client, public, public_sts, pool):
    role_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cognito-identity:*", "Resource": "*"}],
    }
    _, arn = make_role(iam_client, "Broad", cognito_trust(pool.id, "unauthenticated"), policy=role_policy)
    _, token = guest_token(public, pool)

    # Without a session policy the role's permissions apply.
    full = session_client(server, "cognito-identity", assume(public_sts, arn, token)["Credentials"])
    assert full.describe_identity_pool(IdentityPoolId=pool.id)["IdentityPoolId"] == pool.id
    assert any(p["IdentityPoolId"] == pool.id for p in full.list_identity_pools(MaxResults=60)["IdentityPools"])

    session_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "cognito-identity:ListIdentityPools", "Resource": "*"}],
        }
    )
    got = assume(public_sts, arn, token, Policy=session_policy)
    assert isinstance(got["PackedPolicySize"], int) and 0 < got["PackedPolicySize"] <= 100
    narrow = session_client(server, "cognito-identity", got["Credentials"])
    assert any(p["IdentityPoolId"] == pool.id for p in narrow.list_identity_pools(MaxResults=60)["IdentityPools"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        narrow.describe_identity_pool(IdentityPoolId=pool.id)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    # A session policy cannot grant more than the role has.
    _, bare_arn = make_role(iam_client, "Bare", cognito_trust(pool.id, "unauthenticated"))
    bare_creds = assume(public_sts, bare_arn, token, Policy=session_policy)["Credentials"]
    bare = session_client(server, "cognito-identity", bare_creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bare.list_identity_pools(MaxResults=60)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"

    bad_effect = {"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "*", "Resource": "*"}]}
    for bad in ["{not json", json.dumps(bad_effect)]:
        expect_error("MalformedPolicyDocument", assume, public_sts, arn, token, Policy=bad)

    # A managed policy as the session policy narrows the same way.
    managed = iam_client.create_policy(
        PolicyName=f"ListOnly-{uuid.uuid4().hex[:6]}", PolicyDocument=session_policy
    )["Policy"]["Arn"]
    got = assume(public_sts, arn, token, PolicyArns=[{"arn": managed}])
    narrow = session_client(server, "cognito-identity", got["Credentials"])
    assert narrow.list_identity_pools(MaxResults=60)["IdentityPools"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        narrow.describe_identity_pool(IdentityPoolId=pool.id)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    missing = f"arn:aws:iam::{ACCOUNT}:policy/NoSuchPolicy-{uuid.uuid4().hex[:6]}"
    expect_error("InvalidParameterValue", assume, public_sts, arn, token, PolicyArns=[{"arn": missing}])


# --- a direct OIDC token (§8.1 step 3, 8) -------------------------------------------------


def oidc_trust(provider_arn, host, aud):
    return web_identity_trust(provider_arn, {"StringEquals": {f"{host}:aud": aud}})


def test_direct_oidc_token(server, iam_client, public, public_sts, oidc, oidc_arn, pool):
    host = oidc.logins_key  # 127.0.0.1:PORT
    assert oidc_arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    name, arn = make_role(iam_client, "Oidc", oidc_trust(oidc_arn, host, CLIENT))
    user = "user-" + uuid.uuid4().hex[:8]

    got = assume(public_sts, arn, oidc.token(user, CLIENT), session="web1")
    assert got["Provider"] == oidc_arn  # the server's documented choice (real transcripts)
    assert got["Audience"] == CLIENT
    assert got["SubjectFromWebIdentityToken"] == user
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/web1"
    caller = session_client(server, "sts", got["Credentials"]).get_caller_identity()
    assert caller["Arn"] == got["AssumedRoleUser"]["Arn"]

    # The trust policy's aud condition is evaluated.
    _, strict_arn = make_role(iam_client, "OidcOther", oidc_trust(oidc_arn, host, "another-client"))
    expect_error("AccessDenied", assume, public_sts, strict_arn, oidc.token(user, CLIENT), status=403)
    # A Cognito token does not satisfy an OIDC provider's trust, nor the reverse.
    _, guest = guest_token(public, pool)
    expect_error("AccessDenied", assume, public_sts, arn, guest, status=403)
    expect_error("AccessDenied", assume, public_sts, pool.auth_arn, oidc.token(user, CLIENT), status=403)

    # Tokens of the provider that must not pass.
    msg = expect_error("InvalidIdentityToken", assume, public_sts, arn, oidc.token(user, "not-a-client"))
    assert msg == "Incorrect token audience"
    expect_error("InvalidIdentityToken", assume, public_sts, arn, oidc.tampered(user, CLIENT))
    expect_error("InvalidIdentityToken", assume, public_sts, arn, oidc.alg_none(user, CLIENT))
    expect_error("InvalidIdentityToken", assume, public_sts, arn, oidc.unknown_kid(user, CLIENT))
    expired = oidc.sign(oidc.claims(user, CLIENT, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    expect_error("ExpiredTokenException", assume, public_sts, arn, expired)

    # An issuer nobody registered.
    stranger = OidcProvider()
    try:
        msg = expect_error("InvalidIdentityToken", assume, public_sts, arn, stranger.token(user, CLIENT))
        assert msg == f"No OpenIDConnect provider found in your account for {stranger.issuer}"
    finally:
        stranger.stop()


# --- the classic flow turned off (§12 49) -----------------------------------------------


def test_classic_flow_disabled(admin, iam_client, public, public_sts):
    pool = Pool(admin, iam_client, AllowClassicFlow=False)
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        public.get_open_id_token(IdentityId=guest)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == "Basic (classic) flow is not enabled, please use enhanced flow."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # With AllowClassicFlow unset the same call works.
    other = Pool(admin, iam_client)
    _, token = guest_token(public, other)
    assert assume(public_sts, other.unauth_arn, token)["Audience"] == other.id
