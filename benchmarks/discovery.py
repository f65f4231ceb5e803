"""How well `find_tools` finds the right tool, and how fast.

The catalogue (tests/data/discovery/catalogue.json) holds the real tool definitions of
public MCP servers, captured by benchmarks/discovery_capture.py; the queries
(tests/data/discovery/queries.yaml) are requests as a user would type them, each with the
tool(s) that answer it. Enhancement metadata (keywords, categories, use cases) comes from
the offline `builtin` enhancer, so the figures need no network.

Reported per field set (names only; names + descriptions; + enhancement metadata):
recall@1 and recall@5 (share of queries with an answering tool in the top 1 / 5) and MRR
(mean of 1 / rank of the first answering tool). Then the p95 latency of one search at the
catalogue's size and at ten times it, and how long building the index takes.

    python benchmarks/discovery.py [-o json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from reconciler.discovery import FIELDS, SearchFields, ToolDocument, ToolIndex
from reconciler.llm.builtin import enhance_offline

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "discovery"
ROUNDS = 5
VARIANTS: dict[str, SearchFields] = {
    "names only": frozenset({"names"}),
    "names + descriptions": frozenset({"names", "descriptions"}),
    "+ enhancement metadata": FIELDS,
}


def load_catalogue(*, copies: int = 1) -> list[ToolDocument]:
    """Every captured tool as a document; `copies` > 1 repeats the catalogue under new
    server names (for latency at a larger size)."""
    catalogue: dict[str, list[dict[str, Any]]] = json.loads((DATA / "catalogue.json").read_text())
    documents = []
    for copy in range(copies):
        for server, tools in sorted(catalogue.items()):
            name = server if copy == 0 else f"{server}{copy}"
            for tool in tools:
                meta = enhance_offline(tool)
                documents.append(
                    ToolDocument(
                        id=f"{name}.{tool['name']}",
                        server=name,
                        name=tool["name"],
                        description=tool.get("description") or "",
                        input_schema=tool.get("inputSchema") or {},
                        keywords=meta["keywords"],
                        categories=meta["categories"],
                        use_cases=meta["useCases"],
                    )
                )
    return documents


def load_queries() -> list[tuple[str, frozenset[str]]]:
    entries = yaml.safe_load((DATA / "queries.yaml").read_text())
    return [(entry["query"], frozenset(entry["tools"])) for entry in entries]


def evaluate(index: ToolIndex, queries: Sequence[tuple[str, frozenset[str]]]) -> dict[str, float]:
    """recall@1, recall@5 and MRR (over the top 10) of `index` on `queries`."""
    hits1 = hits5 = 0
    reciprocal = 0.0
    for query, answers in queries:
        ranked = [m.document.id for m in index.search(query, limit=10)]
        rank = next((i for i, tool in enumerate(ranked, 1) if tool in answers), None)
        hits1 += rank == 1
        hits5 += rank is not None and rank <= 5
        reciprocal += 1 / rank if rank else 0.0
    n = len(queries)
    return {"recall@1": hits1 / n, "recall@5": hits5 / n, "mrr": reciprocal / n}


def misses(index: ToolIndex, queries: Sequence[tuple[str, frozenset[str]]]) -> list[str]:
    """The queries whose answer is not in the top 5, with what came first instead."""
    lines = []
    for query, answers in queries:
        ranked = [m.document.id for m in index.search(query, limit=5)]
        if not answers & set(ranked):
            lines.append(f"{query!r}: want {sorted(answers)}, got {ranked[:3]}")
    return lines


def latency(documents: list[ToolDocument], queries: Sequence[str]) -> dict[str, float]:
    """Index build time and p50/p95 of one search (limit 5, half the tools allowed) over
    `documents`: every query once per round, the round with the best p95 reported (the
    machine is shared; the best round is the one least disturbed)."""
    ToolIndex().update(documents[:1])  # imports numpy and bm25s outside the timing
    index = ToolIndex()
    index.update(documents)
    started = time.perf_counter()
    index.search("build the index")
    build = time.perf_counter() - started
    allowed = frozenset(d.id for d in documents[::2])
    rounds = []
    for _ in range(ROUNDS):
        samples = []
        for query in queries:
            started = time.perf_counter()
            index.search(query, allowed=allowed, limit=5)
            samples.append(time.perf_counter() - started)
        samples.sort()
        rounds.append((statistics.median(samples), samples[int(len(samples) * 0.95)]))
    p50, p95 = min(rounds, key=lambda r: r[1])
    return {
        "tools": len(documents),
        "build_ms": build * 1000,
        "p50_ms": p50 * 1000,
        "p95_ms": p95 * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    parser.add_argument("--misses", action="store_true", help="list the queries not in top 5")
    args = parser.parse_args()
    documents = load_catalogue()
    queries = load_queries()
    quality = {}
    for label, fields in VARIANTS.items():
        index = ToolIndex(fields=fields)
        index.update(documents)
        quality[label] = evaluate(index, queries)
    speeds = [latency(load_catalogue(copies=n), [q for q, _ in queries]) for n in (1, 10)]
    report = {
        "catalogue": {"tools": len(documents), "servers": len({d.server for d in documents})},
        "queries": len(queries),
        "quality": quality,
        "latency": speeds,
    }
    if args.output == "json":
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    servers = report["catalogue"]["servers"]
    print(f"{len(documents)} tools of {servers} servers, {len(queries)} queries\n")
    print(f"{'fields':<24} {'recall@1':>9} {'recall@5':>9} {'MRR':>6}")
    for label, figures in quality.items():
        r1, r5, mrr = figures["recall@1"], figures["recall@5"], figures["mrr"]
        print(f"{label:<24} {r1:>9.3f} {r5:>9.3f} {mrr:>6.3f}")
    print(f"\n{'tools':>6} {'index build':>12} {'search p50':>11} {'search p95':>11}")
    for speed in speeds:
        print(
            f"{speed['tools']:>6} {speed['build_ms']:>10.0f}ms {speed['p50_ms']:>9.3f}ms"
            f" {speed['p95_ms']:>9.3f}ms"
        )
    if args.misses:
        index = ToolIndex()
        index.update(documents)
        print("\nmissed (not in top 5):")
        for line in misses(index, queries):
            print("  " + line)


if __name__ == "__main__":
    main()
