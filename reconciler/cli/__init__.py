"""Command line: `mcp-reconciler` (also `python -m reconciler`). One module per command."""

from __future__ import annotations

from . import audit as _audit  # noqa: F401  (registers commands)
from . import costs as _costs  # noqa: F401  (registers commands)
from . import diff as _diff  # noqa: F401  (registers commands)
from . import enhance as _enhance  # noqa: F401  (registers commands)
from . import export as _export  # noqa: F401  (registers commands)
from . import importing as _importing  # noqa: F401  (registers commands)
from . import logs as _logs  # noqa: F401  (registers commands)
from . import operator as _operator  # noqa: F401  (registers commands)
from . import restart as _restart  # noqa: F401  (registers commands)
from . import run as _run  # noqa: F401  (registers commands)
from . import serve as _serve  # noqa: F401  (registers commands)
from . import stats as _stats  # noqa: F401  (registers commands)
from . import status as _status  # noqa: F401  (registers commands)
from . import toollock as _toollock  # noqa: F401  (registers commands)
from . import validate as _validate  # noqa: F401  (registers commands)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
