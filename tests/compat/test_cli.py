"""The AWS CLI (v1, from PyPI, in this venv) against cognate.

Every command runs the venv's own `aws` executable as a subprocess,
configured only through environment variables, as a CI job or a developer
shell would: `AWS_ENDPOINT_URL_COGNITO_IDENTITY`, `AWS_ENDPOINT_URL_STS`
and `AWS_ENDPOINT_URL_IAM` (service-specific endpoints; AWS CLI v1 has them
through its botocore, 1.31 and later), keys in `AWS_ACCESS_KEY_ID` /
`AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`), and `AWS_DEFAULT_REGION`.
HOME, `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` point into an
empty temporary directory, so no configuration of the machine leaks in,
and the instance metadata service is never asked.

Covered: admin setup (an OIDC provider and roles through IAM, a pool and
its roles through Cognito Identity), the enhanced flow (get-id,
get-credentials-for-identity, then sts get-caller-identity signed with the
vended credentials) for a guest and for an OIDC login, the basic flow
(get-open-id-token, then sts assume-role-with-web-identity, which the CLI
sends unsigned), and an error as the CLI reports it.
"""

import json
import os
import subprocess
import sys
import tempfile
import uuid

import pytest

from conftest import ADMIN_KEY, ADMIN_SECRET, trust_policy

CLIENT = "cli-client-1"
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
TIMEOUT = 60


@pytest.fixture(scope="module")
def cli(server):
    if not os.path.exists(AWS):
        pytest.fail(f"the AWS CLI is not installed in this venv ({AWS}); pip install -r tests/compat/requirements.txt")
    with tempfile.TemporaryDirectory(prefix="cognate-cli-home-") as home:
        yield Cli(server.endpoint, home)


