"""Credentials written inline in a server's spec: env values, headers, the URL, arguments.

Secrets are referenced (`valueFrom: {secretKeyRef}` or `{env}`), never written into YAML
that is committed, diffed and printed. A literal value that is obviously a credential
(`reconciler.core.redaction.credential_kind`) is a validation error naming the field; the
message never repeats the value.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.models import MCPServer
from ..core.redaction import credential_kind, has_marker


def inline_message(kind: str | None) -> str:
    return (
        f"looks like {kind} written inline; keep it in a secret and reference it with "
        "valueFrom: {secretKeyRef: {name, key}} or {env: VAR}"
    )


def inline_credentials(server: MCPServer) -> Iterator[tuple[str, str]]:
    """(field path, message) for every literal credential in the server's spec."""
    spec = server.spec
    for i, variable in enumerate(spec.env):
        if variable.value is not None:
            kind = credential_kind(variable.value, name=variable.name)
            if kind is not None:
                yield f"spec.env.{i}.value", inline_message(kind)
    for i, header in enumerate(spec.headers):
        if header.value is not None:
            kind = credential_kind(header.value, name=header.name, header=True)
            if kind is not None:
                yield f"spec.headers.{i}.value", inline_message(kind)
    if spec.url is not None and (kind := credential_kind(spec.url)) is not None:
        yield "spec.url", inline_message(kind)
    args = spec.args
    joined = "\n".join(args)  # no marker spans a line break: one scan for all arguments
    if "=" not in joined and not has_marker(joined):
        return  # no shape in any argument, and no `--name=value` to judge by its name
    for i, arg in enumerate(args):
        kind = credential_kind(arg)
        if kind is None and arg.startswith("-"):  # `--api-key=VALUE`: VALUE in API_KEY
            name, _, value = arg.lstrip("-").partition("=")
            kind = credential_kind(value, name=name) if value else None
        if kind is not None:
            yield f"spec.args.{i}", inline_message(kind)
