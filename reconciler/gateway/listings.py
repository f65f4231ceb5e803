"""What a suite's servers list beyond tools: resources, resource templates and prompts.

The catalog fans listings out to the servers that offer them and merges the answers:
resources keep their URIs (a read goes to the server that listed the URI, or whose
template matches it), prompts get the suite's naming policy, like tools. It remembers who
subscribed to which resource, so a server's `notifications/resources/updated` reaches only
those sessions, and unsubscribes upstream when the last one leaves. On a suite with
ToolPermissions, a caller reaches a server's resources, prompts and completions only when
its rules allow at least one of that server's tools.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from .config import server_name
from .context import RequestContext, Services
from .forwarding import forward
from .naming import POLICIES, Candidate
from .rpc import INVALID_PARAMS, Message, RpcError
from .sessions import CallerSession

logger = logging.getLogger(__name__)

MAX_PAGES = 100
"""Pages followed per server and listing."""


def _template_regex(template: str) -> re.Pattern[str]:
    """A URI template (RFC 6570, level 1-2 expressions) as a pattern matching its URIs."""
    parts = re.split(r"(\{[^}]*\})", template)
    body = "".join(
        (".*" if part[1:2] in "+#" else "[^/?#]*") if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{body}$")


class Catalog:
    """Resources, templates and prompts of every suite, with where each one lives."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._prompt_names: dict[str, dict[str, tuple[str, str]]] = {}
        self._resource_servers: dict[str, dict[str, str]] = {}
        self._templates: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        self._subscribers: dict[tuple[str, str], set[str]] = {}

    def forget(self) -> None:
        """Drop cached prompt names and resource locations (new configuration or lists)."""
        self._prompt_names.clear()
        self._resource_servers.clear()
        self._templates.clear()

    def subscribers(self, server: str, uri: str) -> set[str]:
        """Ids of the sessions subscribed to `uri` of `server`."""
        return set(self._subscribers.get((server, uri), ()))

    def _offers(self, server: str, capability: str) -> bool:
        info = self.services.server_info(server)
        capabilities = info.get("capabilities") if info else None
        return isinstance(capabilities, dict) and isinstance(capabilities.get(capability), dict)

    def reachable(self, ctx: RequestContext, capability: str) -> list[str]:
        """Servers offering `capability` whose resources/prompts the subject may reach."""
        suite = ctx.suite
        access = suite.access_for(ctx.session.subject)
        reachable = []
        for server in suite.servers:
            if not self._offers(server, capability):
                continue
            if access.rules is not None:
                tools = [r.tool for r in suite.tools.values() if r.server == server]
                if not any(access.allows(server, t) for t in tools) and not access.allows(
                    server, "*"
                ):
                    continue
            reachable.append(server)
        return reachable

    async def _list_all(
        self, ctx: RequestContext, servers: list[str], method: str, key: str
    ) -> list[tuple[str, list[Any]]]:
        """Every page of `method` from each server, concurrently; a failing server adds nothing."""

        async def pages(server: str) -> tuple[str, list[Any]]:
            items: list[Any] = []
            cursor: Any = None
            for _ in range(MAX_PAGES):
                answer = await forward(ctx, server, method, {"cursor": cursor} if cursor else {})
                found = answer.get(key)
                if isinstance(found, list):
                    items.extend(found)
                cursor = answer.get("nextCursor")
                if not cursor:
                    break
            return server, items

        listed = await asyncio.gather(*(pages(s) for s in servers), return_exceptions=True)
        out: list[tuple[str, list[Any]]] = []
        for server, found in zip(servers, listed, strict=True):
            if isinstance(found, BaseException):
                if isinstance(found, asyncio.CancelledError):
                    raise found
                logger.info("%s from server %s failed: %s", method, server, found)
                continue
            out.append(found)
        return out

    # -- handlers --------------------------------------------------------------------

    async def resources_list(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        listed = await self._list_all(
            ctx, self.reachable(ctx, "resources"), "resources/list", "resources"
        )
        where = self._resource_servers.setdefault(ctx.suite.name, {})
        resources: list[Any] = []
        for server, items in listed:
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("uri"), str):
                    where.setdefault(item["uri"], server)
                    resources.append(item)
        return {"resources": resources}

    async def templates_list(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        listed = await self._list_all(
            ctx, self.reachable(ctx, "resources"), "resources/templates/list", "resourceTemplates"
        )
        self._templates[ctx.suite.name] = [
            (_template_regex(item["uriTemplate"]), server)
            for server, items in listed
            for item in items
            if isinstance(item, dict) and isinstance(item.get("uriTemplate"), str)
        ]
        return {"resourceTemplates": [item for _, items in listed for item in items]}

    async def _server_of_uri(self, ctx: RequestContext, uri: Any) -> str:
        """The server that holds a resource URI: listed, else matching a template."""
        if not isinstance(uri, str) or not uri:
            raise RpcError(INVALID_PARAMS, "params.uri must be a non-empty string")
        reachable = self.reachable(ctx, "resources")
        for attempt in range(2):
            server = self._resource_servers.get(ctx.suite.name, {}).get(uri)
            if server in reachable:
                return server
            for pattern, candidate in self._templates.get(ctx.suite.name, []):
                if candidate in reachable and pattern.match(uri):
                    return candidate
            if attempt == 0:
                await self.resources_list(ctx, {})
                await self.templates_list(ctx, {})
        if len(reachable) == 1:
            return reachable[0]
        raise RpcError(INVALID_PARAMS, f"Resource not found: {uri[:200]}", {"uri": uri})

    async def resource_request(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        server = await self._server_of_uri(ctx, params.get("uri"))
        return await forward(ctx, server, "resources/read", params)

    async def subscribe(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        uri = params.get("uri")
        server = await self._server_of_uri(ctx, uri)
        answer = await forward(ctx, server, "resources/subscribe", params)
        self._subscribers.setdefault((server, str(uri)), set()).add(ctx.session.id)
        ctx.session.subscriptions.add((server, str(uri)))
        return answer

    async def unsubscribe(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        uri = str(params.get("uri"))
        for key in [k for k in ctx.session.subscriptions if k[1] == uri]:
            ctx.session.subscriptions.discard(key)
            holders = self._subscribers.get(key, set())
            holders.discard(ctx.session.id)
            if not holders:
                self._subscribers.pop(key, None)
                await forward(ctx, key[0], "resources/unsubscribe", params)
        return {}

    def drop_subscriptions(self, session: CallerSession) -> None:
        """Forget an ended session's subscriptions; unsubscribe upstream when it was the last."""
        for key in session.subscriptions:
            holders = self._subscribers.get(key)
            if holders is None:
                continue
            holders.discard(session.id)
            if not holders:
                del self._subscribers[key]
                upstream = self.services.upstream(key[0])
                if upstream is not None:
                    self.services.spawn(
                        upstream.request("resources/unsubscribe", {"uri": key[1]}, timeout=10)
                    )
        session.subscriptions.clear()

    async def prompts_list(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        listed = await self._list_all(
            ctx, self.reachable(ctx, "prompts"), "prompts/list", "prompts"
        )
        priority = {server_name(m.server): m.priority for m in ctx.suite.members}
        qualified = {server_name(server): server for server, _ in listed}
        raw: dict[tuple[str, str], dict[str, Any]] = {}
        for server, items in listed:
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    raw[(server_name(server), item["name"])] = item
        naming = POLICIES[ctx.suite.conflict_resolution].assign(
            Candidate(server, name, name, priority.get(server, 0)) for server, name in raw
        )
        self._prompt_names[ctx.suite.name] = {
            exposed: (qualified[c.server], c.original) for exposed, c in naming.exposed.items()
        }
        prompts = [
            {**raw[(c.server, c.original)], "name": exposed}
            for exposed, c in naming.exposed.items()
        ]
        return {"prompts": prompts}

    async def _prompt_route(self, ctx: RequestContext, name: Any) -> tuple[str, str]:
        if not isinstance(name, str) or not name:
            raise RpcError(INVALID_PARAMS, "the prompt name must be a non-empty string")
        routes = self._prompt_names.get(ctx.suite.name)
        if routes is None or name not in routes:
            await self.prompts_list(ctx, {})
            routes = self._prompt_names.get(ctx.suite.name, {})
        if name not in routes:
            raise RpcError(INVALID_PARAMS, f"Unknown prompt: {name[:200]}")
        return routes[name]

    async def prompts_get(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        server, original = await self._prompt_route(ctx, params.get("name"))
        return await forward(ctx, server, "prompts/get", {**params, "name": original})

    async def complete(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        ref = params.get("ref")
        if not isinstance(ref, dict):
            raise RpcError(INVALID_PARAMS, "params.ref must be an object")
        if ref.get("type") == "ref/prompt":
            server, original = await self._prompt_route(ctx, ref.get("name"))
            return await forward(
                ctx, server, "completion/complete", {**params, "ref": {**ref, "name": original}}
            )
        if ref.get("type") == "ref/resource":
            server = await self._server_of_uri(ctx, ref.get("uri"))
            return await forward(ctx, server, "completion/complete", params)
        raise RpcError(INVALID_PARAMS, "params.ref.type must be ref/prompt or ref/resource")
