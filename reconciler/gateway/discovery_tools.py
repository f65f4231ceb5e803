"""A suite in `discovery.mode: search`: `find_tools` and `call_tool` instead of every tool.

`tools/list` of such a suite holds the two tools, plus every tool `find_tools` has returned
to this session (so a client that follows `notifications/tools/list_changed` can call them
by name). `find_tools` ranks the tools the caller may see — the same set `tools/list`
would hold in `all` mode, so permissions and withheld tools apply unchanged — and returns
their full definitions. `call_tool` calls one by name: the call goes through the ordinary
tools/call path, so permissions, rate limits, usage records and metrics see the real tool.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..discovery import DenseIndex, DenseQuery, Embedder, ToolDocument, ToolIndex
from .calls import call_tool
from .config import SuiteConfig, ToolRoute
from .context import RequestContext
from .rpc import INVALID_PARAMS, Message, RpcError, notification
from .sessions import CallerSession

logger = logging.getLogger(__name__)

FIND_TOOLS: Final = "find_tools"
CALL_TOOL: Final = "call_tool"
MAX_QUERY_CHARS: Final = 1000
QUERY_CACHE: Final = 256
"""Query embeddings kept (a repeated query costs no provider call)."""
ENHANCEMENT_META: Final = "dev.mcp-reconciler/enhancement"

FIND_DEFINITION: Final[Message] = {
    "name": FIND_TOOLS,
    "title": "Find tools",
    "description": (
        "Search this endpoint's tools by what you want to do, in plain words "
        "(e.g. 'take a screenshot of a web page'). Returns the best matching tools with "
        "their name, description and input schema; call one by name, or through call_tool."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What you want to do, in plain words."},
            "limit": {"type": "integer", "minimum": 1, "description": "Most tools to return."},
        },
        "required": ["query"],
    },
    "annotations": {"readOnlyHint": True, "openWorldHint": False},
}
CALL_DEFINITION: Final[Message] = {
    "name": CALL_TOOL,
    "title": "Call a tool",
    "description": (
        "Call a tool that find_tools returned, by its name, with its arguments (an object "
        "matching that tool's input schema)."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The tool's name, as find_tools gave it."},
            "arguments": {"type": "object", "description": "The tool's arguments."},
        },
        "required": ["name"],
    },
}


class SearchServices(Protocol):
    """What search mode needs from the gateway."""

    def visible_tools(self, suite: SuiteConfig, subject: str) -> tuple[list[dict[str, Any]], str]:
        """The tool definitions the subject may call, and a fingerprint of them."""
        ...

    def embedder(self, suite: SuiteConfig) -> Embedder | None:
        """The suite's embedder, when it declares embeddings that can be had."""
        ...


def document(route: ToolRoute) -> ToolDocument:
    """What the index searches of a served tool: its served text and enhancement metadata."""
    definition = route.definition
    meta = definition.get("_meta")
    enhancement = meta.get(ENHANCEMENT_META) if isinstance(meta, Mapping) else None
    enhancement = enhancement if isinstance(enhancement, Mapping) else {}
    schema = definition.get("inputSchema")
    return ToolDocument(
        id=route.exposed,
        server=route.server,
        name=route.tool,
        title=str(definition.get("title") or ""),
        description=str(definition.get("description") or ""),
        input_schema=schema if isinstance(schema, Mapping) else {},
        keywords=_strings(enhancement.get("keywords")),
        categories=_strings(enhancement.get("categories")),
        use_cases=_strings(enhancement.get("useCases")),
    )


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass
class _SuiteIndex:
    suite: SuiteConfig
    index: ToolIndex
    dense: DenseIndex = field(default_factory=DenseIndex)
    embedding: asyncio.Task[None] | None = None
    """Tools being embedded in the background (find_tools ranks lexically meanwhile)."""
    embedded_version: int | None = None
    """The index version whose tools were (or are being) embedded."""


