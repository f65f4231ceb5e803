"""Loading YAML into a DesiredState: every mistake named by file, line, resource and field."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.models import MCPServer, ResourceKey
from reconciler.loading.files import content_revision
from reconciler.loading.loader import load_documents, load_paths
from reconciler.loading.yamlnodes import read_documents

DATA = Path(__file__).parent / "data"
HEAD = "apiVersion: mcp.reconciler.dev/v1alpha1\n"
SERVER = HEAD + "kind: MCPServer\nmetadata: {name: time}\nspec: {command: mcp-server-time}\n"
BLOCK = HEAD + "kind: MCPServer\nmetadata: {name: time}\nspec:\n  command: mcp-server-time\n"
"""A server whose spec further lines (from line 6) can be appended to."""


def problems_of(tmp_path: Path, text: str, name: str = "r.yaml") -> list[str]:
    """Load one file written to tmp_path; the problems as printed, paths relative to it."""
    (tmp_path / name).write_text(text)
    result = load_paths([tmp_path / name])
    assert result.state is None
    return [str(p).replace(f"{tmp_path}/", "") for p in result.problems]


# Each case: YAML text, and the exact start of the one problem it must produce
# (`FILE:LINE: Kind/name: field: message...`).
BAD_INPUT = {
    "yaml syntax error": (
        BLOCK + "  args: [a, b\n",
        "r.yaml:6: invalid YAML: ",
    ),
    "tab indentation": (
        HEAD + "kind: MCPServer\nmetadata:\n\tname: time\n",
        "r.yaml:4: invalid YAML: ",
    ),
    "document that is a list": (
        "- kind: MCPServer\n",
        "r.yaml:1: document is not a mapping",
    ),
    "document that is a string": (
        "just some text\n",
        "r.yaml:1: document is not a mapping",
    ),
    "missing apiVersion": (
        "kind: MCPServer\nmetadata: {name: time}\nspec: {command: x}\n",
        "r.yaml:1: MCPServer/time: apiVersion: missing apiVersion; "
        "add apiVersion: mcp.reconciler.dev/v1alpha1",
    ),
    "unknown apiVersion": (
        SERVER.replace("v1alpha1", "v1"),
        "r.yaml:1: MCPServer/time: apiVersion: unknown apiVersion 'mcp.reconciler.dev/v1'; "
        "expected mcp.reconciler.dev/v1alpha1",
    ),
    "missing kind": (
        HEAD + "metadata: {name: time}\nspec: {command: x}\n",
        "r.yaml:1: ?/time: kind: missing kind; add one of MCPServer, MCPSuite",
    ),
    "misspelt kind": (
        SERVER.replace("kind: MCPServer", "kind: MCPSevrer"),
        "r.yaml:2: MCPSevrer/time: kind: unknown kind 'MCPSevrer'; did you mean MCPServer?",
    ),
    "kind in the wrong case": (
        SERVER.replace("kind: MCPServer", "kind: mcpserver"),
        "r.yaml:2: mcpserver/time: kind: unknown kind 'mcpserver'; did you mean MCPServer?",
    ),
    "misspelt field": (
        BLOCK + "  healthChek: {}\n",
        "r.yaml:6: MCPServer/time: spec.healthChek: unknown field 'healthChek'; "
        "did you mean 'healthCheck'?",
    ),
    "misspelt nested field": (
        BLOCK + "  healthCheck:\n    interval: 5\n",
        "r.yaml:7: MCPServer/time: spec.healthCheck.interval: unknown field 'interval'; "
        "did you mean 'intervalSeconds'?",
    ),
    "misspelt field inside a list item": (
        BLOCK + "  env:\n    - {name: TZ, valu: UTC}\n",
        "r.yaml:7: MCPServer/time: spec.env.0.valu: unknown field 'valu'; did you mean 'value'?",
    ),
    "misspelt top-level field": (
        HEAD + "kind: MCPSuite\nmetadata: {name: dev}\nspecs: {}\n",
        "r.yaml:4: MCPSuite/dev: specs: unknown field 'specs'; did you mean 'spec'?",
    ),
    "snake_case field": (
        BLOCK + "  working_dir: /srv\n",
        "r.yaml:6: MCPServer/time: spec.working_dir: unknown field 'working_dir'; "
        "did you mean 'workingDir'? (fields are camelCase)",
    ),
    "unknown field with nothing close": (
        BLOCK + "  restart:\n    zzz: 1\n",
        "r.yaml:7: MCPServer/time: spec.restart.zzz: unknown field 'zzz'; "
        "allowed here: maxFailures, backoff",
    ),
    "wrong type in a list": (
        BLOCK + "  args: [--port, 8080]\n",
        "r.yaml:6: MCPServer/time: spec.args.1: expected a string",
    ),
    "wrong type of a section": (
        BLOCK + "  healthCheck: every minute\n",
        "r.yaml:6: MCPServer/time: spec.healthCheck: expected a mapping",
    ),
    "value out of range": (
        BLOCK + "  healthCheck:\n    intervalSeconds: 0\n",
        "r.yaml:7: MCPServer/time: spec.healthCheck.intervalSeconds: must be greater than 0",
    ),
    "value not among the choices": (
        BLOCK + "  transport: websocket\n",
        "r.yaml:6: MCPServer/time: spec.transport: must be 'stdio', 'streamable-http' or 'sse'",
    ),
    "name that is not a DNS label": (
        SERVER.replace("name: time", "name: Time_Server"),
        "r.yaml:3: MCPServer/Time_Server: metadata.name: must be a DNS-1123 label",
    ),
    "missing spec": (
        HEAD + "kind: MCPSuite\nmetadata: {name: dev}\n",
        "r.yaml:1: MCPSuite/dev: spec: required field is missing",
    ),
    "stdio server without command": (
        HEAD + "kind: MCPServer\nmetadata: {name: time}\nspec:\n  transport: stdio\n  args: [x]\n",
        "r.yaml:5: MCPServer/time: spec.command: transport stdio needs command",
    ),
    "remote server without url": (
        HEAD + "kind: MCPServer\nmetadata: {name: web}\nspec:\n  transport: sse\n",
        "r.yaml:5: MCPServer/web: spec.url: transport sse needs url",
    ),
    "remote server with a command": (
        HEAD + "kind: MCPServer\nmetadata: {name: web}\nspec:\n  transport: sse\n"
        "  url: http://127.0.0.1:1/sse\n  command: node\n",
        "r.yaml:7: MCPServer/web: spec.command: command is for stdio servers, not sse",
    ),
    "provider apiKey written inline": (
        HEAD + "kind: LLMProvider\nmetadata: {name: openai}\nspec:\n  type: openai\n"
        "  model: gpt-4o-mini\n  apiKey: sk-live-secret-0123\n",
        "r.yaml:7: LLMProvider/openai: spec.apiKey: secret written inline; reference it",
    ),
    "provider that needs a key": (
        HEAD + "kind: LLMProvider\nmetadata: {name: openai}\nspec:\n  type: openai\n"
        "  model: gpt-4o-mini\n",
        "r.yaml:5: LLMProvider/openai: spec.apiKey: type openai needs apiKey",
    ),
    "subject token written inline": (
        HEAD + "kind: ToolPermission\nmetadata: {name: p}\nspec:\n  suites: [dev]\n"
        "  subjects:\n    - name: bot\n      tokenFrom: ghp_secret_0123\n",
        "r.yaml:8: ToolPermission/p: spec.subjects.0.tokenFrom: secret written inline",
    ),
    "invalid glob in a tool filter": (
        BLOCK + "  tools:\n    include: ['get_[time']\n",
        "r.yaml:7: MCPServer/time: spec.tools.include.0: invalid glob pattern 'get_[time': "
        "'[' is never closed",
    ),
    "rule pattern without a server part": (
        HEAD + "kind: ToolPermission\nmetadata: {name: p}\nspec:\n  suites: [dev]\n"
        "  subjects: [{name: bot, role: dev}]\n  rules:\n    - action: allow\n"
        "      tools: [time.*, echo]\n",
        "r.yaml:9: ToolPermission/p: spec.rules.0.tools.1: invalid tool pattern 'echo': "
        "write it as <server>.<tool>",
    ),
    "rate limit key pattern": (
        HEAD + "kind: ToolPermission\nmetadata: {name: p}\nspec:\n  suites: [dev]\n"
        "  subjects: [{name: bot, role: dev}]\n  rateLimit:\n    requestsPerMinute: 10\n"
        "    perTool:\n      'x.[': 5\n",
        "r.yaml:10: ToolPermission/p: spec.rateLimit.perTool.x.[: invalid glob pattern 'x.['",
    ),
    "duplicate key in a mapping": (
        BLOCK + "  args: [a]\n  args: [b]\n",
        "r.yaml:7: MCPServer/time: spec.args: duplicate key 'args' (first at line 6)",
    ),
    "unsupported YAML tag": (
        BLOCK + "  workingDir: !vault secret/path\n",
        "r.yaml:6: MCPServer/time: spec.workingDir: unsupported YAML tag '!vault'",
    ),
    "recursive alias": (
        BLOCK + "  args: &a [*a]\n",
        "r.yaml:6: MCPServer/time: spec.args.0: recursive YAML alias",
    ),
    "value that does not fit its explicit tag": (
        BLOCK + "  enabled: !!bool maybe\n",
        "r.yaml:6: MCPServer/time: spec.enabled: invalid value for its YAML type",
    ),
    "merge key that merges no mapping": (
        BLOCK + "  env:\n    - <<: [a]\n",
        "r.yaml:7: MCPServer/time: spec.env.0: invalid merge key '<<'",
    ),
    "nesting too deep": (
        HEAD
        + "kind: Workflow\nmetadata: {name: w}\nspec:\n  inputs:\n    x: "
        + "[" * 150
        + "]" * 150
        + "\n",
        "r.yaml:6: Workflow/w: spec.inputs.x.0.0.0",
    ),
}


@pytest.mark.parametrize(("text", "expected"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_reported_at_its_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_secrets_written_inline_never_appear_in_problems(tmp_path: Path) -> None:
    text = (
        HEAD + "kind: LLMProvider\nmetadata: {name: openai}\nspec:\n  type: openai\n"
        "  model: gpt-4o-mini\n  apiKey: sk-live-TOPSECRET\n  timeoutSeconds: sk-live-TOPSECRET\n"
        "  endpoint: sk-live-TOPSECRET\n"
        "---\n" + BLOCK + "  env:\n    - {name: TOKEN, value: {x: sk-live-TOPSECRET}}\n"
    )
    problems = problems_of(tmp_path, text)
    assert len(problems) == 4, problems
    assert not [p for p in problems if "TOPSECRET" in p]


def test_a_file_with_several_mistakes_reports_all_of_them(tmp_path: Path) -> None:
    shutil.copytree(DATA / "invalid" / "many-mistakes", tmp_path / "config")
    result = load_paths([tmp_path / "config"])
    assert result.state is None
    assert [(p.line, p.resource, p.field) for p in result.problems] == [
        (6, "MCPServer/time", "spec.comand"),
        (8, "MCPServer/time", "spec.healthCheck.intervalSeconds"),
        (16, "LLMProvider/openai", "spec.apiKey"),
        (22, "MCPSuite/dev", "spec.servers.1.name"),
    ]
    assert {p.file for p in result.problems} == {str(tmp_path / "config" / "resources.yaml")}
    assert "did you mean 'time'?" in result.problems[-1].message


def test_a_name_declared_in_two_files_is_reported_in_the_second(tmp_path: Path) -> None:
    shutil.copytree(DATA / "invalid" / "duplicates", tmp_path / "config")
    result = load_paths([tmp_path / "config"])
    assert [str(p) for p in result.problems] == [
        f"{tmp_path}/config/b.yaml:5: MCPServer/time: metadata.name: duplicate of "
        f"{tmp_path}/config/a.yaml:4: names are unique per kind and namespace"
    ]


def test_same_name_in_another_namespace_or_kind_is_no_duplicate(tmp_path: Path) -> None:
    other_ns = SERVER.replace("{name: time}", "{name: time, namespace: team-a}")
    suite = HEAD + "kind: MCPSuite\nmetadata: {name: time}\nspec: {servers: [{name: time}]}\n"
    (tmp_path / "a.yaml").write_text("---\n".join([SERVER, other_ns, suite]))
    result = load_paths([tmp_path])
    assert result.ok, [str(p) for p in result.problems]
    assert result.state is not None
    assert ResourceKey("MCPServer", "team-a", "time") in result.state.resources


def test_valid_directory_loads_every_resource_with_field_lines() -> None:
    result = load_paths([DATA / "valid"])
    assert result.ok, [str(p) for p in result.problems]
    assert result.problems == []
    state = result.state
    assert state is not None
    assert sorted(str(key) for key in state.resources) == [
        "LLMProvider/local",
        "LLMProvider/openai",
        "MCPServer/everything",
        "MCPServer/time",
        "MCPSuite/dev",
        "ToolPermission/ci-bot-dev",
        "Workflow/release-notes",
    ]
    time = state.get(MCPServer, "time")
    assert time is not None
    assert time.spec.args == ["--local-timezone", "UTC"]
    origin = state.origins[time.key]
    assert origin.file == str(DATA / "valid" / "servers" / "time.yaml")
    assert origin.line == 2
    assert origin.line_of("metadata.name") == 4
    assert origin.line_of("spec.args.1") == 8
    assert origin.line_of("spec.env.1.valueFrom.secretKeyRef.key") == 12
    assert origin.line_of("spec.healthCheck.intervalSeconds") == 13
    assert origin.line_of("spec.restart.backoff") == 14  # absent: its parent's line
    assert result.documents == 7
    assert state.revision is not None
    assert state.revision.startswith("sha256:")


def test_directory_revision_follows_content_not_location(tmp_path: Path) -> None:
    shutil.copytree(DATA / "valid", tmp_path / "a")
    shutil.copytree(DATA / "valid", tmp_path / "b")
    first, second = load_paths([tmp_path / "a"]), load_paths([tmp_path / "b"])
    assert first.state is not None
    assert second.state is not None
    assert first.state.revision == second.state.revision
    (tmp_path / "b" / "access.yaml").write_text(
        (tmp_path / "b" / "access.yaml").read_text() + "# a comment\n"
    )
    third = load_paths([tmp_path / "b"])
    assert third.state is not None
    assert third.state.revision != first.state.revision
    given = load_paths([tmp_path / "a"], revision="main@sha1:abc")
    assert given.state is not None
    assert given.state.revision == "main@sha1:abc"


def test_content_revision_depends_on_names_and_texts() -> None:
    base = content_revision([("a.yaml", "x"), ("b.yaml", "y")])
    assert base == content_revision([("b.yaml", "y"), ("a.yaml", "x")])
    assert base != content_revision([("a.yaml", "xy"), ("b.yaml", "")])
    assert base != content_revision([("a.yaml", "x"), ("c.yaml", "y")])
    assert base.startswith("sha256:")
    assert len(base) == len("sha256:") + 64


def test_directories_are_read_recursively_in_sorted_order_skipping_other_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for where, name in [("b", "one"), ("a/deep", "two"), ("", "three")]:
        (tmp_path / where / f"{name}.yaml").write_text(SERVER.replace("time", name))
    (tmp_path / "a" / "notes.txt").write_text("kind: nothing")
    (tmp_path / "a" / "values.json").write_text("{}")
    (tmp_path / ".git" / "bad.yaml").write_text("{{{{")
    (tmp_path / ".hidden.yaml").write_text("{{{{")
    (tmp_path / "four.yml").write_text(SERVER.replace("time", "four"))
    result = load_paths([tmp_path])
    assert result.ok, [str(p) for p in result.problems]
    assert result.state is not None
    files = [origin.file for origin in result.state.origins.values()]
    assert files == [
        str(tmp_path / "a" / "deep" / "two.yaml"),
        str(tmp_path / "b" / "one.yaml"),
        str(tmp_path / "four.yml"),
        str(tmp_path / "three.yaml"),
    ]


def test_several_documents_per_file_and_empty_documents_skipped(tmp_path: Path) -> None:
    text = "---\n" + SERVER + "---\n---\n# only a comment\n---\n" + SERVER.replace("time", "b")
    (tmp_path / "s.yaml").write_text(text)
    result = load_paths([tmp_path / "s.yaml"])
    assert result.ok
    assert result.state is not None
    assert [o.line for o in result.state.origins.values()] == [2, 10]


def test_long_lines_and_deep_indentation_load_like_short_ones(tmp_path: Path) -> None:
    """Past what libyaml's recursion copes with, the pure-Python parser takes over."""
    text = BLOCK + "  description: " + "x" * 5000 + "\n  args:\n" + " " * 600 + "- a\n"
    (tmp_path / "s.yaml").write_text(text)
    result = load_paths([tmp_path / "s.yaml"])
    assert result.ok, [str(p) for p in result.problems]
    assert result.state is not None
    [server] = result.state.servers
    assert server.spec.args == ["a"]
    assert result.state.origins[server.key].line_of("spec.args.0") == 8


