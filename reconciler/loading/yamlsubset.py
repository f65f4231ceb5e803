"""A fast reader for the plain block style of YAML that declarations are written in.

`read_piece` reads one document of a stream (the text between two `---` lines) when it
keeps to a subset of YAML it reads exactly as PyYAML's safe loader with libyaml does, and
declines (returns None) anything else, so that the caller reads the whole text the usual
way. Declining is always safe; a different answer would not be, so the reader declines
whatever it is not certain about.

The subset, line by line (each line is `\\n`-separated; the text is printable, without
tabs, carriage returns or a byte-order mark):

- an optional first line `---`, maybe followed by spaces and a `# comment`;
- blank lines, and comment lines (`#` after optional spaces);
- `key: value`, `key:` (a value on the lines below, or None), `- value`, `-` (the same
  for a list item), and `- key: value` (a mapping inside a list item, continued at the
  column of its first key); a list may sit at its key's indentation (`key:\\n- a`);
- keys: one-line plain or quoted scalars that resolve to a string, each once per mapping;
- values: plain scalars on one line, resolved by PyYAML's own resolver and constructors
  (YAML 1.1: `yes` is True, `0o7` a string, `07` the int 7, `2024-01-01` a date),
  single-quoted scalars, double-quoted scalars without a backslash, and flow
  collections on one line (`[a, "b", {c: d}]`) made of the same scalars, with plain
  scalars there free of `:`, `#` and `?`;
- a comment after a value when a space precedes its `#`.

It declines anchors, aliases, tags, block scalars (`|`, `>`), `?` keys, merge keys, a
value or a key spread over several lines, `- - a`, `a: b: c`, a value starting with an
indicator (`@`, `%`, `` ` ``, `- `...), a key whose `:` is more than 1000 characters
from its start, empty entries, trailing commas, `{a}` keys or dates in flow collections,
a scalar whose construction fails (`2024-02-30`, `=`), `---`, `...` or `%` at the start
of a later line, pieces longer than `MAX_CHARS`, and nesting deeper than `MAX_DEPTH`.

Lines are classified once per distinct line and scalars resolved once per distinct text
(in bounded caches): a stream of similar declarations repeats most of them. A flow
collection is written as JSON, scalar by scalar, and built by the JSON decoder.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, Final

import yaml

MAX_DEPTH: Final = 100
"""Collections may nest this many levels (a root mapping is one); deeper, decline."""
MAX_CHARS: Final = 1_000_000
"""Longer pieces are declined: they are rare, and the careful path bounds their size."""
_MAX_KEY: Final = 1000
"""libyaml looks for the `:` of a key without `?` at most 1024 characters after its start
(past that, an error in block context, another reading in flow context)."""
_CACHE_SIZE: Final = 1 << 16
"""Entries each cache holds before it is emptied (a 10,000-server tree leaves 35,000
distinct lines, about 16 MB with what they refer to)."""

_LOADER_CLASS: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG: Final = "tag:yaml.org,2002:str"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_NULL_TAG: Final = "tag:yaml.org,2002:null"
_PLAIN_IMPLICIT: Final = (True, False)

# Kinds of a line's content (see `_classify`).
_KEY: Final = 0
_ITEM: Final = 1
_VALUE: Final = 2

# Kinds of a value.
_EMPTY: Final = 0  # nothing on the line: the value is below, or None
_SCALAR: Final = 1  # the value itself (immutable)
_FLAT_LIST: Final = 2  # a tuple of scalars: list(value)
_FLAT_DICT: Final = 3  # a tuple of (key, scalar) pairs: dict(value)
_JSON: Final = 4  # JSON text: decoded afresh each time

_SKIP: Final = (-1,)
"""A blank or comment line."""
_DECLINED_LINE: Final = (-2,)
"""A line outside the subset."""


class _Decline(Exception):
    """The text leaves the subset."""


# A plain scalar on one line in block context. Its first character is not an indicator
# (`-` is allowed when followed by an ordinary character); a `:` inside must be followed
# by a non-space; a word after spaces must not start with `#` (a comment) or `:`.
_B_FIRST = r"(?:[^ \-?:,\[\]{}#&*!|>'\"%@`]|-(?=[^ #:,\[\]{}]))"
_B_WORD = r"(?:[^ :]|:(?=[^ ]))"
_B_NEXT = r"(?:[^ :#]|:(?=[^ ]))"
_PLAIN_BLOCK = rf"{_B_FIRST}{_B_WORD}*+(?: ++{_B_NEXT}{_B_WORD}*+)*+"
_SINGLE = r"'(?:[^']|'')*+'"
_DOUBLE = r'"[^"\\]*+"'
_TAIL = r"(?: ++#.*+)?+ *+"
"""What may follow a value on its line: spaces, and a comment after a space."""

_KEY_LINE = re.compile(rf"(?P<key>{_PLAIN_BLOCK}|{_SINGLE}|{_DOUBLE}) *+:(?: ++(?P<rest>.*+))?+")
_PLAIN_VALUE = re.compile(rf"({_PLAIN_BLOCK}){_TAIL}")
_SINGLE_VALUE = re.compile(rf"({_SINGLE}){_TAIL}")
_DOUBLE_VALUE = re.compile(rf"({_DOUBLE}){_TAIL}")
_HEADER = re.compile(r"---(?: ++(?:#.*+)?+)?+")

# Tokens of a flow collection: spaces are skipped, a key carries its `:` (which must be
# followed by a space), a comment needs a space before it, and any other character is a
# one-character token that no rule accepts.
_F_PLAIN = (
    r"(?:[^ \-?:,\[\]{}#&*!|>'\"%@`]|-(?=[^ ,\[\]{}:#?]))[^ ,\[\]{}:#?]*+(?: ++[^ ,\[\]{}:#?]++)*+"
)
_FLOW_TOKEN = re.compile(
    rf" *+([\[\]{{}},]|(?:{_SINGLE}|{_DOUBLE}|{_F_PLAIN})(?: *+:(?= ))?+|(?<= )#.*+|.)"
)
_FLOW_SCALAR_SPLIT = re.compile(rf"({_DOUBLE}|{_F_PLAIN})")
_COLON_BEFORE_NON_SPACE = re.compile(r":(?! )")
_NOT_PLAIN_START: Final = frozenset("-?:,[]{}#&*!|>'\"%@` ")


@functools.cache
def _loader() -> yaml.SafeLoader:
    """A loader for its resolver and constructors only (it never reads a stream)."""
    return _LOADER_CLASS("")


_scalars: dict[str, Any] = {}
_lines: dict[str, Any] = {}
_plain_keys: dict[str, str] = {}
"""Plain keys read by `_KEY_LINE`: `key: ...` is read by a partition on `: ` when the
text before the first `: ` is one of them."""
_str_plains: set[str] = set()
"""Plain scalars known to resolve to strings."""
_DECLINED: Final = object()


def read_piece(text: str) -> tuple[Any, int] | None:
    """The data of one YAML document and the 0-based line of its root, or None.

    `text` is one document of a stream, maybe starting with its `---` line. The data is
    what `yaml.load(text, Loader=yaml.CSafeLoader)` returns, and the line that of the
    root node's start mark. A document without content gives `(None, -1)`. None means
    declined: the text uses YAML outside the subset this module reads (see its
    docstring), and must be read by libyaml.
    """
    if len(text) > MAX_CHARS:
        return None
    try:
        return _read(text)
    except _Decline:
        return None


def _read(text: str) -> tuple[Any, int]:
    lines = text.split("\n")
    head = lines[0]
    if head.startswith("---"):
        if head != "---" and (_HEADER.fullmatch(head) is None or not head.isprintable()):
            raise _Decline
        lines[0] = ""
    cache = _lines
    if len(cache) > _CACHE_SIZE:
        cache.clear()
    known = cache.get
    root: Any = None
    root_line = -1
    # The open collections, innermost last, each [indent, container, is a mapping, is a
    # list at its key's indentation, the key last added]; `top` is the innermost.
    stack: list[list[Any]] = []
    top: list[Any] = _NO_FRAME
    top_indent = -1
    # A `key:` or `-` with nothing after it waits for its value on the lines below; the
    # document itself waits for its root.
    pending = True
    pending_indent = -1
    for number, line in enumerate(lines):
        info = known(line)
        if info is None:
            info = cache[line] = _classify(line)
        indent = info[0]
        if indent < 0:
            if info is _SKIP:
                continue
            raise _Decline
        kind = info[1]
        if pending:
            pending = False
            if indent > pending_indent:  # the value starts on this line
                if kind == _VALUE:
                    value = _value(info[2], info[3], info[4], len(stack))
                    if top is _NO_FRAME:
                        root, root_line = value, number
                        top_indent = _DONE
                    elif top[2]:
                        top[1][top[4]] = value
                    else:
                        top[1][-1] = value
                    continue
                if len(stack) >= MAX_DEPTH:
                    raise _Decline
                container: Any = {} if kind == _KEY else []
                if top is _NO_FRAME:
                    root, root_line = container, number
                elif top[2]:
                    top[1][top[4]] = container
                else:
                    top[1][-1] = container
                top = [indent, container, kind == _KEY, False, None]
                top_indent = indent
                stack.append(top)
            elif indent == pending_indent and kind == _ITEM and top[2]:
                # A list at its key's indentation.
                if len(stack) >= MAX_DEPTH:
                    raise _Decline
                container = top[1][top[4]] = []
                top = [indent, container, False, True, None]
                stack.append(top)
        if indent != top_indent:
            while indent < top_indent:
                stack.pop()
                top = stack[-1] if stack else _NO_FRAME
                top_indent = top[0]
            if indent != top_indent:
                raise _Decline  # between two levels, or more content after the root
        if kind == _KEY:
            if not top[2]:
                if not top[3]:
                    raise _Decline  # a key among list items
                stack.pop()  # the end of a list at its key's indentation
                top = stack[-1]
        elif kind == _ITEM:
            if top[2]:
                raise _Decline  # a list item among keys
            info = info[2]
            if info[1] == _VALUE:
                value_kind = info[2]
                if value_kind == _SCALAR:
                    top[1].append(info[3])
                elif value_kind == _EMPTY:
                    top[1].append(None)
                    pending, pending_indent = True, indent
                else:
                    top[1].append(_value(value_kind, info[3], info[4], len(stack)))
                continue
            # `- key: value`: a mapping whose keys are at the column of this one.
            if len(stack) >= MAX_DEPTH:
                raise _Decline
            container = {}
            top[1].append(container)
            top = [info[0], container, True, False, None]
            top_indent = info[0]
            stack.append(top)
        else:
            raise _Decline  # a lone value where a key or an item belongs
        mapping = top[1]
        key = info[2]
        if key in mapping:
            raise _Decline  # YAML would keep the last value silently
        value_kind = info[3]
        if value_kind == _SCALAR:
            mapping[key] = info[4]
        elif value_kind == _EMPTY:
            mapping[key] = None
            top[4] = key
            pending, pending_indent = True, top_indent
        else:
            mapping[key] = _value(value_kind, info[4], info[5], len(stack))
    return root, root_line


_DONE: Final = -2
"""`top_indent` once the root was a scalar: no line may follow."""
_NO_FRAME: Final[list[Any]] = [-2, None, False, False, None]
"""`top` outside any collection (at the root)."""


def _value(kind: int, value: Any, height: int, depth: int) -> Any:
    """A fresh value from a line's description, `depth` collections below the root."""
    if kind == _SCALAR:
        return value
    if depth + height > MAX_DEPTH:
        raise _Decline
    if kind == _FLAT_LIST:
        return list(value)
    if kind == _FLAT_DICT:
        return dict(value)
    try:
        built, end = _scan(value, 0)
    except (ValueError, StopIteration):
        raise _Decline from None
    if end != len(value):
        raise _Decline  # more after the collection
    return built


