"""Enhancement in the cluster: better tool descriptions, paid for once, kept in a ConfigMap.

The operator runs the shared enhancement runner (`reconciler.enhancement.enhance_tools`)
for the servers that declare `spec.enhancement`, over the tools their last discovery
returned, with API keys read from the namespace's Secrets (or the operator's environment).
Results live in a local SQLite store (the pod's state directory) and are copied into the
namespace's `mcp-enhancements` ConfigMap after every run; a new operator (a restart, the
other peering replica) restores them from there before its first run, so nothing already
paid for is asked again, and the budgets keep counting what was spent.

Runs happen in the background, once per change of their inputs: the namespace reconcile
takes the descriptions known so far and is touched again when new ones arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..core.desired import DesiredState
from ..core.errors import ReconcilerError, SecretNotFound
from ..core.models import ResourceKey, ValueSource
from ..core.spec_changes import digest
from ..enhancement import (
    EnhancementStore,
    ResultRecord,
    enhance_tools,
    providers_of,
    requests_from_desired,
)
from ..enhancement.store import UsageRecord
from ..secrets import SecretResolver
from .kube import CONFIG_MAP, Kube
from .naming import (
    ENHANCEMENTS_NAME,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_PART_OF,
    MANAGED_BY,
)

log = logging.getLogger(__name__)

RESULTS_KEY: Final = "results.json"
USAGE_KEY: Final = "usage.json"
KEPT_STATES: Final = frozenset({"enhanced", "failed"})
"""Results worth keeping across restarts: paid-for text, and failures with their retry time."""


@dataclass(frozen=True)
class FetchedSecrets(SecretResolver):
    """A SecretResolver over Secret values read from the cluster beforehand."""

    values: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, source: ValueSource) -> str:
        ref = source.secret_key_ref
        if ref is None:
            return super().resolve(source)  # env: the operator's environment
        value = self.values.get((ref.name, ref.key))
        if value is None:
            raise SecretNotFound(f"{source.describe()} not found in the namespace")
        return value


Tools = Callable[[ResourceKey], list[dict[str, Any]] | None]
"""The raw tools of a server's last discovery."""


