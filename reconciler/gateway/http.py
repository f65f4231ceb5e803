"""The streamable HTTP MCP endpoint of every suite, and the checks all MCP endpoints share.

`/suites/<suite>/mcp` implements the streamable HTTP transport (MCP 2025-03-26 to
2025-11-25): POST carries one JSON-RPC message and is answered with JSON, or with an SSE
stream when messages about the request arrive before its result; GET opens the session's
stream for messages that belong to no request; DELETE ends the session. Every request to
an MCP endpoint passes the DNS-rebinding check, then authentication; JSON-RPC handling is
done on plain dicts (`router.py`). The legacy HTTP+SSE transport is in `legacy_sse.py`,
the app with health, readiness and metrics in `server.py`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from ..upstream import wire
from .auth import Principal, Unauthenticated, authenticate, bearer_token
from .config import ANONYMOUS, SuiteConfig
from .context import RequestContext
from .exchange import SESSION_HEADER, SSE_HEADERS, Exchange, Send, sse_event
from .hosts import scope_headers
from .records import unauthenticated_attempt
from .router import SUPPORTED_VERSIONS
from .rpc import (
    INVALID_REQUEST,
    PARSE_ERROR,
    RATE_LIMITED,
    UNAUTHORIZED,
    Message,
    RpcError,
    error,
    kind_of,
    result,
    valid_id,
)
from .service import Gateway
from .sessions import CallerSession

logger = logging.getLogger(__name__)

METADATA_PREFIX = "/.well-known/oauth-protected-resource"
VERSION_HEADER = "mcp-protocol-version"
KEEPALIVE_SECONDS = 15.0
KNOWN_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
    }
)


class Refusal(Exception):
    """An HTTP-level refusal, answered with a status and a JSON-RPC error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        request_id: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.headers = headers or {}

    def response(self) -> Response:
        body = error(self.request_id, RpcError(self.code, self.message))
        return json_response(body, status=self.status, headers=self.headers)


