"""The identity flows through boto3, against real token issuers.

Guests and the enhanced flow, authenticated logins through a generic OIDC
provider (trusted via IAM) and a Cognito user pool (located through the
server's TOML config), refused tokens, linking, merging, unlinking, the
classic flow's OpenID token verified against the published JWKS, and
role-mapping rules. References are to cognito-identity-wire.md §12.
"""

import json
import time
import urllib.request
import uuid

import botocore
import jwt
import pytest

from conftest import Server, session_identity, trust_policy, verified_open_id_claims
from oidc_fixture import OidcProvider, b64url

CLIENT = "flow-client-1"
USER_POOL_ID = "us-east-1_FlowTest1"
UP_KEY = f"cognito-idp.us-east-1.amazonaws.com/{USER_POOL_ID}"
UP_CLIENT = "upclient1"
UP_CLIENT_2 = "upclient2"

UNAUTH_NOT_SUPPORTED = "Unauthenticated access is not supported for this identity pool."
INVALID_POOL_CONFIG = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
LOGINS_DONT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity or identity pool."
)
NOT_SUPPORTED_PROVIDER = "Token is not from a supported provider of this identity pool."
BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."
ISSUER_MISMATCH = "Invalid login token. Issuer doesn't match providerName"


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def userpool():
    p = OidcProvider(user_pool_id=USER_POOL_ID)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def server(userpool):
    """This module's server knows where the fixture user pool really is."""
    s = Server(config_text=f'[providers."{UP_KEY}"]\nissuer = "{userpool.issuer}"\n')
    yield s
    s.stop()


@pytest.fixture(scope="module")
def oidc_arn(iam_client, oidc):
    return iam_client.create_open_id_connect_provider(Url=oidc.issuer, ClientIDList=[CLIENT])[
        "OpenIDConnectProviderArn"
    ]



def make_role(iam_client, prefix, pool_id, amr):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(pool_id, amr))[
        "Role"
    ]["Arn"]
    return name, arn


class Pool:
    """An identity pool plus its default roles."""

    def __init__(self, admin, iam_client, guests=True, roles=("unauthenticated", "authenticated"), **kwargs):
        self.id = admin.create_identity_pool(
            IdentityPoolName="flows", AllowUnauthenticatedIdentities=guests, **kwargs
        )["IdentityPoolId"]
        self.roles = {}  # kind -> (name, arn)
        for kind in roles:
            self.roles[kind] = make_role(iam_client, kind[:6].capitalize(), self.id, kind)
        if self.roles:
            admin.set_identity_pool_roles(
                IdentityPoolId=self.id, Roles={k: arn for k, (_, arn) in self.roles.items()}
            )

    def role_name(self, kind):
        return self.roles[kind][0]


@pytest.fixture(scope="module")
def oidc_pool(admin, iam_client, oidc_arn):
    return Pool(admin, iam_client, OpenIdConnectProviderARNs=[oidc_arn])


# --- helpers -------------------------------------------------------------------


def expect_error(code, fn, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kwargs)
    err = e.value.response["Error"]
    assert err["Code"] == code, err
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Message"]


def caller_arn(server, credentials):
    return session_identity(server, credentials)


def assumed_role(server, credentials):
    """The role name of vended credentials, as STS sees them."""
    arn = caller_arn(server, credentials)["Arn"]
    prefix = "arn:aws:sts::000000000000:assumed-role/"
    assert arn.startswith(prefix) and arn.endswith("/CognitoIdentityCredentials"), arn
    return arn[len(prefix) : -len("/CognitoIdentityCredentials")]


def identities(admin, pool_id, hide_disabled=False):
    got = admin.list_identities(IdentityPoolId=pool_id, MaxResults=60, HideDisabled=hide_disabled)
    assert got["IdentityPoolId"] == pool_id
    return {i["IdentityId"]: i for i in got["Identities"]}


def sub():
    return "user-" + uuid.uuid4().hex[:10]


# --- guests (§12 27-32) -----------------------------------------------------------


