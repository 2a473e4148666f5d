"""Developer-authenticated identities through boto3.

GetOpenIdTokenForDeveloperIdentity (IAM-signed) and the token it returns,
used in both the enhanced flow (GetCredentialsForIdentity with the
`cognito-identity.amazonaws.com` Logins key) and the basic flow (STS
AssumeRoleWithWebIdentity); LookupDeveloperIdentity,
MergeDeveloperIdentities and UnlinkDeveloperIdentity; principal tags.
References are to cognito-identity-wire.md §5.8-5.11 and §12 items 58-69.
"""

import json
import time
import urllib.request
import uuid

import botocore
import jwt
import pytest

from conftest import verified_open_id_claims
from oidc_fixture import b64url

DEV = "login.myapp"
COGNITO = "cognito-identity.amazonaws.com"
ACCOUNT = "000000000000"
LOGINS_DONT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity or identity pool."
)
UNSUPPORTED_DEV_PROVIDER = "This identity pool does not support the specified developer provider"


# --- fixtures ----------------------------------------------------------------


def trust_policy(pool_id, amr, actions=("sts:AssumeRoleWithWebIdentity",)):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": COGNITO},
                    "Action": list(actions),
                    "Condition": {
                        "StringEquals": {f"{COGNITO}:aud": pool_id},
                        "ForAnyValue:StringLike": {f"{COGNITO}:amr": amr},
                    },
                }
            ],
        }
    )


def make_role(iam_client, prefix, pool_id, amr, **kwargs):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(pool_id, amr, **kwargs))[
        "Role"
    ]["Arn"]
    return name, arn


class DevPool:
    """A pool with the developer provider `login.myapp`, guests allowed, and
    default roles trusting it (the authenticated one with the `authenticated`
    amr, as AWS's console writes it)."""

    def __init__(self, admin, iam_client, dev=DEV, **kwargs):
        self.dev = dev
        self.id = admin.create_identity_pool(
            IdentityPoolName="developer", AllowUnauthenticatedIdentities=True, DeveloperProviderName=dev, **kwargs
        )["IdentityPoolId"]
        self.auth_name, self.auth_arn = make_role(iam_client, "DevAuth", self.id, "authenticated")
        self.unauth_name, self.unauth_arn = make_role(iam_client, "DevUnauth", self.id, "unauthenticated")
        admin.set_identity_pool_roles(
            IdentityPoolId=self.id, Roles={"authenticated": self.auth_arn, "unauthenticated": self.unauth_arn}
        )


@pytest.fixture(scope="module")
def pool(admin, iam_client):
    """The pool of `login.myapp` (a developer provider name is unique in an
    account and region, so the tests share it and use fresh user ids)."""
    return DevPool(admin, iam_client)


# --- helpers -------------------------------------------------------------------


def expect_error(code, fn, *args, status=400, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kwargs)
    err = e.value.response["Error"]
    assert err["Code"] == code, err
    if status is not None:
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    return err.get("Message", "")


def dev_token(admin, pool_id, user, dev=DEV, **kwargs):
    got = admin.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={dev: user}, **kwargs)
    return got["IdentityId"], got["Token"]


def lookup(admin, pool_id, **kwargs):
    got = admin.lookup_developer_identity(IdentityPoolId=pool_id, MaxResults=60, **kwargs)
    return got["IdentityId"], got.get("DeveloperUserIdentifierList", [])


def session_client(server, service, credentials):
    return server.client(
        service,
        key=credentials["AccessKeyId"],
        secret=credentials.get("SecretKey") or credentials["SecretAccessKey"],
        token=credentials["SessionToken"],
    )


def identities(admin, pool_id, hide_disabled=False):
    got = admin.list_identities(IdentityPoolId=pool_id, MaxResults=60, HideDisabled=hide_disabled)
    return {i["IdentityId"]: i for i in got["Identities"]}


def fetch_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def verify_token(server, token, pool_id):
    """Verify a cognate token the way a relying party would: discovery at the
    server's endpoint, the JWKS it names, RS512 only."""
    discovery = fetch_json(server.endpoint + "/.well-known/openid-configuration")
    issuer = discovery["issuer"]
    assert issuer.rstrip("/") == server.endpoint.rstrip("/")
    claims, key = verified_open_id_claims(token, discovery, pool_id, issuer)
    # The same signature over other claims does not verify.
    h, _, s = token.split(".")
    forged = ".".join([h, b64url(json.dumps(dict(claims, sub=claims["sub"] + "0")).encode()), s])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key.key, algorithms=["RS512"], audience=pool_id)
    return claims


