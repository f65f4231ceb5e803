"""`mcp-reconciler gateway` and `bridge`: what the operator's pods run.

Both are the standalone controller over resources fixed at start-up:

- `gateway --config-dir DIR` serves a namespace's suites from the ConfigMap the operator
  renders (every server is reached over HTTP at the address the operator wrote down);
- `bridge -- COMMAND ARGS...` supervises one stdio server and serves it over streamable
  HTTP at `/mcp`, so a stdio server runs in a pod like any HTTP server.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..core.errors import ReconcilerError
from ..core.models import API_VERSION
from .app import app
from .logsetup import configure_logging
from .options import LogOutputOpt, Output
from .run import PublicUrlOpt, _listen, _public_url, serve_until_signalled

if TYPE_CHECKING:
    from ..core.desired import DesiredState
    from ..operator.gateway import UpstreamAddress

BRIDGED_SUITE = "mcp"
BRIDGED_SERVER = "server"

AnyHost = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        help="Host names the endpoint accepts [default: any: in a cluster the Service name].",
        show_default=False,
    ),
]


def _state_dir(value: Path | None) -> Path:
    return value if value is not None else Path(tempfile.mkdtemp(prefix="mcp-reconciler-"))


@app.command()
def gateway(
    config_dir: Annotated[
        Path, typer.Option(help="The gateway's configuration, as the operator renders it.")
    ],
    secrets_dir: Annotated[
        Path | None, typer.Option(help="Where secretKeyRef {name, key} resolves: DIR/name/key.")
    ] = None,
    listen: Annotated[str, typer.Option(help="Address HOST:PORT.")] = "0.0.0.0:8765",
    allowed_host: AnyHost = None,
    public_url: PublicUrlOpt = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Working state [default: a new temporary directory].")
    ] = None,
    output: LogOutputOpt = Output.json,
) -> None:
    """Serve a namespace's suites from the operator's configuration (the gateway pod)."""
    from ..controller.standalone import RunOptions
    from ..operator.gateway import read_bundle
    from ..sources.static import StaticSource

    configure_logging(fmt="console" if output == Output.text else "json")
    try:
        bundle = read_bundle(config_dir)
    except (ReconcilerError, OSError) as error:
        message = error.message if isinstance(error, ReconcilerError) else str(error)
        typer.echo(f"error: cannot read {config_dir}: {message}", err=True)
        raise typer.Exit(1) from None
    text = _as_yaml(_reached_over_http(bundle.desired, bundle.upstreams))
    host, port = _listen(listen)
    options = RunOptions(
        state_dir=_state_dir(state_dir),
        listen_host=host,
        listen_port=port,
        secrets_dir=secrets_dir,
        allowed_hosts=tuple(allowed_host or ("*",)),
        descriptions=bundle.descriptions,
        public_url=_public_url(public_url),
    )
    source = StaticSource([("gateway.yaml", text)], root=config_dir, label=str(config_dir))
    serve_until_signalled(source, options)


@app.command(context_settings={"allow_interspersed_args": False})
def bridge(
    command: Annotated[list[str], typer.Argument(help="The stdio server: COMMAND ARGS...")],
    listen: Annotated[str, typer.Option(help="Address HOST:PORT.")] = "0.0.0.0:8080",
    allowed_host: AnyHost = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Working state [default: a new temporary directory].")
    ] = None,
    output: LogOutputOpt = Output.json,
) -> None:
    """Serve one stdio MCP server over streamable HTTP at /mcp (a stdio server's pod).

    The server gets this process's environment (by reference: values are never written to
    the state store), is restarted with backoff when it exits, and is stopped on SIGTERM.
    Its stderr is passed through to this process's stderr (`kubectl logs` shows it).
    """
    from ..controller.standalone import RunOptions
    from ..sources.static import StaticSource

    configure_logging(fmt="console" if output == Output.text else "json")
    host, port = _listen(listen)
    server = {
        "apiVersion": API_VERSION,
        "kind": "MCPServer",
        "metadata": {"name": BRIDGED_SERVER},
        "spec": {
            "command": command[0],
            "args": command[1:],
            "env": [
                {"name": name, "valueFrom": {"env": name}}
                for name in sorted(os.environ)
                if name.isidentifier()
            ],
        },
    }
    suite = {
        "apiVersion": API_VERSION,
        "kind": "MCPSuite",
        "metadata": {"name": BRIDGED_SUITE},
        "spec": {"servers": [{"name": BRIDGED_SERVER}], "conflictResolution": "priority"},
    }
    text = "\n---\n".join(json.dumps(doc) for doc in (server, suite))
    options = RunOptions(
        state_dir=_state_dir(state_dir),
        listen_host=host,
        listen_port=port,
        allowed_hosts=tuple(allowed_host or ("*",)),
        root_suite=BRIDGED_SUITE,
        descriptions={},
        echo_server_stderr=True,
    )
    serve_until_signalled(
        StaticSource([("bridge.yaml", text)], root=Path.cwd(), label=" ".join(command)), options
    )


def _reached_over_http(
    desired: DesiredState, upstreams: dict[str, UpstreamAddress]
) -> list[dict[str, Any]]:
    """The bundle's resources, each server rewritten to the HTTP address the operator gave
    (its pod or bridge); a server without an address is kept but disabled."""
    documents = []
    for resource in desired:
        doc = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc.pop("status", None)
        # The pod serves one namespace, at /suites/<suite>/mcp: as if it were the default.
        doc["metadata"].pop("namespace", None)
        if doc["kind"] == "MCPServer":
            address = upstreams.get(resource.name)
            spec = doc["spec"]
            for field in ("command", "args", "env", "workingDir", "image", "port", "limits"):
                spec.pop(field, None)
            spec.pop("resources", None)
            spec.pop("replicas", None)
            if address is None:
                spec.update(transport="streamable-http", url="http://127.0.0.1:1/", enabled=False)
            else:
                spec.update(
                    transport=address.transport, url=address.url, headers=list(address.headers)
                )
        documents.append(doc)
    return documents


def _as_yaml(documents: list[dict[str, Any]]) -> str:
    return "\n---\n".join(json.dumps(doc) for doc in documents)
