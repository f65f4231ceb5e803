"""The kopf handlers: the only module that declares what the operator reacts to.

    every kind   index (a Snapshot per object, by namespace: the ResourceIndex)
    MCPServer    create / update / resume ─► Servers.reconcile   (finalizer: delete)
                 timer `health` ─► Servers.check (discovery)    timer `drift` ─► reconcile
    other kinds  create / update / resume ─► Stalled when invalid; delete (no finalizer)
    all kinds    ─► Namespaces.touch: the gateway and the statuses of the namespace

Handlers are registered on a registry of their own (`build_registry`), so intervals come
from the settings and several operators can run in one process (tests, the benchmark).
Status is written here, once per handler, from the Result each step returns.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import kopf

from ..core.errors import ReconcilerError
from ..core.models import API_GROUP, API_VERSION_NAME, KINDS, MCPServer
from .bodies import Snapshot, snapshot
from .namespaces import Namespaces
from .resourceindex import namespace_state, server_context
from .servers import Event, Result, Servers, stalled
from .settings import OperatorSettings
from .status import STALLED_INVALID, Outcome, status_changes, status_for

log = logging.getLogger(__name__)

MAX_EVENT_MESSAGE = 1000
RETRY_SECONDS = 10.0


def index_id(kind: str) -> str:
    return f"{KINDS[kind].plural}_by_namespace"


class KopfResourceIndex:
    """The ResourceIndex over kopf's indices (bound from the first handler's keyword arguments)."""

    def __init__(self) -> None:
        self._indices: dict[str, Any] | None = None

    def bind(self, kwargs: Mapping[str, Any]) -> None:
        if self._indices is None and all(index_id(kind) in kwargs for kind in KINDS):
            self._indices = {kind: kwargs[index_id(kind)] for kind in KINDS}

    @property
    def bound(self) -> bool:
        return self._indices is not None

    def snapshots(self, kind: str, namespace: str) -> Iterable[Snapshot]:
        if self._indices is None:
            return []
        store = self._indices[kind].get(namespace)
        return list(store) if store is not None else []


def post_event(obj: Mapping[str, Any], event: Event) -> None:
    """Post an Event through kopf's poster (batched, retried, never raising)."""
    message = event.message
    if len(message) > MAX_EVENT_MESSAGE:
        message = message[: MAX_EVENT_MESSAGE - 3] + "..."
    kind = "Warning" if event.warning else "Normal"
    kopf.event(dict(obj), type=kind, reason=event.reason, message=message)  # type: ignore[arg-type]


def write_result(
    body: Mapping[str, Any], patch: kopf.Patch, snap: Snapshot, result: Result
) -> None:
    """Status from the outcome (only what changed), and the Events."""
    if result.outcome is not None:
        _write_status(patch, snap, result.outcome)
    for event in result.events:
        post_event(body, event)


def _write_status(patch: kopf.Patch, snap: Snapshot, outcome: Outcome) -> None:
    status = status_for(snap.status, outcome, generation=snap.generation)
    for key, value in status_changes(snap.status, status).items():
        patch.status[key] = value


class OperatorParts(Protocol):
    """What the handlers use of a running operator (`runtime.Operator`)."""

    settings: OperatorSettings
    index: KopfResourceIndex
    servers: Servers
    namespaces: Namespaces

    def login(self) -> kopf.ConnectionInfo: ...


@contextlib.contextmanager
def retried_when_transient() -> Iterator[None]:
    """A failed API call or connection is retried by kopf soon, with its message logged."""
    try:
        yield
    except ReconcilerError as exc:
        if exc.fatal:
            raise kopf.PermanentError(exc.message) from None
        raise kopf.TemporaryError(exc.message, delay=RETRY_SECONDS) from None


