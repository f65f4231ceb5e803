"""How fast one tree of declarations is read from YAML text, by three readers.

Generates the 10,000-server tree of `plan_scale` (20 files of 500 servers, one file of
1,000 suites and 1,000 permissions: 4.9 MB, 12,000 documents), cuts each file at its
`---` lines, and times, in this process (best of `--repeat` runs):

    subset        yamlsubset.read_piece over every piece, its caches emptied first
    subset warm   the same with the caches left from the previous run (a second tree
                  much like the first, as `diff` reads)
    read_documents  yamlnodes.read_documents over every file (libyaml, nodes walked)
    load_all      yaml.load_all(text, Loader=yaml.CSafeLoader) over every file

The subset reader must decline none of the pieces, and give the same data. The last
line adds a cold and a warm run: `diff` reads two trees that share most of their lines.
Target: at least 4x faster than read_documents.

Usage: .venv/bin/python benchmarks/yaml_read.py [--servers 10000] [--repeat 5] [--no-gc]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import resource
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from plan_scale import generate

from reconciler.loading import yamlsubset
from reconciler.loading.yamlnodes import read_documents

_MARKER = re.compile(r"^(?=---)", re.MULTILINE)


def pieces_of(text: str) -> list[str]:
    """The text cut before each line that starts with `---`."""
    return [piece for piece in _MARKER.split(text) if piece]


def cpu_seconds(work: Callable[[], Any]) -> float:
    """CPU time (user + system of this process) of one run, garbage collected first."""
    gc.collect()
    start = resource.getrusage(resource.RUSAGE_SELF)
    work()
    end = resource.getrusage(resource.RUSAGE_SELF)
    return end.ru_utime - start.ru_utime + end.ru_stime - start.ru_stime


def clear_caches() -> None:
    yamlsubset._clear_caches()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-gc", action="store_true", help="time with the cyclic garbage collector off"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "tree", args.servers)
        texts = [path.read_text() for path in sorted((Path(tmp) / "tree").iterdir())]
    pieces = [piece for text in texts for piece in pieces_of(text)]
    size = sum(map(len, texts))

    def subset() -> list[Any]:
        return [yamlsubset.read_piece(piece) for piece in pieces]

    def nodes() -> list[Any]:
        return [document.data for text in texts for document in read_documents(text)]

    def load_all() -> list[Any]:
        return [data for text in texts for data in yaml.load_all(text, Loader=yaml.CSafeLoader)]

    read = subset()
    declined = sum(result is None for result in read)
    if declined:
        raise SystemExit(f"{declined} of {len(pieces)} pieces declined")
    if [data for data, _ in read] != load_all():
        raise SystemExit("the subset reader's data differ from libyaml's")
    if args.no_gc:
        gc.disable()
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {}
    for _ in range(args.repeat):  # interleaved: a change of load touches every reader
        clear_caches()
        runs.setdefault("subset", []).append(cpu_seconds(subset))
        runs.setdefault("subset warm", []).append(cpu_seconds(subset))
        runs.setdefault("read_documents", []).append(cpu_seconds(nodes))
        runs.setdefault("load_all", []).append(cpu_seconds(load_all))
    figures = {name: min(times) for name, times in runs.items()}
    load_after = os.getloadavg()
    print(
        f"{len(texts)} files, {len(pieces):,} documents, {size / 1e6:.1f} MB; CPU seconds, "
        f"best of {args.repeat}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after, {os.cpu_count()} CPUs"
        + (", garbage collector off" if args.no_gc else "")
    )
    reference = figures["read_documents"]
    for name, seconds in figures.items():
        print(f"{name:<15} {seconds:7.3f} s   {reference / seconds:5.1f}x read_documents")
    both = figures["subset"] + figures["subset warm"]
    print(
        f"two trees, as `diff` reads them: subset {both:.3f} s (cold, then warm), "
        f"read_documents {2 * reference:.3f} s ({2 * reference / both:.1f}x)"
    )


if __name__ == "__main__":
    main()
