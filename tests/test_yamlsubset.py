"""The fast YAML subset reader: libyaml's exact answer, or a decline.

Every test compares `read_piece` with `yaml.load(text, Loader=yaml.CSafeLoader)`: the
reader may decline any text, but when it answers, the data (type for type: `True` is not
`1`, `1.0` is not `1`) and the root line must be libyaml's.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.loading.yamlsubset import read_piece

ROOT = Path(__file__).resolve().parents[1]
DECLINE = object()
_PIECE_START = re.compile(r"^(?=---(?: |$))", re.MULTILINE)


def libyaml(text: str) -> tuple[Any, int] | None:
    """(data, root line) as libyaml reads one document, or None when it fails."""
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
        loader = yaml.CSafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, ValueError, OverflowError, TypeError):
        return None
    return data, -1 if node is None else node.start_mark.line


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (floats by their bits)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return bool(a == b)


def assert_agrees(text: str) -> tuple[Any, int] | None:
    """read_piece's answer for `text`, checked against libyaml's."""
    got = read_piece(text)
    if got is None:
        return None
    expected = libyaml(text)
    assert expected is not None, f"libyaml rejects {text!r}, read as {got!r}"
    data, line = got
    assert same(data, expected[0]), f"{text!r}: {data!r} != {expected[0]!r}"
    if data is None and line == -1:  # no content: libyaml may place an empty node anywhere
        assert expected[0] is None
    else:
        assert line == expected[1], f"{text!r}: root line {line} != {expected[1]}"
    return got


def pieces_of(text: str) -> list[str]:
    """A stream cut before each `---` line, as the loader's splitter cuts it."""
    return [piece for piece in _PIECE_START.split(text) if piece]


# -- generated documents -------------------------------------------------------------

AMBIGUOUS = [
    "yes", "No", "on", "OFF", "y", "n", "true", "False", "null", "Null", "~", "", " lead",
    "trail ", "1", "-1", "+1", "0", "007", "0o7", "0x1F", "0b101", "1_000", "1:30", "1.5",
    "1e3", "1.0e+3", ".5", ".inf", "-.Inf", ".nan", "2024-01-01", "2024-02-30",
    "2024-01-01T10:00:00Z", "2024-01-01 10:00:00.5 +02:00", "a: b", "a:b", "#x", "a #b",
    "a#b", "- a", "-a", "--flag", "? a", "&a", "*a", "!a", "|", ">", "%a", "@a", "`a",
    "'", '"', "a'b", 'a"b', "it's", "a, b", "[a]", "{a}", "a]", "<<", "=", "é", "日本",
    "😀", "a\\b", "\\", "x y  z", "---", "...",
]  # fmt: skip
WORDS = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"),
    max_size=8,
)
SAFE_WORDS = st.from_regex(r"[a-z][a-z0-9_./-]{0,10}", fullmatch=True)
KEYS = st.one_of(st.sampled_from(["name", "kind", "spec", "a", "b", "x y", "yes", "1"]), WORDS)
SCALARS = st.one_of(
    st.sampled_from(AMBIGUOUS),
    WORDS,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
COMMON_DATA = st.recursive(
    st.one_of(SAFE_WORDS, st.integers(min_value=0, max_value=10**6), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4),
        st.dictionaries(SAFE_WORDS, inner, min_size=1, max_size=4),
    ),
    max_leaves=12,
)


def scalar_text(draw: st.DrawFn, value: Any, *, common: bool) -> str:
    """A scalar written plain, single- or double-quoted (not always validly: libyaml says)."""
    if isinstance(value, str):
        style = "plain" if common else draw(st.sampled_from(["plain", "single", "double"]))
        if style == "single":
            return "'" + value.replace("'", "''") + "'"
        if style == "double":
            return json.dumps(value, ensure_ascii=draw(st.booleans()))
        return value
    if isinstance(value, float) and not common:
        return draw(st.sampled_from([repr(value), json.dumps(value), f"{value:g}"]))
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def flow_text(draw: st.DrawFn, value: Any, *, common: bool) -> str:
    spaces = " " if common else draw(st.sampled_from(["", " ", "  "]))
    if isinstance(value, dict):
        items = [
            f"{scalar_text(draw, key, common=common)}: {flow_text(draw, item, common=common)}"
            for key, item in value.items()
        ]
        return "{" + f",{spaces}".join(items) + "}"
    if isinstance(value, list):
        return "[" + f",{spaces}".join(flow_text(draw, item, common=common) for item in value) + "]"
    return scalar_text(draw, value, common=common)


