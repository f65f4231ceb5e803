"""Discovery from inside the cluster: connect to a server's URL, list its tools, disconnect.

`ToolLister` is the interface the operator depends on; `list_tools_over_http` is the real
one, over reconciler.upstream's transports and UpstreamConnection (the same MCP client
the standalone controller and the gateway use). Where the URL comes from (the server's
Service, or a template in tests) is decided by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..core.errors import ReconcilerError, ServerError
from ..upstream import UpstreamConnection, sse_transport, streamable_http_transport
from ..upstream.remote import BearerSource


class ToolLister(Protocol):
    """Lists the tools of the MCP server at `url` (raw `tools/list` dicts); `bearer` gives
    the OAuth tokens of a server behind OAuth (one refresh on a 401)."""

    async def __call__(
        self,
        name: str,
        url: str,
        *,
        transport: str,
        headers: Mapping[str, str],
        timeout: float,
        bearer: BearerSource | None = None,
    ) -> list[dict[str, Any]]: ...


async def list_tools_over_http(
    name: str,
    url: str,
    *,
    transport: str,
    headers: Mapping[str, str],
    timeout: float,
    bearer: BearerSource | None = None,
) -> list[dict[str, Any]]:
    """Handshake, `tools/list` (every page), close. Raises ServerError saying what failed
    (with the reason of an OAuth failure: `OAuthClientRejected`, `UpstreamUnauthorized`...)."""
    pipe = (
        sse_transport(url, headers=headers, bearer=bearer)
        if transport == "sse"
        else streamable_http_transport(url, headers=headers, bearer=bearer)
    )
    connection = UpstreamConnection(name, pipe)
    try:
        await connection.connect(timeout=timeout)
        if "tools" not in connection.server_capabilities:
            return []
        return await connection.list_tools(timeout=timeout)
    except ReconcilerError as exc:
        cause = connection.failure_error
        if cause is not None and cause.reason != exc.reason:  # the pipe closed under the call
            raise ServerError.caused_by(
                f"discovery of server {name!r} failed: {cause.message}", cause
            ) from None
        raise
    except Exception as exc:  # a transport failure the client did not word
        raise ServerError.caused_by(
            f"discovery of server {name!r} failed ({type(exc).__name__})",
            connection.failure_error,
        ) from None
    finally:
        await connection.close()
