"""`mcp-reconciler validate`: exit codes, `FILE:LINE: Kind/name: field: message`, JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app

DATA = Path(__file__).parent / "data"
SERVER = (
    "apiVersion: mcp.reconciler.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: time}\n"
    "spec:\n  command: mcp-server-time\n"
)


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, as users and CI run it."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """The command in-process (fast): exit code, stdout, stderr."""
    result = CliRunner().invoke(app, ["validate", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_valid_directory_exits_0_with_a_summary() -> None:
    done = run_cli(DATA / "valid")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "valid: 7 resources (2 servers, 1 suite, 1 permission, 2 providers, 1 workflow)\n"
    )
    assert done.stderr == ""


def test_invalid_directory_exits_1_with_every_error_and_a_count(tmp_path: Path) -> None:
    shutil.copytree(DATA / "invalid" / "many-mistakes", tmp_path / "config")
    shutil.copytree(DATA / "invalid" / "duplicates", tmp_path / "config" / "more")
    done = run_cli("config", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "config/more/b.yaml:5: MCPServer/time: metadata.name: duplicate of "
        "config/more/a.yaml:4: names are unique per kind and namespace",
        "config/resources.yaml:6: MCPServer/time: spec.comand: unknown field 'comand'; "
        "did you mean 'command'?",
        "config/resources.yaml:8: MCPServer/time: spec.healthCheck.intervalSeconds: "
        "must be greater than 0",
        "config/resources.yaml:16: LLMProvider/openai: spec.apiKey: secret written inline; "
        "reference it instead with {secretKeyRef: {name, key}} or {env: VAR}",
        "config/resources.yaml:22: MCPSuite/dev: spec.servers.1.name: unknown MCPServer "
        "'tme'; did you mean 'time'?",
        "5 errors in 2 files",
    ]
    assert "sk-live" not in done.stderr


# One case per class of mistake, through the command: the file, its text, and the line
# printed for it (exit code 1 each time).
MISTAKES = {
    "syntax": ("a.yaml", SERVER + "  args: [x\n", "a.yaml:6: invalid YAML: "),
    "unknown kind": (
        "a.yaml",
        SERVER.replace("MCPServer", "MCPServers"),
        "a.yaml:2: MCPServers/time: kind: unknown kind 'MCPServers'; did you mean MCPServer?",
    ),
    "unknown field": (
        "a.yaml",
        SERVER + "  argz: [x]\n",
        "a.yaml:6: MCPServer/time: spec.argz: unknown field 'argz'; did you mean 'args'?",
    ),
    "out of range": (
        "a.yaml",
        SERVER + "  restart: {maxFailures: 0}\n",
        "a.yaml:6: MCPServer/time: spec.restart.maxFailures: must be greater than or equal to 1",
    ),
    "broken reference": (
        "a.yaml",
        SERVER + "  enhancement: {providerRef: gpt}\n",
        "a.yaml:6: MCPServer/time: spec.enhancement.providerRef: unknown LLMProvider 'gpt'",
    ),
    "binary file": ("a.yaml", "\udcff", "a.yaml:1: not UTF-8 text"),
}


@pytest.mark.parametrize(("name", "text", "expected"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_exits_1_naming_file_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(name)
    assert code == 1
    assert out == ""
    assert err.splitlines()[0].startswith(expected), err
    assert err.splitlines()[-1] == "1 error in 1 file"


def test_warnings_are_printed_but_exit_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = (
        "apiVersion: mcp.reconciler.dev/v1alpha1\nkind: MCPSuite\nmetadata: {name: empty}\n"
        "spec:\n  selector: {matchLabels: {team: nobody}}\n"
    )
    (tmp_path / "a.yaml").write_text(SERVER + "---\n" + suite)
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("a.yaml")
    assert code == 0
    assert out == "valid: 2 resources (1 server, 1 suite); 1 warning\n"
    assert err == (
        "a.yaml:11: MCPSuite/empty: spec.selector: warning: suite has no servers: "
        "list some under servers or select them by label\n"
    )


def test_json_output_says_valid_resources_and_problems(tmp_path: Path) -> None:
    code, out, _ = invoke(DATA / "valid", "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert report["valid"] is True
    assert report["resources"] == 7
    assert report["problems"] == []
    assert report["revision"].startswith("sha256:")

    (tmp_path / "a.yaml").write_text(SERVER + "  healthCheck: {timeoutSeconds: -1}\n")
    code, out, _ = invoke(tmp_path, "-o", "json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    assert report["resources"] == 1
    assert report["problems"] == [
        {
            "file": f"{tmp_path}/a.yaml",
            "line": 6,
            "resource": "MCPServer/time",
            "field": "spec.healthCheck.timeoutSeconds",
            "message": "must be greater than 0",
            "severity": "error",
        }
    ]


def test_markdown_output_lists_problems_for_a_pull_request(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SERVER + "  argz: []\n")
    code, out, _ = invoke(tmp_path / "a.yaml", "-o", "markdown")
    assert code == 1
    assert out.splitlines() == [
        "**1 error in 1 file**",
        "",
        f"- error: `{tmp_path}/a.yaml:6` `MCPServer/time` `spec.argz`: unknown field 'argz'; "
        "did you mean 'args'?",
    ]


def test_odd_inputs_end_in_messages_never_in_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "png.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8")
    (tmp_path / "nul.yml").write_bytes(b"\x00\x01\x02")
    (tmp_path / "deep.yaml").write_text("x: " + "[" * 100_000 + "]" * 100_000)
    (tmp_path / "keys.yaml").write_text("? [a, b]\n: c\n? {x: 1}\n: d\n")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "missing.yaml")
    (tmp_path / "loop").symlink_to(tmp_path)
    os.mkfifo(tmp_path / "fifo.yaml")
    done = run_cli(tmp_path, tmp_path, tmp_path / "nothing-here", "/dev/null")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.replace(f"{tmp_path}/", "").splitlines()
    assert lines == [
        "dangling.yaml: cannot read: broken symlink",
        "deep.yaml: invalid YAML: nested too deeply to read",
        "keys.yaml:1: a key must be a plain string, not a list or mapping",
        "keys.yaml:1: apiVersion: missing apiVersion; add apiVersion: mcp.reconciler.dev/v1alpha1",
        "keys.yaml:1: kind: missing kind; add one of MCPServer, MCPSuite, ToolPermission, "
        "LLMProvider, Workflow, ToolLock",
        "keys.yaml:3: a key must be a plain string, not a list or mapping",
        "nul.yml:1: invalid YAML: unacceptable character #x0000 "
        "(control characters are not allowed)",
        "png.yaml:1: not UTF-8 text; save the file as UTF-8",
        "nothing-here: no such file or directory",
        "/dev/null: not a regular file or directory",
        "10 errors in 7 files",
    ]


def test_no_path_is_a_usage_error() -> None:
    code, _, err = invoke()
    assert code == 2
    assert "Missing argument" in err