def user():
    return "user-" + uuid.uuid4().hex[:10]


def refused_exchange(public_sts, role_arn, token, session_name):
    """AssumeRoleWithWebIdentity of `token` for `role_arn` is AccessDenied."""
    expect_error(
        "AccessDenied",
        public_sts.assume_role_with_web_identity,
        RoleArn=role_arn,
        RoleSessionName=session_name,
        WebIdentityToken=token,
        status=403,
    )


# --- the token (§12 59, 60) ------------------------------------------------------


def test_developer_token(server, admin, pool):
    u1 = user()
    before = time.time()
    count = len(identities(admin, pool.id))
    i1, token = dev_token(admin, pool.id, u1)
    assert i1.startswith("us-east-1:")
    claims = verify_token(server, token, pool.id)
    assert claims["sub"] == i1
    assert claims["aud"] == pool.id
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - before) < 60
    assert "authenticated" in claims["amr"]
    assert "unauthenticated" not in claims["amr"]
    assert DEV in claims["amr"]
    assert f"{DEV}:{pool.id}:{u1}" in claims["amr"]
    assert claims["https://cognito-identity.amazonaws.com/identity-pool-arn"] == (
        f"arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{pool.id}"
    )
    assert "https://aws.amazon.com/tags" not in claims

    # The same user id is the same identity.
    again, _ = dev_token(admin, pool.id, u1)
    assert again == i1
    assert admin.describe_identity(IdentityId=i1)["Logins"] == [DEV]
    listed = identities(admin, pool.id)
    assert len(listed) == count + 1 and listed[i1]["Logins"] == [DEV]

    _, long_token = dev_token(admin, pool.id, u1, TokenDuration=86400)
    claims = verify_token(server, long_token, pool.id)
    assert claims["exp"] - claims["iat"] == 86400
    _, short_token = dev_token(admin, pool.id, u1, TokenDuration=1)
    claims = jwt.decode(short_token, options={"verify_signature": False})  # may expire while we look
    assert claims["exp"] - claims["iat"] == 1

    msg = expect_error("ValidationException", dev_token, admin, pool.id, u1, TokenDuration=86401)
    assert "'tokenDuration' failed to satisfy constraint" in msg, msg
    assert "Member must have value less than or equal to 86400" in msg, msg


# --- the enhanced and basic flows with the developer token (§12 61, 52) ---------


def test_enhanced_developer_flow(server, admin, public, pool):
    i1, token = dev_token(admin, pool.id, user())
    got = public.get_credentials_for_identity(IdentityId=i1, Logins={COGNITO: token})
    assert got["IdentityId"] == i1
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert abs(creds["Expiration"].timestamp() - (time.time() + 3600)) < 60

    caller = session_client(server, "sts", creds).get_caller_identity()
    assert caller["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{pool.auth_name}/CognitoIdentityCredentials"
    assert caller["UserId"].startswith("AROA") and caller["UserId"].endswith(":CognitoIdentityCredentials")
    assert caller["Account"] == ACCOUNT

    # An authenticated identity needs its token: no Logins is refused.
    msg = expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=i1)
    assert msg == LOGINS_DONT_MATCH
    # Another identity's token does not open this one.
    i2, _ = dev_token(admin, pool.id, user())
    msg = expect_error(
        "NotAuthorizedException", public.get_credentials_for_identity, IdentityId=i2, Logins={COGNITO: token}
    )
    assert msg == LOGINS_DONT_MATCH


