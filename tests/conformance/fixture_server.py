"""The server the official MCP conformance suite tests: every fixture its server scenarios call.

`@modelcontextprotocol/conformance` (pinned beside this file) drives a server through fixed
names: tools `test_*` and `json_schema_2020_12_tool`, resources under `test://` with one
template, prompts `test_*`, argument completion, `logging/setLevel` and resource
subscriptions. This module declares each fixture once, in a small catalogue, and serves the
catalogue with the MCP SDK's low-level server:

    python fixture_server.py stdio        # spawned by a controller, as any stdio server
    python fixture_server.py http PORT    # http://127.0.0.1:PORT/mcp, the direct baseline

Over HTTP it keeps every event it sends in memory, so an SSE stream the server closes
mid-call can be resumed with `Last-Event-ID` (SEP-1699), and the SDK's DNS-rebinding
protection for a loopback host answers a foreign `Host` or `Origin` with a 4xx.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import warnings
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

# The scenarios speak protocol 2025-06-18 and 2025-11-25, where logging and sampling are
# current; the SDK warns that later revisions deprecate them.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

Context = ServerRequestContext[Any]
Arguments = dict[str, Any]
ToolHandler = Callable[[Context, Arguments], Awaitable[types.CallToolResult]]

NAME = "mcp-reconciler-conformance-fixture"
RESOURCE_NOT_FOUND = -32002
ONE_RED_PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC"
)
SILENT_WAV = "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YRAAAACAgICAgICAgICAgICAgICA"
SEVERITY: tuple[types.LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


# -- content blocks ------------------------------------------------------------------------


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def image() -> types.ImageContent:
    return types.ImageContent(type="image", data=ONE_RED_PIXEL_PNG, mime_type="image/png")


def audio() -> types.AudioContent:
    return types.AudioContent(type="audio", data=SILENT_WAV, mime_type="audio/wav")


def embedded(uri: str, mime_type: str, body: str) -> types.EmbeddedResource:
    contents = types.TextResourceContents(uri=uri, mime_type=mime_type, text=body)
    return types.EmbeddedResource(type="resource", resource=contents)


def answer(*blocks: types.ContentBlock, failed: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=list(blocks), is_error=failed)


# -- what each connection asked for (log floor, subscriptions) ------------------------------


@dataclass
class Peer:
    """One client connection's choices: its log floor and the resources it subscribed to."""

    log_floor: types.LoggingLevel = "debug"
    subscribed: set[str] = field(default_factory=set)


_peers: weakref.WeakKeyDictionary[ServerSession, Peer] = weakref.WeakKeyDictionary()


def peer(ctx: Context) -> Peer:
    return _peers.setdefault(ctx.session, Peer())


# -- tools -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    definition: types.Tool
    run: ToolHandler


TOOLS: dict[str, Tool] = {}


def tool(
    name: str, description: str, *, schema: dict[str, Any] | None = None
) -> Callable[[ToolHandler], ToolHandler]:
    """Register the decorated coroutine as the tool `name` (no arguments unless `schema`)."""

    def register(run: ToolHandler) -> ToolHandler:
        input_schema = schema or {"type": "object", "properties": {}}
        definition = types.Tool(name=name, description=description, input_schema=input_schema)
        TOOLS[name] = Tool(definition, run)
        return run

    return register


def one_string(name: str, description: str) -> dict[str, Any]:
    """The input schema of a tool taking one required string argument."""
    properties = {name: {"type": "string", "description": description}}
    return {"type": "object", "properties": properties, "required": [name]}


def returning(name: str, description: str, *blocks: types.ContentBlock) -> None:
    """Register a tool that always answers with the same content blocks."""

    async def run(ctx: Context, arguments: Arguments) -> types.CallToolResult:
        return answer(*blocks)

    tool(name, description)(run)


