"""The gateway under abuse: credentials of other permissions, session floods, client-chosen
metric labels, deep or invalid arguments, other hosts, against a real upstream server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx2
import pytest
import pytest_asyncio

from tests.gateway_harness import (
    ACCEPT,
    INITIALIZE,
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

PERMISSIONS = """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: bot-dev}
spec:
  suites: [dev]
  subjects: [{name: bot, tokenFrom: {env: BOT_DEV}}]
  rules: [{action: allow, tools: ["everything.*"]}]
  rateLimit: {requestsPerMinute: 600, burst: 20}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: bot-side}
spec:
  suites: [side]
  subjects: [{name: bot, tokenFrom: {env: BOT_SIDE}}]
  rules: [{action: allow, tools: ["everything.echo"]}]
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: people}
spec:
  suites: [dev]
  subjects:
    - {name: alice, tokenFrom: {env: ALICE}}
    - {name: flood, tokenFrom: {env: FLOOD}}
  rules: [{action: allow, tools: ["everything.echo"]}]
  rateLimit: {requestsPerMinute: 60, burst: 5}
"""
YAML = (
    suite(
        "dev",
        "everything",
        extra=", sessions: {maxSessionsPerCaller: 4, initializePerMinute: 30}",
    )
    + suite("side", "everything")
    + PERMISSIONS
)
ENV = {"BOT_DEV": "bot-dev-token", "BOT_SIDE": "bot-side-token", "ALICE": "alice-token"}
ENV["FLOOD"] = "flood-token"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[Served]:
    upstream = await start_upstream("everything", everything_command())
    registry = Registry({"everything": upstream})
    tools = {"everything": await upstream.connection.list_tools()}
    try:
        async with serving(YAML, registry, tools, environ=ENV, call_timeout=20) as served:
            yield served
    finally:
        await upstream.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=30) as client:
        yield client


def bearer(token: str, session: str | None = None) -> dict[str, str]:
    headers = {**ACCEPT, "authorization": f"Bearer {token}"}
    if session is not None:
        headers["mcp-session-id"] = session
    return headers


async def call(
    http: httpx2.AsyncClient, url: str, token: str, session: str, name: str, arguments: object
) -> dict[str, object]:
    body = rpc_body("tools/call", {"name": name, "arguments": arguments})
    response = await http.post(url, json=body, headers=bearer(token, session))
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


# -- credentials are per ToolPermission --------------------------------------------------


async def test_a_token_of_another_suites_permission_does_not_log_in(
    served: Served, http: httpx2.AsyncClient
) -> None:
    refused = await http.post(served.url("dev"), json=INITIALIZE, headers=bearer("bot-side-token"))
    assert refused.status_code == 401
    session = await open_session(http, served.url("side"), authorization="Bearer bot-side-token")
    answer = await call(
        http, served.url("side"), "bot-side-token", session, "everything_echo", {"message": "hi"}
    )
    assert "Echo: hi" in json.dumps(answer)
    dev = await open_session(http, served.url("dev"), authorization="Bearer bot-dev-token")
    answer = await call(
        http, served.url("dev"), "bot-dev-token", dev, "everything_get-sum", {"a": 1, "b": 2}
    )
    assert "3" in json.dumps(answer["result"])


# -- session floods ----------------------------------------------------------------------


async def test_one_caller_flooding_initialize_is_rate_limited_and_evicts_only_its_own(
    served: Served, http: httpx2.AsyncClient
) -> None:
    url = served.url("dev")
    alice = await open_session(http, url, authorization="Bearer alice-token")
    responses = await asyncio.gather(
        *(http.post(url, json=INITIALIZE, headers=bearer("flood-token")) for _ in range(90))
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) < 60  # a burst of 30, then 30 a minute
    limited = next(r for r in responses if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == -32029
    held = [s for s in served.gateway.sessions if s.subject == "flood"]
    assert len(held) <= 4
    answer = await call(http, url, "alice-token", alice, "everything_echo", {"message": "still"})
    assert "Echo: still" in json.dumps(answer)
    fresh = await http.post(url, json=INITIALIZE, headers=bearer("alice-token"))
    assert fresh.status_code == 200


async def test_a_caller_at_its_cap_loses_its_least_recently_used_idle_session(
    served: Served, http: httpx2.AsyncClient
) -> None:
    url = served.url("dev")
    sessions = [
        await open_session(http, url, authorization="Bearer bot-dev-token") for _ in range(4)
    ]
    await call(http, url, "bot-dev-token", sessions[0], "everything_echo", {"message": "a"})
    newest = await open_session(http, url, authorization="Bearer bot-dev-token")
    alive = {s.id for s in served.gateway.sessions if s.subject == "bot"}
    assert sessions[0] in alive
    assert newest in alive
    assert sessions[1] not in alive


# -- metric labels and unknown tools -----------------------------------------------------


async def test_unknown_tool_names_never_become_metric_labels_and_count_against_the_rate_limit(
    served: Served, http: httpx2.AsyncClient
) -> None:
    url = served.url("dev")
    session = await open_session(http, url, authorization="Bearer alice-token")
    await asyncio.sleep(0)
    codes = []
    for i in range(12):
        name = f"junk\u0000{i}" if i % 2 else {"not": "a string"}
        answer = await call(http, url, "alice-token", session, name, {})  # type: ignore[arg-type]
        codes.append(answer["error"]["code"])  # type: ignore[index]
    assert -32029 in codes, codes
    metrics = (await http.get(f"{served.server.url}/metrics")).text
    assert "junk" not in metrics
    assert "not" + "': " not in metrics
    assert 'tool="unknown"' in metrics


# -- arguments ---------------------------------------------------------------------------


async def test_deeply_nested_arguments_are_refused_at_once(
    served: Served, http: httpx2.AsyncClient
) -> None:
    url = served.url("dev")
    session = await open_session(http, url, authorization="Bearer bot-dev-token")
    deep: object = "x"
    for _ in range(200):
        deep = {"a": deep}
    started = asyncio.get_running_loop().time()
    answer = await call(http, url, "bot-dev-token", session, "everything_echo", {"message": deep})
    assert answer["error"]["code"] == -32602  # type: ignore[index]
    assert "nested deeper than 32" in answer["error"]["message"]  # type: ignore[index]
    assert asyncio.get_running_loop().time() - started < 5


async def test_a_lone_surrogate_is_invalid_params_and_arguments_never_reach_the_log(
    served: Served, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    url = served.url("dev")
    session = await open_session(http, url, authorization="Bearer bot-dev-token")
    marker = "argument-marker-7f3a"
    body = (
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"everything_echo",'
        '"arguments":{"message":"' + marker + '\\ud800"}}}'
    )
    with caplog.at_level(logging.DEBUG):
        response = await http.post(
            url,
            content=body.encode(),
            headers={**bearer("bot-dev-token", session), "content-type": "application/json"},
        )
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32602
    assert marker not in caplog.text
    assert all(marker not in str(r.args) for r in caplog.records)


# -- Host and Origin on every endpoint ---------------------------------------------------


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz", "/suites/dev/mcp", "/nope"])
async def test_every_endpoint_refuses_a_foreign_host_or_origin(
    served: Served, http: httpx2.AsyncClient, path: str
) -> None:
    url = f"{served.server.url}{path}"
    foreign = await http.get(url, headers={"host": "rebound.example.com"})
    assert foreign.status_code == 421
    assert "everything" not in foreign.text
    assert "dev" not in foreign.text
    origin = await http.get(url, headers={"origin": "http://rebound.example.com"})
    assert origin.status_code == 403
    if path in ("/metrics", "/healthz"):
        assert (await http.get(url)).status_code == 200
