"""DNS-rebinding protection and bearer-token parsing of the gateway."""

from __future__ import annotations

import pytest

from reconciler.gateway.auth import TokenTable, bearer_token, token_hash
from reconciler.gateway.hosts import HostPolicy


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:8765", None),
        ("127.0.0.1:8765", "http://localhost:3000"),
        ("[::1]:8765", "http://127.0.0.1"),
        ("LOCALHOST", None),
    ],
)
def test_local_names_are_allowed(host: str, origin: str | None) -> None:
    assert HostPolicy.of().refusal(host, origin) is None


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("evil.example.com", None, 421),
        ("evil.example.com:8765", "http://localhost", 421),
        (None, None, 421),
        ("localhost:8765", "http://evil.example.com", 403),
        ("localhost:8765", "null", 403),
    ],
)
def test_foreign_hosts_and_origins_are_refused(
    host: str | None, origin: str | None, status: int
) -> None:
    refusal = HostPolicy.of().refusal(host, origin)
    assert refusal is not None
    assert refusal[0] == status


def test_configured_names_are_allowed_and_star_turns_the_check_off() -> None:
    assert HostPolicy.of(["gw.internal:443"]).refusal("gw.internal", "https://gw.internal") is None
    assert HostPolicy.of(["*"]).refusal("anything", "http://else") is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_tokens_are_read_from_the_authorization_header(
    header: str | None, token: str | None
) -> None:
    assert bearer_token(header) == token


def test_token_table_finds_the_subject_of_a_token() -> None:
    table = TokenTable.of([(token_hash("a"), "alice"), (token_hash("b"), "bob")])
    assert table.subject_for("b") == "bob"
    assert table.subject_for("c") is None
    assert table.subject_for(None) is None
