"""JSON-RPC over one transport, shared by every caller: the upstream multiplexer.

Callers' requests are sent under ids minted here (so ids of many clients never collide)
and pipelined: any number may be in flight, each answer resolves its own future. A
caller's progress token is replaced by the request's own id on the way out and restored on
the way back, for the same reason. What the server sends that is not an answer is routed:

- `notifications/progress` to the call that owns the progress token;
- `notifications/cancelled` stops our answer to the server request it names;
- list-changed and `notifications/resources/updated` concern the connection, not a call:
  they go to the default sink (and to the observer);
- anything else, including the server's own requests, to the call the transport says it
  belongs to. Streamable HTTP links every message about a call to it (it comes on the
  call's response stream), so there an unlinked message concerns no call. Over stdio and
  SSE nothing links them: a message goes to the only in-flight call that has a sink, if
  there is exactly one. What no call claims goes to the default sink, which refuses
  requests unless replaced.

Messages for one sink are delivered in the order they came, off the read loop, and all of
them before the call's answer is returned. When the transport closes, every waiting call
fails at once with `ServerUnavailable`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from mcp_types import RequestId

from .errors import INTERNAL_ERROR, RequestTimedOut, RpcError, ServerUnavailable
from .sinks import MessageSink, NoClientSink
from .transport import Message, Transport, TransportClosed

logger = logging.getLogger(__name__)

CONNECTION_NOTIFICATIONS = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/updated",
    }
)
"""Notifications about the connection's state rather than about one call."""

NotificationObserver = Callable[[str, dict[str, Any] | None], None]
"""Sees every notification first, synchronously in the read loop: must not block."""

_NO_TOKEN: Any = object()


def _expire(future: asyncio.Future[Any]) -> None:
    """A request's deadline passed: its caller gets TimeoutError (unless it was answered)."""
    if not future.done():
        future.set_exception(TimeoutError())


def _key(request_id: object) -> object:
    """Correlation key of an id: "7" and 7 are one id (peers sometimes echo ints as text)."""
    if isinstance(request_id, str) and request_id.isdigit():
        return int(request_id)
    return request_id


class _Outbox:
    """Ordered delivery of notifications to one sink, off the read loop."""

    def __init__(self, sink: MessageSink) -> None:
        self.sink = sink
        self._items: deque[tuple[str, dict[str, Any] | None]] = deque()
        self._task: asyncio.Task[None] | None = None

    def put(self, method: str, params: dict[str, Any] | None) -> None:
        self._items.append((method, params))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())

    async def flush(self) -> None:
        """Wait until everything put so far has been delivered (or delivery was stopped)."""
        while (task := self._task) is not None:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                return

    def cancel(self) -> None:
        self._items.clear()
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        try:
            while self._items:
                method, params = self._items.popleft()
                try:
                    await self.sink.on_notification(method, params)
                except Exception:
                    logger.exception("delivering %s to its client failed", method)
        finally:
            self._task = None


@dataclass(slots=True, eq=False)
class _Call:
    """One request of ours awaiting its answer."""

    method: str
    future: asyncio.Future[dict[str, Any]]
    sink: MessageSink | None
    progress_token: Any
    outbox: _Outbox | None = None


