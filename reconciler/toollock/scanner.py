"""The tool-poisoning scanner: a table of patterns over every text of a tool definition.

Pure and offline. `scan_tool` reads the title, the description, the annotations' title and
every `title`/`description` inside the input and output schemas, and reports findings of
six classes:

- `hidden-characters` — zero-width, bidi controls, Unicode tag characters, variation
  selectors, other invisible format characters (high);
- `instructions-to-model` — text aimed at the model rather than describing the tool
  ("ignore previous instructions", `<IMPORTANT>`, "do not tell the user", "before using
  this tool, read …") (high);
- `sensitive-paths` — SSH keys, `.env`, credentials, client MCP configurations (high);
- `exfiltration` — asks to put data into parameters, URLs or other tools (high);
- `shadowing` — mentions tools of another server of the same suite (high);
- `oversized` — more text than a description needs (medium; high past a prompt's size).

Patterns are written against published tool-poisoning examples and checked for zero false
positives on the reference servers (tests/test_toollock_scanner.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from ..core.models.toollock import FindingKind
from .definitions import ToolDict, is_invisible, one_line, texts_of

Severity = Literal["high", "medium", "low"]

SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
_BY_RANK: tuple[Severity, ...] = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspicious passage of one tool's definition."""

    server: str
    tool: str
    kind: FindingKind
    severity: Severity
    where: str
    """Field of the definition: `description`, `inputSchema.properties.note.description`..."""
    excerpt: str
    """The passage, invisible characters escaped, on one line."""
    message: str
    """What the pattern detects, in words."""

    @property
    def high(self) -> bool:
        return self.severity == "high"

    def line(self) -> str:
        """`server.tool: severity: finding: excerpt`, as `scan` prints it."""
        return f"{self.server}.{self.tool}: {self.severity}: {self.kind}: {self.excerpt}"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One row of the table: a regular expression and what its match means."""

    kind: FindingKind
    severity: Severity
    regex: re.Pattern[str]
    message: str
    hints: tuple[str, ...]
    """Lower-case words every match contains one of: text without any is not searched."""

    def search(self, text: str, present: frozenset[str]) -> re.Match[str] | None:
        """The first match, when one of the hints is `present` in the text."""
        if present.isdisjoint(self.hints):
            return None
        return self.regex.search(text)


def _p(
    kind: FindingKind, severity: Severity, regex: str, message: str, hints: tuple[str, ...]
) -> Pattern:
    flags = re.IGNORECASE | re.DOTALL
    return Pattern(kind, severity, re.compile(regex, flags), message, hints)


_ANY = r"(?:\s+\S+){0,6}?"
"""Up to six words in between."""

PATTERNS: tuple[Pattern, ...] = (
    # -- text aimed at the model --------------------------------------------------------
    _p(
        "instructions-to-model",
        "high",
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
        r"(?:previous|prior|above|earlier|preceding|other|system|original)\s+"
        r"(?:instructions?|prompts?|directions?|rules|guidelines|messages?)",
        "tells the model to ignore its instructions",
        ("ignore", "disregard", "forget", "override"),
    ),
    _p(
        "instructions-to-model",
        "high",
        r"<\s*/?\s*(?:important|system|instructions?|secret|hidden|critical|admin|"
        r"assistant|sys|system[-_ ]?prompt|"
        r"note[-_ ]to[-_ ](?:the[-_ ])?(?:ai|model|assistant))\s*>",
        "a tag addressed to the model",
        ("<",),
    ),
    _p(
        "instructions-to-model",
        "high",
        r"\b(?:do\s+not|don'?t|never|must\s+not|should\s+not)\s+"
        r"(?:tell|inform|mention|alert|notify|reveal|show|disclose|explain)"
        r"(?:\s+(?:this|it|anything|that))?(?:\s+(?:to|with))?\s+(?:the\s+)?users?\b",
        "tells the model to keep something from the user",
        ("user",),
    ),
    _p(
        "instructions-to-model",
        "high",
        r"\bwithout\s+(?:telling|informing|notifying|alerting|asking|showing)\s+(?:the\s+)?users?\b"
        r"|\b(?:hide|conceal|keep)\s+(?:this|it)\s+(?:hidden\s+)?from\s+(?:the\s+)?users?\b"
        r"|\bthe\s+user\s+(?:must|should|need)\s+(?:not|never)\s+(?:know|see|be\s+told)",
        "tells the model to act behind the user's back",
        ("user",),
    ),
    _p(
        "instructions-to-model",
        "high",
        r"\b(?:do\s+not|don'?t|never)\s+(?:mention|say|reveal|disclose)\s+(?:that|this|it)\b"
        r"|\b(?:could|would|might|will)\s+(?:upset|worry|alarm|scare|confuse)\s+the\s+user",
        "tells the model to keep its actions quiet",
        ("mention", "say", "reveal", "disclose", "upset", "worry", "alarm", "scare", "confuse"),
    ),
    _p(
        "instructions-to-model",
        "high",
        r"\bbefore\s+(?:using|calling|invoking|executing|running)\s+(?:this|any|the|other)"
        r"(?:\s+\w+)?\s+tools?\b[\s,:]*(?:you\s+)?(?:must\s+|should\s+|first\s+|always\s+|need\s+to\s+)*"
        r"(?:read|open|fetch|load|cat|call|send|pass|include|access|retrieve|get)\b",
        "tells the model to do something else before the tool is used",
        ("before",),
    ),
    _p(
        "instructions-to-model",
        "high",
        r"\b(?:you\s+are\s+now|new\s+instructions?\s*:|from\s+now\s+on,?\s+you|"
        r"this\s+is\s+(?:a\s+)?(?:system|developer)\s+(?:message|instruction)|"
        r"otherwise\s+the\s+tool\s+will\s+not\s+work|"
        r"(?:very\s+)?important\s*:\s*(?:the\s+)?(?:assistant|model|ai|llm)\b)",
        "speaks to the model as its operator",
        ("you", "instruction", "system", "developer", "otherwise", "important"),
    ),
    # -- sensitive paths -----------------------------------------------------------------
    _p(
        "sensitive-paths",
        "high",
        r"~/\.ssh\b|\.ssh/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\bauthorized_keys\b|\bknown_hosts\b",
        "names SSH keys",
        ("ssh", "id_", "authorized_keys", "known_hosts"),
    ),
    _p(
        "sensitive-paths",
        "high",
        r"(?<![\w.])\.env(?:\.\w+)?\b(?!\w)|\.aws/credentials|\.aws/config|\.netrc\b|"
        r"\.npmrc\b|\.pypirc\b|\.git-credentials\b|\.docker/config\.json|\.kube/config|"
        r"\bcredentials\.json\b|\.config/gcloud|/etc/(?:passwd|shadow|sudoers)\b|"
        r"\.gnupg\b|\bwallet\.dat\b|\.bash_history\b|\.zsh_history\b",
        "names a credentials or secrets file",
        (
            ".env",
            ".aws",
            ".netrc",
            ".npmrc",
            ".pypirc",
            ".git-credentials",
            ".docker",
            ".kube",
            "credentials.json",
            ".config/gcloud",
            "/etc/",
            ".gnupg",
            "wallet.dat",
            "_history",
        ),
    ),
    _p(
        "sensitive-paths",
        "high",
        r"\bclaude_desktop_config\.json\b|\.cursor/mcp\.json|\bmcp\.json\b|"
        r"\.codeium/windsurf|\.vscode/mcp\.json|\.claude\.json\b|\bmcp_config\.json\b",
        "names an MCP client's configuration",
        ("claude", "mcp.json", "mcp_config", ".codeium", ".vscode"),
    ),
    # -- exfiltration --------------------------------------------------------------------
    _p(
        "exfiltration",
        "high",
        r"\b(?:pass|send|put|include|add|append|embed|insert|attach|provide|copy|encode)\b"
        + _ANY
        + r"\s+(?:(?:its|the|their|file'?s?)\s+)?(?:contents?|conversation|chat\s+history|"
        r"(?:previous|prior|all)\s+messages|api[-_ ]?keys?|tokens?|passwords?|secrets?|"
        r"credentials|private\s+keys?|environment\s+variables|system\s+prompt)\b"
        + _ANY
        + r"\s+(?:as|in|into|to|inside|via)\s+(?:the\s+|a\s+|an\s+)?['\"`]?[\w-]+['\"`]?\s*"
        r"(?:parameter|argument|field|param|url|query|header)",
        "asks to put data into a parameter or URL",
        ("param", "argument", "field", "url", "query", "header"),
    ),
    _p(
        "exfiltration",
        "high",
        r"\b(?:pass|send|put|include|provide|attach|embed)\s+(?:its|the|their|this|that|"
        r"the\s+file'?s?|the\s+whole|the\s+full)\s+(?:full\s+|entire\s+|whole\s+)?"
        r"(?:contents?|text|data|output)\s+(?:of\s+\S+\s+)?(?:as|in|into|via|inside)\b",
        "asks to pass what was read through a parameter",
        ("content", "text", "data", "output"),
    ),
    _p(
        "exfiltration",
        "high",
        r"\b(?:as|in|into)\s+(?:the\s+)?['\"`]?(?:sidenote|side_note|notes?|context|metadata|"
        r"feedback|extra|debug)['\"`]?\s+(?:parameter|argument|field)\b"
        r"(?=.{0,200}\b(?:contents?|conversation|key|token|secret|password|credential)s?\b)",
        "asks to smuggle data through a side parameter",
        ("parameter", "argument", "field"),
    ),
    _p(
        "exfiltration",
        "high",
        r"\b(?:send|post|upload|forward|transmit|exfiltrate|leak|report|submit)\b"
        + _ANY
        + r"\s+(?:to|at)\s+(?:https?://|(?:the\s+)?(?:following\s+)?(?:url|endpoint|webhook|"
        r"server\s+at|address\s+at)\b)",
        "asks to send data to an address",
        ("http", "url", "endpoint", "webhook", "server", "address"),
    ),
    _p(
        "exfiltration",
        "high",
        r"https?://[^\s\"'<>]+[?&][\w-]+=(?:\{|\$\{|<|%7B)",
        "a URL with a slot for data",
        ("http",),
    ),
    _p(
        "exfiltration",
        "high",
        r"\b(?:entire|whole|full|complete)\s+(?:conversation|chat\s+history|"
        r"message\s+history|context\s+window)\b|\ball\s+(?:previous|prior)\s+messages\b",
        "asks for the conversation",
        ("conversation", "history", "context", "messages"),
    ),
    _p(
        "exfiltration",
        "high",
        r"\b(?:change|set|replace|redirect)\s+(?:the\s+)?(?:recipient|destination|to\s+address|"
        r"receiver|account\s+number|iban|wallet\s+address)\b",
        "redirects what another tool sends",
        ("recipient", "destination", "address", "receiver", "account", "iban"),
    ),
)
"""The table: every row is one published poisoning technique, or a close variant."""

_ALL_HINTS = sorted({hint for pattern in PATTERNS for hint in pattern.hints}, key=len, reverse=True)
_HINT_SEARCH = re.compile("|".join(re.escape(hint) for hint in _ALL_HINTS))
_HINTS_WITHIN = {found: frozenset(h for h in _ALL_HINTS if h in found) for found in _ALL_HINTS}
"""Each hint -> the hints it contains (`parameter` contains `param`)."""


def _hints_in(text: str) -> frozenset[str]:
    """The hints of the table that occur in the text, in one pass."""
    found = set(_HINT_SEARCH.findall(text.lower()))
    return frozenset().union(*(_HINTS_WITHIN[hint] for hint in found)) if found else frozenset()


OVERSIZED_MEDIUM = 4000
"""Characters of text in one definition above which it is reported (medium)."""
OVERSIZED_HIGH = 16000
"""Characters above which a definition is a prompt, not a description (high)."""

_EXCERPT = 40
"""Characters of context shown on each side of a match."""


def scan_tool(
    server: str,
    tool: ToolDict,
    *,
    others: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every finding in one tool definition.

    `others` maps the names under which tools of other servers of the same suites are known
    (their own names and their exposed names) to `server.tool`, for `shadowing`.
    """
    name = str(tool.get("name") or "")
    findings: list[Finding] = []
    total = 0
    for where, text in texts_of(tool):
        total += len(text)
        findings.extend(_scan_text(server, name, where, text, others or {}))
    if total > OVERSIZED_MEDIUM:
        severity: Severity = "high" if total > OVERSIZED_HIGH else "medium"
        description = tool.get("description")
        findings.append(
            Finding(
                server,
                name,
                "oversized",
                severity,
                "description",
                f"{total} characters of text: "
                + one_line(description if isinstance(description, str) else "", limit=60),
                f"more than {OVERSIZED_MEDIUM} characters of text",
            )
        )
    return _dedupe(findings)


