"""The batch runner against a local OpenAI-compatible provider and a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_llm_providers import Reply, WireServer

from reconciler.core.models.provider import LLMProviderSpec
from reconciler.enhancement import (
    EnhancementProgress,
    EnhancementStore,
    ExportedTool,
    ToolToEnhance,
    enhance_tools,
    enhanced_definition,
    export_enhancements,
    load_pins,
    providers_of,
    requests_from_desired,
)
from reconciler.enhancement.definitions import META_KEY
from reconciler.enhancement.plan import provider_chain
from reconciler.llm import ProviderPool, RetryPolicy
from reconciler.loading.loader import load_documents
from reconciler.secrets import SecretResolver

RESOLVER = SecretResolver(environ={"LLM_KEY": "sk-local"})

TIME_TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_current_time",
        "description": "Get current time in a specific timezone",
        "inputSchema": {
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "IANA timezone name"}},
            "required": ["timezone"],
        },
    },
    {
        "name": "convert_time",
        "description": "Convert time between timezones",
        "inputSchema": {
            "type": "object",
            "properties": {
                "source_timezone": {"type": "string"},
                "time": {"type": "string"},
                "target_timezone": {"type": "string"},
            },
            "required": ["source_timezone", "time", "target_timezone"],
        },
    },
    {"name": "ping", "description": "Check the server answers", "inputSchema": {"type": "object"}},
]


def provider(url: str, **fields: Any) -> LLMProviderSpec:
    values: dict[str, Any] = {
        "type": "openai-compatible",
        "endpoint": f"{url}/v1",
        "model": "local-model",
        "apiKey": {"env": "LLM_KEY"},
        "timeoutSeconds": 5,
        "maxConcurrency": 8,
    }
    values.update(fields)
    return LLMProviderSpec.model_validate(values)


BUILTIN = LLMProviderSpec(type="builtin")


def requests_for(tools: list[dict[str, Any]], **fields: Any) -> list[ToolToEnhance]:
    values: dict[str, Any] = {"provider_ref": "llm", "style": "concise"}
    values.update(fields)
    return [ToolToEnhance(server="time", tool=tool, **values) for tool in tools]


@pytest.fixture
def store(tmp_path: Path) -> EnhancementStore:
    with EnhancementStore(tmp_path / "state.db") as store:
        yield store


@pytest.fixture
async def llm() -> Any:
    async with WireServer("openai") as server:
        yield server


async def run(
    requests: list[ToolToEnhance], providers: dict[str, LLMProviderSpec], store: Any, **kw: Any
) -> Any:
    pool = ProviderPool(RESOLVER, retry=RetryPolicy(attempts=2, initial_delay=0.01))
    try:
        return await enhance_tools(
            requests, providers=providers, store=store, resolver=RESOLVER, pool=pool, **kw
        )
    finally:
        await pool.aclose()


async def test_an_unchanged_run_makes_no_calls(llm: WireServer, store: EnhancementStore) -> None:
    providers = {"llm": provider(llm.url)}
    first = await run(requests_for(TIME_TOOLS), providers, store)
    assert first.counts() == {"enhanced": 3}
    assert len(llm.requests) == 3
    assert first.calls == 3
    assert first.descriptions()["time"]["get_current_time"].startswith("Runs get_current_time")

    second = await run(requests_for(TIME_TOOLS), providers, store)
    assert len(llm.requests) == 3
    assert second.counts() == {"cached": 3}
    assert second.calls == 0
    assert second.descriptions() == first.descriptions()


async def test_a_schema_change_re_enhances_exactly_that_tool(
    llm: WireServer, store: EnhancementStore
) -> None:
    providers = {"llm": provider(llm.url)}
    await run(requests_for(TIME_TOOLS), providers, store)
    changed = json.loads(json.dumps(TIME_TOOLS))
    changed[1]["inputSchema"]["properties"]["date"] = {"type": "string"}
    report = await run(requests_for(changed), providers, store)
    assert len(llm.requests) == 4
    assert "Tool name: convert_time" in llm.requests[-1].body["messages"][1]["content"]
    states = {o.tool: o.state for o in report.outcomes}
    assert states == {"get_current_time": "cached", "convert_time": "enhanced", "ping": "cached"}


async def test_force_writes_everything_again(llm: WireServer, store: EnhancementStore) -> None:
    providers = {"llm": provider(llm.url)}
    await run(requests_for(TIME_TOOLS), providers, store)
    report = await run(requests_for(TIME_TOOLS), providers, store, force=True)
    assert len(llm.requests) == 6
    assert report.counts() == {"enhanced": 3}


async def test_a_description_that_drops_a_required_parameter_is_retried(
    llm: WireServer, store: EnhancementStore
) -> None:
    bad = {
        "description": "Tells the time somewhere.",
        "keywords": ["time"],
        "categories": ["time"],
        "useCases": ["Tell the time"],
        "hints": {"readOnly": True, "destructive": False, "idempotent": True, "openWorld": False},
    }
    answers = iter([bad])
    good = llm.answer
    llm.answer = lambda prompt: next(answers, None) or good(prompt)
    report = await run(requests_for(TIME_TOOLS[:1]), {"llm": provider(llm.url)}, store)
    assert report.counts() == {"enhanced": 1}
    assert len(llm.requests) == 2
    retry_prompt = llm.requests[1].body["messages"][1]["content"]
    assert "must mention the required parameter `timezone`" in retry_prompt


async def test_invented_parameters_fail_the_tool_without_blocking_others(
    llm: WireServer, store: EnhancementStore
) -> None:
    def answer(prompt: str) -> dict[str, Any]:
        if "Tool name: get_current_time" not in prompt:
            return default(prompt)
        made_up = default(prompt)
        made_up["description"] += " Pass `tz_name` to choose the zone."
        return made_up

    default = llm.answer
    llm.answer = answer
    providers = {"llm": provider(llm.url)}
    report = await run(requests_for(TIME_TOOLS), providers, store)
    states = {o.tool: o for o in report.outcomes}
    failed = states["get_current_time"]
    assert failed.state == "failed"
    assert failed.reason == "OutputRejected"
    assert "`tz_name`" in (failed.message or "")
    assert states["convert_time"].state == "enhanced"
    assert len(llm.requests) == 5  # three tries for the failing tool, one each for the others

    again = await run(requests_for(TIME_TOOLS), providers, store)
    assert len(llm.requests) == 5  # a recent failure is not retried at once
    assert {o.tool: o.state for o in again.outcomes}["get_current_time"] == "failed"


async def test_fallback_writes_when_the_first_provider_fails(
    llm: WireServer, store: EnhancementStore
) -> None:
    llm.script.extend([Reply(500, {"error": {"message": "down"}}) for _ in range(20)])
    providers = {"llm": provider(llm.url, fallbackRef="local"), "local": BUILTIN}
    report = await run(requests_for(TIME_TOOLS), providers, store)
    assert report.counts() == {"enhanced": 3}
    assert {o.provider for o in report.outcomes} == {"local"}
    outcome = next(o for o in report.outcomes if o.tool == "get_current_time")
    assert outcome.description == (
        "Get current time in a specific timezone. Requires `timezone` (IANA timezone name)."
    )
    assert "fallback local" in (outcome.message or "")


async def test_budget_exhaustion_stops_spending_with_a_clear_status(
    llm: WireServer, store: EnhancementStore
) -> None:
    pricing = {"inputPerMillionTokens": 1000.0, "outputPerMillionTokens": 1000.0}
    # Each call costs (321 + 54) / 1e6 * 1000 = 0.375; the estimate about as much.
    providers = {"llm": provider(llm.url, pricing=pricing, budget={"daily": 0.8})}
    report = await run(requests_for(TIME_TOOLS), providers, store, concurrency=1)
    counts = report.counts()
    assert counts["enhanced"] >= 1
    assert counts["pending"] >= 1
    assert len(llm.requests) == counts["enhanced"]
    assert report.cost <= 0.8
    assert "daily budget 0.8 of LLMProvider llm is spent" in report.budget_exhausted["llm"]
    pending = next(o for o in report.outcomes if o.state == "pending")
    assert pending.reason == "BudgetExhausted"

    [usage] = store.usage()
    assert (usage.provider, usage.server) == ("llm", "time")
    assert usage.calls == counts["enhanced"]
    assert usage.input_tokens == 321 * counts["enhanced"]
    assert usage.cost == pytest.approx(report.cost)

    again = await run(requests_for(TIME_TOOLS), providers, store)
    assert len(llm.requests) == counts["enhanced"]  # still spent: no call
    assert again.counts()["pending"] == counts["pending"]


async def test_a_spent_budget_falls_back(llm: WireServer, store: EnhancementStore) -> None:
    providers = {
        "llm": provider(llm.url, budget={"daily": 0}, fallbackRef="local"),
        "local": BUILTIN,
    }
    report = await run(requests_for(TIME_TOOLS), providers, store)
    assert llm.requests == []
    assert report.counts() == {"enhanced": 3}
    assert {o.provider for o in report.outcomes} == {"local"}


async def test_remote_tools_need_an_explicit_opt_in(
    llm: WireServer, store: EnhancementStore
) -> None:
    providers = {"llm": provider(llm.url)}
    report = await run(requests_for(TIME_TOOLS, remote=True), providers, store)
    assert llm.requests == []
    assert report.counts() == {"skipped": 3}
    assert "allowRemote" in (report.outcomes[0].message or "")

    opted_in = await run(requests_for(TIME_TOOLS, remote=True, allow_remote=True), providers, store)
    assert opted_in.counts() == {"enhanced": 3}


async def test_pinned_text_wins_until_the_schema_changes(
    llm: WireServer, store: EnhancementStore, tmp_path: Path
) -> None:
    providers = {"llm": provider(llm.url)}
    first = await run(requests_for(TIME_TOOLS), providers, store)
    exported = [
        ExportedTool(o.server, o.tool, o.enhancement, o.key, o.schema_hash)
        for o in first.outcomes
        if o.enhancement is not None
    ]
    [path] = export_enhancements(tmp_path / "enhancements", exported)
    document = yaml.safe_load(path.read_text())  # a reviewer edits one text
    document["tools"]["get_current_time"]["description"] = "Reviewed: time in `timezone`."
    path.write_text(yaml.safe_dump(document))
    pins = load_pins(tmp_path / "enhancements")
    assert len(pins) == 3

    report = await run(requests_for(TIME_TOOLS), providers, store, pins=pins, force=True)
    assert len(llm.requests) == 3  # pinned tools are never asked for, even with --force
    assert report.counts() == {"pinned": 3}
    served = report.descriptions()["time"]["get_current_time"]
    assert served == "Reviewed: time in `timezone`."

    changed = json.loads(json.dumps(TIME_TOOLS))
    changed[0]["inputSchema"]["properties"]["format"] = {"type": "string"}
    report = await run(requests_for(changed), providers, store, pins=pins)
    outcome = next(o for o in report.outcomes if o.tool == "get_current_time")
    assert outcome.state == "enhanced"
    assert len(llm.requests) == 4


async def test_progress_is_reported_for_each_tool(llm: WireServer, store: EnhancementStore) -> None:
    seen: list[EnhancementProgress] = []
    tools = [dict(TIME_TOOLS[2], name=f"ping_{i}") for i in range(25)]
    await run(requests_for(tools), {"llm": provider(llm.url)}, store, progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 26))
    assert seen[-1] == EnhancementProgress(done=25, total=25, failed=0)


async def test_the_gateway_definition_keeps_the_original(
    llm: WireServer, store: EnhancementStore
) -> None:
    report = await run(requests_for(TIME_TOOLS[:1]), {"llm": provider(llm.url)}, store)
    [outcome] = report.outcomes
    assert report.lookup("time", "get_current_time", outcome.schema_hash) is outcome
    served = enhanced_definition(TIME_TOOLS[0], outcome)
    assert served["description"] == outcome.description
    meta = served["_meta"][META_KEY]
    assert meta["originalDescription"] == "Get current time in a specific timezone"
    assert meta["categories"] == ["general"]
    assert served["annotations"]["readOnlyHint"] is True
    stored = store.lookup("time", "get_current_time", outcome.schema_hash)
    assert stored is not None
    assert stored.description == outcome.description


async def test_a_missing_api_key_fails_with_what_to_do(
    llm: WireServer, store: EnhancementStore
) -> None:
    spec = provider(llm.url, apiKey={"env": "NOT_SET_ANYWHERE"})
    report = await run(requests_for(TIME_TOOLS[:1]), {"llm": spec}, store)
    [outcome] = report.outcomes
    assert outcome.state == "failed"
    assert outcome.reason == "SecretNotFound"
    assert "NOT_SET_ANYWHERE" in (outcome.message or "")
    assert llm.requests == []


def team_docs(namespace: str, endpoint: str, key_env: str) -> list[dict[str, Any]]:
    """A server `time` enhanced by a provider `llm`, both in `namespace`."""
    return [
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "LLMProvider",
            "metadata": {"name": "llm", "namespace": namespace},
            "spec": {
                "type": "openai-compatible",
                "endpoint": f"{endpoint}/v1",
                "model": "local-model",
                "apiKey": {"env": key_env},
            },
        },
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "MCPServer",
            "metadata": {"name": "time", "namespace": namespace},
            "spec": {
                "transport": "stdio",
                "command": "mcp-server-time",
                "enhancement": {"providerRef": "llm"},
            },
        },
    ]


async def test_each_namespace_is_enhanced_by_its_own_provider_and_key(
    store: EnhancementStore,
) -> None:
    async with (
        WireServer("openai", key="key-a") as team_a,
        WireServer("openai", key="key-b") as team_b,
    ):
        text = yaml.safe_dump_all(
            [*team_docs("team-a", team_a.url, "KEY_A"), *team_docs("team-b", team_b.url, "KEY_B")]
        )
        loaded = load_documents([("teams.yaml", text)])
        assert loaded.state is not None, loaded.errors
        tools = {"team-a/time": TIME_TOOLS[:1], "team-b/time": TIME_TOOLS[1:2]}
        resolver = SecretResolver(environ={"KEY_A": "key-a", "KEY_B": "key-b"})
        report = await enhance_tools(
            requests_from_desired(loaded.state, tools),
            providers=providers_of(loaded.state),
            store=store,
            resolver=resolver,
        )
    assert report.counts() == {"enhanced": 2}
    assert {(o.server, o.provider) for o in report.outcomes} == {
        ("team-a/time", "team-a/llm"),
        ("team-b/time", "team-b/llm"),
    }
    # Each team's tool went to its own endpoint with its own key, and only there.
    [asked_a] = team_a.requests
    [asked_b] = team_b.requests
    assert asked_a.headers["authorization"] == "Bearer key-a"
    assert asked_b.headers["authorization"] == "Bearer key-b"
    assert "get_current_time" in json.dumps(asked_a.body)
    assert "convert_time" in json.dumps(asked_b.body)


def test_a_fallback_ref_names_a_provider_of_its_own_namespace() -> None:
    providers = {
        "team-a/llm": BUILTIN.model_copy(update={"fallback_ref": "backup"}),
        "team-a/backup": BUILTIN,
        "team-b/backup": BUILTIN,
    }
    assert provider_chain("team-a/llm", providers) == ("team-a/llm", "team-a/backup")
