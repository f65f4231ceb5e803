"""An ASGI app served by uvicorn inside the caller's event loop: the gateway on a TCP port,
the controller's control API on a unix socket.

The socket is bound before serving starts, so a busy address fails at once (an `OSError`
for the caller to explain) and connections made meanwhile wait in the backlog. Signal
handling is left to the embedding process (the controller owns SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn

BACKLOG = 2048


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn that leaves signal handling to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EmbeddedHttpServer:
    """Serves `app` on a bound socket from `start` (or entering `async with`) until `stop`.

    On `host`:`port` (port 0 picks a free port; `port` tells which), or on `unix_socket`,
    which only its owner may open (mode 0600) and which is removed at the end. Stopping
    waits up to `shutdown_seconds` for requests in progress.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        unix_socket: Path | None = None,
        name: str = "http",
        shutdown_seconds: int = 5,
        **config: Any,
    ) -> None:
        """`config`: more uvicorn settings (the gateway's protocol with its limits)."""
        self.host = host
        self.unix_socket = unix_socket
        self.name = name
        self._port = port
        self._server = _EmbeddedUvicorn(
            uvicorn.Config(
                app,
                lifespan="off",
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=shutdown_seconds,
                **config,
            )
        )
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The TCP port listened on (the one picked, when asked for port 0)."""
        if self._socket is not None and self.unix_socket is None:
            return int(self._socket.getsockname()[1])
        return self._port

    async def start(self) -> None:
        """Bind, then serve in a task; OSError when the address cannot be bound."""
        if self.unix_socket is not None:
            sock = _unix_socket(self.unix_socket)
        else:
            sock = _tcp_socket(self.host, self._port)
        sock.setblocking(False)
        self._socket = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=self.name)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
        if self.unix_socket is not None:
            with contextlib.suppress(FileNotFoundError):
                self.unix_socket.unlink()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _tcp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _unix_socket(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
