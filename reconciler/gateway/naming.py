"""How the tools (and prompts) of a suite's servers get the names clients see.

The clash policy is a hook: a `NamingPolicy` turns every candidate of a suite into the
names it is exposed as, and says which candidates lost a clash. `prefix` (the default)
exposes `<server>_<name>`; `priority` exposes bare names and the member with the higher
priority wins a clash (ties go to the server whose name sorts first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Candidate:
    """One item a server offers, before the suite names it."""

    server: str
    """The server's name (its MCPServer)."""
    original: str
    """The server's own name for the item (what is sent upstream)."""
    name: str
    """The name after the server's `tools.overrides` (equals `original` when none)."""
    priority: int = 0
    """The server's priority in the suite."""


@dataclass(frozen=True, slots=True)
class Clash:
    """A candidate left out because another one took its exposed name."""

    exposed: str
    kept: Candidate
    dropped: Candidate

    def describe(self) -> str:
        return (
            f"{self.dropped.server}.{self.dropped.original} is not exposed: "
            f"{self.exposed!r} is taken by {self.kept.server}.{self.kept.original}"
        )


@dataclass(frozen=True, slots=True)
class Naming:
    """The outcome of a policy: exposed name -> candidate, and the clashes it resolved."""

    exposed: dict[str, Candidate] = field(default_factory=dict)
    clashes: tuple[Clash, ...] = ()


class NamingPolicy(Protocol):
    """Assigns exposed names to the candidates of one suite."""

    def assign(self, candidates: Iterable[Candidate]) -> Naming: ...


def _rank(candidate: Candidate) -> tuple[int, str, str]:
    """Sort key: higher priority first, then server name, then the server's own name."""
    return (-candidate.priority, candidate.server, candidate.original)


def _assign(candidates: Iterable[Candidate], name_of: Callable[[Candidate], str]) -> Naming:
    exposed: dict[str, Candidate] = {}
    clashes: list[Clash] = []
    for candidate in sorted(candidates, key=_rank):
        name = name_of(candidate)
        kept = exposed.get(name)
        if kept is None:
            exposed[name] = candidate
        else:
            clashes.append(Clash(name, kept, candidate))
    ordered = dict(sorted(exposed.items(), key=lambda item: (item[1].server, item[0])))
    return Naming(ordered, tuple(clashes))


@dataclass(frozen=True, slots=True)
class PrefixPolicy:
    """`<server><separator><name>`; a clash is only possible through odd names and is ranked."""

    separator: str = "_"

    def assign(self, candidates: Iterable[Candidate]) -> Naming:
        return _assign(candidates, lambda c: f"{c.server}{self.separator}{c.name}")


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """Bare names; on a clash the higher priority wins, then the server name sorting first."""

    def assign(self, candidates: Iterable[Candidate]) -> Naming:
        return _assign(candidates, lambda c: c.name)


POLICIES: Mapping[str, NamingPolicy] = {"prefix": PrefixPolicy(), "priority": PriorityPolicy()}
"""The policies a suite's `conflictResolution` selects."""
