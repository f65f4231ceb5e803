"""Process supervision with real processes: groups, stop, environment, limits, crash cleanup."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from reconciler.controller.processes import (
    boot_id,
    group_members,
    is_alive,
    kill_group,
    read_stat,
    start_time_of,
    verify,
)
from reconciler.controller.supervisor import (
    LaunchSpec,
    ManagedProcess,
    RestartDelays,
    StderrThrottle,
    spawn,
    stop_all,
)
from reconciler.core.errors import ServerError
from reconciler.core.models.server import Backoff as BackoffPolicy
from reconciler.core.models.server import ProcessLimits
from reconciler.store import Store, acquire_controller_lock
from tests.polling import eventually

PY = sys.executable

GROUP_SERVER = """
import signal, subprocess, sys, time
if "--ignore-sigterm" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""
"""A server that starts a grandchild (as npx starts node) and prints the grandchild's pid."""


@pytest.fixture
async def started() -> AsyncIterator[list[ManagedProcess]]:
    """Processes a test spawns; all stopped at the end whatever happened."""
    processes: list[ManagedProcess] = []
    yield processes
    await stop_all(processes, grace=1)


async def start(
    started: list[ManagedProcess],
    spec: LaunchSpec,
    *,
    on_stderr: Callable[[str], None] | None = None,
    stderr_per_second: int = 20,
) -> ManagedProcess:
    process = await spawn(spec, on_stderr=on_stderr, stderr_per_second=stderr_per_second)
    started.append(process)
    return process


async def output_of(process: ManagedProcess) -> str:
    data = await asyncio.wait_for(process.stdout.read(), timeout=10)
    await process.wait()
    return data.decode()


async def test_server_leads_its_own_session_and_process_group(
    started: list[ManagedProcess],
) -> None:
    process = await start(started, LaunchSpec(PY, ["-c", GROUP_SERVER]))

    stat = read_stat(process.pid)
    assert stat is not None
    assert stat.pgid == stat.sid == process.pid == process.pgid
    assert stat.pgid != os.getpgid(0)
    assert process.start_time == stat.start_time


async def test_stop_kills_the_whole_group_including_grandchildren(
    started: list[ManagedProcess],
) -> None:
    process = await start(started, LaunchSpec(PY, ["-c", GROUP_SERVER]))
    grandchild = int(await asyncio.wait_for(process.stdout.readline(), timeout=10))
    assert is_alive(grandchild)

    returncode = await process.stop(grace=5)

    assert returncode == -signal.SIGTERM
    assert not is_alive(process.pid)
    await eventually(lambda: not is_alive(grandchild))
    assert group_members(process.pgid) == []


async def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(
    started: list[ManagedProcess],
) -> None:
    process = await start(started, LaunchSpec(PY, ["-c", GROUP_SERVER, "--ignore-sigterm"]))
    grandchild = int(await asyncio.wait_for(process.stdout.readline(), timeout=10))

    returncode = await process.stop(grace=0.3)

    assert returncode == -signal.SIGKILL
    await eventually(lambda: not is_alive(grandchild))


async def test_stop_is_idempotent_and_safe_after_the_process_exited(
    started: list[ManagedProcess],
) -> None:
    process = await start(started, LaunchSpec(PY, ["-c", "raise SystemExit(3)"]))
    assert await process.wait() == 3

    assert await process.stop() == 3
    assert await process.stop() == 3
    assert process.returncode == 3


async def test_stop_all_stops_every_server(started: list[ManagedProcess]) -> None:
    processes = [await start(started, LaunchSpec(PY, ["-c", GROUP_SERVER])) for _ in range(2)]
    await stop_all(processes, grace=2)
    assert not any(is_alive(p.pid) for p in processes)