def test_guest_enhanced_flow(server, admin, iam_client, public):
    pool = Pool(admin, iam_client)
    first = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    second = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    assert first != second
    assert first.startswith("us-east-1:") and second.startswith("us-east-1:")
    assert set(identities(admin, pool.id)) == {first, second}

    before = time.time()
    got = public.get_credentials_for_identity(IdentityId=first)
    assert got["IdentityId"] == first
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretKey"]) >= 40
    assert "SecretAccessKey" not in creds
    assert creds["SessionToken"]
    expiration = creds["Expiration"]
    assert expiration.tzinfo is not None  # parsed from an epoch number into a datetime
    assert abs(expiration.timestamp() - (before + 3600)) < 60

    identity = caller_arn(server, creds)
    role = pool.role_name("unauthenticated")
    assert identity["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{role}/CognitoIdentityCredentials"
    assert identity["UserId"].startswith("AROA")
    assert identity["UserId"].endswith(":CognitoIdentityCredentials")
    assert identity["Account"] == "000000000000"

    # A guest identity lists no logins.
    assert admin.describe_identity(IdentityId=first).get("Logins", []) == []


def test_guest_refusals(admin, iam_client, public):
    closed = Pool(admin, iam_client, guests=False)
    msg = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=closed.id)
    assert msg == UNAUTH_NOT_SUPPORTED
    assert identities(admin, closed.id) == {}

    no_roles = Pool(admin, iam_client, roles=())
    guest = public.get_id(IdentityPoolId=no_roles.id)["IdentityId"]
    msg = expect_error(
        "InvalidIdentityPoolConfigurationException", public.get_credentials_for_identity, IdentityId=guest
    )
    assert msg == INVALID_POOL_CONFIG

    # §12 31: the unauthenticated role trusts a different pool.
    other = Pool(admin, iam_client, roles=())
    _, foreign_arn = make_role(iam_client, "Foreign", no_roles.id, "unauthenticated")
    admin.set_identity_pool_roles(IdentityPoolId=other.id, Roles={"unauthenticated": foreign_arn})
    guest = public.get_id(IdentityPoolId=other.id)["IdentityId"]
    expect_error(
        "InvalidIdentityPoolConfigurationException", public.get_credentials_for_identity, IdentityId=guest
    )

    # §12 32
    expect_error(
        "ResourceNotFoundException",
        public.get_credentials_for_identity,
        IdentityId="us-east-1:00000000-0000-0000-0000-000000000000",
    )


# --- authenticated through a generic OIDC provider (§12 33, 39) ---------------------


def test_authenticated_oidc_flow(server, admin, public, oidc, oidc_pool):
    user = sub()
    key = oidc.logins_key
    assert key == f"127.0.0.1:{oidc.port}"
    identity = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    # A fresh token of the same subject finds the same identity.
    again = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    assert again == identity

    got = public.get_credentials_for_identity(IdentityId=identity, Logins={key: oidc.token(user, CLIENT)})
    assert got["IdentityId"] == identity
    assert assumed_role(server, got["Credentials"]) == oidc_pool.role_name("authenticated")

    msg = expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=identity)
    assert msg == LOGINS_DONT_MATCH
    msg = expect_error("NotAuthorizedException", public.get_open_id_token, IdentityId=identity)
    assert msg == LOGINS_DONT_MATCH

    # Provider names only, never subjects.
    described = admin.describe_identity(IdentityId=identity)
    assert described["IdentityId"] == identity
    assert described["Logins"] == [key]
    assert "CreationDate" in described and "LastModifiedDate" in described
    assert identities(admin, oidc_pool.id)[identity]["Logins"] == [key]


def test_cognito_token_refused_in_get_id(admin, iam_client, public):
    pool = Pool(admin, iam_client)
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    token = public.get_open_id_token(IdentityId=guest)["Token"]
    msg = expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=pool.id,
        Logins={"cognito-identity.amazonaws.com": token},
    )
    assert msg == "Invalid login token. Can't pass in a Cognito token."
    # GetCredentialsForIdentity accepts the token back, for its own identity only.
    got = public.get_credentials_for_identity(IdentityId=guest, Logins={"cognito-identity.amazonaws.com": token})
    assert got["IdentityId"] == guest
    other = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    msg = expect_error(
        "NotAuthorizedException",
        public.get_credentials_for_identity,
        IdentityId=other,
        Logins={"cognito-identity.amazonaws.com": token},
    )
    assert msg == LOGINS_DONT_MATCH


