"""The Kubernetes API, as the operator uses it: get, list, create, patch, delete, apply.

The one module that imports the `kubernetes` client. Its calls are synchronous, so each
runs in a worker thread; objects go in and come out as plain JSON dicts (no client
models), which keeps manifests the pure values `manifests.py` renders. `apply` is the
actuator: it creates what is missing, patches what drifted, and reports which it did.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException

from ..core.errors import ReconcilerError, SecretNotFound
from ..core.models import API_VERSION, KINDS
from .drift import merge_patch, object_drift

log = logging.getLogger(__name__)

MERGE_PATCH: Final = "application/merge-patch+json"


class KubeError(ReconcilerError):
    """The API server refused or failed a request (transient unless it says otherwise)."""

    reason = "KubernetesApiError"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ObjectKind:
    """Where objects of one kind live in the API."""

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        group_version = self.api_version
        base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name is not None else base


CONFIG_MAP: Final = ObjectKind("v1", "configmaps")
SERVICE: Final = ObjectKind("v1", "services")
SECRET: Final = ObjectKind("v1", "secrets")
DEPLOYMENT: Final = ObjectKind("apps/v1", "deployments")
NETWORK_POLICY: Final = ObjectKind("networking.k8s.io/v1", "networkpolicies")
BUILTIN: Final = {
    "ConfigMap": CONFIG_MAP,
    "Service": SERVICE,
    "Deployment": DEPLOYMENT,
    "NetworkPolicy": NETWORK_POLICY,
}
CUSTOM: Final = {kind: ObjectKind(API_VERSION, cls.plural) for kind, cls in KINDS.items()}
"""Our custom resources, by kind."""


def kind_of(obj: Mapping[str, Any]) -> ObjectKind:
    kind = obj.get("kind")
    found = BUILTIN.get(kind) if isinstance(kind, str) else None
    if found is None and isinstance(kind, str):
        found = CUSTOM.get(kind)
    if found is None:
        raise ValueError(f"the operator does not manage objects of kind {kind!r}")
    return found


ApplyResult = Literal["created", "configured", "unchanged"]


def load_configuration(
    *, kubeconfig: Path | None = None, context: str | None = None
) -> kubernetes.client.Configuration:
    """Client settings: the in-cluster service account, else the kubeconfig.

    Raises KubeError saying how to log in when neither is available.
    """
    configuration = kubernetes.client.Configuration()
    try:
        if kubeconfig is None and context is None:
            try:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
                return _tuned(configuration)
            except kubernetes.config.ConfigException:
                pass
        kubernetes.config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig is not None else None,
            context=context,
            client_configuration=configuration,
        )
    except (kubernetes.config.ConfigException, OSError) as exc:
        raise KubeError(
            f"cannot log in to Kubernetes ({exc}): run inside a cluster with a service "
            "account, or pass --kubeconfig (default $KUBECONFIG, else ~/.kube/config)"
        ) from None
    return _tuned(configuration)


def _tuned(configuration: kubernetes.client.Configuration) -> kubernetes.client.Configuration:
    configuration.connection_pool_maxsize = 32
    return configuration


def bearer_token(configuration: kubernetes.client.Configuration) -> str | None:
    """The token the configuration authenticates with, if it uses one."""
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    if not header:
        return None
    parts = str(header).split(" ", 1)
    return parts[-1]


class Kube:
    """Asynchronous JSON access to the API server, over the official client in threads."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        self.configuration = configuration
        self._client = kubernetes.client.ApiClient(configuration)

    def close(self) -> None:
        self._client.close()

    # -- raw requests ---------------------------------------------------------------

    def _request_sync(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        method, url, headers, serialized, _ = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(method, url, header_params=headers, body=serialized)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        return json.loads(response.data) if response.data else None

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        """One request; its JSON answer. Raises KubeError (status kept) on failure."""
        try:
            return await asyncio.to_thread(
                self._request_sync, method, path, query=query, body=body, content_type=content_type
            )
        except ApiException as exc:
            raise KubeError(_describe(method, path, exc), status=exc.status) from None
        except OSError as exc:
            raise KubeError(f"{method} {path}: cannot reach the API server ({exc})") from None

    # -- objects --------------------------------------------------------------------

    async def get(self, kind: ObjectKind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = await self.request("GET", kind.path(namespace, name))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    async def list_objects(
        self, kind: ObjectKind, namespace: str | None = None, *, selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else None
        found = await self.request("GET", kind.path(namespace), query=query)
        items = found.get("items") if isinstance(found, dict) else None
        return [item for item in items or [] if isinstance(item, dict)]

    async def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        namespace = obj["metadata"].get("namespace")
        created = await self.request("POST", kind_of(obj).path(namespace), body=dict(obj))
        return created if isinstance(created, dict) else dict(obj)

    async def patch(
        self,
        kind: ObjectKind,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any] | None:
        path = kind.path(namespace, name) + (f"/{subresource}" if subresource else "")
        try:
            patched = await self.request("PATCH", path, body=dict(patch), content_type=MERGE_PATCH)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return patched if isinstance(patched, dict) else None

    async def delete(self, kind: ObjectKind, namespace: str, name: str) -> bool:
        """Delete in the background (dependents are collected); False when already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            await self.request("DELETE", kind.path(namespace, name), body=body)
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        """Merge `status` into a custom resource's status subresource (gone: ignored)."""
        await self.patch(
            CUSTOM[kind], namespace, name, {"status": dict(status)}, subresource="status"
        )

    async def apply(
        self, desired: Mapping[str, Any], *, live: Mapping[str, Any] | None = None
    ) -> tuple[ApplyResult, list[str]]:
        """Create the object, or patch the fields that drifted; what was done and where.

        `live` is the object as already read, to save a request.
        """
        kind = kind_of(desired)
        metadata = desired["metadata"]
        if live is None:
            live = await self.get(kind, metadata["namespace"], metadata["name"])
        if live is None:
            try:
                await self.create(desired)
                return "created", []
            except KubeError as exc:
                if exc.status != 409:
                    raise
                live = await self.get(kind, metadata["namespace"], metadata["name"])
                if live is None:
                    raise
        paths = object_drift(desired, live)
        if not paths:
            return "unchanged", []
        await self.patch(kind, metadata["namespace"], metadata["name"], merge_patch(desired, live))
        return "configured", paths

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        """One key of a Secret, decoded. Raises SecretNotFound naming the reference only."""
        secret = await self.get(SECRET, namespace, name)
        data = (secret or {}).get("data") or {}
        if key not in data:
            where = f"secret {name}/{key}"
            raise SecretNotFound(
                f"{where} not found in namespace {namespace}: create it, or fix the reference"
            )
        return base64.b64decode(data[key]).decode("utf-8").rstrip("\n")


def _describe(method: str, path: str, exc: ApiException) -> str:
    message = exc.reason or "error"
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") or message
    except (ValueError, AttributeError):
        pass
    return f"{method} {path}: {exc.status} {message}"
