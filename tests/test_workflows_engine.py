"""The workflow engine over an in-process `call` function (the engine's only input)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.core.models.workflow import Step
from reconciler.workflows import Chain, ChainError, StepRecord, result_text

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def steps(*specs: dict[str, Any]) -> list[Step]:
    return [Step.model_validate(spec) for spec in specs]


def text(value: str, *, error: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"content": [{"type": "text", "text": value}]}
    if error:
        answer["isError"] = True
    return answer


@dataclass
class Tools:
    """Tools answering in-process, keyed `server.tool`; every call is logged."""

    handlers: dict[str, Handler]
    calls: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    async def __call__(
        self, server: str, tool: str, arguments: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        name = f"{server}.{tool}"
        self.calls.append((name, arguments, timeout))
        return await self.handlers[name](arguments)

    def called(self, name: str) -> list[dict[str, Any]]:
        return [arguments for called, arguments, _ in self.calls if called == name]


async def clock_now(arguments: dict[str, Any]) -> dict[str, Any]:
    stamp = {"timezone": arguments["timezone"], "datetime": "2025-01-01T00:00:00+00:00"}
    return {"content": [{"type": "text", "text": "now"}], "structuredContent": stamp}


async def echo(arguments: dict[str, Any]) -> dict[str, Any]:
    return text(f"Echo: {arguments.get('message')}")


RELEASE_NOTES = steps(
    {"id": "now", "tool": "time.get_current_time", "arguments": {"timezone": "{{ inputs.tz }}"}},
    {
        "id": "say",
        "tool": "everything.echo",
        "arguments": {"message": "at {{ steps.now.structured.datetime }}"},
        "dependsOn": ["now"],
        "retry": {"attempts": 3},
        "timeoutSeconds": 30,
        "onError": "abort",
    },
)


async def test_steps_run_in_order_and_read_earlier_results() -> None:
    tools = Tools({"time.get_current_time": clock_now, "everything.echo": echo})
    result = await Chain.build("release-notes", RELEASE_NOTES).run({"tz": "UTC"}, tools)
    assert tools.calls == [
        ("time.get_current_time", {"timezone": "UTC"}, 60),
        ("everything.echo", {"message": "at 2025-01-01T00:00:00+00:00"}, 30),
    ]
    assert result["isError"] is False
    assert result["content"] == [{"type": "text", "text": "Echo: at 2025-01-01T00:00:00+00:00"}]
    summary = result["structuredContent"]["steps"]
    assert summary["now"] == {
        "status": "ok",
        "result": "now",
        "error": None,
        "attempts": 1,
        "durationMs": summary["now"]["durationMs"],
    }
    assert summary["say"]["result"] == "Echo: at 2025-01-01T00:00:00+00:00"


async def test_a_template_reference_orders_steps_without_depends_on() -> None:
    chain = Chain.build(
        "w",
        steps(
            {
                "id": "b",
                "tool": "everything.echo",
                "arguments": {"message": "{{ steps.a.result }}"},
            },
            {"id": "a", "tool": "everything.echo", "arguments": {"message": "first"}},
        ),
    )
    assert chain.order == ("a", "b")
    tools = Tools({"everything.echo": echo})
    result = await chain.run({}, tools)
    assert tools.called("everything.echo") == [{"message": "first"}, {"message": "Echo: first"}]
    assert result["content"][0]["text"] == "Echo: Echo: first"  # b runs last


async def test_independent_steps_run_concurrently() -> None:
    in_flight: set[str] = set()
    both = asyncio.Event()

    async def wait_for_the_other(arguments: dict[str, Any]) -> dict[str, Any]:
        in_flight.add(arguments["message"])
        if len(in_flight) == 2:
            both.set()
        await both.wait()  # would never return if the steps ran one after the other
        return text(arguments["message"])

    async def after(arguments: dict[str, Any]) -> dict[str, Any]:
        return text(f"after {sorted(in_flight)}")

    chain = Chain.build(
        "w",
        steps(
            {"id": "a", "tool": "everything.echo", "arguments": {"message": "a"}},
            {"id": "b", "tool": "everything.echo", "arguments": {"message": "b"}},
            {"id": "c", "tool": "everything.after", "dependsOn": ["a", "b"]},
        ),
    )
    tools = Tools({"everything.echo": wait_for_the_other, "everything.after": after})
    result = await asyncio.wait_for(chain.run({}, tools), timeout=10)
    assert [s["status"] for s in result["structuredContent"]["steps"].values()] == ["ok"] * 3
    assert result["content"] == [{"type": "text", "text": "after ['a', 'b']"}]


async def test_a_failing_step_is_retried_with_doubling_backoff() -> None:
    loop = asyncio.get_running_loop()
    seen: list[float] = []

    async def flaky(arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append(loop.time())
        if len(seen) == 1:
            raise RuntimeError("connection reset")
        if len(seen) == 2:
            return text("busy, try later", error=True)
        return text("done")

    chain = Chain.build(
        "w",
        steps(
            {
                "id": "s",
                "tool": "everything.echo",
                "retry": {"attempts": 4, "backoffSeconds": 0.05},
            }
        ),
    )
    result = await chain.run({}, Tools({"everything.echo": flaky}))
    assert result["structuredContent"]["steps"]["s"]["attempts"] == 3
    assert result["structuredContent"]["steps"]["s"]["status"] == "ok"
    assert seen[1] - seen[0] >= 0.05
    assert seen[2] - seen[1] >= 0.1


async def test_an_attempt_without_answer_in_time_fails_the_step() -> None:
    cancelled = asyncio.Event()

    async def hang(arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    chain = Chain.build(
        "w", steps({"id": "slow", "tool": "everything.echo", "timeoutSeconds": 0.05})
    )
    tools = Tools({"everything.echo": hang})
    result = await chain.run({}, tools)
    assert tools.calls[0][2] == 0.05  # the call is told the timeout, to pass it on
    assert cancelled.is_set()
    assert result["isError"] is True
    assert result["structuredContent"]["steps"]["slow"]["error"] == "no answer within 0.05 s"


async def test_abort_returns_an_error_naming_the_step_and_cancels_the_rest() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    async def fail(arguments: dict[str, Any]) -> dict[str, Any]:
        await started.wait()
        return text("Invalid timezone: Mars/Olympus", error=True)

    chain = Chain.build(
        "w",
        steps(
            {"id": "long", "tool": "everything.slow"},
            {
                "id": "bad",
                "tool": "time.get_current_time",
                "retry": {"attempts": 2, "backoffSeconds": 0},
            },
            {"id": "after", "tool": "everything.echo", "dependsOn": ["bad"]},
        ),
    )
    tools = Tools({"everything.slow": slow, "time.get_current_time": fail, "everything.echo": echo})
    result = await asyncio.wait_for(chain.run({}, tools), timeout=10)
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "workflow w failed at step bad (time.get_current_time) after 2 attempts: "
        "Invalid timezone: Mars/Olympus"
    )
    assert result["structuredContent"]["failedStep"] == "bad"
    statuses = {k: v["status"] for k, v in result["structuredContent"]["steps"].items()}
    assert statuses == {"long": "cancelled", "bad": "failed", "after": "cancelled"}
    assert cancelled.is_set()
    assert not tools.called("everything.echo")


async def test_continue_lets_later_steps_run_with_null_results() -> None:
    async def fail(arguments: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("server time is not connected")

    chain = Chain.build(
        "w",
        steps(
            {"id": "now", "tool": "time.get_current_time", "onError": "continue"},
            {
                "id": "say",
                "tool": "everything.echo",
                "arguments": {
                    "message": "[{{ steps.now.result }}] {{ steps.now.error }}",
                    "ok": "{{ steps.now.status == 'ok' }}",
                },
            },
        ),
    )
    tools = Tools({"time.get_current_time": fail, "everything.echo": echo})
    result = await chain.run({}, tools)
    assert tools.called("everything.echo") == [
        {"message": "[] server time is not connected", "ok": False}
    ]
    assert result["isError"] is False
    assert result["structuredContent"]["steps"]["now"]["status"] == "failed"


async def test_a_false_when_skips_the_step_and_is_recorded() -> None:
    chain = Chain.build(
        "w",
        steps(
            {"id": "maybe", "tool": "everything.echo", "when": "{{ inputs.loud }}"},
            {"id": "plain", "tool": "everything.echo", "when": "{{ not inputs.loud }}"},
        ),
    )
    tools = Tools({"everything.echo": echo})
    result = await chain.run({"loud": False}, tools)
    assert len(tools.calls) == 1
    summary = result["structuredContent"]["steps"]
    assert summary["maybe"] == {
        "status": "skipped",
        "result": None,
        "error": None,
        "attempts": 0,
        "durationMs": summary["maybe"]["durationMs"],
    }
    assert summary["plain"]["status"] == "ok"
    assert result["content"][0]["text"] == "Echo: None"


async def test_a_missing_input_fails_the_step_without_calling_it() -> None:
    tools = Tools({"time.get_current_time": clock_now, "everything.echo": echo})
    result = await Chain.build("release-notes", RELEASE_NOTES).run({}, tools)
    assert tools.calls == []
    assert result["isError"] is True
    message = result["content"][0]["text"]
    assert message.startswith("workflow release-notes failed at step now (time.get_current_time)")
    assert "input 'tz' is missing" in message
    assert result["structuredContent"]["steps"]["now"]["attempts"] == 0


async def test_every_finished_step_is_reported_as_it_finishes() -> None:
    seen: list[tuple[str, str, int, int]] = []

    def observe(record: StepRecord, done: int, total: int) -> None:
        seen.append((record.id, record.status, done, total))

    tools = Tools({"time.get_current_time": clock_now, "everything.echo": echo})
    await Chain.build("w", RELEASE_NOTES).run({"tz": "UTC"}, tools, on_step=observe)
    assert seen == [("now", "ok", 1, 2), ("say", "ok", 2, 2)]


async def test_cancelling_the_run_cancels_the_steps_in_flight() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    chain = Chain.build("w", steps({"id": "s", "tool": "everything.slow"}))
    run = asyncio.create_task(chain.run({}, Tools({"everything.slow": slow})))
    await asyncio.wait_for(started.wait(), timeout=10)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert cancelled.is_set()


async def test_a_run_where_nothing_succeeded_summarises_the_steps() -> None:
    chain = Chain.build("w", steps({"id": "s", "tool": "everything.echo", "when": "false"}))
    result = await chain.run({}, Tools({}))
    assert result["content"] == [{"type": "text", "text": "workflow w ran: s: skipped"}]


@pytest.mark.parametrize(
    ("specs", "field", "message"),
    [
        (
            [{"id": "a", "tool": "x.y", "arguments": {"m": "{{ steps.b.result }}"}}],
            "spec.steps.0.arguments.m",
            "unknown step 'b'",
        ),
        (
            [{"id": "a", "tool": "x.y", "when": "{{ os.system('id') }}"}],
            "spec.steps.0.when",
            "unknown name 'os'",
        ),
        ([{"id": "a", "tool": "x.y", "dependsOn": ["zz"]}], "spec.steps.0.dependsOn.0", "zz"),
        (
            [{"id": "a", "tool": "x.y", "arguments": {"m": "{{ steps.a.result }}"}}],
            "spec.steps.0",
            "waits for itself",
        ),
        (
            [
                {"id": "a", "tool": "x.y", "arguments": {"m": "{{ steps.b.result }}"}},
                {"id": "b", "tool": "x.y", "dependsOn": ["a"]},
            ],
            "spec.steps.0",
            "steps wait for each other (dependsOn and template references): a, b",
        ),
        ([{"id": "a", "tool": "x.y"}, {"id": "a", "tool": "x.z"}], "spec.steps", "duplicate"),
    ],
)
def test_a_chain_that_cannot_run_is_refused_with_the_field(
    specs: list[dict[str, Any]], field: str, message: str
) -> None:
    with pytest.raises(ChainError) as raised:
        Chain.build("w", steps(*specs))
    assert raised.value.field == field
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "a\nb"),
        ({"content": [{"type": "image", "data": "..."}], "structuredContent": {"x": 1}}, '{"x":1}'),
        ({"content": []}, ""),
    ],
)
def test_a_result_text_is_its_text_content_else_its_structured_content(
    answer: dict[str, Any], expected: str
) -> None:
    assert result_text(answer) == expected