returning(
    "test_simple_text",
    "Answers with one text block",
    text("This is a simple text response for testing."),
)
returning("test_image_content", "Answers with a 1x1 PNG image", image())
returning("test_audio_content", "Answers with a short silent WAV clip", audio())
returning(
    "test_embedded_resource",
    "Answers with an embedded text resource",
    embedded("test://embedded-resource", "text/plain", "This is an embedded resource content."),
)
returning(
    "test_multiple_content_types",
    "Answers with text, an image and an embedded JSON resource",
    text("Multiple content types test:"),
    image(),
    embedded("test://mixed-content-resource", "application/json", '{"test":"data","value":123}'),
)


@tool("test_error_handling", "Fails every time, as a tool result with isError set")
async def error_handling(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    return answer(text("This tool intentionally returns an error for testing"), failed=True)


@tool("test_tool_with_logging", "Logs three info messages while it runs")
async def with_logging(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    floor = SEVERITY.index(peer(ctx).log_floor)
    for step, message in enumerate(("Tool execution started", "Processing", "Tool execution done")):
        if step:
            await anyio.sleep(0.05)
        if SEVERITY.index("info") >= floor:
            await ctx.session.send_log_message(
                "info", message, NAME, related_request_id=ctx.request_id
            )
    return answer(text("Tool with logging executed successfully"))


@tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100 (given a progressToken)")
async def with_progress(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    for done in (0, 50, 100):
        if done:
            await anyio.sleep(0.05)
        await ctx.session.report_progress(done, 100)  # does nothing without a progressToken
    return answer(text("Tool with progress executed successfully"))


@tool("test_reconnection", "Closes its SSE stream mid-call; the result follows the reconnection")
async def reconnection(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    if ctx.close_sse_stream is not None:  # HTTP with an event store, protocol >= 2025-11-25
        await ctx.close_sse_stream()
        await anyio.sleep(0.1)
    return answer(text("Reconnection test completed successfully"))


def back_channel_missing(ctx: Context, capability: str) -> types.CallToolResult | None:
    """An error result when the client cannot take a request of `capability` on this call."""
    declared = ctx.session.client_capabilities
    offered = declared is not None and getattr(declared, capability) is not None
    if offered and ctx.session.can_send_request:
        return None
    return answer(text(f"the client offers no {capability} on this connection"), failed=True)


@tool(
    "test_sampling",
    "Asks the client's LLM to complete a prompt",
    schema=one_string("prompt", "What to ask the LLM"),
)
async def sampling(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    if missing := back_channel_missing(ctx, "sampling"):
        return missing
    question = types.SamplingMessage(role="user", content=text(str(arguments.get("prompt", ""))))
    reply = await ctx.session.create_message(
        [question], max_tokens=100, related_request_id=ctx.request_id
    )
    said = reply.content.text if isinstance(reply.content, types.TextContent) else reply.content
    return answer(text(f"LLM response: {said}"))


async def elicit(ctx: Context, message: str, schema: dict[str, Any]) -> types.CallToolResult:
    if missing := back_channel_missing(ctx, "elicitation"):
        return missing
    reply = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
    return answer(
        text(f"User response: action={reply.action}, content={json.dumps(reply.content)}")
    )


USER_DETAILS = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "The user's name"},
        "email": {"type": "string", "description": "The user's email address"},
    },
    "required": ["username", "email"],
}
WITH_DEFAULTS = {  # SEP-1034: a default for every primitive type
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "default": True},
    },
}


def titled(*titles: str) -> list[dict[str, str]]:
    return [{"const": f"value{n}", "title": title} for n, title in enumerate(titles, start=1)]


EVERY_ENUM = {  # SEP-1330: single and multi select, titled and untitled, and the legacy form
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "oneOf": titled("First", "Second", "Third")},
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {"type": "array", "items": {"anyOf": titled("Red", "Green", "Blue")}},
    },
}


