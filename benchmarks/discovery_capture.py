"""Capture the tool definitions of public MCP servers into tests/data/discovery/catalogue.json.

The discovery evaluation (benchmarks/discovery.py) ranks against real definitions, not
invented ones. This script starts each server over stdio with placeholder credentials (the
servers list their tools without calling their services), asks `tools/list`, and writes
name, description and inputSchema per tool. It needs the npm packages installed in a
directory given as NODE_PREFIX (`npm install <package>...`) and the Python servers installed
in this environment; it is run by hand when the catalogue should be refreshed, not in CI.

    NODE_PREFIX=/tmp/cap python benchmarks/discovery_capture.py [SERVER...]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "discovery" / "catalogue.json"
DUMMY = "placeholder-credential"

# server name -> (npm binary or python console script, args, env)
SERVERS: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "everything": ("mcp-server-everything", ["stdio"], {}),
    "filesystem": ("mcp-server-filesystem", ["{tmp}"], {}),
    "memory": ("mcp-server-memory", [], {"MEMORY_FILE_PATH": "{tmp}/memory.json"}),
    "thinking": ("mcp-server-sequential-thinking", [], {}),
    "github": ("mcp-server-github", [], {"GITHUB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    "gitlab": ("mcp-server-gitlab", [], {"GITLAB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    "slack": ("mcp-server-slack", [], {"SLACK_BOT_TOKEN": DUMMY, "SLACK_TEAM_ID": "T0"}),
    "brave": ("mcp-server-brave-search", [], {"BRAVE_API_KEY": DUMMY}),
    "maps": ("mcp-server-google-maps", [], {"GOOGLE_MAPS_API_KEY": DUMMY}),
    "postgres": ("mcp-server-postgres", ["postgresql://127.0.0.1:1/none"], {}),
    "redis": ("mcp-server-redis", ["redis://127.0.0.1:1"], {}),
    "playwright": ("playwright-mcp", ["--headless"], {}),
    "notion": ("notion-mcp-server", [], {"NOTION_TOKEN": DUMMY}),
    "kubernetes": ("mcp-server-kubernetes", [], {}),
    "firecrawl": ("firecrawl-mcp", [], {"FIRECRAWL_API_KEY": DUMMY}),
    "tavily": ("tavily-mcp", [], {"TAVILY_API_KEY": DUMMY}),
    "context7": ("context7-mcp", [], {}),
    "exa": ("exa-mcp-server", [], {"EXA_API_KEY": DUMMY}),
    "azure-devops": ("mcp-server-azuredevops", ["example-org"], {}),
    "heroku": ("heroku-mcp-server", [], {"HEROKU_API_KEY": DUMMY}),
    "stripe": ("mcp", [f"--api-key=rk_test_{DUMMY}"], {}),
    "desktop": ("desktop-commander", [], {}),
    "puppeteer": ("mcp-server-puppeteer", [], {}),
    "supabase": ("mcp-server-supabase", [f"--access-token={DUMMY}"], {}),
    "sqlite": ("mcp-server-sqlite-npx", ["{tmp}/db.sqlite"], {}),
    "chrome-devtools": ("chrome-devtools-mcp", [], {}),
    "browser-automation": ("playwright-mcp-server", [], {}),
    "hubspot": ("mcp-hubspot", [], {"PRIVATE_APP_ACCESS_TOKEN": DUMMY}),
    "sentry": ("sentry-mcp", [f"--access-token={DUMMY}"], {}),
    "time": ("mcp-server-time", [], {}),
    "fetch": ("mcp-server-fetch", [], {}),
    "git": ("mcp-server-git", ["--repository", "{tmp}"], {}),
}


async def capture(name: str, command: str, args: list[str], env: dict[str, str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        if name == "git":
            subprocess.run(["git", "init", "-q", tmp], check=True)  # noqa: ASYNC221
        params = StdioServerParameters(
            command=command,
            args=[a.replace("{tmp}", tmp) for a in args],
            env={
                "PATH": os.environ["PATH"],
                **{k: v.replace("{tmp}", tmp) for k, v in env.items()},
            },
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await asyncio.wait_for(session.initialize(), 60)
            tools, cursor = [], None
            while True:
                page = (
                    await session.list_tools(cursor=cursor)
                    if cursor
                    else await session.list_tools()
                )
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
    return [
        {"name": t.name, "description": t.description or "", "inputSchema": t.input_schema}
        for t in tools
    ]


async def main() -> None:
    prefix = Path(os.environ.get("NODE_PREFIX", "tests")) / "node_modules" / ".bin"
    catalogue: dict[str, list[dict]] = json.loads(OUT.read_text()) if OUT.exists() else {}
    wanted = sys.argv[1:] or list(SERVERS)
    for name, (command, args, env) in SERVERS.items():
        if name not in wanted:
            continue
        binary = prefix / command
        script = Path(sys.executable).parent / command
        resolved = str(binary if binary.exists() else script)
        try:
            catalogue[name] = await asyncio.wait_for(capture(name, resolved, args, env), 90)
        except Exception as error:  # a server that cannot start here is left out, loudly
            print(f"{name}: not captured: {error!r}", file=sys.stderr)
            continue
        print(f"{name}: {len(catalogue[name])} tools", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(catalogue, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{sum(map(len, catalogue.values()))} tools from {len(catalogue)} servers -> {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
