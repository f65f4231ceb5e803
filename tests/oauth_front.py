"""A remote MCP server that demands OAuth: a bearer-checking front on 127.0.0.1 before a real
server-everything in streamableHttp mode.

The front verifies each request's `Authorization: Bearer` JWT against the test issuer's
keys and audience (as a hosted MCP server does), answers 401 with `WWW-Authenticate:
Bearer error="invalid_token"` otherwise, and passes accepted requests through unchanged,
streaming the answer (JSON or SSE) back as it arrives. `revoke_seen` makes it refuse
every token it has accepted so far, as a provider's revocation would; `refusing` every
token at all.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt

from tests.conftest import node_server
from tests.controller_harness import wait_for
from tests.oidc_issuer import OidcIssuer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OAuthFront:
    """server-everything behind a front that requires the issuer's tokens for `audience`."""

    def __init__(self, issuer: OidcIssuer) -> None:
        self.issuer = issuer
        self.counts: Counter[str] = Counter()
        self.tokens_seen: set[str] = set()
        self._revoked: set[str] = set()
        self.refusing = False
        """While set, every token is refused (as when the server stops trusting the issuer)."""
        self._backend_port = free_port()
        self._backend: subprocess.Popen[bytes] | None = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/mcp"

    @property
    def audience(self) -> str:
        return self.url

    def start(self) -> OAuthFront:
        self._backend = subprocess.Popen(
            [*node_server("mcp-server-everything"), "streamableHttp"],
            env={**os.environ, "PORT": str(self._backend_port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._backend_listening, what="server-everything listening")
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                front._handle(self)

            def do_POST(self) -> None:
                front._handle(self)

            def do_DELETE(self) -> None:
                front._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._backend is not None:
            os.killpg(self._backend.pid, signal.SIGTERM)
            self._backend.wait(timeout=10)

    def revoke_seen(self) -> None:
        """Refuse every token accepted so far (as a provider's revocation would)."""
        self._revoked |= self.tokens_seen

    def _backend_listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self._backend_port)) == 0

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("bearer "):
            return False
        token = header[7:].strip()
        keys = {key.kid: key for key in self.issuer.keys}
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = keys[kid]
            claims = jwt.decode(
                token,
                key.private.public_key(),
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer.url,
            )
        except (jwt.PyJWTError, KeyError):
            return False
        if self.refusing or token in self._revoked or not claims.get("sub"):
            return False
        self.tokens_seen.add(token)
        return True

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if not self._authorized(request.headers.get("authorization")):
            self.counts["unauthorized"] += 1
            body = b'{"error":"invalid_token"}'
            request.send_response(401)
            request.send_header("www-authenticate", 'Bearer error="invalid_token"')
            request.send_header("content-type", "application/json")
            request.send_header("content-length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
            return
        self.counts["passed"] += 1
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "authorization"
        }
        upstream = f"http://127.0.0.1:{self._backend_port}{request.path}"
        try:
            with httpx.stream(
                request.command, upstream, content=body, headers=headers, timeout=None
            ) as answer:
                request.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        request.send_header(name, value)
                request.send_header("connection", "close")
                request.end_headers()
                for chunk in answer.iter_raw():
                    request.wfile.write(chunk)
                    request.wfile.flush()
        except (httpx.HTTPError, OSError):
            return


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
