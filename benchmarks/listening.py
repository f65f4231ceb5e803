"""The listening socket of a benchmark's HTTP server, bound as the gateway binds.

IPPROTO_TCP so that asyncio sets TCP_NODELAY; a free port on loopback, written to
`port_file` once listening (through a rename, so a reader never sees half a number).
"""

from __future__ import annotations

import socket
from pathlib import Path


def announced_socket(port_file: Path) -> socket.socket:
    """A non-blocking loopback socket, listening, its port written to `port_file`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.setblocking(False)
    partial = port_file.with_suffix(".partial")
    partial.write_text(f"{sock.getsockname()[1]}\n")
    partial.replace(port_file)
    return sock
