"""Confining stdio servers on this machine: whether bubblewrap works here, and the wrapped launch.

The edge around the pure `sandbox.wrap`: it checks once (per controller) that bubblewrap
exists and can create its namespaces, reads which system directories exist, finds what the
server runs from (`installation`), checks the declared paths exist, and hands all of it to
`wrap`. A server whose sandbox cannot be set up is never started without it: `check` raises
`SandboxUnavailable` (fatal, so the server is Stalled at once), with how to fix it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from ..core.errors import SandboxUnavailable, ServerError
from ..core.models.server import Sandbox
from .installation import installation_paths, resolve_command
from .sandbox import MASKED_PATHS, NAMESPACES, SYSTEM_PATHS, HostLayout, Masked, SystemPath, wrap
from .supervisor import LaunchSpec

DEFAULT_BWRAP: Final = "bwrap"
"""The bubblewrap executable looked up on PATH unless the controller is told another."""
INSTALL_HINT: Final = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install"
    " bubblewrap; Arch: pacman -S bubblewrap; Alpine: apk add bubblewrap)"
)
USERNS_HINT: Final = (
    "allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1; on"
    " Ubuntu 23.10 and later an AppArmor profile for bwrap, or"
    " sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or install bwrap setuid root"
)
_PROBE_TIMEOUT: Final = 30.0


def sandbox_problem(bwrap: str = DEFAULT_BWRAP) -> str | None:
    """Why no server can be sandboxed on this machine, with how to fix it; None when one can.

    Runs bubblewrap once with the namespaces a sandbox uses.
    """
    if not sys.platform.startswith("linux"):
        return (
            f"the sandbox needs Linux with bubblewrap; this is {sys.platform}: run the server"
            " in Kubernetes, or remove spec.sandbox to run it unconfined"
        )
    found = shutil.which(bwrap)
    if found is None:
        return f"bubblewrap is not installed (no executable {bwrap!r}): {INSTALL_HINT}"
    probe = [
        found,
        "--die-with-parent",
        *NAMESPACES,
        "--unshare-net",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--",
        "true",
    ]
    try:
        result = subprocess.run(probe, capture_output=True, timeout=_PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"bubblewrap ({found}) does not run: {error}; {INSTALL_HINT}"
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        return f"bubblewrap ({found}) cannot create its namespaces here ({detail}): {USERNS_HINT}"
    return None


def system_layout(root: Path = Path("/")) -> tuple[SystemPath, ...]:
    """The system directories present here; symlinks kept as symlinks (merged /usr).

    A `/etc/resolv.conf` that links outside them (systemd-resolved) brings its target.
    """
    found: list[SystemPath] = []
    for name in SYSTEM_PATHS:
        path = root / name.lstrip("/")
        if path.is_symlink():
            found.append(SystemPath(name, os.readlink(path)))
        elif path.is_dir():
            found.append(SystemPath(name))
    resolv = root / "etc" / "resolv.conf"
    if resolv.is_symlink() and resolv.exists():
        target = "/" + str(resolv.resolve().relative_to(root.resolve()))
        if not any(target.startswith(name + "/") for name in SYSTEM_PATHS):
            found.append(SystemPath(target))
    return tuple(found)


def masked_paths(root: Path = Path("/")) -> tuple[Masked, ...]:
    """The paths of MASKED_PATHS that exist here (symlinks are left alone)."""
    found = []
    for name in MASKED_PATHS:
        path = root / name.lstrip("/")
        if path.is_symlink() or not path.exists():
            continue
        found.append(Masked(name, directory=path.is_dir()))
    return tuple(found)


class Confinement:
    """Wraps launches of sandboxed servers; one per controller (the check runs once)."""

    def __init__(self, *, bwrap: str = DEFAULT_BWRAP, hidden: Sequence[Path] = ()) -> None:
        self.bwrap = bwrap
        self.hidden = tuple(str(p.resolve()) for p in hidden)
        """Paths no server sees, even inside a granted path: the controller's state."""
        self._problem: str | None = None
        self._usable = False
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        """Raise SandboxUnavailable when no server can be sandboxed here.

        A success is remembered; a failure is checked again next time (bubblewrap may have
        been installed since).
        """
        async with self._lock:
            if not self._usable:
                self._problem = await asyncio.to_thread(sandbox_problem, self.bwrap)
                self._usable = self._problem is None
        if self._problem is not None:
            raise SandboxUnavailable(f"not started: {self._problem}")

    async def confine(self, launch: LaunchSpec, sandbox: Sandbox) -> LaunchSpec:
        """The launch of the same server inside its sandbox; raises when it cannot be made."""
        await self.check()
        return await asyncio.to_thread(self._confine, launch, sandbox)

    def _confine(self, launch: LaunchSpec, sandbox: Sandbox) -> LaunchSpec:
        env = launch.environment()
        cwd = launch.working_dir
        command = resolve_command(launch.command, path=env.get("PATH"), cwd=cwd)
        if command is None:
            raise ServerError(f"command not found: {launch.command}; is it installed?")
        declared = [*sandbox.filesystem.read_only, *sandbox.filesystem.read_write]
        missing = [path for path in declared if not os.path.exists(path)]
        if missing:
            raise ServerError(
                f"sandbox path does not exist: {missing[0]}; create it or fix"
                " spec.sandbox.filesystem"
            )
        argv = [command, *launch.args]
        layout = HostLayout(
            bwrap=shutil.which(self.bwrap) or self.bwrap,
            system=system_layout(),
            installation=installation_paths(argv, path=env.get("PATH"), cwd=cwd),
            hidden=self.hidden,
            masked=masked_paths(),
        )
        wrapped = wrap(
            argv, env=launch.env, cwd=str(cwd) if cwd else None, sandbox=sandbox, layout=layout
        )
        return LaunchSpec(wrapped.argv[0], wrapped.argv[1:], wrapped.env, cwd, launch.limits)
