"""Running the real `mcp-reconciler run` as a user would, and waiting on what it reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from reconciler.controller.processes import start_time_of, verify
from tests.polling import wait_for


def cli(*args: str, state_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


class Controller:
    """A `mcp-reconciler run` process in its own process group."""

    def __init__(
        self,
        state_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        listen: str = "127.0.0.1:0",
    ) -> None:
        self.state_dir = state_dir
        self.log = state_dir.parent / f"{state_dir.name}-controller.log"
        state_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "run",
                *args,
                "--state-dir",
                str(state_dir),
                "--listen",
                listen,
                "--log-format",
                "json",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    def status(self) -> dict[str, Any]:
        from reconciler.controller.report import status_report

        return status_report(self.state_dir)

    def server(self, name: str) -> dict[str, Any] | None:
        """The server's status row, with `identity`: (pid, start time) read from /proc now.

        `name` is qualified outside the default namespace: `team-a/time`."""
        namespace, _, name = name.rpartition("/")
        found = next(
            (
                s
                for s in self.status()["servers"]
                if s["name"] == name and s["namespace"] == (namespace or "default")
            ),
            None,
        )
        if found is not None and found["pid"]:
            found["identity"] = (found["pid"], start_time_of(found["pid"]))
        return found

    def wait_ready(self, *names: str, timeout: float = 30.0) -> dict[str, dict[str, Any]]:
        def ready() -> dict[str, dict[str, Any]] | None:
            self.assert_alive()
            found = {name: self.server(name) for name in names}
            if all(s and s["phase"] == "Ready" and s["pid"] for s in found.values()):
                return {name: s for name, s in found.items() if s}
            return None

        return wait_for(ready, timeout=timeout, what=f"servers {names} Ready")

    def wait_ready_remote(self, name: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """A connected (not spawned) server: Ready, without a pid."""
        return self.wait_phase(name, "Ready", timeout=timeout)

    def wait_phase(self, name: str, phase: str, *, timeout: float = 30.0) -> dict[str, Any]:
        return wait_for(
            lambda: (s := self.server(name)) and s["phase"] == phase and s,
            timeout=timeout,
            what=f"server {name} in phase {phase}",
        )

    def gateway_url(self) -> str:
        path = self.state_dir / "gateway.url"
        return wait_for(lambda: path.exists() and path.read_text().strip(), what="gateway.url")

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"controller exited with {self.process.returncode}:\n{self.log.read_text()}"
            )

    def terminate(self, *, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the controller alone (a crash); its servers are left as they are."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log_file.close()


def alive(server: dict[str, Any]) -> bool:
    """Whether the very process a status row named still runs (pid reuse is not enough)."""
    pid, start_time = server.get("identity") or (None, None)
    return pid is not None and start_time is not None and verify(pid, start_time)


def write_yaml(path: Path, *documents: dict[str, Any]) -> None:
    """Write resources atomically (as an editor's save-via-rename does)."""
    text = "\n---\n".join(json.dumps(doc) for doc in documents)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def server_doc(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {})
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": name, "labels": labels},
        "spec": {"transport": "stdio", "command": command[0], "args": command[1:], **spec},
    }


def suite_doc(name: str, servers: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "MCPSuite",
        "metadata": {"name": name},
        "spec": {"servers": [{"name": s} for s in servers], **spec},
    }
