"""Zero-token probes of each provider type against a local server speaking its wire format."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.models.provider import LLMProviderSpec
from reconciler.llm.probe import probe_provider
from tests.controller_harness import Controller, cli, server_doc, wait_for, write_yaml
from tests.test_llm_providers import API_KEY, CASES, IDS, Case, WireServer


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_provider_that_knows_the_model_and_takes_the_key_is_ready(case: Case) -> None:
    async with WireServer(case.wire, key=API_KEY if case.type != "ollama" else None) as server:
        result = await probe_provider(case.type, case.spec(server.url), api_key=API_KEY)
        assert result.ok, result
        assert result.reason == "ProbeSucceeded"
        assert all(request.body is None for request in server.requests)  # GETs only: no tokens


@pytest.mark.parametrize("case", [c for c in CASES if c.type != "ollama"], ids=IDS[:-1])
async def test_a_wrong_key_is_unauthorized_and_never_shown(case: Case) -> None:
    async with WireServer(case.wire, key=API_KEY) as server:
        result = await probe_provider(case.type, case.spec(server.url), api_key="sk-wrong-key-42")
    assert not result.ok
    assert result.reason == "Unauthorized"
    assert "sk-wrong-key-42" not in result.message


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_an_unknown_model_is_reported_as_such(case: Case) -> None:
    async with WireServer(case.wire) as server:
        spec = case.spec(server.url, model="no-such-model")
        result = await probe_provider(case.type, spec, api_key=API_KEY)
    assert not result.ok
    assert result.reason == "UnknownModel"
    assert "no-such-model" in result.message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_endpoint_nobody_answers_is_unreachable() -> None:
    spec = LLMProviderSpec.model_validate(
        {"type": "ollama", "endpoint": f"http://127.0.0.1:{closed_port()}", "model": "llama3.2"}
    )
    result = await probe_provider("down", spec, api_key=None)
    assert not result.ok
    assert result.reason == "Unreachable"


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    started: list[Controller] = []
    yield started
    for controller in started:
        controller.terminate()


def provider_doc(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "LLMProvider",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.mark.slow
def test_the_controller_reports_a_provider_ready_only_after_its_probe(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    down = f"http://127.0.0.1:{closed_port()}"
    write_yaml(
        config / "all.yaml",
        server_doc("a", everything_cmd),
        provider_doc("local", {"type": "builtin"}),
        provider_doc("down", {"type": "ollama", "endpoint": down, "model": "llama3.2"}),
        provider_doc("nokey", {"type": "openai", "model": "gpt-4o-mini",
                               "apiKey": {"secretKeyRef": {"name": "llm", "key": "openai"}}}),
    )  # fmt: skip
    controller = Controller(tmp_path / "state", str(config))
    controllers.append(controller)

    def providers() -> dict[str, dict[str, Any]] | None:
        found = {
            r["name"]: r for r in controller.status()["resources"] if r["kind"] == "LLMProvider"
        }
        settled = all(r["reason"] not in (None, "Probing") for r in found.values())
        return found if len(found) == 3 and settled else None

    found = wait_for(providers, what="every provider probed")
    assert (found["local"]["ready"], found["local"]["reason"]) == ("True", "ProbeSucceeded")
    assert (found["down"]["ready"], found["down"]["reason"]) == ("False", "Unreachable")
    assert "cannot reach" in found["down"]["message"]
    assert (found["nokey"]["ready"], found["nokey"]["reason"]) == ("False", "SecretNotFound")
    events = json.loads(
        cli("events", "--type", "provider", "-o", "json", state_dir=controller.state_dir).stdout
    )
    assert {(e["resource"], e["reason"]) for e in events} >= {
        ("LLMProvider/down", "ProviderNotReady"),
        ("LLMProvider/local", "ProviderReady"),
    }