class Cli:
    def __init__(self, endpoint, home):
        self.endpoint = endpoint
        self.home = home

    def env(self, credentials):
        """The whole environment of one command: nothing inherited but PATH."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "AWS_CONFIG_FILE": os.path.join(self.home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.home, "credentials"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY": self.endpoint,
            "AWS_ENDPOINT_URL_STS": self.endpoint,
            "AWS_ENDPOINT_URL_IAM": self.endpoint,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "LC_ALL": "C.UTF-8",
        }
        if credentials is not None:
            env["AWS_ACCESS_KEY_ID"] = credentials["AccessKeyId"]
            env["AWS_SECRET_ACCESS_KEY"] = credentials.get("SecretKey") or credentials["SecretAccessKey"]
            if credentials.get("SessionToken"):
                env["AWS_SESSION_TOKEN"] = credentials["SessionToken"]
        return env

    def run(self, *args, credentials=None):
        """`aws <args> --output json`; the completed process."""
        return subprocess.run(
            [AWS, *args, "--output", "json"],
            env=self.env(credentials),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=self.home,
        )

    def ok(self, *args, credentials=None):
        """Runs a command that must succeed; its JSON output."""
        done = self.run(*args, credentials=credentials)
        assert done.returncode == 0, f"aws {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def admin(self, *args):
        return self.ok(*args, credentials={"AccessKeyId": ADMIN_KEY, "SecretKey": ADMIN_SECRET})

    def public(self, *args):
        """A call the real service takes unsigned, from a shell with no
        credentials at all: the CLI sends it unsigned or fails."""
        return self.ok(*args)


@pytest.fixture(scope="module")
def setup(cli, oidc):
    """Admin setup through the CLI: an OIDC provider, two roles, a pool
    trusting the provider, and its roles."""
    oidc_arn = cli.admin(
        "iam",
        "create-open-id-connect-provider",
        "--url",
        oidc.issuer,
        "--client-id-list",
        CLIENT,
        "--thumbprint-list",
        "0" * 40,
    )["OpenIDConnectProviderArn"]
    pool = cli.admin(
        "cognito-identity",
        "create-identity-pool",
        "--identity-pool-name",
        "cli_pool",
        "--allow-unauthenticated-identities",
        "--open-id-connect-provider-arns",
        oidc_arn,
    )
    pool_id = pool["IdentityPoolId"]
    assert pool["AllowUnauthenticatedIdentities"] is True
    assert pool["OpenIdConnectProviderARNs"] == [oidc_arn]

    suffix = uuid.uuid4().hex[:8]
    roles = {}
    for kind, prefix in (("unauthenticated", "CliGuest"), ("authenticated", "CliAuth")):
        name = f"{prefix}-{suffix}"
        role = cli.admin(
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            trust_policy(pool_id, kind),
        )["Role"]
        assert role["RoleName"] == name
        roles[kind] = role
    cli.admin(
        "cognito-identity",
        "set-identity-pool-roles",
        "--identity-pool-id",
        pool_id,
        "--roles",
        json.dumps({kind: role["Arn"] for kind, role in roles.items()}),
    )
    got = cli.admin("cognito-identity", "get-identity-pool-roles", "--identity-pool-id", pool_id)
    assert got["Roles"] == {kind: role["Arn"] for kind, role in roles.items()}
    described = cli.admin("cognito-identity", "describe-identity-pool", "--identity-pool-id", pool_id)
    assert described["IdentityPoolName"] == "cli_pool"
    return {"pool_id": pool_id, "roles": roles, "oidc_arn": oidc_arn}


def caller_of(cli, credentials):
    """sts get-caller-identity signed with vended credentials (incl. the
    session token), from the environment alone."""
    return cli.ok("sts", "get-caller-identity", credentials=credentials)


def test_admin_calls_need_credentials(cli, setup):
    done = cli.run("cognito-identity", "list-identity-pools", "--max-results", "10")
    assert done.returncode != 0
    assert "Unable to locate credentials" in done.stderr, done.stderr
    listed = cli.admin("cognito-identity", "list-identity-pools", "--max-results", "10")
    assert setup["pool_id"] in [p["IdentityPoolId"] for p in listed["IdentityPools"]]
    me = cli.admin("sts", "get-caller-identity")
    assert me["Arn"] == "arn:aws:iam::000000000000:root"


def test_enhanced_flow_for_a_guest(cli, setup):
    pool_id = setup["pool_id"]
    identity_id = cli.public("cognito-identity", "get-id", "--identity-pool-id", pool_id)["IdentityId"]
    assert identity_id.startswith("us-east-1:")
    got = cli.public("cognito-identity", "get-credentials-for-identity", "--identity-id", identity_id)
    assert got["IdentityId"] == identity_id
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    me = caller_of(cli, creds)
    guest_role = setup["roles"]["unauthenticated"]["RoleName"]
    assert f":assumed-role/{guest_role}/" in me["Arn"], me["Arn"]
    assert me["Account"] == "000000000000"


def test_enhanced_flow_with_an_oidc_login(cli, setup, oidc):
    pool_id = setup["pool_id"]
    logins = json.dumps({oidc.logins_key: oidc.token("cli-alice", CLIENT)})
    identity_id = cli.public(
        "cognito-identity", "get-id", "--identity-pool-id", pool_id, "--logins", logins
    )["IdentityId"]
    again = cli.public(
        "cognito-identity",
        "get-id",
        "--identity-pool-id",
        pool_id,
        "--logins",
        json.dumps({oidc.logins_key: oidc.token("cli-alice", CLIENT)}),
    )["IdentityId"]
    assert again == identity_id
    got = cli.public(
        "cognito-identity",
        "get-credentials-for-identity",
        "--identity-id",
        identity_id,
        "--logins",
        logins,
    )
    me = caller_of(cli, got["Credentials"])
    auth_role = setup["roles"]["authenticated"]["RoleName"]
    assert f":assumed-role/{auth_role}/" in me["Arn"], me["Arn"]

    described = cli.admin("cognito-identity", "describe-identity", "--identity-id", identity_id)
    assert described["Logins"] == [oidc.logins_key]


def test_basic_flow(cli, setup, oidc):
    pool_id = setup["pool_id"]
    logins = json.dumps({oidc.logins_key: oidc.token("cli-bob", CLIENT)})
    identity_id = cli.public(
        "cognito-identity", "get-id", "--identity-pool-id", pool_id, "--logins", logins
    )["IdentityId"]
    token = cli.public(
        "cognito-identity", "get-open-id-token", "--identity-id", identity_id, "--logins", logins
    )
    assert token["IdentityId"] == identity_id
    auth_role = setup["roles"]["authenticated"]
    assumed = cli.public(
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        auth_role["Arn"],
        "--role-session-name",
        "cli-basic",
        "--web-identity-token",
        token["Token"],
    )
    assert assumed["SubjectFromWebIdentityToken"] == identity_id
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{auth_role['RoleName']}/cli-basic")
    me = caller_of(cli, assumed["Credentials"])
    assert me["Arn"] == assumed["AssumedRoleUser"]["Arn"]

    # A guest's token in the basic flow; --no-sign-request says so explicitly.
    guest = cli.public("cognito-identity", "get-id", "--identity-pool-id", pool_id)["IdentityId"]
    guest_token = cli.public("cognito-identity", "get-open-id-token", "--identity-id", guest)["Token"]
    guest_role = setup["roles"]["unauthenticated"]
    assumed = cli.ok(
        "sts",
        "assume-role-with-web-identity",
        "--no-sign-request",
        "--role-arn",
        guest_role["Arn"],
        "--role-session-name",
        "cli-guest",
        "--web-identity-token",
        guest_token,
    )
    assert assumed["SubjectFromWebIdentityToken"] == guest

    # The guest's token is not trusted by the authenticated role.
    done = cli.run(
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        auth_role["Arn"],
        "--role-session-name",
        "cli-guest",
        "--web-identity-token",
        guest_token,
    )
    assert done.returncode != 0
    assert "(AccessDenied)" in done.stderr, done.stderr


def test_errors_as_the_cli_reports_them(cli, setup):
    # AWS CLI v1 exits 255 on a service error (v2 says 254).
    missing = "us-east-1:00000000-0000-4000-8000-000000000000"
    done = cli.run("cognito-identity", "get-id", "--identity-pool-id", missing)
    assert done.returncode == 255, (done.returncode, done.stderr)
    assert "(ResourceNotFoundException) when calling the GetId operation" in done.stderr, done.stderr

    done = cli.run(
        "cognito-identity",
        "get-id",
        "--identity-pool-id",
        setup["pool_id"],
        "--logins",
        json.dumps({"127.0.0.1:1": "not-a-token"}),
    )
    assert done.returncode == 255, (done.returncode, done.stderr)
    assert "(NotAuthorizedException)" in done.stderr, done.stderr
