"""`mcp-reconciler run`: the standalone controller process, wired together.

lock the state dir ─► clean up leftovers of a crashed run ─► serve gateway + control API
─► for each snapshot of the source: load ─► reconcile ─► (periodic resync in between)
─► on SIGTERM/SIGINT: stop every server, exit 0
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from starlette.routing import BaseRoute

from ..core.desired import DesiredState
from ..core.errors import ReconcilerError, SourceError, StateError
from ..core.models import ResourceKey
from ..enhancement.costs import usage_totals
from ..gateway import Gateway, GatewayServer, HostPolicy, build_gateway_config
from ..identity import JwtVerifier
from ..llm.embeddings import ProviderEmbedders
from ..loading.loader import load_documents
from ..secrets import SecretResolver
from ..sources import Source, SourceSnapshot
from ..store import Store, acquire_controller_lock
from .confinement import DEFAULT_BWRAP, Confinement
from .control import control_server
from .enhancing import EnhancementStep, Tools
from .launch import this_machine
from .pool import RunnerPool
from .providerprobes import ProviderProbes
from .reconcile import Locks, ReconcileOutcome, Reconciler
from .recovery import cleanup_leftovers
from .serverlogs import ServerLogs
from .usage import UsageRecorder

log = structlog.get_logger("reconciler.controller")


@dataclass(frozen=True)
class RunOptions:
    """Everything `run` was told on its command line."""

    state_dir: Path
    """Lock, SQLite state, secrets (`secrets/`), git clones (`git/`), control socket."""
    listen_host: str = "127.0.0.1"
    """Gateway address."""
    listen_port: int = 8765
    """Gateway port (0: any free port; the chosen one is logged and written to `gateway.url`)."""
    resync_seconds: float = 60.0
    """Re-plan the applied state this often, correcting drift."""
    allow_mass_prune: bool = False
    """Apply a revision even when it removes every server or more than half of them."""
    allow_open_suites: bool = False
    """Apply a revision even when a suite loses its last ToolPermission (and becomes open
    to anyone) without saying `spec.public: true`."""
    secrets_dir: Path | None = None
    """Where `secretKeyRef`s resolve (default `<state-dir>/secrets`)."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra Host names the gateway accepts (DNS-rebinding protection)."""
    usage_retention_days: float = 90.0
    """Gateway call records older than this are deleted."""
    pins_dir: Path | None = None
    """Reviewed enhancements (`mcp-reconciler enhance --export`): pinned text wins."""
    descriptions: dict[str, dict[str, str]] | None = None
    """Tool descriptions computed elsewhere (the operator), by server and tool: served as
    they are, and no enhancement runs here."""
    root_suite: str | None = None
    """Also serve this suite at `/mcp` (the stdio bridge)."""
    bwrap: str = DEFAULT_BWRAP
    """bubblewrap executable confining servers that declare `sandbox` (name or path)."""
    public_url: str | None = None
    """The gateway's external base URL (behind a proxy or ingress): the suites' resource
    URLs, the default audience of OIDC tokens and the resource metadata are built on it."""
    log_calls: bool = True
    """Write each gateway call as one log line (`event: call`) besides the store."""
    echo_server_stderr: bool = False
    """Also write every server's stderr to this process's stderr (the stdio bridge, so
    `kubectl logs` shows it)."""


