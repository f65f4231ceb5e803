"""The sandbox of stdio servers: the bubblewrap command line (pure), what a command runs from,
the declaration's checks, and how `diff` reports a change of isolation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.controller.confinement import sandbox_problem
from reconciler.controller.installation import installation_paths, resolve_command
from reconciler.controller.sandbox import HostLayout, Masked, SystemPath, binds, wrap
from reconciler.core.desired import DesiredState
from reconciler.core.models import MCPServer
from reconciler.core.models.server import Sandbox
from reconciler.diffing import diff_states
from reconciler.loading.loader import load_documents
from reconciler.render import render

LAYOUT = HostLayout(
    bwrap="/usr/bin/bwrap",
    system=(SystemPath("/usr"), SystemPath("/bin", "usr/bin"), SystemPath("/etc")),
    installation=("/opt/app/.venv", "/usr/bin/python3"),
    hidden=("/home/u/project/.mcp-reconciler",),
)


def sandbox(**fields: Any) -> Sandbox:
    return Sandbox.model_validate(fields)


def options(argv: tuple[str, ...], flag: str) -> list[tuple[str, str]]:
    """The (source, destination) pairs that follow each occurrence of `flag`."""
    return [(argv[i + 1], argv[i + 2]) for i, word in enumerate(argv) if word == flag]


def test_a_wrapped_launch_is_bwrap_then_the_server_argv_unchanged() -> None:
    wrapped = wrap(
        ["/opt/app/.venv/bin/server", "--flag", "x"],
        env={"TOKEN": "s3cret"},
        cwd=None,
        sandbox=sandbox(),
        layout=LAYOUT,
    )
    argv = wrapped.argv
    assert argv[0] == "/usr/bin/bwrap"
    assert argv[argv.index("--") + 1 :] == ("/opt/app/.venv/bin/server", "--flag", "x")
    assert "s3cret" not in " ".join(argv)  # secrets travel in the environment only
    assert wrapped.env == {"TOKEN": "s3cret", "HOME": "/tmp"}
    for flag in ("--die-with-parent", "--unshare-pid", "--unshare-ipc", "--cap-drop"):
        assert flag in argv
    assert "--new-session" not in argv  # the server stays in the controller's process group
    assert argv[argv.index("--chdir") + 1] == "/tmp"


@pytest.mark.parametrize(
    ("network", "own_namespace"), [("none", True), ("host", False)], ids=["none", "host"]
)
def test_network_none_is_an_own_network_namespace(network: str, own_namespace: bool) -> None:
    argv = wrap(
        ["/bin/true"], env={}, cwd=None, sandbox=sandbox(network=network), layout=LAYOUT
    ).argv
    assert ("--unshare-net" in argv) is own_namespace


def test_network_defaults_to_none() -> None:
    assert sandbox().network == "none"


def test_system_directories_read_only_symlinks_recreated_private_tmp_and_no_home() -> None:
    argv = wrap(["/bin/true"], env={}, cwd=None, sandbox=sandbox(), layout=LAYOUT).argv
    assert ("/usr", "/usr") in options(argv, "--ro-bind")
    assert ("/etc", "/etc") in options(argv, "--ro-bind")
    assert ("usr/bin", "/bin") in options(argv, "--symlink")
    tmp = argv.index("--tmpfs")
    assert argv[tmp + 1] == "/tmp"
    bound = [src for src, _ in options(argv, "--ro-bind") + options(argv, "--bind")]
    assert not any(path.startswith(("/home", "/root")) for path in bound)
    assert all(argv.index(flag) < argv.index("--") for flag in ("--dev", "--proc"))


def test_declared_paths_installation_and_working_dir_with_their_modes() -> None:
    argv = wrap(
        ["/opt/app/.venv/bin/server"],
        env={"HOME": "/home/u"},
        cwd="/srv/work",
        sandbox=sandbox(filesystem={"readOnly": ["/srv/data"], "readWrite": ["/srv/out"]}),
        layout=LAYOUT,
    )
    read_only = options(argv.argv, "--ro-bind")
    writable = options(argv.argv, "--bind")
    assert ("/srv/data", "/srv/data") in read_only
    assert ("/opt/app/.venv", "/opt/app/.venv") in read_only
    assert ("/usr/bin/python3", "/usr/bin/python3") not in read_only  # inside /usr already
    assert writable == [("/srv/out", "/srv/out"), ("/srv/work", "/srv/work")]
    assert argv.argv[argv.argv.index("--chdir") + 1] == "/srv/work"
    assert argv.env["HOME"] == "/home/u"  # declared: kept (and not shown unless granted)


@pytest.mark.parametrize(
    ("installation", "read_only", "read_write", "expected"),
    [
        # the deeper grant wins: an installation inside a writable working dir stays read-only
        (
            ["/p/.venv"],
            [],
            ["/p"],
            [("/p", True), ("/p/.venv", False)],
        ),
        # a writable path inside a read-only one is writable
        (
            [],
            ["/data"],
            ["/data/out"],
            [("/data", False), ("/data/out", True)],
        ),
        # granted both ways (the working dir is declared read-only): writable
        ([], ["/w"], ["/w"], [("/w", True)]),
        # read-only paths inside system directories are already there; writable ones not
        (["/usr/bin/node"], ["/etc/ssl"], ["/etc/app"], [("/etc/app", True)]),
        # order does not depend on declaration order
        ([], ["/b/c", "/a"], [], [("/a", False), ("/b/c", False)]),
    ],
)
def test_binds_mount_parents_first(
    installation: list[str],
    read_only: list[str],
    read_write: list[str],
    expected: list[tuple[str, bool]],
) -> None:
    result = binds(
        installation=installation,
        read_only=read_only,
        read_write=read_write,
        covered=["/usr", "/etc", "/bin"],
    )
    assert [(b.path, b.writable) for b in result] == expected


def test_the_state_directory_is_hidden_where_a_granted_path_would_show_it() -> None:
    argv = wrap(["/bin/true"], env={}, cwd="/home/u/project", sandbox=sandbox(), layout=LAYOUT).argv
    tmpfs = [argv[i + 1] for i, word in enumerate(argv) if word == "--tmpfs"]
    assert tmpfs == ["/tmp", "/home/u/project/.mcp-reconciler"]
    assert argv.index("/home/u/project/.mcp-reconciler") > argv.index("--bind")
    elsewhere = wrap(["/bin/true"], env={}, cwd="/srv", sandbox=sandbox(), layout=LAYOUT).argv
    assert [argv for argv in elsewhere if argv == "/home/u/project/.mcp-reconciler"] == []


def test_system_secrets_are_masked_after_etc_is_shown() -> None:
    layout = HostLayout(
        bwrap="/usr/bin/bwrap",
        system=(SystemPath("/etc"),),
        masked=(Masked("/etc/shadow"), Masked("/etc/ssl/private", directory=True)),
    )
    argv = wrap(["/bin/true"], env={}, cwd=None, sandbox=sandbox(), layout=layout).argv
    assert ("/dev/null", "/etc/shadow") in options(argv, "--ro-bind")
    private = argv.index("/etc/ssl/private")
    assert argv[private - 1] == "--tmpfs"
    assert argv[private + 1 : private + 3] == ("--remount-ro", "/etc/ssl/private")
    assert argv.index("/etc/shadow") > argv.index("/etc")


def test_an_unresolved_command_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        wrap(["node"], env={}, cwd=None, sandbox=sandbox(), layout=LAYOUT)


# -- what a command runs from ------------------------------------------------------------


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_console_script_brings_its_virtualenv_and_the_python_it_was_made_from(
    tmp_path: Path,
) -> None:
    base = tmp_path / "pythons" / "3.11"
    python = _script(base / "bin" / "python3.11", "")
    (base / "lib" / "python3.11").mkdir(parents=True)
    venv = tmp_path / "app" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\nversion = 3.11.7\n")
    (venv / "bin" / "python").symlink_to(python)
    tool = _script(venv / "bin" / "mcp-server-x", f"#!{venv / 'bin' / 'python'}\nimport x\n")

    found = installation_paths([str(tool)], path=None, cwd=tmp_path, homes=[Path("/nohome")])
    assert str(venv) in found
    assert str(base) in found
    assert not any(p == str(tmp_path) or p == str(tmp_path / "app") for p in found)


def test_a_node_bin_link_brings_the_outermost_node_modules_and_env_node_from_path(
    tmp_path: Path,
) -> None:
    modules = tmp_path / "proj" / "node_modules"
    entry = _script(modules / "@scope" / "server" / "dist" / "index.js", "#!/usr/bin/env node\n")
    (modules / ".bin").mkdir()
    (modules / ".bin" / "server").symlink_to(Path("../@scope/server/dist/index.js"))
    node_prefix = tmp_path / "node20"
    node = _script(node_prefix / "bin" / "node", "")
    (node_prefix / "lib").mkdir()

    found = installation_paths(
        [str(modules / ".bin" / "server")],
        path=str(node.parent),
        cwd=tmp_path,
        homes=[Path("/nohome")],
    )
    assert found == (str(modules), str(node_prefix))
    assert entry.exists()


def test_an_interpreters_script_brings_its_directory_and_the_node_modules_above(
    tmp_path: Path,
) -> None:
    project = tmp_path / "proj"
    script = _script(project / "src" / "server.mjs", "")
    (project / "node_modules").mkdir()
    data = tmp_path / "data.json"
    data.write_text("{}")
    node = resolve_command("node", path=os.environ["PATH"], cwd=None)
    assert node is not None

    found = installation_paths(
        [node, str(script), str(data)], path=None, cwd=tmp_path, homes=[Path("/nohome")]
    )
    assert str(project / "src") in found
    assert str(project / "node_modules") in found
    assert str(data) not in found  # a data argument is not part of the installation
    assert str(tmp_path) not in found


def test_a_script_in_a_home_directory_does_not_show_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = _script(home / "server.py", "")
    python = resolve_command("python3", path=os.environ["PATH"], cwd=None)
    assert python is not None
    found = installation_paths([python, str(script)], path=None, cwd=home, homes=[home])
    assert str(script) in found
    assert str(home) not in found


def test_relative_commands_resolve_from_the_working_directory(tmp_path: Path) -> None:
    _script(tmp_path / "bin" / "srv", "")
    assert resolve_command("bin/srv", path=None, cwd=tmp_path) == str(tmp_path / "bin" / "srv")
    assert resolve_command("no-such-command-here", path="/nonexistent", cwd=tmp_path) is None


# -- the declaration ---------------------------------------------------------------------

SERVER = """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {{name: files}}
spec:
  {transport}
  sandbox:
    filesystem:
      readOnly: [{read_only}]
      readWrite: [{read_write}]
