"""The console's charts as server-rendered SVG: no script, no library, every text escaped.

- `usage_chart`: one window cut into time buckets: calls per bucket as bars (errors in red
  over them), p50 and p95 latency as two lines below, each bucket explained in a `<title>`
  tooltip and carried in `data-*` attributes.
- `health_strip`: a server's health history on a time axis: each health check a tick
  (green ok, red failed), crashes, restarts and readiness as marked vertical lines.

Colours come from classes styled in `console.css` (the Content-Security-Policy allows no
inline style); the SVG presentation attributes are fallbacks.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

from ..store.records import CallStats
from .snapshot import HealthMark

BAR_COLOUR = "#0969da"
ERROR_COLOUR = "#cf222e"
P50_COLOUR = "#1a7f37"
P95_COLOUR = "#9a6700"
MARK_COLOURS = {
    "ok": "#1a7f37",
    "failed": "#cf222e",
    "crash": "#cf222e",
    "restart": "#bc4c00",
    "ready": "#1a7f37",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _clock(ts: float, *, days: bool) -> str:
    return time.strftime("%m-%d %H:%M" if days else "%H:%M", time.localtime(ts))


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _bucket_title(stats: CallStats | None, start: float, end: float, *, days: bool) -> str:
    span = f"{_clock(start, days=days)}\N{EN DASH}{_clock(end, days=days)}"
    if stats is None:
        return f"{span}: no calls"
    return (
        f"{span}: {stats.count} calls, {stats.errors} errors, "
        f"p50 {_ms(stats.p50_ms)}, p95 {_ms(stats.p95_ms)}"
    )


def usage_chart(
    buckets: Sequence[CallStats | None],
    *,
    since: float,
    bucket_seconds: float,
    label: str,
    width: int = 720,
    height: int = 150,
    legend: bool = True,
) -> str:
    """Calls and errors per bucket (bars, top), p50 and p95 per bucket (lines, bottom)."""
    left, right, top, axis, gap = 56, 8, 8, 14, 12
    room = height - top - axis - gap
    calls_height = room * 0.6
    calls_base = top + calls_height
    latency_top = calls_base + gap
    latency_base = height - axis
    latency_height = latency_base - latency_top
    plot = width - left - right
    step = plot / max(1, len(buckets))
    inner = max(1.0, step - 2)
    days = bucket_seconds * len(buckets) >= 86400
    top_calls = max((b.count for b in buckets if b is not None), default=0) or 1
    top_ms = max((b.p95_ms for b in buckets if b is not None), default=0.0) or 1.0
    parts = [
        f'<text x="{left - 4}" y="{top + 9}" text-anchor="end" class="axis">{top_calls}</text>',
        f'<text x="{left - 4}" y="{calls_base:.1f}" text-anchor="end" class="axis">0</text>',
        f'<text x="{left - 4}" y="{latency_top + 9:.1f}" text-anchor="end" class="axis">'
        f"{_e(_ms(top_ms))}</text>",
        f'<line x1="{left}" x2="{width - right}" y1="{calls_base:.1f}" y2="{calls_base:.1f}" '
        'class="baseline" stroke="#d0d7de"></line>',
        f'<line x1="{left}" x2="{width - right}" y1="{latency_base:.1f}" '
        f'y2="{latency_base:.1f}" class="baseline" stroke="#d0d7de"></line>',
    ]
    p50_points: list[tuple[float, float]] = []
    p95_points: list[tuple[float, float]] = []
    for index, stats in enumerate(buckets):
        start = since + index * bucket_seconds
        x = left + index * step
        title = _bucket_title(stats, start, start + bucket_seconds, days=days)
        count = stats.count if stats is not None else 0
        errors = stats.errors if stats is not None else 0
        bar = calls_height * count / top_calls
        error_bar = calls_height * errors / top_calls
        parts.append(
            f'<g class="bucket" data-calls="{count}" data-errors="{errors}"><title>{_e(title)}'
            f'</title><rect x="{x:.1f}" y="{top}" width="{step:.1f}" '
            f'height="{latency_base - top:.1f}" fill="transparent"></rect>'
            f'<rect class="calls" x="{x + 1:.1f}" y="{calls_base - bar:.1f}" width="{inner:.1f}" '
            f'height="{bar:.1f}" fill="{BAR_COLOUR}"></rect>'
            f'<rect class="errors" x="{x + 1:.1f}" y="{calls_base - error_bar:.1f}" '
            f'width="{inner:.1f}" height="{error_bar:.1f}" fill="{ERROR_COLOUR}"></rect></g>'
        )
        if stats is not None:
            centre = x + step / 2
            p50_points.append((centre, latency_base - latency_height * stats.p50_ms / top_ms))
            p95_points.append((centre, latency_base - latency_height * stats.p95_ms / top_ms))
    for points, cls, colour in ((p95_points, "p95", P95_COLOUR), (p50_points, "p50", P50_COLOUR)):
        if len(points) > 1:
            line = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline class="{cls}" points="{line}" fill="none" stroke="{colour}" '
                'stroke-width="1.5"></polyline>'
            )
        parts.extend(
            f'<circle class="{cls}" cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"></circle>'
            for px, py in points
        )
    end = since + bucket_seconds * len(buckets)
    parts.append(
        f'<text x="{left}" y="{height - 2}" class="axis">{_e(_clock(since, days=days))}</text>'
        f'<text x="{width - right}" y="{height - 2}" text-anchor="end" class="axis">'
        f"{_e(_clock(end, days=days))}</text>"
    )
    if legend:
        parts.append(
            f'<text x="{left + plot / 2:.1f}" y="{height - 2}" text-anchor="middle" '
            'class="legend">calls (errors red) · p50 latency green · p95 amber</text>'
        )
    return (
        f'<svg class="chart usage-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}" '
        f'font-size="11">{"".join(parts)}</svg>'
    )


def sparkline(
    buckets: Sequence[CallStats | None],
    *,
    label: str,
    width: int = 300,
    height: int = 56,
) -> str:
    """A compact `usage_chart` for a table row: calls and errors as bars, p50 and p95 as
    lines; the per-bucket figures in `data-calls`/`data-errors` (space-separated) and the
    window's totals in the tooltip. Four paths however many buckets: light for 100 rows."""
    calls_height, gap = height * 0.55, 4
    latency_top = calls_height + gap
    latency_height = height - latency_top - 1
    step = width / max(1, len(buckets))
    inner = max(1.0, step - 1)
    top_calls = max((b.count for b in buckets if b is not None), default=0) or 1
    top_ms = max((b.p95_ms for b in buckets if b is not None), default=0.0) or 1.0
    bars, error_bars, p50, p95 = [], [], [], []
    for index, stats in enumerate(buckets):
        if stats is None:
            continue
        x = index * step
        tall = calls_height * stats.count / top_calls
        bars.append(f"M{x:.1f} {calls_height:.1f}h{inner:.1f}v{-tall:.1f}h{-inner:.1f}z")
        if stats.errors:
            low = calls_height * stats.errors / top_calls
            error_bars.append(f"M{x:.1f} {calls_height:.1f}h{inner:.1f}v{-low:.1f}h{-inner:.1f}z")
        centre = x + step / 2
        p50.append(f"{centre:.1f},{height - 1 - latency_height * stats.p50_ms / top_ms:.1f}")
        p95.append(f"{centre:.1f},{height - 1 - latency_height * stats.p95_ms / top_ms:.1f}")
    calls = " ".join(str(b.count if b is not None else 0) for b in buckets)
    errors = " ".join(str(b.errors if b is not None else 0) for b in buckets)
    total = sum(b.count for b in buckets if b is not None)
    failed = sum(b.errors for b in buckets if b is not None)
    lines = "".join(
        f'<polyline class="{cls}" points="{" ".join(points if len(points) > 1 else points * 2)}" '
        f'fill="none" stroke="{colour}" stroke-width="{1.5 if len(points) > 1 else 4}" '
        'stroke-linecap="round"></polyline>'
        for points, cls, colour in ((p95, "p95", P95_COLOUR), (p50, "p50", P50_COLOUR))
        if points
    )
    return (
        f'<svg class="chart spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}" '
        f'data-calls="{calls}" data-errors="{errors}"><title>{_e(label)}: {total} calls, '
        f"{failed} errors; p95 up to {_e(_ms(top_ms))}</title>"
        f'<line x1="0" x2="{width}" y1="{calls_height:.1f}" y2="{calls_height:.1f}" '
        'stroke="#d0d7de"></line>'
        f'<path class="calls" d="{"".join(bars)}" fill="{BAR_COLOUR}"></path>'
        f'<path class="errors" d="{"".join(error_bars)}" fill="{ERROR_COLOUR}"></path>'
        f"{lines}</svg>"
    )


