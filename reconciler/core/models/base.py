"""Shared building blocks of every resource: metadata, value sources, status conditions.

Field names in YAML are camelCase (``workingDir``); the Python attributes are snake_case.
Every model is strict: an unknown field is an error, never silently dropped.
"""

import ipaddress
import re
from typing import Annotated, Any, ClassVar, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

API_GROUP = "mcp.reconciler.dev"
API_VERSION_NAME = "v1alpha1"
API_VERSION: Final = "mcp.reconciler.dev/v1alpha1"
DEFAULT_NAMESPACE = "default"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def empty_list() -> list[Any]:
    """A new empty list: the default of list fields, `Field(default_factory=empty_list)`.

    This and `empty_dict`, rather than `list` and `dict`: pydantic reads the signature of
    each default factory when it builds a validator, a Python function's at once, a
    builtin's by tokenizing its text signature (3 % of a `validate`).
    """
    return []


def empty_dict() -> dict[Any, Any]:
    """A new empty dict: the default of mapping fields (see `empty_list`)."""
    return {}


class Strict(BaseModel):
    """Base of every model: camelCase aliases, unknown fields rejected.

    Validators are built on first use. A field whose default is a model keeps
    `Field(default_factory=Model)`, although calling `Model()` builds that model's own
    validator: `Model.model_construct` would spare the build (a few milliseconds at
    start-up) but makes each default five to twenty times slower, a second over the two
    loads of a 10,000-server `diff`.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        defer_build=True,
    )


Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    ),
]
"""A DNS-1123 label: lower-case letters, digits and '-', at most 63 characters."""


class ObjectMeta(Strict):
    """Identity of a resource, as in Kubernetes."""

    name: Name
    """Name, unique per kind and namespace."""
    namespace: Name | None = None
    """Namespace; `default` when omitted."""
    labels: dict[str, str] = Field(default_factory=empty_dict)
    """Labels, used by suite selectors. Changing them never restarts a server."""
    annotations: dict[str, str] = Field(default_factory=empty_dict)
    """Free-form annotations."""
    generation: int | None = Field(default=None, exclude=True)
    """Set by Kubernetes; ignored in files."""
    resource_version: str | None = Field(default=None, exclude=True)
    """Set by Kubernetes; ignored in files."""
    uid: str | None = Field(default=None, exclude=True)
    """Set by Kubernetes; ignored in files."""
    creation_timestamp: str | None = Field(default=None, exclude=True)
    """Set by Kubernetes; ignored in files."""

    @property
    def ns(self) -> str:
        return self.namespace or DEFAULT_NAMESPACE


class SecretKeyRef(Strict):
    """A key of a secret: a Kubernetes Secret, or `<secrets-dir>/<name>/<key>` standalone."""

    name: Name
    """Secret name."""
    key: str = Field(min_length=1, pattern=r"^[-._a-zA-Z0-9]+$")
    """Key inside the secret."""


class ValueSource(Strict):
    """Where a secret value comes from. Exactly one of `secretKeyRef` or `env`."""

    secret_key_ref: SecretKeyRef | None = None
    """A key of a secret."""
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """An environment variable of the controller."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.secret_key_ref is None) == (self.env is None):
            raise ValueError("set exactly one of secretKeyRef or env")
        return self

    def describe(self) -> str:
        """A printable reference that never contains the secret itself."""
        if self.secret_key_ref is not None:
            return f"secret {self.secret_key_ref.name}/{self.secret_key_ref.key}"
        return f"env ${self.env}"


def reject_inline_secret(value: Any) -> Any:
    """Turn a literal secret into a clear error before pydantic reports a type mismatch."""
    if isinstance(value, str):
        raise ValueError(
            "secret written inline; reference it instead with "
            "{secretKeyRef: {name, key}} or {env: VAR}"
        )
    return value


