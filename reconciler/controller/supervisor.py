"""Starting and stopping local (stdio) MCP server processes.

`spawn(spec)` starts a server as the leader of its own session and process group, with
exactly the environment it declares, its OS limits, and (on Linux) a parent-death signal,
and returns a `ManagedProcess`: the pipes an MCP client speaks over, its identity for the
state store, and `stop()`, which ends the whole group (SIGTERM, grace period, SIGKILL).
Its stderr is read line by line and handed to a callback, rate limited.

Environment: a server sees the variables of its `env` and the controller's `PATH`, nothing
else (its own `PATH` entry wins). `HOME` is not passed on: Node (`os.homedir()`) and Python
(`expanduser`) fall back to the password database, and a server that needs the
controller's `HOME` declares `{name: HOME, valueFrom: {env: HOME}}`, so what leaks from the
controller to a server is always written down.

Limits: `memory_mb` caps the address space (RLIMIT_AS), not resident memory. Runtimes that
reserve address space up front need far more than they use: Node refuses to start below
about 1 GiB.

`RestartDelays` computes the delay before a restart; the controller owns when to restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import signal
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..core.errors import ServerError
from ..core.models.server import Backoff as BackoffPolicy
from ..core.models.server import ProcessLimits
from .processes import HAVE_PROC, boot_id, read_stat, set_parent_death_signal, terminate_group

log = logging.getLogger(__name__)

INHERITED_ENV: Final = ("PATH",)
"""Variables a server gets from the controller's environment unless it declares them."""
STDOUT_LINE_LIMIT: Final = 32 * 1024 * 1024
"""Longest line (one JSON-RPC message) read from a server's stdout."""
STDERR_LINE_MAX: Final = 4096
"""Longer stderr lines are cut to this many bytes."""
STDERR_TAIL: Final = 50
"""Last stderr lines kept for error messages."""

