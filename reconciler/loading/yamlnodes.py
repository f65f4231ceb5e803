"""Reading YAML text into plain data, and finding the line of every field when needed.

PyYAML's composer gives nodes that carry their position. `read_documents` turns them into
plain Python data (dicts, lists, scalars, as `yaml.safe_load` would) by the quickest walk
that is still exact; `FieldLines` reads a text again, when a line is asked for, to map
each dotted field path (`spec.args.0`) of each document to its 1-based line. A load that
finds no problem never pays for the lines.

It also reports what YAML accepts but a declaration must not contain: duplicate keys
(YAML silently keeps the last), unsupported tags, recursive aliases, nesting deeper than
`MAX_DEPTH`, and alias "bombs" that expand to more than `MAX_EXPANDED` values. The quick
walk leaves any such document, and any text with anchors, to the careful `_Builder`,
which finds the lines at the same time. Messages never quote the text of a value: a
secret may sit on a broken line.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import yaml

from ..core.errors import InvalidInput


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's loader with tag resolution cached: keys and values recur across documents,
    and libyaml calls back into Python to resolve every scalar."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.resolve = functools.cache(super().resolve)
        # Path resolvers are not used by the safe loader. libyaml calls both for every node:
        # built-in callables that ignore their arguments cost no Python frame.
        self.descend_resolver = operator.is_
        self.ascend_resolver = tuple

    def dispose(self) -> None:
        super().dispose()
        del self.resolve  # the cache refers back to the loader: free both now


_FAST_LOADER: type[yaml.SafeLoader] = _FastLoader
_C_NESTING_LIMIT = 1000
"""Above this possible nesting, the pure-Python parser is used: libyaml's composer recurses
in C and crashes the interpreter on very deep input, where Python raises RecursionError."""

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists accepted in one document."""
MAX_EXPANDED = 1_000_000
"""Most values one document may hold once its aliases are expanded."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INVALID_VALUE = (ValueError, LookupError, AttributeError)
"""What PyYAML's constructors raise for a value their explicit tag does not fit
(`!!int x`, `!!bool maybe`, `!!timestamp soon`)."""


@dataclass(frozen=True, slots=True)
class NodeProblem:
    """Something YAML accepts but a declaration must not contain."""

    path: str
    """Dotted path of the field concerned (empty for the whole document)."""
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Document:
    """One non-empty document of a YAML stream."""

    data: Any
    """Plain data, as `yaml.safe_load` returns it (None where a NodeProblem was found)."""
    line: int
    """1-based line where the document's content starts."""
    field_lines: dict[str, int] | None
    """Dotted field path (`spec.args.0`) -> 1-based line of its key or list item; None
    when not found yet (`FieldLines` finds them)."""
    index: int
    """Position of the document in the stream, counting empty ones."""
    problems: tuple[NodeProblem, ...] = ()


