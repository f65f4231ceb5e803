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


# -- the abuse classes: deep or invalid arguments, junk tool names, other hosts ---------

surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
junk_names = st.text(max_size=40) | st.binary(max_size=20).map(repr) | surrogates | json_values


def nested(depth: int, leaf: object) -> object:
    value = leaf
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


arguments = (
    st.tuples(st.integers(1, 120), st.text(max_size=10) | surrogates).map(
        lambda t: {"message": nested(*t)}
    )
    | st.dictionaries(st.text(max_size=5) | surrogates, st.text(max_size=10) | surrogates)
    | json_values
)


def has_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False


def depth_of(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(["everything_echo"]) | junk_names, args=arguments)
async def test_any_arguments_or_tool_name_get_a_prompt_answer_and_stay_out_of_logs(
    target: Target, name: object, args: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    body = json.dumps(rpc_body("tools/call", {"name": name, "arguments": args})).encode()
    headers = {
        **ACCEPT,
        "content-type": "application/json",
        "authorization": "Bearer b-token",
        "mcp-session-id": target.bob_session,
    }
    response = await target.http.post(target.url, content=body, headers=headers, timeout=15)
    assert response.status_code == 200, response.text
    answer = response.json()
    params = {"name": name, "arguments": args}
    if has_surrogate(params) or depth_of(params) > 32:
        assert answer["error"]["code"] == -32602
    for record in caplog.records:
        assert body.decode() not in record.getMessage()
        if isinstance(args, dict) and isinstance(args.get("message"), str) and args["message"]:
            assert json.dumps(args) not in record.getMessage()


hosts = st.sampled_from(["127.0.0.1", "localhost:1", "evil.example", "[::1]", ""]) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30
)
origins = st.none() | st.sampled_from(["http://localhost", "http://evil.example", "null"])
paths = st.sampled_from(["/metrics", "/readyz", "/healthz", "/suites/dev/mcp", "/suites/dev/sse"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(host=hosts, origin=origins, path=paths)
async def test_foreign_hosts_and_origins_read_nothing_anywhere(
    target: Target, host: str, origin: str | None, path: str
) -> None:
    from reconciler.gateway.hosts import HostPolicy

    headers = {"host": host}
    if origin is not None:
        headers["origin"] = origin
    response = await target.http.get(f"{target.served.server.url}{path}", headers=headers)
    if HostPolicy.of().refusal(host, origin) is not None:
        assert response.status_code in (421, 403)
        assert "everything" not in response.text
        assert "mcp_gateway" not in response.text


async def test_after_the_fuzzing_metric_labels_name_only_served_tools(target: Target) -> None:
    metrics = (await target.http.get(f"{target.served.server.url}/metrics")).text
    tools = {
        line.split('tool="', 1)[1].split('"', 1)[0]
        for line in metrics.splitlines()
        if line.startswith("mcp_gateway_tool_calls_total{")
    }
    served = {route.tool for route in target.served.gateway.suite("dev").tools.values()}  # type: ignore[union-attr]
    assert tools <= served | {"unknown"}
    assert len(metrics) < 200_000


async def test_a_flood_of_initialize_keeps_the_callers_sessions_capped(target: Target) -> None:
    for _ in range(150):
        await target.http.post(
            target.url,
            content=json.dumps(rpc_body("initialize", {"protocolVersion": "2025-06-18"})),
            headers={
                **ACCEPT,
                "content-type": "application/json",
                "authorization": "Bearer b-token",
            },
        )
    bobs = [s for s in target.served.gateway.sessions if s.subject == "bob"]
    assert len(bobs) <= 64
    alice = await target.http.post(
        target.url,
        json=rpc_body("ping"),
        headers={
            **ACCEPT,
            "authorization": "Bearer a-token",
            "mcp-session-id": target.alice_session,
        },
    )
    assert alice.status_code == 200
