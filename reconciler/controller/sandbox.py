"""The sandbox of a stdio server: a resolved launch plus `spec.sandbox` in, a bubblewrap one out.

`wrap()` is a pure function. It is given everything it needs about the machine in a
`HostLayout` (which system directories exist and which are symlinks, what the server runs
from, what to hide), found by `reconciler.controller.confinement`, and returns the argv and
environment that run the same command under bubblewrap:

- a fresh, empty root: system directories read-only (`/usr`, `/etc`, the `/bin`-style
  symlinks of a merged-usr system), a minimal `/dev`, a `/proc` of its own;
- a private `/tmp` (tmpfs), also its `HOME` unless the server declares one;
- the server's installation read-only: the resolved command and what it runs from
  (interpreter, virtualenv, `node_modules`);
- the declared `readOnly` paths read-only, the `readWrite` paths and the working
  directory writable; a deeper path wins over its parent, so an installation inside a
  writable working directory stays read-only;
- the hidden paths (the controller's state directory: secrets, database) replaced by an
  empty tmpfs where a granted path would expose them;
- inside `/etc`, the secrets a root-run server could otherwise read (`shadow`, `sudoers`,
  SSH host keys, `ssl/private`) masked by empty read-only files or directories;
- its own pid, IPC and UTS namespaces, no capabilities, killed when bubblewrap dies;
  `network: none` adds its own network namespace, which has only loopback.

No `--new-session`: the controller already starts every server in a new session without a
controlling terminal (so TIOCSTI has no terminal to inject into), and the sandboxed
processes must stay in that session's process group, which is what the controller signals
and what crash cleanup finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from ..core.models.server import Sandbox

SYSTEM_PATHS: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Directories of the operating system a sandboxed server sees, read-only, where they exist."""
MASKED_PATHS: Final = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssl/private",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssh/ssh_host_dsa_key",
)
"""System files with secrets that file permissions alone keep only from non-root servers."""
PRIVATE_TMP: Final = "/tmp"
"""Writable, empty, private to the server; its working directory when it declares none."""
NAMESPACES: Final = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
"""Namespaces every sandboxed server gets of its own (the network one only with `none`)."""


@dataclass(frozen=True, slots=True)
class SystemPath:
    """A system directory present on this machine: bound read-only, or recreated as a symlink."""

    path: str
    symlink: str | None = None
    """The symlink's target when the path is one (`/bin -> usr/bin`)."""


@dataclass(frozen=True, slots=True)
class Masked:
    """A system path shown empty: a directory as an empty read-only one, a file as /dev/null."""

    path: str
    directory: bool = False


@dataclass(frozen=True, slots=True)
class HostLayout:
    """What the machine contributes to a sandbox (found by `confinement.layout_for`)."""

    bwrap: str
    """The bubblewrap executable."""
    system: tuple[SystemPath, ...]
    """System directories (and files such as a symlinked resolv.conf's target) to show."""
    installation: tuple[str, ...] = ()
    """Read-only absolute paths the server runs from: its command, interpreter, packages."""
    hidden: tuple[str, ...] = ()
    """Absolute paths replaced by an empty tmpfs wherever a granted path contains them."""
    masked: tuple[Masked, ...] = ()
    """System paths (of MASKED_PATHS, where they exist) shown empty."""


@dataclass(frozen=True, slots=True)
class Wrapped:
    """The launch that runs the server inside its sandbox."""

    argv: tuple[str, ...]
    """bubblewrap, its options, `--`, then the server's own argv."""
    env: Mapping[str, str]
    """The server's environment (bubblewrap passes it on): no secret ever goes on argv."""


@dataclass(frozen=True, slots=True)
class Bind:
    """One path shown inside the sandbox at the same place."""

    path: str
    writable: bool


def wrap(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    sandbox: Sandbox,
    layout: HostLayout,
) -> Wrapped:
    """The bubblewrap launch of `argv` (resolved: argv[0] absolute) confined by `sandbox`.

    `cwd` is the server's working directory on the host (writable inside), or None for
    the private `/tmp`.
    """
    if not argv or not argv[0].startswith("/"):
        raise ValueError(f"the sandboxed command must be resolved to an absolute path: {argv!r}")
    args = [layout.bwrap, "--die-with-parent", *NAMESPACES, "--cap-drop", "ALL"]
    if sandbox.network == "none":
        args.append("--unshare-net")
    for system in layout.system:
        if system.symlink is not None:
            args += ["--symlink", system.symlink, system.path]
        else:
            args += ["--ro-bind", system.path, system.path]
    for mask in layout.masked:
        if mask.directory:
            args += ["--tmpfs", mask.path, "--remount-ro", mask.path]
        else:
            args += ["--ro-bind", "/dev/null", mask.path]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", PRIVATE_TMP]
    chosen = binds(
        installation=layout.installation,
        read_only=sandbox.filesystem.read_only,
        read_write=[*sandbox.filesystem.read_write, *([cwd] if cwd else [])],
        covered=[s.path for s in layout.system],
    )
    for bind in chosen:
        args += ["--bind" if bind.writable else "--ro-bind", bind.path, bind.path]
    for path in hidden_inside(layout.hidden, [b.path for b in chosen]):
        args += ["--tmpfs", path]
    args += ["--chdir", cwd or PRIVATE_TMP, "--", *argv]
    environment = dict(env)
    environment.setdefault("HOME", PRIVATE_TMP)
    return Wrapped(tuple(args), environment)


def binds(
    *,
    installation: Iterable[str],
    read_only: Iterable[str],
    read_write: Iterable[str],
    covered: Iterable[str] = (),
) -> list[Bind]:
    """The binds in mount order: parents before children, so the deeper grant wins.

    A path granted both ways is writable (it was declared writable, or is the working
    directory). Read-only paths already inside a system path (shown read-only, or a symlink
    into one) are left out; writable ones never are.
    """
    system = [PurePosixPath(p) for p in covered]
    wanted: dict[str, bool] = {}
    for path in installation:
        wanted.setdefault(_normal(path), False)
    for path in read_only:
        wanted.setdefault(_normal(path), False)
    for path in read_write:
        wanted[_normal(path)] = True
    result = [
        Bind(path, writable)
        for path, writable in wanted.items()
        if writable or not _inside_any(PurePosixPath(path), system)
    ]
    return sorted(result, key=lambda b: (len(PurePosixPath(b.path).parts), b.path))


def hidden_inside(hidden: Iterable[str], granted: Sequence[str]) -> list[str]:
    """The hidden paths a granted path would show (equal to it or below it)."""
    roots = [PurePosixPath(p) for p in granted]
    return [
        _normal(path)
        for path in hidden
        if _inside_any(PurePosixPath(_normal(path)), roots) or _normal(path) in granted
    ]


def _inside_any(path: PurePosixPath, roots: Sequence[PurePosixPath]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _normal(path: str) -> str:
    return str(PurePosixPath(path))
