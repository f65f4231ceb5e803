"""Prometheus metrics of the gateway and of the reconcile loop, in a registry of their own.

Served on `/metrics`. The controller reports reconciles and server states through the
same object (`observe_reconcile`, `set_server_state`), so one endpoint shows everything.

Label values come only from the configuration (suites, servers, the tools they expose,
known methods), never from what a client sends: a call to a tool the suite does not
expose is counted under `server=""`, `tool="unknown"`, so a client cannot grow the metrics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

LLMUsage = tuple[str, str, int, int, float]
"""(provider, server, input tokens, output tokens, cost) in total so far."""

CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
UNKNOWN_TOOL = "unknown"
"""The tool label of every call to a tool the suite does not expose."""


class GatewayMetrics:
    """Counters, histograms and gauges of one gateway."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._withheld_servers: set[str] = set()
        r = self.registry
        self.calls = Counter(
            "mcp_gateway_tool_calls_total",
            "Tool calls served, by outcome (ok, error, denied, rate_limited, unknown_tool).",
            ["suite", "server", "tool", "outcome"],
            registry=r,
        )
        self.errors = Counter(
            "mcp_gateway_tool_call_errors_total",
            "Tool calls that ended in a JSON-RPC error, by error code.",
            ["suite", "server", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "mcp_gateway_tool_call_duration_seconds",
            "Time from receiving a tools/call to answering it.",
            ["suite", "server"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "mcp_gateway_requests_total",
            "JSON-RPC requests received, by method.",
            ["suite", "method"],
            registry=r,
        )
        self.sessions = Gauge(
            "mcp_gateway_sessions", "Open client sessions.", ["suite"], registry=r
        )
        self.sessions_refused = Counter(
            "mcp_gateway_sessions_refused_total",
            "New sessions refused: rate (too many initialize from one caller) or full.",
            ["suite", "reason"],
            registry=r,
        )
        self.server_up = Gauge(
            "mcp_server_up", "1 when the server is connected, else 0.", ["server"], registry=r
        )
        self.server_healthy = Gauge(
            "mcp_server_healthy",
            "1 when the server passed its last health check, else 0.",
            ["server"],
            registry=r,
        )
        self.tools_withheld = Gauge(
            "mcp_reconciler_tools_withheld",
            "Tools withheld by the server's ToolLock or the poisoning scan.",
            ["server"],
            registry=r,
        )
        self.reconciles = Counter(
            "mcp_reconciles_total", "Reconciles run, by outcome.", ["outcome"], registry=r
        )
        self.reconcile_duration = Histogram(
            "mcp_reconcile_duration_seconds",
            "Duration of a reconcile.",
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self._series: dict[tuple[str, ...], Any] = {}
        """Labelled series by label values, looked up once (`labels()` is costly per call)."""

    def observe_call(
        self,
        *,
        suite: str,
        server: str,
        tool: str,
        outcome: str,
        seconds: float,
        code: int | None,
    ) -> None:
        """One call; `server` empty means the tool is unknown (its name is not a label)."""
        if server:  # a tool of the suite: a bounded set of series, kept bound
            key = (suite, server, tool, outcome)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (
                    self.calls.labels(suite, server, tool, outcome),
                    self.latency.labels(suite, server),
                )
            series[0].inc()
            series[1].observe(seconds)
        else:
            self.calls.labels(suite, server, UNKNOWN_TOOL, outcome).inc()
            self.latency.labels(suite, server).observe(seconds)
        if code is not None:
            self.errors.labels(suite, server, str(code)).inc()

    def count_request(self, suite: str, method: str) -> None:
        """One JSON-RPC request received (`method`: a known method or `other`)."""
        key = (suite, method)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self.requests.labels(suite, method)
        series.inc()

    def set_server_state(self, server: str, *, up: bool, healthy: bool | None = None) -> None:
        self.server_up.labels(server).set(1 if up else 0)
        self.server_healthy.labels(server).set(1 if (up if healthy is None else healthy) else 0)

    def forget_server(self, server: str) -> None:
        for gauge in (self.server_up, self.server_healthy):
            with contextlib.suppress(KeyError):
                gauge.remove(server)

    def set_withheld(self, counts: Mapping[str, int]) -> None:
        """Withheld tools per server; servers no longer judged are dropped."""
        for server, count in counts.items():
            self.tools_withheld.labels(server).set(count)
        for labels in list(self._withheld_servers - set(counts)):
            with contextlib.suppress(KeyError):
                self.tools_withheld.remove(labels)
        self._withheld_servers = set(counts)

    def observe_reconcile(self, seconds: float, *, outcome: str = "success") -> None:
        """Called by the controller after each reconcile."""
        self.reconciles.labels(outcome).inc()
        self.reconcile_duration.observe(seconds)

    def watch_llm_usage(self, read: Callable[[], Iterable[LLMUsage]]) -> None:
        """Serve the LLM usage totals `read` returns (read at each scrape)."""
        self.registry.register(LLMUsageCollector(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LLMUsageCollector(Collector):
    """`mcp_reconciler_llm_tokens_total` and `mcp_reconciler_llm_cost_usd_total`, read from
    the stored usage at each scrape (so they survive a restart of the controller)."""

    def __init__(self, read: Callable[[], Iterable[LLMUsage]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        tokens = CounterMetricFamily(
            "mcp_reconciler_llm_tokens",
            "LLM tokens used by tool enhancements, by provider, server and type (input, output).",
            labels=["provider", "server", "type"],
        )
        cost = CounterMetricFamily(
            "mcp_reconciler_llm_cost_usd",
            "LLM spend of tool enhancements (the providers' pricing), by provider and server.",
            labels=["provider", "server"],
        )
        for provider, server, input_tokens, output_tokens, spent in self.read():
            tokens.add_metric([provider, server, "input"], input_tokens)
            tokens.add_metric([provider, server, "output"], output_tokens)
            cost.add_metric([provider, server], spent)
        yield tokens
        yield cost