BAD_TOKENS = {
    "expired": (
        lambda p, s: p.sign(p.claims(s, CLIENT, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "Invalid login token. Token expired: ",
    ),
    "wrong_audience": (lambda p, s: p.token(s, "some-other-client"), NOT_SUPPORTED_PROVIDER),
    "wrong_issuer": (lambda p, s: p.token(s, CLIENT, iss="http://127.0.0.1:1"), ISSUER_MISMATCH),
    "tampered_signature": (lambda p, s: p.tampered(s, CLIENT), BAD_SIGNATURE),
    "alg_none": (lambda p, s: p.alg_none(s, CLIENT), BAD_SIGNATURE),
    "hs256_with_public_key": (lambda p, s: p.hs256_with_public_key(s, CLIENT), BAD_SIGNATURE),
    "unknown_kid": (lambda p, s: p.unknown_kid(s, CLIENT), BAD_SIGNATURE),
    "garbage": (lambda p, s: "not-a-jwt", "Invalid login token. Not a valid OpenId Connect identity token."),
    "missing_sub": (lambda p, s: p.token(None, CLIENT), "Invalid login token. Missing a required claim: sub"),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_bad_tokens_are_refused(kind, admin, public, oidc, oidc_pool):
    make, expected = BAD_TOKENS[kind]
    key = oidc.logins_key
    user = sub()
    token = make(oidc, user)
    before = identities(admin, oidc_pool.id)

    msg = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=oidc_pool.id, Logins={key: token})
    if expected.endswith(": "):
        assert msg.startswith(expected), msg
    else:
        assert msg == expected

    # Nor can the token upgrade a guest.
    guest = public.get_id(IdentityPoolId=oidc_pool.id)["IdentityId"]
    msg = expect_error(
        "NotAuthorizedException", public.get_credentials_for_identity, IdentityId=guest, Logins={key: token}
    )
    assert msg.startswith(expected) if expected.endswith(": ") else msg == expected

    after = identities(admin, oidc_pool.id)
    assert set(after) == set(before) | {guest}
    assert after[guest].get("Logins", []) == []
    # The same subject with a good token is a brand-new identity: nothing was recorded.
    if kind != "missing_sub":
        fresh = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
        assert fresh not in after


def test_expired_within_clock_skew_is_accepted(public, oidc, oidc_pool):
    now = int(time.time())
    token = oidc.sign(oidc.claims(sub(), CLIENT, iat=now - 3600, exp=now - 60))
    assert public.get_id(IdentityPoolId=oidc_pool.id, Logins={oidc.logins_key: token})["IdentityId"]


# --- linking, conflicts, merging, unlinking (§12 42-47) ------------------------------


def test_link_conflict_merge_unlink(server, admin, public, oidc, oidc_pool):
    key = oidc.logins_key
    user_a, user_b = sub(), sub()

    # Link: a guest presents an unused login and keeps its id.
    guest = public.get_id(IdentityPoolId=oidc_pool.id)["IdentityId"]
    got = public.get_credentials_for_identity(IdentityId=guest, Logins={key: oidc.token(user_a, CLIENT)})
    assert got["IdentityId"] == guest
    assert assumed_role(server, got["Credentials"]) == oidc_pool.role_name("authenticated")
    assert admin.describe_identity(IdentityId=guest)["Logins"] == [key]
    x = guest  # now authenticated as user A

    # Conflict: a second subject of the same provider.
    expect_error(
        "ResourceConflictException", public.get_open_id_token, IdentityId=x, Logins={key: oidc.token(user_b, CLIENT)}
    )
    assert admin.describe_identity(IdentityId=x)["Logins"] == [key]
    # User B was not recorded anywhere: it gets a new identity of its own.
    y = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user_b, CLIENT)})["IdentityId"]
    assert y != x

    # Merge: another guest presents A's login; the survivor is X.
    g2 = public.get_id(IdentityPoolId=oidc_pool.id)["IdentityId"]
    got = public.get_credentials_for_identity(IdentityId=g2, Logins={key: oidc.token(user_a, CLIENT)})
    assert got["IdentityId"] == x
    assert assumed_role(server, got["Credentials"]) == oidc_pool.role_name("authenticated")
    assert g2 in identities(admin, oidc_pool.id)
    assert g2 not in identities(admin, oidc_pool.id, hide_disabled=True)
    assert x in identities(admin, oidc_pool.id, hide_disabled=True)
    forbidden = f"Access to Identity '{g2}' is forbidden."
    assert expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=g2) == forbidden
    assert expect_error("NotAuthorizedException", public.get_open_id_token, IdentityId=g2) == forbidden
    # GetId with A still answers the survivor.
    assert public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user_a, CLIENT)})["IdentityId"] == x

    # The classic flow merges the same way.
    g3 = public.get_id(IdentityPoolId=oidc_pool.id)["IdentityId"]
    got = public.get_open_id_token(IdentityId=g3, Logins={key: oidc.token(user_a, CLIENT)})
    assert got["IdentityId"] == x
    assert jwt.decode(got["Token"], options={"verify_signature": False})["sub"] == x
    assert g3 not in identities(admin, oidc_pool.id, hide_disabled=True)

    # §12 47: unlinking with logins that belong to another identity.
    expect_error(
        "NotAuthorizedException",
        public.unlink_identity,
        IdentityId=y,
        Logins={key: oidc.token(user_a, CLIENT)},
        LoginsToRemove=[key],
    )
    assert admin.describe_identity(IdentityId=y)["Logins"] == [key]

    # Unlink: A is freed, and the next GetId with it is a new identity.
    resp = public.unlink_identity(IdentityId=x, Logins={key: oidc.token(user_a, CLIENT)}, LoginsToRemove=[key])
    assert {k: v for k, v in resp.items() if k != "ResponseMetadata"} == {}
    assert admin.describe_identity(IdentityId=x).get("Logins", []) == []
    # An identity that lost its last login is not a guest.
    expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=x)
    fresh = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user_a, CLIENT)})["IdentityId"]
    assert fresh not in (x, y, g2, g3)


