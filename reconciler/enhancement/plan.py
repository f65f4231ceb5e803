"""Deciding, before any call, what each tool needs: the plan of a run, and its cost.

Per tool: its cache key (the first provider's model is part of it), the providers to try in
order (`providerRef`, then each `fallbackRef`), and one state — `cached` (a result for the
key exists), `pinned` (reviewed text fits the tool), `skipped` (remote server without
`allowRemote`), `failed` (an earlier failure not yet due for a retry, or no such provider),
or `todo`. `--dry-run` prices the `todo` tools with `estimate_cost`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ..core.hashing import tool_schema_hash as schema_hash
from ..core.models.base import qualified_name, split_qualified
from ..core.models.provider import LLMProviderSpec
from ..llm.builtin import BUILTIN_MODEL
from ..llm.pricing import call_cost, estimate_tokens
from .output import Enhancement
from .pins import Pin, Pins
from .prompt import EXPECTED_OUTPUT_TOKENS, cache_key, render_request
from .report import ToolOutcome, ToolToEnhance
from .store import EnhancementStore, ResultRecord

PlanState = Literal["todo", "cached", "pinned", "skipped", "failed"]

REMOTE_NOT_OPTED_IN = "RemoteNotOptedIn"
PROVIDER_NOT_FOUND = "ProviderNotFound"


@dataclass(frozen=True, slots=True)
class PlannedTool:
    """One tool, what it needs, and what is known of it already."""

    request: ToolToEnhance
    key: str
    schema_hash: str
    chain: tuple[str, ...]
    """Providers to try, in order."""
    state: PlanState
    record: ResultRecord | None = None
    pin: Pin | None = None
    stale_pin: Pin | None = None
    """A pin of this tool that no longer fits its schema."""
    reason: str | None = None
    message: str | None = None

    def outcome(self) -> ToolOutcome:
        """The outcome of a tool that needs no call."""
        request, record = self.request, self.record
        base = ToolOutcome(
            server=request.server,
            tool=request.name,
            state="failed",
            key=self.key,
            schema_hash=self.schema_hash,
            original=_text(request.tool.get("description")),
            reason=self.reason,
            message=self.message,
        )
        if self.state == "pinned" and self.pin is not None:
            return replace(
                base, state="pinned", enhancement=self.pin.enhancement, provider="pinned"
            )
        if self.state in ("cached", "failed") and record is not None:
            enhanced = record.status == "enhanced" and record.description is not None
            return replace(
                base,
                state="cached" if enhanced else "failed",
                enhancement=(
                    Enhancement.of(record.description or "", record.metadata) if enhanced else None
                ),
                provider=record.provider,
                model=record.model,
                reason=record.reason,
                message=self._stale(record.error),
            )
        return replace(base, state="skipped" if self.state == "skipped" else "failed")

    def _stale(self, message: str | None) -> str | None:
        if self.stale_pin is None:
            return message
        note = (
            f"the pinned text in {self.stale_pin.file} is stale (the tool's schema changed): "
            "review it and export again"
        )
        return f"{message}; {note}" if message else note


def plan_enhancement(
    requests: Sequence[ToolToEnhance],
    *,
    providers: Mapping[str, LLMProviderSpec],
    store: EnhancementStore,
    pins: Pins | None = None,
    force: bool = False,
    now: float | None = None,
) -> list[PlannedTool]:
    """What each tool needs (one store query for all of them)."""
    now = time.time() if now is None else now
    pins = pins or Pins()
    keyed = [(request, _key(request, providers)) for request in requests]
    records = store.results(key for _, key in keyed)
    plan = []
    for request, key in keyed:
        plan.append(_plan_one(request, key, providers, records.get(key), pins, force, now))
    return plan


def provider_chain(name: str, providers: Mapping[str, LLMProviderSpec]) -> tuple[str, ...]:
    """`name`, then its fallbackRef, and so on (each provider once; unknown ones end it).

    Names may be qualified (`namespace/name`): a fallbackRef names a provider of the same
    namespace as the provider that declares it."""
    chain: list[str] = []
    current: str | None = name
    while current is not None and current in providers and current not in chain:
        chain.append(current)
        fallback = providers[current].fallback_ref
        namespace, _ = split_qualified(current)
        current = qualified_name(namespace, fallback) if fallback is not None else None
    return tuple(chain)


def model_of(spec: LLMProviderSpec) -> str:
    """The model that goes into cache keys."""
    if spec.type == "builtin":
        return BUILTIN_MODEL
    return spec.model or ""


@dataclass
class CostEstimate:
    """What enhancing the pending tools would ask of one provider, at most."""

    tools: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


def estimate_cost(
    plan: Sequence[PlannedTool], providers: Mapping[str, LLMProviderSpec]
) -> dict[str, CostEstimate]:
    """Estimated tokens and cost per first-choice provider of every `todo` tool."""
    estimates: dict[str, CostEstimate] = {}
    for planned in plan:
        if planned.state != "todo" or not planned.chain:
            continue
        name = planned.chain[0]
        request = render_request(planned.request.tool, style=planned.request.style)
        input_tokens = estimate_tokens(request.system, request.prompt)
        output_tokens = EXPECTED_OUTPUT_TOKENS.get(planned.request.style, 200)
        estimate = estimates.setdefault(name, CostEstimate())
        estimate.tools += 1
        estimate.input_tokens += input_tokens
        estimate.output_tokens += output_tokens
        estimate.cost += call_cost(providers[name].pricing, input_tokens, output_tokens)
    return estimates


def _key(request: ToolToEnhance, providers: Mapping[str, LLMProviderSpec]) -> str:
    spec = providers.get(request.provider_ref)
    model = model_of(spec) if spec is not None else f"missing:{request.provider_ref}"
    return cache_key(request.tool, style=request.style, model=model)


def _plan_one(
    request: ToolToEnhance,
    key: str,
    providers: Mapping[str, LLMProviderSpec],
    record: ResultRecord | None,
    pins: Pins,
    force: bool,
    now: float,
) -> PlannedTool:
    digest = request.schema_hash or schema_hash(request.tool)
    chain = provider_chain(request.provider_ref, providers)
    base = PlannedTool(request, key, digest, chain, "todo", record=record)
    if request.remote and not request.allow_remote:
        return replace(
            base,
            state="skipped",
            reason=REMOTE_NOT_OPTED_IN,
            message=(
                f"server {request.server} is remote: its owner controls its tool text; "
                "set spec.enhancement.allowRemote: true to enhance it"
            ),
        )
    pin = pins.get(request.server, request.name)
    if pin is not None and pin.applies_to(digest):
        return replace(base, state="pinned", pin=pin)
    stale = pin
    if not chain:
        return replace(
            base,
            state="failed",
            stale_pin=stale,
            reason=PROVIDER_NOT_FOUND,
            message=(
                f"LLMProvider {request.provider_ref} does not exist: declare it or fix "
                f"spec.enhancement.providerRef of server {request.server}"
            ),
        )
    if record is not None and not force:
        if record.status == "enhanced":
            return replace(base, state="cached", stale_pin=stale)
        if record.status == "failed" and record.retry_at is not None and record.retry_at > now:
            return replace(base, state="failed", stale_pin=stale)
    return replace(base, stale_pin=stale)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
