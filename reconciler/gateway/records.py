"""The record of one tools/call through the gateway: what metrics, the usage store and audit
receive. One type from the gateway to SQLite (the store's `calls` table has one column per
field, in this order); the arguments themselves are never kept, only their hash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

CallOutcome = Literal[
    "ok",
    "tool_error",
    "error",
    "timeout",
    "denied",
    "rate_limited",
    "unknown_tool",
    "withheld",
    "cancelled",
    "unauthenticated",
]
"""`unauthenticated`: a request to a secured suite without a valid token (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One tool call through the gateway. The arguments themselves are never stored."""

    ts: float
    """Unix time the call arrived."""
    suite: str
    server: str
    """The server that answers the tool; empty when the tool is unknown."""
    tool: str
    """The server's name for the tool (the name the client sent when unknown)."""
    duration_ms: float
    outcome: CallOutcome
    subject: str | None = None
    """Caller (ToolPermission subject, `anonymous` on a suite without any)."""
    error_code: int | None = None
    """The JSON-RPC error code the client got, if any."""
    args_hash: str | None = None
    """SHA-256 of the canonical JSON of the arguments (sorted keys, no spaces)."""
    token_sub: str | None = None
    """The `sub` claim of the caller's OIDC token, beside `subject` (the subject's declared
    name): which account of the identity provider called. None for static tokens and
    anonymous callers. An identifier, never the token."""


def unauthenticated_attempt(suite: str) -> CallRecord:
    """The record of a request refused for want of a valid token (HTTP 401), for audit: no
    subject, no tool (the body is not read)."""
    return CallRecord(
        ts=time.time(),
        suite=suite,
        server="",
        tool="",
        duration_ms=0.0,
        outcome="unauthenticated",
        error_code=401,
    )
