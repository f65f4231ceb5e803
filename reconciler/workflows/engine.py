"""Running a workflow's steps over an injected tool-calling function.

    chain = Chain.build("release-notes", workflow.spec.steps)   # raises ChainError
    result = await chain.run({"tz": "UTC"}, call, on_step=observer)

A step starts once every step it depends on has finished: the ones in its `dependsOn` and
the ones its templates read. Independent steps run concurrently. A failed attempt (an
exception from `call`, an `isError` result, or no answer within `timeoutSeconds`) is
retried after `backoffSeconds`, doubled after each retry. A step whose `when` renders
false is skipped. A step that fails for good either aborts the chain (`onError: abort`:
the other steps are cancelled and the result is an error naming the step) or lets it go
on (`onError: continue`: templates reading it get null). The result is shaped like a
CallToolResult: the content of the last step that succeeded (last in dependency order,
then declaration order), `structuredContent.steps` with what happened to each step, and
`isError`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.errors import InvalidInput
from ..core.models.workflow import Step
from .templating import Scope, TemplateError, condition, render, step_references, strings_of

StepCall = Callable[[str, str, dict[str, Any], float], Awaitable[dict[str, Any]]]
"""`call(server, tool, arguments, timeout_seconds)`: the tools/call result dict; raises
when the call could not be made or answered."""

Status = Literal["pending", "running", "ok", "failed", "skipped", "cancelled"]

MAX_ERROR_CHARS = 1000
"""A step's error is cut to this length."""
CALL_GRACE_SECONDS = 0.5
"""`call` is given the step's timeout to honour (the gateway tells the server to stop, and
records a timeout); the engine stops waiting for it this much later in any case."""


class ChainError(InvalidInput):
    """A chain that cannot run: a template that does not parse, a step read but unknown,
    steps waiting on each other. `field` is the path inside the Workflow resource."""

    reason = "InvalidWorkflow"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class StepRecord:
    """What happened to one step of one run."""

    id: str
    tool: str
    status: Status = "pending"
    content: list[Any] | None = None
    """The content of the step's result (when ok)."""
    structured: Any = None
    result: str | None = None
    """Its text: the text content joined by newlines, else the structuredContent as JSON."""
    error: str | None = None
    attempts: int = 0
    duration_ms: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("ok", "failed", "skipped", "cancelled")

    def view(self) -> dict[str, Any]:
        """What templates read as `steps.<id>`."""
        return {
            "status": self.status,
            "result": self.result,
            "structured": self.structured,
            "error": self.error,
        }

    def summary(self) -> dict[str, Any]:
        """Its entry in `structuredContent.steps`."""
        return {
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "durationMs": self.duration_ms,
        }


StepObserver = Callable[[StepRecord, int, int], None]
"""Told of each step as it finishes: (record, steps finished so far, steps in all)."""


def result_text(answer: Mapping[str, Any]) -> str:
    """The text of a tools/call result: its text content, else its structuredContent as JSON."""
    content = answer.get("content")
    texts = [
        item["text"]
        for item in (content if isinstance(content, list) else [])
        if isinstance(item, dict)
        and item.get("type") == "text"
        and isinstance(item.get("text"), str)
    ]
    if texts:
        return "\n".join(texts)
    structured = answer.get("structuredContent")
    if structured is not None:
        return json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    return ""


@dataclass(frozen=True)
class Chain:
    """The steps of one workflow, checked and ordered, ready to run any number of times."""

    name: str
    steps: tuple[Step, ...]
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Step id -> the steps it waits for."""
    order: tuple[str, ...] = ()
    """Step ids in an order where each comes after what it waits for."""

    @classmethod
    def build(cls, name: str, steps: Sequence[Step]) -> Chain:
        """Check templates and dependencies; raises ChainError on the first problem."""
        ids = [step.id for step in steps]
        known = set(ids)
        if len(known) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ChainError(f"duplicate step id {duplicate!r}", field="spec.steps")
        needs: dict[str, tuple[str, ...]] = {}
        for i, step in enumerate(steps):
            wanted = dict.fromkeys(step.depends_on)
            for where, text in _templated(step, i):
                try:
                    read = step_references(text)
                except TemplateError as exc:
                    raise ChainError(exc.message, field=where) from None
                for step_id in sorted(read):
                    if step_id not in known:
                        raise ChainError(f"unknown step {step_id!r}", field=where)
                    wanted[step_id] = None
            for j, step_id in enumerate(step.depends_on):
                if step_id not in known:
                    raise ChainError(
                        f"unknown step {step_id!r}", field=f"spec.steps.{i}.dependsOn.{j}"
                    )
            if step.id in wanted:
                raise ChainError(f"step {step.id!r} waits for itself", field=f"spec.steps.{i}")
            needs[step.id] = tuple(wanted)
        return cls(name, tuple(steps), needs, _ordered(ids, needs))

    async def run(
        self,
        arguments: Mapping[str, Any] | None,
        call: StepCall,
        *,
        on_step: StepObserver | None = None,
    ) -> dict[str, Any]:
        """Run every step once; returns a CallToolResult-shaped dict. Cancelling the
        awaiting task cancels the steps in flight."""
        return await _Run(self, dict(arguments or {}), call, on_step).execute()


def _templated(step: Step, index: int) -> list[tuple[str, str]]:
    """(field path, text) of every string of a step that may hold templates."""
    found = strings_of(step.arguments, f"spec.steps.{index}.arguments")
    if step.when is not None:
        found.append((f"spec.steps.{index}.when", step.when))
    return found


def _ordered(ids: list[str], needs: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Kahn's algorithm, keeping declaration order among steps that are ready together."""
    done: list[str] = []
    placed: set[str] = set()
    remaining = list(ids)
    while remaining:
        ready = [i for i in remaining if all(n in placed for n in needs[i])]
        if not ready:
            cycle = ", ".join(remaining)
            index = ids.index(remaining[0])
            raise ChainError(
                f"steps wait for each other (dependsOn and template references): {cycle}",
                field=f"spec.steps.{index}",
            )
        done.extend(ready)
        placed.update(ready)
        remaining = [i for i in remaining if i not in placed]
    return tuple(done)


