"""Each server's stderr in its own capped, rotated files, and `mcp-reconciler logs`."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app
from reconciler.controller.serverlogs import ServerLog, log_files, log_path, read_lines
from tests.controller_harness import Controller, cli, server_doc, wait_for, write_yaml


def test_a_flood_is_rotated_capped_and_counted_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "default" / "noisy.log"
    log = ServerLog(path, max_bytes=64 * 1024, keep=2, bytes_per_second=200 * 1024)
    line = "x" * 99
    start = 1_000_000.0
    for second in range(5):  # 5 s of a server writing 10 MB/s
        for _ in range(100_000 // 5):
            log.write(line, now=start + second + 0.5)
    log.write("the end", now=start + 6)
    log.close()
    files = log_files(path)
    assert [f.name for f in files] == ["noisy.log.2", "noisy.log.1", "noisy.log"]
    assert all(f.stat().st_size <= 64 * 1024 for f in files)
    lines = read_lines(path)
    assert lines[-1].text == "the end"
    assert lines[-1].ts == start + 6
    dropped = [ln.text for ln in lines if "stderr lines dropped" in ln.text]
    assert dropped  # what was over the budget is counted, not written
    assert read_lines(path, tail=1)[0].text == "the end"
    recent = [ln.text for ln in read_lines(path, since=start + 5.9)]
    assert recent == [
        f"[{recent[0][1:].split()[0]} stderr lines dropped: over 204800 B/s]",
        "the end",
    ]


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    started: list[Controller] = []
    yield started
    for controller in started:
        controller.terminate()


def chatty(command: list[str]) -> list[str]:
    """A real server that says something on stderr each time it starts."""
    return ["sh", "-c", f"echo starting up >&2; echo second line >&2; exec {shlex.join(command)}"]


@pytest.mark.slow
def test_logs_shows_a_servers_stderr_with_times_and_follows_it(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("talker", chatty(everything_cmd)))
    controller = Controller(tmp_path / "state", str(config))
    controllers.append(controller)
    controller.wait_ready("talker")
    state = controller.state_dir
    assert log_path(state, "default", "talker").is_file()

    def logs(*args: str) -> Any:  # the real command, in this process (no interpreter start)
        return CliRunner().invoke(app, ["logs", *args, "--state-dir", str(state)])

    shown = logs("talker").stdout.splitlines()
    assert shown[0].endswith("  starting up")
    assert shown[1].endswith("  second line")
    assert shown[0][:4].isdigit()  # 2026-...Z  starting up
    # the server may write more stderr at any time (server-everything logs late requests):
    # every later read starts with what was shown, and --tail 1 is its last line or a newer one
    last = json.loads(logs("talker", "--tail", "1", "-o", "json").stdout)
    assert len(last) == 1
    assert abs(last[0]["ts"] - time.time()) < 120
    since = logs("talker", "--since", "1h").stdout.splitlines()
    assert since[: len(shown)] == shown
    assert last[0]["line"] in [line.split("  ", 1)[1] for line in since[len(shown) - 1 :]]

    unknown = logs("nope")
    assert unknown.exit_code == 1
    assert "unknown server 'nope'" in unknown.stderr

    follower = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "logs", "talker", "-f", "-o", "json",
         "--state-dir", str(state)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    seen: list[dict[str, object]] = []
    reader = threading.Thread(
        target=lambda: seen.extend(json.loads(line) for line in follower.stdout or ()),
        daemon=True,
    )
    reader.start()
    try:
        # the server may say more on stderr meanwhile: the log so far comes first, in order
        wait_for(lambda: len(seen) >= len(shown), what="the follower printing the log so far")
        printed = [row["line"] for row in seen]
        assert printed[: len(shown)] == [line.split("  ", 1)[1] for line in shown]
        cli("restart", "talker", state_dir=state)

        def restarted() -> bool:
            later = [row["line"] for row in seen[len(shown) :]]
            pair = ["starting up", "second line"]
            return any(later[i : i + 2] == pair for i in range(len(later)))

        wait_for(restarted, what="the follower printing the restarted server's stderr")
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
        reader.join(timeout=5)
