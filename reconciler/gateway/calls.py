"""The tools/call hot path: check, forward, record.

A tools/call is checked (known tool, permitted for the subject, within its rate limits),
forwarded with the server's own tool name over the controller's persistent session
(`forwarding.py`), and answered with the server's result untouched. Every tools/call is
reported as a `CallRecord`, carrying a hash of the arguments, never the arguments. A
workflow's tool runs its steps (`workflow_calls.py`), each a recorded call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

from ..upstream import wire
from .config import Access
from .context import RequestContext
from .forwarding import forward
from .records import CallOutcome, CallRecord
from .rpc import FORBIDDEN, INVALID_PARAMS, RATE_LIMITED, REQUEST_TIMEOUT, Message, RpcError
from .workflow_calls import refusal, run_workflow

logger = logging.getLogger(__name__)


class Recorded:
    """One call being served: its outcome is set as it goes, and reported once at the end
    (on success, on a JSON-RPC error, or on cancellation)."""

    def __init__(self, ctx: RequestContext, server: str, tool: str, arguments: Any) -> None:
        self.ctx, self.server, self.tool, self.arguments = ctx, server, tool, arguments
        self.started, self.wall = time.perf_counter(), time.time()
        self.outcome: CallOutcome = "error"
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

    def refuse(self, outcome: CallOutcome, error: RpcError) -> RpcError:
        self.outcome = outcome
        return error


def _rate_limit(
    ctx: RequestContext, call: Recorded, access: Access, server: str, tool: str, shown: str
) -> None:
    """Take a token for (subject, tool); refuse with retryAfterSeconds when there is none."""
    wait = ctx.services.limiter.acquire(
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
    server, tool = (route.server, route.tool) if route else ("", str(name)[:200])
    with Recorded(ctx, server, tool, arguments) as call:
        if route is None:
            withheld = ctx.suite.withheld.get(name) if isinstance(name, str) else None
            if withheld is not None and ctx.suite.access_for(ctx.session.subject).allows(
                withheld.server, withheld.tool
            ):
                call.server, call.tool = withheld.server, withheld.tool  # usage names the tool
                raise call.refuse("withheld", RpcError(INVALID_PARAMS, withheld.message()))
            _rate_limit(ctx, call, ctx.suite.access_for(ctx.session.subject), "", "", tool)
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


def arguments_digest(arguments: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of a call's arguments (sorted keys, no spaces)."""
    return hashlib.sha256(wire.canonical({} if arguments is None else arguments)).hexdigest()


def report(
    ctx: RequestContext,
    server: str,
    tool: str,
    arguments: Any,
    *,
    started: float,
    wall: float,
    outcome: CallOutcome,
    code: int | None,
) -> None:
    """Hand one call's record to the gateway (metrics and the recorder)."""
    ctx.services.record(
        CallRecord(
            ts=wall,
            suite=ctx.suite.name,
            server=server,
            tool=tool,
            duration_ms=(time.perf_counter() - started) * 1000,
            outcome=outcome,
            subject=ctx.session.subject,
            error_code=code,
            args_hash=arguments_digest(arguments),
            token_sub=ctx.session.token_sub,
        )
    )
