"""How long the whole `mcp-reconciler` process takes for the commands CI runs on every push.

Each command is run as users run it (the console script, a fresh process, output to a pipe,
bytecode cached as after `pip install`), interleaved with the baseline `python -c pass` in
the same run, and timed from spawn to exit:

    baseline        python -c pass: the interpreter's own start
    validate        mcp-reconciler validate examples/quickstart
    diff 10k        mcp-reconciler diff head --against base, two directories of 10,000
                    servers (suites of 10, a ToolPermission each; head changes 1 % of the
                    servers, renames 10 and widens one permission): two loads,
                    validation, plan and the rendered text diff

For each: the CPU time of the process (user + system, best and median run), steadier than
wall time on a shared machine, and the wall time (best and median). Each target (validate
< 0.25 s, diff 10k < 2 s, whole process) is judged on both, PASS or FAIL; on a loaded
machine the wall time says more about the load than about the command. The load average
is printed before and after.

Usage: .venv/bin/python benchmarks/cli_startup.py [--runs 7] [--servers 10000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from plan_scale import generate

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"validate": 0.25, "diff": 2.0}


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]

    def figures(self) -> tuple[float, float, float, float]:
        """Best and median CPU time, best and median wall time."""
        return (
            min(self.cpu),
            statistics.median(self.cpu),
            min(self.wall),
            statistics.median(self.wall),
        )


def cli() -> list[str]:
    script = Path(sys.executable).with_name("mcp-reconciler")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]


def user_environment() -> dict[str, str]:
    """This environment, writing bytecode as an installed package has it."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], expect: set[int]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command` (its exit status must be in `expect`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, env=user_environment())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in expect:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def head_from(base: Path, head: Path) -> None:
    """A copy of `base` with 1 % of the servers changed, 10 renamed, one permission wider."""
    head.mkdir()
    for source in sorted(base.iterdir()):
        text = source.read_text()
        if source.name == "servers-000.yaml":
            docs = text.split("---\n")
            text = "---\n".join(docs[10:] + [d.replace("srv-00", "new-00") for d in docs[:10]])
        elif source.name.startswith("servers-"):
            text = text.replace('"--instance", "1', '"--instance", "changed-1', 5)
        else:  # suite-0000 follows its renamed servers
            text = text.replace("{name: srv-0000", "{name: new-0000")
            text = text.replace('["srv-*.get_*"]', '["*.*"]', 1)
        (head / source.name).write_text(text)


def verdict(seconds: float, target: float | None) -> str:
    if target is None:
        return ""
    return "PASS" if seconds < target else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--servers", type=int, default=10_000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        base, head = Path(tmp) / "base", Path(tmp) / "head"
        generate(base, args.servers)
        head_from(base, head)
        commands = {
            "baseline": ([sys.executable, "-c", "pass"], {0}),
            "validate": ([*cli(), "validate", "examples/quickstart"], {0}),
            "diff": ([*cli(), "diff", str(head), "--against", str(base)], {2}),
        }
        for command, expect in commands.values():  # bytecode written, files cached
            timed(command, expect)
        timings = {name: Timing([], []) for name in commands}
        for _ in range(args.runs):
            for name, (command, expect) in commands.items():
                wall, cpu = timed(command, expect)
                timings[name].wall.append(wall)
                timings[name].cpu.append(cpu)
    load_after = os.getloadavg()[0]
    print(
        f"{args.runs} runs each, interleaved; load average {load_before:.1f} before, "
        f"{load_after:.1f} after, on {os.cpu_count()} CPUs"
    )
    print(
        f"{'command':<10} {'target':>7}   {'cpu best':>8} {'median':>7}       "
        f"{'wall best':>9} {'median':>7}"
    )
    labels = {"diff": f"diff {args.servers // 1000}k"}
    for name, timing in timings.items():
        target = TARGETS.get(name) if name != "diff" or args.servers == 10_000 else None
        cpu, cpu_median, wall, wall_median = timing.figures()
        shown = f"< {target:g} s" if target is not None else ""
        print(
            f"{labels.get(name, name):<10} {shown:>7}   {cpu:>7.3f}s {cpu_median:>6.3f}s "
            f"{verdict(cpu, target):<4}  {wall:>8.3f}s {wall_median:>6.3f}s "
            f"{verdict(wall, target)}"
        )


if __name__ == "__main__":
    main()
