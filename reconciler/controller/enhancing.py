"""Enhancement as a step of reconcile: after discovery, in the background, never blocking.

Whenever the applied state or a server's tools change, the controller hands the new
inputs to `EnhancementStep.schedule`. One pass runs at a time; inputs that arrive during a
pass are coalesced into the next. A pass over unchanged tools is answered from the cache
(zero LLM calls). When a pass changes what is served, `on_served` is called so the gateway
configuration is rebuilt with the enhanced definitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from ..core.desired import DesiredState
from ..core.errors import ReconcilerError
from ..core.hashing import tool_schema_hash
from ..enhancement import EnhancementStore, enhance_tools, load_pins
from ..enhancement.definitions import enhanced_definition
from ..enhancement.report import EnhancementReport
from ..enhancement.requests import providers_of, requests_from_desired
from ..llm import ProviderPool
from ..secrets import SecretResolver
from ..store import Store

log = structlog.get_logger("reconciler.enhancement")

Tools = Mapping[str, list[dict[str, Any]]]


class EnhancementStep:
    """Keeps the enhanced definitions of every server that declares `enhancement`."""

    def __init__(
        self,
        *,
        store: Store,
        resolver: SecretResolver,
        pins_dir: Path | None,
        on_served: Callable[[], None],
    ) -> None:
        self.store = store
        self.cache = EnhancementStore(store.path)
        self.pool = ProviderPool(resolver)
        self.resolver = resolver
        self.pins_dir = pins_dir
        self.on_served = on_served
        self.report: EnhancementReport | None = None
        self._inputs: tuple[DesiredState, Tools] | None = None
        self._last_key: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="enhancement")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pool.aclose()
        self.cache.close()

    def schedule(self, desired: DesiredState, tools: Tools) -> None:
        """Enhance with these inputs soon (the newest inputs win)."""
        if not any(s.spec.enhancement for s in desired.servers):
            return
        self._inputs = (desired, tools)
        self._wake.set()

    def served_tools(self, tools: Tools) -> dict[str, list[dict[str, Any]]]:
        """Each server's tools as the gateway serves them: enhanced text where there is one."""
        report = self.report
        if report is None:
            return dict(tools)
        return {
            server: [
                enhanced_definition(
                    tool,
                    report.lookup(server, str(tool.get("name")), tool_schema_hash(tool)),
                )
                for tool in server_tools
            ]
            for server, server_tools in tools.items()
        }

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            inputs, self._inputs = self._inputs, None
            if inputs is None:
                continue
            try:
                await self._pass(*inputs)
            except ReconcilerError as error:
                self._event("warning", "EnhancementFailed", error.message)
            except Exception:  # a bug must not stop the controller
                log.exception("enhancement pass failed")

    async def _pass(self, desired: DesiredState, tools: Tools) -> None:
        requests = requests_from_desired(desired, tools)
        key = _inputs_key(requests, desired)
        if key == self._last_key:
            return
        pins = load_pins(self.pins_dir) if self.pins_dir is not None else None
        report = await enhance_tools(
            requests,
            providers=providers_of(desired),
            store=self.cache,
            resolver=self.resolver,
            pins=pins,
            pool=self.pool,
        )
        self._last_key = key
        changed = self.report is None or self.report.descriptions() != report.descriptions()
        self.report = report
        counts = report.counts()
        if report.calls or counts.get("failed") or report.budget_exhausted:
            self._event(
                "warning" if counts.get("failed") else "info",
                "Enhanced",
                f"{dict(counts)}; {report.calls} LLM calls, cost {report.cost:.4f}"
                + (
                    f"; budget exhausted: {report.budget_exhausted}"
                    if report.budget_exhausted
                    else ""
                ),
            )
        if changed:
            self.on_served()

    def _event(self, severity: str, reason: str, message: str) -> None:
        self.store.add_event(
            severity=severity,  # type: ignore[arg-type]
            category="enhancement",
            reason=reason,
            message=message,
        )


def _inputs_key(requests: list[Any], desired: DesiredState) -> str:
    """Identity of one pass's inputs: the tools to enhance and the providers' specs."""
    digest = hashlib.sha256()
    for request in requests:
        digest.update(
            json.dumps(
                [request.server, dict(request.tool), request.provider_ref, request.style],
                sort_keys=True,
                default=str,
            ).encode()
        )
    for provider in sorted(desired.providers, key=lambda p: p.key):
        digest.update(provider.spec.model_dump_json().encode())
    return digest.hexdigest()