def _classify(line: str) -> tuple[Any, ...]:
    """What a line holds: `_SKIP`, `_DECLINED`, or a tuple starting with its indentation:

    `(indent, _KEY, key, value kind, value, height)` for `key: value`,
    `(indent, _ITEM, content)` for `- content`, content being a _KEY or _VALUE tuple
    whose indentation is the content's column, and
    `(indent, _VALUE, value kind, value, height)` for a value alone.
    """
    content = line.lstrip(" ")
    if not content or content[0] == "#":
        return _SKIP if line.isprintable() else _DECLINED_LINE
    if not line.isprintable():
        return _DECLINED_LINE
    indent = len(line) - len(content)
    if indent == 0 and content.startswith(("---", "...", "%")):
        return _DECLINED_LINE  # a document marker or a directive: not inside a piece
    try:
        if content == "-" or content.startswith("- "):
            rest = content[1:].lstrip(" ")
            if rest == "-" or rest.startswith("- "):
                raise _Decline  # `- - a`
            return indent, _ITEM, _key_or_value(rest, indent + len(content) - len(rest))
        return _key_or_value(content, indent)
    except _Decline:
        return _DECLINED_LINE


def _key_or_value(content: str, indent: int) -> tuple[Any, ...]:
    if not content or content[0] == "#":
        return indent, _VALUE, _EMPTY, None, 0
    key_text, colon, rest = content.partition(": ")
    key = _plain_keys.get(key_text) if colon else None
    if key is not None:  # `key: ...` with a key already read the long way
        rest = rest.lstrip(" ")
        if not rest or rest[0] == "#":
            return indent, _KEY, key, _EMPTY, None, 0
        return indent, _KEY, key, *_inline(rest)
    match = _KEY_LINE.fullmatch(content)
    if match is None:
        return indent, _VALUE, *_inline(content)
    rest = match["rest"]
    if (len(content) if rest is None else match.start("rest")) > _MAX_KEY:
        raise _Decline  # libyaml finds no `:` that far from the key's start
    key_text = match["key"]
    key = _scalar_text(key_text)
    if type(key) is not str:
        raise _Decline  # `1:`, `yes:`, `null:`, `<<:`
    plain = key_text[0] != "'" and key_text[0] != '"'
    if plain and len(key) < _MAX_KEY // 2 and content[len(key)] == ":":
        if len(_plain_keys) > _CACHE_SIZE:
            _plain_keys.clear()
        _plain_keys[key] = key  # a plain key, right before its `:`
    if not rest or rest[0] == "#":
        return indent, _KEY, key, _EMPTY, None, 0
    return indent, _KEY, key, *_inline(rest)


