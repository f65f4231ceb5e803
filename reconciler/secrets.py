"""Resolving secret references (`secretKeyRef`, `env`) to values, standalone.

A `secretKeyRef` {name, key} is read from `<secrets-dir>/<name>/<key>` (trailing newline
stripped); `env` from the controller's environment. Values are never logged: errors name
the reference, not the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .core.errors import SecretNotFound
from .core.models import ValueSource


@dataclass(frozen=True)
class SecretResolver:
    """Looks secrets up in a directory and an environment."""

    secrets_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def resolve(self, source: ValueSource) -> str:
        if source.env is not None:
            value = self.environ.get(source.env)
            if value is None:
                raise SecretNotFound(
                    f"{source.describe()} is not set in the controller's environment"
                )
            return value
        ref = source.secret_key_ref
        assert ref is not None
        if self.secrets_dir is None:
            raise SecretNotFound(f"{source.describe()}: no secrets directory configured")
        path = self.secrets_dir / ref.name / ref.key
        try:
            return path.read_text().rstrip("\n")
        except OSError:
            raise SecretNotFound(
                f"{source.describe()} not found: create {path} (or pass --secrets-dir)"
            ) from None
