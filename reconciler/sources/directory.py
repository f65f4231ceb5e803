"""A directory of YAML files, watched for changes (`mcp-reconciler run PATH`).

Changes are debounced: after a change the directory is re-read only once nothing has moved
for `debounce_ms`, so an editor's save-via-rename, a delete followed by a re-create, or a file
written in several chunks ends in one snapshot of the final content. The revision is a hash
of the content, so a touch or a rewrite with identical bytes yields nothing.

Which events count: everything under the root except inside version-control and cache
directories, and except existing non-YAML files (logs written next to the YAML do not keep
the directory from settling). Which files are read: `*.yaml`/`*.yml`, skipping hidden files
and directories. Symlinked files are followed (a Kubernetes ConfigMap mount works: its
`..data` swap is seen as a change).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
import watchfiles

from ..core.errors import SourceError
from ..loading.files import content_revision, is_config_file
from . import SourceSnapshot, decode

log = structlog.get_logger(__name__)

IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules"})
SETTLE_LIMIT = 10
"""A change is read at the latest after this many debounce periods, even if writes go on."""
_STEP_MS = 50
_STOP_TIMEOUT = 2.0


class DirectorySource:
    """Watches a directory tree and yields a snapshot of its YAML files per real change.

    One consumer iterates `snapshots()` at a time.
    """

    def __init__(self, root: str | Path, *, debounce_ms: int = 300) -> None:
        self.root = Path(root).resolve()
        self.debounce_ms = debounce_ms
        self.last_error: SourceError | None = None
        self.reads = 0
        """How many times the directory was read (for metrics: reads that found no change
        did not yield a snapshot)."""
        self._changed = asyncio.Event()
        self._forced = False

    def describe(self) -> str:
        return f"directory {self.root}"

    def trigger(self) -> None:
        """Re-read now, without waiting for the directory to settle."""
        self._forced = True
        self._changed.set()

    async def snapshots(self) -> AsyncIterator[SourceSnapshot]:
        identity = self._identity()
        watcher = await _Watcher.start(self.root, self._changed, debounce_ms=self.debounce_ms)
        try:
            current = await self._read(identity, watcher)
            yield current
            pending_since: float | None = None
            while True:
                await self._changed.wait()
                if (failure := watcher.failure()) is not None:
                    raise self._fail(failure)
                if pending_since is None:
                    pending_since = time.monotonic()
                if not self._forced:
                    await self._settle(pending_since)
                forced, self._forced = self._forced, False
                if forced:
                    self._changed.clear()
                try:
                    snapshot = await self._read(identity, watcher)
                except _Replaced as replaced:
                    log.info("source directory replaced; watching the new one", root=self.root)
                    identity = replaced.identity
                    await watcher.aclose()
                    watcher = await _Watcher.start(
                        self.root, self._changed, debounce_ms=self.debounce_ms
                    )
                    self._changed.set()
                    continue
                if self._changed.is_set() and not forced and not self._overdue(pending_since):
                    continue  # written again while being read: settle and read once more
                pending_since = None
                if snapshot.revision != current.revision:
                    current = snapshot
                    yield current
        finally:
            await watcher.aclose()

    async def _settle(self, pending_since: float) -> None:
        """Return once no change has been seen for the debounce period (or it is overdue)."""
        while True:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=self.debounce_ms / 1000)
            except TimeoutError:
                return
            if self._forced or self._overdue(pending_since):
                return

    def _overdue(self, pending_since: float) -> bool:
        return time.monotonic() - pending_since > self.debounce_ms / 1000 * SETTLE_LIMIT

    def _identity(self) -> tuple[int, int]:
        try:
            stat = self.root.stat()
        except OSError as exc:
            raise self._fail(
                f"cannot read directory {self.root}: {exc.strerror}; "
                "create it or pass the directory holding your YAML"
            ) from exc
        if not self.root.is_dir():
            raise self._fail(
                f"{self.root} is not a directory: pass the directory holding your YAML"
            )
        return stat.st_dev, stat.st_ino

    async def _read(self, identity: tuple[int, int], watcher: _Watcher) -> SourceSnapshot:
        files = await asyncio.to_thread(read_tree, self.root)
        try:
            now = self._identity()
        except SourceError as exc:
            raise self._fail(
                f"directory {self.root} was removed; the last applied state keeps running. "
                "Recreate the directory and restart `mcp-reconciler run`"
            ) from exc
        if now != identity or watcher.root_deleted:
            raise _Replaced(now)
        self.reads += 1
        self.last_error = None
        return SourceSnapshot(
            revision=content_revision(files),
            files=tuple((name, decode(data)) for name, data in files),
            root=self.root,
            source=self.describe(),
        )

    def _fail(self, message: str) -> SourceError:
        self.last_error = SourceError(message)
        return self.last_error


def read_tree(root: Path) -> list[tuple[str, bytes]]:
    """(relative POSIX path, bytes) of every YAML file under root, sorted by path.

    Files that vanish while being read are left out: the event of their removal or
    replacement causes another read.
    """
    found: list[tuple[str, bytes]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        for name in filenames:
            relative = (base / name).relative_to(root).as_posix()
            if not is_config_file(relative):
                continue
            try:
                found.append((relative, (base / name).read_bytes()))
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
    found.sort()
    return found


class _Replaced(Exception):
    """The root path now names a different directory (removed and created again)."""

    def __init__(self, identity: tuple[int, int]) -> None:
        super().__init__("replaced")
        self.identity = identity


class _Watcher:
    """Runs `watchfiles.awatch` over root in a task and sets `changed` on relevant events."""

    def __init__(self, root: Path, changed: asyncio.Event, *, debounce_ms: int) -> None:
        self.root = root
        self.root_deleted = False
        """The watched directory itself was removed: the watch on it is dead even if a
        directory of that name exists again (possibly with the same inode number)."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(changed, debounce_ms))

    @classmethod
    async def start(cls, root: Path, changed: asyncio.Event, *, debounce_ms: int) -> _Watcher:
        """Start watching; on return the watch is registered, so a read after it misses nothing."""
        watcher = cls(root, changed, debounce_ms=debounce_ms)
        # awatch registers the watch synchronously before its first suspension, and the
        # task's first step runs during this yield to the loop.
        await asyncio.sleep(0)
        return watcher

    def failure(self) -> str | None:
        """Why watching stopped on its own, or None while it runs."""
        if not self._task.done():
            return None
        exc = None if self._task.cancelled() else self._task.exception()
        return f"watching {self.root} stopped ({exc or 'the watcher ended'}); restart to resume"

    async def aclose(self) -> None:
        """Stop watching; the watch thread notices the stop event within one step."""
        self._stop.set()
        done, _ = await asyncio.wait({self._task}, timeout=_STOP_TIMEOUT)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task})
        if not self._task.cancelled() and self._task.exception() is not None:
            log.debug("watcher ended with an error", error=str(self._task.exception()))

    async def _run(self, changed: asyncio.Event, debounce_ms: int) -> None:
        try:
            async for _ in watchfiles.awatch(
                self.root,
                watch_filter=self._counts,
                debounce=debounce_ms,
                step=_STEP_MS,
                stop_event=self._stop,
                recursive=True,
            ):
                changed.set()
        finally:
            if not self._stop.is_set():
                changed.set()  # ended on its own: wake the reader so failure() reports it

    def _counts(self, change: watchfiles.Change, path: str) -> bool:
        if change == watchfiles.Change.deleted and path == str(self.root):
            self.root_deleted = True
        try:
            parts = Path(path).relative_to(self.root).parts
        except ValueError:
            return True
        if any(part in IGNORED_DIRS for part in parts):
            return False
        if path.endswith((".yaml", ".yml")):
            return True
        return not os.path.isfile(path)
