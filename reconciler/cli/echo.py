"""Printing a line as `typer.echo` does, for the commands that start without typer.

`echo` writes the text and a newline to stdout (or stderr), without ANSI escape codes
when the stream is not a terminal, and flushes, as typer's does for text on a stream
whose encoding is not ASCII (`plain_streams` tells; on other streams it calls typer's).
"""

from __future__ import annotations

import codecs
import re
import sys
from typing import TextIO

_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def plain_streams() -> bool:
    """Whether stdout and stderr take text as they are (typer would rewrap an ASCII one)."""
    if sys.platform.startswith("win"):
        return False
    for stream in (sys.stdout, sys.stderr):
        if stream is None or getattr(stream, "errors", None) is None:
            return False
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            if codecs.lookup(encoding).name == "ascii":
                return False
        except LookupError:
            return False
    return True


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    if not plain_streams():  # typer knows how to rewrap such a stream
        import typer

        typer.echo(message, err=err, nl=nl)
        return
    stream: TextIO = sys.stderr if err else sys.stdout
    text = message + "\n" if nl else message
    if not text:
        stream.flush()
        return
    if not _isatty(stream):
        text = _ANSI.sub("", text)
    stream.write(text)
    stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except Exception:
        return False
