"""Defaults of the resource models: what an omitted field becomes.

A list or dict field's factory is a Python function, never the builtin (`empty_list`):
pydantic reads the signature of a builtin only by tokenizing its text signature.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic.fields import FieldInfo

from reconciler.core.models import MCPServer, MCPSuite
from reconciler.core.models.base import Strict


def every_model(cls: type[Strict] = Strict) -> Iterator[type[Strict]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from every_model(sub)


def fields_with_a_factory() -> Iterator[tuple[str, FieldInfo]]:
    for model in every_model():
        for name, info in model.model_fields.items():
            if info.default_factory is not None:
                yield f"{model.__name__}.{name}", info


def test_no_default_is_made_by_a_builtin() -> None:
    builtins = [
        where for where, info in fields_with_a_factory() if info.default_factory in (list, dict)
    ]
    assert builtins == []


def test_defaults_of_a_minimal_server_and_suite() -> None:
    server = MCPServer.model_validate(
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "MCPServer",
            "metadata": {"name": "time"},
            "spec": {"command": "mcp-server-time"},
        },
        by_alias=True,
    )
    assert server.spec.args == []
    assert server.spec.env == []
    assert server.spec.tools.include == ["*"]
    assert (
        server.spec.restart.backoff.model_dump() == type(server.spec.restart.backoff)().model_dump()
    )
    assert server.spec.health_check.model_fields_set == set()
    assert server.metadata.labels == {}
    suite = MCPSuite.model_validate(
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "MCPSuite",
            "metadata": {"name": "s"},
            "spec": {},
        },
        by_alias=True,
    )
    assert suite.spec.sessions == type(suite.spec.sessions)()
    assert suite.spec.servers == []
    # each default is a new value, never one shared between resources
    other = MCPServer.model_validate(server.model_dump(by_alias=True, exclude_unset=True))
    assert other == server
    assert other.spec.args is not server.spec.args
    assert other.spec.restart is not server.spec.restart
    assert other.spec.restart.backoff is not server.spec.restart.backoff
