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


class _Poll:
    """The polls of one wait: `met()` polls once, and fails the test past the deadline."""

    def __init__(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        self._condition = condition
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._what = what
        self.value: Any = None

    def met(self) -> bool:
        try:
            self.value = self._condition()
            if self.value:
                return True
        except Exception as error:  # not met yet: the state may be mid-write
            self.value = error
        if time.monotonic() > self._deadline:
            message = f"timed out after {self._timeout}s waiting for {self._what}"
            raise AssertionError(f"{message} (last: {self.value!r})")
        return False


def wait_for(
    condition: Callable[[], T | None], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll until `condition()` returns something truthy; fail naming `what` after `timeout`."""
    poll = _Poll(condition, timeout, what)
    while not poll.met():
        time.sleep(INTERVAL)
    return poll.value  # type: ignore[no-any-return]


async def eventually(
    condition: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition"
) -> T:
    """`wait_for` inside the event loop: other tasks run between two polls."""
    poll = _Poll(condition, timeout, what)
    while not poll.met():  # noqa: ASYNC110 (a condition of plain state: no event to await)
        await asyncio.sleep(INTERVAL)
    return poll.value  # type: ignore[no-any-return]
