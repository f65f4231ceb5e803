"""The console's SVG charts: figures carried as drawn, untrusted names escaped."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from reconciler.console.charts import health_strip, sparkline, usage_chart
from reconciler.console.snapshot import HealthMark
from reconciler.store.records import CallStats

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def stats(count: int, errors: int, p50: float, p95: float) -> CallStats:
    return CallStats(count=count, errors=errors, mean_ms=p50, p50_ms=p50, p95_ms=p95)


BUCKETS = [None, stats(4, 1, 10.0, 40.0), None, stats(2, 0, 5.0, 8.0)]


def test_the_usage_chart_draws_every_bucket_with_its_figures_and_escapes_names() -> None:
    svg = usage_chart(BUCKETS, since=0.0, bucket_seconds=300.0, label=f"{HOSTILE} over 1h")

    root = ElementTree.fromstring(svg)  # well-formed: nothing broke out of an attribute
    groups = list(root.iter("g"))
    assert [g.get("data-calls") for g in groups] == ["0", "4", "0", "2"]
    assert [g.get("data-errors") for g in groups] == ["0", "1", "0", "0"]
    titles = [g.find("title").text for g in groups]  # type: ignore[union-attr]
    assert "4 calls, 1 errors, p50 10 ms, p95 40 ms" in (titles[1] or "")
    assert "no calls" in (titles[0] or "")
    assert "<script>" not in svg
    assert root.get("aria-label") == f"{HOSTILE} over 1h"


def test_the_sparkline_carries_the_per_bucket_figures_and_escapes_its_label() -> None:
    svg = sparkline(BUCKETS, label=HOSTILE)

    root = ElementTree.fromstring(svg)
    assert root.get("data-calls") == "0 4 0 2"
    assert root.get("data-errors") == "0 1 0 0"
    assert "6 calls, 1 errors" in (root.find("title").text or "")  # type: ignore[union-attr]
    assert "<script>" not in svg
    bars = next(root.iter("path")).get("d") or ""
    assert len(re.findall(r"M[\d.]+ ", bars)) == 2  # a bar for each bucket with calls


def test_the_health_strip_marks_checks_and_lifecycle_events_in_time_order() -> None:
    marks = [
        HealthMark(100.0, "ok", "health check ok in 3 ms"),
        HealthMark(130.0, "crash", f"BackOff: {HOSTILE}"),
        HealthMark(131.0, "restart", "Restarted: on request"),
        HealthMark(160.0, "failed", "health check failed: timed out"),
    ]
    svg = health_strip(marks, now=200.0)

    root = ElementTree.fromstring(svg)
    kinds = [e.get("data-kind") for e in root.iter() if e.get("data-kind")]
    assert kinds == ["ok", "crash", "restart", "failed"]
    drawn = [e for e in root.iter() if e.get("data-kind")]
    xs = [float(e.get("x") or next(e.iter("line")).get("x1") or 0) for e in drawn]
    assert xs == sorted(xs)
    assert "<script>" not in svg
    assert health_strip([], now=200.0).startswith('<p id="health-strip">')
