"""CPU time per tools/call of the bare relay and the gateway: the quick figure to iterate on.

At 16 clients on 2 cores the gateway is CPU-bound, so its calls/s against the bare relay's
(`gateway_bench.py`'s target) follows their CPU per call. This measures only that, in a
minute or two: the relay and the chosen gateway variants (`GATEWAY_VARIANTS`) are started
as `gateway_bench.py` starts them, then, in R interleaved rounds, each target serves

- `--calls` sequential calls of one session (the SDK client, as in `gateway_bench.py`), and
- one `--seconds` window of `--clients` concurrent clients (`echo_client.py` processes),

and the CPU time its serving process spent (all threads; the server behind it not
counted) is divided by the calls it served. Each figure is the best (lowest) round, since
other work on the machine only ever adds to it. Usage:

    .venv/bin/python benchmarks/gateway_cpu.py [--variants open,token,oidc,lock]
        [--rounds 5] [--calls 300] [--clients 16] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import anyio
from echo_client import call, open_session
from gateway_bench import Load, cpu_seconds
from gateway_targets import GATEWAY_VARIANTS, Processes, Target, start_gateway, start_relay


async def measure(
    targets: list[Target], processes: Processes, args: argparse.Namespace, *, errlog: TextIO
) -> dict[str, tuple[float, float, float]]:
    """Target -> (CPU us per sequential call, CPU us per call under load, best calls/s)."""
    sequential = dict.fromkeys((t.name for t in targets), float("inf"))
    loaded = dict(sequential)
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                open_session(t.address, errlog=errlog, headers=t.headers)
            )
            for t in targets
        ]
        loads = [
            Load(t, processes, clients=args.clients, workers=args.client_processes) for t in targets
        ]
        try:
            for load in loads:
                await load.ready()
            for target, session in zip(targets, sessions, strict=True):
                for _ in range(50):
                    await call(session, target.tool)
            for number in range(args.rounds):
                print(f"  round {number + 1}/{args.rounds}", file=sys.stderr)
                for target, session, load in zip(targets, sessions, loads, strict=True):
                    before = cpu_seconds(target.pid)
                    for _ in range(args.calls):
                        await call(session, target.tool)
                    spent = cpu_seconds(target.pid) - before
                    sequential[target.name] = min(sequential[target.name], spent / args.calls * 1e6)
                    await load.window(args.seconds)
                    assert load.cpu_us is not None
                    loaded[target.name] = load.cpu_us
        finally:
            for load in loads:
                load.stop()
    return {
        t.name: (sequential[t.name], loaded[t.name], load.best)
        for t, load in zip(targets, loads, strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=[v.name for v in GATEWAY_VARIANTS],
        help="gateway variants, comma-separated (open, token, oidc, lock)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="sequential calls per round")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per load window")
    parser.add_argument("--client-processes", type=int, default=4)
    args = parser.parse_args()
    variants = [v for v in GATEWAY_VARIANTS if v.name in args.variants]
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="gateway-cpu-") as name,
        open(os.devnull, "w") as errlog,
    ):
        processes = Processes(Path(name))
        try:
            targets = [start_relay(processes, Path(name))]
            for variant in variants:
                targets += start_gateway(
                    processes, Path(name), [variant], name=f"controller-{variant.name}"
                )
            figures = anyio.run(lambda: measure(targets, processes, args, errlog=errlog))
        finally:
            processes.stop_all()
    relay_sequential, relay_loaded, relay_rate = figures["relay"]
    print(f"{'target':<16}{'CPU us/call, 1 client':>24}{f'at {args.clients} clients':>16}"
          f"{f'calls/s@{args.clients}':>14}{'x relay':>9}")  # fmt: skip
    for target, (one, many, rate) in figures.items():
        ratio = f"{rate / relay_rate:>9.2f}" if relay_rate else ""
        print(f"{target:<16}{one:>24.0f}{many:>16.0f}{rate:>14.0f}{ratio}")
    for target, (one, many, _) in figures.items():
        if target != "relay":
            print(f"{target} CPU per call against the relay's: "
                  f"1 client {one - relay_sequential:+.0f} us (x{one / relay_sequential:.2f}), "
                  f"{args.clients} clients "
                  f"{many - relay_loaded:+.0f} us (x{many / relay_loaded:.2f})")  # fmt: skip
    print(f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, "
          f"{os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
