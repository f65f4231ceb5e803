"""The registry through which the gateway finds each server's live connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.conditions import Phase
from ..upstream.connection import UpstreamConnection

if TYPE_CHECKING:
    from .reconcile import Reconciler


class UpstreamsOf:
    """The gateway's UpstreamRegistry over the reconciler's runners (looked up per call)."""

    def __init__(self, reconciler: Callable[[], Reconciler | None]) -> None:
        self._reconciler = reconciler

    def get(self, server: str) -> UpstreamConnection | None:
        reconciler = self._reconciler()
        if reconciler is None:
            return None
        for key, runner in reconciler.runners.items():
            if key.name == server and runner.phase == Phase.READY:
                return runner.connection
        return None