def block_lines(draw: st.DrawFn, value: Any, indent: int, *, common: bool) -> list[str]:
    """The lines of a collection in block style at `indent` (a scalar or empty one in flow)."""
    pad = " " * indent
    step = draw(st.sampled_from([2, 2, 4] if common else [1, 2, 3]))
    if not value or not isinstance(value, dict | list) or draw(st.integers(0, 5)) == 0:
        return [pad + flow_text(draw, value, common=common)]
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{scalar_text(draw, key, common=common)}:"
            lines.extend(nested(draw, head, item, indent, step, common=common, key=True))
    else:
        for item in value:
            lines.extend(nested(draw, f"{pad}-", item, indent, step, common=common, key=False))
    if not common and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "  ", "# note"])))
    return lines


def nested(
    draw: st.DrawFn, head: str, item: Any, indent: int, step: int, *, common: bool, key: bool
) -> list[str]:
    """`head` (a `key:` or a `-`) followed by its value, on the line or below it."""
    if item is None and draw(st.booleans()):
        return [head]
    if isinstance(item, dict | list) and item:
        if not key and isinstance(item, dict) and draw(st.booleans()):
            # A mapping in a list item, its first key on the item's line.
            inner = block_lines(draw, item, indent + 2, common=common)
            return [head + " " + inner[0].lstrip(" "), *inner[1:]]
        indentless = key and isinstance(item, list) and draw(st.booleans())
        return [
            head,
            *block_lines(draw, item, indent if indentless else indent + step, common=common),
        ]
    comment = "" if common or draw(st.integers(0, 4)) else "  # c"
    return [f"{head} {flow_text(draw, item, common=common)}{comment}"]


@st.composite
def documents(draw: st.DrawFn, *, common: bool) -> str:
    data = draw(COMMON_DATA if common else DATA)
    lines = block_lines(
        draw, data, draw(st.sampled_from([0] if common else [0, 0, 1, 2])), common=common
    )
    if draw(st.booleans()):
        lines.insert(0, draw(st.sampled_from(["---", "--- # doc", "---  "])))
    if not common and draw(st.booleans()):
        lines.append("")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(common=False))
def test_generated_documents_read_as_libyaml_reads_them(text: str) -> None:
    assert_agrees(text)


def test_common_styles_are_seldom_declined() -> None:
    outcomes: list[bool] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(documents(common=True))
    def check(text: str) -> None:
        outcomes.append(assert_agrees(text) is not None)

    check()
    assert sum(outcomes) >= 0.95 * len(outcomes), f"read {sum(outcomes)} of {len(outcomes)}"


# -- the repository's own YAML -------------------------------------------------------


def repository_pieces() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for folder in ("examples", "tests", "crds", "manifests"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".yaml", ".yml") or "node_modules" in path.parts:
                continue
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            name = str(path.relative_to(ROOT))
            found.extend((f"{name} piece {n}", piece) for n, piece in enumerate(pieces_of(text)))
    return found


def test_the_repository_yaml_reads_as_libyaml_reads_it() -> None:
    pieces = repository_pieces()
    assert len(pieces) > 50
    read = [name for name, piece in pieces if assert_agrees(piece) is not None]
    examples = [name for name, _ in pieces if name.startswith("examples/")]
    assert len([name for name in read if name.startswith("examples/")]) >= 0.9 * len(examples)


# -- tricky cases --------------------------------------------------------------------

