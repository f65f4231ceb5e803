"""When the web console asks for the admin token, and how `run` reads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.console import needs_admin_token


@pytest.mark.parametrize(
    ("listen", "required"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.5", True),
        ("gateway.example.com", True),
    ],
)
def test_the_admin_token_is_required_unless_the_listener_is_loopback(
    listen: str, required: bool
) -> None:
    assert needs_admin_token(listen) is required


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("env:CONSOLE_TOKEN_UNSET", "env $CONSOLE_TOKEN_UNSET is not set"),
        ("secret:console/token", "secret console/token not found"),
        ("token:abc", "expected env:VAR or secret:NAME/KEY"),
    ],
)
def test_run_refuses_an_admin_token_it_cannot_read(
    tmp_path: Path, reference: str, expected: str
) -> None:
    resources = tmp_path / "resources"
    resources.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", str(resources), "--listen", "0.0.0.0:0",
         "--admin-token-from", reference, "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert expected in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--admin-oidc-issuer", "http://idp.example.com/realms/main", "--admin-oidc-audience",
          "console", "--admin-oidc-claim", "sub=alice"], "not an https URL"),
        (["--admin-oidc-issuer", "https://idp.example.com/realms/main", "--admin-oidc-claim",
          "sub=alice"], "needs --admin-oidc-audience"),
        (["--admin-oidc-issuer", "https://idp.example.com/realms/main", "--admin-oidc-audience",
          "console"], "at least one --admin-oidc-claim"),
        (["--admin-oidc-audience", "console"], "need --admin-oidc-issuer"),
    ],
)  # fmt: skip
def test_run_refuses_oidc_admin_options_that_do_not_fit(
    tmp_path: Path, options: list[str], expected: str
) -> None:
    resources = tmp_path / "resources"
    resources.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", str(resources), "--listen", "0.0.0.0:0",
         *options, "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert expected in result.stderr
