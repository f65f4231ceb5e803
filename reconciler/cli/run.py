"""`mcp-reconciler run PATH | --git URL`: the standalone controller."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from urllib.parse import urlsplit

import typer

from ..core.errors import ReconcilerError
from .app import app
from .logsetup import configure_logging
from .options import (
    BwrapOpt,
    LogFormatChoice,
    LogFormatOpt,
    LogOutputOpt,
    StateDir,
    resolve_state_dir,
)
from .options import log_format as chosen_log_format

if TYPE_CHECKING:
    from ..console import AdminOidc
    from ..controller.standalone import RunOptions
    from ..sources import Source


PublicUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        help="The gateway's external base URL (e.g. https://mcp.example.com): suite URLs in "
        "OAuth resource metadata and the default audience of OIDC tokens use it. Default: "
        "the URL each request was sent to.",
    ),
]


def _public_url(value: str | None) -> str | None:
    """An http(s) base URL without query or fragment, without its trailing slash."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise typer.BadParameter(
            f"{value!r} is not a base URL like https://mcp.example.com", param_hint="--public-url"
        )
    return value.rstrip("/")


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


@app.command()
def run(
    path: Annotated[
        Path | None,
        typer.Argument(help="Directory of YAML resources to watch.", show_default=False),
    ] = None,
    git: Annotated[
        str | None, typer.Option("--git", help="Follow this git repository (URL or local path).")
    ] = None,
    branch: Annotated[str | None, typer.Option(help="Branch to follow (default: HEAD).")] = None,
    tag: Annotated[str | None, typer.Option(help="Tag to follow instead of a branch.")] = None,
    subdir: Annotated[
        str, typer.Option("--path", help="Directory inside the repository to read.")
    ] = "",
    interval: Annotated[
        float, typer.Option(help="Seconds between git fetches, and between resyncs.")
    ] = 60.0,
    listen: Annotated[
        str, typer.Option(help="Gateway address HOST:PORT (port 0: any free port).")
    ] = "127.0.0.1:8765",
    allow_mass_prune: Annotated[
        bool,
        typer.Option(
            "--allow-mass-prune",
            help="Apply a revision even if it removes every server or more than half of them.",
        ),
    ] = False,
    allow_open_suites: Annotated[
        bool,
        typer.Option(
            "--allow-open-suites",
            help="Apply a revision even if a suite loses its last ToolPermission "
            "(open to anyone) without spec.public: true.",
        ),
    ] = False,
    secrets_dir: Annotated[
        Path | None,
        typer.Option(help="Where secretKeyRef {name, key} resolves: DIR/name/key."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="Extra Host name the gateway accepts (repeatable)."),
    ] = None,
    public_url: PublicUrlOpt = None,
    pins: Annotated[
        Path | None,
        typer.Option(
            help="Directory of reviewed enhancements (enhance --export); pinned text wins."
        ),
    ] = None,
    admin_token_from: Annotated[
        str | None,
        typer.Option(
            "--admin-token-from",
            help="Admin token of the web console (/ui/), required when listening on a "
            "non-loopback address: env:VAR or secret:NAME/KEY (read from the secrets dir).",
        ),
    ] = None,
    admin_oidc_issuer: Annotated[
        str | None,
        typer.Option(
            "--admin-oidc-issuer",
            help="OIDC issuer whose tokens also admit console admins (https, or http on "
            "loopback); needs --admin-oidc-audience and at least one --admin-oidc-claim.",
        ),
    ] = None,
    admin_oidc_audience: Annotated[
        str | None,
        typer.Option(
            "--admin-oidc-audience",
            help="Audience (aud) an admin's token must carry, e.g. the console's client ID.",
        ),
    ] = None,
    admin_oidc_claim: Annotated[
        list[str] | None,
        typer.Option(
            "--admin-oidc-claim",
            metavar="NAME=VALUE",
            help="Claim an admin's token must have (equal, or contained in a list claim), "
            "e.g. sub=alice or groups=mcp-admins (repeatable: all must match).",
        ),
    ] = None,
    usage_retention_days: Annotated[
        float, typer.Option(help="Days of gateway call records kept for `stats`.")
    ] = 90.0,
    bwrap: BwrapOpt = "bwrap",
    log_format: LogFormatOpt = LogFormatChoice.auto,
    output: LogOutputOpt = None,
    state_dir: StateDir = None,
) -> None:
    """Run the standalone controller: watch, reconcile, supervise servers, serve the gateway.

    Runs until SIGTERM or Ctrl-C, then stops every server it started and exits 0.
    """
    if (path is None) == (git is None):
        raise typer.BadParameter("give a PATH to watch or --git URL (one of them)")
    configure_logging(fmt=chosen_log_format(output, log_format).value)
    state = resolve_state_dir(state_dir).resolve()
    host, port = _listen(listen)
    from ..controller.standalone import RunOptions

    source: Source
    if path is not None:
        if not path.is_dir():
            typer.echo(f"error: {path} is not a directory", err=True)
            raise typer.Exit(1)
        from ..sources.directory import DirectorySource

        source = DirectorySource(path, debounce_ms=50)
    else:
        assert git is not None
        from ..sources.gitsource import GitSource

        source = GitSource(
            git, workdir=state / "git", branch=branch, tag=tag, path=subdir, interval=interval
        )
    options = RunOptions(
        state_dir=state,
        listen_host=host,
        listen_port=port,
        resync_seconds=interval,
        allow_mass_prune=allow_mass_prune,
        allow_open_suites=allow_open_suites,
        secrets_dir=secrets_dir,
        allowed_hosts=tuple(allowed_host or ()),
        usage_retention_days=usage_retention_days,
        pins_dir=pins,
        bwrap=bwrap,
        public_url=_public_url(public_url),
    )
    token = _admin_token(admin_token_from, secrets_dir or state / "secrets")
    oidc = _admin_oidc(admin_oidc_issuer, admin_oidc_audience, admin_oidc_claim or [])
    serve_until_signalled(source, options, admin_token=token, admin_oidc=oidc)


