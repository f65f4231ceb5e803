"""The console's HTML, rendered on the server. Every value goes through `h()`.

Tool descriptions, error messages and event texts come from servers and users: they are
untrusted, so nothing is ever inserted unescaped. Pages have no inline script or style
(the Content-Security-Policy forbids both); `console.js` and `console.css` do the rest.
"""

from __future__ import annotations

import html
import time
from urllib.parse import quote

from ..store.records import EventRecord, Revision
from .charts import health_strip, sparkline, usage_chart
from .snapshot import Overview, ServerDetail, ServerRow, SuiteDetail, ToolRow, Usage

DASH = "\N{EN DASH}"
PHASE_CLASS = {"Ready": "ok", "Running": "ok", "Starting": "busy", "Pending": "busy"}
LOCK_CLASS = {"locked": "ok", "unpinned": "muted", "drifted": "bad", "unlocked": "bad"}
ENHANCEMENT_CLASS = {
    "enhanced": "ok",
    "cached": "ok",
    "pinned": "ok",
    "failed": "bad",
    "pending": "busy",
    "queued": "busy",
    "skipped": "muted",
    "off": "muted",
}


def h(value: object) -> str:
    """Escaped text; None renders as a dash."""
    return DASH if value is None else html.escape(str(value), quote=True)


