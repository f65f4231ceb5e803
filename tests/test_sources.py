"""Configuration sources against a real directory and real git repositories in tmp dirs."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from reconciler.core.errors import InvalidInput, SourceError
from reconciler.loading.files import content_revision, is_config_file
from reconciler.loading.loader import load_paths
from reconciler.sources import Source, SourceSnapshot
from reconciler.sources.directory import DirectorySource
from reconciler.sources.gitsource import GitSource, clone_name, redact_url
from tests.polling import eventually

DEADLINE = 15.0
SERVER = "kind: MCPServer\nmetadata: {name: %s}\nspec: {transport: stdio, command: %s}\n"


class Stream:
    """Runs a source's snapshot stream in a task and queues what it yields."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.queue: asyncio.Queue[SourceSnapshot] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for snapshot in self.source.snapshots():
            await self.queue.put(snapshot)

    async def next(self, timeout: float = DEADLINE) -> SourceSnapshot:
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # raises what ended the stream
            pytest.fail("the snapshot stream ended")
        pytest.fail(f"no snapshot within {timeout}s from {self.source.describe()}")

    def assert_nothing_new(self) -> None:
        assert self.queue.empty(), f"unexpected snapshot {self.queue.get_nowait().revision}"
        assert not self.task.done()


@asynccontextmanager
async def streaming(source: Source) -> AsyncIterator[Stream]:
    stream = Stream(source)
    try:
        yield stream
    finally:
        stream.task.cancel()
        await asyncio.gather(stream.task, return_exceptions=True)


def texts(snapshot: SourceSnapshot) -> dict[str, str]:
    return dict(snapshot.files)


def real(path: Path) -> Path:
    return path.resolve()


