"""Waiting on a condition instead of sleeping: the one polling helper of the tests.

`wait_for` (plain code, e.g. while a `mcp-reconciler run` process works) and `eventually`
(inside the event loop) poll `condition()` until it returns something truthy and return
it. A condition that raises counts as not met yet (the state may be mid-write); at the
deadline the test fails naming `what` and the last value or error seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

INTERVAL = 0.02
"""Seconds between two polls."""


def _poll(condition: Callable[[], T | None]) -> tuple[bool, Any]:
    try:
        value = condition()
    except Exception as error:
        return False, error
    return bool(value), value


def _timed_out(timeout: float, what: str, last: Any) -> AssertionError:
    return AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_for(
    condition: Callable[[], T | None], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll until `condition()` returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        met, last = _poll(condition)
        if met:
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, last)
        time.sleep(INTERVAL)


async def eventually(
    condition: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition"
) -> T:
    """`wait_for` inside the event loop: other tasks run between two polls."""
    deadline = time.monotonic() + timeout
    while True:
        met, last = _poll(condition)
        if met:
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, last)
        await asyncio.sleep(INTERVAL)
