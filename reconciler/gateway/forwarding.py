"""Forwarding a client's request to one server, with what the server sends meanwhile routed
back to that client.

Progress (the upstream connection maps the tokens), log messages and the server's own
requests (sampling, elicitation, roots) raised while it handles the request go to the
client whose request caused them, and its answer goes back to the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .context import RequestContext
from .rpc import METHOD_NOT_FOUND, Message, RpcError, notification, valid_id
from .sessions import CallerSession
from .upstream_ports import Upstream, rpc_error, unavailable

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

CLIENT_CAPABILITY = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
"""The client capability a server-to-client request needs."""


def log_wanted(session: CallerSession, params: Any) -> bool:
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
    upstream = ctx.services.upstream(server)
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
    ceiling = ctx.services.call_timeout
    limit = ceiling if timeout is None else min(timeout, ceiling)
    try:
        return await upstream.request(method, params, timeout=limit, sink=CallSink(ctx, server))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise rpc_error(exc, server=server) from None