class ClusterEnhancer:
    """Background enhancement runs per namespace, with their results kept in the cluster."""

    def __init__(
        self,
        kube: Kube,
        *,
        tools: Tools,
        state_dir: Path,
        on_change: Callable[[str], None],
    ) -> None:
        self.kube = kube
        self.tools = tools
        self.state_dir = state_dir
        self.on_change = on_change
        self.calls = 0
        """LLM calls made by this operator (restored results cost none)."""
        self._stores: dict[str, EnhancementStore] = {}
        self._descriptions: dict[str, dict[str, dict[str, str]]] = {}
        self._inputs: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def descriptions(
        self,
        namespace: str,
        desired: DesiredState,
        served: Mapping[str, Mapping[str, str]],
    ) -> Mapping[str, Mapping[str, str]]:
        """The descriptions known so far; starts a run when the inputs changed.

        `served` are those the gateway has now: kept until this operator's first run in the
        namespace ends, so that a restarted operator does not take them away meanwhile.
        """
        tools = {
            server.name: found
            for server in desired.servers
            if server.spec.enhancement is not None and (found := self.tools(server.key)) is not None
        }
        requests = requests_from_desired(desired, tools, qualify=False)
        if not requests:
            return self._descriptions.get(namespace, {}) if tools else served
        providers = providers_of(desired, qualify=False)
        inputs = digest(
            [
                [(r.server, r.tool, r.provider_ref, r.style) for r in requests],
                {name: spec.model_dump(mode="json") for name, spec in providers.items()},
            ]
        )
        running = self._tasks.get(namespace)
        if self._inputs.get(namespace) != inputs and (running is None or running.done()):
            self._inputs[namespace] = inputs
            self._tasks[namespace] = asyncio.create_task(
                self._run(namespace, desired, tools), name=f"mcp-enhance {namespace}"
            )
        return self._descriptions.get(namespace, served)

    async def _run(
        self, namespace: str, desired: DesiredState, tools: dict[str, list[dict[str, Any]]]
    ) -> None:
        try:
            store = await self._store(namespace)
            resolver = FetchedSecrets(values=await self._secrets(namespace, desired))
            report = await enhance_tools(
                requests_from_desired(desired, tools, qualify=False),
                providers=providers_of(desired, qualify=False),
                store=store,
                resolver=resolver,
            )
            self.calls += report.calls
            await self._save(namespace, store)
        except ReconcilerError as exc:
            log.warning("namespace %s: enhancement failed: %s", namespace, exc.message)
            self._inputs.pop(namespace, None)  # try again on the next reconcile
            return
        descriptions = report.descriptions()
        if descriptions != self._descriptions.get(namespace):
            self._descriptions[namespace] = descriptions
            self.on_change(namespace)

    async def _secrets(self, namespace: str, desired: DesiredState) -> dict[tuple[str, str], str]:
        values: dict[tuple[str, str], str] = {}
        for provider in desired.providers:
            source = provider.spec.api_key
            if source is None or source.secret_key_ref is None:
                continue
            ref = source.secret_key_ref
            with contextlib.suppress(SecretNotFound):  # reported by the runner, per tool
                values[(ref.name, ref.key)] = await self.kube.secret_value(
                    namespace, ref.name, ref.key
                )
        return values

    # -- the cache in the cluster ---------------------------------------------------------

    async def _store(self, namespace: str) -> EnhancementStore:
        store = self._stores.get(namespace)
        if store is not None:
            return store
        path = self.state_dir / f"enhancements-{namespace}.db"
        store = await asyncio.to_thread(EnhancementStore, path)
        self._stores[namespace] = store
        empty = not await asyncio.to_thread(store.latest) and not await asyncio.to_thread(
            store.usage
        )
        if empty:
            restored = await self.kube.get(CONFIG_MAP, namespace, ENHANCEMENTS_NAME)
            if restored is not None:
                count = await asyncio.to_thread(_restore, store, restored.get("data") or {})
                log.info("namespace %s: %d enhancement results restored", namespace, count)
        return store

    async def _save(self, namespace: str, store: EnhancementStore) -> None:
        data = await asyncio.to_thread(_snapshot, store)
        labels = {
            LABEL_MANAGED_BY: MANAGED_BY,
            LABEL_PART_OF: MANAGED_BY,
            LABEL_COMPONENT: "enhancements",
        }
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": ENHANCEMENTS_NAME, "namespace": namespace, "labels": labels},
            "data": data,
        }
        await self.kube.apply(config_map)

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for store in self._stores.values():
            store.close()
        self._stores.clear()


def _snapshot(store: EnhancementStore) -> dict[str, str]:
    results = [
        dataclasses.asdict(record) for record in store.latest() if record.status in KEPT_STATES
    ]
    usage = [dataclasses.asdict(record) for record in store.usage()]
    return {
        RESULTS_KEY: json.dumps(results, sort_keys=True, ensure_ascii=False),
        USAGE_KEY: json.dumps(usage, sort_keys=True),
    }


def _restore(store: EnhancementStore, data: Mapping[str, str]) -> int:
    count = 0
    for raw in json.loads(data.get(RESULTS_KEY) or "[]"):
        try:
            store.put(ResultRecord(**raw))
            count += 1
        except TypeError:
            continue  # written by another version: asked again
    for raw in json.loads(data.get(USAGE_KEY) or "[]"):
        try:
            usage = UsageRecord(**raw)
        except TypeError:
            continue
        store.record_usage(
            usage.provider,
            usage.server,
            day=usage.day,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost=usage.cost,
            calls=usage.calls,
            failed_calls=usage.failed_calls,
        )
    return count