"""


@pytest.mark.parametrize(
    ("transport", "read_only", "read_write", "message"),
    [
        ("command: srv", "data", "", "spec.sandbox.filesystem.readOnly.0: "),
        ("command: srv", "/srv/../etc", "", "contains '..'"),
        ("command: srv", "/", "", "whole filesystem"),
        ("command: srv", "/srv", "/srv", "listed in both readOnly and readWrite"),
        (
            'transport: streamable-http\n  url: "http://127.0.0.1:1/mcp"',
            "/srv",
            "",
            "sandbox is for stdio servers",
        ),
    ],
)
def test_bad_sandbox_declarations_name_file_line_and_field(
    transport: str, read_only: str, read_write: str, message: str
) -> None:
    text = SERVER.format(transport=transport, read_only=read_only, read_write=read_write)
    result = load_documents([("servers.yaml", text)])
    assert not result.ok
    shown = "\n".join(str(p) for p in result.errors)
    assert "servers.yaml:" in shown
    assert "MCPServer/files" in shown
    assert message in shown


# -- diff --------------------------------------------------------------------------------


def _server(box: dict[str, Any] | None) -> MCPServer:
    spec: dict[str, Any] = {"command": "mcp-server-filesystem", "args": ["/srv/data"]}
    if box is not None:
        spec["sandbox"] = box
    return MCPServer.model_validate({"metadata": {"name": "files"}, "spec": spec})


BOXED = {"filesystem": {"readOnly": ["/srv/data"]}, "network": "none"}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (BOXED, None, [("widened", "sandbox-removed")]),
        (None, BOXED, [("narrowed", "sandbox-added")]),
        (
            BOXED,
            {"filesystem": {"readOnly": ["/srv/data", "/srv/more"]}},
            [("widened", "sandbox-path-added")],
        ),
        (
            BOXED,
            {"filesystem": {"readWrite": ["/srv/data"]}},
            [("widened", "sandbox-path-added")],
        ),
        (BOXED, {"filesystem": {}}, [("narrowed", "sandbox-path-removed")]),
        (
            BOXED,
            {**BOXED, "network": "host"},
            [("widened", "sandbox-network-opened")],
        ),
        ({**BOXED, "network": "host"}, BOXED, [("narrowed", "sandbox-network-closed")]),
    ],
    ids=["removed", "added", "path", "writable", "path-gone", "net-open", "net-closed"],
)
def test_diff_flags_sandbox_widening_and_restarts_the_server(
    before: dict[str, Any] | None, after: dict[str, Any] | None, expected: list[tuple[str, str]]
) -> None:
    diff = diff_states(DesiredState.of([_server(before)]), DesiredState.of([_server(after)]))
    assert [(a.direction, a.kind) for a in diff.access] == expected
    (change,) = diff.resources
    assert change.lifecycle == "restart"
    assert all(f.restart for f in change.fields)
    assert diff.access[0].server == change.key
    text = render(diff, "text")
    label = "WIDENED" if expected[0][0] == "widened" else "narrowed"
    assert f"{label}   server files" in text or f"{label}  server files" in text


def test_diff_text_says_which_path_and_json_names_the_server() -> None:
    diff = diff_states(
        DesiredState.of([_server(BOXED)]),
        DesiredState.of([_server({"filesystem": {"readOnly": ["/srv/data", "/home/u/.ssh"]}})]),
    )
    assert "server files may now read /home/u/.ssh" in render(diff, "text")
    assert "⚠️ **widened**: server files may now read /home/u/.ssh" in render(diff, "markdown")
    assert '"server": "MCPServer/files"' in render(diff, "json")
    assert diff.summary()["accessWidened"] == 1


# -- whether this machine can sandbox ------------------------------------------------------


def test_this_machine_can_sandbox_with_the_installed_bubblewrap() -> None:
    assert sandbox_problem() is None


def test_a_missing_bubblewrap_says_how_to_install_it(tmp_path: Path) -> None:
    problem = sandbox_problem(str(tmp_path / "bwrap"))
    assert problem is not None
    assert "bubblewrap is not installed" in problem
    assert "apt-get install bubblewrap" in problem


def test_a_kernel_without_user_namespaces_says_how_to_allow_them(tmp_path: Path) -> None:
    # What bubblewrap prints where unprivileged user namespaces are disabled (this machine
    # runs the tests as root, where they cannot be refused).
    refusing = _script(
        tmp_path / "bwrap",
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace, likely because the"
        " kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n",
    )
    problem = sandbox_problem(str(refusing))
    assert problem is not None
    assert "cannot create its namespaces here" in problem
    assert "No permissions to create new namespace" in problem
    assert "kernel.unprivileged_userns_clone=1" in problem
