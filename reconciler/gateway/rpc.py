"""JSON-RPC at the level of plain dicts: error codes, the error the router raises, message shapes.

The gateway never validates messages into models on the hot path: it parses a body once,
checks the few fields it needs, and forwards the rest untouched.
"""

from __future__ import annotations

from typing import Any, Literal, TypeGuard

from ..upstream.errors import RpcError as RpcError

Message = dict[str, Any]
RequestId = str | int

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_UNAVAILABLE = -32000
"""The server behind the tool is not connected (not started, restarting, or gone mid-call)."""
REQUEST_TIMEOUT = -32001
FORBIDDEN = -32003
"""The caller's ToolPermission rules do not allow the tool."""
UNAUTHORIZED = -32004
"""No valid bearer token (sent with HTTP 401)."""
RATE_LIMITED = -32029
"""A rate limit refused the call; `data.retryAfterSeconds` says when to retry."""
REQUEST_CANCELLED = -32800

Kind = Literal["request", "notification", "response", "invalid"]


def valid_id(value: object) -> TypeGuard[RequestId]:
    """JSON-RPC ids the gateway accepts: strings and integers (not booleans, not null)."""
    return (isinstance(value, str) and len(value) <= 512) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def kind_of(message: object) -> Kind:
    """Classify a parsed body without trusting any of it."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return "invalid"
    method = message.get("method")
    if "method" in message:
        if not isinstance(method, str) or not method:
            return "invalid"
        params = message.get("params")
        if params is not None and not isinstance(params, dict | list):
            return "invalid"
        if "id" not in message:
            return "notification"
        return "request" if valid_id(message["id"]) else "invalid"
    if valid_id(message.get("id")) and (("result" in message) != ("error" in message)):
        return "response"
    return "invalid"


def result(request_id: RequestId | None, value: Any) -> Message:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def error(request_id: RequestId | None, err: RpcError) -> Message:
    return {"jsonrpc": "2.0", "id": request_id, "error": err.to_wire()}


def notification(method: str, params: Message | None = None) -> Message:
    message: Message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message
