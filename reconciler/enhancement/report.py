"""What goes into an enhancement run and what comes out of it: plain values.

`ToolToEnhance` is one tool of one server with how its server wants it enhanced.
`EnhancementReport` holds one `ToolOutcome` per tool (its state, and its text when it has
one), what each provider was asked and what it cost, and which budgets ran out. The gateway
takes `descriptions()` or `lookup(server, tool, schema_hash)` from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from .output import Enhancement

OutcomeState = Literal["enhanced", "cached", "pinned", "failed", "pending", "skipped"]
"""enhanced: written in this run; cached: unchanged since an earlier run; pinned: reviewed
text from an export; failed: no usable answer (see reason); pending: waiting for budget;
skipped: not to be enhanced (a remote server without `allowRemote`)."""

SERVED_STATES = frozenset({"enhanced", "cached", "pinned"})


@dataclass(frozen=True, slots=True)
class ToolToEnhance:
    """One discovered tool and its server's `spec.enhancement`."""

    server: str
    """Name of the MCPServer."""
    tool: Mapping[str, Any]
    """The tool as `tools/list` gave it: `name`, `description`, `inputSchema` (and more)."""
    provider_ref: str
    """Name of the LLMProvider to ask first."""
    style: str = "concise"
    """`concise`, `detailed` or `technical`."""
    remote: bool = False
    """The server is remote or external: its owner controls its text."""
    allow_remote: bool = False
    """`spec.enhancement.allowRemote`: enhance a remote server's tools all the same."""
    schema_hash: str | None = None
    """The hash the gateway looks the tool up by, as discovery reported it; computed from
    `inputSchema` and `outputSchema` (as discovery does) when None."""

    @property
    def name(self) -> str:
        return str(self.tool.get("name", ""))


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The state of one tool after a run, and its text when it has one."""

    server: str
    tool: str
    state: OutcomeState
    key: str
    """Cache key of the tool version, style, model and prompt."""
    schema_hash: str
    enhancement: Enhancement | None = None
    original: str | None = None
    """The server's own description."""
    provider: str | None = None
    """Provider that wrote the text (a fallback when the first choice failed)."""
    model: str | None = None
    reason: str | None = None
    """CamelCase reason for failed, pending and skipped tools."""
    message: str | None = None
    """What happened, in a sentence (and what to do about it)."""

    @property
    def description(self) -> str | None:
        return self.enhancement.description if self.enhancement is not None else None

    @property
    def served(self) -> bool:
        """Whether the gateway serves enhanced (or pinned) text for this tool."""
        return self.state in SERVED_STATES and self.enhancement is not None


@dataclass
class ProviderUsage:
    """What one provider was asked during a run."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class EnhancementProgress:
    """Where a run is: passed to the `progress` callback after each tool."""

    done: int
    total: int
    failed: int


@dataclass
class EnhancementReport:
    """Everything one run decided and did."""

    outcomes: list[ToolOutcome] = field(default_factory=list)
    usage: dict[str, ProviderUsage] = field(default_factory=dict)
    """By provider name."""
    budget_exhausted: dict[str, str] = field(default_factory=dict)
    """Provider name -> why it was not asked (its budget is spent)."""

    @property
    def calls(self) -> int:
        """LLM calls made (each counts once however often it was retried)."""
        return sum(usage.calls for usage in self.usage.values())

    @property
    def cost(self) -> float:
        return sum(usage.cost for usage in self.usage.values())

    def counts(self) -> Counter[str]:
        """How many tools ended in each state."""
        return Counter(outcome.state for outcome in self.outcomes)

    def descriptions(self) -> dict[str, dict[str, str]]:
        """Served descriptions by server and tool: the gateway's `descriptions` argument."""
        served: dict[str, dict[str, str]] = {}
        for outcome in self.outcomes:
            if outcome.served and outcome.description is not None:
                served.setdefault(outcome.server, {})[outcome.tool] = outcome.description
        return served

    def lookup(self, server: str, tool: str, schema_hash: str) -> ToolOutcome | None:
        """The served outcome of a tool with this schema hash, if any."""
        return self._served.get((server, tool, schema_hash))

    @cached_property
    def _served(self) -> dict[tuple[str, str, str], ToolOutcome]:
        return {
            (outcome.server, outcome.tool, outcome.schema_hash): outcome
            for outcome in self.outcomes
            if outcome.served
        }
