"""ES256 signing (COGNATE_SIGNING_ALGORITHM): a classic-flow OpenID token
fetched with boto3 verifies with PyJWT against the served JWKS, as ES256
only."""

import json
import urllib.request

import boto3
import botocore
import jwt
import pytest
from botocore.config import Config

from conftest import Server, verified_open_id_claims


@pytest.fixture(scope="module")
def server():
    s = Server(extra_env={"COGNATE_SIGNING_ALGORITHM": "ES256"})
    yield s
    s.stop()


def fetch_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def test_es256_open_id_token_verifies_against_the_jwks(server, cognito):
    pool_id = cognito.create_identity_pool(IdentityPoolName="es256", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"
    ]
    public = boto3.client(
        "cognito-identity",
        region_name="us-east-1",
        endpoint_url=server.endpoint,
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )
    identity_id = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
    token = public.get_open_id_token(IdentityId=identity_id)["Token"]

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    discovery = fetch_json(server.endpoint + "/.well-known/openid-configuration")
    assert discovery["id_token_signing_alg_values_supported"] == ["ES256"]
    jwks = fetch_json(discovery["jwks_uri"])
    [jwk] = jwks["keys"]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use", "kid")} == {
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "kid": header["kid"],
    }
    claims, signing_key = verified_open_id_claims(token, discovery, pool_id, server.endpoint, alg="ES256")
    assert claims["sub"] == identity_id
    assert claims["amr"] == ["unauthenticated"]
    # The EC key does not verify under another algorithm.
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, signing_key.key, algorithms=["RS512"], audience=pool_id)
