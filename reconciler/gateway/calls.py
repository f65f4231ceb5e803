"""Forwarding a client's request to the server that answers it: the tools/call hot path.

A tools/call is checked (known tool, permitted for the subject, within its rate limits),
forwarded with the server's own tool name over the controller's persistent session, and
answered with the server's result untouched. Progress (the upstream connection maps the
tokens), log messages and the server's own requests (sampling, elicitation, roots) raised
during the call go to the client whose call caused them, and its answer goes back. Every
tools/call is reported as a `CallRecord`, carrying a hash of the arguments, never the
arguments. A workflow's tool runs its steps (`workflow_calls.py`), each a recorded call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Access, SuiteConfig
from .exchange import Exchange
from .rpc import (
    FORBIDDEN,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    RATE_LIMITED,
    REQUEST_TIMEOUT,
    Message,
    RequestId,
    RpcError,
    notification,
    valid_id,
)
from .sessions import ClientSession
from .upstreams import Upstream, rpc_error, unavailable
from .workflow_calls import refusal, run_workflow

if TYPE_CHECKING:
    from .service import Gateway

logger = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

CLIENT_CAPABILITY = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
"""The client capability a server-to-client request needs."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One tools/call, as reported to the recorder (for usage and audit)."""

    subject: str
    suite: str
    server: str | None
    """None when the tool is unknown."""
    tool: str
    """The server's name for the tool (the exposed name when unknown)."""
    duration_seconds: float
    outcome: str
    """ok, tool_error, error, timeout, denied, rate_limited, unknown_tool or cancelled."""
    error_code: int | None
    arguments_sha256: str
    """SHA-256 of the canonical JSON of the arguments (sorted keys, no spaces)."""
    started_at: float
    """Unix time the call arrived."""


