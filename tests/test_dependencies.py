"""Every third-party module the package imports comes from a distribution pyproject declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_top_level_modules() -> dict[str, set[str]]:
    """Each top-level module imported anywhere under reconciler/, with the files importing it."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "reconciler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = re.compile(r"^[A-Za-z0-9._-]+")
    return {
        names.match(requirement).group(0).lower().replace("_", "-")  # type: ignore[union-attr]
        for requirement in project["dependencies"]
    }


def test_every_imported_library_is_a_declared_runtime_dependency() -> None:
    distributions = packages_distributions()
    declared = declared_distributions()
    undeclared = {}
    for module, files in imported_top_level_modules().items():
        if module in sys.stdlib_module_names or module == "reconciler":
            continue
        providers = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        if not providers & declared:
            undeclared[module] = sorted(files)
    assert not undeclared, (
        f"imported but not in [project] dependencies of pyproject.toml: {undeclared}"
    )