def test_basic_developer_flow(server, admin, public_sts, pool):
    i1, token = dev_token(admin, pool.id, user())
    got = public_sts.assume_role_with_web_identity(RoleArn=pool.auth_arn, RoleSessionName="dev1", WebIdentityToken=token)
    assert got["Provider"] == COGNITO
    assert got["Audience"] == pool.id
    assert got["SubjectFromWebIdentityToken"] == i1
    arn = got["AssumedRoleUser"]["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{pool.auth_name}/dev1"
    assert arn.endswith(f"assumed-role/{pool.auth_name}/dev1")
    role_id = got["AssumedRoleUser"]["AssumedRoleId"]
    assert role_id.startswith("AROA") and role_id.endswith(":dev1")
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert creds["Expiration"].tzinfo is not None

    caller = session_client(server, "sts", creds).get_caller_identity()
    assert caller["Arn"] == arn
    assert caller["UserId"] == role_id

    # The authenticated token is not trusted by the guests' role.
    refused_exchange(public_sts, pool.unauth_arn, token, "dev1")


# --- refusals (§12 58, 62) ---------------------------------------------------------


def test_developer_refusals(server, admin, iam_client, public, pool):
    u1 = user()
    dev_token(admin, pool.id, u1)
    # The developer provider is not a login of GetId (nor of the other public calls).
    expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool.id, Logins={DEV: u1})
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    expect_error(
        "NotAuthorizedException", public.get_credentials_for_identity, IdentityId=guest, Logins={DEV: u1}
    )
    assert admin.describe_identity(IdentityId=guest).get("Logins", []) == []

    # The developer call must be signed.
    msg = expect_error(
        "MissingAuthenticationTokenException",
        public.get_open_id_token_for_developer_identity,
        IdentityPoolId=pool.id,
        Logins={DEV: u1},
        status=None,
    )
    for op, kwargs in [
        ("lookup_developer_identity", {"IdentityPoolId": pool.id, "DeveloperUserIdentifier": u1}),
        (
            "merge_developer_identities",
            {
                "IdentityPoolId": pool.id,
                "DeveloperProviderName": DEV,
                "SourceUserIdentifier": u1,
                "DestinationUserIdentifier": u1,
            },
        ),
    ]:
        expect_error("MissingAuthenticationTokenException", getattr(public, op), status=None, **kwargs)

    # A developer provider name belongs to one pool of the account and region.
    expect_error(
        "ResourceConflictException",
        admin.create_identity_pool,
        IdentityPoolName="again",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName=DEV,
    )
    # A pool without a developer provider.
    plain = admin.create_identity_pool(IdentityPoolName="plain", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"
    ]
    msg = expect_error("NotAuthorizedException", dev_token, admin, plain, u1)
    assert msg.startswith(UNSUPPORTED_DEV_PROVIDER), msg
    assert identities(admin, plain) == {}
    # A developer provider name other than the pool's.
    msg = expect_error(
        "NotAuthorizedException",
        admin.get_open_id_token_for_developer_identity,
        IdentityPoolId=pool.id,
        Logins={"login.other": u1},
    )
    assert msg.startswith(UNSUPPORTED_DEV_PROVIDER), msg
    expect_error(
        "InvalidParameterException",
        admin.merge_developer_identities,
        IdentityPoolId=pool.id,
        DeveloperProviderName="login.other",
        SourceUserIdentifier=u1,
        DestinationUserIdentifier=u1,
    )
    # An unknown pool.
    expect_error(
        "ResourceNotFoundException",
        dev_token,
        admin,
        "us-east-1:00000000-0000-0000-0000-000000000000",
        u1,
    )


# --- linking, lookup, merge, unlink (§12 63-68) ---------------------------------------


