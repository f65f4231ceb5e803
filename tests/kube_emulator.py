"""A Kubernetes API for tests: kmock's emulator, with what a kube-apiserver maintains.

kmock (by kopf's author) serves discovery, objects, list + watch streams, merge patches
and finalizers. `KubeEmulator` adds what the operator relies on and kmock 0.8 leaves out:
`resourceVersion`, `uid`, `generation` (bumped by spec changes only, as for custom
resources) and `creationTimestamp`, and fixes its reading of `/api/v1/namespaces` (so the
operator can be started for named namespaces, as users start it).

`EmulatedCluster` is what tests use: `kubectl apply`-like helpers over HTTP, a kubeconfig
pointing at the emulator, and polling with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import attrs
import jsonpatch
import kmock
import yaml
from kmock._internal import enums, rendering

from reconciler.core.models import API_GROUP, API_VERSION, API_VERSION_NAME, KINDS
from reconciler.operator import Operator, OperatorSettings
from tests.polling import eventually

ALL_VERBS = {"get", "list", "watch", "create", "patch", "update", "delete"}
CORE = {
    "v1/namespaces": ("Namespace", False, set()),
    "v1/events": ("Event", True, set()),
    "v1/configmaps": ("ConfigMap", True, set()),
    "v1/services": ("Service", True, set()),
    "v1/secrets": ("Secret", True, set()),
    "apps/v1/deployments": ("Deployment", True, {"status", "scale"}),
    "networking.k8s.io/v1/networkpolicies": ("NetworkPolicy", True, set()),
}
_NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?$")
_RENAMED = "/api/v1/renamed-namespaces"
_RENAMED_PATH = re.compile(r"^/api/v1/renamed-namespaces(?:/([^/]+))?$")


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the emulator served."""

    method: str
    action: Any
    resource: Any


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus resourceVersion/uid/generation bookkeeping."""

    _versions: Any = attrs.field(factory=lambda: itertools.count(1000), init=False)
    _in_flight: set[int] = attrs.field(factory=set, init=False)
    seen: list[Seen] = attrs.field(factory=list, init=False)
    """Every request served, in order (kmock's own log is kept short, see `_handle`)."""

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        match = _NAMESPACES.match(raw_request.path)
        if match is not None:  # kmock 0.8 cannot parse these two paths: rename, then fix
            path = _RENAMED + (f"/{match.group(1)}" if match.group(1) else "")
            url = raw_request.rel_url.with_path(path).with_query(raw_request.rel_url.query)
            raw_request = raw_request.clone(rel_url=url)
        return await super().__call__(raw_request)

    async def _handle(self, request: rendering.Request) -> Any:
        fixed = _fix_namespaces_path(request)
        if fixed is not request:  # views find requests by identity: swap it in the log too
            self._requests[self._requests.index(request)] = fixed
            request = fixed
        self.seen.append(Seen(request.method.value, request.action, request.resource))
        # kmock matches a request against its reactions by scanning every request it has
        # logged: quadratic over a run. Only requests in flight can still be matched, so
        # its log keeps those alone (`seen` keeps what tests and the benchmark read).
        self._in_flight.add(id(request))
        self._requests[:] = [r for r in self._requests if id(r) in self._in_flight]
        try:
            if request.resource is not None and isinstance(request.data, dict):
                self._bookkeep(request)
            return await super()._handle(request)
        finally:
            self._in_flight.discard(id(request))

    def _KubernetesEmulator__get_objs(self, request: rendering.Request, strict: bool) -> list[Any]:
        """kmock scans every object for every request; a named one is a dict lookup.

        (This overrides kmock's private `__get_objs`, hence the mangled name.)
        """
        named = request.name is not None and request.resource is not None
        if named and (request.namespace is not None or strict):
            key = (request.resource, request.namespace, request.name)
            return [self.objects[key]] if key in self.objects else []
        return list(super()._KubernetesEmulator__get_objs(request, strict))  # type: ignore[misc]

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        """A Status as the API server sends it, without kmock's traceback for every 404."""
        if isinstance(exc, kmock.KubernetesError):
            return aiohttp.web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "code": exc.status,
                    "status": "Failure",
                    "reason": exc.reason or type(exc).__name__,
                    "message": exc.message or repr(exc),
                },
                status=exc.status,
            )
        if isinstance(exc, jsonpatch.JsonPatchTestFailed):
            # A JSON patch whose `test` op fails (a stale resourceVersion) is 422 Invalid on
            # a real API server: the client re-reads and retries, instead of resending the
            # same patch after a 500 until it gives up.
            return aiohttp.web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "code": 422,
                    "status": "Failure",
                    "reason": "Invalid",
                    "message": str(exc),
                },
                status=422,
            )
        return await super()._render_error(exc)

    def _bookkeep(self, request: rendering.Request) -> None:
        metadata = request.data.setdefault("metadata", {})
        version = str(next(self._versions))
        if request.action == enums.action.CREATE:
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = f"{metadata['generateName']}{uuid.uuid4().hex[:10]}"
            metadata["resourceVersion"] = version
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("generation", 1)
            metadata.setdefault(
                "creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            )
            if request.namespace and not metadata.get("namespace"):
                metadata["namespace"] = request.namespace
        elif request.action == enums.action.UPDATE and request.name is not None:
            metadata["resourceVersion"] = version
            key = (request.resource, request.namespace, request.name)
            if request.subresource is None and "spec" in request.data and key in self.objects:
                current = self.objects[key]
                if not current.deleted:
                    old = current.raw
                    merged_spec = _merged(old.get("spec"), request.data["spec"])
                    if merged_spec != old.get("spec"):
                        generation = (old.get("metadata") or {}).get("generation") or 1
                        metadata["generation"] = generation + 1


def _merged(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merged(result.get(key), value)
    return result


def _fix_namespaces_path(request: rendering.Request) -> rendering.Request:
    match = _RENAMED_PATH.match(request.url.path)
    if match is None:
        return request
    name = match.group(1)
    if request.method == enums.method.GET:
        if request.params.get("watch") == "true":
            action = enums.action.WATCH
        else:
            action = enums.action.FETCH if name else enums.action.LIST
    elif request.method == enums.method.POST and name is None:
        action = enums.action.CREATE
    else:
        action = request.action
    return attrs.evolve(
        request,
        resource=kmock.resource("", "v1", "namespaces"),
        namespace=None,
        name=name,
        subresource=None,
        action=action,
    )


def declare_resources(emulator: kmock.KubernetesEmulator) -> None:
    """Every resource the operator reads or writes, with the verbs and subresources of a
    real cluster."""
    for path, (kind, namespaced, subresources) in CORE.items():
        emulator.resources[path] = kmock.ResourceInfo(
            kind=kind, namespaced=namespaced, verbs=ALL_VERBS, subresources=subresources
        )
    for kind, cls in KINDS.items():
        emulator.resources[f"{API_GROUP}/{API_VERSION_NAME}/{cls.plural}"] = kmock.ResourceInfo(
            kind=kind,
            namespaced=True,
            verbs=ALL_VERBS,
            subresources={"status"},
            shortnames=set(cls.short_names),
        )


PLURALS = {
    "ConfigMap": "v1/configmaps",
    "Service": "v1/services",
    "Secret": "v1/secrets",
    "Event": "v1/events",
    "Namespace": "v1/namespaces",
    "Deployment": "apps/v1/deployments",
    "NetworkPolicy": "networking.k8s.io/v1/networkpolicies",
    **{kind: f"{API_GROUP}/{API_VERSION_NAME}/{cls.plural}" for kind, cls in KINDS.items()},
}


def api_path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    group_version, _, plural = PLURALS[kind].rpartition("/")
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    if namespace is not None and kind != "Namespace":
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


@dataclass
class EmulatedCluster:
    """The emulator, its URL, a kubeconfig for it, and kubectl-like helpers."""

    emulator: KubeEmulator
    server: kmock.Server
    kubeconfig: Path

    @property
    def url(self) -> str:
        return str(self.server.url).rstrip("/")

    @property
    def http(self) -> aiohttp.ClientSession:
        return self.server.client

    # -- kubectl ----------------------------------------------------------------------

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        namespace = obj["metadata"].get("namespace", "default")
        obj = copy.deepcopy(obj)
        obj["metadata"]["namespace"] = namespace
        async with self.http.post(api_path(obj["kind"], namespace), json=obj) as response:
            assert response.status < 300, await response.text()
            return dict(await response.json())

    async def apply_yaml(self, text: str, *, namespace: str = "default") -> None:
        """`kubectl apply -f`: create what is new, merge-patch what exists."""
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            document.setdefault("metadata", {}).setdefault("namespace", namespace)
            meta = document["metadata"]
            if self.get(document["kind"], meta["namespace"], meta["name"]) is None:
                await self.create(document)
            else:
                patch = {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
                await self.patch(document["kind"], meta["namespace"], meta["name"], patch)

    async def patch(
        self, kind: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.http.patch(
            api_path(kind, namespace, name), json=patch, headers=headers
        ) as response:
            assert response.status < 300, await response.text()
            return dict(await response.json())

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        async with self.http.delete(api_path(kind, namespace, name)) as response:
            assert response.status < 300, await response.text()

    # -- reading ----------------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        key = (kmock.resource(PLURALS[kind]), namespace, name)
        if key not in self.emulator.objects:
            return None
        found = self.emulator.objects[key]
        return None if found.deleted else copy.deepcopy(found.raw)

    def all(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        found = []
        wanted = kmock.resource(PLURALS[kind])
        for (resource, ns, _), obj in list(self.emulator.objects.items()):
            if resource != wanted or obj.deleted:
                continue
            if namespace is None or ns == namespace:
                found.append(copy.deepcopy(obj.raw))
        return found

    def events(self, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        """Events posted about the object named `name`."""
        return [
            e
            for e in self.all("Event", namespace)
            if e.get("involvedObject", {}).get("name") == name
        ]

    def reasons(self, name: str, namespace: str = "default") -> list[str]:
        return [e.get("reason", "") for e in self.events(name, namespace)]

    def watching(self, kinds: Iterable[str]) -> bool:
        """Whether a watch is open on every one of `kinds`."""
        wanted = {kmock.resource(PLURALS[kind]) for kind in kinds}
        seen = {r.resource for r in self.emulator if r.action == enums.action.WATCH and r.resource}
        return wanted <= seen


def write_kubeconfig(path: Path, url: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
        "current-context": "emulator",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.asynccontextmanager
async def emulated_cluster(directory: Path) -> AsyncIterator[EmulatedCluster]:
    emulator = KubeEmulator()
    declare_resources(emulator)
    async with emulator, kmock.Server(emulator) as server:
        kubeconfig = write_kubeconfig(directory / "kubeconfig", str(server.url).rstrip("/"))
        cluster = EmulatedCluster(emulator, server, kubeconfig)
        for namespace in ("default", "team-a", "team-b"):
            await cluster.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        yield cluster


@contextlib.asynccontextmanager
async def running_operator(
    cluster: EmulatedCluster, settings: OperatorSettings, **options: Any
) -> AsyncIterator[Operator]:
    """The real operator, logged in through the cluster's kubeconfig, until the block ends."""
    operator = Operator(settings, **options)
    task = asyncio.create_task(operator.run())
    try:
        await eventually(lambda: cluster.watching(KINDS) or task.done(), timeout=20)
        if task.done():
            task.result()
        yield operator
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


__all__ = [
    "API_VERSION",
    "EmulatedCluster",
    "KubeEmulator",
    "emulated_cluster",
    "eventually",
    "running_operator",
]