# --- the classic flow's OpenID token (§12 48-51) -----------------------------------


def fetch_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def verify_cognito_token(token, pool_id):
    unverified = jwt.decode(token, options={"verify_signature": False})
    issuer = unverified["iss"]
    discovery = fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    assert discovery["issuer"] == issuer
    claims, signing_key = verified_open_id_claims(token, discovery, pool_id, issuer)
    # A signature made by anyone else does not verify.
    header_b64, _, signature_b64 = token.split(".")
    forged_claims = dict(claims, sub=claims["sub"][:-1] + ("0" if claims["sub"][-1] != "0" else "1"))
    forged = ".".join([header_b64, b64url(json.dumps(forged_claims).encode()), signature_b64])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing_key.key, algorithms=["RS512"], audience=pool_id)
    return claims


def test_open_id_token_guest_and_authenticated(server, admin, public, oidc, oidc_pool):
    guest = public.get_id(IdentityPoolId=oidc_pool.id)["IdentityId"]
    got = public.get_open_id_token(IdentityId=guest)
    assert got["IdentityId"] == guest
    claims = verify_cognito_token(got["Token"], oidc_pool.id)
    assert claims["iss"] == server.endpoint
    assert claims["sub"] == guest
    assert claims["aud"] == oidc_pool.id
    assert claims["amr"] == ["unauthenticated"]
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - time.time()) < 60

    key = oidc.logins_key
    user = sub()
    identity = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    got = public.get_open_id_token(IdentityId=identity, Logins={key: oidc.token(user, CLIENT)})
    assert got["IdentityId"] == identity
    claims = verify_cognito_token(got["Token"], oidc_pool.id)
    assert claims["sub"] == identity
    assert claims["exp"] - claims["iat"] == 600
    assert claims["amr"][0] == "authenticated"
    assert key in claims["amr"]
    assert "unauthenticated" not in claims["amr"]