def test_a_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    result = load_paths([tmp_path / "missing"])
    assert result.state is None
    assert [str(p) for p in result.problems] == [f"{tmp_path}/missing: no such file or directory"]


def test_a_directory_without_resources_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# nothing here")
    (tmp_path / "empty.yaml").write_text("# nothing yet\n---\n")
    result = load_paths([tmp_path])
    assert result.state is None
    assert [str(p) for p in result.problems] == [
        f"{tmp_path}: no resources found under {tmp_path}: expected .yaml or .yml files with "
        "apiVersion: mcp.reconciler.dev/v1alpha1"
    ]


def test_load_documents_leaves_an_empty_source_to_its_caller() -> None:
    """The controller guards against pruning everything itself (--allow-mass-prune)."""
    result = load_documents([("a.yaml", "# emptied\n")])
    assert result.ok
    assert result.state is not None
    assert len(result.state) == 0


def test_a_directory_given_twice_or_with_its_own_files_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SERVER)
    result = load_paths([tmp_path, tmp_path, tmp_path / "s.yaml", f"{tmp_path}/./"])
    assert result.ok, [str(p) for p in result.problems]
    assert result.state is not None
    assert len(result.state) == 1


def test_files_that_cannot_be_read_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    (tmp_path / "nul.yaml").write_bytes(b"kind: MCPServer\x00\n")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "dir.yaml").mkdir()
    os.mkfifo(tmp_path / "pipe.yaml")  # reading it would block forever: it is skipped
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "ok.yaml").write_text(SERVER)
    result = load_paths([tmp_path])
    assert result.state is None
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.problems] == [
        "binary.yaml:1: not UTF-8 text; save the file as UTF-8",
        "dangling.yaml: cannot read: broken symlink",
        "nul.yaml:1: invalid YAML: unacceptable character #x0000 "
        "(control characters are not allowed)",
    ]