def health_strip(marks: Sequence[HealthMark], *, now: float, width: int = 720) -> str:
    """The server's health history: checks as ticks, lifecycle events as vertical lines."""
    if not marks:
        return '<p id="health-strip">No health history yet.</p>'
    height, left, right = 46, 4, 4
    start = min(marks[0].ts, now - 60.0)
    span = max(now - start, 1.0)
    plot = width - left - right

    def x(ts: float) -> float:
        return left + plot * (ts - start) / span

    parts = [f'<line x1="{left}" x2="{width - right}" y1="24" y2="24" stroke="#d0d7de"></line>']
    for mark in marks:
        colour = MARK_COLOURS.get(mark.kind, "#57606a")
        when = time.strftime("%H:%M:%S", time.localtime(mark.ts))
        title = f"<title>{_e(when)} {_e(mark.text)}</title>"
        at = x(mark.ts)
        if mark.kind in ("ok", "failed"):
            parts.append(
                f'<rect class="mark {mark.kind}" data-kind="{mark.kind}" x="{at - 1.5:.1f}" '
                f'y="{14 if mark.kind == "ok" else 10}" width="3" '
                f'height="{20 if mark.kind == "ok" else 28}" fill="{colour}">{title}</rect>'
            )
        else:
            parts.append(
                f'<g class="mark {mark.kind}" data-kind="{mark.kind}">{title}'
                f'<line x1="{at:.1f}" x2="{at:.1f}" y1="2" y2="40" stroke="{colour}" '
                'stroke-width="2"></line>'
                f'<circle cx="{at:.1f}" cy="5" r="3.5" fill="{colour}"></circle></g>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 1}" font-size="10" class="axis">'
        f"{_e(time.strftime('%H:%M:%S', time.localtime(start)))}</text>"
        f'<text x="{width - right}" y="{height - 1}" font-size="10" text-anchor="end" '
        'class="axis">now</text>'
    )
    return (
        f'<svg id="health-strip" class="chart strip" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="health history">'
        f"{''.join(parts)}</svg>"
    )
