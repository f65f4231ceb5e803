"""`export client-config` and `stats`, through the real command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from reconciler.store import Store
from reconciler.store.records import CallRecord
from tests.controller_harness import cli


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("vscode", '"Authorization": "Bearer ${env:CI_BOT_TOKEN}"'),
        ("cursor", '"url": "http://gw:9000/suites/dev/mcp"'),
        ("claude-desktop", '"mcp-remote"'),
        ("claude-code", "claude mcp add --transport http mcp-dev http://gw:9000/suites/dev/mcp"),
    ],
)
def test_client_config_points_at_the_suite_and_keeps_the_token_in_an_env_var(
    tmp_path: Path, client: str, expected: str
) -> None:
    out = cli(
        "export", "client-config", "--suite", "dev", "--client", client,
        "--gateway", "http://gw:9000/", "--token-env", "CI_BOT_TOKEN",
        state_dir=tmp_path,
    ).stdout  # fmt: skip
    assert expected in out
    assert "CI_BOT_TOKEN" in out


def test_client_config_without_token_has_no_authorization_header(tmp_path: Path) -> None:
    out = cli(
        "export", "client-config", "--suite", "dev", "--client", "vscode", state_dir=tmp_path
    ).stdout
    assert json.loads(out) == {
        "servers": {"mcp-dev": {"type": "http", "url": "http://127.0.0.1:8765/suites/dev/mcp"}}
    }


def test_stats_reports_calls_errors_and_latency_per_tool(tmp_path: Path) -> None:
    now = time.time()
    with Store.open(tmp_path) as store:
        store.record_calls(
            [
                CallRecord(now - 10, "dev", "time", "get_current_time", ms, "ok", subject="bot")
                for ms in (1.0, 2.0, 3.0, 4.0)
            ]
            + [
                CallRecord(now - 5, "dev", "everything", "echo", 9.0, "error", subject="bot"),
                CallRecord(now - 2 * 86400, "dev", "everything", "echo", 1.0, "ok"),
            ]
        )
    report = json.loads(cli("stats", "-o", "json", state_dir=tmp_path).stdout)
    assert report["total"]["calls"] == 5
    assert report["total"]["errors"] == 1
    top = report["topTools"][0]
    assert (top["server"], top["tool"], top["calls"], top["p50Ms"]) == (
        "time", "get_current_time", 4, 2.0
    )  # fmt: skip
    assert [(t["tool"], t["errors"]) for t in report["failingTools"]] == [("echo", 1)]
    week = json.loads(cli("stats", "--window", "7d", "-o", "json", state_dir=tmp_path).stdout)
    assert week["total"]["calls"] == 6
    text = cli("stats", state_dir=tmp_path).stdout
    assert "5 calls, error rate 20.0%" in text


def test_stats_without_a_state_dir_says_how_to_start_one(tmp_path: Path) -> None:
    result = cli("stats", state_dir=tmp_path / "nowhere", check=False)
    assert result.returncode == 1
    assert "mcp-reconciler run" in result.stderr


def test_a_token_sub_is_shown_as_text_never_as_markup_or_terminal_codes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reconciler.cli.app import app

    sub = "[bold red]root[/] \x1b[2J"  # an identity provider may put anything in sub
    with Store.open(tmp_path) as store:
        store.record_calls(
            [CallRecord(time.time(), "dev", "time", "now", 1.0, "ok", "data-team", token_sub=sub)]
        )
    for command in ("audit", "stats"):
        shown = CliRunner().invoke(
            app, [command, "--state-dir", str(tmp_path)], env={"COLUMNS": "300"}
        )
        assert shown.exit_code == 0, shown.output
        assert "[bold red]root[/] \\u001b[2J" in shown.stdout
        assert "\x1b" not in shown.stdout
    rows = json.loads(cli("audit", "-o", "json", state_dir=tmp_path).stdout)
    assert rows[0]["tokenSub"] == sub  # machines get the value as recorded
