"""The batch runner: enhance every tool that needs it, once, within budget.

`enhance_tools` plans (one store read), then asks providers for the `todo` tools, at most
`concurrency` at a time (each provider also keeps to its own `maxConcurrency` and rate
limits). Per tool it tries the first provider, retrying an answer that fails validation
with the problems fed back, then each `fallbackRef` in turn — a provider whose budget is
spent, whose key is missing, or whose calls fail is passed over. A tool that no provider
could enhance is stored as failed with its reason and tried again later (after
`failed_retry_delay`, doubling per failure); one stopped only by budgets is pending. No
failure stops the other tools or raises: everything ends up in the report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ..core.errors import ProviderError, SecretNotFound
from ..core.models.provider import LLMProviderSpec
from ..llm.base import CIRCUIT_OPEN, Completion
from ..llm.factory import ProviderPool
from ..llm.pricing import call_cost, estimate_tokens
from ..secrets import SecretResolver
from .budget import BudgetGuard, utc_today
from .output import OutputRejected, parse_answer
from .pins import Pins
from .plan import PlannedTool, plan_enhancement
from .prompt import EXPECTED_OUTPUT_TOKENS, PROMPT_VERSION, render_request
from .report import (
    EnhancementProgress,
    EnhancementReport,
    ProviderUsage,
    ToolOutcome,
    ToolToEnhance,
)
from .store import EnhancementStore, ResultRecord

log = logging.getLogger(__name__)

BUDGET_EXHAUSTED = "BudgetExhausted"
ENHANCEMENT_FAILED = "EnhancementFailed"
VALIDATION_RETRIES = 2
"""Further tries at the same provider after an answer that fails validation."""
FAILED_RETRY_DELAY = 300.0
"""Seconds before a failed tool is tried again; doubled per consecutive failure."""
FAILED_RETRY_MAX = 86400.0

ProgressCallback = Callable[[EnhancementProgress], None]


async def enhance_tools(
    requests: Sequence[ToolToEnhance],
    *,
    providers: Mapping[str, LLMProviderSpec],
    store: EnhancementStore,
    resolver: SecretResolver,
    force: bool = False,
    progress: ProgressCallback | None = None,
    pins: Pins | None = None,
    pool: ProviderPool | None = None,
    concurrency: int = 32,
    today: Callable[[], date] = utc_today,
) -> EnhancementReport:
    """Enhance the tools that need it; the state and text of every tool.

    Pass a long-lived `pool` to keep circuit breakers and rate limits across runs; without
    one, clients are made for this run and closed at its end.
    """
    plan = await asyncio.to_thread(
        plan_enhancement, requests, providers=providers, store=store, pins=pins, force=force
    )
    own_pool = pool is None
    pool = pool if pool is not None else ProviderPool(resolver)
    run = _Run(providers, store, pool, BudgetGuard(store, today=today), today, plan)
    outcomes: list[ToolOutcome | None] = [
        None if planned.state == "todo" else planned.outcome() for planned in plan
    ]
    todo = [index for index, planned in enumerate(plan) if planned.state == "todo"]
    counter = _Counter(len(todo), progress)
    slots = asyncio.Semaphore(max(1, concurrency))

    async def work(index: int) -> None:
        async with slots:
            outcome = await run.enhance(plan[index])
        outcomes[index] = outcome
        counter.done(failed=outcome.state == "failed")

    try:
        await asyncio.gather(*(work(index) for index in todo))
    finally:
        if own_pool:
            await pool.aclose()
    return EnhancementReport(
        outcomes=[outcome for outcome in outcomes if outcome is not None],
        usage=run.usage,
        budget_exhausted=run.exhausted,
    )


class _Counter:
    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total = total
        self.finished = 0
        self.failed = 0
        self.callback = callback

    def done(self, *, failed: bool) -> None:
        self.finished += 1
        self.failed += failed
        if self.callback is not None:
            self.callback(EnhancementProgress(self.finished, self.total, self.failed))


@dataclass
class _Failure:
    reason: str
    message: str


class _Run:
    """The state of one run: providers, store, budgets, and what was spent."""

    def __init__(
        self,
        providers: Mapping[str, LLMProviderSpec],
        store: EnhancementStore,
        pool: ProviderPool,
        budget: BudgetGuard,
        today: Callable[[], date],
        plan: Sequence[PlannedTool],
    ) -> None:
        self.providers = providers
        self.store = store
        self.pool = pool
        self.budget = budget
        self.today = today
        self.usage: dict[str, ProviderUsage] = {}
        self.exhausted: dict[str, str] = {}
        self.siblings: dict[str, set[str]] = {}
        for planned in plan:
            self.siblings.setdefault(planned.request.server, set()).add(planned.request.name)

    async def enhance(self, planned: PlannedTool) -> ToolOutcome:
        failure: _Failure | None = None
        budget_messages: list[str] = []
        for name in planned.chain:
            outcome, failure_here, spent = await self._ask(name, planned)
            if outcome is not None:
                return outcome
            if spent is not None:
                budget_messages.append(spent)
            failure = failure_here or failure
        if failure is None and budget_messages:
            return await self._pending(planned, "; ".join(budget_messages))
        failure = failure or _Failure(ENHANCEMENT_FAILED, "no provider could be asked")
        return await self._failed(planned, failure)

    async def _ask(
        self, name: str, planned: PlannedTool
    ) -> tuple[ToolOutcome | None, _Failure | None, str | None]:
        """Outcome, or why this provider failed, or why its budget stopped it."""
        spec = self.providers[name]
        request = planned.request
        try:
            client = await self.pool.client(name, spec)
        except SecretNotFound as error:
            return None, _Failure(error.reason, f"LLMProvider {name}: {error.message}"), None
        feedback: list[str] = []
        failure: _Failure | None = None
        for _ in range(1 + VALIDATION_RETRIES):
            question = render_request(request.tool, style=request.style, feedback=feedback)
            estimate = call_cost(
                spec.pricing,
                estimate_tokens(question.system, question.prompt),
                EXPECTED_OUTPUT_TOKENS.get(request.style, 200),
            )
            spent = await self.budget.reserve(name, spec, estimate)
            if spent is not None:
                self.exhausted[name] = spent
                return None, failure, spent
            try:
                completion = await client.complete(question)
            except ProviderError as error:
                self.budget.settle(name, reserved=estimate, actual=0.0)
                if error.reason != CIRCUIT_OPEN:
                    await self._count(name, request.server, None)
                return None, _Failure(error.reason, error.message), None
            self.budget.settle(name, reserved=estimate, actual=completion.cost)
            await self._count(name, request.server, completion)
            try:
                enhancement = parse_answer(
                    completion.text, request.tool, known_names=self.siblings[request.server]
                )
            except OutputRejected as rejected:
                feedback = rejected.problems
                failure = _Failure(
                    rejected.reason, f"LLMProvider {name}: answer rejected: {rejected.message}"
                )
                continue
            record = ResultRecord(
                key=planned.key,
                server=request.server,
                tool=request.name,
                schema_hash=planned.schema_hash,
                style=request.style,
                prompt_version=PROMPT_VERSION,
                status="enhanced",
                provider=name,
                model=completion.model,
                original=_text(request.tool.get("description")),
                description=enhancement.description,
                metadata=enhancement.metadata(),
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost=completion.cost,
            )
            await asyncio.to_thread(self.store.put, record)
            outcome = ToolOutcome(
                server=request.server,
                tool=request.name,
                state="enhanced",
                key=planned.key,
                schema_hash=planned.schema_hash,
                enhancement=enhancement,
                original=record.original,
                provider=name,
                model=completion.model,
                message=(
                    f"written by fallback {name} ({planned.chain[0]} failed)"
                    if name != planned.chain[0]
                    else None
                ),
            )
            return outcome, None, None
        return None, failure, None

    async def _count(self, name: str, server: str, completion: Completion | None) -> None:
        usage = self.usage.setdefault(name, ProviderUsage())
        usage.calls += 1
        if completion is None:
            usage.failed_calls += 1
            await asyncio.to_thread(
                self.store.record_usage, name, server, day=self._day(), failed_calls=1
            )
            return
        usage.input_tokens += completion.input_tokens
        usage.output_tokens += completion.output_tokens
        usage.cost += completion.cost
        await asyncio.to_thread(
            self.store.record_usage,
            name,
            server,
            day=self._day(),
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost=completion.cost,
        )

    async def _pending(self, planned: PlannedTool, message: str) -> ToolOutcome:
        await asyncio.to_thread(
            self.store.put,
            self._record(planned, "pending", BUDGET_EXHAUSTED, message, attempts=0),
        )
        return self._unserved(planned, "pending", BUDGET_EXHAUSTED, message)

    async def _failed(self, planned: PlannedTool, failure: _Failure) -> ToolOutcome:
        previous = planned.record.attempts if planned.record is not None else 0
        attempts = previous + 1
        record = self._record(planned, "failed", failure.reason, failure.message, attempts)
        await asyncio.to_thread(self.store.put, record)
        log.warning(
            "enhancement of %s.%s failed: %s",
            planned.request.server,
            planned.request.name,
            failure.message,
        )
        return self._unserved(planned, "failed", failure.reason, failure.message)

    def _record(
        self, planned: PlannedTool, status: str, reason: str, message: str, attempts: int
    ) -> ResultRecord:
        request = planned.request
        delay = min(FAILED_RETRY_MAX, FAILED_RETRY_DELAY * 2 ** max(0, attempts - 1))
        return ResultRecord(
            key=planned.key,
            server=request.server,
            tool=request.name,
            schema_hash=planned.schema_hash,
            style=request.style,
            prompt_version=PROMPT_VERSION,
            status="failed" if status == "failed" else "pending",
            provider=planned.chain[0] if planned.chain else None,
            original=_text(request.tool.get("description")),
            reason=reason,
            error=message,
            attempts=attempts,
            retry_at=time.time() + delay if status == "failed" else None,
        )

    def _unserved(self, planned: PlannedTool, state: str, reason: str, message: str) -> ToolOutcome:
        return ToolOutcome(
            server=planned.request.server,
            tool=planned.request.name,
            state="failed" if state == "failed" else "pending",
            key=planned.key,
            schema_hash=planned.schema_hash,
            original=_text(planned.request.tool.get("description")),
            provider=planned.chain[0] if planned.chain else None,
            reason=reason,
            message=message,
        )

    def _day(self) -> str:
        return self.today().isoformat()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