class StandaloneController:
    """One controller: a source, a reconciler, a gateway, a control API."""

    def __init__(
        self,
        source: Source,
        options: RunOptions,
        *,
        routes: Callable[[StandaloneController], Sequence[BaseRoute]] | None = None,
    ) -> None:
        self.source = source
        self.options = options
        # Extra routes on the gateway's listener (the web console), built once it exists.
        self._routes = routes
        self.store: Store | None = None
        self.reconciler: Reconciler | None = None
        self.gateway: Gateway | None = None
        self.last_outcome: ReconcileOutcome | None = None
        self.gateway_url: str | None = None
        self._stop = asyncio.Event()
        self._kick = asyncio.Event()

    async def run(self) -> None:
        """Run until `stop()` (or SIGTERM/SIGINT); always stops every server it started."""
        state_dir = self.options.state_dir
        with acquire_controller_lock(state_dir):
            self.store = store = Store.open(state_dir)
            try:
                cleaned = await cleanup_leftovers(store)
                if cleaned:
                    log.warning("stopped leftovers of a previous run", servers=cleaned)
                await self._serve(store)
            finally:
                if self.reconciler is not None:
                    await self.reconciler.shutdown()
                store.close()

    def stop(self) -> None:
        self._stop.set()

    def trigger(self) -> None:
        """Re-read the source and re-plan now (`mcp-reconciler reconcile`)."""
        self.source.trigger()
        self._kick.set()

    # -- what the control API asks (controller.control.Controlled) ----------------------

    async def reconcile_now(self) -> dict[str, Any]:
        """Re-read the source, re-plan the applied state now, and say what the last
        reconcile did."""
        self.source.trigger()
        outcome = await self.reconciler.resync() if self.reconciler is not None else None
        last = self.last_outcome
        return {
            "triggered": True,
            "resynced": outcome is not None,
            "changes": outcome.plan.counts() if outcome and outcome.plan else {},
            "lastRevision": last.revision if last else None,
            "lastApplied": last.applied if last else None,
            "lastReason": last.reason if last else None,
            "lastMessage": last.message if last else None,
        }

    def health(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "gateway": self.gateway_url}

    async def restart(self, names: list[str], *, every: bool, wait: float) -> dict[str, Any]:
        from .restarts import restart_servers, restartable

        if self.reconciler is None:
            raise StateError("the controller has not applied a revision yet")
        keys = restartable(self.reconciler, names, every=every)
        results = await restart_servers(self.reconciler, keys, wait_seconds=wait)
        return {"restarted": [r.as_json() for r in results]}

    def server_tools(self) -> dict[str, list[dict[str, Any]]]:
        return self.reconciler.pool.tools() if self.reconciler is not None else {}

    async def _serve(self, store: Store) -> None:
        options = self.options
        secrets_dir = options.secrets_dir or options.state_dir / "secrets"
        resolver = SecretResolver(secrets_dir)
        confinement = Confinement(bwrap=options.bwrap, hidden=(options.state_dir, secrets_dir))
        logs = ServerLogs(
            options.state_dir, echo=sys.stderr if options.echo_server_stderr else None
        )
        pool = RunnerPool(
            store=store,
            machine=this_machine(resolver.resolve),
            confinement=confinement,
            logs=logs,
        )
        self.usage = UsageRecorder(store, log_calls=options.log_calls)
        embedders = ProviderEmbedders(resolver)
        verifier = JwtVerifier()
        self.gateway = gateway = Gateway(
            pool,
            recorder=self.usage,
            hosts=HostPolicy.of(options.allowed_hosts),
            embedders=embedders,
            verifier=verifier,
            public_url=self.options.public_url,
        )

        def provider_changed(key: ResourceKey) -> None:
            if self.reconciler is not None:
                self.reconciler.write_status([key])

        self.probes = probes = ProviderProbes(
            store=store, resolver=resolver, on_change=provider_changed
        )
        feed = GatewayFeed(
            gateway,
            store=store,
            resolver=resolver,
            pins_dir=options.pins_dir,
            descriptions=options.descriptions,
            embedders=embedders,
            probes=probes,
        )
        self.enhancer = feed.enhancer
        cache = self.enhancer.cache
        gateway.metrics.watch_llm_usage(lambda: usage_totals(cache))
        self.reconciler = Reconciler(
            store=store,
            pool=pool,
            gateway=feed.applied,
            server_state=gateway.set_server_state,
            sink_for=gateway.server_sink,
            resolver=resolver,
            allow_mass_prune=options.allow_mass_prune,
            allow_open_suites=options.allow_open_suites,
            provider_facts=probes.facts,
        )
        http = GatewayServer(
            gateway,
            self.options.listen_host,
            self.options.listen_port,
            root_suite=self.options.root_suite,
            extra_routes=self._routes(self) if self._routes is not None else (),
        )
        control = control_server(self, self.options.state_dir / "control.sock")
        async with http, control:
            self.gateway_url = http.url
            (self.options.state_dir / "gateway.url").write_text(http.url + "\n")
            log.info("gateway listening", url=http.url, source=self.source.describe())
            self.enhancer.start()
            tasks = [
                asyncio.create_task(self._follow_source(), name="source"),
                asyncio.create_task(self._resync_loop(), name="resync"),
            ]
            try:
                await self._stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, ReconcilerError):
                        await task
                self.usage.flush()
                await self.probes.close()
                await self.enhancer.close()
                await verifier.aclose()

    async def _follow_source(self) -> None:
        """Apply every snapshot; when the source fails (its directory removed, say), keep
        what runs, say why, and try again every resync interval."""
        assert self.reconciler is not None
        while True:
            try:
                async for snapshot in self.source.snapshots():
                    self.last_outcome = await self.apply(snapshot)
            except SourceError as error:
                log.warning(
                    "source unavailable", source=self.source.describe(), error=error.message
                )
                self.reconciler.store.add_event(
                    severity="warning",
                    category="source",
                    reason=error.reason,
                    message=f"{error.message}; the applied revision keeps running",
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.resync_seconds):
                    await self._stop.wait()

    async def apply(self, snapshot: SourceSnapshot) -> ReconcileOutcome:
        assert self.reconciler is not None
        # Directory files are named by their full path; git files by their path in the repo.
        from_directory = snapshot.revision.startswith("sha256:")
        result = load_documents(
            [
                (str(snapshot.root / name) if from_directory else name, text)
                for name, text in snapshot.files
            ],
            revision=snapshot.revision,
        )
        outcome = await self.reconciler.reconcile(
            result, revision=snapshot.revision, root=snapshot.root
        )
        if self.gateway is not None:
            self.gateway.metrics.observe_reconcile(
                outcome.seconds, outcome="success" if outcome.applied else "failure"
            )
        if outcome.applied and result.state is not None and self.gateway_url:
            for suite in result.state.suites:
                name = suite.key.qualified_name
                log.info("serving suite", suite=name, url=self._suite_url(name))
        elif not outcome.applied:
            log.warning(
                "not applied", revision=snapshot.revision, reason=outcome.reason,
                message=outcome.message,
            )  # fmt: skip
        return outcome

    def _suite_url(self, suite: str) -> str:
        """`suite`: its qualified name (`namespace/name` outside the default namespace)."""
        return f"{self.gateway_url}/suites/{suite}/mcp"

    async def _resync_loop(self) -> None:
        assert self.reconciler is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.resync_seconds):
                    await self._kick.wait()
            self._kick.clear()
            await self.reconciler.resync()
            retention = self.options.usage_retention_days * 86400
            self.reconciler.store.prune_calls(time.time() - retention)