class SearchMode:
    """Serves the suites in search mode: their listing, `find_tools` and `call_tool`."""

    def __init__(self, services: SearchServices) -> None:
        self.services = services
        self.visible_tools = services.visible_tools
        self._indexes: dict[str, _SuiteIndex] = {}
        self._queries: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._allowed: dict[tuple[str, str, str], frozenset[str]] = {}

    def listing(self, suite: SuiteConfig, session: CallerSession) -> tuple[list[Message], str]:
        """The session's tools/list in search mode, and a fingerprint of it."""
        tools, fingerprint = self.visible_tools(suite, session.subject)
        found = [t for t in tools if t.get("name") in session.discovered]
        digest = hashlib.sha256(
            f"{fingerprint}:{','.join(sorted(t['name'] for t in found))}".encode()
        ).hexdigest()
        return [FIND_DEFINITION, CALL_DEFINITION, *found], f"search:{digest}"

    def handles(self, suite: SuiteConfig, name: object) -> bool:
        return suite.discovery == "search" and name in (FIND_TOOLS, CALL_TOOL)

    async def call(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        """tools/call of `find_tools` or `call_tool`."""
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "tools/call arguments must be an object")
        if params.get("name") == CALL_TOOL:
            return await self._call(ctx, params, arguments)
        return await self._find(ctx, arguments)

    async def _call(
        self, ctx: RequestContext, params: dict[str, Any], arguments: dict[str, Any]
    ) -> Message:
        name = arguments.get("name")
        inner = arguments.get("arguments")
        if not isinstance(name, str) or name in (FIND_TOOLS, CALL_TOOL):
            raise RpcError(INVALID_PARAMS, "call_tool needs the name of a tool find_tools returned")
        forwarded = {k: v for k, v in params.items() if k not in ("name", "arguments")}
        forwarded["name"] = name
        if inner is not None:
            forwarded["arguments"] = inner
        return await call_tool(ctx, forwarded)

    async def _find(self, ctx: RequestContext, arguments: dict[str, Any]) -> Message:
        suite, session = ctx.suite, ctx.session
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise RpcError(INVALID_PARAMS, "find_tools needs a query: what you want to do")
        if len(query) > MAX_QUERY_CHARS:
            raise RpcError(INVALID_PARAMS, f"query is longer than {MAX_QUERY_CHARS} characters")
        limit = arguments.get("limit", suite.max_results)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise RpcError(INVALID_PARAMS, "limit must be a positive integer")
        limit = min(limit, suite.max_results)
        tools, fingerprint = self.visible_tools(suite, session.subject)
        allowed = self._allowed_names(suite, session.subject, fingerprint, tools)
        entry = self._index(suite)
        index = entry.index
        if not index.ready:
            await asyncio.to_thread(index.build)
        dense = await self._dense(suite, entry, query)
        matches = index.search(query, allowed=allowed, limit=limit, dense=dense)
        by_name = {t["name"]: t for t in tools}
        found = [by_name[m.document.id] for m in matches if m.document.id in by_name]
        self._remember(session, suite, [t["name"] for t in found])
        results = [
            {k: t[k] for k in ("name", "title", "description", "inputSchema") if k in t}
            for t in found
        ]
        text = json.dumps({"tools": results}, ensure_ascii=False)
        return {
            "content": [{"type": "text", "text": text}],
            "structuredContent": {"tools": results},
        }

    def _remember(self, session: CallerSession, suite: SuiteConfig, names: Sequence[str]) -> None:
        """Add found tools to the session's listing; tell the client when it grew."""
        new = set(names) - session.discovered
        if not new:
            return
        session.discovered |= new
        _, fingerprint = self.listing(suite, session)
        if session.visible != fingerprint:
            session.visible = fingerprint
            if session.initialized:
                session.push(notification("notifications/tools/list_changed"))

    def _allowed_names(
        self, suite: SuiteConfig, subject: str, fingerprint: str, tools: list[dict[str, Any]]
    ) -> frozenset[str]:
        key = (suite.name, subject, fingerprint)
        allowed = self._allowed.get(key)
        if allowed is None:
            if len(self._allowed) > 1024:
                self._allowed.clear()
            allowed = self._allowed[key] = frozenset(str(t["name"]) for t in tools)
        return allowed

    async def _dense(self, suite: SuiteConfig, entry: _SuiteIndex, query: str) -> DenseQuery | None:
        """The embedding side of a search, when the suite has embeddings: tools missing a
        vector are embedded in the background; a failing provider means lexical ranking."""
        try:
            embedder = self.services.embedder(suite)
            if embedder is None:
                return None
            busy = entry.embedding is not None and not entry.embedding.done()
            if entry.embedded_version != entry.index.version and not busy:
                entry.embedded_version = entry.index.version
                documents = list(entry.index.documents)
                entry.embedding = asyncio.ensure_future(entry.dense.ensure(documents, embedder))
                entry.embedding.add_done_callback(lambda task: _embedded(entry, task))
            key = (embedder.model, query)
            vector = self._queries.get(key)
            if vector is None:
                (vector,) = await embedder.embed([query])
                self._queries[key] = vector
                if len(self._queries) > QUERY_CACHE:
                    self._queries.popitem(last=False)
            return DenseQuery(entry.dense, vector, embedder.model)
        except Exception as error:  # the provider failing must not fail find_tools
            logger.warning(
                "embeddings for suite %s failed, ranking lexically: %s", suite.name, error
            )
            return None

    def _index(self, suite: SuiteConfig) -> _SuiteIndex:
        """The suite's index, brought up to date with the suite's routes when they changed."""
        entry = self._indexes.get(suite.name)
        if entry is None:
            entry = self._indexes[suite.name] = _SuiteIndex(suite, ToolIndex())
            entry.index.update(document(r) for r in suite.tools.values())
        elif entry.suite is not suite:
            entry.suite = suite
            entry.index.update(document(r) for r in suite.tools.values())
        return entry

    def forget(self, suites: Mapping[str, SuiteConfig]) -> None:
        """Drop the indexes of suites no longer served in search mode."""
        for name in list(self._indexes):
            kept = suites.get(name)
            if kept is None or kept.discovery != "search":
                del self._indexes[name]
        self._allowed.clear()


def _embedded(entry: _SuiteIndex, task: asyncio.Task[None]) -> None:
    """After embedding the tools: on failure, log and let the next find_tools retry."""
    if task.cancelled() or task.exception() is not None:
        entry.embedded_version = None
        if not task.cancelled():
            logger.warning("embedding tools failed, ranking lexically: %s", task.exception())