def test_classic_flow_disabled(admin, iam_client, public):
    pool = Pool(admin, iam_client, AllowClassicFlow=False)
    assert admin.describe_identity_pool(IdentityPoolId=pool.id)["AllowClassicFlow"] is False
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    msg = expect_error("InvalidParameterException", public.get_open_id_token, IdentityId=guest)
    assert msg == "Basic (classic) flow is not enabled, please use enhanced flow."
    # The enhanced flow still works.
    assert public.get_credentials_for_identity(IdentityId=guest)["Credentials"]["AccessKeyId"].startswith("ASIA")


# --- user pools and role-based access control (§12 33-38, 51, 70-74) ------------------


@pytest.fixture(scope="module")
def up_pool(admin, iam_client):
    return Pool(
        admin,
        iam_client,
        guests=False,
        roles=("authenticated",),
        CognitoIdentityProviders=[
            {"ProviderName": UP_KEY, "ClientId": UP_CLIENT},
            {"ProviderName": UP_KEY, "ClientId": UP_CLIENT_2},
        ],
    )


def test_user_pool_logins(server, admin, public, userpool, up_pool):
    user = str(uuid.uuid4())
    identity = public.get_id(IdentityPoolId=up_pool.id, Logins={UP_KEY: userpool.token(user, UP_CLIENT)})[
        "IdentityId"
    ]
    # Same user through the second app client: same identity (§12 34).
    via_second = public.get_id(IdentityPoolId=up_pool.id, Logins={UP_KEY: userpool.token(user, UP_CLIENT_2)})
    assert via_second["IdentityId"] == identity
    assert admin.describe_identity(IdentityId=identity)["Logins"] == [UP_KEY]

    got = public.get_credentials_for_identity(IdentityId=identity, Logins={UP_KEY: userpool.token(user, UP_CLIENT)})
    assert assumed_role(server, got["Credentials"]) == up_pool.role_name("authenticated")

    # §12 51: amr of a user-pool login.
    token = public.get_open_id_token(IdentityId=identity, Logins={UP_KEY: userpool.token(user, UP_CLIENT)})["Token"]
    amr = verify_cognito_token(token, up_pool.id)["amr"]
    assert amr[0] == "authenticated"
    assert UP_KEY in amr
    assert f"{UP_KEY}:CognitoSignIn:{user}" in amr

    # §12 35: an access token has no aud.
    access = userpool.sign(
        userpool.claims(user, None, token_use="access", client_id=UP_CLIENT, **{"cognito:username": None})
    )
    msg = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=up_pool.id, Logins={UP_KEY: access})
    assert msg == "Invalid login token. Missing a required claim: aud"
    # §12 37: an app client not configured on the pool.
    msg = expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=up_pool.id,
        Logins={UP_KEY: userpool.token(user, "otherclient")},
    )
    assert msg == NOT_SUPPORTED_PROVIDER
    # §12 36: a token of another user pool under this pool's key.
    other_iss = f"{userpool.base}/us-east-1_Other"
    msg = expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=up_pool.id,
        Logins={UP_KEY: userpool.token(user, UP_CLIENT, iss=other_iss)},
    )
    assert msg == ISSUER_MISMATCH
    # A provider the pool does not have.
    msg = expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=up_pool.id,
        Logins={"cognito-idp.us-east-1.amazonaws.com/us-east-1_Other": userpool.token(user, UP_CLIENT)},
    )
    assert msg == NOT_SUPPORTED_PROVIDER
    assert set(identities(admin, up_pool.id)) == {identity}


def user_pool_pool(admin, iam_client):
    """A pool of the user-pool fixture's app client, without guests."""
    return Pool(
        admin,
        iam_client,
        guests=False,
        roles=("authenticated",),
        CognitoIdentityProviders=[{"ProviderName": UP_KEY, "ClientId": UP_CLIENT}],
    )