def scan_text(server: str, tool: str, where: str, text: str) -> list[Finding]:
    """Findings in one text (an enhanced description, say), shadowing aside."""
    return _dedupe(_scan_text(server, tool, where, text, {}))


def _scan_text(
    server: str, tool: str, where: str, text: str, others: Mapping[str, str]
) -> Iterable[Finding]:
    hidden = _invisible_positions(text)
    if hidden:
        count = len(hidden)
        yield Finding(
            server,
            tool,
            "hidden-characters",
            "high",
            where,
            _excerpt(text, hidden[0], hidden[-1] + 1),
            f"{count} invisible character{'s' if count != 1 else ''}",
        )
    present = _hints_in(text)
    for pattern in PATTERNS:
        match = pattern.search(text, present)
        if match is not None:
            yield Finding(
                server,
                tool,
                pattern.kind,
                pattern.severity,
                where,
                _excerpt(text, match.start(), match.end()),
                pattern.message,
            )
    if others:
        yield from _shadowing(server, tool, where, text, others)


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _invisible_positions(text: str) -> list[int]:
    if text.isascii():  # the common case: only control characters can hide
        return [m.start() for m in _ASCII_CONTROL.finditer(text)]
    return [i for i, char in enumerate(text) if is_invisible(char)]


_WORD = re.compile(r"[A-Za-z0-9][\w.-]*[A-Za-z0-9]")


