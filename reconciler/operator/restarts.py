"""`mcp-reconciler restart --kube`: ask the operator to restart servers in a cluster.

The request is an annotation on the MCPServer, `mcp.reconciler.dev/restartedAt: <time>`.
The operator copies it onto the server's pod template, which rolls the Deployment the way
`kubectl rollout restart` does (a remote server is reconnected), posts a `Restarted`
Event, and sets the server back to `Starting` — a `Stalled` server included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput
from ..core.models import MCPServer
from .kube import CUSTOM, Kube, load_configuration
from .naming import ANNOTATION_RESTARTED_AT


@dataclass(frozen=True, slots=True)
class RestartRequest:
    """One MCPServer annotated for a restart."""

    name: str
    namespace: str
    restarted_at: str
    phase: str | None
    """The phase the server had when it was annotated."""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "restartedAt": self.restarted_at,
            "previousPhase": self.phase,
        }


def restart_stamp(now: datetime | None = None) -> str:
    """The annotation's value: the time, RFC 3339 to the microsecond (unique per request)."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def annotate_restarts(
    kube: Kube, namespace: str, names: list[str], *, every: bool
) -> list[RestartRequest]:
    """Annotate the named MCPServers (or all of the namespace); InvalidInput naming the
    unknown ones, before any is annotated."""
    kind = CUSTOM[MCPServer.kind_name]
    if every:
        bodies = await kube.list_objects(kind, namespace)
    else:
        found = await asyncio.gather(*(kube.get(kind, namespace, n) for n in names))
        unknown = [n for n, body in zip(names, found, strict=True) if body is None]
        if unknown:
            raise InvalidInput(
                f"unknown server(s) in namespace {namespace}: {', '.join(unknown)}",
                reason="UnknownServer",
            )
        bodies = [body for body in found if body is not None]
    stamp = restart_stamp()
    requests = []
    for body in bodies:
        name = str(body["metadata"]["name"])
        patch = {"metadata": {"annotations": {ANNOTATION_RESTARTED_AT: stamp}}}
        await kube.patch(kind, namespace, name, patch)
        phase = (body.get("status") or {}).get("phase")
        requests.append(RestartRequest(name, namespace, stamp, phase))
    return requests


def request_restarts(
    namespace: str,
    names: list[str],
    *,
    every: bool,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> list[RestartRequest]:
    """Log in as kubectl does and annotate the servers (see `annotate_restarts`)."""

    async def run() -> list[RestartRequest]:
        kube = Kube(load_configuration(kubeconfig=kubeconfig, context=context))
        try:
            return await annotate_restarts(kube, namespace, names, every=every)
        finally:
            await asyncio.to_thread(kube.close)

    return asyncio.run(run())
