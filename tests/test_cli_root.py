from __future__ import annotations

import subprocess
import sys


def test_module_entry_point_prints_help_and_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "reconciler", "--help"], capture_output=True, text=True, check=True
    )
    assert "validate" in out.stdout
    version = subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0
    assert version.stdout.startswith("mcp-reconciler ")


COMMANDS = [
    "validate", "diff", "run", "status", "events", "reconcile", "stats",
    "export client-config", "enhance", "enhancements list", "operator", "gateway", "bridge",
]  # fmt: skip


def test_every_command_has_help_with_state_dir_and_machine_output() -> None:
    from typer.testing import CliRunner

    from reconciler.cli.app import app

    runner = CliRunner()
    for command in COMMANDS:
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, command
        assert "--state-dir" in result.output, command
        assert "--output" in result.output, command


def test_public_url_must_be_a_base_url_and_is_offered_where_a_gateway_runs() -> None:
    from typer.testing import CliRunner

    from reconciler.cli.app import app

    runner = CliRunner()
    refused = runner.invoke(app, ["run", ".", "--public-url", "ftp://mcp.example.com?x=1"])
    assert refused.exit_code == 2
    assert "--public-url" in refused.output
    assert "not a base URL" in refused.output
    for command in ("run", "gateway"):
        assert "--public-url" in runner.invoke(app, [command, "--help"]).output
    assert "--gateway-public-url" in runner.invoke(app, ["operator", "--help"]).output