def json_response(
    message: Message, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(wire.dumps(message), status, headers, media_type="application/json")


# -- checks shared by every MCP endpoint -----------------------------------------------


def headers_of(request: Request) -> dict[str, str]:
    """The request's headers as a dict, decoded once per request (`hosts.scope_headers`)."""
    return scope_headers(request.scope)


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


_ANONYMOUS = Principal(ANONYMOUS)


async def admit(request: Request) -> tuple[Gateway, SuiteConfig, Principal]:
    """Suite lookup, authentication: (gateway, suite, caller).

    The DNS-rebinding check has been done on every request before it reaches an endpoint
    (`hosts.guarded` wraps the whole app). A 401 names the suite's protected-resource
    metadata (RFC 9728) in `WWW-Authenticate`, so a client holding only the suite URL can
    find where to get a token."""
    gateway = gateway_of(request)
    name = request.path_params["suite"]
    suite = gateway.suite(name)
    if suite is None:
        raise Refusal(404, INVALID_REQUEST, f"no suite named {name[:100]!r} is served here")
    if not suite.secured:
        return gateway, suite, _ANONYMOUS
    try:
        principal = await authenticate(
            bearer_token(headers_of(request).get("authorization")),
            tokens=suite.tokens,
            grants=suite.oidc,
            verifier=gateway.verifier,
            # the public URL is worked out only when a JWT may need it as its audience
            default_audience=resource_url(public_base(request), suite.name) if suite.oidc else "",
        )
    except Unauthenticated as exc:
        gateway.record(unauthenticated_attempt(suite.name))
        base = public_base(request)
        challenge = f'Bearer resource_metadata="{metadata_url(base, suite.name)}"'
        if exc.token_sent:
            logger.info("refused a bearer token on suite %s: %s", suite.name, exc.message)
            description = exc.message.replace('"', "'").replace("\\", "/")[:300]
            challenge += f', error="invalid_token", error_description="{description}"'
        raise Refusal(
            401,
            UNAUTHORIZED,
            f"suite {suite.name} needs a valid bearer token: send 'Authorization: Bearer "
            "<token>' with a token declared in one of its ToolPermissions, or one from the "
            "authorization servers named by the resource metadata in WWW-Authenticate",
            headers={"www-authenticate": challenge},
        ) from None
    return gateway, suite, principal


def public_base(request: Request) -> str:
    """The gateway's external base URL: `--public-url`, else this request's scheme and Host
    (a Host the DNS-rebinding check has allowed)."""
    configured = gateway_of(request).public_url
    if configured:
        return configured
    scope = request.scope
    key = (
        scope["scheme"],
        headers_of(request).get("host"),
        scope.get("root_path", ""),
        scope.get("server"),
    )
    base = _BASES.get(key)
    if base is None:
        base = str(request.base_url).rstrip("/")
        if len(_BASES) >= 64:  # a gateway is reached under a handful of names
            _BASES.clear()
        _BASES[key] = base
    return base


_BASES: dict[tuple[Any, ...], str] = {}
"""(scheme, Host, root path, listener) -> the base URL Starlette works out for them, as worked out
before (parsing it costs more than the rest of a JWT's audience check)."""


def resource_url(base: str, suite: str) -> str:
    """A suite's MCP endpoint: the resource its tokens are for (the default audience)."""
    return f"{base}/suites/{suite}/mcp"


def metadata_url(base: str, suite: str) -> str:
    """Where a suite's protected-resource metadata is served (RFC 9728 section 3.1)."""
    return f"{base}{METADATA_PREFIX}/suites/{suite}/mcp"


async def resource_metadata(request: Request) -> Response:
    """`GET /.well-known/oauth-protected-resource/suites/<suite>/mcp` (RFC 9728)."""
    gateway = gateway_of(request)
    refusal = gateway.hosts.refusal(headers_of(request).get("host"), None)
    if refusal is not None:
        return Response(status_code=refusal[0])
    name = request.path_params["suite"]
    suite = gateway.suite(name)
    if suite is None:
        return json_response({"error": f"no suite named {name[:100]!r}"}, status=404)
    base = public_base(request)
    document: dict[str, Any] = {
        "resource": resource_url(base, suite.name),
        "authorization_servers": list(dict.fromkeys(grant.issuer for grant in suite.oidc)),
        "bearer_methods_supported": ["header"],
        "resource_name": suite.description or f"MCP suite {suite.name}",
    }
    return json_response(
        document,
        headers={"access-control-allow-origin": "*", "cache-control": "max-age=60"},
    )


def check_version(request: Request) -> None:
    version = headers_of(request).get(VERSION_HEADER)
    if version is not None and version not in SUPPORTED_VERSIONS:
        raise Refusal(
            400,
            INVALID_REQUEST,
            f"unsupported MCP-Protocol-Version {version[:40]!r}; "
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
        )


def session_of(
    gateway: Gateway, suite: SuiteConfig, caller: Principal, session_id: str | None
) -> CallerSession:
    """The caller's session: missing id -> 400, unknown (or another caller's) -> 404.

    A session belongs to the subject that opened it and, for an OIDC caller, to its token's
    `sub`: another account holding a token of the same subject cannot use it."""
    if not session_id:
        raise Refusal(400, INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required")
    session = gateway.sessions.get(session_id)
    if (
        session is None
        or session.suite != suite.name
        or session.subject != caller.key
        or session.token_sub != caller.sub
    ):
        raise Refusal(
            404, INVALID_REQUEST, "Not Found: unknown or expired session; initialize again"
        )
    session.touch()
    return session


def accepts(request: Request) -> tuple[bool, bool]:
    """(accepts JSON, accepts SSE) from the Accept header."""
    accept = headers_of(request).get("accept", "")
    known = _ACCEPTS.get(accept)
    if known is None:
        types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        anything = not accept or "*/*" in types
        known = (
            anything or "application/json" in types or "application/*" in types,
            anything or "text/event-stream" in types or "text/*" in types,
        )
        if len(_ACCEPTS) >= 64:  # clients send a handful of distinct values
            _ACCEPTS.clear()
        _ACCEPTS[accept] = known
    return known


_ACCEPTS: dict[str, tuple[bool, bool]] = {}
"""Accept header -> what it accepts, as parsed before."""


async def read_json(request: Request, limit: int) -> Any:
    """The body parsed as JSON; 413 past `limit` bytes, 415/400 when it is not JSON."""
    content_type = headers_of(request).get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise Refusal(415, INVALID_REQUEST, "Unsupported Media Type: send application/json")
    declared = headers_of(request).get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal(413, INVALID_REQUEST, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:  # the ASGI messages themselves: Request.stream() costs an async generator
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refusal(413, INVALID_REQUEST, f"request body larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except ClientDisconnect:  # gone, or cut off by the body deadline (connections.py)
        raise Refusal(400, INVALID_REQUEST, "the request body did not arrive") from None
    try:
        return wire.loads(chunks[0] if len(chunks) == 1 else b"".join(chunks))
    except (ValueError, RecursionError):
        raise Refusal(400, PARSE_ERROR, "Parse error: the body is not valid JSON") from None


def parse_message(body: Any) -> tuple[str, Message]:
    """(kind, message) of a single JSON-RPC message; batches and malformed input -> 400."""
    if isinstance(body, list):
        raise Refusal(400, INVALID_REQUEST, "JSON-RPC batches are not supported; send one message")
    kind = kind_of(body)
    if kind == "invalid":
        request_id = body.get("id") if isinstance(body, dict) else None
        raise Refusal(
            400,
            INVALID_REQUEST,
            "Invalid Request: not a JSON-RPC 2.0 request, notification or response",
            request_id=request_id if valid_id(request_id) else None,
        )
    assert isinstance(body, dict)
    return kind, body


# -- serving one request ---------------------------------------------------------------


class CallResponse(Response):
    """The response to a client request, which handles the request when it is sent: the
    handler runs in the task serving the HTTP request (no task between receiving the
    request and forwarding it), and `Exchange.answer` writes what it returns.

    The request is in the session's `in_flight` while it runs: the client's
    notifications/cancelled cancels it (the router answers "Request cancelled"), and
    closing the session ends it (202, or the end of the stream already begun)."""

    def __init__(
        self,
        gateway: Gateway,
        suite: SuiteConfig,
        session: CallerSession,
        message: Message,
        *,
        json: bool,
        stream: bool,
    ) -> None:
        self.gateway, self.suite, self.session, self.message = gateway, suite, session, message
        self.json, self.stream = json, stream

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        gateway, session, message = self.gateway, self.session, self.message
        request_id, method = message["id"], message["method"]
        gateway.metrics.count_request(
            self.suite.name, method if method in KNOWN_METHODS else "other"
        )
        exchange = Exchange(session, stream=self.stream, send=send)
        ctx = RequestContext(gateway, session, self.suite, exchange, request_id)
        task = asyncio.current_task()
        assert task is not None
        session.in_flight[request_id] = task
        try:
            answer = await gateway.router.request(ctx, method, message.get("params"))
        except asyncio.CancelledError:
            if not session.closed:
                raise
            task.uncancel()
            answer = None
        finally:
            if session.in_flight.get(request_id) is task:
                del session.in_flight[request_id]
        await exchange.answer(answer, json=self.json)


async def post_mcp(request: Request) -> Response:
    try:
        gateway, suite, caller = await admit(request)
        wants_json, wants_sse = accepts(request)
        if not wants_json and not wants_sse:
            raise Refusal(
                406,
                INVALID_REQUEST,
                "Not Acceptable: accept application/json and text/event-stream",
            )
        check_version(request)
        kind, message = parse_message(await read_json(request, gateway.max_body_bytes))
        if kind == "request" and message["method"] == "initialize":
            return initialize(
                gateway, suite, caller, message, holder=holder_of(request, suite, caller)
            )
        session = session_of(gateway, suite, caller, headers_of(request).get(SESSION_HEADER))
    except Refusal as refusal:
        return refusal.response()
    if kind == "notification":
        gateway.router.notification(session, message["method"], message.get("params"))
        return Response(status_code=202, headers={SESSION_HEADER: session.id})
    if kind == "response":
        gateway.router.response(session, message)
        return Response(status_code=202, headers={SESSION_HEADER: session.id})
    return CallResponse(gateway, suite, session, message, json=wants_json, stream=wants_sse)


def holder_of(request: Request, suite: SuiteConfig, caller: Principal) -> str:
    """Who a new session counts against: the token's subject, else the client's address."""
    if suite.secured:
        return caller.key
    return f"address {request.client.host if request.client else 'unknown'}"


def open_session(
    gateway: Gateway,
    suite: SuiteConfig,
    caller: Principal,
    *,
    holder: str,
    request_id: Any = None,
    legacy: bool = False,
) -> CallerSession:
    """A new session within the suite's limits; 429 (too many initialize) or 503 (full)."""
    created = gateway.sessions.create(
        suite.name,
        caller.key,
        caller=holder,
        limits=suite.sessions,
        legacy=legacy,
        token_sub=caller.sub,
    )
    if isinstance(created, CallerSession):
        if caller.sub is not None:
            logger.info(
                "session of subject %s (token sub %s) opened on suite %s",
                caller.key,
                caller.sub[:200],
                suite.name,
            )
        return created
    gateway.metrics.sessions_refused.labels(suite.name, created.reason).inc()
    retry = str(max(1, math.ceil(created.retry_after)))
    if created.reason == "rate":
        raise Refusal(
            429,
            RATE_LIMITED,
            f"too many new sessions from this caller; retry in {retry} s",
            request_id=request_id,
            headers={"retry-after": retry},
        )
    raise Refusal(
        503,
        INVALID_REQUEST,
        "too many open sessions; retry later",
        request_id=request_id,
        headers={"retry-after": retry},
    )


def initialize(
    gateway: Gateway, suite: SuiteConfig, caller: Principal, message: Message, *, holder: str
) -> Response:
    session = open_session(gateway, suite, caller, holder=holder, request_id=message["id"])
    answer = gateway.router.initialize(session, suite, message.get("params"))
    gateway.metrics.count_request(suite.name, "initialize")
    return json_response(result(message["id"], answer), headers={SESSION_HEADER: session.id})


async def get_mcp(request: Request) -> Response:
    """The session's stream of messages that belong to no request (list_changed, updates)."""
    try:
        gateway, suite, caller = await admit(request)
        if not accepts(request)[1]:
            raise Refusal(406, INVALID_REQUEST, "Not Acceptable: accept text/event-stream")
        check_version(request)
        session = session_of(gateway, suite, caller, headers_of(request).get(SESSION_HEADER))
    except Refusal as refusal:
        return refusal.response()
    return StreamingResponse(
        session_stream(session),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, SESSION_HEADER: session.id},
    )


async def session_stream(session: CallerSession, *, first: bytes = b"") -> AsyncIterator[bytes]:
    """Events of a session's outbox, with keep-alive comments, until replaced or closed."""
    generation = session.open_stream()
    try:
        yield first or b": stream open\n\n"
        while True:
            try:
                message = await session.next_message(generation, wait=KEEPALIVE_SECONDS)
            except EOFError:
                return
            yield sse_event(message) if message is not None else b": keep-alive\n\n"
    finally:
        session.close_stream(generation)


async def delete_mcp(request: Request) -> Response:
    try:
        gateway, suite, caller = await admit(request)
        session = session_of(gateway, suite, caller, headers_of(request).get(SESSION_HEADER))
    except Refusal as refusal:
        return refusal.response()
    gateway.end_session(session)
    return Response(status_code=200)
