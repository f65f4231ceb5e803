"""Durations on the command line: `90s`, `15m`, `2h`, `7d`, `1h30m`, or plain seconds."""

from __future__ import annotations

import re
from typing import Final

import typer

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError when it is not a duration."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f"not a duration: {text!r} (negative)")
        return seconds
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {text!r}; use e.g. 30s, 15m, 2h, 7d")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def duration_option(value: str | None) -> float | None:
    """A typer callback: the duration in seconds, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
