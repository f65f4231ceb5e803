"""Glob patterns used in tool filters and permission rules, checked when loaded.

Patterns follow :mod:`fnmatch`: ``*`` any run of characters, ``?`` one character,
``[abc]`` / ``[!abc]`` a set. A set must be closed and non-empty.
"""

import fnmatch
import functools
import re
from typing import Annotated

from pydantic import AfterValidator

_ALLOWED = re.compile(r"^[A-Za-z0-9_.*?\[\]!/:@+-]+$")


def check_glob(pattern: str) -> str:
    """Return the pattern unchanged, or raise ValueError saying what is wrong with it."""
    if not pattern:
        raise ValueError("empty glob pattern")
    if not _ALLOWED.match(pattern):
        bad = sorted({c for c in pattern if not _ALLOWED.match(c)})
        raise ValueError(f"invalid glob pattern {pattern!r}: unexpected characters {bad}")
    depth = 0
    in_set_start = False
    for char in pattern:
        if char == "[":
            if depth:
                raise ValueError(f"invalid glob pattern {pattern!r}: nested '['")
            depth, in_set_start = 1, True
            continue
        if char == "]" and depth:
            if in_set_start:
                raise ValueError(f"invalid glob pattern {pattern!r}: empty set '[]'")
            depth = 0
        elif char == "]":
            raise ValueError(f"invalid glob pattern {pattern!r}: ']' without '['")
        in_set_start = in_set_start and char == "!"
    if depth:
        raise ValueError(f"invalid glob pattern {pattern!r}: '[' is never closed")
    return pattern


def check_qualified_glob(pattern: str) -> str:
    """A `server.tool` pattern: a glob for the server, a dot, a glob for the tool."""
    check_glob(pattern)
    if "." not in pattern:
        raise ValueError(
            f"invalid tool pattern {pattern!r}: write it as <server>.<tool>, e.g. 'time.*'"
        )
    return pattern


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def glob_match(pattern: str, value: str) -> bool:
    """Case-sensitive fnmatch, cached."""
    return _compiled(pattern).match(value) is not None


Glob = Annotated[str, AfterValidator(check_glob)]
QualifiedGlob = Annotated[str, AfterValidator(check_qualified_glob)]
