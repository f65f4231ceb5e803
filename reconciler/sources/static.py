"""A source that never changes: one snapshot of resources given at start-up.

Used where the resources come from elsewhere (the in-cluster gateway's ConfigMap, which
restarts the pod when it changes; the stdio bridge's single server).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from ..core.errors import SourceError
from ..loading.files import content_revision
from . import SourceSnapshot


class StaticSource:
    """Yields its one snapshot, then waits forever."""

    def __init__(self, files: list[tuple[str, str]], *, root: Path, label: str) -> None:
        revision = content_revision(files)
        self.snapshot = SourceSnapshot(revision, tuple(sorted(files)), root, label)
        self.last_error: SourceError | None = None

    def describe(self) -> str:
        return self.snapshot.source

    def trigger(self) -> None:
        """Nothing to re-read: the resources are fixed for this process's life."""

    async def snapshots(self) -> AsyncIterator[SourceSnapshot]:
        yield self.snapshot
        await asyncio.Event().wait()