def test_link_lookup_merge_unlink(server, admin, public, pool):
    u1, u2, u9 = user(), user(), user()
    i1, _ = dev_token(admin, pool.id, u1)

    # §12 63: a guest upgraded by a developer user id keeps its id.
    g = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    got, g_token = dev_token(admin, pool.id, u2, IdentityId=g)
    assert got == g
    assert jwt.decode(g_token, options={"verify_signature": False})["sub"] == g
    assert admin.describe_identity(IdentityId=g)["Logins"] == [DEV]
    assert lookup(admin, pool.id, DeveloperUserIdentifier=u2) == (g, [u2])
    assert lookup(admin, pool.id, IdentityId=g) == (g, [u2])
    assert lookup(admin, pool.id, IdentityId=g, DeveloperUserIdentifier=u2) == (g, [u2])
    # Now authenticated, G needs its token.
    expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=g)

    # §12 64
    msg = expect_error(
        "DeveloperUserAlreadyRegisteredException", dev_token, admin, pool.id, u2, IdentityId=i1
    )
    assert "already registered" in msg, msg
    assert lookup(admin, pool.id, DeveloperUserIdentifier=u2) == (g, [u2])

    # §12 65: an authenticated identity and a new user id, without any login of it.
    msg = expect_error("NotAuthorizedException", dev_token, admin, pool.id, u9, IdentityId=i1)
    assert msg == LOGINS_DONT_MATCH
    assert lookup(admin, pool.id, IdentityId=i1) == (i1, [u1])
    expect_error("ResourceNotFoundException", lookup, admin, pool.id, DeveloperUserIdentifier=u9)

    # §12 66
    expect_error("ResourceConflictException", lookup, admin, pool.id, IdentityId=i1, DeveloperUserIdentifier=u2)
    expect_error("InvalidParameterException", lookup, admin, pool.id)

    # §12 67: u2's identity (G) merges into u1's (I1).
    merged = admin.merge_developer_identities(
        IdentityPoolId=pool.id, DeveloperProviderName=DEV, SourceUserIdentifier=u2, DestinationUserIdentifier=u1
    )
    assert merged["IdentityId"] == i1
    assert dev_token(admin, pool.id, u2)[0] == i1
    assert dev_token(admin, pool.id, u1)[0] == i1
    ident, users = lookup(admin, pool.id, IdentityId=i1)
    assert ident == i1 and {u1, u2} <= set(users)
    assert lookup(admin, pool.id, DeveloperUserIdentifier=u2)[0] == i1
    forbidden = f"Access to Identity '{g}' is forbidden."
    assert expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=g) == forbidden
    assert expect_error("NotAuthorizedException", public.get_open_id_token, IdentityId=g) == forbidden
    # G's own developer token, issued before the merge, no longer opens it.
    msg = expect_error(
        "NotAuthorizedException", public.get_credentials_for_identity, IdentityId=g, Logins={COGNITO: g_token}
    )
    assert msg == forbidden
    # Nor can a new user id be linked to it.
    assert expect_error("NotAuthorizedException", dev_token, admin, pool.id, user(), IdentityId=g) == forbidden
    assert g in identities(admin, pool.id)
    assert g not in identities(admin, pool.id, hide_disabled=True)
    assert i1 in identities(admin, pool.id, hide_disabled=True)
    # Merging again is a no-op answering the destination.
    again = admin.merge_developer_identities(
        IdentityPoolId=pool.id, DeveloperProviderName=DEV, SourceUserIdentifier=u2, DestinationUserIdentifier=u1
    )
    assert again["IdentityId"] == i1
    # The merged-in user's token opens the survivor.
    _, token = dev_token(admin, pool.id, u2)
    got = public.get_credentials_for_identity(IdentityId=i1, Logins={COGNITO: token})
    assert got["IdentityId"] == i1

    # §12 68: unlink u2 from I1; seen again, u2 is a new identity.
    resp = admin.unlink_developer_identity(
        IdentityId=i1, IdentityPoolId=pool.id, DeveloperProviderName=DEV, DeveloperUserIdentifier=u2
    )
    assert {k: v for k, v in resp.items() if k != "ResponseMetadata"} == {}
    assert lookup(admin, pool.id, IdentityId=i1) == (i1, [u1])
    expect_error("ResourceNotFoundException", lookup, admin, pool.id, DeveloperUserIdentifier=u2)
    fresh, _ = dev_token(admin, pool.id, u2)
    assert fresh not in (i1, g)
    assert lookup(admin, pool.id, DeveloperUserIdentifier=u2) == (fresh, [u2])
    # I1 still works with u1.
    assert dev_token(admin, pool.id, u1)[0] == i1
    # u2 now lives elsewhere: unlinking it from I1 is a conflict.
    expect_error(
        "ResourceConflictException",
        admin.unlink_developer_identity,
        IdentityId=i1,
        IdentityPoolId=pool.id,
        DeveloperProviderName=DEV,
        DeveloperUserIdentifier=u2,
    )


def test_unlinking_the_last_user_id(admin, public, pool):
    u = user()
    ident, token = dev_token(admin, pool.id, u)
    admin.unlink_developer_identity(
        IdentityId=ident, IdentityPoolId=pool.id, DeveloperProviderName=DEV, DeveloperUserIdentifier=u
    )
    assert admin.describe_identity(IdentityId=ident).get("Logins", []) == []
    # Inaccessible, not a guest: neither with nor without its old token.
    expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=ident)
    expect_error(
        "NotAuthorizedException", public.get_credentials_for_identity, IdentityId=ident, Logins={COGNITO: token}
    )
    assert dev_token(admin, pool.id, u)[0] != ident


