"""Facts about operating-system processes: identity, liveness, process groups, cleanup.

A process is identified by its pid AND its start time (field 22 of `/proc/<pid>/stat`,
clock ticks since boot): a pid alone can be reused by an unrelated process once the
original is gone, the pair cannot (within one boot; `boot_id()` tells boots apart). The
controller records both for every server it starts, so after a crash it can find the
process group it left behind and kill it without ever signalling a stranger.

Every server runs as the leader of its own session and process group (pgid == sid == pid),
so its descendants (node under npx) share that group unless they deliberately leave it.
While any member of the group exists, Linux keeps the number reserved: no new process can
get that pid. So when a member is found in the group of a recorded leader that is gone, it
was started by that leader or its descendants (members are also checked to belong to the
same session and to be no older than the leader). The residual risk, a group that vanished
entirely and a new session leader given the same pid whose own leader also died before the
controller restarted, is accepted.

Linux only (it reads `/proc`); elsewhere identities cannot be verified, `start_time_of`
returns None and cleanup kills nothing rather than guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROC: Final = Path("/proc")
HAVE_PROC: Final = (PROC / "self" / "stat").exists()
"""Whether process identities can be read (Linux)."""
PR_SET_PDEATHSIG: Final = 1
_POLL_SECONDS: Final = 0.03
_REAP_SECONDS: Final = 5.0
"""How long to wait for SIGKILLed processes to disappear before giving up."""


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of `/proc/<pid>/stat` the controller needs."""

    pid: int
    state: str
    """One letter: `R` running, `S` sleeping, `Z` zombie (exited, not yet reaped), ..."""
    ppid: int
    pgid: int
    sid: int
    start_time: int
    """Clock ticks since boot at which the process started."""

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """The stat of a process, or None when there is no such process (or no /proc)."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces and ')'.
    fields = raw.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        start_time=int(fields[19]),
    )


def start_time_of(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot), or None when it does not exist."""
    stat = read_stat(pid)
    return stat.start_time if stat is not None else None


def boot_id() -> str:
    """Identifier of the running boot of the machine ("" when unknown).

    Start times count from boot, so a recorded identity from another boot names no
    living process whatever its numbers.
    """
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def verify(pid: int, start_time: int, *, boot: str | None = None) -> bool:
    """Whether the process recorded as (pid, start_time) is still alive (not a zombie).

    False for a dead pid, for a pid now used by another process (different start time),
    and for an identity recorded in another boot (when `boot` is given).
    """
    if boot is not None and boot != boot_id():
        return False
    stat = read_stat(pid)
    return stat is not None and stat.start_time == start_time and not stat.zombie


def is_alive(pid: int) -> bool:
    """Whether a process with this pid exists and has not exited (zombies count as dead)."""
    stat = read_stat(pid)
    return stat is not None and not stat.zombie


def group_members(pgid: int, *, session: int | None = None, since: int = 0) -> list[int]:
    """Pids of the live (non-zombie) processes of a process group.

    `session` keeps only members of that session; `since` only processes started at or
    after that start time.
    """
    members = []
    try:
        entries = os.listdir(PROC)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        stat = read_stat(int(entry))
        if stat is None or stat.pgid != pgid or stat.zombie:
            continue
        if session is not None and stat.sid != session:
            continue
        if stat.start_time < since:
            continue
        members.append(stat.pid)
    return members


def signal_group(pgid: int, start_time: int, sig: signal.Signals) -> list[int]:
    """Send `sig` to what is left of the group whose leader was (pgid, start_time).

    While the leader exists (even as a zombie) with the recorded start time, the whole
    group is signalled atomically with killpg. When the leader is gone, its surviving
    members are signalled one by one. When the pid now belongs to another process, the
    recorded group is gone and nothing is signalled. Returns the pids found alive.
    """
    leader = read_stat(pgid)
    if leader is not None and leader.start_time != start_time:
        return []
    members = group_members(pgid, session=pgid, since=start_time)
    if leader is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        return members
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return members


async def wait_group_gone(pgid: int, start_time: int, *, within: float) -> bool:
    """Poll until no live process of the group is left; False if some remain after `within` s."""
    deadline = time.monotonic() + within
    while True:
        if not _group_left(pgid, start_time):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)


def _group_left(pgid: int, start_time: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False  # no process at all in a group with this id: cheap and certain
    except PermissionError:
        pass
    leader = read_stat(pgid)
    if leader is not None and leader.start_time != start_time:
        return False
    return bool(group_members(pgid, session=pgid, since=start_time))


async def terminate_group(pgid: int, start_time: int, *, grace: float) -> bool:
    """SIGTERM the group, wait up to `grace` seconds, SIGKILL what is left, wait for it.

    Returns whether any live process of the group was found.
    """
    found = signal_group(pgid, start_time, signal.SIGTERM)
    if not found:
        return False
    # A stopped (SIGSTOP, hung in a debugger) process acts on SIGTERM only once continued.
    signal_group(pgid, start_time, signal.SIGCONT)
    if await wait_group_gone(pgid, start_time, within=grace):
        return True
    signal_group(pgid, start_time, signal.SIGKILL)
    await wait_group_gone(pgid, start_time, within=_REAP_SECONDS)
    return True


async def kill_group(
    pid: int, start_time: int, *, grace: float = 5.0, boot: str | None = None
) -> bool:
    """Clean up a server recorded before a crash: stop its process group if it is ours.

    `pid` is the recorded leader (its pid is the group id), `start_time` its recorded
    start time, `boot` the recorded `boot_id()` (after a reboot there is nothing to kill).
    A pid now used by another process is left alone. Returns whether anything was found
    (and stopped).
    """
    if not HAVE_PROC or (boot is not None and boot != boot_id()):
        return False
    return await terminate_group(pid, start_time, grace=grace)


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
        return prctl
    except (OSError, AttributeError):
        return None


_PRCTL: Final = _load_prctl()


def set_parent_death_signal(sig: signal.Signals, *, parent: int) -> None:
    """In a freshly forked child: receive `sig` when the forking thread of `parent` dies.

    Linux only (a no-op elsewhere). Closes the race where the parent died before the call
    by signalling ourselves when we were already re-parented. Must stay async-signal-safe
    enough for a preexec function: no imports, no allocation-heavy work.
    """
    if _PRCTL is None:
        return
    _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)
