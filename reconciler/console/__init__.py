"""The web console at `/ui/`: the controller's state in a browser, live.

`routes.py` holds the Starlette routes (mounted on the gateway's listener by the standalone
controller), `guard.py` who may see and act (host policy, admin token, CSRF),
`pages.py` the server-rendered HTML (every value escaped), `snapshot.py` what a page shows,
read from the state store and the gateway's current configuration. Assets are in `static/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from .guard import AdminOidc, ConsoleGuard, needs_admin_token
from .routes import console_routes

if TYPE_CHECKING:
    from ..controller.standalone import StandaloneController

__all__ = ["AdminOidc", "ConsoleGuard", "console_for", "console_routes", "needs_admin_token"]


def console_for(
    *, listen_host: str, admin_token: str | None = None, admin_oidc: AdminOidc | None = None
) -> Callable[[StandaloneController], list[BaseRoute]]:
    """The console's routes for a controller listening on `listen_host`: open on loopback,
    behind `admin_token` or an `admin_oidc` token anywhere else (refused outright when
    neither is configured). JWTs are verified by the gateway's verifier."""

    def build(controller: StandaloneController) -> list[BaseRoute]:
        assert controller.gateway is not None
        guard = ConsoleGuard(
            hosts=controller.gateway.hosts,
            token_required=needs_admin_token(listen_host),
            admin_token=admin_token.encode() if admin_token else None,
            oidc=admin_oidc,
            verifier=controller.gateway.verifier,
        )
        return console_routes(controller, guard)

    return build
