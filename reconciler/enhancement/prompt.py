"""The prompt that asks for an enhancement, and the keys that identify one.

`PROMPT_VERSION` changes whenever the prompt's meaning changes, so every cached result is
then written again. A result is keyed by SHA-256 over the tool's name, description and
input schema, the style, the model and the prompt version: the same tool asked of the same
model in the same style is enhanced once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..core.hashing import digest
from ..llm.base import CompletionRequest
from ..llm.vocabulary import CATEGORIES
from .output import OUTPUT_SCHEMA

PROMPT_VERSION: Final = "1"
SCHEMA_NAME: Final = "tool_enhancement"

STYLE_GUIDES: Final[dict[str, str]] = {
    "concise": (
        "concise: one or two plain sentences: what the tool does, then its required "
        "parameters by name with a few words each. No lists, no markdown headings."
    ),
    "detailed": (
        "detailed: a first sentence saying what the tool does and when to use it, then a "
        "'Parameters:' list with every parameter (name in backticks, type, required or "
        "optional, meaning), then what it returns if known."
    ),
    "technical": (
        "technical: like detailed, and also each parameter's constraints (allowed values, "
        "ranges, defaults, formats), the shape of the result, and side effects."
    ),
}
MAX_OUTPUT_TOKENS: Final[dict[str, int]] = {"concise": 600, "detailed": 1200, "technical": 1500}
EXPECTED_OUTPUT_TOKENS: Final[dict[str, int]] = {"concise": 180, "detailed": 400, "technical": 550}
"""Typical answer length, for cost estimates before spending."""

SYSTEM_PROMPT: Final = f"""\
You improve the descriptions of tools that AI agents call through the Model Context \
Protocol. Given a tool's name, its current description and its JSON input schema, write:

- description: a better description in the requested style. Say what the tool does and \
when an agent should use it. Name every required parameter exactly as the schema spells \
it, in backticks. Never mention a parameter that is not in the schema, and never invent \
behaviour the name, description and schema do not support. Sentence case, no marketing.
- keywords: 3 to 10 lower-case search terms.
- categories: 1 to 3 of: {", ".join(CATEGORIES)} (best first; general if none fits).
- useCases: 1 to 3 short imperative phrases, e.g. "Convert a meeting time between zones".
- hints: readOnly (changes nothing), destructive (may delete or overwrite), idempotent \
(calling twice equals once), openWorld (reaches systems outside the server: web, email).

Answer with the JSON object only."""


def tool_fingerprint(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a tool that an enhancement depends on."""
    return {
        "name": tool.get("name"),
        "description": tool.get("description"),
        "inputSchema": tool.get("inputSchema"),
    }


def cache_key(tool: Mapping[str, Any], *, style: str, model: str) -> str:
    """SHA-256 over tool name, description, input schema, style, model and prompt version."""
    value = {**tool_fingerprint(tool), "style": style, "model": model, "prompt": PROMPT_VERSION}
    return digest(value)


def render_request(
    tool: Mapping[str, Any], *, style: str, feedback: Sequence[str] = ()
) -> CompletionRequest:
    """The request for one tool; `feedback` lists what was wrong with the previous answer."""
    schema = tool.get("inputSchema") or {"type": "object"}
    required = schema.get("required") if isinstance(schema, Mapping) else None
    lines = [
        f"Style: {STYLE_GUIDES.get(style, STYLE_GUIDES['concise'])}",
        "",
        f"Tool name: {tool.get('name')}",
        f"Current description: {tool.get('description') or '(none)'}",
        "Required parameters: "
        + (", ".join(f"`{name}`" for name in required) if required else "(none)"),
        "Input schema:",
        json.dumps(schema, indent=1, ensure_ascii=False, sort_keys=True),
    ]
    if feedback:
        lines += ["", "Your previous answer was rejected. Fix these problems:"]
        lines += [f"- {problem}" for problem in feedback]
    return CompletionRequest(
        system=SYSTEM_PROMPT,
        prompt="\n".join(lines),
        schema=OUTPUT_SCHEMA,
        schema_name=SCHEMA_NAME,
        max_output_tokens=MAX_OUTPUT_TOKENS.get(style, 600),
        temperature=0.2,
        context={"tool": dict(tool), "style": style},
    )
