"""`validate` and `diff` run in pre-commit hooks and CI: they import only what they use.

Each command runs in a fresh interpreter, exactly as the console script runs it, and
reports the modules it imported; the libraries of the controller, gateway, operator and
LLM adapters must not be among them (each costs start-up time on every push).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from reconciler.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"

PROBE = """
import json, sys
from reconciler.cli import main
sys.argv = ["mcp-reconciler", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exit:
    status = exit.code
print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(status)
"""

NOT_FOR_OFFLINE_COMMANDS = (
    "kopf",
    "kubernetes",
    "mcp",
    "mcp_types",
    "starlette",
    "uvicorn",
    "httpx",
    "httpx2",
    "rich",
    "git",
    "watchfiles",
    "prometheus_client",
    "structlog",
    "jsonschema",
    "typer",
    "click",
    "reconciler.llm",
    "reconciler.gateway",
    "reconciler.upstream",
    "reconciler.controller",
    "reconciler.operator",
    "reconciler.enhancement",
    "reconciler.sources",
    "reconciler.workflows",
    # pydantic imports its plugin loader, and with it these, even with plugins disabled
    "importlib.metadata",
    "email",
    "zipfile",
    "csv",
    # needed only to word an error
    "difflib",
)


def run_cli(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )
    marker = done.stderr.rpartition("MODULES ")[2]
    return done, set(json.loads(marker))


def heavy(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == top or name.startswith(f"{top}.") for top in NOT_FOR_OFFLINE_COMMANDS)
    )


def test_validate_imports_none_of_the_servers_libraries_nor_typer() -> None:
    done, modules = run_cli("validate", str(QUICKSTART))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid: 4 resources")
    assert heavy(modules) == []
    commands = {f"reconciler.cli.{module}" for module in COMMANDS.values()}
    assert sorted(commands & modules) == []


def test_diff_of_two_directories_imports_none_of_the_servers_libraries(tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    edited.mkdir()
    for source in QUICKSTART.glob("*.yaml"):
        (edited / source.name).write_text(source.read_text().replace("UTC", "Europe/Paris"))
    done, modules = run_cli("diff", str(edited), "--against", str(QUICKSTART))
    assert done.returncode == 2, done.stderr
    assert "MCPServer/time changed" in done.stdout
    assert heavy(modules) == []


def test_pydantic_plugins_a_user_disables_by_name_leave_the_others_looked_up() -> None:
    env = {**os.environ, "PYDANTIC_DISABLE_PLUGINS": "some-plugin"}
    done, modules = run_cli("validate", str(QUICKSTART), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid: 4 resources")
    assert "importlib.metadata" in modules  # pydantic's own loader looked for plugins


def test_pydantic_plugin_loader_stands_in_and_still_answers_anything_else() -> None:
    """With plugins disabled, pydantic's plugin loader is not imported; a name the stand-in
    does not define loads pydantic's own module (a later pydantic may ask for more)."""
    probe = (
        "import sys; from reconciler.cli.offline import lean_start; lean_start()\n"
        "import pydantic.plugin._schema_validator\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "print(list(get_plugins()), 'importlib.metadata' in sys.modules)\n"
        "from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP\n"
        "print(PYDANTIC_ENTRY_POINT_GROUP, 'importlib.metadata' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[] False", "pydantic True"]


def test_root_help_lists_every_registered_command() -> None:
    done, _ = run_cli("--help")
    assert done.returncode == 0, done.stderr
    listed = [
        line.split()[0]
        for line in done.stdout.partition("Commands:")[2].splitlines()
        if line.startswith("  ")
    ]
    assert listed == list(COMMANDS)