def _inline(text: str) -> tuple[int, Any, int]:
    """(value kind, value, flow height) of a value written on the rest of a line."""
    first = text[0]
    if first == "[" or first == "{":
        return _flow(text)
    if first == "'":
        match = _SINGLE_VALUE.fullmatch(text)
    elif first == '"':
        match = _DOUBLE_VALUE.fullmatch(text)
    else:
        match = _PLAIN_VALUE.fullmatch(text)
    if match is None:
        raise _Decline
    return _SCALAR, _scalar_text(match[1]), 0


def _scalar_text(text: str) -> Any:
    """The value of a plain or quoted scalar as written (quotes included)."""
    first = text[0]
    if first == "'":
        return text[1:-1].replace("''", "'")
    if first == '"':
        return text[1:-1]
    return _plain(text)


def _plain(text: str) -> Any:
    value = _scalars.get(text, _DECLINED)
    if value is _DECLINED:
        if len(_scalars) > _CACHE_SIZE:
            _scalars.clear()
        value = _scalars[text] = _resolve(text)
    if value is _DECLINED:
        raise _Decline
    return value


def _resolve(text: str) -> Any:
    """What the safe loader makes of a plain scalar, or `_DECLINED` when it fails."""
    loader = _loader()
    resolvers = loader.yaml_implicit_resolvers
    if text[0] not in resolvers and None not in resolvers and not loader.yaml_path_resolvers:
        return text  # what `resolve` finds: no resolver for its first character, a string
    tag = loader.resolve(yaml.ScalarNode, text, _PLAIN_IMPLICIT)
    if tag == _STR_TAG:
        return text
    if tag == _NULL_TAG:
        return None
    if tag == _INT_TAG and text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
        return int(text)
    try:
        return loader.construct_object(yaml.ScalarNode(tag, text))
    except Exception:
        return _DECLINED
    finally:
        loader.constructed_objects = {}
        loader.recursive_objects = {}