class GatewayFeed:
    """Hands the gateway a new configuration whenever the applied state, a server's tools
    or an enhanced description changes; schedules enhancement of new inputs.

    With `descriptions` (computed elsewhere: the operator), those are served as they are
    and no enhancement runs here.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        store: Store,
        resolver: SecretResolver,
        pins_dir: Path | None,
        descriptions: dict[str, dict[str, str]] | None,
        embedders: ProviderEmbedders,
        probes: ProviderProbes,
    ) -> None:
        self.gateway = gateway
        self.resolver = resolver
        self.descriptions = descriptions
        self.embedders = embedders
        self.probes = probes
        self.enhancer = EnhancementStep(
            store=store, resolver=resolver, pins_dir=pins_dir, on_served=self.serve
        )
        self._inputs: tuple[DesiredState, Tools, Locks] | None = None

    def applied(self, desired: DesiredState, tools: Tools, locks: Locks) -> None:
        """The reconciler's news (with the verdict it judged on the tools, served as it
        is): serve it, and enhance it in the background."""
        self.probes.update(desired)
        self._inputs = (desired, tools, locks)
        self.embedders.update(desired.providers)
        self.serve()
        if self.descriptions is None:
            self.enhancer.schedule(desired, tools)

    def serve(self) -> None:
        """Rebuild the gateway's configuration from the last inputs."""
        if self._inputs is None:
            return
        desired, tools, locks = self._inputs
        fixed = self.descriptions
        served = self.enhancer.served_tools(tools) if fixed is None else tools
        self.gateway.update(
            build_gateway_config(
                desired,
                served,
                resolver=self.resolver,
                descriptions=fixed,
                upstream=tools,
                locks=locks,
            )
        )


async def run_until_signalled(controller: StandaloneController) -> None:
    """Run the controller; SIGTERM and SIGINT stop it cleanly (servers stopped, exit 0)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, controller.stop)
    try:
        await controller.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