class RpcChannel:
    """Pipelined JSON-RPC requests and routed server messages over one `Transport`."""

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        default_sink: MessageSink | None = None,
        observer: NotificationObserver | None = None,
    ) -> None:
        self.name = name
        self.close_reason: str | None = None
        self._transport = transport
        self._observer = observer
        self._default_outbox = _Outbox(default_sink or NoClientSink())
        self._ids = itertools.count(1)
        self._calls: dict[object, _Call] = {}
        self._sink_calls: dict[object, _Call] = {}
        self._answering: dict[object, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    @property
    def default_sink(self) -> MessageSink:
        """Receives what no call claims; the default drops notifications, refuses requests."""
        return self._default_outbox.sink

    @default_sink.setter
    def default_sink(self, sink: MessageSink) -> None:
        self._default_outbox.sink = sink

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def start(self) -> None:
        """Start reading from the transport (which must be open)."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name=f"mcp-read {self.name}")

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        sink: MessageSink | None = None,
    ) -> dict[str, Any]:
        """Send a request and return the raw result dict (see `UpstreamConnection.request`)."""
        if self.closed:
            raise self._unavailable(f"is not available ({self.close_reason})")
        if self._reader is None:
            raise self._unavailable("is not connected yet")
        request_id = next(self._ids)
        token = _NO_TOKEN
        if params is not None:
            meta = params.get("_meta")
            if isinstance(meta, dict) and "progressToken" in meta:
                token = meta["progressToken"]
                params = {**params, "_meta": {**meta, "progressToken": request_id}}
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        call = _Call(method, future, sink, token)
        self._calls[request_id] = call
        if sink is not None:
            self._sink_calls[request_id] = call
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            try:
                await self._transport.send(message)
            except TransportClosed as exc:
                raise self._unavailable(f"is not available ({exc})") from None
            # One timer handle failing the future at the deadline (lighter than
            # asyncio.timeout, which cancels and uncancels the task)
            deadline = (
                None
                if timeout is None
                else asyncio.get_running_loop().call_later(timeout, _expire, future)
            )
            try:
                result = await future
            except TimeoutError:
                self._send_cancel(request_id, method, f"no answer within {timeout:g}s")
                raise RequestTimedOut(
                    f"server {self.name!r} did not answer {method} within {timeout:g}s; "
                    "check the server's health or raise the timeout"
                ) from None
            except RpcError:
                if call.outbox is not None:
                    await call.outbox.flush()
                raise
            finally:
                if deadline is not None:
                    deadline.cancel()
            if call.outbox is not None:
                await call.outbox.flush()
            return result
        except asyncio.CancelledError:
            if request_id in self._calls:  # still unanswered (cancelling cancelled `future`)
                self._send_cancel(request_id, method, "the caller cancelled the request")
            raise
        finally:
            self._calls.pop(request_id, None)
            self._sink_calls.pop(request_id, None)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification."""
        if self.closed:
            raise self._unavailable(f"is not available ({self.close_reason})")
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        try:
            await self._transport.send(message)
        except TransportClosed as exc:
            raise self._unavailable(f"is not available ({exc})") from None

    async def close(self) -> None:
        """Stop reading, fail waiting calls, close the transport (idempotent)."""
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.wait({reader})  # never raises: closing from a cancelled task works
        self._shut("the connection was closed")
        for task in list(self._background):
            task.cancel()
        await self._transport.close()

    # -- reading and routing ------------------------------------------------------------

    async def _read(self) -> None:
        reason = None
        try:
            while (item := await self._transport.receive()) is not None:
                try:
                    self._dispatch(*item)
                except Exception:
                    logger.exception("%s: could not route a message: %.300r", self.name, item[0])
        except asyncio.CancelledError:
            reason = "the connection was closed"
            raise
        except Exception as exc:
            reason = f"reading from it failed: {exc}"
            logger.exception("%s: reading failed", self.name)
        finally:
            self._shut(reason or self._transport.failure or "it closed the connection")
            if reason is None:
                self._spawn(self._transport.close())

    def _dispatch(self, message: Message, related: RequestId | None) -> None:
        method = message.get("method")
        if method is None:
            self._on_response(message)
            return
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            logger.warning("%s: %s with params that are not an object", self.name, method)
            params = None
        if "id" in message:
            self._on_server_request(message["id"], str(method), params, related)
        else:
            self._on_notification(str(method), params, related)

    def _on_response(self, message: Message) -> None:
        key = _key(message.get("id"))
        call = self._calls.pop(key, None)
        if call is None:
            if key is None and "error" in message:
                logger.warning("%s reported an error about no request: %s", self.name, message)
            else:
                logger.debug("%s answered request %r that nobody awaits", self.name, key)
            return
        self._sink_calls.pop(key, None)
        if call.future.done():
            return
        if "error" in message:
            call.future.set_exception(RpcError.from_wire(message["error"]))
            call.future.exception()  # retrieved here, raised to the caller
            return
        result = message.get("result")
        if isinstance(result, dict):
            call.future.set_result(result)
        else:
            call.future.set_exception(
                RpcError(INTERNAL_ERROR, f"{call.method}: the server's result is not an object")
            )
            call.future.exception()

    def _on_notification(
        self, method: str, params: dict[str, Any] | None, related: RequestId | None
    ) -> None:
        if self._observer is not None:
            try:
                self._observer(method, params)
            except Exception:
                logger.exception("%s: notification observer failed on %s", self.name, method)
        if method == "notifications/progress":
            token = params.get("progressToken") if params else None
            call = self._calls.get(_key(token))
            if call is None or call.sink is None or call.progress_token is _NO_TOKEN:
                logger.debug("%s: progress for %r, which no call awaits", self.name, token)
                return
            self._deliver(call, method, {**(params or {}), "progressToken": call.progress_token})
        elif method == "notifications/cancelled":
            answering = self._answering.get(_key((params or {}).get("requestId")))
            if answering is not None:
                answering.cancel()
        elif method in CONNECTION_NOTIFICATIONS:
            self._default_outbox.put(method, params)
        elif (owner := self._owner(related)) is not None:
            self._deliver(owner, method, params)
        else:
            self._default_outbox.put(method, params)

    def _on_server_request(
        self,
        request_id: Any,
        method: str,
        params: dict[str, Any] | None,
        related: RequestId | None,
    ) -> None:
        if method == "ping":
            self._spawn(self._send_quietly({"jsonrpc": "2.0", "id": request_id, "result": {}}))
            return
        owner = self._owner(related)
        task = asyncio.create_task(self._answer(request_id, method, params, owner))
        self._answering[_key(request_id)] = task

    def _owner(self, related: RequestId | None) -> _Call | None:
        """The call a message belongs to (see the module docstring), or None."""
        if related is not None:
            call = self._calls.get(_key(related))
            return call if call is not None and call.sink is not None else None
        if len(self._sink_calls) == 1 and not self._transport.links_requests:
            return next(iter(self._sink_calls.values()))
        return None

    def _deliver(self, call: _Call, method: str, params: dict[str, Any] | None) -> None:
        assert call.sink is not None
        if call.outbox is None:
            call.outbox = _Outbox(call.sink)
        call.outbox.put(method, params)

    async def _answer(
        self, request_id: Any, method: str, params: dict[str, Any] | None, owner: _Call | None
    ) -> None:
        """Ask the owning call's sink (or the default) to answer a server request."""
        outbox = owner.outbox if owner is not None else self._default_outbox
        sink = owner.sink if owner is not None and owner.sink is not None else self.default_sink
        try:
            if outbox is not None:
                await outbox.flush()  # what came before the request reaches the client first
            try:
                result = await sink.on_request(method, params)
                if not isinstance(result, dict):
                    raise TypeError(f"answer to {method} is {type(result).__name__}, not a dict")
                reply: Message = {"jsonrpc": "2.0", "id": request_id, "result": result}
            except RpcError as exc:
                reply = {"jsonrpc": "2.0", "id": request_id, "error": exc.to_wire()}
            except Exception as exc:
                logger.exception("%s: answering %s failed", self.name, method)
                error = RpcError(INTERNAL_ERROR, f"the client could not answer {method}: {exc}")
                reply = {"jsonrpc": "2.0", "id": request_id, "error": error.to_wire()}
            await self._send_quietly(reply)
        finally:
            self._answering.pop(_key(request_id), None)

    # -- sending in the background, closing ---------------------------------------------

    def _send_cancel(self, request_id: int, method: str, reason: str) -> None:
        if method == "initialize" or self.closed:
            return  # the spec forbids cancelling initialize
        params = {"requestId": request_id, "reason": reason}
        message: Message = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
        self._spawn(self._send_quietly(message))

    async def _send_quietly(self, message: Message) -> None:
        try:
            await self._transport.send(message)
        except TransportClosed:
            logger.debug("%s: not sent, the connection is closed: %s", self.name, message)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _shut(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.close_reason = reason
        self._closed.set()
        calls = list(self._calls.values())
        self._calls.clear()
        self._sink_calls.clear()
        for call in calls:
            if not call.future.done():
                call.future.set_exception(
                    self._unavailable(f"went away during {call.method} ({reason})")
                )
                call.future.exception()
            if call.outbox is not None:
                call.outbox.cancel()
        for task in list(self._answering.values()):
            task.cancel()
        self._default_outbox.cancel()
        if reason != "the connection was closed":
            logger.info("server %s: %s", self.name, reason)

    def _unavailable(self, what: str) -> ServerUnavailable:
        return ServerUnavailable(
            f"server {self.name!r} {what}; retry once the server is Ready again"
        )