def test_lookup_pagination(admin, pool):
    users = [f"page-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    ids = [dev_token(admin, pool.id, u)[0] for u in users]
    assert len(set(ids)) == 5
    for source in users[1:]:
        got = admin.merge_developer_identities(
            IdentityPoolId=pool.id,
            DeveloperProviderName=DEV,
            SourceUserIdentifier=source,
            DestinationUserIdentifier=users[0],
        )
        assert got["IdentityId"] == ids[0]

    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        got = admin.lookup_developer_identity(IdentityPoolId=pool.id, IdentityId=ids[0], MaxResults=2, **kwargs)
        assert got["IdentityId"] == ids[0]
        pages.append(got.get("DeveloperUserIdentifierList", []))
        token = got.get("NextToken")
        if not token:
            break
        assert len(pages) < 10
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [u for p in pages for u in p]
    assert sorted(seen) == sorted(users)

    # By user id: the same identity and the same paging.
    got = admin.lookup_developer_identity(IdentityPoolId=pool.id, DeveloperUserIdentifier=users[3], MaxResults=2)
    assert got["IdentityId"] == ids[0]
    assert len(got["DeveloperUserIdentifierList"]) == 2 and got.get("NextToken")


# --- principal tags (§12 69) --------------------------------------------------------


def test_principal_tags(server, admin, iam_client, public, public_sts):
    # Its own pool, since the test changes the default roles.
    pool = DevPool(admin, iam_client, dev="login.tags." + uuid.uuid4().hex[:6])
    ident, token = dev_token(admin, pool.id, user(), dev=pool.dev, PrincipalTags={"dept": "eng"})
    claims = verify_token(server, token, pool.id)
    assert claims["https://aws.amazon.com/tags"]["principal_tags"] == {"dept": ["eng"]}

    # The pool's authenticated role does not allow sts:TagSession.
    expect_error(
        "InvalidIdentityPoolConfigurationException",
        public.get_credentials_for_identity,
        IdentityId=ident,
        Logins={COGNITO: token},
    )
    refused_exchange(public_sts, pool.auth_arn, token, "tags")

    # A role that allows it; its permissions depend on the session tag.
    name, arn = make_role(
        iam_client,
        "Tagged",
        pool.id,
        "authenticated",
        actions=("sts:AssumeRoleWithWebIdentity", "sts:TagSession"),
    )
    iam_client.put_role_policy(
        RoleName=name,
        PolicyName="eng-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "cognito-identity:DescribeIdentityPool",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/dept": "eng"}},
                    }
                ],
            }
        ),
    )
    admin.set_identity_pool_roles(
        IdentityPoolId=pool.id, Roles={"authenticated": arn, "unauthenticated": pool.unauth_arn}
    )
    creds = public.get_credentials_for_identity(IdentityId=ident, Logins={COGNITO: token})["Credentials"]
    scoped = session_client(server, "cognito-identity", creds)
    assert scoped.describe_identity_pool(IdentityPoolId=pool.id)["IdentityPoolId"] == pool.id

    # Another dept: the role is assumed, but the policy's condition fails.
    other, other_token = dev_token(admin, pool.id, user(), dev=pool.dev, PrincipalTags={"dept": "sales"})
    creds = public.get_credentials_for_identity(IdentityId=other, Logins={COGNITO: other_token})["Credentials"]
    expect_error(
        "AccessDeniedException",
        session_client(server, "cognito-identity", creds).describe_identity_pool,
        IdentityPoolId=pool.id,
        status=None,
    )

    # The basic flow carries the tags too.
    got = public_sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="tags", WebIdentityToken=token)
    assert got["SubjectFromWebIdentityToken"] == ident
    assert "PackedPolicySize" in got
    scoped = session_client(server, "cognito-identity", got["Credentials"])
    assert scoped.describe_identity_pool(IdentityPoolId=pool.id)["IdentityPoolId"] == pool.id


# --- developer logins together with public logins (§5.8 1, 3; §5.10) ---------------------


OIDC_CLIENT = "dev-oidc-client"


