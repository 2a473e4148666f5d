"""A real OpenID Connect provider for the boto3 suite.

`OidcProvider` serves, on 127.0.0.1 and an ephemeral port:

- generic OIDC (``OidcProvider()``): issuer ``http://127.0.0.1:PORT``,
  ``/.well-known/openid-configuration`` whose ``jwks_uri`` points at
  ``/jwks.json``;
- a Cognito user pool (``OidcProvider(user_pool_id="us-east-1_Abc")``):
  issuer ``http://127.0.0.1:PORT/us-east-1_Abc``, keys at
  ``<issuer>/.well-known/jwks.json`` (and discovery under the issuer too).

Tokens are RS256, signed with a fresh RSA-2048 key whose ``kid`` is in the
JWKS. Helpers build the malformed variants the bad-token tests need.
"""

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class OidcProvider:
    def __init__(self, user_pool_id=None, tls=None):
        """``tls``: an ``ssl.SSLContext`` to serve HTTPS with."""
        self.user_pool_id = user_pool_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "kid-" + uuid.uuid4().hex[:12]
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.requests = []  # paths served, for assertions on fetching

        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                provider.requests.append(self.path)
                body = provider._document(self.path.split("?", 1)[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.issuer = f"{self.base}/{user_pool_id}" if user_pool_id else self.base
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    # --- HTTP -------------------------------------------------------------

    def _jwks_path(self):
        prefix = f"/{self.user_pool_id}" if self.user_pool_id else ""
        return f"{prefix}/.well-known/jwks.json"

    def _document(self, path):
        prefix = f"/{self.user_pool_id}" if self.user_pool_id else ""
        if path == f"{prefix}/.well-known/openid-configuration":
            return {
                "issuer": self.issuer,
                "jwks_uri": self.base + self._jwks_path(),
                "authorization_endpoint": f"{self.issuer}/authorize",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        if path == self._jwks_path():
            return {"keys": [self.jwk]}
        return None

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- tokens -----------------------------------------------------------

    @property
    def logins_key(self):
        """The Logins key: the issuer without its scheme."""
        return self.issuer.split("://", 1)[1]

    def claims(self, sub, aud, lifetime=3600, **extra):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": aud, "iat": now, "exp": now + lifetime}
        if self.user_pool_id:
            claims.update(
                {
                    "token_use": "id",
                    "cognito:username": sub,
                    "email_verified": True,
                    "auth_time": now,
                    "event_id": str(uuid.uuid4()),
                }
            )
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims, kid=None, key=None):
        return jwt.encode(
            claims,
            key or self.key,
            algorithm="RS256",
            headers={"kid": kid or self.kid},
        )

    def token(self, sub, aud, lifetime=3600, **extra):
        """A valid RS256 ID token (None-valued extras drop a claim)."""
        return self.sign(self.claims(sub, aud, lifetime, **extra))

    # --- bad tokens -------------------------------------------------------

    def tampered(self, sub, aud):
        """A valid token whose payload was changed after signing."""
        header, _, signature = self.token(sub, aud).split(".")
        payload = self.claims(sub + "-evil", aud)
        return ".".join([header, b64url(json.dumps(payload).encode()), signature])

    def alg_none(self, sub, aud):
        header = {"alg": "none", "typ": "JWT", "kid": self.kid}
        return ".".join(
            [
                b64url(json.dumps(header).encode()),
                b64url(json.dumps(self.claims(sub, aud)).encode()),
                "",
            ]
        )

    def hs256_with_public_key(self, sub, aud):
        """The key-confusion attack: HMAC keyed with the public key PEM.

        PyJWT refuses to use a PEM as an HMAC secret, so sign by hand."""
        import hashlib
        import hmac

        header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(self.claims(sub, aud)).encode())
        )
        mac = hmac.new(self.public_pem, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(mac)

    def unknown_kid(self, sub, aud):
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.sign(self.claims(sub, aud), kid="kid-unknown-" + uuid.uuid4().hex[:6], key=other)
