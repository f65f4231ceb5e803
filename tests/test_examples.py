"""Every example in examples/ is valid, and the CI example's diff works on examples/full."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.loading.loader import load_paths

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["quickstart", "full", "identity"])
def test_example_validates_with_no_warning(name: str) -> None:
    result = load_paths([EXAMPLES / name])
    assert result.ok, [str(p) for p in result.problems]
    assert not result.warnings, [str(p) for p in result.warnings]


def test_ci_example_is_a_workflow_that_posts_the_markdown_diff() -> None:
    workflow = yaml.safe_load((EXAMPLES / "ci" / "github-actions.yaml").read_text())
    steps = workflow["jobs"]["diff"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    assert "mcp-reconciler validate" in commands
    assert "diff mcp/ --against" in commands
    assert "-o markdown" in commands


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_diff_between_two_revisions_of_the_full_example(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "full", repo / "mcp")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    permissions = repo / "mcp" / "permissions.yaml"
    permissions.write_text(
        permissions.read_text().replace('"time.*", "everything.echo"', '"time.*", "everything.*"')
    )
    servers = repo / "mcp" / "servers.yaml"
    servers.write_text(
        servers.read_text().replace(
            'args: ["--local-timezone", "UTC"]', 'args: ["--local-timezone", "Europe/Paris"]'
        )
    )

    def diff(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", "diff", "mcp", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
        )

    changed = diff("--against", "HEAD")
    assert changed.returncode == 2, changed.stderr
    assert "MCPServer/time changed: spec.args (restart)" in changed.stdout
    assert "ci-bot may now call everything.*" in changed.stdout

    report = json.loads(diff("--against", "HEAD", "-o", "json").stdout)
    assert report["summary"]["changed"] >= 2

    _git(repo, "commit", "-qam", "widen")
    assert diff("--against", "HEAD").returncode == 0

    servers.write_text(servers.read_text() + "\n---\nkind: MCPServer\n")
    broken = diff("--against", "HEAD")
    assert broken.returncode == 1
    assert "servers.yaml:" in broken.stderr
