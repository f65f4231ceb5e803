"""Ranking of tools for `find_tools`: tokenizer, index, permissions, fusion, and recall on
real tool definitions of public MCP servers (tests/data/discovery)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconciler.discovery import ToolDocument, ToolIndex, reciprocal_rank_fusion, tokenize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from discovery import evaluate, load_catalogue, load_queries


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("browser_take_screenshot", ["browser", "take", "screenshot"]),
        ("getCurrentTime", ["get", "current", "time"]),
        ("list-issues", ["list", "issue"]),
        ("API-post-search", ["api", "post", "search"]),
        ("What are the open pull requests?", ["open", "pull", "request"]),
        ("listing directories", ["list", "directory"]),
        ("created branches", ["creat", "branch"]),
        ("HTMLParser for URLs", ["html", "parser", "url"]),
    ],
)
def test_names_and_sentences_become_the_same_tokens(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def _doc(name: str, description: str, server: str = "s", **extra: object) -> ToolDocument:
    return ToolDocument(
        id=f"{server}_{name}", server=server, name=name, description=description, **extra
    )  # type: ignore[arg-type]


TOOLS = [
    _doc("get_current_time", "Get the current time in a time zone"),
    _doc("convert_time", "Convert a time between time zones"),
    _doc(
        "read_file",
        "Read a file from disk",
        input_schema={"properties": {"path": {"description": "Where the file lives"}}},
    ),
    _doc("send", "Deliver a note", keywords=["slack", "message"]),
]


def test_the_tool_that_answers_ranks_first() -> None:
    index = ToolIndex()
    index.update(TOOLS)
    assert index.search("what is the current time", limit=1)[0].document.name == "get_current_time"
    assert index.search("convert between zones", limit=1)[0].document.name == "convert_time"
    assert index.search("the path where a file lives", limit=1)[0].document.name == "read_file"


def test_enhancement_keywords_find_a_tool_its_description_does_not() -> None:
    index = ToolIndex()
    index.update(TOOLS)
    assert [m.document.name for m in index.search("post a slack message")] == ["send"]


def test_only_allowed_tools_are_returned() -> None:
    index = ToolIndex()
    index.update(TOOLS)
    found = index.search("time", allowed={"s_convert_time"}, limit=5)
    assert [m.document.id for m in found] == ["s_convert_time"]
    assert index.search("time", allowed=set(), limit=5) == []


def test_an_unchanged_update_keeps_the_index_and_a_change_rebuilds_it() -> None:
    index = ToolIndex()
    assert index.update(TOOLS)
    index.search("time")
    assert index.builds == 1
    assert not index.update(list(reversed(TOOLS)))
    index.search("time")
    assert index.builds == 1
    assert index.update([*TOOLS[:3], _doc("send", "Deliver a note by email")])
    assert [m.document.name for m in index.search("email")] == ["send"]
    assert index.builds == 2


def test_queries_without_words_find_nothing() -> None:
    index = ToolIndex()
    index.update(TOOLS)
    assert index.search("the of and ?!") == []
    assert index.search("zebra") == []


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    assert reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "a"]])[0] == "b"
    assert reciprocal_rank_fusion([["a"], []]) == ["a"]


def test_recall_on_real_tool_definitions_meets_the_target() -> None:
    documents = load_catalogue()
    queries = load_queries()
    assert len(documents) >= 300
    assert len(queries) >= 150
    index = ToolIndex()
    index.update(documents)
    figures = evaluate(index, queries)
    assert figures["recall@5"] >= 0.9, figures
