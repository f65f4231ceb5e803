"""Where the time of `mcp-reconciler diff head --against base` goes, stage by stage.

The same two directories as `cli_startup.py` (10,000 servers in suites of 10, a
ToolPermission each; head changes 1 % of the servers, renames 10 and widens one
permission), then, in one process as `diff` runs them:

    load head   load_paths(head): YAML, schema, cross-references (check_references)
    load base   load_paths(base)
    diff        diff_states(base, head): resources, memberships, access, sandboxes
    render      the text diff, redacted

and, apart, `check_references` over the head state alone (it is part of each load).
For each: CPU time of the process (best and median run) and wall time (best and
median). The load average is printed before and after.

Usage: .venv/bin/python benchmarks/diff_stages.py [--runs 5] [--servers 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from cli_startup import head_from
from plan_scale import generate

from reconciler.core.redaction import redact
from reconciler.diffing import diff_states
from reconciler.loading.loader import load_paths
from reconciler.loading.validation import check_references
from reconciler.render import render

T = TypeVar("T")
STAGES = ("load head", "load base", "diff", "render", "check_references")


def measured(work: Callable[[], T]) -> tuple[float, float, T]:
    """CPU seconds, wall seconds and result of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def one_run(base: Path, head: Path) -> dict[str, tuple[float, float]]:
    figures: dict[str, tuple[float, float]] = {}
    cpu, wall, new = measured(lambda: load_paths([head]))
    figures["load head"] = (cpu, wall)
    cpu, wall, old = measured(lambda: load_paths([base]))
    figures["load base"] = (cpu, wall)
    assert new.state is not None
    assert old.state is not None
    before, after = old.state, new.state
    cpu, wall, result = measured(lambda: diff_states(before, after))
    figures["diff"] = (cpu, wall)
    labelled = replace(result, before_revision=str(base), after_revision=str(head))
    cpu, wall, _ = measured(lambda: redact(render(labelled, "text", color=False)))
    figures["render"] = (cpu, wall)
    cpu, wall, _ = measured(lambda: check_references(after))
    figures["check_references"] = (cpu, wall)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--servers", type=int, default=10_000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs: list[dict[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base, head = Path(tmp) / "base", Path(tmp) / "head"
        generate(base, args.servers)
        head_from(base, head)
        one_run(base, head)  # files cached, modules imported
        for _ in range(args.runs):
            runs.append(one_run(base, head))
    load_after = os.getloadavg()[0]
    print(
        f"{args.servers} servers, {args.runs} runs; load average {load_before:.1f} before, "
        f"{load_after:.1f} after, on {os.cpu_count()} CPUs"
    )
    print(f"{'stage':<17} {'cpu best':>8} {'median':>7}   {'wall best':>9} {'median':>7}")
    for stage in STAGES:
        cpu = [run[stage][0] for run in runs]
        wall = [run[stage][1] for run in runs]
        print(
            f"{stage:<17} {min(cpu):>7.3f}s {statistics.median(cpu):>6.3f}s   "
            f"{min(wall):>8.3f}s {statistics.median(wall):>6.3f}s"
        )


if __name__ == "__main__":
    main()