def test_role_mapping_rules(server, admin, iam_client, public, userpool):
    pool = user_pool_pool(admin, iam_client)
    sales_name, sales_arn = make_role(iam_client, "Sales", pool.id, "authenticated")
    _, other_arn = make_role(iam_client, "Other", pool.id, "authenticated")
    mapping_key = f"{UP_KEY}:{UP_CLIENT}"

    def set_mapping(resolution):
        admin.set_identity_pool_roles(
            IdentityPoolId=pool.id,
            Roles={"authenticated": pool.roles["authenticated"][1]},
            RoleMappings={
                mapping_key: {
                    "Type": "Rules",
                    "AmbiguousRoleResolution": resolution,
                    "RulesConfiguration": {
                        "Rules": [
                            # §12 72: NotEqual on a claim the token lacks is skipped.
                            {"Claim": "custom:missing", "MatchType": "NotEqual", "Value": "x", "RoleARN": other_arn},
                            {"Claim": "custom:dept", "MatchType": "Equals", "Value": "Sales", "RoleARN": sales_arn},
                        ]
                    },
                }
            },
        )

    def credentials(user, dept):
        token = userpool.token(user, UP_CLIENT, **{"custom:dept": dept})
        identity = public.get_id(IdentityPoolId=pool.id, Logins={UP_KEY: token})["IdentityId"]
        return identity, lambda: public.get_credentials_for_identity(IdentityId=identity, Logins={UP_KEY: token})

    set_mapping("Deny")
    seller, get = credentials(str(uuid.uuid4()), "Sales")
    assert assumed_role(server, get()["Credentials"]) == sales_name

    engineer, get_eng = credentials(str(uuid.uuid4()), "Engineering")
    msg = expect_error("NotAuthorizedException", get_eng)
    assert msg in (
        f"The ambiguous role mapping rules for: {UP_KEY} denied this request.",
        f"The ambiguous role mapping rules for: {mapping_key} denied this request.",
    ), msg

    # §12 50: role mappings rule out the classic flow.
    msg = expect_error(
        "InvalidParameterException",
        public.get_open_id_token,
        IdentityId=seller,
        Logins={UP_KEY: userpool.token(str(uuid.uuid4()), UP_CLIENT)},
    )
    assert msg == "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow."

    set_mapping("AuthenticatedRole")
    assert assumed_role(server, get_eng()["Credentials"]) == pool.role_name("authenticated")
    assert assumed_role(server, get()["Credentials"]) == sales_name


def test_role_mapping_token(server, admin, iam_client, public, userpool):
    pool = user_pool_pool(admin, iam_client)
    r1_name, r1 = make_role(iam_client, "R1", pool.id, "authenticated")
    r2_name, r2 = make_role(iam_client, "R2", pool.id, "authenticated")
    _, r3 = make_role(iam_client, "R3", pool.id, "authenticated")

    def set_mapping(resolution):
        admin.set_identity_pool_roles(
            IdentityPoolId=pool.id,
            Roles={"authenticated": pool.roles["authenticated"][1]},
            RoleMappings={f"{UP_KEY}:{UP_CLIENT}": {"Type": "Token", "AmbiguousRoleResolution": resolution}},
        )

    set_mapping("AuthenticatedRole")
    user = str(uuid.uuid4())
    token = userpool.token(user, UP_CLIENT, **{"cognito:roles": [r1, r2], "cognito:groups": ["g1", "g2"]})
    logins = {UP_KEY: token}
    identity = public.get_id(IdentityPoolId=pool.id, Logins=logins)["IdentityId"]

    def role(**kw):
        return assumed_role(
            server, public.get_credentials_for_identity(IdentityId=identity, Logins=logins, **kw)["Credentials"]
        )

    # §12 73
    assert role(CustomRoleArn=r2) == r2_name
    expect_error("NotAuthorizedException", role, CustomRoleArn=r3)
    assert role() == pool.role_name("authenticated")
    set_mapping("Deny")
    expect_error("NotAuthorizedException", role)
    assert role(CustomRoleArn=r1) == r1_name

    # §12 74: the preferred role needs no CustomRoleArn.
    preferred = userpool.token(user, UP_CLIENT, **{"cognito:roles": [r1, r2], "cognito:preferred_role": r1})
    got = public.get_credentials_for_identity(IdentityId=identity, Logins={UP_KEY: preferred})
    assert assumed_role(server, got["Credentials"]) == r1_name


