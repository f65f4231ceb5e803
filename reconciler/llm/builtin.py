"""`builtin`: an offline enhancer, so enhancement works with no network and no API key.

It answers the tool-enhancement request from the tool itself (`request.context["tool"]`
and `["style"]`), deterministically: the same tool and style always give the same text.

- description: the server's description, cleaned up and in sentence case (written from
  the tool's name when there is none), followed by its parameters — the required ones by
  name with a short explanation (`concise`), every parameter with type and explanation
  plus what it returns (`detailed`), and with constraints and behaviour (`technical`);
- keywords from the name, the description and the parameters;
- categories from the fixed vocabulary, by the words that imply them;
- use cases from the description and the categories;
- hints (read-only, destructive, idempotent, open-world) from the server's annotations
  when it declares them, else from the verb of the name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .base import REJECTED, Completion, CompletionRequest, provider_error
from .pricing import estimate_tokens
from .vocabulary import (
    CATEGORY_TRIGGERS,
    CATEGORY_USE_CASES,
    CREATING_VERBS,
    DESTRUCTIVE_VERBS,
    FALLBACK_CATEGORY,
    GENERIC_WORDS,
    IDEMPOTENT_WRITE_VERBS,
    KNOWN_VERBS,
    MODIFYING_VERBS,
    OPEN_WORLD_CATEGORIES,
    OPEN_WORLD_VERBS,
    READ_VERBS,
)

BUILTIN_MODEL: Final = "builtin-1"
"""The builtin enhancer's "model": bumped whenever its output changes, so caches refresh."""
MAX_KEYWORDS: Final = 10
MAX_CATEGORIES: Final = 3
CONCISE_LIMIT: Final = 240
"""Longest first sentence kept by the concise style."""