def is_loopback_host(host: str | None) -> bool:
    """True for `localhost` and addresses in 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class NamedValue(Strict):
    """An environment variable or header: a literal `value` or a `valueFrom` reference."""

    name: str = Field(min_length=1)
    """Variable or header name."""
    value: str | None = None
    """Literal value (not for secrets)."""
    value_from: ValueSource | None = None
    """Reference to a secret or to a controller environment variable."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.value is not None and self.value_from is not None:
            raise ValueError("set either value or valueFrom, not both")
        if self.value is None and self.value_from is None:
            raise ValueError("set value or valueFrom")
        return self


ConditionType = Literal["Ready", "Reconciling", "Stalled"]


class Condition(Strict):
    """A Kubernetes-style condition."""

    type: ConditionType | str
    """`Ready`, `Reconciling` or `Stalled`."""
    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds."""
    reason: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    """CamelCase reason, machine-readable."""
    message: str = ""
    """Human-readable explanation."""
    last_transition_time: str | None = None
    """RFC 3339 time of the last status change."""
    observed_generation: int | None = None
    """Generation the condition was computed from."""


class ResourceStatus(Strict):
    """Status common to every kind; written by the controller, never by users."""

    observed_generation: int | None = None
    """Generation last reconciled."""
    phase: str | None = None
    """One-word summary for tables (`Ready`, `Pending`, `Failed`, ...)."""
    conditions: list[Condition] = Field(default_factory=empty_list)
    """Ready, Reconciling and Stalled."""
    message: str | None = None
    """Latest human-readable summary."""


class Resource(Strict):
    """Common envelope: apiVersion, kind, metadata, spec, status."""

    kind_name: ClassVar[str]
    plural: ClassVar[str]
    short_names: ClassVar[tuple[str, ...]] = ()

    api_version: Literal["mcp.reconciler.dev/v1alpha1"] = API_VERSION
    """Always `mcp.reconciler.dev/v1alpha1`."""
    metadata: ObjectMeta
    """Name, namespace, labels, annotations."""

    @field_validator("api_version", mode="before")
    @classmethod
    def _api_version(cls, value: Any) -> Any:
        if value != API_VERSION:
            raise ValueError(f"unknown apiVersion {value!r}; expected {API_VERSION!r}")
        return value

    @property
    def key(self) -> "ResourceKey":
        metadata = self.metadata
        return _new_key(
            ResourceKey, (self.kind_name, metadata.namespace or DEFAULT_NAMESPACE, metadata.name)
        )

    @property
    def name(self) -> str:
        return self.metadata.name


class ResourceKey(tuple[str, str, str]):
    """(kind, namespace, name): the identity of a resource."""

    __slots__ = ()

    def __new__(cls, kind: str, namespace: str, name: str) -> "ResourceKey":
        return _new_key(cls, (kind, namespace, name))

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def namespace(self) -> str:
        return self[1]

    @property
    def name(self) -> str:
        return self[2]

    @property
    def qualified_name(self) -> str:
        """`name` in the default namespace, `namespace/name` elsewhere."""
        return qualified_name(self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.qualified_name}"


_new_key = tuple.__new__
"""Builds a ResourceKey from its three parts without going through `__new__` (the key of
every resource is taken tens of thousands of times in a large diff)."""


def qualified_name(namespace: str, name: str) -> str:
    """How a resource is named where namespaces meet (the gateway, status, events): its name
    in the default namespace, `namespace/name` elsewhere. Names and namespaces are DNS
    labels, so the two forms never collide."""
    return name if namespace == DEFAULT_NAMESPACE else f"{namespace}/{name}"


def split_qualified(qualified: str) -> tuple[str, str]:
    """(namespace, name) of a qualified name: `namespace/name`, or `name` in the default
    namespace."""
    namespace, _, name = qualified.rpartition("/")
    return namespace or DEFAULT_NAMESPACE, name


def named(key: ResourceKey, wanted: str) -> bool:
    """Whether `wanted`, as a person types it, names the resource: `namespace/name` names
    one namespace's; a bare `name` names it in any namespace (the caller says when that
    is ambiguous)."""
    namespace, _, name = wanted.rpartition("/")
    return key.name == name and (not namespace or key.namespace == namespace)


def is_dns_label(value: str) -> bool:
    return bool(_DNS_LABEL.match(value)) and len(value) <= 63