def arguments_digest(arguments: Any) -> str:
    canonical = json.dumps(
        {} if arguments is None else arguments,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class RequestContext:
    """One client request being handled: who asked, on which suite, where replies go."""

    gateway: Gateway
    session: ClientSession
    suite: SuiteConfig
    exchange: Exchange
    request_id: RequestId


def log_wanted(session: ClientSession, params: Any) -> bool:
    """Whether a log message passes the level the client set (all pass when it set none)."""
    if session.log_level is None or not isinstance(params, dict):
        return True
    level = params.get("level")
    return _RANK.get(level if isinstance(level, str) else "", 0) >= _RANK.get(session.log_level, 0)


class CallSink:
    """Receives what a server sends while it handles one forwarded request (a MessageSink)."""

    def __init__(self, ctx: RequestContext, server: str) -> None:
        self.ctx = ctx
        self.server = server

    async def on_notification(self, method: str, params: dict[str, Any] | None) -> None:
        """Progress (the client's own token already restored) and log lines go to the client."""
        if method == "notifications/message" and not log_wanted(self.ctx.session, params):
            return
        self.ctx.exchange.send(notification(method, params))

    async def on_request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """Ask the client (sampling, elicitation, roots) and return its result."""
        return await ask_client(self.ctx, method, params, server=self.server)


async def ask_client(
    ctx: RequestContext, method: str, params: dict[str, Any] | None, *, server: str
) -> Message:
    """Send a request to the client on the call's stream and wait for its answer."""
    session = ctx.session
    needed = CLIENT_CAPABILITY.get(method)
    if needed is None or needed not in session.capabilities:
        raise RpcError(METHOD_NOT_FOUND, f"the client does not support {method}")
    if not ctx.exchange.reaches_client:
        raise RpcError(
            METHOD_NOT_FOUND,
            f"{method} cannot reach the client: it accepts no SSE response and has no open stream",
        )
    request_id = session.next_request_id()
    future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    session.pending[request_id] = future
    meta = params.get("_meta") if params else None
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    if valid_id(token):
        session.progress_routes[token] = server  # the client's progress goes back to `server`
    message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    try:
        ctx.exchange.send(message)
        answer = await future
    except asyncio.CancelledError:
        if not session.closed:
            ctx.exchange.send(notification("notifications/cancelled", {"requestId": request_id}))
        raise
    finally:
        session.pending.pop(request_id, None)
        if valid_id(token):
            session.progress_routes.pop(token, None)
    error = answer.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        raise RpcError(
            code if isinstance(code, int) else -32603,
            str(error.get("message", "the client answered with an error")),
            error.get("data"),
        )
    answer_result = answer.get("result")
    return answer_result if isinstance(answer_result, dict) else {}


async def forward(
    ctx: RequestContext,
    server: str,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float | None = None,
) -> Message:
    """Send a request to `server` for the client, with its messages routed back; `timeout`
    (seconds) is capped by the gateway's call timeout."""
    upstream = ctx.gateway.upstream(server)
    if upstream is None:
        raise unavailable(server)
    return await send(ctx, upstream, server, method, params, timeout=timeout)


async def send(
    ctx: RequestContext,
    upstream: Upstream,
    server: str,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float | None = None,
) -> Message:
    limit = ctx.gateway.call_timeout if timeout is None else min(timeout, ctx.gateway.call_timeout)
    try:
        return await upstream.request(method, params, timeout=limit, sink=CallSink(ctx, server))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise rpc_error(exc, server=server) from None


class Recorded:
    """One call being served: its outcome is set as it goes, and reported once at the end
    (on success, on a JSON-RPC error, or on cancellation)."""

    def __init__(self, ctx: RequestContext, server: str | None, tool: str, arguments: Any) -> None:
        self.ctx, self.server, self.tool, self.arguments = ctx, server, tool, arguments
        self.started, self.wall = time.perf_counter(), time.time()
        self.outcome = "error"
        self.code: int | None = None

    def __enter__(self) -> Recorded:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if isinstance(error, RpcError):
            self.code = error.code
            if error.code == REQUEST_TIMEOUT:
                self.outcome = "timeout"
        elif isinstance(error, asyncio.CancelledError):
            self.outcome = "cancelled"
        report(
            self.ctx, self.server, self.tool, self.arguments,
            started=self.started, wall=self.wall, outcome=self.outcome, code=self.code,
        )  # fmt: skip

    def answered(self, answer: Message) -> Message:
        self.outcome = "tool_error" if answer.get("isError") is True else "ok"
        return answer

    def refuse(self, outcome: str, error: RpcError) -> RpcError:
        self.outcome = outcome
        return error


def _rate_limit(
    ctx: RequestContext, call: Recorded, access: Access, server: str, tool: str, shown: str
) -> None:
    """Take a token for (subject, tool); refuse with retryAfterSeconds when there is none."""
    wait = ctx.gateway.limiter.acquire(
        ctx.suite.name, ctx.session.subject, access.limits, server, tool
    )
    if wait > 0:
        retry = round(wait + 0.0005, 3)
        raise call.refuse(
            "rate_limited",
            RpcError(
                RATE_LIMITED,
                f"rate limit exceeded for subject {ctx.session.subject} on tool "
                f"{shown}: retry in {retry:g} s",
                {"retryAfterSeconds": retry},
            ),
        )


async def call_tool(ctx: RequestContext, params: dict[str, Any]) -> Message:
    """Handle tools/call: check, forward, record."""
    name = params.get("name")
    arguments = params.get("arguments")
    route = ctx.suite.tools.get(name) if isinstance(name, str) else None
    server, tool = (route.server, route.tool) if route else (None, str(name)[:200])
    with Recorded(ctx, server, tool, arguments) as call:
        if route is None:
            raise call.refuse(
                "unknown_tool", RpcError(INVALID_PARAMS, f"Unknown tool: {str(name)[:200]}")
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "tools/call arguments must be an object")
        access = ctx.suite.access_for(ctx.session.subject)
        if not access.allows(route.server, route.tool):
            logger.info(
                "denied %s.%s to subject %s on suite %s",
                route.server,
                route.tool,
                ctx.session.subject,
                ctx.suite.name,
            )
            raise call.refuse(
                "denied",
                RpcError(
                    FORBIDDEN,
                    f"tool {route.exposed} ({route.server}.{route.tool}) is not permitted "
                    f"for subject {ctx.session.subject}",
                ),
            )
        refused = refusal(route.chain, access, ctx.session.subject) if route.chain else None
        if refused is not None:
            raise call.refuse("denied", refused)
        _rate_limit(ctx, call, access, route.server, route.tool, route.exposed)
        if route.chain is not None:
            answer = await run_workflow(
                ctx,
                route.chain,
                params,
                call_step,
                input_schema=route.definition.get("inputSchema"),
            )
        else:
            answer = await forward(ctx, route.server, "tools/call", {**params, "name": route.tool})
        return call.answered(answer)


async def call_step(
    ctx: RequestContext, server: str, tool: str, arguments: dict[str, Any], timeout: float
) -> Message:
    """One step of a workflow: rate-limited, forwarded and recorded like a client's call."""
    with Recorded(ctx, server, tool, arguments) as call:
        access = ctx.suite.access_for(ctx.session.subject)
        _rate_limit(ctx, call, access, server, tool, f"{server}.{tool}")
        params = {"name": tool, "arguments": arguments}
        return call.answered(await forward(ctx, server, "tools/call", params, timeout=timeout))


def report(
    ctx: RequestContext,
    server: str | None,
    tool: str,
    arguments: Any,
    *,
    started: float,
    wall: float,
    outcome: str,
    code: int | None,
) -> None:
    """Hand one call's record to the gateway (metrics and the recorder)."""
    ctx.gateway.record(
        CallRecord(
            subject=ctx.session.subject,
            suite=ctx.suite.name,
            server=server,
            tool=tool,
            duration_seconds=time.perf_counter() - started,
            outcome=outcome,
            error_code=code,
            arguments_sha256=arguments_digest(arguments),
            started_at=wall,
        )
    )