_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)([.!?])\s+(?=[A-Z`'\"(])")
_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class BuiltinEnhancer:
    """The `builtin` provider: answers enhancement requests locally."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model = BUILTIN_MODEL

    async def complete(self, request: CompletionRequest) -> Completion:
        tool = request.context.get("tool")
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise provider_error(
                self.name, REJECTED, "the builtin provider only writes tool enhancements"
            )
        style = str(request.context.get("style") or "concise")
        text = json.dumps(enhance_offline(tool, style=style), ensure_ascii=False)
        return Completion(
            text=text,
            input_tokens=estimate_tokens(request.system, request.prompt),
            output_tokens=estimate_tokens(text),
            provider=self.name,
            model=self.model,
            tokens_estimated=True,
        )

    async def aclose(self) -> None:
        return None


def enhance_offline(tool: Mapping[str, Any], *, style: str = "concise") -> dict[str, Any]:
    """Description and metadata of a tool (`name`, `description`, `inputSchema`)."""
    name = str(tool["name"])
    original = _clean(tool.get("description"))
    schema = tool.get("inputSchema")
    schema = schema if isinstance(schema, Mapping) else {}
    params = _parameters(schema)
    words = name_words(name)
    verb = _verb(words, original)
    categories = _categories(name, original, params)
    return {
        "description": _description(name, original, params, tool, style, verb),
        "keywords": _keywords(words, original, params),
        "categories": categories,
        "useCases": _use_cases(name, original, verb, categories),
        "hints": _hints(verb, categories, tool.get("annotations")),
    }


def name_words(name: str) -> list[str]:
    """`get_current_time`, `get-sum`, `readFile`, `fs.read` → lower-case words."""
    return [w.lower() for w in _WORD.findall(_CAMEL.sub(" ", name))]


# -- description


class _Param:
    def __init__(self, name: str, schema: Mapping[str, Any], required: bool) -> None:
        self.name = name
        self.schema = schema
        self.required = required
        self.explanation = _clean(schema.get("description"))

    @property
    def type(self) -> str:
        kind = self.schema.get("type")
        if isinstance(kind, list):
            return " or ".join(str(k) for k in kind)
        if isinstance(kind, str):
            if kind == "array" and isinstance(self.schema.get("items"), Mapping):
                inner = self.schema["items"].get("type")
                return f"array of {inner}s" if isinstance(inner, str) else "array"
            return kind
        return "value"

    def short(self) -> str:
        """First sentence of the explanation, without examples in parentheses."""
        first = _PARENTHESES.sub("", _first_sentence(self.explanation).rstrip(".")).strip()
        if len(first) > 1 and first[0].isupper() and first[1].islower():
            first = first[0].lower() + first[1:]
        return first

    def constraints(self) -> list[str]:
        found: list[str] = []
        enum = self.schema.get("enum")
        if isinstance(enum, list) and enum:
            found.append("one of " + ", ".join(json.dumps(v) for v in enum))
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        if low is not None and high is not None:
            found.append(f"{low} to {high}")
        elif low is not None:
            found.append(f"at least {low}")
        elif high is not None:
            found.append(f"at most {high}")
        if isinstance(self.schema.get("format"), str):
            found.append(f"format {self.schema['format']}")
        if "default" in self.schema:
            found.append(f"default {json.dumps(self.schema['default'])}")
        return found


def _parameters(schema: Mapping[str, Any]) -> list[_Param]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required")
    required = required if isinstance(required, list) else []
    params = [
        _Param(str(name), sub if isinstance(sub, Mapping) else {}, name in required)
        for name, sub in properties.items()
    ]
    return sorted(params, key=lambda p: not p.required)  # required first, order kept


def _description(
    name: str,
    original: str,
    params: list[_Param],
    tool: Mapping[str, Any],
    style: str,
    verb: str | None,
) -> str:
    summary = _sentence_case(original) if original else _from_name(name, verb)
    if style == "concise":
        return " ".join(
            part for part in (_concise_summary(summary), _concise_params(params)) if part
        )
    lines = [summary]
    if params:
        lines += ["", "Parameters:"]
        lines += [_param_line(p, technical=style == "technical") for p in params]
    returns = _returns(tool.get("outputSchema"), technical=style == "technical")
    if returns:
        lines += ["", returns]
    if style == "technical":
        behaviour = _behaviour(
            _hints(verb, _categories(name, original, params), tool.get("annotations"))
        )
        lines += ["", behaviour]
    return "\n".join(lines)


def _concise_summary(summary: str) -> str:
    first = _first_sentence(summary)
    if len(first) > CONCISE_LIMIT:
        first = first[: CONCISE_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    return first


def _concise_params(params: list[_Param]) -> str:
    required = [p for p in params if p.required]
    optional = [p for p in params if not p.required]
    parts: list[str] = []
    if required:
        named = [f"`{p.name}` ({p.short()})" if p.short() else f"`{p.name}`" for p in required]
        parts.append(f"Requires {_join(named)}.")
    if optional:
        parts.append(f"Optional: {_join(f'`{p.name}`' for p in optional)}.")
    return " ".join(parts)


def _param_line(param: _Param, *, technical: bool) -> str:
    facts = [param.type, "required" if param.required else "optional"]
    if technical:
        facts += param.constraints()
    line = f"- `{param.name}` ({', '.join(facts)})"
    return f"{line}: {_sentence_case(param.explanation)}" if param.explanation else line


def _returns(output_schema: object, *, technical: bool) -> str:
    if not isinstance(output_schema, Mapping):
        return ""
    properties = output_schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return ""
    if technical:
        fields = [
            f"`{n}` ({s.get('type', 'object') if isinstance(s, Mapping) else 'value'})"
            for n, s in properties.items()
        ]
    else:
        fields = [f"`{n}`" for n in properties]
    return f"Returns {_join(fields)}."


def _behaviour(hints: Mapping[str, bool]) -> str:
    facts = [
        "read-only" if hints["readOnly"] else "changes state",
        "destructive" if hints["destructive"] else "not destructive",
        "idempotent" if hints["idempotent"] else "not idempotent",
        "reaches external systems" if hints["openWorld"] else "no external access",
    ]
    return "Behaviour: " + ", ".join(facts) + "."


def _from_name(name: str, verb: str | None) -> str:
    words = name_words(name) or [name]
    if verb is not None and words[0] == verb:
        rest = " ".join(words[1:])
        said = _third_person(verb).capitalize()
        return f"{said} the {rest}." if rest else f"{said}."
    return f"{' '.join(words).capitalize()}."


# -- keywords, categories, use cases, hints


def _keywords(words: list[str], original: str, params: list[_Param]) -> list[str]:
    subject = words[1:] if len(words) > 1 and words[0] in KNOWN_VERBS else words
    from_name = [" ".join(subject)] if len(subject) > 1 else []
    from_name += [w for w in subject if w not in GENERIC_WORDS]
    others = [" ".join(name_words(p.name)) for p in params]
    others += _content_words(original)
    for param in params:
        others += _content_words(param.short())
    others = [k for k in others if k not in KNOWN_VERBS and _lemma(k) not in KNOWN_VERBS]
    keywords = [k for k in dict.fromkeys(from_name + others) if len(k) >= 3]
    return keywords[:MAX_KEYWORDS]


def _content_words(text: str) -> list[str]:
    return [
        w
        for w in (m.lower() for m in _WORD.findall(_PARENTHESES.sub("", text)))
        if len(w) >= 3 and w not in GENERIC_WORDS
    ]


def _categories(name: str, original: str, params: list[_Param]) -> list[str]:
    from_name = set(name_words(name))
    from_text = {w.lower() for w in _WORD.findall(original)}
    from_text |= {w for p in params for w in name_words(p.name)}
    from_text |= {_lemma(w) for w in from_text}
    scores: dict[str, int] = {}
    for category, triggers in CATEGORY_TRIGGERS.items():
        score = 2 * len(from_name & triggers) + len(from_text & triggers)
        if score:
            scores[category] = score
    order = list(CATEGORY_TRIGGERS)
    ranked = sorted(scores, key=lambda c: (-scores[c], order.index(c)))
    return ranked[:MAX_CATEGORIES] or [FALLBACK_CATEGORY]


def _use_cases(name: str, original: str, verb: str | None, categories: list[str]) -> list[str]:
    first = _first_sentence(_sentence_case(original)).rstrip(".") if original else ""
    if first:
        head, _, rest = first.partition(" ")
        lemma = _lemma(head.lower())
        if head.lower() != lemma and lemma in KNOWN_VERBS:
            first = f"{lemma.capitalize()} {rest}".strip()
    else:
        first = _from_name(name, verb).rstrip(".")
    cases = [first] + [CATEGORY_USE_CASES[c] for c in categories if c in CATEGORY_USE_CASES]
    return list(dict.fromkeys(cases))[:3]


def _hints(verb: str | None, categories: list[str], annotations: object) -> dict[str, bool]:
    read_only = verb in READ_VERBS
    destructive = verb in DESTRUCTIVE_VERBS or verb in MODIFYING_VERBS
    idempotent = read_only or verb in DESTRUCTIVE_VERBS or verb in IDEMPOTENT_WRITE_VERBS
    if verb in CREATING_VERBS:
        read_only = idempotent = False
    open_world = verb in OPEN_WORLD_VERBS or bool(OPEN_WORLD_CATEGORIES & set(categories))
    hints = {
        "readOnly": read_only,
        "destructive": destructive,
        "idempotent": idempotent,
        "openWorld": open_world,
    }
    if isinstance(annotations, Mapping):  # what the server declares wins over guesses
        for key in hints:
            declared = annotations.get(f"{key}Hint")
            if isinstance(declared, bool):
                hints[key] = declared
    return hints


def _verb(words: list[str], original: str) -> str | None:
    """The action of the tool: the first word of its name, else of its description."""
    if words and words[0] in KNOWN_VERBS:
        return words[0]
    first = _WORD.match(original)
    if first:
        lemma = _lemma(first.group().lower())
        if lemma in KNOWN_VERBS:
            return lemma
    return None


# -- text


def _clean(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _first_sentence(text: str) -> str:
    parts = _SENTENCE_END.split(text, maxsplit=1)
    return parts[0] + parts[1] if len(parts) > 1 else text


def _sentence_case(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    if text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _lemma(word: str) -> str:
    """A verb's base form from its third-person form (`fetches` → `fetch`)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "oes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _join(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
