"""Checks of a client's request that come before any handler: shapes no server should get.

- Parameters nested deeper than `MAX_DEPTH` (objects and arrays) are refused: servers drop
  or choke on them (a Node server never answers, so the caller would wait for the call
  timeout).
- Strings (values and keys) holding a lone UTF-16 surrogate (`"\\ud800"` in JSON) cannot
  be encoded as UTF-8, so they could never be forwarded: they are refused up front.

Both are answered with JSON-RPC `-32602 Invalid params`. The walk is iterative and stops
at the first problem; ASCII strings cost one C-level check each.
"""

from __future__ import annotations

from typing import Any

from .rpc import INVALID_PARAMS, RpcError

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted in a request's params (params itself is 1)."""


def _bad_string(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def params_problem(params: Any) -> RpcError | None:
    """The error to answer for `params`, or None when they may be handled."""
    kind = type(params)
    if kind is not dict and kind is not list:
        return None
    stack: list[tuple[Any, int]] = [(params, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return RpcError(
                INVALID_PARAMS,
                f"Invalid params: nested deeper than {MAX_DEPTH} levels of objects and arrays",
            )
        if type(value) is dict:
            for key in value:
                if type(key) is str and not key.isascii() and _bad_string(key):
                    return _surrogate()
            items = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                if not item.isascii() and _bad_string(item):
                    return _surrogate()
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
    return None


def _surrogate() -> RpcError:
    return RpcError(
        INVALID_PARAMS,
        "Invalid params: a string holds a lone UTF-16 surrogate and is not valid Unicode text",
    )
