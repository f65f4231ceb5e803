"""Workflow tool chains: the template language of their steps and the engine running them.

    chain = Chain.build(workflow.name, workflow.spec.steps)    # raises ChainError
    result = await chain.run(arguments, call, on_step=observer)

Pure logic over an injected `call(server, tool, arguments, timeout)`: the gateway passes
its own forwarding to upstream servers; nothing here does I/O.
"""

from __future__ import annotations

from .engine import Chain, ChainError, StepCall, StepObserver, StepRecord, result_text
from .templating import Scope, TemplateError, condition, parse, render, truthy

__all__ = [
    "Chain",
    "ChainError",
    "Scope",
    "StepCall",
    "StepObserver",
    "StepRecord",
    "TemplateError",
    "condition",
    "parse",
    "render",
    "result_text",
    "truthy",
]
