"""The container image, run the way a container runtime runs it.

`scripts/image` builds the image with buildah; this suite reads its
configuration (`buildah inspect`), mounts its root filesystem
(`buildah mount`), and starts its entrypoint inside it: a private mount
namespace binds a host directory as `/data`, and `chroot --userspec` runs
the entrypoint as the image's user with the image's environment. Only
`COGNATE_LISTEN` is changed, to a free port, since the test shares the
host's network. (`podman run` cannot start containers in this sandbox.)

Run by scripts/test when COGNATE_TEST_IMAGE names a built image; needs
root (for the mount namespace and chroot).
"""

import datetime
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "compat"))
from oidc_fixture import OidcProvider  # noqa: E402

IMAGE = os.environ.get("COGNATE_TEST_IMAGE")
pytestmark = pytest.mark.skipif(not IMAGE, reason="COGNATE_TEST_IMAGE names no image")

MAX_IMAGE_BYTES = 25 * 1000 * 1000


def buildah(*args):
    return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def image():
    """The image's configuration, and its root filesystem mounted."""
    inspected = json.loads(buildah("inspect", "--type", "image", IMAGE))
    container = buildah("from", "--pull-never", IMAGE)
    root = buildah("mount", container)
    yield {"config": inspected["OCIv1"]["config"], "root": root, "inspect": inspected}
    buildah("umount", container)
    buildah("rm", container)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Container:
    """The image's entrypoint, started in its root filesystem as its user."""

    def __init__(self, image, data_dir, extra_env=None):
        config = image["config"]
        self.port = free_port()
        env = dict(e.split("=", 1) for e in config.get("Env", []))
        env["COGNATE_LISTEN"] = f"0.0.0.0:{self.port}"
        env.update(extra_env or {})
        # The host's PATH, for unshare, mount and chroot themselves.
        env.setdefault("PATH", os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
        command = config["Entrypoint"] + config.get("Cmd", [])
        user = config["User"]
        script = 'mount --bind "$1" "$2/data" && root="$2" && shift 3 && exec chroot --userspec="$USERSPEC" "$root" "$@"'
        env["USERSPEC"] = user
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", data_dir, image["root"], "--", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.ready_after = self._wait_healthy()

    def _wait_healthy(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("the container exited:\n" + self.proc.stdout.read())
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise AssertionError("no /healthz within 30 s:\n" + self.proc.stdout.read())

    def client(self, service, credentials=None):
        config = Config(retries={"max_attempts": 1})
        if credentials is None:
            config = config.merge(Config(signature_version=UNSIGNED))
            credentials = {}
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=config,
            **credentials,
        )

    def stop(self):
        self.proc.terminate()
        try:
            output, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        return output


def admin_credentials(data_dir):
    with open(os.path.join(data_dir, "admin-credentials.json")) as f:
        stored = json.load(f)
    return {
        "aws_access_key_id": stored["access_key_id"],
        "aws_secret_access_key": stored["secret_access_key"],
    }


@pytest.fixture
def data_dir():
    """A host directory for /data, owned by the image's user as a
    runtime's named volume would be."""
    path = tempfile.mkdtemp(prefix="cognate-image-data-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def owner_of(image):
    uid, _, gid = image["config"]["User"].partition(":")
    return int(uid), int(gid or uid)


def test_the_image_is_small_and_runs_as_a_user_that_is_not_root(image):
    config = image["config"]
    user = config.get("User", "")
    assert user and user.split(":")[0] not in ("0", "root"), user
    assert owner_of(image)[0] != 0
    with open(os.path.join(image["root"], "etc", "passwd")) as f:
        assert f"cognate:x:{owner_of(image)[0]}:" in f.read()
    size = tree_size(image["root"])
    assert 0 < size < MAX_IMAGE_BYTES, f"{size} bytes"
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["COGNATE_LISTEN"] == "0.0.0.0:8085"
    assert env["COGNATE_DATA_DIR"] == "/data"
    assert "8085/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    labels = config["Labels"]
    for label in ("source", "version", "licenses"):
        assert labels.get(f"org.opencontainers.image.{label}"), label
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    # The source URL carries no credentials of the checkout it came from.
    assert not re.search(r"://[^/@]*@", labels["org.opencontainers.image.source"]), labels
    # No secret is baked in: the data directory is empty, and the user's
    # own (a named volume starts out as the image's /data is).
    data = os.path.join(image["root"], "data")
    assert os.listdir(data) == []
    info = os.stat(data)
    assert (info.st_uid, info.st_gid) == owner_of(image), (info.st_uid, info.st_gid)


def tree_size(root):
    """The bytes of every file in the image's root filesystem (what its one
    layer holds, uncompressed)."""
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(directory, name)).st_size
    return total


def test_a_guest_survives_a_restart_and_the_data_is_the_users_alone(image, data_dir):
    uid, gid = owner_of(image)
    os.chown(data_dir, uid, gid)
    container = Container(image, data_dir)
    try:
        print(f"\nstart to /healthz inside the image: {container.ready_after * 1000:.0f} ms")
        admin = container.client("cognito-identity", admin_credentials(data_dir))
        pool = admin.create_identity_pool(IdentityPoolName="image", AllowUnauthenticatedIdentities=True)
        pool_id = pool["IdentityPoolId"]
        identity_id = container.client("cognito-identity").get_id(IdentityPoolId=pool_id)["IdentityId"]
    finally:
        container.stop()

    files = sorted(os.listdir(data_dir))
    assert "admin-credentials.json" in files and any(f.endswith(".db") for f in files), files
    for name in files:
        info = os.stat(os.path.join(data_dir, name))
        assert (info.st_uid, info.st_gid) == (uid, gid), name
        assert stat.S_IMODE(info.st_mode) == 0o600, f"{name}: {oct(info.st_mode)}"

    again = Container(image, data_dir)
    try:
        admin = again.client("cognito-identity", admin_credentials(data_dir))
        described = admin.describe_identity(IdentityId=identity_id)
        assert described["IdentityId"] == identity_id
        assert admin.describe_identity_pool(IdentityPoolId=pool_id)["IdentityPoolName"] == "image"
    finally:
        again.stop()


def register_oidc_pool(container, data_dir, provider):
    """A pool whose logins are `provider`'s ID tokens; its id."""
    credentials = admin_credentials(data_dir)
    provider_arn = container.client("iam", credentials).create_open_id_connect_provider(
        Url=provider.base, ClientIDList=["image-client"], ThumbprintList=["0" * 40]
    )["OpenIDConnectProviderArn"]
    admin = container.client("cognito-identity", credentials)
    return admin.create_identity_pool(
        IdentityPoolName="oidc",
        AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[provider_arn],
    )["IdentityPoolId"]


def oidc_login(container, pool_id, provider):
    return container.client("cognito-identity").get_id(
        IdentityPoolId=pool_id,
        Logins={provider.logins_key: provider.token("alice", "image-client")},
    )


def test_an_oidc_login_is_checked_against_its_issuer_from_inside_the_image(image, data_dir):
    os.chown(data_dir, *owner_of(image))
    provider = OidcProvider()
    container = Container(image, data_dir)
    try:
        pool_id = register_oidc_pool(container, data_dir, provider)
        identity = oidc_login(container, pool_id, provider)
        assert identity["IdentityId"].startswith("us-east-1:")
        assert "/.well-known/openid-configuration" in provider.requests
    finally:
        container.stop()
        provider.stop()


def private_ca():
    """A CA and a certificate for 127.0.0.1 it signed, as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("cognate image test CA"))
        .issuer_name(name("cognate image test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def test_a_private_ca_is_trusted_once_added_to_the_bundle(image, data_dir):
    """An issuer whose certificate a private CA signed: refused with the
    image's public bundle, accepted once SSL_CERT_FILE names a bundle that
    adds the CA (what the README tells operators to do)."""
    os.chown(data_dir, *owner_of(image))
    ca_pem, cert_pem, key_pem = private_ca()
    tls_dir = tempfile.mkdtemp(prefix="cognate-image-tls-")
    try:
        cert_file, key_file = os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem")
        with open(cert_file, "wb") as f:
            f.write(cert_pem)
        with open(key_file, "wb") as f:
            f.write(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        provider = OidcProvider(tls=context)
    finally:
        shutil.rmtree(tls_dir, ignore_errors=True)
    try:
        public_only = Container(image, data_dir)
        try:
            pool_id = register_oidc_pool(public_only, data_dir, provider)
            with pytest.raises(ClientError) as refused:
                oidc_login(public_only, pool_id, provider)
            error = refused.value.response["Error"]
            assert error["Code"] == "ExternalServiceException", error
            assert "UnknownIssuer" in error["Message"], error
            assert provider.requests == [], "the issuer was read over an untrusted connection"
        finally:
            public_only.stop()

        # The public bundle plus the private CA, where the image's user can
        # read it (a mounted file in a real deployment).
        with open(os.path.join(image["root"], "etc", "ssl", "certs", "ca-certificates.crt"), "rb") as f:
            bundle = f.read() + b"\n" + ca_pem
        bundle_path = os.path.join(data_dir, "ca-bundle.crt")
        with open(bundle_path, "wb") as f:
            f.write(bundle)
        os.chmod(bundle_path, 0o644)
        trusting = Container(image, data_dir, {"SSL_CERT_FILE": "/data/ca-bundle.crt"})
        try:
            identity = oidc_login(trusting, pool_id, provider)
            assert identity["IdentityId"].startswith("us-east-1:")
            assert "/.well-known/openid-configuration" in provider.requests
        finally:
            trusting.stop()
    finally:
        provider.stop()
