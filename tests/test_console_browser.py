"""The web console in a real headless Chromium, against a real `mcp-reconciler run`.

One browser and one controller serve every test of the module: a hostile server (markup
in a description, a poisoned tool, enhanced by the offline provider) and mcp-server-time,
both pinned by `mcp-reconciler lock` and then edited (hostile's poisoned tool left out,
clock under `warn` with one hash changed); suites `main` (search discovery), `guarded`
(a ToolPermission) and `metered` (the usage test's own). The remote-access test starts its
own controllers on 0.0.0.0, with an admin token and an OIDC issuer. Screenshots of every
page go to the artefacts dir (`CONSOLE_ARTEFACTS`, default a tmp dir).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import TESTS, python_server
from tests.controller_harness import (
    Controller,
    server_doc,
    suite_doc,
    write_yaml,
)
from tests.oidc_issuer import OidcIssuer
from tests.polling import wait_for

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


def call_tools(
    url: str,
    calls: list[tuple[str, dict[str, Any]]],
    *,
    suite: str = "guarded",
    token: str | None = BOT_TOKEN,
) -> list[tuple[dict[str, Any], float]]:
    """tools/call requests in one session through the gateway's streamable HTTP endpoint,
    as a client makes them: each answer with its round trip in ms, as the client saw it."""
    headers = {"accept": "application/json, text/event-stream"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    path = f"/suites/{suite}/mcp"
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        hello = {"protocolVersion": "2025-06-18", "capabilities": {},
                 "clientInfo": {"name": "console-test", "version": "1"}}  # fmt: skip
        opened = client.post(path, json={"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                         "params": hello})  # fmt: skip
        opened.raise_for_status()
        client.headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        client.post(path, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        answers = []
        for number, (tool, arguments) in enumerate(calls, start=2):
            started = time.perf_counter()
            request = {"jsonrpc": "2.0", "id": number, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}}  # fmt: skip
            called = client.post(path, json=request)
            answers.append((called.json(), (time.perf_counter() - started) * 1000))
        return answers


def call_tool(url: str, token: str, tool: str, **arguments: str) -> dict[str, Any]:
    """One tools/call on the suite `guarded`."""
    return call_tools(url, [(tool, arguments)], token=token)[0][0]


def failed(answer: dict[str, Any]) -> bool:
    return "error" in answer or answer["result"].get("isError") is True


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
        server_doc(
            "hostile",
            [sys.executable, str(TESTS / "servers" / "hostile.py")],
            enhancement={"providerRef": "local"},
        ),
        server_doc("clock", time_cmd, healthCheck={"intervalSeconds": 1}),
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "LLMProvider",
            "metadata": {"name": "local"},
            "spec": {"type": "builtin"},
        },
        suite_doc("main", ["hostile", "clock"], discovery={"mode": "search", "maxResults": 3}),
        suite_doc("guarded", ["clock"]),
        suite_doc("metered", ["hostile"]),
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
        pin_and_edit_locks(running, resources)
        yield running
    finally:
        running.terminate()


def pin_and_edit_locks(running: Controller, resources: Path) -> None:
    """`mcp-reconciler lock` from the running controller, then a reviewer's edits: the
    poisoned `notes` left out of hostile's lock, clock under `warn` with `convert_time`'s
    hash changed (drifted, still served). Waits until the controller judged the new locks.

    The command runs in this process (the real command, no interpreter start)."""
    from typer.testing import CliRunner

    from reconciler.cli.app import app

    args = ["lock", str(resources), "--server", "hostile", "--server", "clock"]
    locked = CliRunner().invoke(app, [*args, "--state-dir", str(running.state_dir)])
    assert locked.exit_code == 0, locked.output
    lock_file = resources / "tools.lock.yaml"
    locks = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(lock_file.read_text())}
    del locks["hostile"]["spec"]["tools"]["notes"]
    locks["clock"]["spec"]["mode"] = "warn"
    locks["clock"]["spec"]["tools"]["convert_time"]["sha256"] = "0" * 64
    write_yaml(lock_file, *locks.values())
    url = running.gateway_url()
    wait_for(
        lambda: 'data-lock="drifted"' in httpx.get(f"{url}/ui/servers/default/clock").text,
        what="clock's convert_time judged drifted",
    )


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
    main_suite = tab.locator("#suites tr", has_text=f"{url}/suites/main/mcp")
    expect(main_suite.locator("td.discovery")).to_have_text("search")
    expect(tab.locator("#revisions")).to_contain_text("Succeeded")
    expect(tab.locator("#live")).to_have_class("live on")
    tab.screenshot(path=artefacts / "overview.png", full_page=True)
    tab.screenshot(
        path=artefacts / "overview-top.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": 800},
    )
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
    assert problems == []


def test_the_server_page_shows_lock_scan_and_enhancement_state_per_tool(
    controller: Controller, page: tuple[Page, list[str]], artefacts: Path
) -> None:
    tab, problems = page
    url = controller.gateway_url()
    tab.goto(f"{url}/ui/servers/default/hostile")
    expect(tab.locator("#lock-mode")).to_contain_text("enforce")
    expect(tab.locator("#withheld")).to_have_text("notes")
    echo, notes = (
        tab.locator('#tools tr[data-tool="echo"]'),
        tab.locator('#tools tr[data-tool="notes"]'),
    )
    expect(echo.locator("td.lock")).to_have_attribute("data-lock", "locked")
    expect(echo.locator("td.lock")).to_have_attribute("data-withheld", "false")
    expect(echo.locator("td.enhancement")).to_have_attribute(
        "data-enhancement", re.compile("enhanced|cached"), timeout=30_000
    )
    expect(notes.locator("td.lock")).to_have_attribute("data-lock", "unlocked")
    expect(notes.locator("td.lock")).to_have_attribute("data-withheld", "true")
    expect(notes.locator("td.lock")).to_contain_text("not in the lock")
    finding = notes.locator('li[data-finding="instructions-to-model"]')
    expect(finding).to_have_attribute("data-severity", "high")
    expect(finding).to_contain_text("withheld")
    expect(notes.locator('li[data-finding="sensitive-paths"]')).to_contain_text(".ssh/id_rsa")
    tab.screenshot(path=artefacts / "server-hostile-locked.png", full_page=True)

    tab.goto(f"{url}/ui/servers/default/clock")
    expect(tab.locator("#lock-mode")).to_contain_text("warn")
    expect(tab.locator("#withheld")).to_have_text("none")
    now = tab.locator('#tools tr[data-tool="get_current_time"]')
    convert = tab.locator('#tools tr[data-tool="convert_time"]')
    expect(now.locator("td.lock")).to_have_attribute("data-lock", "locked")
    expect(convert.locator("td.lock")).to_have_attribute("data-lock", "drifted")
    expect(convert.locator("td.lock")).to_have_attribute("data-withheld", "false")
    expect(convert.locator("td.lock")).to_contain_text("drifted from the lock")
    expect(convert.locator("td.scan")).to_have_text("none")
    expect(now.locator("td.enhancement")).to_have_attribute("data-enhancement", "off")
    expect(tab.locator("#health-strip")).to_be_visible()
    tab.screenshot(path=artefacts / "server-clock.png", full_page=True)
    assert problems == []


def test_the_suite_page_shows_discovery_mode_and_withheld_tools(
    controller: Controller, page: tuple[Page, list[str]], artefacts: Path
) -> None:
    tab, problems = page
    url = controller.gateway_url()
    tab.goto(f"{url}/ui/suites/main")
    discovery = tab.locator("#discovery")
    expect(discovery).to_have_attribute("data-mode", "search")
    expect(discovery).to_contain_text("find_tools")
    expect(discovery).to_contain_text("at most 3 tools")
    withheld = tab.locator("#suite-withheld")
    expect(withheld).to_contain_text("hostile_notes")
    expect(withheld).to_contain_text("not in the lock")
    tab.screenshot(path=artefacts / "suite-search.png", full_page=True)
    tab.goto(f"{url}/ui/suites/guarded")
    expect(tab.locator("#discovery")).to_have_attribute("data-mode", "all")
    expect(tab.locator("#suite-withheld")).to_have_count(0)
    assert problems == []


def _figures(tab: Page, window: str, tool: str) -> dict[str, Any]:
    """What the usage page of `window` shows for `server.tool`: table and chart."""
    row = tab.locator(f'section[data-window="{window}"] tr[data-tool="{tool}"]')
    chart = row.locator("svg.spark")
    per_bucket = [int(n) for n in (chart.get_attribute("data-calls") or "").split()]
    errors = [int(n) for n in (chart.get_attribute("data-errors") or "").split()]
    return {
        "calls": int(row.locator("td.calls").inner_text()),
        "errors": int(row.locator("td.errors").inner_text()),
        "p50": float(row.locator("td.p50").inner_text().removesuffix(" ms")),
        "p95": float(row.locator("td.p95").inner_text().removesuffix(" ms")),
        "chart_calls": sum(per_bucket),
        "chart_errors": sum(errors),
        "buckets": len(per_bucket),
        "title": chart.locator("title").text_content() or "",
    }


def test_usage_charts_count_the_calls_made_through_the_gateway(
    controller: Controller, page: tuple[Page, list[str]], artefacts: Path
) -> None:
    tab, problems = page
    url = controller.gateway_url()
    answers = call_tools(
        url,
        [("hostile_echo", {"text": f"call {n}"}) for n in range(7)]
        + [("hostile_echo", {}), ("hostile_echo", {"text": 5})]  # invalid: tool errors
        + [("hostile_notes", {"note": "x"})],  # withheld by the scan
        suite="metered",
        token=None,
    )
    assert [failed(answer) for answer, _ in answers] == [False] * 7 + [True] * 3
    slowest_echo = max(ms for _, ms in answers[:9])

    for window, buckets in (("1h", 12), ("24h", 24), ("7d", 28)):
        tab.goto(f"{url}/ui/usage?window={window}")
        expect(tab.locator(f'nav.windows a[data-window="{window}"]')).to_have_class("current")
        echo = _figures(tab, window, "hostile.echo")
        assert (echo["calls"], echo["errors"]) == (9, 2), window
        assert (echo["chart_calls"], echo["chart_errors"]) == (9, 2), window
        assert echo["buckets"] == buckets
        assert "9 calls, 2 errors" in echo["title"]
        assert 0 < echo["p50"] <= echo["p95"] <= slowest_echo, (window, echo, slowest_echo)
        notes = _figures(tab, window, "hostile.notes")
        assert (notes["calls"], notes["errors"], notes["chart_errors"]) == (1, 1, 1), window
        every = tab.locator("#usage-total g.bucket")
        assert every.count() == buckets
        shown = every.evaluate_all("gs => gs.map(g => Number(g.dataset.calls))")
        assert sum(shown) >= 10
        if window == "1h":
            tab.screenshot(path=artefacts / "usage.png", full_page=True)
    tab.goto(f"{url}/ui/usage?window=1h")
    tab.evaluate("window.__notReloaded = true")
    expect(tab.locator("#live")).to_have_class("live on")
    call_tools(url, [("hostile_echo", {"text": "one more"})], suite="metered", token=None)
    echo_calls = tab.locator('section[data-window="1h"] tr[data-tool="hostile.echo"] td.calls')
    expect(echo_calls).to_have_text("10", timeout=15_000)  # live, without a reload
    assert tab.evaluate("window.__notReloaded") is True
    unknown = httpx.get(f"{url}/ui/usage", params={"window": "<b>2y</b>"})
    assert unknown.status_code == 404
    assert "no window &lt;b&gt;2y&lt;/b&gt;" in unknown.text
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
    strip = tab.locator("#health-strip")
    expect(strip.locator('[data-kind="restart"]').first).to_be_attached(timeout=10_000)
    expect(strip.locator('[data-kind="ok"]').first).to_be_attached(timeout=10_000)
    expect(strip.locator('[data-kind="restart"] title').first).to_contain_text("Restarted")
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


def test_a_non_loopback_listener_admits_only_the_admin_token_or_an_admin_oidc_token(
    browser: Browser, tmp_path: Path, artefacts: Path
) -> None:
    resources = tmp_path / "resources"
    resources.mkdir()
    token = "console-admin-token-for-tests"
    issuer = OidcIssuer().start()
    guarded = Controller(
        tmp_path / "guarded",
        str(resources),
        "--admin-token-from",
        "env:CONSOLE_TOKEN",
        "--admin-oidc-issuer",
        issuer.url,
        "--admin-oidc-audience",
        "mcp-console",
        "--admin-oidc-claim",
        "groups=mcp-admins",
        env={"CONSOLE_TOKEN": token},
        listen="0.0.0.0:0",
    )
    unset = Controller(tmp_path / "unset", str(resources), listen="0.0.0.0:0")
    admin = issuer.mint({"sub": "alice", "aud": "mcp-console", "groups": ["dev", "mcp-admins"]})
    try:
        port = guarded.gateway_url().rpartition(":")[2]
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url) as client:

            def status(bearer: str | None, path: str = "/ui/") -> int:
                headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
                return client.get(path, headers=headers).status_code

            assert status(None) == 401
            assert status("nope") == 401
            assert status(None, "/ui/stream") == 401
            assert status(token) == 200
            assert status(admin) == 200
            assert status(admin, "/ui/usage") == 200
            developer = issuer.mint({"sub": "bob", "aud": "mcp-console", "groups": ["dev"]})
            refused = client.get("/ui/", headers={"authorization": f"Bearer {developer}"})
            assert refused.status_code == 401
            assert "match no console admin" in refused.text
            assert (
                status(issuer.mint({"sub": "alice", "aud": "other", "groups": ["mcp-admins"]}))
                == 401
            )
            assert (
                status(issuer.forge_unsigned({"aud": "mcp-console", "groups": ["mcp-admins"]}))
                == 401
            )
            assert (
                status(issuer.mint({"aud": "mcp-console", "groups": ["mcp-admins"]}, lifetime=-120))
                == 401
            )
        unset_port = unset.gateway_url().rpartition(":")[2]
        refused = httpx.get(f"http://127.0.0.1:{unset_port}/ui/")
        assert refused.status_code == 403
        assert "--admin-token-from" in refused.text
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(f"http://127.0.0.1:{unset_port}/ui/")
        expect(tab.locator("h1")).to_have_text("403")
        tab.screenshot(path=artefacts / "refused-unconfigured.png", full_page=True)
        tab.goto(f"{url}/ui/")
        expect(tab.locator("h1")).to_have_text("401")
        expect(tab.locator("p.hint")).to_contain_text(issuer.url)
        tab.screenshot(path=artefacts / "sign-in.png", full_page=True)
        tab.fill('input[name="token"]', developer)
        with tab.expect_navigation():
            tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator("h1")).to_have_text("401")
        expect(tab.locator("main")).to_contain_text("match no console admin")
        tab.fill('input[name="token"]', admin)
        with tab.expect_navigation():
            tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator("h1")).to_have_text("Overview")
        tab.goto(f"{url}/ui/usage")
        expect(tab.locator("h1")).to_have_text("Usage")
        context.close()
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(f"{url}/ui/")
        tab.fill('input[name="token"]', token)
        with tab.expect_navigation():
            tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator("h1")).to_have_text("Overview")
        context.close()
        log = wait_for(lambda: guarded.log.read_text(), what="controller log")
        assert token not in log
        assert admin not in log
        assert admin.split(".")[2] not in log
    finally:
        unset.process.send_signal(signal.SIGTERM)  # both stop at once
        guarded.terminate()
        unset.terminate()
        issuer.stop()
