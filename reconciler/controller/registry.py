"""The registry through which the gateway finds each server's live connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.conditions import Phase
from ..core.models import DEFAULT_NAMESPACE, MCPServer, ResourceKey
from ..upstream.connection import UpstreamConnection

if TYPE_CHECKING:
    from .reconcile import Reconciler


class UpstreamsOf:
    """The gateway's UpstreamRegistry over the reconciler's runners (looked up per call)."""

    def __init__(self, reconciler: Callable[[], Reconciler | None]) -> None:
        self._reconciler = reconciler

    def get(self, server: str) -> UpstreamConnection | None:
        """The connection of `server` (its qualified name: `namespace/name` outside the
        default namespace), while it is Ready."""
        reconciler = self._reconciler()
        if reconciler is None:
            return None
        namespace, _, name = server.rpartition("/")
        key = ResourceKey(MCPServer.kind_name, namespace or DEFAULT_NAMESPACE, name)
        runner = reconciler.runners.get(key)
        return runner.connection if runner is not None and runner.phase == Phase.READY else None
