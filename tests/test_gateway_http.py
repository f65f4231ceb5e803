"""The gateway end to end: real servers behind it, the official MCP SDK client in front."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import mcp_types as types
import pytest
import pytest_asyncio
from mcp.client.client import Client
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError

from tests.gateway_harness import (
    ACCEPT,
    Registry,
    Started,
    everything_and_time,
    everything_command,
    mcp_client,
    open_session,
    rpc_body,
    serving,
    start_upstream,
    suite,
)
from tests.polling import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[Started]:
    """server-everything and mcp-server-time, started once for the module."""
    async with everything_and_time() as started:
        yield started


DEV = suite("dev", "time", "everything")
LOCKED = (
    suite("locked", "time", "everything")
    + """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: ci}
spec:
  suites: [locked]
  subjects: [{name: ci-bot, tokenFrom: {env: CI_TOKEN}}]
  rules:
    - {action: allow, tools: ["time.*", "everything.*"]}
    - {action: deny, tools: ["everything.get-env"]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: reader}
spec:
  suites: [locked]
  subjects: [{name: reader, tokenFrom: {env: READER_TOKEN}}]
  rules: [{action: allow, tools: ["time.get_current_time"]}]
"""
)
TOKENS = {"CI_TOKEN": "ci-secret", "READER_TOKEN": "reader-secret"}


def names(listed: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in listed.tools}


def text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_suite_serves_the_tools_of_its_servers_under_prefixed_names(shared: Started) -> None:
    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        listed = await client.list_tools()
        assert {"everything_echo", "time_get_current_time", "time_convert_time"} <= names(listed)
        assert len(listed.tools) == len(shared.tools["everything"]) + 2
        echoed = await client.call_tool("everything_echo", {"message": "hi"})
        assert text(echoed) == "Echo: hi"
        now = await client.call_tool("time_get_current_time", {"timezone": "UTC"})
        assert now.structured_content is not None
        assert now.structured_content["timezone"] == "UTC"
        capabilities = client.server_capabilities
        assert capabilities is not None
        assert capabilities.tools is not None
        assert capabilities.tools.list_changed
        assert capabilities.resources is not None
        assert capabilities.resources.subscribe
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("everything_nope", {})
        assert unknown.value.code == -32602
    assert [(r.server, r.tool, r.outcome) for r in served.records] == [
        ("everything", "echo", "ok"),
        ("time", "get_current_time", "ok"),
        ("", "everything_nope", "unknown_tool"),
    ]
    assert served.records[0].subject == "anonymous"
    assert len(served.records[0].args_hash or "") == 64


async def test_priority_suite_serves_bare_names(shared: Started) -> None:
    yaml = suite("bare", "time", "everything", extra=", conflictResolution: priority")
    async with (
        serving(yaml, shared.registry, shared.tools) as served,
        mcp_client(served.url("bare")) as client,
    ):
        assert {"echo", "get_current_time"} <= names(await client.list_tools())
        assert text(await client.call_tool("echo", {"message": "bare"})) == "Echo: bare"


async def test_each_token_sees_and_may_call_only_its_permitted_tools(shared: Started) -> None:
    async with serving(LOCKED, shared.registry, shared.tools, environ=TOKENS) as served:
        async with mcp_client(served.url("locked"), token="reader-secret") as reader:
            assert names(await reader.list_tools()) == {"time_get_current_time"}
            with pytest.raises(MCPError) as denied:
                await reader.call_tool("everything_echo", {"message": "x"})
            assert denied.value.code == -32003
            assert "not permitted for subject reader" in denied.value.message
        async with mcp_client(served.url("locked"), token="ci-secret") as ci:
            visible = names(await ci.list_tools())
            assert "everything_echo" in visible
            assert "everything_get-env" not in visible
            assert text(await ci.call_tool("everything_echo", {"message": "ok"})) == "Echo: ok"
    outcomes = [(r.subject, r.tool, r.outcome) for r in served.records]
    assert outcomes == [("reader", "echo", "denied"), ("ci-bot", "echo", "ok")]


async def test_missing_or_wrong_token_is_refused_with_401(shared: Started) -> None:
    async with serving(LOCKED, shared.registry, shared.tools, environ=TOKENS) as served:
        url = served.url("locked")
        async with httpx2.AsyncClient() as http:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic x"}):
                response = await http.post(
                    url, json=rpc_body("ping"), headers={**ACCEPT, **headers}
                )
                assert response.status_code == 401
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert "wrong" not in response.text
            assert await open_session(http, url, authorization="Bearer ci-secret")
        with pytest.raises(BaseExceptionGroup) as refused:
            async with mcp_client(url, token="wrong"):
                pass
        assert refused.group_contains(MCPError, match="needs a valid bearer token")


async def test_tokens_rotate_with_a_reconcile_without_restart(shared: Started) -> None:
    environ = {"CI_TOKEN": "old-token", "READER_TOKEN": "r"}
    async with serving(LOCKED, shared.registry, shared.tools, environ=environ) as served:
        url = served.url("locked")
        async with httpx2.AsyncClient() as http:
            assert await open_session(http, url, authorization="Bearer old-token")
            environ["CI_TOKEN"] = "new-token"
            served.reconfigure(LOCKED)
            refused = await http.post(
                url, json=rpc_body("ping"), headers={**ACCEPT, "authorization": "Bearer old-token"}
            )
            assert refused.status_code == 401
            assert await open_session(http, url, authorization="Bearer new-token")


async def test_a_session_belongs_to_the_subject_that_opened_it(shared: Started) -> None:
    async with serving(LOCKED, shared.registry, shared.tools, environ=TOKENS) as served:
        url = served.url("locked")
        async with httpx2.AsyncClient() as http:
            session = await open_session(http, url, authorization="Bearer ci-secret")
            stolen = await http.post(
                url,
                json=rpc_body("tools/list"),
                headers={
                    **ACCEPT,
                    "authorization": "Bearer reader-secret",
                    "mcp-session-id": session,
                },
            )
            assert stolen.status_code == 404
            deleted = await http.delete(
                url, headers={"authorization": "Bearer ci-secret", "mcp-session-id": session}
            )
            assert deleted.status_code == 200
            gone = await http.post(
                url,
                json=rpc_body("tools/list"),
                headers={**ACCEPT, "authorization": "Bearer ci-secret", "mcp-session-id": session},
            )
            assert gone.status_code == 404


RATE_LIMITED = (
    suite("limited", "everything")
    + """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: fast-but-limited}