def _flow(text: str) -> tuple[int, Any, int]:
    """(value kind, value, height bound) of a flow collection and what follows on its line.

    The collection is written as JSON (each scalar as the JSON of its YAML value), and
    the JSON decoder builds it: JSON's grammar is the one the tokens must follow here (no
    empty entry, no trailing comma, a key and `:` before every value of a mapping, none
    in a list, nothing but spaces between tokens).
    """
    quick = _flow_json_quick(text)
    if quick is not None:
        try:
            return _decoded(quick[0], distinct=quick[1])
        except _Decline:
            pass  # read token by token below: it may still be in the subset
    return _decoded(_flow_json(text), distinct=False)


def _decoded(source: str, *, distinct: bool) -> tuple[int, Any, int]:
    """The description of a flow collection from its JSON; `distinct` when no two of its
    scalars are written alike, so that no key can be repeated."""
    collections = source.count("[") + source.count("{")  # at least (brackets in strings)
    if distinct and 1 < collections <= _WIDE:
        return _JSON, source, collections  # checked when decoded, as each time it is used
    try:
        if distinct:
            value, end = _scan(source, 0)
        elif collections == 1:
            value, end = _scan(source, 0)
            if type(value) is dict and len(value) != source.count(":"):
                value, end = _scan_unique(source, 0)  # a duplicate key, or a `:` in a string
        else:
            value, end = _scan_unique(source, 0)
    except (ValueError, StopIteration):
        raise _Decline from None
    if end != len(source):
        raise _Decline  # more after the collection
    if collections == 1:
        if type(value) is list:
            return _FLAT_LIST, tuple(value), 1
        return _FLAT_DICT, tuple(value.items()), 1
    return _JSON, source, collections if collections <= _WIDE else _height(value)


_WIDE: Final = 10


