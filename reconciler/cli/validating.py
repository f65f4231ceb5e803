"""The work of `mcp-reconciler validate PATH...` (the command itself is in `validate`).

Schema and cross-reference check, for humans and CI.

Exit 0 when valid (warnings are printed but do not fail), 1 when invalid. A stdio server
declaring `sandbox` on a machine where bubblewrap cannot confine it is a warning: the
controller would hold it Stalled (SandboxUnavailable) rather than run it unconfined. Text output
prints each problem as `FILE:LINE: Kind/name: field: message` on stderr, then a summary;
`-o json` prints `{"valid", "resources", "revision", "problems"}` on stdout; `-o markdown`
a list fit for a pull-request comment. Imports no typer: `validate` starts without it
when its arguments are plain (`reconciler.cli.offline`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..core.errors import Problem
from ..core.models import KINDS, MCPServer
from ..loading.loader import LoadResult, load_paths
from .echo import echo
from .settings import Output

_KIND_WORDS = {
    "MCPServer": ("server", "servers"),
    "MCPSuite": ("suite", "suites"),
    "ToolPermission": ("permission", "permissions"),
    "LLMProvider": ("provider", "providers"),
    "Workflow": ("workflow", "workflows"),
    "ToolLock": ("tool lock", "tool locks"),
}


def run_validate(paths: list[Path], *, output: Output, bwrap: str) -> int:
    """Load and check PATHS, print the outcome in `output`; the exit status (0 valid, 1 not)."""
    try:
        result = load_paths(paths)
    except Exception as exc:  # a bug must still end in a message and exit 1, not a traceback
        result = LoadResult(
            None,
            [Problem(f"internal error while loading ({type(exc).__name__}); please report it")],
        )
    result.problems.extend(_sandbox_warnings(result, bwrap))
    if output == Output.json:
        import json  # only for `-o json`

        echo(json.dumps(_as_json(result), indent=2))
    elif output == Output.markdown:
        echo(_as_markdown(result))
    else:
        for problem in result.problems:
            echo(str(problem), err=True)
        if result.ok:
            echo(_valid_summary(result))
        else:
            echo(_invalid_summary(result), err=True)
    return 0 if result.ok else 1


def _sandbox_warnings(result: LoadResult, bwrap: str) -> list[Problem]:
    """One warning per sandboxed stdio server when this machine cannot sandbox it."""
    if result.state is None:
        return []
    sandboxed = [
        server
        for server in result.state.of_kind(MCPServer)
        if server.spec.sandbox is not None and server.spec.command is not None
    ]
    if not sandboxed:
        return []
    from ..controller.confinement import sandbox_problem

    problem = sandbox_problem(bwrap)
    if problem is None:
        return []
    warnings = []
    for server in sandboxed:
        origin = result.state.origins.get(server.key)
        warnings.append(
            Problem(
                f"this machine cannot sandbox it, so `run` keeps it Stalled"
                f" (SandboxUnavailable): {problem}",
                file=origin.file if origin else None,
                line=origin.line_of("spec.sandbox") if origin else None,
                resource=f"MCPServer/{server.name}",
                field="spec.sandbox",
                severity="warning",
            )
        )
    return warnings


def _as_json(result: LoadResult) -> dict[str, object]:
    return {
        "valid": result.ok,
        "resources": len(result.state) if result.state is not None else result.documents,
        "revision": result.state.revision if result.state is not None else None,
        "problems": [p.to_dict() for p in result.problems],
    }


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _valid_summary(result: LoadResult) -> str:
    assert result.state is not None
    kinds = Counter(key.kind for key in result.state.resources)
    parts = [_count(kinds[kind], *_KIND_WORDS[kind]) for kind in KINDS if kinds[kind]]
    summary = f"valid: {_count(len(result.state), 'resource')} ({', '.join(parts)})"
    if result.warnings:
        summary += f"; {_count(len(result.warnings), 'warning')}"
    return summary


def _invalid_summary(result: LoadResult) -> str:
    errors = result.errors
    files = {p.file for p in errors if p.file is not None}
    summary = _count(len(errors), "error")
    if files:
        summary += f" in {_count(len(files), 'file')}"
    if result.warnings:
        summary += f", {_count(len(result.warnings), 'warning')}"
    return summary


def _as_markdown(result: LoadResult) -> str:
    title = _valid_summary(result) if result.ok else _invalid_summary(result)
    lines = [f"**{title}**"]
    if result.problems:
        lines.append("")
    for p in result.problems:
        where = f"{p.file}:{p.line}" if p.file is not None and p.line is not None else p.file
        head = " ".join(f"`{part}`" for part in (where, p.resource, p.field) if part)
        severity = "warning" if p.severity == "warning" else "error"
        lines.append(f"- {severity}: {head}: {p.message}" if head else f"- {severity}: {p.message}")
    return "\n".join(lines)
