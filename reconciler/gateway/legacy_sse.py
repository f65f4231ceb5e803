"""The legacy HTTP+SSE transport (MCP 2024-11-05), for clients that predate streamable HTTP.

`GET /suites/<suite>/sse` opens a session and its event stream; the first event,
`endpoint`, names the URL the client POSTs its messages to
(`/suites/<suite>/messages?session_id=...`). Each POST is accepted with 202 and every
answer, like every other message, travels on the stream. The session ends with its stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .config import SuiteConfig
from .context import RequestContext
from .exchange import SSE_HEADERS, Exchange
from .http import (
    KNOWN_METHODS,
    Refusal,
    accepts,
    admit,
    holder_of,
    open_session,
    parse_message,
    read_json,
    session_of,
    session_stream,
)
from .rpc import INVALID_REQUEST, Message, result
from .service import Gateway
from .sessions import CallerSession


async def legacy_stream(request: Request) -> Response:
    try:
        gateway, suite, caller = await admit(request)
        if not accepts(request)[1]:
            raise Refusal(406, INVALID_REQUEST, "Not Acceptable: accept text/event-stream")
        holder = holder_of(request, suite, caller)
        session = open_session(gateway, suite, caller, holder=holder, legacy=True)
    except Refusal as refusal:
        return refusal.response()
    endpoint = f"/suites/{suite.name}/messages?session_id={session.id}"
    first = f"event: endpoint\ndata: {endpoint}\n\n".encode()
    return StreamingResponse(
        _until_closed(gateway, session, first), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _until_closed(
    gateway: Gateway, session: CallerSession, first: bytes
) -> AsyncIterator[bytes]:
    try:
        async for chunk in session_stream(session, first=first):
            yield chunk
    finally:
        gateway.end_session(session)


async def legacy_messages(request: Request) -> Response:
    try:
        gateway, suite, caller = await admit(request)
        session = session_of(gateway, suite, caller, request.query_params.get("session_id"))
        if not session.legacy:
            raise Refusal(404, INVALID_REQUEST, "Not Found: not a session of the SSE transport")
        kind, message = parse_message(await read_json(request, gateway.max_body_bytes))
    except Refusal as refusal:
        return refusal.response()
    if kind == "notification":
        gateway.router.notification(session, message["method"], message.get("params"))
    elif kind == "response":
        gateway.router.response(session, message)
    elif message["method"] == "initialize":
        answer = gateway.router.initialize(session, suite, message.get("params"))
        session.push(result(message["id"], answer))
    else:
        task = start_request(gateway, suite, session, message)
        task.add_done_callback(lambda done: _deliver(session, done))
    return Response("Accepted", status_code=202)


def start_request(
    gateway: Gateway, suite: SuiteConfig, session: CallerSession, message: Message
) -> asyncio.Task[Message | None]:
    """Run a client request in a task of its own (its answer goes to the session's stream),
    cancellable by the client."""
    request_id = message["id"]
    method = message["method"]
    gateway.metrics.count_request(suite.name, method if method in KNOWN_METHODS else "other")
    ctx = RequestContext(gateway, session, suite, Exchange(session, stream=False), request_id)
    task = asyncio.create_task(gateway.router.request(ctx, method, message.get("params")))
    session.in_flight[request_id] = task

    def finished(done: asyncio.Task[Message | None]) -> None:
        if session.in_flight.get(request_id) is done:
            del session.in_flight[request_id]

    task.add_done_callback(finished)
    return task


def _deliver(session: CallerSession, task: asyncio.Task[Message | None]) -> None:
    if not task.cancelled() and (answer := task.result()) is not None:
        session.push(answer)