def build_registry(operator: OperatorParts) -> kopf.OperatorRegistry:
    """Every handler of the operator, bound to `operator`."""
    registry = kopf.OperatorRegistry()
    settings = operator.settings

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return operator.login()

    for kind, cls in KINDS.items():
        _register_index(registry, kind, cls.plural)
        if kind != MCPServer.kind_name:
            _register_other(registry, operator, cls.plural)

    resource = (API_GROUP, API_VERSION_NAME, MCPServer.plural)

    async def reconcile(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        operator.index.bind(kwargs)
        snap = snapshot(body)
        if snap.deleting or snap.key is None:
            return
        context = server_context(operator.index, snap.key.namespace).desired
        with retried_when_transient():
            result = await operator.servers.reconcile(snap, context=context)
        write_result(body, patch, snap, result)
        if result.changed:
            operator.namespaces.touch(snap.key.namespace)

    for cause, decorator in (
        ("create", kopf.on.create),
        ("update", kopf.on.update),
        ("resume", kopf.on.resume),
    ):
        decorator(*resource, registry=registry, id=f"reconcile-{cause}")(reconcile)

    @kopf.on.delete(*resource, registry=registry, id="cleanup")
    async def cleanup(body: kopf.Body, name: str, namespace: str | None, **kwargs: Any) -> None:
        namespace = namespace or "default"
        operator.index.bind(kwargs)
        snap = snapshot(body)
        with retried_when_transient():
            result = await operator.servers.delete(snap, namespace=namespace, name=name)
        for event in result.events:
            post_event(body, event)
        operator.namespaces.touch(namespace)

    @kopf.timer(
        *resource,
        registry=registry,
        id="health",
        interval=settings.health_interval,
        initial_delay=min(settings.health_interval, 5.0),  # let the first pod start
    )
    async def health(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        operator.index.bind(kwargs)
        snap = snapshot(body)
        if snap.deleting or snap.key is None:
            return
        context = namespace_state(operator.index, snap.key.namespace).desired
        result = await operator.servers.check(snap, context=context)
        write_result(body, patch, snap, result)
        if result.changed:
            operator.namespaces.touch(snap.key.namespace)

    @kopf.timer(
        *resource,
        registry=registry,
        id="drift",
        interval=settings.drift_interval,
        initial_delay=settings.drift_interval,
    )
    async def drift(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        operator.index.bind(kwargs)
        snap = snapshot(body)
        if snap.deleting or snap.key is None or not operator.index.bound:
            return
        context = server_context(operator.index, snap.key.namespace).desired
        result = await operator.servers.reconcile(snap, context=context)
        write_result(body, patch, snap, result)

    return registry


def _register_index(registry: kopf.OperatorRegistry, kind: str, plural: str) -> None:
    def index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, Snapshot]:
        return {namespace or "default": snapshot(body)}

    kopf.index(API_GROUP, API_VERSION_NAME, plural, registry=registry, id=index_id(kind))(index)


def _register_other(registry: kopf.OperatorRegistry, operator: OperatorParts, plural: str) -> None:
    resource = (API_GROUP, API_VERSION_NAME, plural)

    async def changed(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        operator.index.bind(kwargs)
        snap = snapshot(body)
        if snap.key is None or snap.deleting:
            return
        if not snap.parsed.valid:
            write_result(body, patch, snap, stalled(snap, snap.parsed.message, STALLED_INVALID))
        operator.namespaces.touch(snap.key.namespace)

    for cause, decorator in (
        ("create", kopf.on.create),
        ("update", kopf.on.update),
        ("resume", kopf.on.resume),
    ):
        decorator(*resource, registry=registry, id=f"{plural}-{cause}")(changed)

    async def deleted(namespace: str | None, **kwargs: Any) -> None:
        operator.index.bind(kwargs)
        operator.namespaces.touch(namespace or "default")

    # No finalizer: nothing of the cluster belongs to these kinds but their share of the
    # gateway, which is recomputed from what is left whenever one goes (or at resume).
    kopf.on.delete(*resource, registry=registry, id=f"{plural}-delete", optional=True)(deleted)

    async def gone(type: str, namespace: str | None, **kwargs: Any) -> None:
        if type == "DELETED":
            operator.index.bind(kwargs)
            operator.namespaces.touch(namespace or "default")

    kopf.on.event(*resource, registry=registry, id=f"{plural}-gone")(gone)
