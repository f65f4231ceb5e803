"""`mcp-reconciler import`: real configuration files of each client, to YAML that runs."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app
from reconciler.loading.loader import load_paths
from tests.controller_harness import Controller, cli
from tests.gateway_harness import mcp_client

CLIENTS = Path(__file__).parent / "data" / "clients"
SECRETS = {
    "ghp_desktopSecretValue123",
    "lin_api_cursorSecret42",
    "BSA_windsurfSecret77",
    "sentry-token-from-env",
}


def run_import(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["import", *args], env=env, catch_exceptions=False)


def documents(out: Path) -> dict[str, dict[str, Any]]:
    loaded = load_paths([out])
    assert loaded.ok, loaded.errors
    assert loaded.state is not None
    return {
        f"{r.kind}/{r.name}": r.model_dump(by_alias=True, exclude_none=True) for r in loaded.state
    }


# (client, file, {server: transport}, unknown fields reported)
CASES = [
    (
        "claude-desktop",
        "claude_desktop_config.json",
        {"filesystem": "stdio", "github-server": "stdio"},
        [],
    ),
    (
        "claude-code",
        "mcp.json.claude-code",
        {"sentry": "streamable-http", "events": "sse", "db": "stdio"},
        [],
    ),
    (
        "cursor",
        "cursor-mcp.json",
        {"linear": "streamable-http", "local-tools": "stdio"},
        ["autoApprove"],
    ),
    (
        "vscode",
        "vscode-mcp.json",
        {"perplexity": "stdio", "github": "streamable-http", "legacy": "sse"},
        [],
    ),
    (
        "windsurf",
        "windsurf-mcp_config.json",
        {"brave-search": "stdio", "remote-docs": "streamable-http"},
        [],
    ),
]


@pytest.mark.parametrize(("client", "file", "servers", "unknown"), CASES, ids=[c[0] for c in CASES])
def test_each_clients_file_becomes_valid_yaml_with_secrets_kept_apart(
    tmp_path: Path, client: str, file: str, servers: dict[str, str], unknown: list[str]
) -> None:
    out, secrets = tmp_path / "out", tmp_path / "secrets"
    result = run_import(
        "--from", client, str(CLIENTS / file), "--out", str(out), "--secrets-dir", str(secrets),
        "--suite", "imported", "-o", "json",
        env={"SENTRY_TOKEN": "sentry-token-from-env", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    loaded = documents(out)
    assert {
        k.split("/")[1]: d["spec"]["transport"]
        for k, d in loaded.items()
        if k.startswith("MCPServer/")
    } == servers
    members = loaded["MCPSuite/imported"]["spec"]["servers"]
    assert [m["name"] for m in members] == list(servers)
    text = (out / "servers.yaml").read_text()
    assert not any(secret in text for secret in SECRETS)
    for path in map(Path, report["secretFiles"]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text()
    reported = " ".join(n["message"] for n in report["notes"])
    for field in unknown:
        assert f"unknown field {field!r}" in reported


def test_env_and_headers_become_references_and_placeholders_are_read(tmp_path: Path) -> None:
    out, secrets = tmp_path / "out", tmp_path / "secrets"
    (tmp_path / "tools").mkdir()
    run_import("--from", "claude-desktop", str(CLIENTS / "claude_desktop_config.json"),
               "--out", str(out), "--secrets-dir", str(secrets))  # fmt: skip
    desktop = documents(out)["MCPServer/github-server"]["spec"]
    assert desktop["env"] == [
        {
            "name": "GITHUB_PERSONAL_ACCESS_TOKEN",
            "valueFrom": {
                "secretKeyRef": {"name": "github-server", "key": "GITHUB_PERSONAL_ACCESS_TOKEN"}
            },
        }
    ]
    assert (
        secrets / "github-server" / "GITHUB_PERSONAL_ACCESS_TOKEN"
    ).read_text() == "ghp_desktopSecretValue123"

    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    (vscode / "mcp.json").write_text((CLIENTS / "vscode-mcp.json").read_text())
    result = run_import("--from", "vscode", str(vscode / "mcp.json"), "--out", str(tmp_path / "vs"),
                        "--secrets-dir", str(secrets))  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = documents(tmp_path / "vs")
    perplexity = loaded["MCPServer/perplexity"]["spec"]
    assert perplexity["workingDir"] == str(tmp_path / "tools")  # ${workspaceFolder}
    assert perplexity["env"][0]["valueFrom"] == {
        "secretKeyRef": {"name": "perplexity", "key": "PERPLEXITY_API_KEY"}
    }
    assert not (secrets / "perplexity").exists()  # an ${input:...} cannot be known here
    assert f"write the value to {secrets / 'perplexity' / 'PERPLEXITY_API_KEY'}" in result.output
    assert "Perplexity API Key" in result.output
    assert loaded["MCPServer/github"]["spec"]["headers"] == [
        {"name": "X-Token", "valueFrom": {"env": "GH_TOKEN"}}
    ]


def test_windsurf_disabled_servers_and_tools_carry_over(tmp_path: Path) -> None:
    result = run_import("--from", "windsurf", str(CLIENTS / "windsurf-mcp_config.json"),
                        "--secrets-dir", str(tmp_path / "s"), "-o", "json")  # fmt: skip
    docs = {d["metadata"]["name"]: d for d in json.loads(result.stdout)["documents"]}
    assert docs["remote-docs"]["spec"]["enabled"] is False
    assert docs["brave-search"]["spec"]["tools"] == {"exclude": ["brave_local_search"]}
    assert docs["remote-docs"]["spec"]["url"] == "https://docs.example.com/mcp"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{\n  "servers": {\n    "a": {"command": "x",\n  }\n', 5, "not valid JSON"),
        ('{\n  "servers": {\n    "a": {"args": ["x"]}\n  }\n}\n', 3, "server a: has neither"),
        ('{\n  "servers": {\n    "a": {"command": "x", "args": "--flag"}\n  }\n}\n', 3, "`args`"),
        ('{\n  "mcpServers": {}\n}\n', 1, "no `servers` object"),
    ],
)
def test_a_malformed_file_names_file_and_line_and_writes_nothing(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(text)
    out = tmp_path / "out"
    result = run_import("--from", "vscode", str(config), "--out", str(out),
                        "--secrets-dir", str(tmp_path / "s"))  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{config}:{line}: ")
    assert message in result.stderr
    assert not out.exists()


def test_the_default_file_is_the_clients_usual_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".cursor").mkdir(parents=True)
    (home / ".cursor" / "mcp.json").write_text((CLIENTS / "cursor-mcp.json").read_text())
    result = run_import("--from", "cursor", "--secrets-dir", str(tmp_path / "s"), "-o", "json",
                        env={"HOME": str(home)})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file"] == str(home / ".cursor" / "mcp.json")
    missing = run_import("--from", "windsurf", env={"HOME": str(home)})
    assert missing.exit_code == 1
    assert "mcp_config.json: cannot read the windsurf configuration" in missing.stderr


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    started: list[Controller] = []
    yield started
    for controller in started:
        controller.terminate()


@pytest.mark.slow
async def test_an_imported_config_runs_and_round_trips_through_export(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": {
                        "command": everything_cmd[0],
                        "args": everything_cmd[1:],
                        "env": {"IMPORTED_SECRET": "s3cr3t-value", "PATH": os.environ["PATH"]},
                    }
                }
            }
        )
    )
    state = tmp_path / "state"
    out = tmp_path / "servers"
    cli("import", "--from", "claude-desktop", str(config), "--out", str(out), "--suite", "mine",
        state_dir=state)  # fmt: skip
    assert "s3cr3t-value" not in (out / "servers.yaml").read_text()
    assert cli("validate", str(out), state_dir=state).returncode == 0
    controller = Controller(state, str(out))
    controllers.append(controller)
    controller.wait_ready("everything")
    exported = json.loads(
        cli(
            "export", "client-config", "--suite", "mine", "--client", "cursor", state_dir=state
        ).stdout
    )
    (entry,) = exported["mcpServers"].values()
    assert entry["url"] == f"{controller.gateway_url()}/suites/mine/mcp"
    async with mcp_client(entry["url"]) as client:
        result = await client.call_tool("everything_get-env", {})
        text = result.content[0].text  # type: ignore[union-attr]
    assert "s3cr3t-value" in text  # the secret reached the server through its reference
    reimported = tmp_path / "cursor.json"
    reimported.write_text(json.dumps(exported))
    again = json.loads(
        cli("import", "--from", "cursor", str(reimported), "-o", "json", state_dir=state).stdout
    )
    assert again["documents"][0]["spec"] == {"transport": "streamable-http", "url": entry["url"]}
