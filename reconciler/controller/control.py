"""The local control API: a unix socket in the state dir, for `reconcile`, `restart` (and
`status`).

Only processes that can open `<state-dir>/control.sock` (mode 0600) reach it. Reads go to
the state store, which the controller keeps current, so `status` and `events` work the
same, read-only, when the controller is down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..core.errors import InvalidInput
from ..embedded_http import EmbeddedHttpServer

if TYPE_CHECKING:
    from .standalone import StandaloneController


def control_app(controller: StandaloneController) -> Starlette:
    async def reconcile(request: Request) -> JSONResponse:
        controller.source.trigger()
        reconciler = controller.reconciler
        outcome = await reconciler.resync() if reconciler is not None else None
        last = controller.last_outcome
        return JSONResponse(
            {
                "triggered": True,
                "resynced": outcome is not None,
                "changes": outcome.plan.counts() if outcome and outcome.plan else {},
                "lastRevision": last.revision if last else None,
                "lastApplied": last.applied if last else None,
                "lastReason": last.reason if last else None,
                "lastMessage": last.message if last else None,
            }
        )

    async def restart(request: Request) -> JSONResponse:
        from .restarts import restart_servers, restartable

        reconciler = controller.reconciler
        if reconciler is None:
            return JSONResponse({"error": "the controller has not applied a revision yet"}, 409)
        body = await request.json()
        try:
            keys = restartable(
                reconciler, [str(n) for n in body.get("servers") or []], every=bool(body.get("all"))
            )
        except InvalidInput as error:
            return JSONResponse({"error": error.message}, 404)
        wait = min(float(body.get("waitSeconds", 30.0)), 600.0)
        results = await restart_servers(reconciler, keys, wait_seconds=wait)
        return JSONResponse({"restarted": [r.as_json() for r in results]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"pid": os.getpid(), "gateway": controller.gateway_url})

    async def tools(request: Request) -> JSONResponse:
        """Each running server's tools exactly as it sent them (`lock`, `scan`)."""
        reconciler = controller.reconciler
        return JSONResponse({"servers": reconciler.tools() if reconciler is not None else {}})

    return Starlette(
        routes=[
            Route("/reconcile", reconcile, methods=["POST"]),
            Route("/restart", restart, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/tools", tools, methods=["GET"]),
        ]
    )


def control_server(controller: StandaloneController, path: Path) -> EmbeddedHttpServer:
    """The control API on the unix socket `path` (mode 0600), as an async context manager."""
    return EmbeddedHttpServer(control_app(controller), unix_socket=path, name="control")


class ControlRefused(Exception):
    """The controller answered a control request with an error (its message)."""


def request_control(
    state_dir: Path,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    timeout: float = 120,
) -> dict[str, Any] | None:
    """Call the running controller's control API; None when no controller listens.

    An answer with an error status raises `ControlRefused` with the controller's message.
    """
    import httpx

    socket_path = state_dir / "control.sock"
    if not socket_path.exists():
        return None
    transport = httpx.HTTPTransport(uds=str(socket_path))
    try:
        with httpx.Client(
            transport=transport, base_url="http://controller", timeout=timeout
        ) as client:
            response = client.request(method, path, json=body)
            if response.status_code >= 400:
                try:
                    message = str(response.json().get("error"))
                except ValueError:
                    message = response.text
                raise ControlRefused(message)
            result: dict[str, Any] = response.json()
            return result
    except httpx.TransportError:
        return None
