"""The web console in a real headless Chromium, against a real `mcp-reconciler run`.

One browser and one controller (a hostile server and mcp-server-time in one suite) serve
every test of the module; the remote-access test starts its own controllers on 0.0.0.0.
Screenshots go to the test's artefacts dir (`CONSOLE_ARTEFACTS`, default a tmp dir).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import TESTS, python_server
from tests.controller_harness import Controller, server_doc, suite_doc, wait_for, write_yaml

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOT_TOKEN = "bot-token-for-console-tests"
pytestmark = pytest.mark.slow


def call_tool(url: str, token: str, tool: str, **arguments: str) -> dict[str, Any]:
    """One tools/call through the gateway's streamable HTTP endpoint, as a client makes it."""
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
    }
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        hello = {"protocolVersion": "2025-06-18", "capabilities": {},
                 "clientInfo": {"name": "console-test", "version": "1"}}  # fmt: skip
        opened = client.post("/suites/guarded/mcp",
                             json={"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                   "params": hello})  # fmt: skip
        opened.raise_for_status()
        client.headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        client.post("/suites/guarded/mcp",
                    json={"jsonrpc": "2.0", "method": "notifications/initialized"})  # fmt: skip
        called = client.post("/suites/guarded/mcp",
                             json={"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                   "params": {"name": tool, "arguments": arguments}})  # fmt: skip
        answer: dict[str, Any] = called.json()
        return answer


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("CONSOLE_ARTEFACTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("console-artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    root = tmp_path_factory.mktemp("console")
    resources = root / "resources"
    resources.mkdir()
    time_cmd = [python_server("mcp-server-time"), "--local-timezone", "UTC"]
    write_yaml(
        resources / "all.yaml",
        server_doc("hostile", [sys.executable, str(TESTS / "servers" / "hostile.py")]),
        server_doc("clock", time_cmd),
        suite_doc("main", ["hostile", "clock"]),
        suite_doc("guarded", ["clock"]),
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "ToolPermission",
            "metadata": {"name": "bot"},
            "spec": {
                "suites": ["guarded"],
                "subjects": [{"name": "bot", "tokenFrom": {"env": "BOT_TOKEN"}}],
                "rules": [
                    {"action": "allow", "tools": ["clock.*"]},
                    {"action": "deny", "tools": ["clock.convert_time"]},
                ],
            },
        },
    )
    running = Controller(root / "state", str(resources), env={"BOT_TOKEN": BOT_TOKEN})
    try:
        running.wait_ready("hostile", "clock", timeout=60)
        yield running
    finally:
        running.terminate()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context()
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{message.type}: {message.text}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    yield opened, problems
    context.close()


def test_overview_shows_servers_suites_and_revision_without_console_errors(
    controller: Controller, page: tuple[Page, list[str]], artefacts: Path
) -> None:
    tab, problems = page
    url = controller.gateway_url()
    response = tab.goto(f"{url}/ui/")
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    for name in ("default/hostile", "default/clock"):
        row = tab.locator(f'#servers tr[data-server="{name}"]')
        expect(row).to_contain_text("Ready")
    expect(tab.locator("#suites")).to_contain_text(f"{url}/suites/main/mcp")
    expect(tab.locator("#revisions")).to_contain_text("Succeeded")
    expect(tab.locator("#live")).to_have_class("live on")
    tab.screenshot(path=artefacts / "overview.png", full_page=True)
    tab.goto(f"{url}/ui/servers/default/clock")
    expect(tab.locator("#tools")).to_contain_text("get_current_time")
    tab.screenshot(path=artefacts / "server.png", full_page=True)
    assert problems == []


def test_an_untrusted_tool_description_renders_as_text(
    controller: Controller, page: tuple[Page, list[str]], artefacts: Path
) -> None:
    tab, problems = page
    tab.goto(f"{controller.gateway_url()}/ui/servers/default/hostile")
    upstream = tab.locator("#tools td.upstream").first
    expect(upstream).to_contain_text("<script>window.__pwned = 1</script>")
    expect(upstream).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    assert tab.locator("#tools script, #tools img").count() == 0
    expect(tab.locator("#log")).to_contain_text("hostile server starting <b>up</b>")
    assert tab.evaluate("window.__pwned") is None
    tab.screenshot(path=artefacts / "hostile.png", full_page=True)
    assert problems == []


def test_a_server_killed_from_outside_shows_its_restart_live(
    controller: Controller, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    before = controller.wait_ready("clock")["clock"]
    tab.goto(f"{controller.gateway_url()}/ui/")
    row = tab.locator('#servers tr[data-server="default/clock"]')
    expect(row.locator("td.pid")).to_have_text(str(before["pid"]))
    tab.evaluate("window.__notReloaded = true")
    os.kill(before["pid"], signal.SIGKILL)
    expect(row.locator("td.restarts")).to_have_text(str(before["restarts"] + 1), timeout=30_000)
    expect(row).to_contain_text("Ready", timeout=30_000)
    expect(row.locator("td.pid")).not_to_have_text(str(before["pid"]))
    assert tab.evaluate("window.__notReloaded") is True
    assert problems == []


def test_the_access_matrix_shows_what_the_gateway_enforces(
    controller: Controller, page: tuple[Page, list[str]], artefacts: Path
) -> None:
    tab, problems = page
    url = controller.gateway_url()
    tab.goto(f"{url}/ui/suites/guarded")
    expect(tab.locator("#suite")).to_contain_text(f"{url}/suites/guarded/mcp")
    expect(tab.locator("#clients")).to_contain_text("claude mcp add --transport http")
    row = tab.locator('#access tr[data-subject="bot"]')
    allowed = row.locator('td[data-tool="clock_get_current_time"]')
    denied = row.locator('td[data-tool="clock_convert_time"]')
    expect(allowed).to_contain_text("allowed")
    expect(allowed).to_contain_text("allow: clock.*")
    expect(denied).to_contain_text("denied")
    expect(denied).to_contain_text("deny: clock.convert_time")
    tab.screenshot(path=artefacts / "suite.png", full_page=True)
    allowed_call = call_tool(url, BOT_TOKEN, "clock_get_current_time", timezone="UTC")
    assert allowed_call["result"].get("isError") is not True
    refused = call_tool(url, BOT_TOKEN, "clock_convert_time")
    assert "error" in refused or refused["result"].get("isError") is True
    tab.goto(f"{url}/ui/usage")
    expect(tab.locator('section[data-window="1h"]')).to_contain_text("get_current_time")
    tab.screenshot(path=artefacts / "usage.png", full_page=True)
    assert problems == []


def test_restart_from_the_server_page_starts_a_new_process(
    controller: Controller, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    before = controller.wait_ready("clock")["clock"]
    tab.goto(f"{controller.gateway_url()}/ui/servers/default/clock")
    expect(tab.locator("#server td.pid")).to_have_text(str(before["pid"]))
    with tab.expect_navigation():
        tab.get_by_role("button", name="Restart").click()
    expect(tab.locator("#server td.pid")).not_to_have_text(str(before["pid"]), timeout=30_000)
    expect(tab.locator("#server")).to_contain_text("Ready", timeout=30_000)
    assert problems == []


def test_reconcile_now_needs_the_pages_csrf_token_and_origin(
    controller: Controller, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    url = controller.gateway_url()
    tab.goto(f"{url}/ui/")
    with tab.expect_navigation():
        tab.get_by_role("button", name="Reconcile now").click()
    assert tab.url == f"{url}/ui/"
    csrf = tab.locator('form.action input[name="csrf"]').get_attribute("value")
    assert csrf
    with httpx.Client(base_url=url) as client:
        forged = client.post("/ui/actions/reconcile", data={"csrf": "0" * 64},
                             headers={"origin": url})  # fmt: skip
        assert forged.status_code == 403
        cross = client.post("/ui/actions/reconcile", data={"csrf": csrf},
                            headers={"origin": "http://evil.example"})  # fmt: skip
        assert cross.status_code == 403
        rebound = client.get("/ui/", headers={"host": "evil.example"})
        assert rebound.status_code == 421
    assert problems == []


def test_a_non_loopback_listener_refuses_the_console_without_the_admin_token(
    browser: Browser, tmp_path: Path
) -> None:
    resources = tmp_path / "resources"
    resources.mkdir()
    token = "console-admin-token-for-tests"
    guarded = Controller(
        tmp_path / "guarded",
        str(resources),
        "--admin-token-from",
        "env:CONSOLE_TOKEN",
        env={"CONSOLE_TOKEN": token},
        listen="0.0.0.0:0",
    )
    unset = Controller(tmp_path / "unset", str(resources), listen="0.0.0.0:0")
    try:
        port = guarded.gateway_url().rpartition(":")[2]
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url) as client:
            assert client.get("/ui/").status_code == 401
            wrong = client.get("/ui/", headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert client.get("/ui/stream").status_code == 401
            right = client.get("/ui/", headers={"authorization": f"Bearer {token}"})
            assert right.status_code == 200
        unset_port = unset.gateway_url().rpartition(":")[2]
        refused = httpx.get(f"http://127.0.0.1:{unset_port}/ui/")
        assert refused.status_code == 403
        assert "--admin-token-from" in refused.text
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(f"{url}/ui/")
        expect(tab.locator("h1")).to_have_text("401")
        tab.fill('input[name="token"]', token)
        with tab.expect_navigation():
            tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator("h1")).to_have_text("Overview")
        context.close()
        log = wait_for(lambda: guarded.log.read_text(), what="controller log")
        assert token not in log
    finally:
        guarded.terminate()
        unset.terminate()