async def test_environment_holds_only_declared_variables_and_path(
    started: list[ManagedProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTROLLER_SECRET", "must-not-leak")
    env_command = shutil.which("env")
    assert env_command is not None
    process = await start(started, LaunchSpec(env_command, env={"GREETING": "hello world"}))

    lines = (await output_of(process)).splitlines()
    seen = dict(line.split("=", 1) for line in lines)
    assert seen == {"GREETING": "hello world", "PATH": os.environ["PATH"]}


async def test_declared_path_wins_over_the_controllers(started: list[ManagedProcess]) -> None:
    env_command = shutil.which("env")
    assert env_command is not None
    process = await start(started, LaunchSpec(env_command, env={"PATH": "/usr/bin:/bin"}))
    assert (await output_of(process)).splitlines() == ["PATH=/usr/bin:/bin"]


def test_launch_spec_repr_hides_environment_values() -> None:
    spec = LaunchSpec("server", env={"API_TOKEN": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(spec)
    assert "API_TOKEN" in repr(spec)


async def test_working_dir_is_applied(started: list[ManagedProcess], tmp_path: Path) -> None:
    process = await start(
        started, LaunchSpec(PY, ["-c", "import os; print(os.getcwd())"], working_dir=tmp_path)
    )
    expected = await asyncio.to_thread(tmp_path.resolve)
    assert (await output_of(process)).strip() == str(expected)


async def test_limits_are_visible_in_the_child(started: list[ManagedProcess]) -> None:
    limits = ProcessLimits(memory_mb=512, cpu_seconds=30, open_files=64)
    process = await start(
        started, LaunchSpec(PY, ["-c", "print(open('/proc/self/limits').read())"], limits=limits)
    )

    table = {
        line[:26].strip(): line[26:].split()[:2]
        for line in (await output_of(process)).splitlines()[1:]
        if line.strip()
    }
    assert table["Max address space"] == [str(512 * 1024 * 1024)] * 2
    assert table["Max open files"] == ["64", "64"]
    assert table["Max cpu time"] == ["30", "32"]


async def test_missing_command_says_it_is_not_installed() -> None:
    with pytest.raises(ServerError, match="command not found: no-such-mcp-server; is it installed"):
        await spawn(LaunchSpec("no-such-mcp-server"))
    with pytest.raises(ServerError, match="command not found: /nonexistent/bin/server"):
        await spawn(LaunchSpec("/nonexistent/bin/server"))


async def test_missing_working_dir_is_a_server_error(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="working directory does not exist"):
        await spawn(LaunchSpec(PY, working_dir=tmp_path / "missing"))


async def test_stderr_lines_reach_the_callback_rate_limited(
    started: list[ManagedProcess],
) -> None:
    received: list[str] = []
    script = "import sys\nfor i in range(100): print(f'line {i}', file=sys.stderr)"
    process = await start(
        started, LaunchSpec(PY, ["-c", script]), on_stderr=received.append, stderr_per_second=10
    )
    await process.wait()
    await process.stop()

    lines = [text for text in received if text.startswith("line ")]
    suppressed = [int(text.split()[0][1:]) for text in received if "suppressed" in text]
    assert lines[:10] == [f"line {i}" for i in range(10)]
    assert len(lines) < 100
    assert len(lines) + sum(suppressed) == 100
    assert process.stderr_tail()[-1] == "line 99"


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([0.0, 0.1, 0.2], [(0, True), (0, True), (0, False)]),
        ([0.0, 0.1, 0.2, 0.3, 1.05], [(0, True), (0, True), (0, False), (0, False), (2, True)]),
        ([0.0, 5.0, 5.1, 5.2], [(0, True), (0, True), (0, True), (0, False)]),
    ],
)
def test_stderr_throttle_passes_n_lines_per_second_and_counts_the_rest(
    times: list[float], expected: list[tuple[int, bool]]
) -> None:
    throttle = StderrThrottle(per_second=2)
    assert [throttle.offer(t) for t in times] == expected


def test_stderr_throttle_reports_pending_lines_when_the_window_ends() -> None:
    throttle = StderrThrottle(per_second=1)
    assert throttle.flush_in(0.0) is None
    throttle.offer(10.0)
    throttle.offer(10.2)
    assert throttle.flush_in(10.5) == pytest.approx(0.5)
    assert throttle.drain() == 1
    assert throttle.flush_in(10.5) is None


@pytest.mark.parametrize(
    ("backoff", "failures", "delay"),
    [
        (RestartDelays(1, 2, 60), 0, 0),
        (RestartDelays(1, 2, 60), 1, 1),
        (RestartDelays(1, 2, 60), 2, 2),
        (RestartDelays(1, 2, 60), 4, 8),
        (RestartDelays(1, 2, 60), 7, 60),
        (RestartDelays(1, 2, 60), 10_000, 60),
        (RestartDelays(0.5, 3, 10), 3, 4.5),
        (RestartDelays(5, 1, 60), 50, 5),
        (RestartDelays(90, 2, 60), 1, 60),
    ],
)
def test_backoff_grows_exponentially_up_to_its_cap(
    backoff: RestartDelays, failures: int, delay: float
) -> None:
    assert backoff.delay(failures) == pytest.approx(delay)


def test_backoff_follows_the_restart_policy_of_the_server() -> None:
    policy = BackoffPolicy(initial_seconds=2, multiplier=3, max_seconds=30)
    assert RestartDelays.from_policy(policy) == RestartDelays(initial=2, multiplier=3, maximum=30)


async def test_everything_server_talks_mcp_over_the_process_pipes(
    started: list[ManagedProcess], everything_cmd: list[str]
) -> None:
    command, *args = everything_cmd
    process = await start(started, LaunchSpec(command, args))
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    process.stdin.write(json.dumps(initialize).encode() + b"\n")
    await process.stdin.drain()

    answer = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=20))
    assert answer["id"] == 1
    assert "serverInfo" in answer["result"]
    assert verify(process.pid, process.start_time)

    await process.stop(grace=5)
    assert not verify(process.pid, process.start_time)
    assert group_members(process.pgid) == []


