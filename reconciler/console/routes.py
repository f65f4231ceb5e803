"""The console's Starlette routes under `/ui/`.

    GET  /ui/                          overview (servers, suites, revisions, events)
    GET  /ui/servers/{namespace}/{name} one server: tools side by side, health, events
    GET  /ui/suites/{name}             endpoint, client configurations, tools, access matrix
                                       (`namespace/name` outside the default namespace)
    GET  /ui/usage?window=1h|24h|7d    calls, errors, p50/p95 per tool over the window,
                                       as charts over time buckets (default 1h)
    GET  /ui/stream[?watch=calls]      server-sent events: `change` when the state changes
                                       (with watch=calls: also when calls are recorded)
    POST /ui/actions/reconcile         re-read the source and re-plan now (CSRF-checked)
    POST /ui/actions/restart/{ns}/{name} restart one server (CSRF-checked)
    POST /ui/login                     exchange the admin token (or an admin's OIDC token)
                                       for a session cookie
    GET  /ui/static/{file}             console.js, console.css

A page fetched with `?fragment=1` is only its `<main>` content (what live updates swap in).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from . import pages, snapshot
from .guard import COOKIE, ConsoleGuard, Refused

if TYPE_CHECKING:
    from ..controller.standalone import StandaloneController

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
STREAM_POLL_SECONDS = 0.3
KEEPALIVE_SECONDS = 15.0

Handler = Callable[[Request], Awaitable[Response]]


def _html(body: str, status: int = 200) -> Response:
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


def console_routes(controller: StandaloneController, guard: ConsoleGuard) -> list[BaseRoute]:
    """The console's routes, reading `controller`'s store and gateway while it runs."""

    def guarded(handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            try:
                await guard.admit(request)
                return await handler(request)
            except Refused as refused:
                login = refused.status == 401 and request.method == "GET"
                return refusal(refused, login=login)

        return checked

    def refusal(refused: Refused, *, login: bool) -> Response:
        issuer = guard.oidc.issuer if guard.oidc is not None else None
        return _html(
            pages.refusal_page(refused.status, refused.reason, login=login, oidc=issuer),
            refused.status,
        )

    def page(request: Request, title: str, content: str, *, events: str = "/ui/stream") -> Response:
        if request.query_params.get("fragment"):
            return _html(content)
        query = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}"
            for k, v in request.query_params.multi_items()
            if k != "fragment"
        )
        stream = f"{request.url.path}?{query + '&' if query else ''}fragment=1"
        return _html(pages.document(title, content, stream=stream, events=events))

    async def overview(request: Request) -> Response:
        view = snapshot.overview(controller)
        content = pages.overview_fragment(view, reconcile_csrf=guard.csrf_token("reconcile"))
        return page(request, "Overview", content)

    async def server(request: Request) -> Response:
        name = f"{request.path_params['namespace']}/{request.path_params['name']}"
        detail = snapshot.server_detail(controller, name)
        if detail is None:
            return _html(pages.refusal_page(404, f"no server named {name}", login=False), 404)
        return page(
            request,
            f"Server {name}",
            pages.server_fragment(detail, restart_csrf=guard.csrf_token("restart")),
        )

    async def suite(request: Request) -> Response:
        name = request.path_params["name"]
        detail = snapshot.suite_detail(controller, name)
        if detail is None:
            return _html(pages.refusal_page(404, f"no suite named {name}", login=False), 404)
        return page(request, f"Suite {name}", pages.suite_fragment(detail))

    async def usage(request: Request) -> Response:
        windows = tuple(label for label, _, _ in snapshot.WINDOWS)
        window = request.query_params.get("window", windows[0])
        if window not in windows:
            known = ", ".join(windows)
            return _html(pages.refusal_page(404, f"no window {window}: {known}", login=False), 404)
        return page(
            request,
            f"Usage {window}",
            pages.usage_fragment(snapshot.usage(controller, window), windows=windows),
            events="/ui/stream?watch=calls",
        )

    async def stream(request: Request) -> Response:
        calls = request.query_params.get("watch") == "calls"

        async def changes() -> AsyncIterator[bytes]:
            last = snapshot.fingerprint(controller, calls=calls)
            idle = 0.0
            yield b"retry: 1000\n: stream open\n\n"
            while True:
                await asyncio.sleep(STREAM_POLL_SECONDS)
                current = snapshot.fingerprint(controller, calls=calls)
                if current != last:
                    last, idle = current, 0.0
                    yield b"event: change\ndata: state\n\n"
                else:
                    idle += STREAM_POLL_SECONDS
                    if idle >= KEEPALIVE_SECONDS:
                        idle = 0.0
                        yield b": keep-alive\n\n"

        return StreamingResponse(
            changes(),
            media_type="text/event-stream",
            headers={**SECURITY_HEADERS, "x-accel-buffering": "no"},
        )

    async def reconcile(request: Request) -> Response:
        form = await request.form()
        guard.check_action(request, "reconcile", str(form.get("csrf", "")))
        controller.trigger()
        return RedirectResponse("/ui/", status_code=303, headers=SECURITY_HEADERS)

    restarting: set[asyncio.Task[object]] = set()

    async def restart(request: Request) -> Response:
        from ..controller.restarts import restart_servers, restartable
        from ..core.errors import InvalidInput

        namespace, name = request.path_params["namespace"], request.path_params["name"]
        form = await request.form()
        guard.check_action(request, "restart", str(form.get("csrf", "")))
        reconciler = controller.reconciler
        if reconciler is None:
            raise Refused(409, "the controller has not applied a revision yet")
        try:
            keys = restartable(reconciler, [f"{namespace}/{name}"], every=False)
        except InvalidInput as error:
            raise Refused(404, error.message) from None
        # The page follows the restart live; the response does not wait for Ready.
        task: asyncio.Task[object] = asyncio.create_task(
            restart_servers(reconciler, keys, wait_seconds=30.0)
        )
        restarting.add(task)
        task.add_done_callback(restarting.discard)
        return RedirectResponse(
            f"/ui/servers/{quote(namespace, safe='')}/{quote(name, safe='')}",
            status_code=303,
            headers=SECURITY_HEADERS,
        )

    async def login(request: Request) -> Response:
        try:
            guard.hosts_only(request)
        except Refused as refused:
            return refusal(refused, login=False)
        form = await request.form()
        offered = str(form.get("token", "")).strip()
        response = RedirectResponse("/ui/", status_code=303, headers=SECURITY_HEADERS)
        if guard.check_token(offered):
            response.set_cookie(
                COOKIE, guard.session_value(), httponly=True, samesite="strict", path="/ui"
            )
            return response
        if guard.oidc is None:
            return refusal(Refused(401, "wrong admin token"), login=True)
        try:
            expires = await guard.check_oidc(offered)
        except Refused as refused:
            return refusal(refused, login=True)
        response.set_cookie(
            COOKIE,
            guard.oidc_session_value(expires),
            max_age=max(1, int(expires - time.time())),
            httponly=True,
            samesite="strict",
            path="/ui",
        )
        return response

    async def static(request: Request) -> Response:
        try:
            guard.hosts_only(request)
        except Refused as refused:
            return Response(refused.reason, refused.status)
        name = request.path_params["file"]
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or suffix not in STATIC_TYPES:
            return Response("not found", 404)
        resource = files(__package__).joinpath("static", name)
        if not resource.is_file():
            return Response("not found", 404)
        return Response(
            resource.read_bytes(),
            media_type=STATIC_TYPES[suffix],
            headers={**SECURITY_HEADERS, "cache-control": "max-age=300"},
        )

    async def to_console(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=308)

    return [
        Route("/ui", to_console, methods=["GET"]),
        Route("/ui/", guarded(overview), methods=["GET"]),
        Route("/ui/servers/{namespace}/{name}", guarded(server), methods=["GET"]),
        Route("/ui/suites/{name:path}", guarded(suite), methods=["GET"]),
        Route("/ui/usage", guarded(usage), methods=["GET"]),
        Route("/ui/stream", guarded(stream), methods=["GET"]),
        Route("/ui/actions/reconcile", guarded(reconcile), methods=["POST"]),
        Route("/ui/actions/restart/{namespace}/{name}", guarded(restart), methods=["POST"]),
        Route("/ui/login", login, methods=["POST"]),
        Route("/ui/static/{file}", static, methods=["GET"]),
    ]
