"""The tokenizer of tool documents and queries.

Tool names are identifiers (`browser_take_screenshot`, `getCurrentTime`, `list-issues`);
queries are sentences ("take a screenshot of this page"). Both become the same kind of
tokens: lower-case words, identifiers split on `_`, `-`, `.` and camelCase, common words
dropped, and a light stemmer that folds plurals and verb endings ("issues" = "issue",
"listing" = "list") so a query need not match the tool's grammar.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

_WORD: Final = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")

_STOPWORDS_TEXT: Final = """
a an the and or of to in on at by for from with into onto as is are be been being this
that these those it its if then else when while not no can may might will shall should
would could must do does did i me my we our you your he she they them their there here
what which who whom whose how please want need some any all each every just also only
than so such very too want like would tool tools using use via per e g eg ie etc
"""
STOPWORDS: Final = frozenset(_STOPWORDS_TEXT.split())
"""Words that say nothing about which tool is meant."""

_SUFFIXES: Final = (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Fold a word's plural and verb endings: a light, predictable stemmer."""
    if len(word) <= 3:
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
        return word[:-1] if len(word) > 2 and word[-1] == word[-2] else word
    if word.endswith("ed") and len(word) > 4:
        word = word[:-2]
        return word[:-1] if len(word) > 2 and word[-1] == word[-2] else word
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Tokens of `text`: words and identifier parts, lower-case, stemmed, stopwords out."""
    tokens = []
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if word not in STOPWORDS:
            tokens.append(stem(word))
    return tokens


RELATED: Final[dict[str, tuple[str, ...]]] = {
    "folder": ("directory",),
    "directory": ("folder",),
    "repo": ("repository",),
    "repository": ("repo",),
    "pr": ("pull", "request"),
    "mr": ("merge", "request"),
    "remove": ("delete",),
    "erase": ("delete",),
    "forget": ("delete",),
    "discard": ("delete", "reset"),
    "remember": ("store", "create", "observation", "memory"),
    "recall": ("search", "memory"),
    "find": ("search",),
    "lookup": ("search",),
    "look": ("search",),
    "show": ("get", "list"),
    "view": ("get", "read"),
    "open": ("read", "navigate"),
    "launch": ("start", "run"),
    "execute": ("run",),
    "kill": ("terminate", "stop"),
    "cancel": ("stop",),
    "altitude": ("elevation",),
    "height": ("elevation",),
    "webpage": ("page", "web"),
    "website": ("site", "web"),
    "url": ("page", "navigate"),
    "picture": ("image",),
    "photo": ("image",),
    "capture": ("screenshot",),
    "stage": ("add",),
    "mail": ("email",),
    "note": ("comment", "observation"),
    "save": ("write", "store"),
    "edit": ("update", "modify"),
    "change": ("update", "edit"),
    "modify": ("update", "edit"),
    "news": ("search", "web"),
    "headline": ("search", "news"),
    "close": ("update",),
    "whoami": ("self", "user"),
}
"""Words a user types and the words tool definitions use for the same thing: a query is
expanded with these (at a lower weight than its own words)."""


def related(tokens: list[str]) -> list[str]:
    """Tokens related to `tokens` (by `RELATED`) that are not among them already."""
    seen = set(tokens)
    extra: list[str] = []
    for token in tokens:
        for word in RELATED.get(token, ()):
            stemmed = stem(word)
            if stemmed not in seen:
                seen.add(stemmed)
                extra.append(stemmed)
    return extra
