"""Probing each applied LLMProvider (no tokens spent), and again with backoff until it works.

A provider is `Ready` only once its probe succeeded (`reconciler.llm.probe`); until then
it is `Ready=False` with the probe's reason (Probing, Unreachable, Unauthorized,
UnknownModel, ...). A failed probe is tried again after 5 s, doubling up to 5 minutes; a
change of the provider's spec (or of the key it references) probes it afresh. Each change
of outcome is an event (`ProviderReady` / `ProviderNotReady`) and rewrites the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from typing import Final

import structlog

from ..core.desired import DesiredState
from ..core.errors import SecretNotFound
from ..core.models import ResourceKey
from ..core.models.provider import LLMProvider
from ..llm.probe import PROBE_SECRET_NOT_FOUND, ProbeResult, probe_provider
from ..secrets import SecretResolver
from ..store import Store
from .statuses import ProviderFacts

log = structlog.get_logger("reconciler.controller")

RETRY_INITIAL: Final = 5.0
RETRY_MAX: Final = 300.0


class ProviderProbes:
    """One probe task per applied provider; `facts()` for the status writer."""

    def __init__(
        self,
        *,
        store: Store,
        resolver: SecretResolver,
        on_change: Callable[[ResourceKey], None],
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.on_change = on_change
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._facts: dict[ResourceKey, ProviderFacts] = {}
        self._tasks: dict[ResourceKey, tuple[str, asyncio.Task[None]]] = {}

    def facts(self) -> dict[ResourceKey, ProviderFacts]:
        return dict(self._facts)

    def update(self, desired: DesiredState) -> None:
        """Probe the providers of `desired` that are new or changed; forget removed ones."""
        wanted: dict[ResourceKey, LLMProvider] = {p.key: p for p in desired.providers}
        for key in list(self._tasks):
            if key not in wanted:
                self._tasks.pop(key)[1].cancel()
                self._facts.pop(key, None)
        for key, provider in wanted.items():
            fingerprint = self._fingerprint(provider)
            known = self._tasks.get(key)
            if known is not None and known[0] == fingerprint:
                continue
            if known is not None:
                known[1].cancel()
            self._facts[key] = ProviderFacts(None, "Probing", "probing the provider")
            task = asyncio.create_task(self._probe_until_ready(provider), name=f"probe {key}")
            self._tasks[key] = (fingerprint, task)

    async def close(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _fingerprint(self, provider: LLMProvider) -> str:
        key = ""
        if provider.spec.api_key is not None:
            with contextlib.suppress(SecretNotFound):
                key = self.resolver.resolve(provider.spec.api_key)
        text = provider.spec.model_dump_json() + "\0" + key
        return hashlib.sha256(text.encode()).hexdigest()

    async def _probe_until_ready(self, provider: LLMProvider) -> None:
        delay = self.retry_initial
        attempts = 0
        previous: ProbeResult | None = None
        while True:
            attempts += 1
            result = await self._probe_once(provider)
            self._facts[provider.key] = ProviderFacts(
                result.ok, result.reason, result.message, attempts
            )
            if previous is None or (previous.ok, previous.reason) != (result.ok, result.reason):
                self._report(provider, result, retry_in=None if result.ok else delay)
                self.on_change(provider.key)
            if result.ok:
                return
            previous = result
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _probe_once(self, provider: LLMProvider) -> ProbeResult:
        spec = provider.spec
        try:
            api_key = self.resolver.resolve(spec.api_key) if spec.api_key is not None else None
        except SecretNotFound as error:
            return ProbeResult(False, PROBE_SECRET_NOT_FOUND, error.message)
        return await probe_provider(provider.name, spec, api_key=api_key)

    def _report(
        self, provider: LLMProvider, result: ProbeResult, *, retry_in: float | None
    ) -> None:
        message = result.message + (f"; probing again in {retry_in:g}s" if retry_in else "")
        self.store.add_event(
            severity="info" if result.ok else "warning",
            category="provider",
            reason="ProviderReady" if result.ok else "ProviderNotReady",
            message=f"{result.reason}: {message}",
            resource=f"LLMProvider/{provider.name}",
        )
        if not result.ok:
            log.warning("provider not ready", provider=provider.name, reason=result.reason,
                        message=message)  # fmt: skip