# --- identity administration (§12 77, §5.2) -------------------------------------------


def test_delete_identities(admin, iam_client, public):
    pool = Pool(admin, iam_client)
    doomed = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    kept = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    resp = admin.delete_identities(
        IdentityIdsToDelete=[doomed, "us-east-1:00000000-0000-0000-0000-0000000000aa"]
    )
    assert resp.get("UnprocessedIdentityIds", []) == []
    assert set(identities(admin, pool.id)) == {kept}
    expect_error("ResourceNotFoundException", public.get_credentials_for_identity, IdentityId=doomed)
    msg = expect_error("ResourceNotFoundException", admin.describe_identity, IdentityId=doomed)
    assert msg == f"Identity '{doomed}' not found."
    assert public.get_credentials_for_identity(IdentityId=kept)["IdentityId"] == kept


# --- further edges of login validation and identity resolution ------------------------


def test_provider_keys_are_fetched_from_the_fixtures(oidc, userpool, public, oidc_pool, up_pool):
    # Make sure both issuers have been asked at least once in this module.
    public.get_id(IdentityPoolId=oidc_pool.id, Logins={oidc.logins_key: oidc.token(sub(), CLIENT)})
    public.get_id(IdentityPoolId=up_pool.id, Logins={UP_KEY: userpool.token(sub(), UP_CLIENT)})
    assert "/.well-known/openid-configuration" in oidc.requests
    assert "/jwks.json" not in oidc.requests  # the discovery document said where
    assert "/.well-known/jwks.json" in oidc.requests
    assert f"/{USER_POOL_ID}/.well-known/jwks.json" in userpool.requests


def test_audience_rules(admin, public, oidc, oidc_pool):
    key = oidc.logins_key
    # aud may be a list; one allowed client suffices.
    assert public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(sub(), ["other", CLIENT])})
    # azp, when present, is what must be allowed.
    msg = expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=oidc_pool.id,
        Logins={key: oidc.token(sub(), CLIENT, azp="other")},
    )
    assert msg == NOT_SUPPORTED_PROVIDER
    assert public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(sub(), "other", azp=CLIENT)})
    # Not yet valid beyond the 5 min skew.
    msg = expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=oidc_pool.id,
        Logins={key: oidc.token(sub(), CLIENT, nbf=int(time.time()) + 3600)},
    )
    assert msg.startswith("Invalid login token."), msg


def test_one_bad_login_fails_the_whole_map(admin, iam_client, public, oidc, oidc_arn, userpool):
    pool = Pool(
        admin,
        iam_client,
        OpenIdConnectProviderARNs=[oidc_arn],
        CognitoIdentityProviders=[{"ProviderName": UP_KEY, "ClientId": UP_CLIENT}],
    )
    user = sub()
    good = oidc.token(user, CLIENT)
    bad = userpool.token(sub(), "otherclient")
    expect_error(
        "NotAuthorizedException",
        public.get_id,
        IdentityPoolId=pool.id,
        Logins={oidc.logins_key: good, UP_KEY: bad},
    )
    assert identities(admin, pool.id) == {}


