"""Starts a real cognate server for the boto3 compatibility suite.

The binary comes from COGNATE_BIN (default: target/debug/cognate, built by
the test script). Each test module gets its own server and data directory.
"""

import json
import os
import re
import subprocess
import tempfile
import threading
import time

import boto3
import botocore
import pytest
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("COGNATE_BIN", os.path.join(ROOT, "target", "debug", "cognate"))
ADMIN_KEY = "AKIACOMPATTESTADMIN1"
ADMIN_SECRET = "compat/test/secret/key/0000000000000000000"


class Server:
    def __init__(self, extra_env=None, config_text=None):
        self.dir = tempfile.TemporaryDirectory(prefix="cognate-compat-")
        env = dict(os.environ)
        env.update(
            {
                "COGNATE_LISTEN": "127.0.0.1:0",
                "COGNATE_DATA_DIR": os.path.join(self.dir.name, "data"),
                "COGNATE_ADMIN_ACCESS_KEY_ID": ADMIN_KEY,
                "COGNATE_ADMIN_SECRET_ACCESS_KEY": ADMIN_SECRET,
                "COGNATE_LOG": "info",
                "NO_COLOR": "1",
            }
        )
        env.update(extra_env or {})
        args = [BIN, "serve"]
        if config_text is not None:
            path = os.path.join(self.dir.name, "cognate.toml")
            with open(path, "w") as f:
                f.write(config_text)
            args += ["--config", path]
        self.log_lines = []
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.endpoint = None
        deadline = time.time() + 30
        ansi = re.compile(r"\x1b\[[0-9;]*m")
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            line = ansi.sub("", line)
            self.log_lines.append(line)
            m = re.search(r"listening on (http://[0-9.:]+)", line)
            if m:
                self.endpoint = m.group(1)
                break
        if self.endpoint is None:
            self.proc.kill()
            raise RuntimeError("cognate did not start:\n" + "".join(self.log_lines))
        # Keep draining the log so the server never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self):
        for line in self.proc.stdout:
            self.log_lines.append(line)

    def client(self, service, region="us-east-1", **kwargs):
        creds = {
            "aws_access_key_id": kwargs.pop("key", ADMIN_KEY),
            "aws_secret_access_key": kwargs.pop("secret", ADMIN_SECRET),
        }
        token = kwargs.pop("token", None)
        if token:
            creds["aws_session_token"] = token
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            **creds,
        )

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def unsigned(server, service):
    """A client that signs nothing, as an app calls the public operations."""
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=server.endpoint,
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )


def trust_policy(pool_id, amr):
    """Trust for Cognito identities of `pool_id` whose `amr` matches."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
                    },
                }
            ],
        }
    )


def session_identity(server, credentials):
    """GetCallerIdentity with vended credentials (boto3's key names)."""
    sts = server.client(
        "sts",
        key=credentials["AccessKeyId"],
        secret=credentials["SecretKey"],
        token=credentials["SessionToken"],
    )
    return sts.get_caller_identity()


def verified_open_id_claims(token, discovery, pool_id, issuer, alg="RS512"):
    """The claims of an OpenID token cognate signed, verified as an app
    would (`alg` under a key of the published JWKS, for this pool), and
    the key that verified them."""
    import jwt

    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg
    assert header.get("kid")
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=[alg],
        audience=pool_id,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )
    return claims, signing_key


@pytest.fixture(scope="module")
def oidc():
    """An OIDC issuer fixture on 127.0.0.1, for the module."""
    from oidc_fixture import OidcProvider

    p = OidcProvider()
    yield p
    p.stop()


# Module-scoped clients, for module-scoped fixtures that build on them.
@pytest.fixture(scope="module")
def admin(server):
    return server.client("cognito-identity")


@pytest.fixture(scope="module")
def public(server):
    return unsigned(server, "cognito-identity")


@pytest.fixture(scope="module")
def public_sts(server):
    return unsigned(server, "sts")


@pytest.fixture(scope="module")
def iam_client(server):
    return server.client("iam")


@pytest.fixture
def cognito(server):
    return server.client("cognito-identity")


@pytest.fixture
def sts(server):
    return server.client("sts")


@pytest.fixture
def iam(server):
    return server.client("iam")
