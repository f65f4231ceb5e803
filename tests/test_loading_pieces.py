"""Documents read alone, as cut from their stream, and documents read once for two loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.loading.loader import DocumentMemo, load_documents, load_paths
from reconciler.loading.pieces import cut_documents
from reconciler.loading.yamlnodes import YamlSyntaxError, read_documents

SERVER = (
    "apiVersion: mcp.reconciler.dev/v1alpha1\nkind: MCPServer\n"
    "metadata: {{name: {name}}}\nspec:\n  command: mcp-server-time\n  args: [{arg}]\n"
)

# Lines a stream can be made of: documents' content, markers, and what must stop the cut.
_LINES = st.sampled_from(
    [
        "a: 1",
        "b: [x, y]",
        "- item",
        "plain text",
        "# a comment",
        "",
        "   ",
        "---",
        "--- # marker with a comment",
        "--- text on the marker",
        "--- |",
        "  ---",
        "k: |",
        "  block",
        "---x: not a marker",
        "'quoted",
        "  continued'",
        "...",
        "%YAML 1.1",
        'q: "a\r\nb"',
    ]
)


def _read(text: str) -> list[tuple[int, int, object]] | str:
    """(index, line, data) of each document read whole, or the first syntax error."""
    try:
        return [(d.index, d.line, d.data) for d in read_documents(text)]
    except YamlSyntaxError as error:
        return f"error at line {error.line}"


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_LINES, max_size=12), end=st.sampled_from(["", "\n"]))
def test_documents_read_alone_are_the_documents_of_the_stream(lines: list[str], end: str) -> None:
    text = "\n".join(lines) + end
    pieces = cut_documents(text)
    if pieces is None:
        return
    whole = _read(text)
    alone: list[tuple[int, int, object]] = []
    for piece in pieces:
        read = _read(piece.text)
        if isinstance(read, str):  # a broken document: the stream is broken there too
            assert isinstance(whole, str)
            return
        assert len(read) <= 1, piece
        alone += [(piece.position, piece.line + line, data) for _, line, data in read]
    assert alone == whole


@pytest.mark.parametrize(
    "text",
    [
        "%YAML 1.1\n---\na: 1\n",
        "a: 1\n...\n---\nb: 2\n",
        "a: 1\r\n---\r\nb: 2\r\n",
        "a: 1\n---\n\ufeffb: 2\n",
        "a: 1\u2028---\nb: 2\n",
    ],
    ids=["directive", "end marker", "CRLF", "byte-order mark", "line separator"],
)
def test_streams_that_cannot_be_cut_exactly_are_read_whole(text: str) -> None:
    assert cut_documents(text) is None


def test_comments_before_the_first_marker_are_no_document() -> None:
    pieces = cut_documents("# servers\n\n---\na: 1\n---\n---\nb: 2\n")
    assert pieces is not None
    assert [(p.position, p.line) for p in pieces] == [(0, 2), (1, 4), (2, 5)]
    assert [(d.index, d.line) for d in read_documents("# s\n\n---\na: 1\n---\n---\nb: 2\n")] == [
        (0, 4),
        (2, 7),
    ]


def _tree(root: Path, servers: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in servers.items():
        (root / name).write_text(text)
    return root


def test_a_memo_shared_by_two_loads_gives_the_states_of_two_loads(tmp_path: Path) -> None:
    one = SERVER.format(name="one", arg="a")
    two = SERVER.format(name="two", arg="b")
    head = _tree(tmp_path / "head", {"s.yaml": f"# team\n---\n{one}---\n{two}"})
    base = _tree(tmp_path / "base", {"s.yaml": f"{two}---\n{one.replace('[a]', '[c]')}"})
    memo = DocumentMemo()
    with_memo = [load_paths([head], memo=memo), load_paths([base], memo=memo)]
    alone = [load_paths([head]), load_paths([base])]
    for shared, own in zip(with_memo, alone, strict=True):
        assert shared.state is not None
        assert own.state is not None
        assert shared.state.resources == own.state.resources
        assert shared.state.origins == own.state.origins  # file, line and every field line


def test_a_document_known_to_the_memo_is_still_named_in_duplicates(tmp_path: Path) -> None:
    one = SERVER.format(name="one", arg="a")
    memo = DocumentMemo()
    assert load_documents([("head.yaml", one)], memo=memo).ok
    result = load_documents([("a.yaml", one), ("b.yaml", f"# again\n---\n{one}")], memo=memo)
    assert [str(p) for p in result.problems] == [
        "b.yaml:5: MCPServer/one: metadata.name: duplicate of a.yaml:3: names are unique per "
        "kind and namespace"
    ]


def test_a_document_known_to_the_memo_still_has_its_references_checked(tmp_path: Path) -> None:
    one = SERVER.format(name="one", arg="a")
    suite = (
        "apiVersion: mcp.reconciler.dev/v1alpha1\nkind: MCPSuite\nmetadata: {name: s}\n"
        "spec:\n  servers:\n    - {name: one}\n"
    )
    memo = DocumentMemo()
    assert load_documents([("all.yaml", f"{one}---\n{suite}")], memo=memo).ok
    result = load_documents([("suite.yaml", suite)], memo=memo)
    assert not result.ok
    assert [f"{p.file}:{p.line}" for p in result.errors] == ["suite.yaml:6"]