StderrSink = Callable[[str], None]
"""Receives each stderr line of a server (and "N lines suppressed" summaries)."""


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one stdio server: resolved values, secrets included (never persisted)."""

    command: str
    """Executable: a name looked up on `PATH`, or a path (relative to `working_dir`)."""
    args: Sequence[str] = ()
    """Arguments."""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The whole environment of the server besides `INHERITED_ENV`."""
    working_dir: Path | None = None
    """Directory the server runs in (default: the controller's)."""
    limits: ProcessLimits | None = None
    """Address space, CPU time and open-file limits."""

    def __repr__(self) -> str:  # never print env values: they may be secrets
        return (
            f"LaunchSpec(command={self.command!r}, args={list(self.args)!r}, "
            f"env=<{', '.join(sorted(self.env))}>, working_dir={self.working_dir!r})"
        )

    def environment(self, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
        """The exact environment of the process."""
        source = os.environ if inherited is None else inherited
        env = {name: source[name] for name in INHERITED_ENV if name in source}
        env.update(self.env)
        return env


@dataclass(frozen=True, slots=True)
class RestartDelays:
    """Capped exponential delay between restarts: initial * multiplier^(failures - 1)."""

    initial: float = 1.0
    """Seconds before the first restart."""
    multiplier: float = 2.0
    """Growth per further consecutive failure."""
    maximum: float = 60.0
    """Upper bound in seconds."""

    @classmethod
    def from_policy(cls, policy: BackoffPolicy) -> RestartDelays:
        return cls(policy.initial_seconds, policy.multiplier, policy.max_seconds)

    def delay(self, failures: int) -> float:
        """Seconds to wait before starting again after `failures` consecutive failures."""
        if failures <= 0:
            return 0.0
        delay = self.initial
        for _ in range(failures - 1):
            if delay >= self.maximum or self.multiplier == 1:
                break
            delay *= self.multiplier
        return min(delay, self.maximum)


class StderrThrottle:
    """At most `per_second` lines in each one-second window; counts the rest."""

    def __init__(self, *, per_second: int) -> None:
        self.per_second = per_second
        self._window: float | None = None
        self._passed = 0
        self._suppressed = 0

    def offer(self, now: float) -> tuple[int, bool]:
        """A line arrives at `now`: (suppressed lines to report first, whether it passes)."""
        report = 0
        if self._window is None or now - self._window >= 1.0:
            report, self._suppressed = self._suppressed, 0
            self._window, self._passed = now, 0
        if self._passed < self.per_second:
            self._passed += 1
            return report, True
        self._suppressed += 1
        return report, False

    def flush_in(self, now: float) -> float | None:
        """Seconds until suppressed lines are due for a report; None when there are none."""
        if not self._suppressed or self._window is None:
            return None
        return max(0.0, self._window + 1.0 - now)

    def drain(self) -> int:
        """Suppressed lines not reported yet (reset to zero)."""
        count, self._suppressed = self._suppressed, 0
        return count


class ManagedProcess:
    """A running server process: its pipes, its identity, and how to stop it."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        spec: LaunchSpec,
        start_time: int,
        stderr_sink: StderrSink | None,
        stderr_per_second: int,
        stderr_log: StderrSink | None = None,
    ) -> None:
        self._process = process
        self.spec = spec
        self.pid: int = process.pid
        self.pgid: int = process.pid
        """The server leads its own process group."""
        self.start_time = start_time
        """Clock ticks since boot: with `pid`, the identity recorded in the state store."""
        self.boot_id = boot_id()
        """Boot the identity belongs to (record it next to pid and start time)."""
        self._tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self._stop_lock = asyncio.Lock()
        self._stopped = False
        assert process.stderr is not None
        self._stderr_task = asyncio.create_task(
            _pump_stderr(
                process.stderr,
                _guarded(stderr_sink, pid=self.pid),
                self._tail,
                StderrThrottle(per_second=stderr_per_second),
                log=_guarded(stderr_log, pid=self.pid) if stderr_log else None,
            ),
            name=f"stderr of pid {self.pid}",
        )

    def __repr__(self) -> str:
        return f"ManagedProcess(pid={self.pid}, command={self.spec.command!r})"

    @property
    def stdin(self) -> asyncio.StreamWriter:
        """Write end of the server's stdin (JSON-RPC messages, one per line)."""
        assert self._process.stdin is not None
        return self._process.stdin

    @property
    def stdout(self) -> asyncio.StreamReader:
        """Read end of the server's stdout."""
        assert self._process.stdout is not None
        return self._process.stdout

    @property
    def returncode(self) -> int | None:
        """Exit status of the leader (negative: killed by that signal); None while running."""
        return self._process.returncode

    def stderr_tail(self) -> list[str]:
        """The last stderr lines, rate limit or not: for error messages on a failed start."""
        return list(self._tail)

    async def wait(self) -> int:
        """Wait until the leader exits; its exit status."""
        return await self._process.wait()

    async def stop(self, *, grace: float = 5.0) -> int | None:
        """Stop the whole process group: SIGTERM, up to `grace` seconds, SIGKILL; reap.

        Idempotent and safe when the process already exited. Returns the exit status.
        """
        async with self._stop_lock:
            if self._stopped:
                return self.returncode
            if HAVE_PROC:
                await terminate_group(self.pgid, self.start_time, grace=grace)
            else:
                await self._stop_without_proc(grace)
            with contextlib.suppress(OSError, RuntimeError):
                self.stdin.close()
            try:
                await asyncio.wait_for(self._process.wait(), timeout=grace + 5)
            except TimeoutError:
                log.warning("pid %s did not exit after SIGKILL", self.pid)
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), timeout=1.0)
            except TimeoutError:  # a daemonized descendant still holds stderr open
                self._stderr_task.cancel()
            self._stopped = True
            return self.returncode

    async def _stop_without_proc(self, grace: float) -> None:
        if self.returncode is not None:  # reaped: the pid may be reused, signal nothing
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGKILL)