def document(title: str, content: str, *, stream: str, events: str = "/ui/stream") -> str:
    """A whole page; `stream` is the fragment URL the live updates re-fetch whenever the
    server-sent-events stream `events` says the state changed."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{h(title)} · mcp-reconciler</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/ui/static/console.css">'
        '<script src="/ui/static/console.js" defer></script></head><body>'
        '<header><a href="/ui/" class="brand">mcp-reconciler</a>'
        '<nav><a href="/ui/">Overview</a><a href="/ui/usage">Usage</a></nav>'
        '<span id="live" class="live" title="live updates">●</span></header>'
        f'<main id="content" data-fragment="{h(stream)}" data-stream="{h(events)}">{content}'
        "</main></body></html>"
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _latency(ms: float | None) -> str:
    return DASH if ms is None else f"{ms:.0f} ms"


def _phase(phase: str) -> str:
    return f'<span class="phase {PHASE_CLASS.get(phase, "bad")}">{h(phase)}</span>'


def server_link(server: str) -> str:
    namespace, _, name = server.rpartition("/")
    namespace = namespace or "default"  # the gateway names a suite's members without one
    return (
        f'<a href="/ui/servers/{quote(namespace, safe="")}/{quote(name, safe="")}">{h(server)}</a>'
    )


def _server_cells(row: ServerRow) -> str:
    return (
        f'<tr data-server="{h(row.server)}"><td>{server_link(row.server)}</td>'
        f'<td>{_phase(row.phase)}</td><td class="pid">{h(row.pid)}</td>'
        f'<td>{_duration(row.uptime_seconds)}</td><td class="restarts">{row.restarts}</td>'
        f'<td>{row.tool_count}</td><td class="error">{h(row.last_error)}</td></tr>'
    )


def _revision(label: str, revision: Revision | None) -> str:
    if revision is None:
        return f'<tr><th>{label}</th><td colspan="3">none yet</td></tr>'
    message = f'<pre class="errors">{h(revision.message)}</pre>' if revision.message else ""
    return (
        f"<tr><th>{label}</th><td><code>{h(revision.revision[:19])}</code></td>"
        f"<td>{h(revision.outcome)}</td><td>{_when(revision.ts)}</td></tr>"
        + (f'<tr><td></td><td colspan="3">{message}</td></tr>' if message else "")
    )


def events_table(events: list[EventRecord]) -> str:
    if not events:
        return "<p>No events yet.</p>"
    rows = "".join(
        f'<tr class="{h(e.severity)}"><td>{_when(e.ts)}</td><td>{h(e.severity)}</td>'
        f"<td>{h(e.resource)}</td><td>{h(e.reason)}</td><td>{h(e.message)}</td></tr>"
        for e in events
    )
    return (
        '<table class="events"><thead><tr><th>When</th><th>Severity</th><th>Resource</th>'
        f"<th>Reason</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def action_form(action: str, label: str, csrf: str, *, target: str) -> str:
    return (
        f'<form method="post" action="{h(target)}" class="action">'
        f'<input type="hidden" name="csrf" value="{h(csrf)}">'
        f'<button type="submit">{h(label)}</button></form>'
    )


def overview_fragment(view: Overview, *, reconcile_csrf: str) -> str:
    servers = "".join(_server_cells(row) for row in view.servers) or (
        '<tr><td colspan="7">No servers.</td></tr>'
    )
    suites = (
        "".join(
            f'<tr><td><a href="/ui/suites/{quote(s.name, safe="/")}">{h(s.name)}</a></td>'
            f'<td><code class="copy">{h(s.url)}</code></td>'
            f"<td>{', '.join(server_link(m) for m in s.members) or DASH}</td>"
            f'<td>{_phase(s.phase)}</td><td>{len(s.tools)}</td><td class="discovery">'
            f"{_discovery_badge(s.discovery)}</td><td>{h(s.message)}</td></tr>"
            for s in view.suites
        )
        or '<tr><td colspan="7">No suites.</td></tr>'
    )
    reconcile = action_form(
        "reconcile", "Reconcile now", reconcile_csrf, target="/ui/actions/reconcile"
    )
    return (
        '<section class="toolbar"><h1>Overview</h1>'
        f"{reconcile}"
        "</section>"
        '<section><h2>Servers</h2><table id="servers"><thead><tr><th>Server</th><th>Phase</th>'
        "<th>PID</th><th>Uptime</th><th>Restarts</th><th>Tools</th><th>Last error</th>"
        f"</tr></thead><tbody>{servers}</tbody></table></section>"
        '<section><h2>Suites</h2><table id="suites"><thead><tr><th>Suite</th><th>URL</th>'
        "<th>Members</th><th>Readiness</th><th>Tools</th><th>Discovery</th><th>Message</th>"
        "</tr></thead>"
        f"<tbody>{suites}</tbody></table></section>"
        '<section><h2>Revisions</h2><table id="revisions">'
        f"{_revision('Applied', view.revisions.applied)}"
        f"{_revision('Attempted', view.revisions.attempted)}</table></section>"
        f"<section><h2>Recent events</h2>{events_table(view.events)}</section>"
    )


def _badge(text: str, cls: str) -> str:
    return f'<span class="badge {cls}">{h(text)}</span>'


def _lock_cell(tool: ToolRow) -> str:
    if tool.lock is None:
        return f'<td class="lock" data-lock="">{DASH}</td>'
    badges = _badge(tool.lock, LOCK_CLASS.get(tool.lock, "muted"))
    if tool.withheld:
        badges += " " + _badge("withheld", "bad")
    reason = f"<br><small>{h(tool.lock_reason)}</small>" if tool.lock_reason else ""
    return (
        f'<td class="lock" data-lock="{h(tool.lock)}" data-withheld="{str(tool.withheld).lower()}">'
        f"{badges}{reason}</td>"
    )


def _scan_cell(tool: ToolRow) -> str:
    if not tool.findings:
        return (
            '<td class="scan">none</td>'
            if tool.lock is not None
            else f'<td class="scan">{DASH}</td>'
        )
    items = "".join(
        f'<li data-finding="{h(f.kind)}" data-severity="{h(f.severity)}">'
        f"{_badge(f.severity, {'high': 'bad', 'medium': 'busy'}.get(f.severity, 'muted'))} "
        f"<code>{h(f.kind)}</code> <em>{h(f.decision)}</em><br>"
        f"<small>{h(f.where)}: {h(f.excerpt)}</small></li>"
        for f in tool.findings
    )
    return f'<td class="scan"><ul class="findings">{items}</ul></td>'


def _enhancement_cell(tool: ToolRow) -> str:
    note = f"<br><small>{h(tool.enhancement_note)}</small>" if tool.enhancement_note else ""
    source = (
        "" if tool.enhanced or tool.served is None else "<br><small>serving upstream text</small>"
    )
    return (
        f'<td class="enhancement" data-enhancement="{h(tool.enhancement)}">'
        f"{_badge(tool.enhancement, ENHANCEMENT_CLASS.get(tool.enhancement, 'muted'))}"
        f"{note}{source if tool.enhancement != 'off' else ''}</td>"
    )


def _tool_row(tool: ToolRow) -> str:
    hidden = "" if tool.exposed else " <em>(hidden)</em>"
    return (
        f'<tr data-tool="{h(tool.name)}"><td><code>{h(tool.name)}</code>{hidden}</td>'
        f'<td class="desc upstream">{h(tool.upstream)}</td>'
        f'<td class="desc served">{h(tool.served)}</td>'
        f"{_enhancement_cell(tool)}{_lock_cell(tool)}{_scan_cell(tool)}</tr>"
    )


def server_fragment(detail: ServerDetail, *, restart_csrf: str) -> str:
    row = detail.row
    namespace, _, name = row.server.partition("/")
    restart = action_form(
        "restart",
        "Restart",
        restart_csrf,
        target=f"/ui/actions/restart/{quote(namespace, safe='')}/{quote(name, safe='')}",
    )
    tools = "".join(_tool_row(t) for t in detail.tools) or (
        '<tr><td colspan="6">No tools discovered.</td></tr>'
    )
    health = (
        "".join(
            f"<tr><td>{_when(ts)}</td><td>{_phase('Ready' if ok else 'Failed')}</td>"
            f"<td>{_latency(latency)}</td><td>{h(error)}</td></tr>"
            for ts, ok, latency, error in reversed(detail.health)
        )
        or '<tr><td colspan="4">No health checks yet.</td></tr>'
    )
    log = "\n".join(f"{_when(ts)}  {h(text)}" for ts, text in detail.log) or "No log lines."
    lock = (
        f"{_badge(detail.lock_mode, 'ok')} ToolLock <code>{h(name)}</code>"
        if detail.lock_mode
        else "no ToolLock (tools unpinned; a high scan finding still withholds a tool)"
    )
    withheld = [t.name for t in detail.tools if t.withheld]
    missing = (
        f'<tr><th>Locked, not offered</th><td class="error">{h(", ".join(detail.missing))}'
        "</td></tr>"
        if detail.missing
        else ""
    )
    return (
        f'<section class="toolbar"><h1>Server {h(row.server)}</h1>{restart}</section>'
        '<table id="server" class="facts">'
        f"<tr><th>Phase</th><td>{_phase(row.phase)}</td></tr>"
        f'<tr><th>PID</th><td class="pid">{h(row.pid)}</td></tr>'
        f"<tr><th>Uptime</th><td>{_duration(row.uptime_seconds)}</td></tr>"
        f'<tr><th>Restarts</th><td class="restarts">{row.restarts}</td></tr>'
        f'<tr><th>Last error</th><td class="error">{h(row.last_error)}</td></tr>'
        f'<tr><th>Tool lock</th><td id="lock-mode">{lock}</td></tr>'
        f'<tr><th>Withheld</th><td id="withheld">{h(", ".join(withheld)) if withheld else "none"}'
        f"</td></tr>{missing}</table>"
        '<section><h2>Tools</h2><table id="tools"><thead><tr><th>Tool</th>'
        "<th>Upstream description</th><th>Served description</th><th>Enhancement</th>"
        "<th>Lock</th><th>Scan findings</th></tr></thead>"
        f"<tbody>{tools}</tbody></table></section>"
        "<section><h2>Health history</h2>"
        f"{health_strip(detail.history, now=time.time())}"
        '<p class="legend">ticks: health checks (green ok, red failed); lines: '
        "crashes (red), restarts (orange), ready (green)</p>"
        '<table id="health"><thead><tr><th>When</th>'
        f"<th>Result</th><th>Latency</th><th>Error</th></tr></thead><tbody>{health}</tbody>"
        "</table></section>"
        f"<section><h2>Events</h2>{events_table(detail.events)}</section>"
        f'<section><h2>Recent log lines (stderr)</h2><pre id="log">{log}</pre></section>'
    )


def refusal_page(status: int, reason: str, *, login: bool, oidc: str | None = None) -> str:
    """An error page; `login` adds the sign-in form, `oidc` names the issuer whose tokens
    also sign in."""
    label = "Admin token or OIDC token" if oidc else "Admin token"
    hint = (
        f'<p class="hint">Sign in with the admin token, or with a token (JWT) issued by '
        f"<code>{h(oidc)}</code> for an admin subject.</p>"
        if oidc and login
        else ""
    )
    form = (
        f'{hint}<form method="post" action="/ui/login" class="login"><label>{label} '
        '<input type="password" name="token" autocomplete="current-password"></label>'
        '<button type="submit">Sign in</button></form>'
        if login
        else ""
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{status} · mcp-reconciler</title>"
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/ui/static/console.css"></head><body>'
        '<header><a href="/ui/" class="brand">mcp-reconciler</a></header><main class="refusal">'
        f"<h1>{status}</h1><p>{h(reason)}</p>{form}</main></body></html>"
    )


def suite_fragment(detail: SuiteDetail) -> str:
    row = detail.row
    clients = "".join(
        f'<h3>{h(client)}</h3><pre class="config"><code class="copy">{h(text)}</code></pre>'
        for client, text in detail.clients
    )
    tools = (
        "".join(
            f"<tr><td><code>{h(exposed)}</code></td><td>{server_link(server)}</td>"
            f"<td><code>{h(tool)}</code></td></tr>"
            for exposed, server, tool in detail.tools
        )
        or '<tr><td colspan="3">No tools exposed.</td></tr>'
    )
    return (
        f"<h1>Suite {h(row.name)}</h1>"
        '<table id="suite" class="facts">'
        f'<tr><th>Endpoint</th><td><code class="copy">{h(row.url)}</code></td></tr>'
        f"<tr><th>Readiness</th><td>{_phase(row.phase)} {h(row.message)}</td></tr>"
        f"<tr><th>Members</th><td>{', '.join(server_link(m) for m in row.members) or DASH}"
        f'</td></tr><tr><th>Discovery</th><td id="discovery" data-mode="{h(row.discovery)}">'
        f"{_discovery(detail)}</td></tr></table>"
        '<section><h2>Exposed tools</h2><table id="suite-tools"><thead><tr><th>Exposed as</th>'
        f"<th>Server</th><th>Tool</th></tr></thead><tbody>{tools}</tbody></table></section>"
        f"{_withheld(detail)}"
        f"<section><h2>Access</h2>{access_matrix(detail)}</section>"
        f'<section id="clients"><h2>Client configuration</h2>{clients}</section>'
    )


def _discovery_badge(mode: str) -> str:
    return _badge(mode, "ok" if mode == "search" else "muted")


def _discovery(detail: SuiteDetail) -> str:
    row = detail.row
    if row.discovery != "search":
        return f"{_discovery_badge('all')} clients list every tool they may call"
    fused = (
        f"; ranking fused with embeddings from {h(detail.embeddings[0])} "
        f"(<code>{h(detail.embeddings[1])}</code>)"
        if detail.embeddings
        else "; lexical ranking (BM25)"
    )
    return (
        f"{_discovery_badge('search')} clients list <code>find_tools</code> and "
        f"<code>call_tool</code>; <code>find_tools</code> returns at most {row.max_results} "
        f"tools per query{fused}"
    )


def _withheld(detail: SuiteDetail) -> str:
    if not detail.withheld:
        return ""
    rows = "".join(
        f"<tr><td><code>{h(exposed)}</code></td><td>{server_link(server)}</td>"
        f"<td><code>{h(tool)}</code></td><td>{h(why)}</td></tr>"
        for exposed, server, tool, why in detail.withheld
    )
    return (
        '<section><h2>Withheld tools</h2><table id="suite-withheld"><thead><tr>'
        "<th>Exposed as</th><th>Server</th><th>Tool</th><th>Why</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def access_matrix(detail: SuiteDetail) -> str:
    """Subjects by tools: allowed or denied, and the rule that decided."""
    if not detail.subjects:
        return "<p>No subjects.</p>"
    head = "".join(f"<th><code>{h(exposed)}</code></th>" for exposed, _, _ in detail.tools)
    rows = []
    for subject in detail.subjects:
        cells = []
        for exposed, _, _ in detail.tools:
            decision = detail.matrix[(subject, exposed)]
            verdict = "allowed" if decision.allowed else "denied"
            cells.append(
                f'<td class="{verdict}" data-tool="{h(exposed)}" title="{h(decision.rule)}">'
                f"{verdict}<br><small>{h(decision.rule)}</small></td>"
            )
        rows.append(f'<tr data-subject="{h(subject)}"><th>{h(subject)}</th>{"".join(cells)}</tr>')
    return (
        f'<table id="access"><thead><tr><th>Subject</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


NO_CALLS = '<tr><td colspan="7">No calls.</td></tr>'


def usage_fragment(view: Usage, *, windows: tuple[str, ...]) -> str:
    """One window (`1h`, `24h`, `7d`): every call as a detailed chart, then each tool's
    figures with a compact chart of the same buckets. The other windows are links."""
    window, series = view.window, view.series
    nav = "".join(
        f'<a href="/ui/usage?window={h(label)}" data-window="{h(label)}"'
        f' class="{"current" if label == window else ""}">{h(label)}</a>'
        for label in windows
    )
    rows = []
    for (server, tool), s in sorted(series.tools.items(), key=lambda i: (-i[1].count, i[0])):
        chart = sparkline(series.tool_buckets[(server, tool)], label=f"{server}.{tool}, {window}")
        rows.append(
            f'<tr data-tool="{h(server)}.{h(tool)}"><td>{h(server)}</td>'
            f'<td><code>{h(tool)}</code></td><td class="calls">{s.count}</td>'
            f'<td class="errors">{s.errors}</td><td class="p50">{s.p50_ms:.1f} ms</td>'
            f'<td class="p95">{s.p95_ms:.1f} ms</td><td class="spark">{chart}</td></tr>'
        )
    total = (
        usage_chart(series.total, since=series.since, bucket_seconds=series.bucket_seconds,
                    label=f"all calls, last {window}")
        if series.tools
        else "<p>No calls in this window.</p>"
    )  # fmt: skip
    return (
        f'<section class="toolbar"><h1>Usage</h1><nav class="windows">{nav}</nav></section>'
        f'<section class="usage" data-window="{h(window)}"><h2>Last {h(window)}</h2>'
        f'<p class="legend">{series.buckets} buckets of {_duration(series.bucket_seconds)}: '
        "calls per bucket (errors in red), p50 latency (green) and p95 (amber) per bucket; "
        "errors are calls whose outcome is not ok, as in <code>stats</code></p>"
        f'<div id="usage-total">{total}</div>'
        "<table><thead><tr><th>Server</th><th>Tool</th><th>Calls</th><th>Errors</th>"
        "<th>p50</th><th>p95</th><th>Over time</th></tr></thead>"
        f"<tbody>{''.join(rows) or NO_CALLS}</tbody></table></section>"
    )