def test_get_id_links_and_merges_across_providers(admin, iam_client, public, oidc, oidc_arn, userpool):
    pool = Pool(
        admin,
        iam_client,
        OpenIdConnectProviderARNs=[oidc_arn],
        CognitoIdentityProviders=[{"ProviderName": UP_KEY, "ClientId": UP_CLIENT}],
    )
    key = oidc.logins_key
    a, u, u2 = sub(), str(uuid.uuid4()), str(uuid.uuid4())
    x = public.get_id(IdentityPoolId=pool.id, Logins={key: oidc.token(a, CLIENT)})["IdentityId"]
    # Implicit link: one known login plus one new one.
    got = public.get_id(
        IdentityPoolId=pool.id, Logins={key: oidc.token(a, CLIENT), UP_KEY: userpool.token(u, UP_CLIENT)}
    )["IdentityId"]
    assert got == x
    assert sorted(admin.describe_identity(IdentityId=x)["Logins"]) == sorted([key, UP_KEY])
    assert public.get_id(IdentityPoolId=pool.id, Logins={UP_KEY: userpool.token(u, UP_CLIENT)})["IdentityId"] == x

    # Two authenticated identities merge into the older one.
    b = sub()
    y = public.get_id(IdentityPoolId=pool.id, Logins={UP_KEY: userpool.token(u2, UP_CLIENT)})["IdentityId"]
    time.sleep(1.1)  # creation times have second resolution
    z = public.get_id(IdentityPoolId=pool.id, Logins={key: oidc.token(b, CLIENT)})["IdentityId"]
    survivor = public.get_id(
        IdentityPoolId=pool.id, Logins={UP_KEY: userpool.token(u2, UP_CLIENT), key: oidc.token(b, CLIENT)}
    )["IdentityId"]
    assert survivor in (y, z)
    gone = z if survivor == y else y
    assert survivor == y  # the older one
    assert sorted(admin.describe_identity(IdentityId=survivor)["Logins"]) == sorted([key, UP_KEY])
    assert gone not in identities(admin, pool.id, hide_disabled=True)
    # A disabled identity can still be described.
    assert admin.describe_identity(IdentityId=gone)["IdentityId"] == gone

    # X (A + u) and the survivor (b + u2) hold different subjects of both providers: no merge.
    expect_error(
        "ResourceConflictException",
        public.get_id,
        IdentityPoolId=pool.id,
        Logins={key: oidc.token(a, CLIENT), UP_KEY: userpool.token(u2, UP_CLIENT)},
    )
    assert x in identities(admin, pool.id, hide_disabled=True)
    assert survivor in identities(admin, pool.id, hide_disabled=True)


def test_unlink_edges(admin, public, oidc, oidc_pool):
    key = oidc.logins_key
    user = sub()
    x = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    # A provider the identity does not hold.
    expect_error(
        "ResourceConflictException",
        public.unlink_identity,
        IdentityId=x,
        Logins={key: oidc.token(user, CLIENT)},
        LoginsToRemove=["accounts.google.com"],
    )
    # No valid login of the identity.
    expect_error(
        "NotAuthorizedException",
        public.unlink_identity,
        IdentityId=x,
        Logins={key: oidc.tampered(user, CLIENT)},
        LoginsToRemove=[key],
    )
    assert admin.describe_identity(IdentityId=x)["Logins"] == [key]


def test_deleted_identity_frees_its_login(admin, public, oidc, oidc_pool):
    key = oidc.logins_key
    user = sub()
    x = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    admin.delete_identities(IdentityIdsToDelete=[x])
    expect_error(
        "ResourceNotFoundException",
        public.get_credentials_for_identity,
        IdentityId=x,
        Logins={key: oidc.token(user, CLIENT)},
    )
    y = public.get_id(IdentityPoolId=oidc_pool.id, Logins={key: oidc.token(user, CLIENT)})["IdentityId"]
    assert y != x


def test_guests_turned_off_later(admin, iam_client, public):
    pool = Pool(admin, iam_client)
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    admin.update_identity_pool(IdentityPoolId=pool.id, IdentityPoolName="flows", AllowUnauthenticatedIdentities=False)
    msg = expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=guest)
    assert msg == UNAUTH_NOT_SUPPORTED
    msg = expect_error("NotAuthorizedException", public.get_open_id_token, IdentityId=guest)
    assert msg == UNAUTH_NOT_SUPPORTED


def test_deleted_pool(admin, iam_client, public):
    pool = Pool(admin, iam_client)
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    admin.delete_identity_pool(IdentityPoolId=pool.id)
    msg = expect_error("ResourceNotFoundException", public.get_id, IdentityPoolId=pool.id)
    assert msg == f"IdentityPool '{pool.id}' not found."
    expect_error("ResourceNotFoundException", public.get_credentials_for_identity, IdentityId=guest)

