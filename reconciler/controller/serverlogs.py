"""Each server's stderr, in its own size-capped, rotated files under the state directory.

    <state-dir>/logs/<namespace>/<server>.log      newest
    <state-dir>/logs/<namespace>/<server>.log.1    older ... up to .log.<keep>

Every line is written with the time it was read (`2026-01-02T03:04:05.123456Z text`).
When the current file passes `max_bytes` it is rotated, so a server never takes more than
`max_bytes * (keep + 1)` of disk. Writes are buffered and flushed a moment later (so
`logs --follow` sees them within `FLUSH_SECONDS`); a server that writes more than
`bytes_per_second` has the excess dropped and counted in one line per second, so a flood
costs the controller neither disk nor time. Reading (`read_lines`, `follow_lines`) works
with the controller up or down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final, TextIO

LOGS_DIR: Final = "logs"
MAX_BYTES: Final = 1024 * 1024
"""Size at which a server's current log file is rotated."""
KEEP: Final = 3
"""Rotated files kept per server besides the current one."""
BYTES_PER_SECOND: Final = 256 * 1024
"""Stderr written per server per second; the rest is dropped (and counted)."""
FLUSH_SECONDS: Final = 0.2


def log_path(state_dir: Path, namespace: str, server: str) -> Path:
    """The current log file of a server."""
    return state_dir / LOGS_DIR / namespace / f"{server}.log"


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ServerLog:
    """The log files of one server; `write` each stderr line, `close` at the end."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
        bytes_per_second: int = BYTES_PER_SECOND,
        echo: TextIO | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.bytes_per_second = bytes_per_second
        self.echo = echo
        """Also write each line here, as it is (the bridge: the pod's own stderr)."""
        self._file: IO[str] | None = None
        self._size = 0
        self._window = 0.0
        self._spent = 0
        self._dropped = 0
        self._flush: asyncio.TimerHandle | None = None

    def write(self, line: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if now - self._window >= 1.0:
            if self._dropped:
                self._append(
                    now, f"[{self._dropped} stderr lines dropped: over {self.bytes_per_second} B/s]"
                )
            self._window, self._spent, self._dropped = now, 0, 0
        self._spent += len(line) + 1
        if self._spent > self.bytes_per_second:
            self._dropped += 1
            return
        self._append(now, line)
        if self.echo is not None:
            with contextlib.suppress(OSError, ValueError):
                self.echo.write(line + "\n")
                self.echo.flush()

    def flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.flush()

    def close(self) -> None:
        if self._dropped:
            self._append(time.time(), f"[{self._dropped} stderr lines dropped]")
            self._dropped = 0
        self.flush()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _append(self, now: float, line: str) -> None:
        text = f"{_stamp(now)} {line}\n"
        try:
            file = self._open()
            if self._size + len(text) > self.max_bytes and self._size > 0:
                file = self._rotate()
            file.write(text)
        except OSError:
            return  # a full or read-only disk must not stop the server
        self._size += len(text.encode())
        self._schedule_flush()

    def _open(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8", errors="replace")
            self._size = self._file.tell()
        return self._file

    def _rotate(self) -> IO[str]:
        if self._file is not None:
            self._file.close()
            self._file = None
        for index in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            newer = self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
            if newer.exists():
                os.replace(newer, older)
        if self.keep == 0:
            self.path.unlink(missing_ok=True)
        return self._open()

    def _schedule_flush(self) -> None:
        if self._flush is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush = loop.call_later(FLUSH_SECONDS, self.flush)


@dataclass(frozen=True)
class ServerLogs:
    """Where servers' logs go: one `ServerLog` per server started."""

    state_dir: Path
    max_bytes: int = MAX_BYTES
    keep: int = KEEP
    bytes_per_second: int = BYTES_PER_SECOND
    echo: TextIO | None = None

    def open(self, namespace: str, server: str) -> ServerLog:
        return ServerLog(
            log_path(self.state_dir, namespace, server),
            max_bytes=self.max_bytes,
            keep=self.keep,
            bytes_per_second=self.bytes_per_second,
            echo=self.echo,
        )


# -- reading --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogLine:
    ts: float
    text: str

    def as_json(self, server: str) -> dict[str, object]:
        return {"server": server, "ts": self.ts, "time": _stamp(self.ts), "line": self.text}


def parse_line(raw: str) -> LogLine:
    stamp, _, text = raw.rstrip("\n").partition(" ")
    try:
        ts = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return LogLine(0.0, raw.rstrip("\n"))
    return LogLine(ts, text)


def log_files(path: Path) -> list[Path]:
    """The files of one server's log, oldest first."""
    rotated = sorted(
        (p for p in path.parent.glob(f"{path.name}.*") if p.name.rsplit(".", 1)[-1].isdigit()),
        key=lambda p: -int(p.name.rsplit(".", 1)[-1]),
    )
    return [*rotated, *([path] if path.exists() else [])]


def read_lines(path: Path, *, since: float | None = None, tail: int | None = None) -> list[LogLine]:
    """The lines of a server's log, oldest first, from `since` on, the last `tail` of them."""
    lines: list[LogLine] = []
    for file in log_files(path):
        with contextlib.suppress(OSError), file.open(encoding="utf-8", errors="replace") as f:
            lines.extend(parse_line(raw) for raw in f)
    if since is not None:
        lines = [line for line in lines if line.ts >= since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return lines


def log_position(path: Path) -> tuple[int | None, int]:
    """(inode, size) of the current log file now: where `follow_lines` starts."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None, 0
    return stat.st_ino, stat.st_size


def follow_lines(
    path: Path, *, start: tuple[int | None, int] | None = None, poll: float = 0.2
) -> Iterator[LogLine]:
    """Lines written after `start` (default: now), forever; follows the file across
    rotations."""
    inode, position = start if start is not None else log_position(path)
    pending = ""
    while True:
        try:
            stat = path.stat()
        except FileNotFoundError:
            time.sleep(poll)
            continue
        if stat.st_ino != inode or stat.st_size < position:
            if inode is not None:  # rotated: finish the old file (now .1) first
                yield from _rest_of(path.with_name(f"{path.name}.1"), position, inode)
            inode, position, pending = stat.st_ino, 0, ""
        if stat.st_size > position:
            with path.open(encoding="utf-8", errors="replace") as f:
                f.seek(position)
                chunk = f.read()
                position = f.tell()
            *complete, pending = (pending + chunk).split("\n")
            for raw in complete:
                yield parse_line(raw)
        else:
            time.sleep(poll)


def _rest_of(rotated: Path, position: int, inode: int) -> Iterator[LogLine]:
    try:
        if rotated.stat().st_ino != inode:
            return
        with rotated.open(encoding="utf-8", errors="replace") as f:
            f.seek(position)
            for raw in f.read().splitlines():
                yield parse_line(raw)
    except OSError:
        return
