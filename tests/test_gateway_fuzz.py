"""Malformed, oversized and wrongly typed input never crashes the gateway and never
returns another caller's data."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway_harness import (
    ACCEPT,
    Registry,
    Served,
    everything_command,
    open_session,
    rpc_body,
    serving,
    start_upstream,
    suite,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

YAML = (
    suite("dev", "everything")
    + """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: callers}
spec:
  suites: [dev]
  subjects:
    - {name: alice, tokenFrom: {env: ALICE}}
    - {name: bob, tokenFrom: {env: BOB}}
  rules: [{action: allow, tools: ["everything.echo", "everything.get-sum"]}]
"""
)
MARKER = f"alice-only-{uuid.uuid4()}"


@dataclass
class Target:
    served: Served
    http: httpx2.AsyncClient
    url: str
    alice_session: str
    bob_session: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def target() -> AsyncIterator[Target]:
    upstream = await start_upstream("everything", everything_command())
    registry = Registry({"everything": upstream})
    tools = {"everything": await upstream.connection.list_tools()}
    try:
        async with (
            serving(
                YAML,
                registry,
                tools,
                environ={"ALICE": "a-token", "BOB": "b-token"},
                call_timeout=3,
            ) as served,
            httpx2.AsyncClient(timeout=10) as http,
        ):
            url = served.url("dev")
            alice = await open_session(http, url, authorization="Bearer a-token")
            bob = await open_session(http, url, authorization="Bearer b-token")
            call = rpc_body(
                "tools/call", {"name": "everything_echo", "arguments": {"message": MARKER}}
            )
            said = await http.post(
                url,
                json=call,
                headers={**ACCEPT, "authorization": "Bearer a-token", "mcp-session-id": alice},
            )
            assert MARKER in said.text
            yield Target(served, http, url, alice, bob)
    finally:
        await upstream.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
methods = st.sampled_from(
    [
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/read",
        "resources/subscribe",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "notifications/cancelled",
        "notifications/initialized",
    ]
) | st.text(max_size=20)
params = json_values | st.fixed_dictionaries(
    {
        "name": st.sampled_from(["everything_echo", "everything_get-sum", "x", ""]) | json_values,
        "arguments": json_values,
        "uri": json_values,
        "level": st.sampled_from(["debug", "info", "nope"]) | json_values,
        "requestId": json_values,
        "_meta": st.fixed_dictionaries({"progressToken": json_values}),
    }
)
messages = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "1.0", 2]), "method": methods},
    optional={"id": json_values, "params": params, "result": json_values, "error": json_values},
)
bodies = (
    messages.map(lambda m: json.dumps(m).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | st.integers(0, 64).map(lambda depth: b"[" * depth * 1000)
)
sessions = st.sampled_from(["bob", "alice", "random", "none"])
tokens = st.sampled_from(["b-token", "a-token", "wrong", None])
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain"]
)
accepts = st.sampled_from(
    ["application/json, text/event-stream", "application/json", "text/event-stream", "*/*", "x/y"]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, session=sessions, token=tokens, content_type=content_types, accept=accepts)
async def test_any_input_gets_an_answer_and_never_another_callers_data(
    target: Target, body: bytes, session: str, token: str | None, content_type: str, accept: str
) -> None:
    headers = {"content-type": content_type, "accept": accept}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    session_id = {"bob": target.bob_session, "alice": target.alice_session}.get(session)
    if session == "random":
        session_id = str(uuid.uuid4())
    if session_id is not None:
        headers["mcp-session-id"] = session_id
    response = await target.http.post(target.url, content=body, headers=headers)
    assert response.status_code < 500, response.text
    if token != "a-token":
        assert MARKER not in response.text
        assert target.alice_session not in response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        json.loads(response.text)


async def test_the_gateway_still_serves_after_the_fuzzing(target: Target) -> None:
    call = rpc_body("tools/call", {"name": "everything_echo", "arguments": {"message": "still"}})
    answer = await target.http.post(
        target.url,
        json=call,
        headers={**ACCEPT, "authorization": "Bearer b-token", "mcp-session-id": target.bob_session},
    )
    assert answer.status_code == 200
    assert "Echo: still" in answer.text
    health = await target.http.get(f"{target.served.server.url}/healthz")
    assert health.status_code == 200
