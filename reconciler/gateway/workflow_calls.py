"""A tools/call of a workflow's tool: its steps run through the gateway's own forwarding.

The caller must be allowed `workflow.<name>` (checked like any tool) and every tool the
steps call: a workflow never reaches a tool its caller may not call directly, and the
refusal names the step. Each step is then a call of its own, rate-limited, forwarded with
the step's timeout (at most the gateway's) and recorded; a client that sent a
`progressToken` gets a progress notification as each step finishes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from ..core.models import qualified_name
from ..workflows import Chain, StepRecord
from .config import Access
from .context import RequestContext
from .rpc import FORBIDDEN, INVALID_PARAMS, Message, RpcError, notification, valid_id

StepForwarder = Callable[[RequestContext, str, str, dict[str, Any], float], Awaitable[Message]]
"""`(ctx, server, tool, arguments, timeout)`: one step's tools/call, as calls.call_step."""


def refusal(chain: Chain, access: Access, subject: str) -> RpcError | None:
    """The error for the first step whose tool the subject may not call, if any."""
    for step in chain.steps:
        server, tool = step.tool.split(".", 1)
        if not access.allows(server, tool):
            return RpcError(
                FORBIDDEN,
                f"workflow {chain.name} is not permitted for subject {subject}: its step "
                f"{step.id} calls {step.tool}, which the subject may not call",
            )
    return None


async def run_workflow(
    ctx: RequestContext,
    chain: Chain,
    params: dict[str, Any],
    call_step: StepForwarder,
    *,
    input_schema: Mapping[str, Any] | None = None,
) -> Message:
    """Run the chain for the client's call; the result is the chain's CallToolResult.

    Arguments that do not match the workflow's `inputs` schema are refused (-32602)
    before any step runs."""
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None

    def progress(record: StepRecord, done: int, total: int) -> None:
        ctx.exchange.send(
            notification(
                "notifications/progress",
                {
                    "progressToken": token,
                    "progress": done,
                    "total": total,
                    "message": f"step {record.id} ({record.tool}): {record.status}",
                },
            )
        )

    async def call(server: str, tool: str, arguments: dict[str, Any], timeout: float) -> Message:
        # Steps name servers of the suite's own namespace.
        upstream = qualified_name(ctx.suite.namespace, server)
        return await call_step(ctx, upstream, tool, arguments, timeout)

    arguments = params.get("arguments")
    _check_inputs(chain, input_schema, arguments if isinstance(arguments, dict) else {})
    return await chain.run(
        arguments if isinstance(arguments, dict) else None,
        call,
        on_step=progress if valid_id(token) else None,
    )


def _check_inputs(
    chain: Chain, schema: Mapping[str, Any] | None, arguments: dict[str, Any]
) -> None:
    if not schema:
        return
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(arguments)
    )
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "arguments"
        raise RpcError(
            INVALID_PARAMS,
            f"workflow {chain.name}: {where}: {error.message}; see the tool's inputSchema",
        )
