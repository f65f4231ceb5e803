"""The local control API: a unix socket in the state dir, for `reconcile`, `restart` (and
`status`).

Only processes that can open `<state-dir>/control.sock` (mode 0600) reach it. Reads go to
the state store, which the controller keeps current, so `status` and `events` work the
same, read-only, when the controller is down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..core.errors import InvalidInput, StateError
from ..embedded_http import EmbeddedHttpServer


class Controlled(Protocol):
    """What the control API asks of the controller."""

    async def reconcile_now(self) -> dict[str, Any]:
        """`POST /reconcile`: re-read the source and re-plan now; what happened."""
        ...

    def health(self) -> dict[str, Any]:
        """`GET /health`: the controller's pid and gateway URL."""
        ...

    async def restart(self, names: list[str], *, every: bool, wait: float) -> dict[str, Any]:
        """`POST /restart`: restart the named (or every) running server; what happened.
        `InvalidInput` for unknown or idle names, `StateError` before the first revision."""
        ...

    def server_tools(self) -> dict[str, list[dict[str, Any]]]:
        """`GET /tools`: each running server's tools exactly as it sent them."""
        ...


def control_app(controller: Controlled) -> Starlette:
    async def reconcile(request: Request) -> JSONResponse:
        return JSONResponse(await controller.reconcile_now())

    async def restart(request: Request) -> JSONResponse:
        body = await request.json()
        names = [str(n) for n in body.get("servers") or []]
        wait = min(float(body.get("waitSeconds", 30.0)), 600.0)
        try:
            answer = await controller.restart(names, every=bool(body.get("all")), wait=wait)
        except StateError as error:
            return JSONResponse({"error": error.message}, 409)
        except InvalidInput as error:
            return JSONResponse({"error": error.message}, 404)
        return JSONResponse(answer)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(controller.health())

    async def tools(request: Request) -> JSONResponse:
        """Each running server's tools exactly as it sent them (`lock`, `scan`)."""
        return JSONResponse({"servers": controller.server_tools()})

    return Starlette(
        routes=[
            Route("/reconcile", reconcile, methods=["POST"]),
            Route("/restart", restart, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/tools", tools, methods=["GET"]),
        ]
    )


def control_server(controller: Controlled, path: Path) -> EmbeddedHttpServer:
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
