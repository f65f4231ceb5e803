"""`mcp-reconciler diff`: against a git ref of a real repository, or another directory."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

SERVERS = """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time, labels: {team: platform}}
spec:
  command: mcp-server-time
  args: ["--local-timezone", "UTC"]
  env:
    - {name: TZ, value: UTC}
    - name: API_TOKEN
      valueFrom: {env: TIME_TOKEN}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: filesystem}
spec:
  command: mcp-server-filesystem
  args: ["/srv"]
"""

SUITES = """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec:
  servers: [{name: time}, {name: filesystem}]
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: ci-bot-dev}
spec:
  suites: [dev]
  subjects:
    - name: ci-bot
      tokenFrom: {env: CI_BOT_TOKEN}
  rules:
    - {action: allow, tools: ["time.*"]}
"""

TOKEN = "ghp_R3alL00kingT0kenValue0123456789abcdef"
"""A token-shaped value kept in an env var and a secrets file: it must never be printed."""


def run_diff(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "diff", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "NO_COLOR"}, **(env or {})},
        timeout=60,
    )


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def write(directory: Path, servers: str = SERVERS, suites: str = SUITES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "servers.yaml").write_text(servers)
    (directory / "suites.yaml").write_text(suites)
    return directory


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose `config/` changed between HEAD~1 and HEAD."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root / "config")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    write(
        root / "config",
        servers=SERVERS.replace('"UTC"]', '"Europe/Paris"]').replace(
            "{env: TIME_TOKEN}", "{secretKeyRef: {name: time, key: token}}"
        ),
        suites=SUITES.replace('["time.*"]', '["time.*", "filesystem.write_*"]'),
    )
    git(root, "commit", "-q", "-am", "second")
    return root


def test_diff_against_previous_commit_lists_changes_and_exits_2(repo: Path) -> None:
    result = run_diff("config", "--against", "HEAD~1", cwd=repo)
    assert result.returncode == 2, result.stderr
    assert "~ MCPServer/time changed: spec.args, spec.env (restart)" in result.stdout
    assert 'spec.args.1: "UTC" -> "Europe/Paris"' in result.stdout
    assert "spec.env.1.valueFrom: env $TIME_TOKEN -> secret time/token" in result.stdout
    assert "WIDENED   ci-bot may now call filesystem.write_* on suite dev" in result.stdout
    assert "HEAD~1@sha1:" in result.stdout
    assert "0 created, 2 changed (1 restart), 0 removed" in result.stdout
    assert "\x1b[" not in result.stdout


def test_diff_against_the_same_commit_exits_0(repo: Path) -> None:
    result = run_diff("config", "--against", "HEAD", cwd=repo)
    assert (result.returncode, result.stdout.strip().splitlines()[-1]) == (0, "No changes."), (
        result.stderr
    )


def test_diff_between_identical_directories_exits_0(tmp_path: Path) -> None:
    result = run_diff(write(tmp_path / "new"), "--against", write(tmp_path / "old"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        json.loads(
            run_diff(
                tmp_path / "new", "--against", tmp_path / "old", "-o", "json", cwd=tmp_path
            ).stdout
        )["hasChanges"]
        is False
    )


def test_paths_new_at_the_ref_show_everything_added(repo: Path) -> None:
    write(
        repo / "more",
        servers=SERVERS.replace("name: time", "name: clock").replace(
            "name: filesystem", "name: files"
        ),
        suites="",
    )
    result = run_diff("more", "--against", "HEAD", cwd=repo)
    assert result.returncode == 2, result.stderr
    assert "+ MCPServer/clock created (starts)" in result.stdout


def test_invalid_proposed_state_exits_1_with_file_and_line(repo: Path) -> None:
    (repo / "config" / "servers.yaml").write_text(
        SERVERS.replace("command: mcp-server-time", "command: 42\n  bogus: true")
    )
    result = run_diff("config", "--against", "HEAD", cwd=repo)
    assert result.returncode == 1
    assert "invalid input in config:" in result.stderr
    assert "servers.yaml:" in result.stderr
    assert "bogus" in result.stderr
    assert "Traceback" not in result.stderr
    as_json = run_diff("config", "--against", "HEAD", "-o", "json", cwd=repo)
    assert as_json.returncode == 1
    problems = json.loads(as_json.stdout)["problems"]
    assert problems
    assert {p["side"] for p in problems} == {"config"}


def test_invalid_old_revision_is_reported_as_such(repo: Path) -> None:
    (repo / "config" / "suites.yaml").write_text(SUITES.replace("kind: MCPSuite", "kind: MCPSweet"))
    git(repo, "commit", "-q", "-am", "broken")
    (repo / "config" / "suites.yaml").write_text(SUITES)
    result = run_diff("config", "--against", "HEAD", cwd=repo)
    assert result.returncode == 1
    assert "invalid input in --against HEAD:" in result.stderr
    assert "config/suites.yaml@HEAD" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_ref_and_missing_against_exit_1_with_what_to_do(repo: Path, tmp_path: Path) -> None:
    unknown = run_diff("config", "--against", "no-such-branch", cwd=repo)
    assert unknown.returncode == 1
    assert "unknown git ref 'no-such-branch'" in unknown.stderr
    outside = run_diff(write(tmp_path / "plain"), "--against", "HEAD", cwd=tmp_path)
    assert outside.returncode == 1
    assert "not inside a git repository" in outside.stderr
    live = run_diff("config", cwd=repo)
    assert live.returncode == 1
    assert "pass --against GITREF|DIR" in live.stderr


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_secret_values_never_appear_in_any_output(repo: Path, output: str) -> None:
    state_dir = repo / ".state"
    (state_dir / "secrets" / "time").mkdir(parents=True)
    (state_dir / "secrets" / "time" / "token").write_text(TOKEN + "\n")
    env = {"TIME_TOKEN": TOKEN, "CI_BOT_TOKEN": TOKEN}
    result = run_diff(
        "config", "--against", "HEAD~1", "-o", output, "--state-dir", state_dir, cwd=repo, env=env
    )
    assert result.returncode == 2, result.stderr
    assert "secret time/token" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert TOKEN[:12] not in result.stdout + result.stderr


def test_json_output_parses_with_documented_keys(repo: Path) -> None:
    result = run_diff("config", "--against", "HEAD~1", "-o", "json", cwd=repo)
    data = json.loads(result.stdout)
    assert data["format"] == "mcp-reconciler.diff/v1"
    assert data["summary"]["restarts"] == 1
    assert data["resources"][0]["resource"] == "MCPServer/time"
    assert data["resources"][0]["origin"].startswith("config/servers.yaml:")
    assert [a["kind"] for a in data["access"]] == ["allow-added"]


def test_markdown_output_has_heading_table_and_flags_widened_access(repo: Path) -> None:
    result = run_diff("config", "--against", "HEAD~1", "-o", "markdown", cwd=repo)
    assert result.returncode == 2
    text = result.stdout
    assert text.startswith("## mcp-reconciler diff\n")
    assert "| Change | Count |" in text
    assert "| Servers restarted | 1 |" in text
    assert "| 🟡 changed | `MCPServer/time` | `spec.args`, `spec.env` | **restarts** |" in text
    assert "- ⚠️ **widened**: ci-bot may now call filesystem.write\\_\\* on suite dev" in text


def run_on_tty(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """Run diff with stdout on a pseudo-terminal, as in an interactive shell."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "diff", *args],
        cwd=cwd,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while chunk := os.read(controller, 65536):
            chunks.append(chunk)
    except OSError:
        pass  # EIO: the child closed the terminal
    finally:
        os.close(controller)
        assert process.wait(timeout=60) == 2
    return b"".join(chunks).decode()


def test_text_is_coloured_on_a_terminal_unless_no_color(repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = run_on_tty("config", "--against", "HEAD~1", cwd=repo, env=env)
    assert "\x1b[" in coloured
    assert "MCPServer/time changed" in coloured
    plain = run_on_tty("config", "--against", "HEAD~1", cwd=repo, env={**env, "NO_COLOR": "1"})
    assert "\x1b[" not in plain


def test_single_files_can_be_compared_with_their_previous_commit(repo: Path) -> None:
    alone = run_diff("config/servers.yaml", "--against", "HEAD~1", cwd=repo)
    assert alone.returncode == 2, alone.stderr
    assert "config/servers.yaml" in alone.stdout.splitlines()[0]
    both = run_diff(
        "config/servers.yaml", "config/suites.yaml", "--against", "HEAD~1", "-o", "json", cwd=repo
    )
    assert both.returncode == 2, both.stderr
    assert json.loads(both.stdout)["summary"]["restarts"] == 1
    assert [a["kind"] for a in json.loads(both.stdout)["access"]] == ["allow-added"]