async def spawn(
    spec: LaunchSpec,
    *,
    on_stderr: StderrSink | None = None,
    stderr_per_second: int = 20,
    stderr_log: StderrSink | None = None,
) -> ManagedProcess:
    """Start a server in its own session and process group; raises ServerError if it cannot.

    `on_stderr` gets stderr lines rate limited (for events); `stderr_log` gets every line
    (the server's log files, which cap themselves).

    The parent-death signal is tied to the thread that forks: spawn from the event loop's
    thread, which lives as long as the controller.
    """
    env = spec.environment()
    cwd = spec.working_dir
    if cwd is not None and not cwd.is_dir():
        raise ServerError(f"working directory does not exist: {cwd}; create it or fix workingDir")
    if os.sep not in spec.command and shutil.which(spec.command, path=env.get("PATH")) is None:
        raise ServerError(f"command not found: {spec.command}; is it installed?")
    limits = _rlimits(spec.limits)
    parent = os.getpid()

    def in_child() -> None:
        for kind, values in limits:
            resource.setrlimit(kind, values)
        set_parent_death_signal(signal.SIGTERM, parent=parent)

    try:
        process = await asyncio.create_subprocess_exec(
            spec.command,
            *spec.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=in_child,
            limit=STDOUT_LINE_LIMIT,
        )
    except FileNotFoundError:
        raise ServerError(f"command not found: {spec.command}; is it installed?") from None
    except PermissionError:
        raise ServerError(
            f"command not executable: {spec.command}; check its permissions"
        ) from None
    except OSError as error:
        raise ServerError(f"could not start {spec.command}: {error.strerror or error}") from None
    except subprocess.SubprocessError as error:  # a failing preexec function
        raise ServerError(f"could not start {spec.command}: {error}") from None
    stat = read_stat(process.pid)
    return ManagedProcess(
        process,
        spec=spec,
        start_time=stat.start_time if stat is not None else 0,
        stderr_sink=on_stderr,
        stderr_per_second=stderr_per_second,
        stderr_log=stderr_log,
    )


async def stop_all(processes: Iterable[ManagedProcess], *, grace: float = 5.0) -> None:
    """Stop several servers at once (on SIGTERM of the controller)."""
    await asyncio.gather(*(process.stop(grace=grace) for process in processes))


def _rlimits(limits: ProcessLimits | None) -> list[tuple[int, tuple[int, int]]]:
    """(resource, (soft, hard)) to set in the child, clamped to the controller's hard limits."""
    if limits is None:
        return []
    wanted = []
    if limits.memory_mb is not None:
        size = limits.memory_mb * 1024 * 1024
        wanted.append((resource.RLIMIT_AS, size, size))
    if limits.cpu_seconds is not None:  # SIGXCPU at the soft limit, SIGKILL at the hard one
        wanted.append((resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 2))
    if limits.open_files is not None:
        wanted.append((resource.RLIMIT_NOFILE, limits.open_files, limits.open_files))
    result = []
    for kind, soft, hard in wanted:
        ceiling = resource.getrlimit(kind)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        result.append((kind, (soft, hard)))
    return result


def _guarded(sink: StderrSink | None, *, pid: int) -> StderrSink:
    def deliver(line: str) -> None:
        if sink is None:
            return
        try:
            sink(line)
        except Exception:
            log.exception("stderr callback of pid %s failed", pid)

    return deliver


async def _pump_stderr(
    reader: asyncio.StreamReader,
    sink: StderrSink,
    tail: deque[str],
    throttle: StderrThrottle,
    *,
    log: StderrSink | None = None,
) -> None:
    """Read stderr to its end, line by line: all into `tail` and `log`, rate limited into
    `sink`."""
    loop = asyncio.get_running_loop()

    def report(count: int) -> None:
        if count:
            sink(f"[{count} stderr lines suppressed: over {throttle.per_second} per second]")

    def line(raw: bytes) -> None:
        text = raw.decode(errors="replace").rstrip("\r")
        tail.append(text)
        if log is not None:
            log(text)
        suppressed, passed = throttle.offer(loop.time())
        report(suppressed)
        if passed:
            sink(text)

    pending = b""
    while True:
        try:
            async with asyncio.timeout(throttle.flush_in(loop.time())):
                chunk = await reader.read(65536)
        except TimeoutError:
            report(throttle.drain())
            continue
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > STDERR_LINE_MAX:
            lines.append(pending[:STDERR_LINE_MAX])
            pending = b""
        for raw in lines:
            line(raw[:STDERR_LINE_MAX])
    if pending:
        line(pending)
    report(throttle.drain())