def write(root: Path, files: dict[str, str]) -> None:
    """Create root if needed and write files in it."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


# --- directory --------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "sub").mkdir(parents=True)
    (root / "a.yaml").write_text(SERVER % ("a", "one"))
    (root / "sub" / "b.yml").write_text(SERVER % ("b", "two"))
    (root / "notes.txt").write_text("not yaml")
    (root / ".git").mkdir()
    (root / ".git" / "c.yaml").write_text("hidden")
    (root / ".a.yaml.swp").write_text("editor swap")
    return root


async def test_directory_snapshot_lists_yaml_files_relative_to_root(config_dir: Path) -> None:
    source = DirectorySource(config_dir)
    async with streaming(source) as stream:
        first = await stream.next()
    assert [name for name, _ in first.files] == ["a.yaml", "sub/b.yml"]
    assert first.root == real(config_dir)
    assert all((first.root / name).read_text() == text for name, text in first.files)
    assert first.revision.startswith("sha256:")
    assert first.source == f"directory {real(config_dir)}"


async def test_identical_directory_content_gives_identical_revision(
    config_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(config_dir, copy)
    (copy / "other.json").write_text("{}")
    revisions = []
    for root in (config_dir, copy):
        async with streaming(DirectorySource(root)) as stream:
            revisions.append((await stream.next()).revision)
    assert revisions[0] == revisions[1]


async def test_validate_names_the_revision_run_applies(config_dir: Path) -> None:
    """`validate DIR` / `diff` (load_paths) and `run DIR` (the directory source) read the
    same files and give them the same revision id."""
    for path in (config_dir / "a.yaml", config_dir / "sub" / "b.yml"):
        path.write_text("apiVersion: mcp.reconciler.dev/v1alpha1\n" + path.read_text())
    async with streaming(DirectorySource(config_dir)) as stream:
        applied = (await stream.next()).revision
    validated = load_paths([config_dir])
    assert validated.state is not None, validated.problems
    assert validated.state.revision == applied


async def test_save_via_rename_yields_the_final_content(config_dir: Path) -> None:
    async with streaming(DirectorySource(config_dir)) as stream:
        await stream.next()
        temp = config_dir / ".a.yaml.tmp1234"
        temp.write_text(SERVER % ("a", "renamed"))
        os.replace(temp, config_dir / "a.yaml")
        changed = await stream.next()
    assert texts(changed)["a.yaml"] == SERVER % ("a", "renamed")


async def test_delete_and_recreate_yields_only_the_final_content(config_dir: Path) -> None:
    async with streaming(DirectorySource(config_dir)) as stream:
        await stream.next()
        (config_dir / "a.yaml").unlink()
        (config_dir / "a.yaml").write_text(SERVER % ("a", "recreated"))
        changed = await stream.next()
    assert texts(changed)["a.yaml"] == SERVER % ("a", "recreated")


async def test_file_written_in_chunks_is_read_once_complete(config_dir: Path) -> None:
    full = SERVER % ("slow", "written-in-chunks")

    def write_slowly() -> None:
        with (config_dir / "slow.yaml").open("w") as f:
            for start in range(0, len(full), 20):
                f.write(full[start : start + 20])
                f.flush()
                time.sleep(0.05)

    async with streaming(DirectorySource(config_dir, debounce_ms=800)) as stream:
        await stream.next()
        writer = threading.Thread(target=write_slowly)
        writer.start()
        changed = await stream.next()
        writer.join()
    assert texts(changed)["slow.yaml"] == full


async def test_touch_or_identical_rewrite_yields_no_snapshot(config_dir: Path) -> None:
    source = DirectorySource(config_dir, debounce_ms=100)
    async with streaming(source) as stream:
        first = await stream.next()
        reads = source.reads
        os.utime(config_dir / "a.yaml")
        (config_dir / "sub" / "b.yml").write_text(SERVER % ("b", "two"))
        await eventually(lambda: source.reads > reads)
        stream.assert_nothing_new()
        (config_dir / "notes.txt").write_text("still not yaml")
        (config_dir / "a.yaml").write_text(SERVER % ("a", "changed"))
        changed = await stream.next()
    assert changed.revision != first.revision
    assert texts(changed)["a.yaml"] == SERVER % ("a", "changed")
    assert "notes.txt" not in texts(changed)


async def test_trigger_rereads_without_waiting_for_the_debounce(config_dir: Path) -> None:
    source = DirectorySource(config_dir, debounce_ms=120_000)
    async with streaming(source) as stream:
        await stream.next()
        (config_dir / "a.yaml").write_text(SERVER % ("a", "triggered"))
        source.trigger()
        changed = await stream.next()
    assert texts(changed)["a.yaml"] == SERVER % ("a", "triggered")


async def test_removed_directory_ends_the_stream_with_source_error(config_dir: Path) -> None:
    source = DirectorySource(config_dir, debounce_ms=100)
    async with streaming(source) as stream:
        await stream.next()
        shutil.rmtree(config_dir)
        await eventually(stream.task.done)
        with pytest.raises(SourceError, match="was removed"):
            stream.task.result()
    assert source.last_error is not None
    assert source.last_error.reason == "SourceUnavailable"


async def test_missing_directory_is_a_source_error(tmp_path: Path) -> None:
    source = DirectorySource(tmp_path / "nowhere")
    with pytest.raises(SourceError, match="create it"):
        await anext(source.snapshots())


async def test_directory_removed_and_created_again_is_followed(config_dir: Path) -> None:
    async with streaming(DirectorySource(config_dir, debounce_ms=200)) as stream:
        await stream.next()
        shutil.rmtree(config_dir)
        write(config_dir, {"new.yaml": SERVER % ("new", "one")})
        replaced = await stream.next()
        assert list(texts(replaced)) == ["new.yaml"]
        (config_dir / "later.yaml").write_text(SERVER % ("later", "two"))
        later = await stream.next()
    assert list(texts(later)) == ["later.yaml", "new.yaml"]


def swap_configmap(root: Path, version: str, text: str) -> None:
    """Update root the way the kubelet updates a mounted ConfigMap: swap the `..data` link."""
    write(root / f"..{version}", {"servers.yaml": text})
    (root / "..data_tmp").symlink_to(f"..{version}")
    os.replace(root / "..data_tmp", root / "..data")
    if not (root / "servers.yaml").is_symlink():
        (root / "servers.yaml").symlink_to("..data/servers.yaml")


async def test_configmap_style_symlink_swap_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "mounted"
    swap_configmap(root, "v1", SERVER % ("a", "one"))
    async with streaming(DirectorySource(root)) as stream:
        first = await stream.next()
        swap_configmap(root, "v2", SERVER % ("a", "two"))
        changed = await stream.next()
    assert texts(first) == {"servers.yaml": SERVER % ("a", "one")}
    assert texts(changed) == {"servers.yaml": SERVER % ("a", "two")}


def test_config_files_are_yaml_outside_hidden_paths() -> None:
    assert is_config_file("a.yaml")
    assert is_config_file("deep/er/b.yml")
    assert not is_config_file("a.json")
    assert not is_config_file(".github/workflows/ci.yaml")
    assert not is_config_file("sub/.a.yaml")
    assert content_revision([("a", b"bc")]) != content_revision([("ab", b"c")])


# --- git --------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, timeout=30
    )
    return out.stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str = "change") -> str:
    """Write (or delete, for None) files and commit them; return the new commit's sha."""
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Platform Team")
    git(repo, "config", "user.email", "platform@example.com")
    commit(
        repo,
        {
            "deploy/servers.yaml": SERVER % ("time", "mcp-server-time"),
            "deploy/.drafts/draft.yaml": "draft",
            "deploy/README.md": "docs",
            "other/unrelated.yaml": SERVER % ("other", "x"),
            "README.md": "hello",
        },
        "first",
    )
    return repo


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "git"


