"""A real OpenID Connect issuer for tests, on 127.0.0.1.

It serves what a provider such as Keycloak serves, over real HTTP, with real keys:
discovery (`<issuer>/.well-known/openid-configuration`, and the RFC 8414 form
`/.well-known/oauth-authorization-server<issuer path>`), a JWKS of RSA and EC public keys,
and a token endpoint for the client-credentials grant (client_secret_basic or
client_secret_post; `resource`/`audience` become the token's `aud`). Keys rotate on
demand. It counts what it serves, so tests can check that a gateway does not hammer it.

Tokens are signed with PyJWT and the `cryptography` keys a real provider would use; tests
also forge the tokens an attacker would send (`forge_*`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

REALM_PATH = "/realms/test"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def rsa(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(f"rsa-{uuid.uuid4().hex[:8]}", "RS256", key)

    @classmethod
    def ec(cls) -> SigningKey:
        return cls(f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if self.algorithm.startswith("RS"):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class Client:
    secret: str
    claims: dict[str, Any] = field(default_factory=dict)
    lifetime: int = 300
    scopes: frozenset[str] | None = None
    """Scopes the client may ask for (None: any); others get 400 invalid_scope."""


class OidcIssuer:
    """The issuer; `start()` serves it on a free port of 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [SigningKey.rsa(), SigningKey.ec()]
        self.clients: dict[str, Client] = {}
        self.hits: Counter[str] = Counter()
        self.tokens_issued: list[str] = []
        self.outage: int | None = None
        """While set, the token endpoint answers with this status (503: an outage)."""
        self.echo_secrets = False
        """Whether a refusal's error_description repeats the secret presented (as a careless
        provider might): what a client must never pass on."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- serving -----------------------------------------------------------------

    def start(self) -> OidcIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                issuer._get(self)

            def do_POST(self) -> None:
                issuer._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The issuer identifier (`iss`), with a realm path as Keycloak has."""
        return self.origin + REALM_PATH

    @property
    def token_url(self) -> str:
        return self.url + "/protocol/openid-connect/token"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + "/protocol/openid-connect/certs",
            "token_endpoint": self.token_url,
            "authorization_endpoint": self.url + "/protocol/openid-connect/auth",
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "subject_types_supported": ["public"],
        }

    def _get(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0]
        discovery = {
            REALM_PATH + "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server" + REALM_PATH,
            "/.well-known/openid-configuration" + REALM_PATH,
        }
        if path in discovery:
            self.hits["discovery"] += 1
            _send(request, 200, self.metadata())
        elif path == REALM_PATH + "/protocol/openid-connect/certs":
            self.hits["jwks"] += 1
            _send(request, 200, {"keys": [key.jwk() for key in self.keys]})
        else:
            _send(request, 404, {"error": "not_found"})

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.split("?")[0] != REALM_PATH + "/protocol/openid-connect/token":
            _send(request, 404, {"error": "not_found"})
            return
        self.hits["token"] += 1
        if self.outage is not None:
            _send(request, self.outage, {"error": "temporarily_unavailable"})
            return
        length = int(request.headers.get("content-length") or 0)
        form = {k: v[0] for k, v in parse_qs(request.rfile.read(length).decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            decoded = base64.b64decode(basic[6:]).decode()
            client_id, _, secret = (unquote(part) for part in decoded.partition(":"))
        client = self.clients.get(client_id or "")
        if client is None or not hmac.compare_digest(client.secret, secret or ""):
            description = "Invalid client or Invalid client credentials"
            if self.echo_secrets:
                description += f" (client {client_id}, secret {secret})"
            _send(request, 401, {"error": "invalid_client", "error_description": description})
            return
        if form.get("grant_type") != "client_credentials":
            _send(request, 400, {"error": "unsupported_grant_type"})
            return
        asked = set((form.get("scope") or "").split())
        if client.scopes is not None and not asked <= client.scopes:
            refused = " ".join(sorted(asked - client.scopes))
            _send(request, 400, {"error": "invalid_scope", "error_description": f"{refused}"})
            return
        audience = form.get("resource") or form.get("audience") or "account"
        token = self.mint(
            {"sub": client_id, "azp": client_id, **client.claims, "aud": audience},
            lifetime=client.lifetime,
        )
        self.tokens_issued.append(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": client.lifetime}
        if form.get("scope"):
            body["scope"] = form["scope"]
        _send(request, 200, body)

    # -- keys and tokens ---------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        secret: str,
        *,
        lifetime: int = 300,
        scopes: frozenset[str] | None = None,
        **claims: Any,
    ) -> None:
        self.clients[client_id] = Client(secret, claims, lifetime, scopes)

    def rotate(self) -> SigningKey:
        """A new RSA key replaces the old ones (as a provider's rotation ends)."""
        self.keys = [SigningKey.rsa()]
        return self.keys[0]

    def mint(
        self,
        claims: dict[str, Any],
        *,
        key: SigningKey | None = None,
        lifetime: int = 300,
        issuer: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        signer = key or self.keys[0]
        now = int(time.time())
        payload = {
            "iss": issuer or self.url,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(
            payload,
            signer.private,
            algorithm=signer.algorithm,
            headers={"kid": signer.kid, **(headers or {})},
        )

    def forge_unsigned(self, claims: dict[str, Any]) -> str:
        """`alg: none`: a token with no signature at all."""
        now = int(time.time())
        payload = {"iss": self.url, "iat": now, "exp": now + 300, **claims}
        return _join({"alg": "none", "typ": "JWT"}, payload, b"")

    def forge_hmac_with_public_key(self, claims: dict[str, Any]) -> str:
        """HS256 keyed with the issuer's published RSA key (the algorithm-confusion attack)."""
        key = self.keys[0]
        now = int(time.time())
        payload = {"iss": self.url, "iat": now, "exp": now + 300, **claims}
        header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
        mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(mac)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _join(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature))
    )


def _send(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("content-type", "application/json")
    request.send_header("content-length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