spec:
  suites: [limited]
  subjects: [{name: ci-bot, tokenFrom: {env: CI_TOKEN}}]
  rules: [{action: allow, tools: ["everything.*"]}]
  rateLimit: {requestsPerMinute: 300, burst: 1}
"""
)


async def test_a_rate_limit_refuses_with_retry_after_and_then_recovers(shared: Started) -> None:
    async with (
        serving(RATE_LIMITED, shared.registry, shared.tools, environ=TOKENS) as served,
        mcp_client(served.url("limited"), token="ci-secret") as client,
    ):
        assert text(await client.call_tool("everything_echo", {"message": "1"})) == "Echo: 1"
        with pytest.raises(MCPError) as limited:
            await client.call_tool("everything_echo", {"message": "2"})
        assert limited.value.code == -32029
        retry_after = limited.value.error.data["retryAfterSeconds"]
        assert 0 < retry_after <= 0.2
        assert "retry in" in limited.value.message
        await asyncio.sleep(retry_after)  # the advice under test: retrying after it succeeds
        assert text(await client.call_tool("everything_echo", {"message": "3"})) == "Echo: 3"
    assert [r.outcome for r in served.records] == ["ok", "rate_limited", "ok"]


async def test_progress_reaches_the_caller_before_the_result(shared: Started) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        result = await client.call_tool(
            "everything_trigger-long-running-operation",
            {"duration": 0.3, "steps": 3},
            progress_callback=on_progress,
        )
        assert progress == [1, 2, 3]
        assert "completed" in text(result)


async def test_a_server_request_is_answered_by_the_client_whose_call_raised_it(
    shared: Started,
) -> None:
    async def sample(
        context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="from client A"),
            model="m",
        )

    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev"), sampling_callback=sample) as client,
    ):
        result = await client.call_tool("everything_trigger-sampling-request", {"prompt": "hi"})
        assert "from client A" in text(result)
        async with mcp_client(served.url("dev")) as unable:
            refused = await unable.call_tool("everything_trigger-sampling-request", {"prompt": "x"})
            assert refused.is_error or "error" in text(refused).lower()


async def test_resources_and_prompts_pass_through(shared: Started) -> None:
    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        resources = await client.list_resources()
        first = resources.resources[0]
        read = await client.read_resource(first.uri)
        assert str(read.contents[0].uri) == str(first.uri)
        dynamic = await client.read_resource("demo://resource/dynamic/text/3")
        assert dynamic.contents
        templates = await client.list_resource_templates()
        assert templates.resource_templates
        prompts = await client.list_prompts()
        assert "everything_simple-prompt" in {p.name for p in prompts.prompts}
        prompt = await client.get_prompt("everything_simple-prompt")
        assert prompt.messages


async def test_fifty_concurrent_clients_each_get_their_own_answers(shared: Started) -> None:
    async def one(index: int, url: str) -> str:
        async with mcp_client(url) as client:
            echoed = await client.call_tool("everything_echo", {"message": f"client-{index}"})
            await client.call_tool("time_get_current_time", {"timezone": "UTC"})
            return text(echoed)

    async with serving(DEV, shared.registry, shared.tools) as served:
        answers = await asyncio.gather(*(one(i, served.url("dev")) for i in range(50)))
    assert answers == [f"Echo: client-{i}" for i in range(50)]


async def test_connected_clients_get_list_changed_when_a_server_is_added(shared: Started) -> None:
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with (
        serving(suite("dev", "time"), shared.registry, shared.tools) as served,
        mcp_client(served.url("dev"), message_handler=on_message) as client,
    ):
        assert names(await client.list_tools()) == {"time_get_current_time", "time_convert_time"}
        served.reconfigure(DEV)
        await asyncio.wait_for(changed.wait(), 10)
        assert "everything_echo" in names(await client.list_tools())


async def test_an_upstream_killed_mid_call_gives_an_error_then_calls_succeed_again(
    shared: Started,
) -> None:
    registry = Registry({"everything": await start_upstream("everything", everything_command())})
    started = asyncio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        started.set()

    try:
        async with (
            serving(suite("solo", "everything"), registry, shared.tools) as served,
            mcp_client(served.url("solo")) as client,
        ):
            call = asyncio.create_task(
                client.call_tool(
                    "everything_trigger-long-running-operation",
                    {"duration": 20, "steps": 40},
                    progress_callback=on_progress,
                )
            )
            await asyncio.wait_for(started.wait(), 10)
            await registry.upstreams["everything"].stop()
            with pytest.raises(MCPError) as died:
                await call
            assert died.value.code == -32000
            assert "everything" in died.value.message
            with pytest.raises(MCPError) as down:
                await client.call_tool("everything_echo", {"message": "down"})
            assert down.value.code == -32000
            registry.upstreams["everything"] = await start_upstream(
                "everything", everything_command()
            )
            back = await client.call_tool("everything_echo", {"message": "back"})
            assert text(back) == "Echo: back"
    finally:
        await registry.upstreams["everything"].stop()


async def test_health_readiness_and_metrics(shared: Started) -> None:
    yaml = DEV + suite("extra", "missing-server")
    yaml += """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: missing-server}
