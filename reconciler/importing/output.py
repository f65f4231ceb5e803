"""Writing an import: the YAML (checked by the loader first) and the secret files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import InvalidInput
from ..loading.loader import load_documents
from .conversion import Conversion

SERVERS_FILE = "servers.yaml"


def render_yaml(documents: list[dict[str, Any]]) -> str:
    """The documents as one YAML stream, fields in the order written."""
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)


def validated_yaml(conversion: Conversion, *, label: str) -> str:
    """The YAML of the conversion; InvalidInput with every problem when it does not load."""
    text = render_yaml(conversion.documents)
    result = load_documents([(label, text)])
    if not result.ok:
        raise InvalidInput("; ".join(str(problem) for problem in result.errors))
    return text


@dataclass(frozen=True)
class ImportWritten:
    yaml_text: str
    yaml_file: Path | None
    secret_files: list[Path]


def write_import(
    conversion: Conversion, *, out_dir: Path | None, secrets_dir: Path
) -> ImportWritten:
    """Validate, then write the secret values (files of mode 0600 in directories of 0700)
    and, with `out_dir`, the YAML file. Nothing is written when validation fails."""
    label = str(out_dir / SERVERS_FILE) if out_dir is not None else "<import>"
    text = validated_yaml(conversion, label=label)
    secret_files = []
    for secret in conversion.secrets:
        directory = secrets_dir / secret.name
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / secret.key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secret.value)
        os.chmod(path, 0o600)
        secret_files.append(path)
    yaml_file = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        yaml_file = out_dir / SERVERS_FILE
        yaml_file.write_text(text)
    return ImportWritten(text, yaml_file, secret_files)
