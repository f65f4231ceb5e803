"""A local HTTP front that adds `Authorization: Bearer <token>` to every request it passes
on, and passes the answers back unchanged, SSE streams included, as they arrive.

The conformance suite has no option to send a header: pointed at this front, it talks to a
suite that requires a token exactly as an authenticated client would. The `Host` header
keeps the name the client sent (the DNS-rebinding scenario sends a foreign one on purpose);
only a port naming this front is rewritten to the target's.

    TOKEN=... python bearer_front.py --target http://127.0.0.1:8765 --token-env TOKEN
    # prints http://localhost:PORT once listening; runs until SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]


def forwarded_host(host: str, *, front_port: int, target_port: int) -> str:
    """The client's `Host` with this front's port replaced by the target's."""
    name, sep, port = host.rpartition(":")
    if sep and port == str(front_port):
        return f"{name}:{target_port}"
    return host


def create_front(target: str, token: str, *, front_port: int) -> Starlette:
    """The proxy app: every path and method is passed to `target` with the token added."""
    target_port = urlsplit(target).port or 80
    client = httpx.AsyncClient(base_url=target, timeout=None)

    async def forward(request: Request) -> Response:
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name not in HOP_BY_HOP and name != "authorization"
        ]
        host = request.headers.get("host")
        if host is not None:
            headers.append(
                ("host", forwarded_host(host, front_port=front_port, target_port=target_port))
            )
        headers.append(("authorization", f"Bearer {token}"))
        outgoing = client.build_request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        answer = await client.send(outgoing, stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:
                await answer.aclose()

        return StreamingResponse(
            body(),
            status_code=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP},
        )

    routes = [
        Route("/", forward, methods=METHODS),
        Route("/{path:path}", forward, methods=METHODS),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with client:
            yield

    return Starlette(routes=routes, lifespan=lifespan)


async def serve(target: str, token: str) -> None:
    """Listen on a free local port, print the front's URL, serve until stopped."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_front(target, token, front_port=port)
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    print(f"http://localhost:{port}", flush=True)
    await server.serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="Base URL requests are passed to.")
    parser.add_argument("--token-env", required=True, help="Environment variable with the token.")
    args = parser.parse_args()
    token = os.environ.get(args.token_env)
    if not token:
        sys.exit(f"error: set {args.token_env} to the bearer token to send")
    asyncio.run(serve(args.target, token))


if __name__ == "__main__":
    main()
