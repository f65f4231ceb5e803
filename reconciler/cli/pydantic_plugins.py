"""`validate` and `diff` build their validators without looking for pydantic plugins.

Before building its first validator (typer builds one per command-line parameter, the
loader one per kind of resource), pydantic looks for plugins: it imports
`importlib.metadata` (and with it `email`, `zipfile`, `csv`, `socket`) and reads the
metadata of every installed distribution. That is 8 % of the instructions of a whole
`validate` of the quickstart, for plugins (observability hooks of applications)
that an offline check has no use for: validation runs pydantic-core alone, as it does when
no plugin is installed, and gives the same results.

The lookup lives in `pydantic.plugin._loader`, whose only entry point pydantic calls is
`get_plugins()`. Registering a module answering "no plugins" under that name before
pydantic imports it skips both the import and the scan. `tests/test_cli_startup.py`
checks that `validate` and `diff` import no `importlib.metadata`: a pydantic that finds
its plugins another way fails there, not in what users see.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable

_LOADER = "pydantic.plugin._loader"


def _no_plugins() -> Iterable[object]:
    return ()


def skip_pydantic_plugins() -> None:
    """Make pydantic find no plugins in this process, unless it has looked already."""
    if _LOADER in sys.modules:
        return
    loader = types.ModuleType(_LOADER, "pydantic plugins: none, for an offline check")
    loader.get_plugins = _no_plugins  # type: ignore[attr-defined]
    sys.modules[_LOADER] = loader
