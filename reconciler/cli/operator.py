"""`mcp-reconciler operator`: the Kubernetes operator (kopf), for one namespace or all."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import ReconcilerError
from .app import app
from .logsetup import configure_logging
from .options import (
    LogFormatChoice,
    LogFormatOpt,
    LogOutputOpt,
    StateDir,
    resolve_state_dir,
)
from .options import log_format as chosen_log_format

NAMESPACE_ENV = "POD_NAMESPACE"


@app.command()
def operator(
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            help=f"Namespace to serve (repeatable; default: ${NAMESPACE_ENV}, the pod's own).",
        ),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Serve every namespace.")
    ] = False,
    standalone: Annotated[
        bool,
        typer.Option(
            "--standalone",
            help="No peering: run as the only replica (no KopfPeering object needed).",
        ),
    ] = False,
    peering: Annotated[
        str, typer.Option(help="KopfPeering (or ClusterKopfPeering with -A) the replicas share.")
    ] = "mcp-reconciler",
    priority: Annotated[
        int, typer.Option(help="Peering priority; the highest running replica is active.")
    ] = 0,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="Kubeconfig (default: in-cluster service account, else $KUBECONFIG)."),
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context.")] = None,
    image: Annotated[
        str | None,
        typer.Option(help="Image of the gateway and of stdio servers declared without image."),
    ] = None,
    health_interval: Annotated[
        float, typer.Option(help="Seconds between discoveries of each server.")
    ] = 30.0,
    drift_interval: Annotated[
        float, typer.Option(help="Seconds between checks of each server's owned objects.")
    ] = 60.0,
    liveness: Annotated[
        str | None,
        typer.Option(help="Serve a liveness probe at this URL, e.g. http://0.0.0.0:8080/healthz."),
    ] = None,
    gateway_public_url: Annotated[
        str | None,
        typer.Option(
            help="External base URL of the namespaces' gateways ({namespace} is replaced), "
            "passed to each as --public-url (OAuth resource metadata, default audience)."
        ),
    ] = None,
    log_format: LogFormatOpt = LogFormatChoice.auto,
    output: LogOutputOpt = None,
    state_dir: StateDir = None,
) -> None:
    """Run the Kubernetes operator: reconcile the custom resources of the cluster."""
    from ..operator import ManifestSettings, OperatorSettings, run_operator

    namespaces = tuple(namespace or ())
    if not namespaces and not all_namespaces:
        own = os.environ.get(NAMESPACE_ENV)
        if not own:
            raise typer.BadParameter(
                f"name the namespaces to serve with --namespace, or pass --all-namespaces "
                f"(in a pod, ${NAMESPACE_ENV} names its own namespace)"
            )
        namespaces = (own,)
    if namespaces and all_namespaces:
        raise typer.BadParameter("pass either --namespace or --all-namespaces, not both")
    configure_logging(fmt=chosen_log_format(output, log_format).value)
    manifests = ManifestSettings(gateway_public_url=gateway_public_url)
    if image is not None:
        manifests = ManifestSettings(image=image, gateway_public_url=gateway_public_url)
    settings = OperatorSettings(
        namespaces=namespaces,
        all_namespaces=all_namespaces,
        standalone=standalone,
        peering_name=peering,
        priority=priority,
        kubeconfig=kubeconfig,
        context=context,
        health_interval=health_interval,
        drift_interval=drift_interval,
        liveness_endpoint=liveness,
        state_dir=resolve_state_dir(state_dir),
        manifests=manifests,
    )
    try:
        asyncio.run(run_operator(settings))
    except ReconcilerError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
