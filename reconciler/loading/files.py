"""Which files hold resources, and the revision id of their content.

One rule for every reader: `validate`, `diff` (directories and git refs) and `run`'s
directory, static and git sources. Equal files give an equal revision whichever command
read them, so `validate DIR` names the revision `run DIR` will apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath

YAML_SUFFIXES = (".yaml", ".yml")


def is_config_file(relative: str) -> bool:
    """Whether a path relative to the source root names a YAML file to load.

    Files and directories whose name starts with a dot (`.git`, `.github`, editor swap and
    lock files, Kubernetes' `..data`) are skipped.
    """
    parts = PurePosixPath(relative).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    return parts[-1].endswith(YAML_SUFFIXES)


def content_revision(files: Iterable[tuple[str, bytes | str]]) -> str:
    """`sha256:<hex>` over (name, content) pairs in name order: equal content, equal revision.

    Texts count as their UTF-8 bytes; every name and content is length-prefixed, so no two
    different sets of files share a revision.
    """
    digest = hashlib.sha256()
    for name, content in sorted(files):
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        encoded = name.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return f"sha256:{digest.hexdigest()}"