spec: {command: nowhere}
"""
    async with serving(yaml, shared.registry, shared.tools) as served:
        base = served.server.url
        async with httpx2.AsyncClient() as http:
            assert (await http.get(f"{base}/healthz")).status_code == 200
            waiting = await http.get(f"{base}/readyz")
            assert waiting.status_code == 503
            assert "missing-server" in waiting.text
            served.gateway.set_server_state("missing-server", "failed")
            assert (await http.get(f"{base}/readyz")).status_code == 200
            async with mcp_client(served.url("dev")) as client:
                await client.call_tool("everything_echo", {"message": "m"})
            served.gateway.metrics.observe_reconcile(0.25)
            metrics = (await http.get(f"{base}/metrics")).text
    assert (
        'mcp_gateway_tool_calls_total{outcome="ok",server="everything",suite="dev",tool="echo"} 1.0'
        in metrics
    )
    assert 'mcp_gateway_tool_call_duration_seconds_count{server="everything",suite="dev"} 1.0' in (
        metrics
    )
    assert 'mcp_server_up{server="missing-server"} 0.0' in metrics
    assert 'mcp_server_up{server="everything"} 1.0' in metrics
    assert 'mcp_gateway_sessions{suite="dev"}' in metrics
    assert "mcp_reconcile_duration_seconds_count 1.0" in metrics
    assert 'mcp_reconciles_total{outcome="success"} 1.0' in metrics


async def test_foreign_host_or_origin_is_refused(shared: Started) -> None:
    async with serving(DEV, shared.registry, shared.tools) as served, httpx2.AsyncClient() as http:
        url = served.url("dev")
        rebound = await http.post(
            url, json=rpc_body("ping"), headers={**ACCEPT, "host": "evil.test"}
        )
        assert rebound.status_code == 421
        foreign = await http.post(
            url, json=rpc_body("ping"), headers={**ACCEPT, "origin": "http://evil.test"}
        )
        assert foreign.status_code == 403
        local = url.replace("127.0.0.1", "localhost")
        assert await open_session(http, local, origin="http://localhost:6274")


async def test_malformed_requests_get_http_and_json_rpc_errors(shared: Started) -> None:
    async with serving(DEV, shared.registry, shared.tools) as served, httpx2.AsyncClient() as http:
        url = served.url("dev")

        async def post(content: bytes, **headers: str) -> httpx2.Response:
            merged = {**ACCEPT, "content-type": "application/json", **headers}
            return await http.post(url, content=content, headers=merged)

        assert (await post(b"{nope")).json()["error"]["code"] == -32700
        assert (await post(b"[]")).status_code == 400
        assert (await post(b'{"jsonrpc":"2.0","id":1}')).json()["error"]["code"] == -32600
        assert (await post(b"{}", **{"content-type": "text/plain"})).status_code == 415
        assert (await post(b"x" * (5 * 1024 * 1024))).status_code == 413
        assert (await post(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')).status_code == 400
        session = await open_session(http, url)
        unknown = await post(
            b'{"jsonrpc":"2.0","id":7,"method":"nope/nope"}', **{"mcp-session-id": session}
        )
        assert unknown.json() == {
            "jsonrpc": "2.0",
            "id": 7,
            "error": {"code": -32601, "message": "Method not found: nope/nope"},
        }
        old = await post(
            b'{"jsonrpc":"2.0","id":8,"method":"ping"}',
            **{"mcp-session-id": session, "mcp-protocol-version": "1999-01-01"},
        )
        assert old.status_code == 400


async def test_legacy_sse_clients_are_served(shared: Started) -> None:
    async with serving(DEV, shared.registry, shared.tools) as served:
        async with (
            sse_client(served.url("dev", path="sse")) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            assert "everything_echo" in names(await client.list_tools())
            echoed = await client.call_tool("everything_echo", {"message": "old client"})
            assert text(echoed) == "Echo: old client"
        await eventually(lambda: len(served.gateway.sessions) == 0, what="the SSE session to end")


async def test_cancelling_a_call_stops_it_upstream(shared: Started) -> None:
    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        call = asyncio.create_task(
            client.call_tool(
                "everything_trigger-long-running-operation", {"duration": 30, "steps": 30}
            )
        )
        session = await eventually(
            lambda: next((s for s in served.gateway.sessions if s.in_flight), None),
            what="the call to be in flight",
        )
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call
        await eventually(lambda: not session.in_flight, what="the gateway to drop the call")
        assert (
            text(await client.call_tool("everything_echo", {"message": "after"})) == "Echo: after"
        )
    assert served.records[0].outcome == "cancelled"


DEPRECATED_AT_2026 = pytest.mark.filterwarnings(
    "ignore::mcp.shared.exceptions.MCPDeprecationWarning"
)


@DEPRECATED_AT_2026
async def test_log_messages_reach_the_client_that_set_a_level(shared: Started) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev"), logging_callback=on_log) as client,
    ):
        await client.set_logging_level("debug")
        await client.call_tool("everything_toggle-simulated-logging", {})
        try:
            await eventually(lambda: logs, what="a log message")
        finally:
            await client.call_tool("everything_toggle-simulated-logging", {})
    assert logs[0].level in {
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    }


@DEPRECATED_AT_2026
async def test_subscribed_clients_get_resource_updates(shared: Started) -> None:
    updated = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.set()

    connection = shared.registry.upstreams["everything"].connection
    uri = "demo://resource/dynamic/text/1"
    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev"), message_handler=on_message) as client,
    ):
        previous, connection.default_sink = (
            connection.default_sink,
            served.gateway.server_sink("everything"),
        )
        try:
            await client.subscribe_resource(uri)
            await client.call_tool("everything_toggle-subscriber-updates", {})
            try:
                await asyncio.wait_for(updated.wait(), 10)
            finally:
                await client.call_tool("everything_toggle-subscriber-updates", {})
            await client.unsubscribe_resource(uri)
        finally:
            connection.default_sink = previous


async def test_an_elicitation_is_answered_by_the_calling_client(shared: Started) -> None:
    asked: list[str] = []

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="decline")

    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev"), elicitation_callback=elicit) as client,
    ):
        result = await client.call_tool("everything_trigger-elicitation-request", {})
    assert asked
    assert "decline" in text(result).lower()


async def test_a_slow_call_does_not_hold_up_other_calls_to_the_same_server(shared: Started) -> None:
    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as slow,
        mcp_client(served.url("dev")) as fast,
    ):
        long = asyncio.create_task(
            slow.call_tool("everything_trigger-long-running-operation", {"duration": 1, "steps": 1})
        )
        await eventually(
            lambda: any(s.in_flight for s in served.gateway.sessions), what="the slow call"
        )
        assert text(await fast.call_tool("everything_echo", {"message": "quick"})) == "Echo: quick"
        assert not long.done()
        assert "completed" in text(await long)


async def test_a_call_past_the_timeout_gets_a_timeout_error(shared: Started) -> None:
    async with (
        serving(DEV, shared.registry, shared.tools, call_timeout=0.2) as served,
        mcp_client(served.url("dev")) as client,
    ):
        with pytest.raises(MCPError) as late:
            await client.call_tool(
                "everything_trigger-long-running-operation", {"duration": 10, "steps": 10}
            )
        assert late.value.code == -32001
        assert "everything" in late.value.message
    assert served.records[0].outcome == "timeout"


async def test_a_permission_change_sends_list_changed_and_widens_the_list(shared: Started) -> None:
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with (
        serving(LOCKED, shared.registry, shared.tools, environ=TOKENS) as served,
        mcp_client(
            served.url("locked"), token="reader-secret", message_handler=on_message
        ) as reader,
    ):
        assert names(await reader.list_tools()) == {"time_get_current_time"}
        served.reconfigure(LOCKED.replace('["time.get_current_time"]', '["time.*"]'))
        await asyncio.wait_for(changed.wait(), 10)
        assert names(await reader.list_tools()) == {"time_get_current_time", "time_convert_time"}


async def test_resources_and_prompts_follow_the_callers_tool_permissions(shared: Started) -> None:
    async with serving(LOCKED, shared.registry, shared.tools, environ=TOKENS) as served:
        async with mcp_client(served.url("locked"), token="reader-secret") as reader:
            assert (await reader.list_resources()).resources == []
            assert (await reader.list_prompts()).prompts == []
            with pytest.raises(MCPError):
                await reader.read_resource("demo://resource/static/document/architecture.md")
        async with mcp_client(served.url("locked"), token="ci-secret") as ci:
            assert (await ci.list_resources()).resources
            assert (await ci.list_prompts()).prompts


async def test_a_client_probing_for_newer_protocols_falls_back_to_the_handshake(
    shared: Started,
) -> None:
    async with (
        serving(DEV, shared.registry, shared.tools) as served,
        Client(served.url("dev")) as client,
    ):
        echoed = await client.call_tool("everything_echo", {"message": "auto"})
        assert text(echoed) == "Echo: auto"
        assert client.session.protocol_version == "2025-11-25"


@pytest.mark.parametrize(
    ("offered", "answered"),
    [("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"), ("2099-01-01", "2025-11-25")],
)
async def test_the_protocol_version_is_negotiated(
    shared: Started, offered: str, answered: str
) -> None:
    params = {
        "protocolVersion": offered,
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    async with serving(DEV, shared.registry, shared.tools) as served, httpx2.AsyncClient() as http:
        response = await http.post(
            served.url("dev"), json=rpc_body("initialize", params), headers=ACCEPT
        )
    assert response.json()["result"]["protocolVersion"] == answered