class _Aborted(Exception):
    """Raised by a step that failed with `onError: abort`: its task group stops the rest."""


class _Run:
    """One execution of a chain."""

    def __init__(
        self,
        chain: Chain,
        inputs: dict[str, Any],
        call: StepCall,
        on_step: StepObserver | None,
    ) -> None:
        self.chain = chain
        self.inputs = inputs
        self.call = call
        self.on_step = on_step
        self.records = {step.id: StepRecord(step.id, step.tool) for step in chain.steps}
        self.known = frozenset(self.records)
        self.finished = 0
        self.aborted_by: str | None = None

    async def execute(self) -> dict[str, Any]:
        steps = {step.id: step for step in self.chain.steps}
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            async with asyncio.TaskGroup() as group:
                for step_id in self.chain.order:
                    waits = [tasks[n] for n in self.chain.needs[step_id]]
                    tasks[step_id] = group.create_task(self.step(steps[step_id], waits))
        except* _Aborted:
            pass  # the group cancelled every other step
        for record in self.records.values():
            if not record.finished:
                record.status = "cancelled"
        return self.outcome()

    async def step(self, step: Step, waits: list[asyncio.Task[None]]) -> None:
        if waits:
            await asyncio.wait(waits)
        record = self.records[step.id]
        record.status = "running"
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self.attempts(step, record)
        finally:
            record.duration_ms = round((loop.time() - started) * 1000)
        self.finished += 1
        if self.on_step is not None:
            self.on_step(record, self.finished, len(self.records))
        if record.status == "failed" and step.on_error == "abort":
            self.aborted_by = self.aborted_by or step.id
            raise _Aborted

    async def attempts(self, step: Step, record: StepRecord) -> None:
        scope = Scope(
            self.inputs,
            {i: r.view() for i, r in self.records.items() if r.finished},
            self.known,
        )
        try:
            if step.when is not None and not condition(step.when, scope):
                record.status = "skipped"
                return
            arguments = render(step.arguments, scope)
        except TemplateError as exc:
            record.status, record.error = "failed", exc.message
            return
        server, tool = step.tool.split(".", 1)
        delay = step.retry.backoff_seconds
        for attempt in range(1, step.retry.attempts + 1):
            record.attempts = attempt
            try:
                async with asyncio.timeout(step.timeout_seconds + CALL_GRACE_SECONDS):
                    answer = await self.call(server, tool, arguments, step.timeout_seconds)
            except TimeoutError:
                error = f"no answer within {step.timeout_seconds:g} s"
            except Exception as exc:  # the call's own failure, whatever it is, is the step's
                error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            else:
                if answer.get("isError") is not True:
                    record.status = "ok"
                    content = answer.get("content")
                    record.content = content if isinstance(content, list) else []
                    record.structured = answer.get("structuredContent")
                    record.result = result_text(answer)
                    record.error = None
                    return
                error = result_text(answer) or "the tool reported an error"
            record.error = error[:MAX_ERROR_CHARS]
            if attempt < step.retry.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        record.status = "failed"

    def outcome(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "steps": {step.id: self.records[step.id].summary() for step in self.chain.steps}
        }
        if self.aborted_by is not None:
            record = self.records[self.aborted_by]
            summary["failedStep"] = record.id
            tries = f" after {record.attempts} attempts" if record.attempts > 1 else ""
            text = (
                f"workflow {self.chain.name} failed at step {record.id} ({record.tool}){tries}: "
                f"{record.error}"
            )
            return {
                "content": [{"type": "text", "text": text}],
                "structuredContent": summary,
                "isError": True,
            }
        last = next(
            (
                self.records[step_id]
                for step_id in reversed(self.chain.order)
                if self.records[step_id].status == "ok"
            ),
            None,
        )
        if last is not None and last.content:
            content = last.content
        else:
            states = ", ".join(f"{r.id}: {r.status}" for r in self.records.values())
            content = [{"type": "text", "text": f"workflow {self.chain.name} ran: {states}"}]
        return {"content": content, "structuredContent": summary, "isError": False}