@pytest.mark.parametrize(
    "text",
    ["x:\n  " + "- " * 100_000 + "a\n", "x: " + "{a: " * 100_000 + "}" * 100_000 + "\n"],
    ids=["compact block lists", "flow mappings"],
)
def test_nesting_deeper_than_libyaml_copes_with_is_refused_without_crashing(text: str) -> None:
    result = load_documents([("deep.yaml", text)])
    assert [str(p) for p in result.problems] == [
        "deep.yaml: invalid YAML: nested too deeply to read"
    ]


def test_load_documents_takes_names_and_texts_from_anywhere() -> None:
    result = load_documents(
        [("git:main/servers.yaml", SERVER), ("git:main/bad.yaml", "kind: [")],
        revision="main@sha1:0123",
    )
    assert result.state is None
    assert [str(p) for p in result.problems] == [
        "git:main/bad.yaml:1: invalid YAML: did not find expected node content "
        "(while parsing a flow node)"
    ]
    good = load_documents([("servers.yaml", SERVER)])
    assert good.state is not None
    assert good.state.revision == content_revision([("servers.yaml", SERVER)])


def test_alias_expansion_bomb_is_rejected(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 7):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    text = BLOCK.replace("spec:", "x-bomb:\n" + "".join(f"  {lv}\n" for lv in levels) + "spec:")
    problems = problems_of(tmp_path, text)
    assert problems == [
        "r.yaml:1: aliases expand this document to more than 1,000,000 values",
    ]


