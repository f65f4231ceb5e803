"""Credentials written inline are validation errors, and what is printed is redacted."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from reconciler.cli.logsetup import configure_logging
from reconciler.controller.usage import log_calls
from reconciler.core.redaction import MASK, credential_kind, redact
from reconciler.loading.loader import load_documents
from reconciler.store.records import CallRecord

SECRETS = {
    "openai": "sk-proj-Zq8vR2mT5yW9bK3nH7dF1gJ4",
    "github": "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
    "slack": "xoxb-2048-1024-Zk9qL3mN8pR2",
    "aws": "AKIAZ7QW3RT5YU8IO2PL",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLXZhbHVl",
    "random": "q7Lm2Xv9Rt4Kp8Wz3Nb6",
    "header": "Bearer 9f8e7d6c5b4a39281706",
    "password": "hunter2-Correct-Horse",
}
YAML = f"""\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {{name: leaky}}
spec:
  command: mcp-server-time
  args: ["--api-key={SECRETS["openai"]}"]
  env:
    - {{name: TZ, value: UTC}}
    - {{name: GITHUB_TOKEN, value: {SECRETS["github"]}}}
    - {{name: SLACK, value: {SECRETS["slack"]}}}
    - {{name: AWS_ACCESS_KEY_ID, value: {SECRETS["aws"]}}}
    - {{name: SESSION, value: {SECRETS["jwt"]}}}
    - {{name: SERVICE_TOKEN, value: {SECRETS["random"]}}}
    - {{name: KEY_FILE, value: /etc/service/key.pem}}
    - {{name: LOG_LEVEL, value: debug}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {{name: remote}}
spec:
  transport: streamable-http
  url: "https://bot:{SECRETS["password"]}@mcp.example.com/mcp"
  headers:
    - {{name: Authorization, value: "{SECRETS["header"]}"}}
    - {{name: X-Tenant, value: acme}}
"""
EXPECTED = [
    ("MCPServer/leaky", 6, "spec.args.0"),
    ("MCPServer/leaky", 9, "spec.env.1.value"),
    ("MCPServer/leaky", 10, "spec.env.2.value"),
    ("MCPServer/leaky", 11, "spec.env.3.value"),
    ("MCPServer/leaky", 12, "spec.env.4.value"),
    ("MCPServer/leaky", 13, "spec.env.5.value"),
    ("MCPServer/remote", 22, "spec.url"),
    ("MCPServer/remote", 24, "spec.headers.0.value"),
]


def reconciler(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_names_file_line_and_field_of_every_inline_credential(tmp_path: Path) -> None:
    (tmp_path / "servers.yaml").write_text(YAML)
    done = reconciler("validate", "servers.yaml", cwd=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if ": " in line]
    for resource, line, field in EXPECTED:
        assert any(
            e.startswith(f"servers.yaml:{line}: {resource}: {field}: looks like") for e in errors
        ), (resource, line, field, errors)
    assert not any("KEY_FILE" in e or "LOG_LEVEL" in e or "X-Tenant" in e for e in errors)
    for value in SECRETS.values():
        assert value not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "flagged"),
    [
        (["--port", "8080", f"--client-secret={SECRETS['random']}"], ["spec.args.2"]),
        ([f"--client-secret={SECRETS['random']}", "--log-level=debug"], ["spec.args.0"]),
        (["-t", SECRETS["github"], "--instance", "7"], ["spec.args.1"]),
        (["--client-secret=short", "--instance", "7", "--url=https://x.example/mcp"], []),
    ],
)
def test_an_argument_is_a_credential_by_its_shape_or_by_its_option_name(
    args: list[str], flagged: list[str]
) -> None:
    text = (
        "apiVersion: mcp.reconciler.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: cli}\n"
        f"spec: {{command: mcp-server-time, args: {json.dumps(args)}}}\n"
    )
    result = load_documents([("servers.yaml", text)])
    assert [p.field for p in result.errors] == flagged


@pytest.mark.parametrize("output", ["text", "json"])
def test_diff_refuses_a_revision_with_inline_credentials_without_printing_them(
    tmp_path: Path, output: str
) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "s.yaml").write_text(
        "apiVersion: mcp.reconciler.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: leaky}\n"
        "spec: {command: mcp-server-time}\n"
    )
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "s.yaml").write_text(YAML)
    done = reconciler("diff", "new", "--against", "old", "-o", output, cwd=tmp_path)
    assert done.returncode == 1
    assert "spec.env.1.value" in done.stdout + done.stderr
    for value in SECRETS.values():
        assert value not in done.stdout + done.stderr


@pytest.mark.parametrize("value", [*list(SECRETS.values())[:5], SECRETS["header"]])
def test_redaction_masks_every_credential_shape_in_text(value: str) -> None:
    text = f"connecting with {value} now"
    assert value not in redact(text)
    assert MASK in redact(text)
    assert credential_kind(value) is not None


@pytest.mark.parametrize(
    "value",
    [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "gho_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
        "ASIAZ7QW3RT5YU8IO2PL",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "Basic dXNlcjpwYXNzd29yZA==",
        "bearer 9f8e7d6c5b4a39281706",
        "https://bob:hunter2-Correct-Horse@git.example.com/repo",
    ],
)
def test_redaction_masks_the_other_shapes_wherever_they_are(value: str) -> None:
    for text in (value, f"({value})", f"connecting with {value} now"):
        assert MASK in redact(text)
        assert credential_kind(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "the token authenticates only bob",
        "Basic authentication is not supported",
        "sha256:4f2a9c0d1e",
        "http://127.0.0.1:8765/suites/dev/mcp",
    ],
)
def test_redaction_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_log_lines_are_redacted(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="json")
    try:
        structlog.get_logger("t").info("connecting", url=f"https://u:{SECRETS['password']}@h/")
        logging.getLogger("t.std").warning("header was %s", SECRETS["header"])
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    assert SECRETS["password"] not in err
    assert SECRETS["header"] not in err
    assert MASK in lines[0]["url"]


def test_audit_lines_carry_the_call_fields_and_no_credential(
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_logging(fmt="json")
    try:
        log_calls([
            CallRecord(ts=1.5, suite="ops", server="", tool=SECRETS["github"], duration_ms=2.34567,
                       outcome="unknown_tool", subject="ci-bot", error_code=-32602, args_hash="ab"),
            CallRecord(ts=2.5, suite="ops", server="time", tool="now", duration_ms=1.0,
                       outcome="ok", subject=None, error_code=None, args_hash=""),
        ])  # fmt: skip
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    err = capfd.readouterr().err
    first, second = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert SECRETS["github"] not in err
    assert first == {
        "ts": 1.5, "subject": "ci-bot", "tokenSub": None, "suite": "ops", "server": None,
        "tool": MASK, "outcome": "unknown_tool", "durationMs": 2.346, "errorCode": -32602,
        "argsSha256": "ab", "event": "call", "level": "info", "timestamp": first["timestamp"],
    }  # fmt: skip
    assert first["timestamp"].endswith("Z")
    assert (second["subject"], second["server"], second["argsSha256"]) == (None, "time", None)
