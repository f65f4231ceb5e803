"""What `reconciler/upstream/remote.py` relies on in the MCP SDK beyond its public API.

The streamable HTTP transport to remote servers opens the SDK's `StreamableHTTPTransport`
itself (to learn which call each server message came with), so it uses three private modules
and the transport's methods by name and argument order. pyproject.toml pins the SDK to the
releases this was checked against; these tests say exactly what moved when a new release
changes any of it, instead of a remote server failing at run time.
"""

from __future__ import annotations

import importlib
import inspect
import re
from importlib.metadata import version
from typing import Any

import pytest

SDK = f"mcp {version('mcp')}"

PRIVATE_NAMES = [
    ("mcp.client._transport", "TransportStreams"),
    ("mcp.shared._context_streams", "create_context_streams"),
    ("mcp.shared._httpx_utils", "create_mcp_http_client"),
    ("mcp.client.streamable_http", "StreamableHTTPTransport"),
    ("mcp.client.streamable_http", "StreamWriter"),
    ("mcp.shared.inbound", "MCP_PROTOCOL_VERSION_HEADER"),
    ("httpx2", "ServerSentEvent"),
]

TRANSPORT_METHODS = {
    # method: the parameters remote.py passes, in order (after self)
    "_handle_sse_event": [
        "sse",
        "read_stream_writer",
        "original_request_id",
        "resumption_callback",
    ],
    "post_writer": [
        "client",
        "write_stream_reader",
        "read_stream_writer",
        "write_stream",
        "start_get_stream",
        "tg",
    ],
    "handle_get_stream": ["client", "read_stream_writer"],
    "terminate_session": ["client"],
}


def sdk_object(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        pytest.fail(
            f"{SDK} no longer provides {module}.{name}, which reconciler/upstream/remote.py "
            f"imports ({error}). Adapt remote.py to the new SDK, or keep the pin in "
            "pyproject.toml below this release."
        )


@pytest.mark.parametrize(("module", "name"), PRIVATE_NAMES)
def test_the_sdk_still_provides_what_remote_transports_import(module: str, name: str) -> None:
    assert sdk_object(module, name) is not None


def positional(function: Any) -> list[str]:
    parameters = list(inspect.signature(function).parameters.values())[1:]  # after self
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in parameters if p.kind in kinds]


@pytest.mark.parametrize(("method", "expected"), TRANSPORT_METHODS.items())
def test_the_sdk_transport_methods_take_what_remote_transports_pass(
    method: str, expected: list[str]
) -> None:
    transport = sdk_object("mcp.client.streamable_http", "StreamableHTTPTransport")
    found = getattr(transport, method, None)
    assert found is not None, (
        f"{SDK}: StreamableHTTPTransport.{method} is gone; reconciler/upstream/remote.py "
        "calls (or overrides) it"
    )
    assert positional(found)[: len(expected)] == expected, (
        f"{SDK}: StreamableHTTPTransport.{method} now takes {positional(found)}; "
        f"reconciler/upstream/remote.py passes {expected}"
    )


def test_the_sdk_opens_its_transport_the_way_remote_transports_copy() -> None:
    """`_streamable_http_streams` repeats the SDK's `streamable_http_client`: same calls."""
    client = sdk_object("mcp.client.streamable_http", "streamable_http_client")
    source = inspect.getsource(client)
    for call in (
        "create_context_streams[SessionMessage | Exception](0)",
        "create_context_streams[SessionMessage](0)",
        "transport.handle_get_stream",
        "transport.post_writer",
        "transport.terminate_session(client)",
    ):
        assert call in source, (
            f"{SDK}: streamable_http_client no longer does `{call}`; compare it with "
            "_streamable_http_streams in reconciler/upstream/remote.py and follow the change"
        )


def test_the_sdk_hands_each_post_responses_events_to_the_overridden_method() -> None:
    """`_RelatedStreamableHTTP` marks messages in `_handle_sse_event`: the SDK must route there."""
    transport = sdk_object("mcp.client.streamable_http", "StreamableHTTPTransport")
    source = inspect.getsource(transport)
    passing_the_request = re.compile(r"self\._handle_sse_event\([^)]*original_request_id")
    assert passing_the_request.search(source), (
        f"{SDK}: StreamableHTTPTransport no longer passes the request id to "
        "_handle_sse_event; remote transports could not tell which call a server message "
        "belongs to (see _RelatedStreamableHTTP in reconciler/upstream/remote.py)"
    )
