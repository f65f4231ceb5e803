"""`python -m reconciler.schemagen [--check] [--root DIR]`: regenerate CRDs, schema, docs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generate import stale_files, write_all


def main(argv: list[str] | None = None) -> int:
    """Write the generated files (exit 0), or with --check name the stale ones (exit 1)."""
    parser = argparse.ArgumentParser(
        prog="python -m reconciler.schemagen",
        description="Generate crds/, schema/ and docs/reference.md from reconciler/core/models.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name every stale file",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path.cwd(),
        help="repository root to write under (default: the current directory)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.check:
        stale = stale_files(root)
        for relative in stale:
            print(f"stale: {relative}", file=sys.stderr)
        if stale:
            print("run `python -m reconciler.schemagen` and commit the result", file=sys.stderr)
            return 1
        print("generated files are up to date")
        return 0
    for relative in write_all(root):
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