def _height(value: Any) -> int:
    """How many collections nest in `value`, itself included (0 for a scalar)."""
    if type(value) is list:
        return 1 + max(map(_height, value), default=0)
    if type(value) is dict:
        return 1 + max(map(_height, value.values()), default=0)
    return 0


def _flow_json_quick(text: str) -> tuple[str, bool] | None:
    """The JSON of a flow collection, when cut by one split and its plain scalars are all
    strings, and whether its scalars are all distinct; else None.

    Only for a text without a comment, single quote or backslash, whose every `:` is
    followed by a space. Between the scalars, what JSON accepts is what the subset does.
    """
    if "#" in text or "'" in text or "\\" in text or _COLON_BEFORE_NON_SPACE.search(text):
        return None
    pieces = _FLOW_SCALAR_SPLIT.split(text.rstrip(" "))
    if len(text) > _MAX_KEY and max(map(len, pieces)) > _MAX_KEY // 2:
        return None  # a key and the spaces before its `:` may be too long for libyaml
    scalars = pieces[1::2]  # the scalars, between the rest
    if '"' not in text:
        if not _str_plains.issuperset(scalars) and not _all_strings(scalars):
            return None
        return '"'.join(pieces), len(set(scalars)) == len(scalars)
    plains = [scalar for scalar in scalars if scalar[0] != '"']
    if text.count('"') != 2 * (len(scalars) - len(plains)):
        return None  # a quote in a plain scalar, or one that does not close
    if not _str_plains.issuperset(plains) and not _all_strings(plains):
        return None
    pieces[1::2] = [scalar if scalar[0] == '"' else f'"{scalar}"' for scalar in scalars]
    return "".join(pieces), False


def _all_strings(plains: list[str]) -> bool:
    """Whether these plain scalars all resolve to strings (noted when they do)."""
    for plain in plains:
        try:
            if type(_plain(plain)) is not str:
                return False
        except _Decline:
            return False
    if len(_str_plains) > _CACHE_SIZE:
        _str_plains.clear()
    _str_plains.update(plains)
    return True


def _flow_json(text: str) -> str:
    """The JSON of a flow collection, token by token."""
    tokens = _FLOW_TOKEN.findall(text)
    last = tokens[-1]
    if last[0] == "#" and text.endswith(last) and text[-len(last) - 1] == " ":
        tokens.pop()  # a comment after the collection
    if len(text) > _MAX_KEY and max(map(len, tokens)) > _MAX_KEY:
        raise _Decline  # a key (with its `:`) too long for libyaml to find its `:`
    known = _fragments.get
    return "".join([known(token) or _fragment(token) for token in tokens])


def _fragment(token: str) -> str:
    """The JSON of one token of a flow collection (a key ends with `:`)."""
    if len(_fragments) > _CACHE_SIZE:
        _fragments.clear()
        _fragments.update(_STRUCTURE)
    if token[-1] == ":" and len(token) > 1:
        key = _flow_scalar(token[:-1].rstrip(" "))
        if type(key) is not str:
            raise _Decline
        fragment = json.dumps(key) + ":"
    else:
        fragment = _json_scalar(_flow_scalar(token))
    _fragments[token] = fragment
    return fragment


def _json_scalar(value: Any) -> str:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return json.dumps(value)
    if kind is float:
        return json.dumps(value)  # repr, or NaN, Infinity, -Infinity: read back exactly
    raise _Decline  # a date or a timestamp: not in JSON


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) < len(pairs):
        raise ValueError("duplicate key")
    return mapping


def _flow_scalar(token: str) -> Any:
    first = token[0]
    if first == "'" or first == '"':
        if len(token) < 2 or token[-1] != first:
            raise _Decline  # an unclosed quote
        return _scalar_text(token)
    elif first not in _NOT_PLAIN_START or (first == "-" and len(token) > 1):
        return _plain(token)  # `-` alone is no plain scalar, `-x` is
    raise _Decline  # `:`, `&`, `*`, `#`, a lone `-`...


_STRUCTURE: Final = {char: char for char in "[]{},"}
"""The tokens that JSON writes as YAML does."""
_fragments: dict[str, str] = dict(_STRUCTURE)
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The JSON decoder's C scanner: (value, end) of the JSON value at an index."""
_scan_unique: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(
    object_pairs_hook=_unique_keys
).scan_once  # type: ignore[attr-defined]


def _clear_caches() -> None:
    """Forget the lines, scalars and tokens seen (a benchmark's cold start)."""
    _lines.clear()
    _plain_keys.clear()
    _scalars.clear()
    _str_plains.clear()
    _fragments.clear()
    _fragments.update(_STRUCTURE)
