"""Where the standalone controller reads its YAML from: a watched directory or a git branch.

A source is an async stream of `SourceSnapshot`s: the current content first, then one snapshot per
real change. The controller loads each snapshot (`reconciler.loading.load_documents`) and
applies only the valid ones, so a source never judges the YAML it hands over.

    from reconciler.sources.directory import DirectorySource   # `run PATH`
    from reconciler.sources.gitsource import GitSource         # `run --git URL`

The implementations live in their own modules so that `watchfiles` and `git` are imported
only by the mode that needs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core.errors import SourceError


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """The YAML files of one revision of a source, read in full."""

    revision: str
    """`sha256:<hex>` of the content for a directory; `<branch>@sha1:<sha>` (or
    `<tag>@sha1:<sha>`) for git. Identical directory content gives an identical revision."""
    files: tuple[tuple[str, str], ...]
    """(display name, text) of every YAML file, sorted by name. The display name is the path
    relative to `root` (POSIX separators), so `root / name` is the file on disk."""
    root: Path
    """Directory the display names are relative to: the watched directory, or the top of the
    git checkout. Relative `workingDir`s are resolved against it."""
    source: str
    """What the snapshot came from, as `Source.describe()` says it (credentials redacted)."""


class Source(Protocol):
    """A stream of snapshots of the declared resources.

    `snapshots()` yields the current snapshot first, then one per real change, and runs until
    the consumer stops iterating. Call `trigger()` from the event loop to ask for an immediate
    re-read or fetch; it yields a snapshot only if the content changed.
    """

    def snapshots(self) -> AsyncIterator[SourceSnapshot]: ...

    def trigger(self) -> None: ...

    def describe(self) -> str: ...

    @property
    def last_error(self) -> SourceError | None:
        """The failure of the last read or fetch, None once one succeeds (SourceUnavailable)."""
        ...


def decode(data: bytes) -> str:
    """Text of a YAML file; undecodable bytes become U+FFFD rather than failing the read."""
    return data.decode("utf-8", errors="replace")


__all__ = ["Source", "SourceSnapshot", "decode"]