def follow(origin: Path | str, workdir: Path, **options: object) -> GitSource:
    options.setdefault("branch", "main")
    options.setdefault("path", "deploy")
    return GitSource(str(origin), workdir=workdir, interval=0.2, **options)  # type: ignore[arg-type]


async def next_fetch(source: GitSource) -> None:
    """Wait until a fetch that started after this call has completed."""
    fetches = source.fetches
    source.trigger()
    await eventually(lambda: source.fetches >= fetches + 2)


async def test_git_snapshot_holds_yaml_under_path(origin: Path, workdir: Path) -> None:
    head = git(origin, "rev-parse", "HEAD")
    source = follow(origin, workdir)
    async with streaming(source) as stream:
        first = await stream.next()
    assert first.revision == f"main@sha1:{head}"
    assert texts(first) == {"deploy/servers.yaml": SERVER % ("time", "mcp-server-time")}
    assert first.root == real(workdir) / clone_name(str(origin))
    assert (first.root / "deploy/servers.yaml").is_file()
    assert first.source == f"git {origin} branch main path deploy"
    assert source.last_error is None


async def test_git_new_commit_yields_snapshot_but_commit_outside_path_does_not(
    origin: Path, workdir: Path
) -> None:
    source = follow(origin, workdir)
    async with streaming(source) as stream:
        first = await stream.next()
        outside = commit(origin, {"README.md": "changed", "other/unrelated.yaml": "x: 1"})
        await eventually(lambda: source.fetched_revision == f"main@sha1:{outside}")
        await next_fetch(source)
        stream.assert_nothing_new()
        inside = commit(origin, {"deploy/more.yaml": SERVER % ("more", "y")})
        source.trigger()
        second = await stream.next()
    assert first.revision != second.revision == f"main@sha1:{inside}"
    assert sorted(texts(second)) == ["deploy/more.yaml", "deploy/servers.yaml"]
    assert git(second.root, "rev-parse", "HEAD") == inside


async def test_git_follows_the_default_branch_when_none_is_given(
    origin: Path, workdir: Path
) -> None:
    git(origin, "branch", "-m", "main", "trunk")
    head = git(origin, "rev-parse", "HEAD")
    source = follow(origin, workdir, branch=None)
    async with streaming(source) as stream:
        first = await stream.next()
    assert first.revision == f"trunk@sha1:{head}"
    assert source.describe().endswith("branch trunk path deploy")


async def test_git_follows_a_tag_and_its_moves(origin: Path, workdir: Path) -> None:
    tagged = git(origin, "rev-parse", "HEAD")
    git(origin, "tag", "-a", "v1", "-m", "release 1")
    source = follow(origin, workdir, branch=None, tag="v1")
    async with streaming(source) as stream:
        first = await stream.next()
        assert first.revision == f"v1@sha1:{tagged}"
        moved = commit(origin, {"deploy/servers.yaml": SERVER % ("time", "v2")})
        await next_fetch(source)
        stream.assert_nothing_new()
        git(origin, "tag", "-f", "-a", "v1", "-m", "release 1 again")
        source.trigger()
        second = await stream.next()
    assert second.revision == f"v1@sha1:{moved}"


