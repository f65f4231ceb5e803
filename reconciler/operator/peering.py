"""Whether the peering kopf needs is there, before kopf waits for it in silence.

Unless `--standalone`, replicas coordinate through a KopfPeering (one namespace) or
ClusterKopfPeering (`--all-namespaces`) object of the `kopf.dev` CRDs. Without the CRD
kopf logs in and then waits forever; `peering_problem` says what is missing and how to
fix it, and the operator then runs without peering (as `--standalone`), with a warning.
"""

from __future__ import annotations

from typing import Final

from .kube import Kube, KubeError
from .settings import OperatorSettings

PEERING_GROUP: Final = "kopf.dev/v1"
PEERING_CRDS: Final = "manifests/crds/kopf-peering.yaml"


async def peering_problem(kube: Kube, settings: OperatorSettings) -> str | None:
    """None when the peering object can be used; else what is missing and how to fix it."""
    if settings.standalone:
        return None
    plural = "clusterkopfpeerings" if settings.all_namespaces else "kopfpeerings"
    kind = "ClusterKopfPeering" if settings.all_namespaces else "KopfPeering"
    try:
        resources = await kube.request("GET", f"/apis/{PEERING_GROUP}")
    except KubeError as error:
        if error.status != 404:
            return None  # cannot tell: let kopf try (and report) as usual
        resources = None
    served = {
        str(item.get("name"))
        for item in (resources or {}).get("resources") or []
        if isinstance(item, dict)
    }
    if plural not in served:
        return (
            f"the {kind} CRD ({plural}.kopf.dev) is not installed, so replicas cannot "
            f"coordinate: install it with `kubectl apply -f {PEERING_CRDS}`, or pass "
            "--standalone to run a single replica"
        )
    where = (
        f"/apis/{PEERING_GROUP}/{plural}/{settings.peering_name}"
        if settings.all_namespaces
        else f"/apis/{PEERING_GROUP}/namespaces/{settings.namespaces[0]}/{plural}/"
        f"{settings.peering_name}"
    )
    try:
        await kube.request("GET", where)
    except KubeError as error:
        if error.status == 404:
            return (
                f"the {kind} {settings.peering_name!r} does not exist: create it (see "
                f"{PEERING_CRDS}; `kubectl apply -k manifests/` does), pass --peering NAME, "
                "or pass --standalone"
            )
    return None
