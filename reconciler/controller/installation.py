"""What a command runs from: the files a sandbox must show it, read-only.

For a resolved command line this finds, by reading the filesystem:

- the command itself, every link of its symlink chain, and the root of what it is part
  of: a virtualenv (the directory holding `pyvenv.cfg`, plus the Python it was made from,
  named by that file's `home`), the outermost `node_modules` around it, or an
  installation prefix (`PREFIX/bin/tool` beside `PREFIX/lib`, such as a pyenv or nvm
  version directory);
- the interpreter its `#!` line names (`/usr/bin/env node` is looked up on `PATH`), the
  same way;
- for an interpreter (`node`, `python3`, ...), its script: the script's directory and every
  `node_modules` directory node would search from there; for any other argument that is a
  file inside a virtualenv or `node_modules`, that root.

Directories too wide to show (`/`, a home directory or one above it) are never returned
for a prefix or a script's directory; the file itself is shown instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

INTERPRETER: Final = re.compile(r"^(node|nodejs|deno|bun|python[0-9.]*|pypy[0-9.]*|ruby|perl)$")
"""Commands whose first non-option argument is the program they run."""
_MAX_DEPTH: Final = 4
"""Levels of `#!` interpreters followed."""
_SHEBANG_BYTES: Final = 256


def resolve_command(command: str, *, path: str | None, cwd: Path | None) -> str | None:
    """The absolute path a command runs from (looked up on `path` when it is a bare name)."""
    if "/" in command:
        candidate = Path(command) if Path(command).is_absolute() else (cwd or Path.cwd()) / command
        return str(Path(os.path.normpath(candidate))) if candidate.is_file() else None
    found = shutil.which(command, path=path)
    return str(Path(found).absolute()) if found else None


def installation_paths(
    argv: Sequence[str], *, path: str | None, cwd: Path | None, homes: Sequence[Path] = ()
) -> tuple[str, ...]:
    """Read-only paths the command line `argv` (argv[0] resolved) needs to run."""
    finder = _Finder(path=path, cwd=cwd or Path.cwd(), homes=homes or default_homes())
    program = Path(argv[0])
    finder.program(program, depth=0)
    finder.arguments(program, argv[1:])
    return tuple(finder.found)


def default_homes() -> tuple[Path, ...]:
    """Home directories whose contents a sandbox never shows wholesale."""
    homes = {Path("/root"), Path("/home")}
    if os.environ.get("HOME"):
        homes.add(Path(os.environ["HOME"]))
    homes.add(Path.home())
    return tuple(sorted(homes))


class _Finder:
    def __init__(self, *, path: str | None, cwd: Path, homes: Sequence[Path]) -> None:
        self.path = path
        self.cwd = cwd
        self.homes = homes
        self.found: dict[str, None] = {}

    def add(self, path: Path) -> None:
        self.found.setdefault(str(path), None)

    def program(self, program: Path, *, depth: int) -> None:
        for link in _symlink_chain(program):
            self.add(self.root_of(link))
        interpreter = _shebang(program)
        if interpreter is not None and depth < _MAX_DEPTH:
            resolved = resolve_command(interpreter, path=self.path, cwd=self.cwd)
            if resolved is not None:
                self.program(Path(resolved), depth=depth + 1)

    def arguments(self, program: Path, args: Sequence[str]) -> None:
        script_expected = INTERPRETER.match(program.resolve().name) is not None
        for arg in args:
            if arg.startswith("-"):
                continue
            candidate = Path(arg) if Path(arg).is_absolute() else self.cwd / arg
            if not candidate.is_file():
                script_expected = False
                continue
            root = self.package_root(candidate)
            if root is not None:
                for link in _symlink_chain(candidate):
                    self.add(self.root_of(link))
            elif script_expected:
                self.script(candidate)
            script_expected = False

    def script(self, script: Path) -> None:
        for link in _symlink_chain(script):
            folder = link.parent
            self.add(link if self.too_wide(folder) else folder)
            for ancestor in [folder, *folder.parents]:
                if self.too_wide(ancestor):
                    break
                modules = ancestor / "node_modules"
                if modules.is_dir():
                    self.add(modules)

    def root_of(self, path: Path) -> Path:
        """The installation `path` belongs to, or `path` itself."""
        root = self.package_root(path)
        if root is not None:
            return root
        prefix = path.parent.parent
        if path.parent.name == "bin" and (prefix / "lib").is_dir() and not self.too_wide(prefix):
            return prefix
        return path

    def package_root(self, path: Path) -> Path | None:
        """The outermost `node_modules`, or the virtualenv (with its base Python), around it."""
        modules = [a for a in path.parents if a.name == "node_modules"]
        if modules:
            return modules[-1]
        for ancestor in path.parents:
            config = ancestor / "pyvenv.cfg"
            if config.is_file():
                self.base_python(config)
                return ancestor
            if self.too_wide(ancestor):
                break
        return None

    def base_python(self, config: Path) -> None:
        """The Python a virtualenv was made from (its `home`), shown with its prefix."""
        for line in config.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                home = Path(value.strip())
                prefix = home.parent if home.name == "bin" else home
                self.add(home if self.too_wide(prefix) else prefix)
                return

    def too_wide(self, folder: Path) -> bool:
        """`/`, a home directory, or a directory above one."""
        return folder == Path("/") or any(
            folder == home or folder in home.parents for home in self.homes
        )


def _symlink_chain(path: Path) -> Iterator[Path]:
    """`path`, each symlink it goes through (absolute), and finally its real path."""
    seen: set[Path] = set()
    current = Path(os.path.normpath(path))
    while current not in seen and len(seen) < 40:
        seen.add(current)
        yield current
        if not current.is_symlink():
            break
        target = Path(os.readlink(current))
        current = Path(os.path.normpath(current.parent / target))
    real = path.resolve()
    if real not in seen:
        yield real


def _shebang(program: Path) -> str | None:
    """The interpreter a script's `#!` line runs, `env`'s argument taken for `env`."""
    try:
        with program.open("rb") as handle:
            head = handle.read(_SHEBANG_BYTES)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
    if not words:
        return None
    if Path(words[0]).name == "env":
        names = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        return names[0] if names else None
    return words[0]