async def test_git_missing_branch_is_reported_and_retried(origin: Path, workdir: Path) -> None:
    source = follow(origin, workdir, branch="release")
    async with streaming(source) as stream:
        await eventually(lambda: source.last_error is not None)
        assert source.last_error is not None
        assert "'release' not found" in source.last_error.message
        assert source.last_error.reason == "SourceUnavailable"
        stream.assert_nothing_new()
        git(origin, "branch", "release")
        source.trigger()
        first = await stream.next()
    assert first.revision.startswith("release@sha1:")
    assert source.last_error is None


async def test_git_missing_path_is_reported(origin: Path, workdir: Path) -> None:
    source = follow(origin, workdir, path="nowhere")
    async with streaming(source) as stream:
        await eventually(lambda: source.last_error is not None)
        stream.assert_nothing_new()
    assert source.last_error is not None
    assert "path 'nowhere' not found" in source.last_error.message


async def test_git_force_push_is_followed(origin: Path, workdir: Path) -> None:
    commit(origin, {"deploy/servers.yaml": SERVER % ("time", "v2")})
    source = follow(origin, workdir)
    async with streaming(source) as stream:
        await stream.next()
        git(origin, "reset", "-q", "--hard", "HEAD~1")
        rewritten = commit(origin, {"deploy/servers.yaml": SERVER % ("time", "rewritten")})
        source.trigger()
        second = await stream.next()
    assert second.revision == f"main@sha1:{rewritten}"
    assert texts(second)["deploy/servers.yaml"] == SERVER % ("time", "rewritten")
    assert (second.root / "deploy/servers.yaml").read_text() == SERVER % ("time", "rewritten")


async def test_git_clone_is_reused_on_restart(origin: Path, workdir: Path) -> None:
    async with streaming(follow(origin, workdir)) as stream:
        first = await stream.next()
    dot_git = first.root / ".git"
    inode = dot_git.stat().st_ino
    (dot_git / "reuse-marker").write_text("from the first run")
    new = commit(origin, {"deploy/servers.yaml": SERVER % ("time", "after restart")})
    async with streaming(follow(origin, workdir)) as stream:
        second = await stream.next()
    assert second.revision == f"main@sha1:{new}"
    assert second.root == first.root
    assert dot_git.stat().st_ino == inode
    assert (dot_git / "reuse-marker").exists()


async def test_git_restart_with_remote_gone_starts_from_the_cached_commit(
    origin: Path, workdir: Path, tmp_path: Path
) -> None:
    async with streaming(follow(origin, workdir, branch=None)) as stream:
        first = await stream.next()
    shutil.move(origin, tmp_path / "moved-away")
    source = follow(origin, workdir, branch=None)
    async with streaming(source) as stream:
        cached = await stream.next()
    assert cached.revision == first.revision
    assert cached.files == first.files
    assert source.last_error is not None


async def test_git_credentials_never_appear_in_errors_or_logs(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"https://deploy-bot:s3cr3t-token@127.0.0.1:{port}/team/config.git"
    source = follow(url, workdir)
    async with streaming(source) as stream:
        await eventually(lambda: source.last_error is not None)
        stream.assert_nothing_new()
    assert source.last_error is not None
    shown = [source.last_error.message, source.describe(), *capsys.readouterr()]
    assert not any("s3cr3t" in text for text in shown)
    assert f"https://***@127.0.0.1:{port}/team/config.git" in source.last_error.message


def test_redact_url_hides_user_and_token() -> None:
    assert redact_url("https://user:tok@github.com/o/r.git") == "https://***@github.com/o/r.git"
    assert redact_url("fatal: https://tok@h/r and http://a:b@c/") == (
        "fatal: https://***@h/r and http://***@c/"
    )
    assert redact_url("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert clone_name("https://a:b@h/r") == clone_name("https://h/r")


def test_branch_and_tag_together_are_refused(workdir: Path) -> None:
    with pytest.raises(InvalidInput, match="not both"):
        GitSource("https://h/r", workdir=workdir, branch="main", tag="v1")