def test_developer_and_public_logins(server, admin, iam_client, public, oidc):
    provider_arn = iam_client.create_open_id_connect_provider(Url=oidc.issuer, ClientIDList=[OIDC_CLIENT])[
        "OpenIDConnectProviderArn"
    ]
    dev = "login.mixed." + uuid.uuid4().hex[:6]
    pool = DevPool(admin, iam_client, dev=dev, OpenIdConnectProviderARNs=[provider_arn])
    key = oidc.logins_key
    alice, dave = user(), user()
    ua, ub, uc = user(), user(), user()

    # An authenticated identity accepts a new user id with one of its own logins.
    y = public.get_id(IdentityPoolId=pool.id, Logins={key: oidc.token(alice, OIDC_CLIENT)})["IdentityId"]
    got = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool.id, IdentityId=y, Logins={dev: ua, key: oidc.token(alice, OIDC_CLIENT)}
    )
    assert got["IdentityId"] == y
    amr = verify_token(server, got["Token"], pool.id)["amr"]
    assert "authenticated" in amr and dev in amr and f"{dev}:{pool.id}:{ua}" in amr and key in amr
    assert sorted(admin.describe_identity(IdentityId=y)["Logins"]) == sorted([key, dev])
    assert dev_token(admin, pool.id, ua, dev=dev)[0] == y

    # A bad public login fails the whole call, and records nothing.
    msg = expect_error(
        "NotAuthorizedException",
        admin.get_open_id_token_for_developer_identity,
        IdentityPoolId=pool.id,
        Logins={dev: ub, key: oidc.tampered(user(), OIDC_CLIENT)},
    )
    assert msg == "Invalid login token. Couldn't verify signed token."
    expect_error("ResourceNotFoundException", lookup, admin, pool.id, DeveloperUserIdentifier=ub)

    # Merging moves the public logins too.
    x, _ = dev_token(admin, pool.id, ub, dev=dev)
    assert x != y
    merged = admin.merge_developer_identities(
        IdentityPoolId=pool.id, DeveloperProviderName=dev, SourceUserIdentifier=ua, DestinationUserIdentifier=ub
    )
    assert merged["IdentityId"] == x
    assert public.get_id(IdentityPoolId=pool.id, Logins={key: oidc.token(alice, OIDC_CLIENT)})["IdentityId"] == x
    assert sorted(admin.describe_identity(IdentityId=x)["Logins"]) == sorted([key, dev])
    assert y not in identities(admin, pool.id, hide_disabled=True)

    # Two identities holding different subjects of one public provider do not merge.
    z = public.get_id(IdentityPoolId=pool.id, Logins={key: oidc.token(dave, OIDC_CLIENT)})["IdentityId"]
    got = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool.id, IdentityId=z, Logins={dev: uc, key: oidc.token(dave, OIDC_CLIENT)}
    )
    assert got["IdentityId"] == z
    expect_error(
        "NotAuthorizedException",  # z is authenticated: a new user id needs one of its logins
        dev_token,
        admin,
        pool.id,
        user(),
        dev=dev,
        IdentityId=z,
    )
    expect_error(
        "ResourceConflictException",
        admin.merge_developer_identities,
        IdentityPoolId=pool.id,
        DeveloperProviderName=dev,
        SourceUserIdentifier=uc,
        DestinationUserIdentifier=ub,
    )
    assert lookup(admin, pool.id, DeveloperUserIdentifier=uc) == (z, [uc])
    assert {x, z} <= set(identities(admin, pool.id, hide_disabled=True))


# --- the Cognito token as a login (§5.6 1-5) --------------------------------------------


def test_guest_cognito_token_on_pool_without_guests(admin, iam_client, public):
    pool = DevPool(admin, iam_client, dev="login.guests." + uuid.uuid4().hex[:6])
    guest = public.get_id(IdentityPoolId=pool.id)["IdentityId"]
    token = public.get_open_id_token(IdentityId=guest)["Token"]
    # While guests are allowed the token works.
    assert public.get_credentials_for_identity(IdentityId=guest, Logins={COGNITO: token})["IdentityId"] == guest
    admin.update_identity_pool(
        IdentityPoolId=pool.id, IdentityPoolName="developer", AllowUnauthenticatedIdentities=False
    )
    msg = expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=guest)
    assert msg == "Unauthenticated access is not supported for this identity pool."
    msg = expect_error(
        "NotAuthorizedException", public.get_credentials_for_identity, IdentityId=guest, Logins={COGNITO: token}
    )
    assert msg == "Unauthenticated access is not supported for this identity pool."
