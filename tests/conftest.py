"""Shared fixtures: paths to the real MCP servers the tests start."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
NODE_BIN = TESTS / "node_modules" / ".bin"


def node_server(name: str) -> list[str]:
    """Command line of an npm-installed MCP server (`npm ci --prefix tests`)."""
    script = NODE_BIN / name
    if not script.exists():
        pytest.fail(f"{script} missing: run `npm ci --prefix tests` (see README)")
    return ["node", str(script.resolve())]


def python_server(name: str) -> str:
    """Path of a console script installed into the test virtualenv."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} missing: install the test extra (`pip install -e '.[test]'`)")
    return found


@pytest.fixture
def everything_cmd() -> list[str]:
    return [*node_server("mcp-server-everything"), "stdio"]


@pytest.fixture
def time_cmd() -> list[str]:
    return [python_server("mcp-server-time"), "--local-timezone", "UTC"]