def test_ten_thousand_servers_load_in_one_pass() -> None:
    """The path the scale benchmark measures (see benchmarks/plan_scale.py)."""
    servers = "---\n".join(
        SERVER.replace("name: time", f"name: s{i}, labels: {{team: t{i % 3}}}")
        for i in range(10_000)
    )
    suite = (
        HEAD
        + "kind: MCPSuite\nmetadata: {name: all}\nspec: {selector: {matchLabels: {team: t1}}}\n"
    )
    result = load_documents([("servers.yaml", servers), ("suites.yaml", suite)])
    assert result.ok
    assert result.state is not None
    assert len(result.state) == 10_001
    last = result.state.origins[ResourceKey("MCPServer", "default", "s9999")]
    assert last.line_of("spec.command") == 9999 * 5 + 4


# YAML whose values take every way of reading a scalar or a collection, each document
# read alike whatever path the reader takes (anchors send a text to the careful one).
YAML_VALUES = {
    "plain and quoted strings": "a: text\nb: 'yes'\nc: \"0755\"\nd: |\n  two\n  lines\n",
    "booleans of YAML 1.1": "a: yes\nb: No\nc: on\nd: OFF\ne: true\nf: !!bool False\n",
    "integers": "a: 0\nb: 017\nc: 0x1F\nd: 1_000\ne: -5\nf: +3\ng: !!int '7'\nh: 1:30\n",
    "floats": "a: 1.5\nb: 1e3\nc: 1.0e3\nd: -.inf\ne: !!float 1\nf: 6.8523015e+5\n",
    "nulls": "a: ~\nb: null\nc:\nd: [~, null, '']\n",
    "dates and bytes": "a: 2024-01-31\nb: 2024-01-31T10:00:00Z\nc: !!binary aGVsbG8=\n",
    "keys that are not strings": "2: two\ntrue: yes\n~: none\n2024-01-31: day\n",
    "flow and block nesting": "a: {b: [1, {c: [d, {e: f}]}]}\ng:\n  - - h\n    - i: j\n",
    "merge keys": "base: {x: 1}\nm:\n  <<: {a: 1, b: 2}\n  b: 3\n",
    "anchors and aliases": "a: &x {k: [1, 2]}\nb: *x\nc: &s text\nd: [*s, *s]\n",
    "several documents": "a: 1\n---\n---\n- b\n--- just text\n...\n---\nc: 2\n",
    "unicode": "n\u00e4me: \u30b5\u30fc\u30d0\u30fc\nemoji: '\U0001f600'\n",
}


