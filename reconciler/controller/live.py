"""The live state of a standalone controller, read from its store: for `diff PATH`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..core.desired import DesiredState
from ..core.errors import StateError
from ..core.models import qualified_name
from ..loading.loader import LoadResult, load_documents
from ..store import Store


@dataclass(frozen=True)
class LiveState:
    """What the controller applied last, and the tools its servers offer now."""

    result: LoadResult
    revision: str
    tools: dict[str, list[str]]
    """Exposed tool names of each server, by qualified name (`namespace/name` outside the
    default namespace)."""


def live_state(state_dir: Path) -> LiveState:
    """Read the applied revision; raises StateError when the controller never applied one."""
    try:
        store = Store.open_readonly(state_dir)
    except StateError as error:
        raise StateError(
            f"{error.message}; or compare offline: pass --against GITREF|DIR"
        ) from None
    with store:
        documents = store.applied_documents()
        revisions = store.revisions()
        tools: dict[str, list[str]] = {}
        for capability in store.capabilities(kind="tool"):
            if capability.exposed:
                namespace, _, name = capability.server.partition("/")
                tools.setdefault(qualified_name(namespace, name), []).append(capability.name)
    if documents is None or revisions.applied is None:
        raise StateError(
            f"the controller on {state_dir} has applied nothing yet: start it with "
            "`mcp-reconciler run`, or compare offline: pass --against GITREF|DIR"
        )
    revision = revisions.applied.revision
    if not documents:
        return LiveState(LoadResult(DesiredState(revision=revision)), revision, tools)
    texts = [(f"live:{revision}", "\n---\n".join(json.dumps(d) for d in documents))]
    return LiveState(load_documents(texts, revision=revision), revision, tools)