@tool(
    "test_elicitation",
    "Asks the user for a name and an email address",
    schema=one_string("message", "What to tell the user"),
)
async def elicitation(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    return await elicit(ctx, str(arguments.get("message", "")), USER_DETAILS)


@tool("test_elicitation_sep1034_defaults", "Asks the user to confirm defaults of every type")
async def elicitation_defaults(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    return await elicit(ctx, "Confirm or change these defaults", WITH_DEFAULTS)


@tool("test_elicitation_sep1330_enums", "Asks the user to choose in every kind of enum")
async def elicitation_enums(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    return await elicit(ctx, "Choose from each list", EVERY_ENUM)


@tool(
    "json_schema_2020_12_tool",
    "Takes arguments described with JSON Schema 2020-12 ($defs, $ref) (SEP-1613)",
    schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": False,
    },
)
async def json_schema_2020_12(ctx: Context, arguments: Arguments) -> types.CallToolResult:
    return answer(text(f"received {json.dumps(arguments, sort_keys=True)}"))


async def list_tools(
    ctx: Context, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[found.definition for found in TOOLS.values()])


async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
    found = TOOLS.get(params.name)
    if found is None:
        raise MCPError(types.INVALID_PARAMS, f"no tool named {params.name!r}")
    return await found.run(ctx, params.arguments or {})


# -- resources -------------------------------------------------------------------------------

Contents = types.TextResourceContents | types.BlobResourceContents
STATIC: dict[str, Contents] = {
    contents.uri: contents
    for contents in (
        types.TextResourceContents(
            uri="test://static-text",
            mime_type="text/plain",
            text="This is the content of the static text resource.",
        ),
        types.BlobResourceContents(
            uri="test://static-binary", mime_type="image/png", blob=ONE_RED_PIXEL_PNG
        ),
        types.TextResourceContents(
            uri="test://watched-resource", mime_type="text/plain", text="Watch me."
        ),
    )
}
TEMPLATE = types.ResourceTemplate(
    uri_template="test://template/{id}/data",
    name="template-data",
    description="JSON data for any id",
    mime_type="application/json",
)
TEMPLATE_URI = re.compile(r"test://template/(?P<id>[^/]+)/data")


def from_template(uri: str) -> Contents | None:
    matched = TEMPLATE_URI.fullmatch(uri)
    if matched is None:
        return None
    data = {"id": matched["id"], "templateTest": True, "data": f"Data for ID: {matched['id']}"}
    return types.TextResourceContents(uri=uri, mime_type="application/json", text=json.dumps(data))


async def list_resources(
    ctx: Context, params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    listed = [
        types.Resource(uri=uri, name=uri.removeprefix("test://"), mime_type=contents.mime_type)
        for uri, contents in STATIC.items()
    ]
    return types.ListResourcesResult(resources=listed)


async def list_templates(
    ctx: Context, params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(resource_templates=[TEMPLATE])


async def read_resource(
    ctx: Context, params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    uri = str(params.uri)
    contents = STATIC.get(uri) or from_template(uri)
    if contents is None:
        raise MCPError(RESOURCE_NOT_FOUND, f"no resource at {uri}", {"uri": uri})
    return types.ReadResourceResult(contents=[contents])


async def subscribe(ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
    peer(ctx).subscribed.add(str(params.uri))
    return types.EmptyResult()


async def unsubscribe(ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    peer(ctx).subscribed.discard(str(params.uri))
    return types.EmptyResult()


# -- prompts ---------------------------------------------------------------------------------

PromptBody = Callable[[Arguments], list[types.ContentBlock]]


@dataclass(frozen=True)
class Prompt:
    definition: types.Prompt
    body: PromptBody


PROMPTS: dict[str, Prompt] = {}


def prompt(name: str, description: str, **arguments: str) -> Callable[[PromptBody], PromptBody]:
    """Register the decorated function as the prompt `name`; keywords name required arguments."""

    def register(body: PromptBody) -> PromptBody:
        declared = [
            types.PromptArgument(name=arg, description=about, required=True)
            for arg, about in arguments.items()
        ]
        definition = types.Prompt(name=name, description=description, arguments=declared or None)
        PROMPTS[name] = Prompt(definition, body)
        return body

    return register


@prompt("test_simple_prompt", "A prompt without arguments")
def simple_prompt(arguments: Arguments) -> list[types.ContentBlock]:
    return [text("This is a simple prompt for testing.")]


@prompt(
    "test_prompt_with_arguments",
    "A prompt with two required arguments",
    arg1="The first argument",
    arg2="The second argument",
)
def prompt_with_arguments(arguments: Arguments) -> list[types.ContentBlock]:
    return [text(f"Prompt with arguments: arg1='{arguments['arg1']}', arg2='{arguments['arg2']}'")]


@prompt(
    "test_prompt_with_embedded_resource",
    "A prompt embedding the resource it is given",
    resourceUri="The URI of the resource to embed",
)
def prompt_with_resource(arguments: Arguments) -> list[types.ContentBlock]:
    resource = embedded(arguments["resourceUri"], "text/plain", "Embedded resource content.")
    return [resource, text("Please process the embedded resource above.")]


@prompt("test_prompt_with_image", "A prompt showing an image")
def prompt_with_image(arguments: Arguments) -> list[types.ContentBlock]:
    return [image(), text("Please describe the image above.")]


async def list_prompts(
    ctx: Context, params: types.PaginatedRequestParams | None
) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=[found.definition for found in PROMPTS.values()])


async def get_prompt(ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    found = PROMPTS.get(params.name)
    if found is None:
        raise MCPError(types.INVALID_PARAMS, f"no prompt named {params.name!r}")
    given = params.arguments or {}
    missing = [arg.name for arg in found.definition.arguments or [] if arg.name not in given]
    if missing:
        raise MCPError(types.INVALID_PARAMS, f"missing required arguments: {', '.join(missing)}")
    messages = [types.PromptMessage(role="user", content=block) for block in found.body(given)]
    return types.GetPromptResult(description=found.definition.description, messages=messages)


# -- completion and logging ------------------------------------------------------------------

SUGGESTIONS: dict[str, tuple[str, ...]] = {  # by argument (prompt argument or template variable)
    "arg1": ("paris", "park", "party"),
    "arg2": ("hello", "help", "world"),
    "resourceUri": tuple(STATIC),
    "id": ("1", "2", "3", "123"),
}


async def complete(ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
    typed = params.argument.value
    values = [v for v in SUGGESTIONS.get(params.argument.name, ()) if v.startswith(typed)]
    return types.CompleteResult(
        completion=types.Completion(values=values, total=len(values), has_more=False)
    )


async def set_log_floor(ctx: Context, params: types.SetLevelRequestParams) -> types.EmptyResult:
    peer(ctx).log_floor = params.level
    return types.EmptyResult()


# -- serving ---------------------------------------------------------------------------------


class RecentEvents(EventStore):
    """The last `keep` events sent on every SSE stream, so a client can resume one."""

    def __init__(self, keep: int = 5000) -> None:
        self._sent: deque[tuple[str, str, types.JSONRPCMessage | None]] = deque(maxlen=keep)
        self._ids = itertools.count(1)

    async def store_event(self, stream_id: str, message: types.JSONRPCMessage | None) -> str:
        event_id = f"{stream_id}/{next(self._ids)}"
        self._sent.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(
        self, last_event_id: str, send_callback: EventCallback
    ) -> str | None:
        ids = [event_id for event_id, _, _ in self._sent]
        if last_event_id not in ids:
            return None
        stream = self._sent[ids.index(last_event_id)][1]
        for event_id, stream_id, message in list(self._sent)[ids.index(last_event_id) + 1 :]:
            if stream_id == stream and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream


def build() -> Server[Any]:
    return Server(
        NAME,
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_set_logging_level=set_log_floor,
    )


async def serve_stdio() -> None:
    server = build()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve_http(port: int) -> None:
    # On a loopback host the SDK turns DNS-rebinding protection on by itself.
    app = build().streamable_http_app(
        host="127.0.0.1", event_store=RecentEvents(), retry_interval=500
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str]) -> None:
    match argv[1:]:
        case ["stdio"]:
            anyio.run(serve_stdio)
        case ["http", port] if port.isdigit():
            serve_http(int(port))
        case _:
            sys.exit(f"usage: {argv[0]} stdio | http PORT")


if __name__ == "__main__":
    main(sys.argv)
