"""The work of `mcp-reconciler diff PATH... [--against GITREF|DIR | --cluster]` (the
command itself is in `diff`): what PATH would change.

Offline, for CI: the other side is a directory, or the same paths at a git ref of the
repository they live in (read from git objects; the working tree is not touched).
Exit 0 no changes, 2 changes, 1 invalid input or unreadable source. Imports no typer:
`diff` starts without it when its arguments are plain (`reconciler.cli.offline`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from ..core.desired import DesiredState
from ..core.errors import Problem, SourceError, StateError
from ..core.redaction import redact
from ..diffing import diff_states
from ..loading.loader import DocumentMemo, LoadResult, load_documents, load_paths
from ..render import render
from ..render.json import FORMAT
from .echo import echo
from .settings import Output, resolve_state_dir

EXIT_NO_CHANGES = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


def run_diff(
    paths: list[Path],
    *,
    against: str | None,
    cluster: bool,
    namespace: str,
    kubeconfig: Path | None,
    context: str | None,
    output: Output,
    state_dir: Path | None,
) -> int:
    """Compare PATHS with the other side, print the diff in `output`; the exit status."""
    memo = DocumentMemo()  # a document unchanged on the other side is read once
    new = load_paths(paths, memo=memo)
    after_label = " ".join(str(p) for p in paths)
    tools: dict[str, list[str]] | None = None
    if cluster and against is not None:
        _fail(output, "give --against or --cluster, not both")
    try:
        if cluster:
            old, before_label = _cluster_side(namespace, kubeconfig, context)
        elif against is None:
            from ..controller.live import live_state

            live = live_state(resolve_state_dir(state_dir))
            old, before_label, tools = live.result, f"live {live.revision}", live.tools
        elif Path(against).is_dir():
            old, before_label = load_paths([Path(against)], memo=memo), against
        else:
            from ..sources.gitrefs import read_tree_files, revision_of  # imports GitPython

            files = [file for path in paths for file in read_tree_files(path, against)]
            before_label = revision_of(paths[0], against)
            # The paths did not exist at the ref: everything in them is new.
            old = (
                load_documents(files, revision=before_label, memo=memo)
                if files
                else LoadResult(DesiredState(revision=before_label))
            )
    except (SourceError, StateError) as error:
        _fail(output, error.message)
    side = (
        f"the cluster (namespace {namespace})"
        if cluster
        else "the live state"
        if against is None
        else f"--against {against}"
    )
    _check(output, (side, old), (after_label, new))
    assert old.state is not None
    assert new.state is not None
    result = diff_states(old.state, new.state, tools=tools)
    if output == Output.text:
        for warning in new.warnings:
            echo(str(warning), err=True)
    labelled = replace(result, before_revision=before_label, after_revision=after_label)
    echo(redact(render(labelled, output.value, color=_color())), nl=False)
    return EXIT_CHANGES if labelled.has_changes else EXIT_NO_CHANGES


def _cluster_side(
    namespace: str, kubeconfig: Path | None, context: str | None
) -> tuple[LoadResult, str]:
    """The custom resources in the cluster, as the other side of the diff."""
    from ..operator import cluster_observed

    try:
        desired, _ = cluster_observed(namespace, kubeconfig=kubeconfig, context=context)
    except Exception as error:  # the Kubernetes client's errors: config, network, API
        raise SourceError(
            f"cannot read the cluster ({type(error).__name__}: {error}); check --kubeconfig "
            "and --context, and that the CRDs are installed (kubectl apply -f crds/)"
        ) from None
    label = f"cluster {context or 'current context'}/{namespace}"
    desired.revision = label
    return LoadResult(desired), label


def _check(output: Output, *sides: tuple[str, LoadResult]) -> None:
    """Exit 1 with every problem of every invalid side."""
    invalid = [(label, result) for label, result in sides if not result.ok]
    if not invalid:
        return
    if output == Output.json:
        problems: list[dict[str, object]] = []
        for label, result in invalid:
            problems += [{**p.to_dict(), "side": label} for p in result.errors]
        echo(json.dumps({"format": FORMAT, "error": "invalid input", "problems": problems}))
    else:
        for label, result in invalid:
            echo(f"invalid input in {label}:", err=True)
            for problem in result.errors or [Problem("could not be loaded")]:
                echo(f"  {problem}", err=True)
    raise SystemExit(EXIT_ERROR)


def _fail(output: Output, message: str) -> NoReturn:
    if output == Output.json:
        echo(json.dumps({"format": FORMAT, "error": message, "problems": []}))
    else:
        echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_ERROR)


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