async def test_verify_tells_the_same_process_from_a_dead_or_different_one(
    started: list[ManagedProcess],
) -> None:
    process = await start(started, LaunchSpec(PY, ["-c", GROUP_SERVER]))
    assert verify(process.pid, process.start_time)
    assert not verify(process.pid, process.start_time + 1)  # the pid reused by a stranger
    assert not verify(process.pid, process.start_time, boot="another-boot")

    await process.stop()
    assert not verify(process.pid, process.start_time)


async def test_kill_group_leaves_a_process_with_another_identity_alone(
    started: list[ManagedProcess],
) -> None:
    process = await start(started, LaunchSpec(PY, ["-c", GROUP_SERVER]))
    assert not await kill_group(process.pid, process.start_time - 1, grace=0.2)
    assert not await kill_group(process.pid, process.start_time, grace=0.2, boot="old-boot")
    assert is_alive(process.pid)


CRASHING_CONTROLLER = """
import asyncio, sys, time
from pathlib import Path
from reconciler.store import Store, acquire_controller_lock
from reconciler.store.records import InventoryRecord
from reconciler.controller.supervisor import LaunchSpec, spawn

async def main(state_dir, server_script, *server_args):
    lock = acquire_controller_lock(Path(state_dir))
    store = Store.open(Path(state_dir))
    process = await spawn(LaunchSpec(sys.executable, ["-c", server_script, *server_args]))
    grandchild = int(await process.stdout.readline())
    store.put_instance(InventoryRecord(
        server="default/demo", phase="Ready", running=True, pid=process.pid,
        pgid=process.pgid, start_time=process.start_time, boot_id=process.boot_id,
        started_at=time.time()))
    print(process.pid, grandchild, flush=True)
    await asyncio.sleep(120)

asyncio.run(main(*sys.argv[1:]))
"""
"""A controller that starts one server, records it, and waits to be killed with SIGKILL."""


@pytest.mark.parametrize("server_ignores_sigterm", [False, True])
async def test_a_restarted_controller_cleans_up_what_a_crashed_one_left(
    tmp_path: Path, server_ignores_sigterm: bool
) -> None:
    args = ["--ignore-sigterm"] if server_ignores_sigterm else []
    controller = await asyncio.create_subprocess_exec(
        PY,
        "-c",
        CRASHING_CONTROLLER,
        str(tmp_path),
        GROUP_SERVER,
        *args,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    leader = grandchild = 0
    try:
        assert controller.stdout is not None
        line = await asyncio.wait_for(controller.stdout.readline(), timeout=20)
        leader, grandchild = map(int, line.split())
        controller.kill()  # kill -9: no chance to stop its servers
        await controller.wait()

        if server_ignores_sigterm:  # survives the parent-death signal
            assert is_alive(leader)
        else:  # the parent-death signal ended the server, not its grandchild
            await eventually(lambda: not is_alive(leader))
        assert is_alive(grandchild)

        with acquire_controller_lock(tmp_path), Store.open(tmp_path) as store:
            [record] = store.instances()
            assert (record.pid, record.boot_id) == (leader, boot_id())
            assert record.start_time is not None
            assert await kill_group(record.pid, record.start_time, grace=0.5, boot=record.boot_id)

        assert not is_alive(leader)
        await eventually(lambda: not is_alive(grandchild))
        assert group_members(leader) == []
    finally:
        if controller.returncode is None:
            controller.kill()
            await controller.wait()
        for pid in (leader, grandchild):
            if pid and is_alive(pid) and start_time_of(pid) is not None:
                os.kill(pid, signal.SIGKILL)