@pytest.mark.parametrize("text", YAML_VALUES.values(), ids=YAML_VALUES.keys())
def test_values_are_read_as_yaml_safe_load_reads_them(text: str) -> None:
    expected = [d for d in yaml.safe_load_all(text) if d is not None]
    quick = list(read_documents(text))
    careful = list(read_documents(text, lines=True))
    assert [d.data for d in quick] == expected
    assert [d.data for d in careful] == expected
    assert [(d.index, d.line) for d in quick] == [(d.index, d.line) for d in careful]
    assert not [d.problems for d in quick if d.problems]


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["yes", "off", "0755", "1_000", "1:30", "2024-01-31", "~", "<<", "=", "*"]),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(data=st.lists(_DATA, min_size=1, max_size=3), flow=st.sampled_from([None, True, False]))
def test_any_dumped_data_reads_back_the_same(data: list[object], flow: bool | None) -> None:
    text = yaml.safe_dump_all(data, default_flow_style=flow, allow_unicode=True)
    expected = [d for d in yaml.safe_load_all(text) if d is not None]
    assert [d.data for d in read_documents(text)] == expected
    assert [d.data for d in read_documents(text, lines=True)] == expected


def test_field_lines_are_the_same_with_or_without_anchors(tmp_path: Path) -> None:
    """Anchors send a file to the reader that finds lines at once; others find them later."""
    second = BLOCK.replace("{name: time}", "{name: two}")
    plain = "---\n".join(
        [SERVER, second + "  args:\n    - a\n    - b\n  env:\n    - {name: X, value: y}\n"]
    )
    origins = []
    for name, text in [("plain.yaml", plain), ("a.yaml", plain.replace("args:", "args: &args"))]:
        (tmp_path / name).write_text(text)
        result = load_paths([tmp_path / name])
        assert result.ok, [str(p) for p in result.problems]
        assert result.state is not None
        origins.append(list(result.state.origins.values()))
    for quick, careful in zip(*origins, strict=True):
        assert quick.line == careful.line
        assert quick.field_lines == careful.field_lines
    last = origins[0][-1]
    assert (last.line, last.line_of("spec.args.1"), last.line_of("spec.env.0.value")) == (6, 13, 15)


def test_a_schema_mistake_before_broken_yaml_keeps_its_line(tmp_path: Path) -> None:
    text = SERVER + "---\n" + BLOCK + "  healthCheck:\n    interval: 5\n---\nkind: [\n"
    assert problems_of(tmp_path, text) == [
        "r.yaml:12: MCPServer/time: spec.healthCheck.interval: unknown field 'interval'; "
        "did you mean 'intervalSeconds'?",
        "r.yaml:14: invalid YAML: did not find expected node content (while parsing a flow node)",
    ]


def test_a_reference_mistake_deep_in_a_large_file_is_reported_at_its_line() -> None:
    servers = [SERVER.replace("name: time", f"name: s{i}") for i in range(2_000)]
    suite = HEAD + "kind: MCPSuite\nmetadata: {name: all}\nspec:\n  servers:\n"
    suite += "".join(f"    - name: s{i}\n" for i in (5, 1999, 2000))
    result = load_documents([("servers.yaml", "---\n".join([*servers, suite]))])
    assert [str(p) for p in result.problems] == [
        "servers.yaml:10008: MCPSuite/all: spec.servers.2.name: unknown MCPServer 's2000'; "
        "did you mean 's200'?"
    ]