def _admin_oidc(issuer: str | None, audience: str | None, claims: list[str]) -> AdminOidc | None:
    """The console's OIDC admins from the three options; exit 2 when they do not fit."""
    from ..console import AdminOidc
    from ..identity.keys import check_endpoint

    if issuer is None:
        if audience is not None or claims:
            _option_error("--admin-oidc-audience and --admin-oidc-claim need --admin-oidc-issuer")
        return None
    try:
        check_endpoint(issuer, what="--admin-oidc-issuer")
    except ReconcilerError as error:
        _option_error(error.message)
    if not audience:
        _option_error("--admin-oidc-issuer needs --admin-oidc-audience (the token's aud)")
    pairs: list[tuple[str, str]] = []
    for claim in claims:
        name, equals, value = claim.partition("=")
        if not equals or not name.strip() or not value:
            _option_error(f"--admin-oidc-claim: expected NAME=VALUE, got {claim[:60]!r}")
        pairs.append((name.strip(), value))
    if not pairs:
        _option_error(
            "--admin-oidc-issuer needs at least one --admin-oidc-claim (e.g. sub=alice or "
            "groups=mcp-admins): every token of the issuer would be an admin otherwise"
        )
    return AdminOidc(issuer=issuer, audience=audience, claims=tuple(pairs))


def _option_error(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _admin_token(reference: str | None, secrets_dir: Path) -> str | None:
    """The console's admin token from `env:VAR` or `secret:NAME/KEY`; never echoed."""
    if reference is None:
        return None
    from ..core.models import SecretKeyRef, ValueSource
    from ..secrets import SecretResolver

    scheme, _, rest = reference.partition(":")
    name, _, key = rest.partition("/")
    try:
        if scheme == "env" and rest:
            source = ValueSource(env=rest)
        elif scheme == "secret" and name and key:
            source = ValueSource(secret_key_ref=SecretKeyRef(name=name, key=key))
        else:
            raise ValueError
    except ValueError:
        raise typer.BadParameter(
            f"expected env:VAR or secret:NAME/KEY, got {reference[:60]!r}",
            param_hint="--admin-token-from",
        ) from None
    try:
        token = SecretResolver(secrets_dir).resolve(source)
    except ReconcilerError as error:
        typer.echo(f"error: --admin-token-from: {error.message}", err=True)
        raise typer.Exit(2) from None
    if not token.strip():
        typer.echo(f"error: --admin-token-from: {source.describe()} is empty", err=True)
        raise typer.Exit(2)
    return token.strip()


def serve_until_signalled(
    source: Source,
    options: RunOptions,
    *,
    admin_token: str | None = None,
    admin_oidc: AdminOidc | None = None,
) -> None:
    """Run a controller over `source` until SIGTERM/SIGINT; errors exit 1 with a message."""
    from ..console import console_for
    from ..controller.standalone import StandaloneController, run_until_signalled

    console = console_for(
        listen_host=options.listen_host, admin_token=admin_token, admin_oidc=admin_oidc
    )
    try:
        asyncio.run(run_until_signalled(StandaloneController(source, options, routes=console)))
    except ReconcilerError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
