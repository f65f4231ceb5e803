"""Importing the MCP servers an existing client (Claude, Cursor, VS Code, Windsurf) has.

clients      pure: a client's configuration file -> ClientConfig
conversion   pure: ClientConfig -> MCPServer + MCPSuite documents, secret values, notes
output       writing: YAML files, secret files (0600), validated before anything is written
"""

from __future__ import annotations

from .clients import ClientConfig, ClientConfigError, ClientKind, default_file, parse_client_config
from .conversion import Conversion, ImportNote, Surroundings, convert
from .output import ImportWritten, render_yaml, write_import

__all__ = [
    "ClientConfig",
    "ClientConfigError",
    "ClientKind",
    "Conversion",
    "ImportNote",
    "ImportWritten",
    "Surroundings",
    "convert",
    "default_file",
    "parse_client_config",
    "render_yaml",
    "write_import",
]
