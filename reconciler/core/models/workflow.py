"""Workflow: a task context that keeps servers running, optionally a tool chain."""

from typing import Any, ClassVar, Literal

from pydantic import Field

from .base import Name, Resource, ResourceStatus, Strict, empty_dict, empty_list

WORKFLOW_SERVER = "workflow"
"""The server part under which rules and tool names address a workflow: `workflow.<name>`."""


class Retry(Strict):
    """Retries of a failed step."""

    attempts: int = Field(default=1, ge=1, le=100)
    """Total attempts, the first included."""
    backoff_seconds: float = Field(default=1, ge=0, le=3600)
    """Delay between attempts, doubled after each."""


class Step(Strict):
    """One tool call of a chain."""

    id: Name
    """Step id, referenced as `steps.<id>.result`."""
    tool: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[^.\s]+$")
    """Tool to call, as `<server>.<tool>`."""
    arguments: dict[str, Any] = Field(default_factory=empty_dict)
    """Arguments; strings may use `{{ inputs.x }}` and `{{ steps.<id>.result }}`."""
    depends_on: list[Name] = Field(default_factory=empty_list)
    """Steps that must finish first."""
    when: str | None = None
    """Condition template; the step runs when it renders to a true value."""
    retry: Retry = Field(default_factory=Retry)
    """Retries on failure."""
    timeout_seconds: float = Field(default=60, gt=0, le=86400)
    """Timeout of one attempt."""
    on_error: Literal["abort", "continue"] = "abort"
    """`abort` stops the chain with an error; `continue` goes on without this step's result."""


class WorkflowSpec(Strict):
    """Desired state of a workflow."""

    active: bool = True
    """While true, the servers of `suites` run even if their `autoStart` is false."""
    description: str | None = None
    """What the workflow does; the description of its tool in the gateway."""
    suites: list[Name] = Field(default_factory=empty_list)
    """Suites whose servers must run while the workflow is active."""
    inputs: dict[str, Any] | None = None
    """JSON Schema of the inputs of the chain."""
    steps: list[Step] = Field(default_factory=empty_list)
    """The chain, served by the gateway as one tool named after the workflow."""


class Workflow(Resource):
    """A task context."""

    kind_name: ClassVar[str] = "Workflow"
    plural: ClassVar[str] = "workflows"
    short_names: ClassVar[tuple[str, ...]] = ("mcpwf",)

    kind: Literal["Workflow"] = "Workflow"
    """Always `Workflow`."""
    spec: WorkflowSpec
    """Desired state."""
    status: ResourceStatus | None = None
    """Observed state (written by the controller)."""