TRICKY: list[tuple[str, Any]] = [
    # What the subset reads, and exactly how.
    ("", None),
    ("---\n# only a comment\n", None),
    (
        "a: 1\nb: 1.0\nc: true\nd: yes\ne: 'yes'\nf: ~\ng:\n",
        {"a": 1, "b": 1.0, "c": True, "d": True, "e": "yes", "f": None, "g": None},
    ),
    (
        "a: 0o7\nb: 07\nc: 0x1F\nd: 1_000\ne: 1:30\nf: 1e3\ng: .5\n",
        {"a": "0o7", "b": 7, "c": 31, "d": 1000, "e": 90, "f": "1e3", "g": 0.5},
    ),
    ("d: 2024-01-01\ns: '2024-01-01'\n", {"d": datetime.date(2024, 1, 1), "s": "2024-01-01"}),
    (
        "a: b:c\nurl: http://x/y?z#f\nh: a#b\nc: x # comment\n",
        {"a": "b:c", "url": "http://x/y?z#f", "h": "a#b", "c": "x"},
    ),
    ("a: b, c\nd: e]f\ng: h{i}\n", {"a": "b, c", "d": "e]f", "g": "h{i}"}),
    ("k: 'it''s'\nq: \"say 'hi'\"\ne: ''\n", {"k": "it's", "q": "say 'hi'", "e": ""}),
    ("key:\n- a\n- b\nnext: c\n", {"key": ["a", "b"], "next": "c"}),
    ("- name: x\n  value: y\n- z\n", [{"name": "x", "value": "y"}, "z"]),
    ("-   name: x\n    value: y\n", [{"name": "x", "value": "y"}]),
    ("- a:\n  - b\n  c: d\n", [{"a": ["b"], "c": "d"}]),
    ("-\n- \n-   # c\n", [None, None, None]),
    ("a:\n  b\nc: d\n", {"a": "b", "c": "d"}),
    ("\n\n  a: 1\n  b: [x, 'y', \"z\", {c: d}]\n", {"a": 1, "b": ["x", "y", "z", {"c": "d"}]}),
    (
        "m: {name: x, labels: {team: t0}, n: [1, yes, ~, 1.5]}\n",
        {"m": {"name": "x", "labels": {"team": "t0"}, "n": [1, True, None, 1.5]}},
    ),
    ("e: []\nf: {}\ng: [ ]\nh: [a b, c d]\n", {"e": [], "f": {}, "g": [], "h": ["a b", "c d"]}),
    ("a: [b] # c\n", {"a": ["b"]}),
    ("a : b\n'c' : d\n", {"a": "b", "c": "d"}),
    ("--- # doc\nx\n", "x"),
    ("é: 日本\n😀: [ü]\n", {"é": "日本", "😀": ["ü"]}),
    ("a: [\"x: y\", 'p, q']\n", {"a": ["x: y", "p, q"]}),
    ("a: [-.Inf, -x, --y, .nan]\n", {"a": [-math.inf, "-x", "--y", math.nan]}),
    ("a[0]: b\n'c ' : d\n", {"a[0]": "b", "c ": "d"}),
    ("a #b: c\n", "a"),
    ("k: 1\nm:\n  k:   x # c\n  j: #\n", {"k": 1, "m": {"k": "x", "j": None}}),
    # What it declines (libyaml may or may not accept these).
    ("a: &x 1\nb: *x\n", DECLINE),
    ("a: !!str 1\n", DECLINE),
    ("a: |\n  text\n", DECLINE),
    ("a: >\n  text\n", DECLINE),
    ("a: b\n  c\n", DECLINE),  # a plain scalar on two lines
    ("a: 'b\n  c'\n", DECLINE),
    ("a: [b,\n  c]\n", DECLINE),
    ("? a\n: b\n", DECLINE),
    ("<<: {a: 1}\n", DECLINE),
    ("1: a\n", DECLINE),
    ("yes: a\n", DECLINE),
    ("null: a\n", DECLINE),
    ("~: a\n", DECLINE),
    ("2024-01-01: a\n", DECLINE),
    ("a: 1\na: 2\n", DECLINE),
    ("a: {b: 1, b: 2}\n", DECLINE),
    ("a: {b: 1, 'b': 2}\n", DECLINE),
    ("- - a\n", DECLINE),
    ("a: @b\n", DECLINE),
    ("a: `b\n", DECLINE),
    ("a: %b\n", DECLINE),
    ("a: - b\n", DECLINE),
    ("a: b: c\n", DECLINE),
    ("a: [b,]\n", DECLINE),
    ("a: [b, , c]\n", DECLINE),
    ("a: {b, c: d}\n", DECLINE),
    ("a: {b}\n", DECLINE),
    ("{: b}\n", DECLINE),
    ("a: [-]\n", DECLINE),
    ("a: b : c\n", DECLINE),
    ("k: 1\nm:\n  k: b: c\n", DECLINE),
    ("k: 1\nm:\n  k: 'b\n", DECLINE),
    ("a: [b: c]\n", DECLINE),
    ("a: {b:c}\n", DECLINE),
    ('a: {"b":c}\n', DECLINE),
    ("a: [b]#c\n", DECLINE),
    ("a: [b] c\n", DECLINE),
    ('a: "b\\nc"\n', DECLINE),
    ("a: =\n", DECLINE),
    ("a: <<\n", DECLINE),
    ("a: 2024-02-30\n", DECLINE),
    ("a: [2024-01-01]\n", DECLINE),
    ("a:\tb\n", DECLINE),
    ("a: b\r\n", DECLINE),
    ("\ufeffa: b\n", DECLINE),
    ("a: b\x00\n", DECLINE),
    ("a: b\x85c\n", DECLINE),
    ("a: b\u2028c\n", DECLINE),
    ("--- a\n", DECLINE),
    ("---x\n", DECLINE),
    ("a: 1\n---\nb: 2\n", DECLINE),
    ("a: 1\n...\n", DECLINE),
    ("%YAML 1.1\n---\na: 1\n", DECLINE),
    ("a:\n  - b\n  c: d\n", DECLINE),
    ("a:\n    b: 1\n  c: 2\n", DECLINE),
    ("- a\nb: c\n", DECLINE),
    ("a: 1\n b: 2\n", DECLINE),
    ("x\ny\n", DECLINE),
    ("[a]\nb\n", DECLINE),
    ("'a\n", DECLINE),
    ("a: 'b' c\n", DECLINE),
    ("a: 'b'#c\n", DECLINE),
    ("a" * 1100 + ": b\n", DECLINE),
    ("a" * 900 + " " * 200 + ": b\n", DECLINE),
    ("{" + "a" * 1100 + ": b}\n", DECLINE),
    ("{'" + "a" * 1100 + "': b}\n", DECLINE),
    ("{a" + " " * 1100 + ": b}\n", DECLINE),
    ("{" + "a" * 900 + ": b}\n", {"a" * 900: "b"}),
    ("[" + ", ".join(["x" * 90] * 30) + "]\n", ["x" * 90] * 30),
    ("a:\n" + "".join(" " * n + "- x:\n" for n in range(0, 400, 4)), DECLINE),
    ("a: " + "[" * 101 + "]" * 101 + "\n", DECLINE),
]


@pytest.mark.parametrize(("text", "expected"), TRICKY, ids=[repr(t[:40]) for t, _ in TRICKY])
def test_tricky_case(text: str, expected: Any) -> None:
    got = assert_agrees(text)
    if expected is DECLINE:
        assert got is None
    else:
        assert got is not None, "declined"
        assert same(got[0], expected)


def test_deep_nesting_within_the_limit_is_read() -> None:
    text = "a:\n" + "".join(" " * (2 * n) + f"  k{n}:\n" for n in range(98))
    got = assert_agrees(text)
    assert got is not None
    flow = "a: " + "[" * 99 + "]" * 99 + "\n"
    assert assert_agrees(flow) is not None
