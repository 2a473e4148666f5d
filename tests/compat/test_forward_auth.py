"""Forward-auth with botocore's signer: requests signed by
`botocore.auth.SigV4Auth` (service execute-api) with credentials from
GetCredentialsForIdentity, sent through real nginx (auth_request) and Caddy
(forward_auth) configured as deploy/forward-auth/ documents, in front of
an upstream that echoes what it got and checks the body against the hash
cognate verified."""

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ROOT, Server, trust_policy

API = "pyapi0001"
ACCOUNT = "000000000000"
DEPLOY = os.path.join(ROOT, "deploy", "forward-auth")


def arn(method, path):
    return f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API}/prod/{method}/{path}"


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers what it received; refuses a body that is not the signed one."""

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        digest = hashlib.sha256(body).hexdigest()
        verified = self.headers.get("x-amzn-content-sha256")
        # Fail closed: no verified hash, no request.
        if verified != digest:
            status, answer = 400, {"message": "The body does not match the SHA-256 its signature covers."}
        else:
            headers = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            status, answer = 200, {"method": self.command, "uri": self.path, "headers": headers, "bodySha256": digest}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """nginx or Caddy with the documented configuration."""

    def __init__(self, kind, cognate, upstream):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"cognate-{kind}-")
        self.port = free_port()
        listen = f"127.0.0.1:{self.port}"
        template = open(os.path.join(DEPLOY, "nginx.conf" if kind == "nginx" else "Caddyfile")).read()
        site = template.replace("{{listen}}", listen).replace("{{cognate}}", cognate).replace("{{upstream}}", upstream)
        d = self.dir
        env = dict(os.environ)
        if kind == "nginx":
            user = "user root;" if os.geteuid() == 0 else ""
            conf = (
                f"daemon off;\n{user}\nworker_processes 1;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\n"
                f"events {{ worker_connections 256; }}\nhttp {{\n access_log off;\n client_body_temp_path {d}/body;\n"
                f" proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/f;\n uwsgi_temp_path {d}/u;\n scgi_temp_path {d}/s;\n"
                f"{site}\n}}\n"
            )
            path = os.path.join(d, "nginx.conf")
            args = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", d, "-c", path]
        else:
            conf = f"{{\n admin off\n auto_https off\n storage file_system {d}/data\n}}\n{site}\n"
            path = os.path.join(d, "Caddyfile")
            args = [shutil.which("caddy") or "/usr/bin/caddy", "run", "--adapter", "caddyfile", "--config", path]
            env.update(HOME=d, XDG_DATA_HOME=f"{d}/data", XDG_CONFIG_HOME=f"{d}/config")
        with open(path, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(d, "proxy.log"), "w")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"{kind} did not start: " + open(os.path.join(d, "proxy.log")).read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def installed(kind):
    found = shutil.which(kind) or os.path.exists(f"/usr/sbin/{kind}")
    if not found and os.environ.get("COGNATE_TEST_REQUIRE_PROXIES") == "1":
        raise AssertionError(f"COGNATE_TEST_REQUIRE_PROXIES=1 but {kind} is not installed")
    return found


@pytest.fixture(scope="module")
def server():
    s = Server(config_text=f'[[apis]]\nid = "{API}"\nstage = "prod"\n')
    yield s
    s.stop()


@pytest.fixture(scope="module")
def upstream():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def proxy(request, server, upstream):
    if not installed(request.param):
        pytest.skip(f"{request.param} is not installed")
    p = Proxy(request.param, server.endpoint.removeprefix("http://"), upstream)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def guest(server, admin, iam_client, public):
    pool_id = admin.create_identity_pool(IdentityPoolName="forward", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"
    ]
    role = iam_client.create_role(RoleName="PyApiGuest", AssumeRolePolicyDocument=trust_policy(pool_id, "unauthenticated"))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "execute-api:Invoke",
                "Resource": [arn("GET", "items/*"), arn("POST", "items"), arn("*", "users/${cognito-identity.amazonaws.com:sub}/*")],
            }
        ],
    }
    iam_client.put_role_policy(RoleName="PyApiGuest", PolicyName="api", PolicyDocument=json.dumps(policy))
    admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": role["Role"]["Arn"]})
    identity_id = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
    c = public.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    return identity_id, Credentials(c["AccessKeyId"], c["SecretKey"], c["SessionToken"])


def signed_call(proxy, credentials, method, path, body=b"", hash_body=True):
    url = f"http://127.0.0.1:{proxy.port}{path}"
    headers = {}
    if hash_body:
        # botocore's SigV4Auth signs x-amz-content-sha256 when it is set.
        headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return send(request.method, url, dict(request.headers), body)


def send(method, url, headers, body):
    req = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        # The headers as an email.message.Message: names without case.
        return e.code, e.headers, json.loads(e.read() or b"null")


def test_a_botocore_signed_request_passes_with_who_called(proxy, guest):
    identity_id, credentials = guest
    status, _, echoed = signed_call(proxy, credentials, "GET", "/items/42?sort=asc")
    assert status == 200, (proxy.kind, echoed)
    assert echoed["uri"] == "/items/42?sort=asc"
    assert echoed["headers"]["x-cognito-identity-id"] == [identity_id]
    assert echoed["headers"]["x-cognito-authentication-type"] == ["unauthenticated"]
    assert echoed["headers"]["x-amzn-resource-arn"] == [arn("GET", "items/42")]
    # Its own folder, with a body.
    status, _, echoed = signed_call(proxy, credentials, "PUT", f"/users/{identity_id}/a", b"hello")
    assert status == 200, (proxy.kind, echoed)
    assert echoed["bodySha256"] == hashlib.sha256(b"hello").hexdigest()


def test_denials_are_api_gateways(proxy, guest):
    _, credentials = guest
    status, headers, body = signed_call(proxy, credentials, "DELETE", "/items/42")
    assert status == 403
    assert headers.get("x-amzn-ErrorType") == "AccessDeniedException"
    assert body == {
        "Message": "User: arn:aws:sts::000000000000:assumed-role/PyApiGuest/CognitoIdentityCredentials "
        f"is not authorized to perform: execute-api:Invoke on resource: {arn('DELETE', 'items/42')}"
    }
    # Another identity's folder.
    status, _, _ = signed_call(proxy, credentials, "PUT", "/users/us-east-1:other/a", b"x")
    assert status == 403
    # Unsigned.
    status, headers, body = send("GET", f"http://127.0.0.1:{proxy.port}/items/1", {}, b"")
    assert status == 403
    assert headers.get("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert body == {"message": "Missing Authentication Token"}


def test_a_tampered_body_never_counts_as_signed(proxy, guest):
    _, credentials = guest
    url = f"http://127.0.0.1:{proxy.port}/items"
    body = b'{"n": 1}'
    request = AWSRequest(method="POST", url=url, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    status, _, answer = send("POST", url, dict(request.headers), b'{"n": 2}')
    assert status == 400, (proxy.kind, answer)
    # Without the hash header, a body is refused outright.
    status, headers, answer = signed_call(proxy, credentials, "POST", "/items", b"{}", hash_body=False)
    assert status == 403, (proxy.kind, answer)
    assert headers.get("x-amzn-ErrorType") == "InvalidSignatureException"