class YamlSyntaxError(InvalidInput):
    """The text is not YAML; the documents before the broken one are still read."""

    reason = "InvalidYAML"

    def __init__(self, message: str, *, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def read_documents(text: str, *, lines: bool = False) -> Iterator[Document]:
    """Yield each non-empty document of a YAML stream, in order.

    Field lines are found only where needed to report a problem of the YAML itself, or
    everywhere with `lines=True`. Raises YamlSyntaxError at the first document that does
    not parse; the documents before it have been yielded already.
    """
    loader = _loader_class(text)(text)
    quick = not lines and "&" not in text  # no anchor, so no alias to share or expand
    index = -1
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
            except yaml.YAMLError as exc:
                raise _syntax_error(exc, text) from None
            except RecursionError:
                message = "invalid YAML: nested too deeply to read"
                raise YamlSyntaxError(message, line=None) from None
            if node is None:
                return
            index += 1
            document = _quick_document(loader, node, index) if quick else None
            if document is None:
                document = _Builder(loader).document(node, index)
            loader.constructed_objects = {}
            loader.recursive_objects = {}
            if document.data is not None or document.problems:
                yield document
    finally:
        loader.dispose()


class FieldLines:
    """The field lines of the documents of one YAML text, found when first asked for.

    Implements `desired.FieldLineSource`. A document whose first line was noted (`starts`)
    is read again alone, from that line to the next noted one, and its lines shifted to
    those of the whole text. Otherwise, or when the excerpt does not read back as a
    document starting on its first line, the whole text is read again, once.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._found: dict[int, dict[str, int]] = {}
        self._whole_read = False
        self.starts: dict[int, int] = {}
        """Position of a document in the stream -> 1-based line where its content starts."""
        self._ends: dict[int, int] = {}
        self._lines: list[str] | None = None
        self._directives = "\n%" in f"\n{text}"

    def field_lines(self, document: int) -> dict[str, int]:
        """Dotted field path -> line, for the document at this position of the stream."""
        if document not in self._found and not self._whole_read:
            alone = self._read_alone(document)
            if alone is not None:
                self._found[document] = alone
            else:
                self._read_whole()
        return self._found.get(document, {})

    def _read_whole(self) -> None:
        try:
            for read in read_documents(self._text, lines=True):
                self._found.setdefault(read.index, read.field_lines or {})
        except YamlSyntaxError:
            pass  # the documents before the broken one have their lines
        self._whole_read = True

    def _read_alone(self, document: int) -> dict[str, int] | None:
        first = self.starts.get(document)
        if first is None or self._directives:  # a directive may define the tags it uses
            return None
        if len(self._ends) != len(self.starts):  # documents noted since: find the ends again
            ordered = sorted(self.starts.items())
            last = self._text.count("\n") + 1
            self._ends = {
                index: (ordered[n + 1][1] - 1 if n + 1 < len(ordered) else last)
                for n, (index, _) in enumerate(ordered)
            }
        if self._lines is None:
            self._lines = self._text.splitlines(keepends=True)
        excerpt = "".join(self._lines[first - 1 : self._ends[document]])
        try:
            read = next(read_documents(excerpt, lines=True), None)
        except YamlSyntaxError:
            return None
        if read is None or read.line != 1:
            return None
        shift = first - 1
        return {path: line + shift for path, line in (read.field_lines or {}).items()}


def _loader_class(text: str) -> type[yaml.SafeLoader]:
    """libyaml when the text cannot nest deeper than it copes with, else pure Python.

    Block collections nest at most two levels per column of indentation (counting the
    `- ` and `? ` indicators that open compact ones); flow collections at most as deep
    as their brackets (quoted brackets only overestimate).
    """
    lines = text.splitlines()
    longest = max(map(len, lines), default=0)
    deepest = text.count("[") + text.count("{")  # a bound, exact unless it is too high
    if 2 * longest + deepest >= _C_NESTING_LIMIT:
        deepest = _bracket_depth(text)
    if 2 * longest + deepest < _C_NESTING_LIMIT:
        return _FAST_LOADER  # the common case, checked fast
    indent = max((len(line) - len(line.lstrip(" -?")) for line in lines), default=0)
    if 2 * indent + 2 + deepest < _C_NESTING_LIMIT:
        return _FAST_LOADER
    return yaml.SafeLoader


_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _bracket_depth(text: str) -> int:
    """Deepest nesting of brackets, counted over the bytes (UTF-8 keeps ASCII bytes apart)."""
    brackets = text.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets), initial=0))


def _syntax_error(exc: yaml.YAMLError, text: str) -> YamlSyntaxError:
    """A message built from the error's description only, never from the offending text."""
    if isinstance(exc, yaml.reader.ReaderError):
        position = exc.position if isinstance(exc.position, int) else 0
        line: int | None = text.count("\n", 0, min(position, len(text))) + 1
        char = exc.character
        code = ord(char) if isinstance(char, str) and char else char
        what = f"unacceptable character #x{code:04x}" if isinstance(code, int) else "bad input"
        return YamlSyntaxError(f"invalid YAML: {what} ({exc.reason})", line=line)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        last = max(1, len(text.splitlines()))  # "end of stream" is on the last line
        line = min(int(mark.line) + 1, last) if mark is not None else None
        message = f"invalid YAML: {exc.problem or 'syntax error'}"
        if exc.context:
            message += f" ({exc.context})"
        return YamlSyntaxError(message, line=line)
    return YamlSyntaxError("invalid YAML", line=None)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


_SCALAR, _MAPPING, _SEQUENCE = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _Unusual(Exception):
    """The quick walk met something only the careful `_Builder` reports exactly."""


def _quick_document(loader: yaml.SafeLoader, root: yaml.Node, index: int) -> Document | None:
    """The document's data without field lines, or None when it needs the `_Builder`.

    Only for texts without anchors: no value is shared, so none is built twice, and the
    number of values is the number of nodes.
    """
    size = [1]
    try:
        if type(root) is _SCALAR:
            data = _quick_scalar(loader, root)
        else:
            data = _quick_collection(loader, root, 0, size)
    except _Unusual:
        loader.recursive_objects = {}  # a failed construction leaves its node marked
        return None
    if size[0] > MAX_EXPANDED:
        return None
    return Document(data, _line(root), None, index)


def _quick_collection(loader: yaml.SafeLoader, node: yaml.Node, depth: int, size: list[int]) -> Any:
    """A mapping or list built by recursion, `depth` levels under the document's root.

    `size` (one item, shared by the whole walk) counts the values built so far.
    """
    if depth >= MAX_DEPTH:
        raise _Unusual
    items = node.value
    size[0] += len(items)
    if type(node) is _MAPPING and node.tag == _MAP_TAG:
        value: dict[str, Any] = {}
        for key, item in items:
            if type(key) is not _SCALAR or key.tag != _STR_TAG:
                raise _Unusual  # a merge key, or a key that is not a string
            if type(item) is not _SCALAR:
                value[key.value] = _quick_collection(loader, item, depth + 1, size)
            elif item.tag == _STR_TAG:
                value[key.value] = item.value
            else:
                value[key.value] = _quick_scalar(loader, item)
        if len(value) < len(items):
            raise _Unusual  # a duplicate key
        return value
    if type(node) is _SEQUENCE and node.tag == _SEQ_TAG:
        return [
            _quick_collection(loader, item, depth + 1, size)
            if type(item) is not _SCALAR
            else item.value
            if item.tag == _STR_TAG
            else _quick_scalar(loader, item)
            for item in items
        ]
    raise _Unusual  # a tag the builder reports


def _quick_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """What `_Builder._scalar` returns for the node, when that is no problem."""
    tag = node.tag
    text = node.value
    if tag == _STR_TAG:
        return text
    if tag == _INT_TAG:
        if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
            return int(text)
    elif tag == _NULL_TAG:
        return None
    elif tag == _BOOL_TAG and text.lower() in loader.bool_values:
        return loader.bool_values[text.lower()]
    try:
        return loader.construct_object(node)
    except (yaml.YAMLError, *_INVALID_VALUE):
        raise _Unusual from None


_PENDING: tuple[Any, int, int] = (None, 0, 0)

_Entries = list[tuple[str, Any, yaml.Node]]
"""(path, key or index, child node) of the nested collections still to build."""


@dataclass
class _Builder:
    """Builds one document without recursion, so deep nesting cannot crash it.

    A frame is `[node, value, entries, position, slot, size, height]`: the mapping or
    list being filled, the `(path, key or index, child)` entries still to build, the key
    of this value in its parent, and the expanded size and height so far.
    """

    loader: yaml.SafeLoader
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[NodeProblem] = field(default_factory=list)
    done: dict[int, tuple[Any, int, int]] = field(default_factory=dict)
    """id(node) -> (value, expanded size, height): aliases reuse the value, as PyYAML does.
    `_PENDING` while the node is being built: meeting it again means a recursive alias."""

    def document(self, root: yaml.Node, index: int) -> Document:
        value, size, height = self._build(root)
        if size > MAX_EXPANDED:
            message = f"aliases expand this document to more than {MAX_EXPANDED:,} values"
            self.problems.append(NodeProblem("", _line(root), message))
            value = None
        elif height > MAX_DEPTH:
            message = f"aliases nest this document deeper than {MAX_DEPTH} levels"
            self.problems.append(NodeProblem("", _line(root), message))
            value = None
        return Document(value, _line(root), self.lines, index, tuple(self.problems))

    def _build(self, root: yaml.Node) -> tuple[Any, int, int]:
        stack: list[list[Any]] = []
        started = self._start(root, "", stack)
        if started is not None:
            return started
        bottom = stack[0]
        while stack:
            frame = stack[-1]
            entries = frame[2]
            if frame[3] < len(entries):
                path, slot, child = entries[frame[3]]
                frame[3] += 1
                built = self._start(child, path, stack)
                if built is None:
                    stack[-1][4] = slot
                else:
                    frame[1][slot] = built[0]
                    frame[5] += built[1]
                    if built[2] >= frame[6]:
                        frame[6] = built[2] + 1
                continue
            stack.pop()
            self.done[id(frame[0])] = (frame[1], frame[5], frame[6])
            if stack:
                parent = stack[-1]
                parent[1][frame[4]] = frame[1]
                parent[5] += frame[5]
                if frame[6] >= parent[6]:
                    parent[6] = frame[6] + 1
        return bottom[1], bottom[5], bottom[6]

    def _start(
        self, node: yaml.Node, path: str, stack: list[list[Any]]
    ) -> tuple[Any, int, int] | None:
        """The built value of a node, or None after pushing a frame that will build it."""
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path), 1, 0
        node_id = id(node)
        known = self.done.get(node_id)
        if known is not None:
            if known is _PENDING:
                self._problem(path, node, "recursive YAML alias: a value cannot contain itself")
                return None, 1, 0
            return known
        if len(stack) >= MAX_DEPTH:
            self._problem(path, node, f"nested deeper than {MAX_DEPTH} levels")
            return None, 1, 0
        value: Any
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            value, entries, size = self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            value, entries, size = self._sequence(node, path)
        else:
            self._problem(path, node, f"unsupported YAML tag {node.tag!r}")
            return None, 1, 0
        self.done[node_id] = _PENDING
        stack.append([node, value, entries, 0, None, size, 1])
        return None

    # The two methods below fill scalars at once and leave only nested collections as
    # entries for the main loop: most values of a declaration are scalars.

    def _sequence(self, node: yaml.SequenceNode, path: str) -> tuple[list[Any], _Entries, int]:
        prefix = f"{path}." if path else ""
        lines = self.lines
        items = node.value
        value: list[Any] = [None] * len(items)
        entries: _Entries = []
        size = 1
        for index, item in enumerate(items):
            child_path = prefix + str(index)
            lines[child_path] = item.start_mark.line + 1
            if isinstance(item, yaml.ScalarNode):
                value[index] = (
                    item.value if item.tag == _STR_TAG else self._scalar(item, child_path)
                )
                size += 1
            else:
                entries.append((child_path, index, item))
        return value, entries, size

    def _mapping(
        self, node: yaml.MappingNode, path: str, *, flattened: bool = False
    ) -> tuple[dict[Any, Any], _Entries, int]:
        prefix = f"{path}." if path else ""
        lines = self.lines
        value: dict[Any, Any] = {}
        entries: _Entries = []
        size = 1
        for key_node, item in node.value:
            if key_node.tag == _STR_TAG and type(key_node) is yaml.ScalarNode:
                key = key_node.value
            elif not isinstance(key_node, yaml.ScalarNode):
                self._problem(path, key_node, "a key must be a plain string, not a list or mapping")
                continue
            elif key_node.tag == _MERGE_TAG and not flattened:
                return self._merged(node, path)
            else:
                key = self._scalar(key_node, path)
            child_path = prefix + (key if type(key) is str else str(key))
            lines[child_path] = key_node.start_mark.line + 1
            if isinstance(item, yaml.ScalarNode):
                value[key] = item.value if item.tag == _STR_TAG else self._scalar(item, child_path)
                size += 1
            else:
                value[key] = None  # keeps the key's place; filled when the entry is built
                entries.append((child_path, key, item))
        if not flattened and len(value) < len(node.value):
            self._check_duplicates(node, path, prefix)
        return value, entries, size

    def _merged(self, node: yaml.MappingNode, path: str) -> tuple[dict[Any, Any], _Entries, int]:
        """A mapping with `<<` merge keys: own keys checked for duplicates, then merged."""
        self._check_duplicates(node, path, f"{path}." if path else "")
        try:
            self.loader.flatten_mapping(node)
        except (yaml.YAMLError, RecursionError):
            message = "invalid merge key '<<': merge a mapping or a list of mappings"
            self._problem(path, node, message)
            return {}, [], 1
        return self._mapping(node, path, flattened=True)

    def _check_duplicates(self, node: yaml.MappingNode, path: str, prefix: str) -> None:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self._scalar(key_node, path)
            if key in first_line:
                message = (
                    f"duplicate key '{key}' (first at line {first_line[key]}); "
                    "YAML would keep only the last one"
                )
                self._problem(prefix + str(key), key_node, message)
            else:
                first_line[key] = _line(key_node)

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        """Construct a scalar once, whether used as a key or as a value."""
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if tag == _INT_TAG:
            text = node.value
            if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
                return int(text)  # plain decimal; YAML 1.1 octal, hex, 1_000 go the long way
        elif tag == _NULL_TAG:
            return None
        known = self.done.get(id(node))
        if known is not None:
            return known[0]
        value: Any = None
        try:
            value = self.loader.construct_object(node)
        except yaml.YAMLError:
            self._problem(path, node, f"unsupported YAML tag {node.tag!r}")
        except _INVALID_VALUE:
            self._problem(path, node, "invalid value for its YAML type (e.g. an impossible date)")
        self.done[id(node)] = (value, 1, 0)
        return value

    def _problem(self, path: str, node: yaml.Node, message: str) -> None:
        self.problems.append(NodeProblem(path, _line(node), message))
