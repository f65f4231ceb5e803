"""LLMProvider probes in the cluster: Ready only once a zero-token probe succeeded.

The same probe as standalone (`reconciler.llm.probe`), with the API key read from the
Secret the provider references. A failed probe is repeated after 5 s, doubling up to
5 minutes; each new outcome re-runs the namespace's status pass (`on_change`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Final

from ..core.errors import ReconcilerError
from ..core.models import ResourceKey, ValueSource
from ..core.models.provider import LLMProvider
from ..llm.probe import PROBE_SECRET_NOT_FOUND, ProbeResult, probe_provider
from .kube import Kube

RETRY_INITIAL: Final = 5.0
RETRY_MAX: Final = 300.0


class ClusterProviderProbes:
    """One probe task per provider spec; `result` starts it and reads where it stands."""

    def __init__(
        self,
        kube: Kube,
        *,
        on_change: Callable[[str], None],
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self.kube = kube
        self.on_change = on_change
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._tasks: dict[ResourceKey, tuple[str, asyncio.Task[None]]] = {}
        self._results: dict[ResourceKey, ProbeResult] = {}

    def result(self, provider: LLMProvider) -> ProbeResult | None:
        """The provider's last probe (None while the first runs); probes a new spec."""
        key = provider.key
        fingerprint = provider.spec.model_dump_json()
        known = self._tasks.get(key)
        if known is None or known[0] != fingerprint:
            if known is not None:
                known[1].cancel()
            self._results.pop(key, None)
            task = asyncio.create_task(self._probe_until_ready(provider), name=f"probe {key}")
            self._tasks[key] = (fingerprint, task)
        return self._results.get(key)

    async def aclose(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _probe_until_ready(self, provider: LLMProvider) -> None:
        delay = self.retry_initial
        while True:
            result = await self._probe_once(provider)
            previous = self._results.get(provider.key)
            self._results[provider.key] = result
            if previous is None or (previous.ok, previous.reason) != (result.ok, result.reason):
                self.on_change(provider.metadata.ns)
            if result.ok:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _probe_once(self, provider: LLMProvider) -> ProbeResult:
        source = provider.spec.api_key
        try:
            api_key = await self._secret(provider.metadata.ns, source) if source else None
        except ReconcilerError as error:
            return ProbeResult(False, PROBE_SECRET_NOT_FOUND, error.message)
        return await probe_provider(provider.name, provider.spec, api_key=api_key)

    async def _secret(self, namespace: str, source: ValueSource) -> str:
        if source.secret_key_ref is not None:
            ref = source.secret_key_ref
            return await self.kube.secret_value(namespace, ref.name, ref.key)
        assert source.env is not None
        value = os.environ.get(source.env)
        if value is None:
            raise ReconcilerError(f"{source.describe()} is not set in the operator's environment")
        return value
