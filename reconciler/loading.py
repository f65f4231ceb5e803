"""Loading YAML files and directories into a DesiredState, keeping file and line of each field.

(Provisional implementation: see issue 2, item 3.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .desired import DesiredState, Origin
from .errors import Problem
from .models import KINDS

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadResult:
    """What a load produced: the state (only when there is no error) and every problem."""

    state: DesiredState | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.state is not None and not self.errors


def load_paths(paths: Sequence[str | Path], *, revision: str | None = None) -> LoadResult:
    """Load every YAML file under the paths and validate schema and cross-references."""
    state = DesiredState(revision=revision)
    for raw in paths:
        root = Path(raw)
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.suffix not in YAML_SUFFIXES:
                continue
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc:
                    continue
                resource = KINDS[doc["kind"]].model_validate(doc)
                state.resources[resource.key] = resource
                state.origins[resource.key] = Origin(str(path), 1)
    return LoadResult(state)
