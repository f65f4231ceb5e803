"""Fixed word lists of tool metadata: the category vocabulary and what verbs imply.

Categories are a closed set so agents and catalogues can filter on them; every provider's
answer is validated against it, and the offline `builtin` enhancer assigns them from the
trigger words below.
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CATEGORY_TRIGGERS: Final[dict[str, frozenset[str]]] = {
    "time": _words(
        "time times date dates datetime timezone timezones clock calendar timestamp dst"
    ),
    "files": _words(
        "file files directory directories folder folders path paths filesystem filename "
        "gzip zip compress archive upload"
    ),
    "web": _words(
        "url urls http https fetch web webpage html browser browse download website "
        "crawl scrape internet"
    ),
    "search": _words("search searches find query lookup grep index research"),
    "database": _words(
        "database databases sql table tables db record records row rows collection "
        "postgres sqlite mysql"
    ),
    "git": _words(
        "git commit commits branch branches diff repository repo merge checkout rebase "
        "staged unstaged"
    ),
    "memory": _words(
        "memory memories remember knowledge graph entity entities observation observations "
        "relation relations recall"
    ),
    "math": _words(
        "sum math calculate calculation arithmetic multiply divide subtract number numbers "
        "equation average statistics"
    ),
    "text": _words(
        "text string strings echo message messages format translate summarize markdown "
        "words sentence"
    ),
    "system": _words(
        "env environment variables process processes system shell command commands exec "
        "execute config configuration debug debugging logging cpu"
    ),
    "media": _words("image images audio video picture photo logo screenshot"),
    "messaging": _words("email mail slack notify notification notifications sms inbox"),
    "mcp": _words(
        "mcp resource resources prompt prompts sampling elicitation subscription "
        "subscriber annotation annotations roots"
    ),
    "ai": _words("llm ai model embedding embeddings completion reasoning thinking"),
    "development": _words(
        "code build test tests compile lint deploy docker kubernetes package packages"
    ),
}
"""Each category and the words (of a tool's name, description or parameters) that imply it."""

FALLBACK_CATEGORY: Final = "general"
CATEGORIES: Final[tuple[str, ...]] = (*CATEGORY_TRIGGERS, FALLBACK_CATEGORY)
"""The closed set of categories, in a fixed order."""

CATEGORY_USE_CASES: Final[dict[str, str]] = {
    "time": "Answer questions about dates, times and time zones",
    "files": "Work with files on the server's machine",
    "web": "Retrieve content from the web",
    "search": "Look information up",
    "database": "Query or update stored records",
    "git": "Inspect or change a git repository",
    "memory": "Store and recall knowledge across conversations",
    "math": "Do arithmetic",
    "text": "Process or produce text",
    "system": "Inspect the server's runtime environment",
    "media": "Produce or handle images and other media",
    "messaging": "Send messages or notifications",
    "mcp": "Exercise MCP protocol features",
    "ai": "Delegate work to a language model",
    "development": "Support software development tasks",
}

READ_VERBS: Final = _words(
    "get list read fetch search find query show describe lookup view check count inspect "
    "browse echo convert calculate compute validate explain summarize translate format "
    "parse resolve preview download return retrieve print"
)
"""Verbs of tools that only read: read-only and idempotent."""
DESTRUCTIVE_VERBS: Final = _words(
    "delete remove reset drop clear purge destroy kill truncate erase wipe uninstall revoke "
    "terminate overwrite"
)
"""Verbs of tools that destroy something: destructive (and idempotent: twice is once)."""
MODIFYING_VERBS: Final = _words("write edit move rename replace patch")
"""Verbs of tools that change existing things in place: destructive."""
IDEMPOTENT_WRITE_VERBS: Final = _words("set put update upsert enable disable configure save write")
"""Verbs of writes that repeated leave the same state: idempotent."""
CREATING_VERBS: Final = _words(
    "create add insert append send post publish submit start run execute trigger invoke "
    "generate upload push commit toggle increment compress simulate apply"
)
"""Verbs of tools that add or do something: neither read-only nor idempotent."""
OPEN_WORLD_VERBS: Final = _words(
    "fetch download browse crawl scrape send post publish upload push email"
)
"""Verbs of tools that reach outside the server: open-world."""
OPEN_WORLD_CATEGORIES: Final = frozenset({"web", "messaging"})

KNOWN_VERBS: Final = (
    READ_VERBS
    | DESTRUCTIVE_VERBS
    | MODIFYING_VERBS
    | IDEMPOTENT_WRITE_VERBS
    | CREATING_VERBS
    | _words("demonstrate provide perform analyze toggle open close")
)

GENERIC_WORDS: Final = _words(
    """a an the and or of to in on at by for from with without into onto as is are be been
    this that these those it its it's if then else when while not no yes can may might will
    should would could must do does did done get gets set sets use uses used using via per
    each every all any some more most other another such only also just than so up out over
    under about after before between both either neither own same new current specific
    given various different based provided user users data value values name names type
    types input inputs output outputs result results information info example examples
    e.g i.e etc thing things one two three first second item items call calls tool tools
    returns return back which what who whom whose where there here their they them you your
    our we us he she his her him how off along ten single long short way ways helpful
    depending upon within"""
)
"""Words too common to be keywords."""