def _shadowing(
    server: str, tool: str, where: str, text: str, others: Mapping[str, str]
) -> Iterable[Finding]:
    for match in _WORD.finditer(text):
        word = match.group(0)
        target = others.get(word)
        if target is not None and _distinctive(word):
            yield Finding(
                server,
                tool,
                "shadowing",
                "high",
                where,
                _excerpt(text, match.start(), match.end()),
                f"mentions {target}, a tool of another server",
            )
            return


def _distinctive(word: str) -> bool:
    """A tool name that cannot be an ordinary word: it joins words with `_`, `-` or `.`."""
    return len(word) >= 5 and any(c in word for c in "_-.")


def name_index(tools: Mapping[str, Iterable[str]]) -> dict[str, dict[str, str]]:
    """Every form of every tool name -> {server: `server.tool`}: built once per state.

    Names are known bare (`get_current_time`), exposed with the prefix
    (`time_get_current_time`) and qualified (`time.get_current_time`).
    """
    index: dict[str, dict[str, str]] = {}
    for server, tool_names in tools.items():
        for tool in tool_names:
            qualified = f"{server}.{tool}"
            for form in (tool, f"{server}_{tool}", qualified):
                index.setdefault(form, {})[server] = qualified
    return index


class OtherTools(Mapping[str, str]):
    """The `others` of `scan_tool` for one server: names of the tools of its peers (the
    servers it shares a suite with) that it does not have itself, from a shared index."""

    def __init__(
        self, index: Mapping[str, Mapping[str, str]], server: str, peers: Iterable[str]
    ) -> None:
        self._index = index
        self._server = server
        self._peers = frozenset(peers) - {server}

    def __getitem__(self, name: str) -> str:
        owners = self._index[name]
        if self._server in owners:
            raise KeyError(name)
        for peer in sorted(self._peers & owners.keys()):
            return owners[peer]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._index if name in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self._peers)


def shadowing_names(tools: Mapping[str, Iterable[str]]) -> dict[str, Mapping[str, str]]:
    """For each server of `tools` (servers sharing a suite), the other servers' tool names."""
    index = name_index(tools)
    return {server: OtherTools(index, server, tools) for server in tools}


def _excerpt(text: str, start: int, end: int) -> str:
    left = max(0, start - _EXCERPT)
    right = min(len(text), end + _EXCERPT)
    shown = one_line(text[left:right], limit=end - start + 2 * _EXCERPT + 40)
    return ("…" if left else "") + shown + ("…" if right < len(text) else "")


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (kind, where): the most severe."""
    best: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        key = (finding.kind, finding.where)
        kept = best.get(key)
        if kept is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[kept.severity]:
            best[key] = finding
    return list(best.values())


def highest(findings: Iterable[Finding]) -> Severity | None:
    """The most severe severity among the findings."""
    ranked = max((SEVERITY_RANK[f.severity] for f in findings), default=None)
    return None if ranked is None else _BY_RANK[ranked]
