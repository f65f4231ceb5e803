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
