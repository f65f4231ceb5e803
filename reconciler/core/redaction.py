"""Recognising credentials in text, and the one redaction every printed value goes through.

`credential_kind` says whether a literal value is obviously a credential: a well-known key
format (OpenAI/Anthropic `sk-…`, GitHub `ghp_…`/`github_pat_…`, Slack `xox…`, AWS access
key ids, Google `AIza…`, JWTs, `Bearer …`/`Basic …` authorization values, `user:password@`
in a URL, PEM private keys), or a high-entropy string in a variable named like a secret
(`*TOKEN*`, `*SECRET*`, `*KEY*`, `*PASSWORD*`, …). The loader refuses such values
written inline; `redact` masks the same shapes wherever they occur in text, and is
applied to everything `diff`, `status`, `events` and the logs print.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Any

MASK = "[REDACTED]"

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "a private key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
        ),
    ),
    ("an API key (sk-…)", re.compile(r"\bsk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_\-]{16,}")),
    (
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    ),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{8,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}")),
    (
        "a JSON Web Token",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
    ),
    (
        "an authorization value",
        re.compile(r"\b(?:[Bb]earer|Basic)\s+(?=[\w.~+/=\-]*[\d.~+/=\-])[\w.~+/=\-]{8,}"),
    ),
    ("a password in a URL", re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)")),
)

_MARKERS = re.compile(
    r"-----BEGIN |sk-|gh[pousr]_|github_pat_|xox[abposr]-|AKIA|ASIA|AROA|AIDA|AIza|eyJ|"
    r"[Bb]earer|Basic|://"
)
"""Text every shape needs (each shape starts with, or follows, one of these): a string
without any of them has nothing to redact, which one scan tells."""

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW(?:OR)?D|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|"
    r"(?:^|_)KEY(?:$|_)",
    re.I,
)
_AUTH_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token", "cookie"}
)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def high_entropy(value: str) -> bool:
    """Looks random: 16+ characters without spaces, letters and digits, ≥ 3.5 bits each."""
    if len(value) < 16 or any(c.isspace() for c in value) or value[:1] in "/.~$":
        return False
    letters = any(c.isalpha() for c in value)
    digits = any(c.isdigit() for c in value)
    return letters and digits and _entropy(value) >= 3.5


def credential_kind(value: str, *, name: str | None = None, header: bool = False) -> str | None:
    """What credential `value` obviously is (for an error message), or None.

    `name` is the variable or header it is assigned to; `header` says it is an HTTP header,
    where any literal value of `Authorization` (and the like) counts.
    """
    if has_marker(value):  # no marker, no shape: one scan instead of nine
        for kind, pattern in _SHAPES:
            if pattern.search(value):
                return kind
    if name is not None:
        if header and name.lower() in _AUTH_HEADERS and value.strip():
            return f"a literal {name} header"
        if _secret_name(name) and high_entropy(value):
            return f"a random-looking value in {name}"
    return None


def has_marker(text: str) -> bool:
    """Whether the text holds what some credential shape starts with (`sk-`, `eyJ`, `://`,
    ...): without one, no value in it has a credential's shape."""
    return _MARKERS.search(text) is not None


@lru_cache(maxsize=1024)
def _secret_name(name: str) -> bool:
    """Whether a variable or header is named like a secret; a state names the same few
    variables (`TZ`, `API_TOKEN`) over and over, so each name is looked at once."""
    return _SECRET_NAME.search(name) is not None


def redact(text: str) -> str:
    """`text` with every credential shape replaced by `[REDACTED]`."""
    if not text or _MARKERS.search(text) is None:
        return text
    for kind, pattern in _SHAPES:
        if kind == "an authorization value":
            text = pattern.sub(lambda m: m.group(0).split()[0] + " " + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


def redact_value(value: Any) -> Any:
    """Every string inside a JSON-like value (keys too) passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
