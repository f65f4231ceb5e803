"""Running the operator: log in, build the handlers, run kopf until stopped or cancelled.

    operator = Operator(settings)          # logs in (kubeconfig or service account)
    await operator.run()                   # until SIGTERM (kopf) or cancellation

Peering: unless `standalone`, replicas share a KopfPeering (namespaced) or
ClusterKopfPeering (`--all-namespaces`) object named `settings.peering_name`; the replica
with the highest priority handles everything, the others wait until it goes away. The
peering CRDs and object are part of `manifests/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

import kopf
import kubernetes.client

from .bodies import OPERATOR_ANNOTATIONS
from .discovery import ToolLister, list_tools_over_http
from .enhancing import ClusterEnhancer
from .handlers import KopfResourceIndex, build_registry, post_event
from .kube import Kube, bearer_token, load_configuration
from .namespaces import Descriptions, Namespaces
from .peering import peering_problem
from .providerprobes import ClusterProviderProbes
from .resourceindex import ResourceIndex
from .servers import Servers
from .settings import OperatorSettings

log = logging.getLogger(__name__)

FINALIZER = "mcp.reconciler.dev/finalizer"


def connection_info(configuration: kubernetes.client.Configuration) -> kopf.ConnectionInfo:
    """kopf's credentials from the client's configuration (one login for both)."""
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        token=bearer_token(configuration),
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def kopf_settings(settings: OperatorSettings) -> kopf.OperatorSettings:
    """kopf's settings: our finalizer and annotations, Events only from our own steps."""
    result = kopf.OperatorSettings()
    result.persistence.finalizer = FINALIZER
    result.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=OPERATOR_ANNOTATIONS
    )
    result.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=OPERATOR_ANNOTATIONS, key="last-handled-configuration"
    )
    result.posting.level = logging.WARNING  # kopf's own "handler succeeded" is not an Event
    result.posting.reporting_component = "mcp-reconciler"
    result.posting.event_name_prefix = "mcp-reconciler-"
    result.peering.name = settings.peering_name
    result.peering.priority = settings.priority
    result.peering.clusterwide = settings.all_namespaces
    result.peering.standalone = settings.standalone
    result.peering.mandatory = not settings.standalone  # never two active replicas
    result.peering.stealth = True
    result.watching.server_timeout = 300
    return result


class Operator:
    """What the handlers of one running operator share."""

    def __init__(
        self,
        settings: OperatorSettings,
        *,
        lister: ToolLister = list_tools_over_http,
        descriptions: Descriptions | None = None,
    ) -> None:
        if not settings.all_namespaces and not settings.namespaces:
            raise ValueError("name the namespaces to serve, or serve all of them")
        self.settings = settings
        self.configuration = load_configuration(
            kubeconfig=settings.kubeconfig, context=settings.context
        )
        self.kube = Kube(self.configuration)
        self.index = KopfResourceIndex()
        self.servers = Servers(self.kube, settings, lister=lister)
        self.namespaces = Namespaces(self.kube, settings, index=self._index, post=post_event)
        self.probes = ClusterProviderProbes(self.kube, on_change=self.namespaces.touch)
        self.namespaces.probes = self.probes
        self.enhancer: ClusterEnhancer | None = None
        if descriptions is not None:
            self.namespaces.descriptions = descriptions
        elif settings.enhance:
            self.enhancer = ClusterEnhancer(
                self.kube,
                tools=self.servers.discovered,
                state_dir=settings.state_dir,
                on_change=self.namespaces.touch,
            )
            self.namespaces.descriptions = self.enhancer.descriptions

    def _index(self) -> ResourceIndex | None:
        return self.index if self.index.bound else None

    def login(self) -> kopf.ConnectionInfo:
        """Called by kopf at start and whenever the API server refuses the credentials."""
        configuration = load_configuration(
            kubeconfig=self.settings.kubeconfig, context=self.settings.context
        )
        return connection_info(configuration)

    async def run(
        self,
        *,
        ready: asyncio.Event | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Run until kopf stops (a signal, `stop`) or the task is cancelled."""
        settings = self.settings
        problem = await peering_problem(self.kube, settings)
        if problem is not None:
            log.warning("%s; running without peering: start only one replica", problem)
            settings = dataclasses.replace(settings, standalone=True)
        scope: dict[str, Any] = (
            {"clusterwide": True}
            if settings.all_namespaces
            else {"namespaces": list(settings.namespaces)}
        )
        try:
            await kopf.operator(
                registry=build_registry(self),
                settings=kopf_settings(settings),
                liveness_endpoint=settings.liveness_endpoint,
                ready_flag=ready,
                stop_flag=stop,
                **scope,
            )
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self.probes.aclose()
        await self.namespaces.aclose()
        if self.enhancer is not None:
            await self.enhancer.aclose()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.kube.close)


async def run_operator(settings: OperatorSettings) -> None:
    """`mcp-reconciler operator`: run until signalled."""
    await Operator(settings).run()
