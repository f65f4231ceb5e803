"""A git branch or tag, followed by polling (`mcp-reconciler run --git URL`).

The repository is fetched into `<workdir>/<hash of the URL>` (the controller passes
`<state-dir>/git`), reused across restarts: a restart fetches, it does not clone again. Only
the followed ref is fetched, with `--force`, and checked out detached with `--force`: nothing
is ever merged, and a rewritten history (force-push) is followed as is.

When a snapshot is emitted: a fetch that moves the ref to a new commit yields a snapshot,
unless the YAML files under `path` are byte-identical to the last emitted snapshot (a commit
touching only other parts of the repository changes nothing the controller applies). The
revision shown then stays at the commit whose content was emitted; `fetched_revision` tells
where the ref is.

Files are read from the commit itself (untracked files in the checkout are never read);
display names are paths from the top of the repository, and the snapshot's `root` is the
checkout, so `root / name` is the file on disk and relative `workingDir`s resolve in it.
Symbolic links inside the repository are not followed.

Failures (network, authentication, a missing branch, tag or path) never end the stream: they
are kept in `last_error` (SourceUnavailable) and retried at the next interval. When the very
first fetch fails and an earlier run left the ref in the clone, that cached commit is emitted
so the controller can start from the last fetched state. Credentials in URLs never reach logs
or errors (`https://user:token@host` is shown as `https://***@host`).

Network commands (`fetch`, `ls-remote`) run as asyncio subprocesses in their own process
group, so a timeout or a cancelled controller kills them at once; local GitPython work runs
in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import git
import structlog

from ..core.errors import InvalidInput, SourceError
from ..loading.files import content_revision, is_config_file
from . import SourceSnapshot, decode

log = structlog.get_logger(__name__)

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/]+:")
_SYMLINK_MODE = 0o120000
_FAILURES = (SourceError, git.GitError, OSError, ValueError)
"""What a poll turns into `last_error` instead of ending the stream."""
_NETWORK_ENV = {
    "GIT_TERMINAL_PROMPT": "0",  # fail instead of asking for a password
    "GCM_INTERACTIVE": "never",
    "LC_ALL": "C",  # English messages, parsed below
}


def redact_url(text: str) -> str:
    """Text with the credentials of every URL in it replaced: `https://***@host/...`."""
    return _CREDENTIALS.sub("***@", text)


def is_remote(url: str) -> bool:
    """Whether url names a remote (`scheme://...`, `user@host:path`) rather than a local path."""
    return _REMOTE.match(url) is not None


def clone_name(url: str) -> str:
    """Directory name of the clone of url: a hash of the URL without its credentials."""
    return hashlib.sha256(_CREDENTIALS.sub("", url).encode()).hexdigest()[:16]


class GitSource:
    """Follows a branch (default: the remote's default branch) or a tag of a git repository."""

    def __init__(
        self,
        url: str,
        *,
        workdir: Path,
        branch: str | None = None,
        tag: str | None = None,
        path: str = "",
        interval: float = 60.0,
        timeout: float = 120.0,
    ) -> None:
        if branch and tag:
            raise InvalidInput("give either a branch or a tag to follow, not both")
        parts = PurePosixPath(path.strip("/") or ".").parts
        if ".." in parts:
            raise InvalidInput(f"--path {path!r} must stay inside the repository")
        self.url = url if is_remote(url) else str(Path(url).resolve())
        self.clone_dir = Path(workdir).resolve() / clone_name(self.url)
        self.branch, self.tag = branch, tag
        self.path = "/".join(p for p in parts if p != ".")
        self.interval = interval
        self.timeout = timeout
        self.last_error: SourceError | None = None
        self.fetches = 0
        """Successful fetches so far (for metrics)."""
        self.fetched_revision: str | None = None
        """`<ref>@sha1:<sha>` where the followed ref was at the last successful fetch."""
        self._trigger = asyncio.Event()
        self._repo: git.Repo | None = None
        self._sha: str | None = None
        self._emitted: str | None = None

    def describe(self) -> str:
        ref = f"tag {self.tag}" if self.tag else f"branch {self.branch or '(default)'}"
        where = f" path {self.path}" if self.path else ""
        return f"git {redact_url(self.url)} {ref}{where}"

    def trigger(self) -> None:
        """Fetch now instead of at the end of the interval."""
        self._trigger.set()

    async def snapshots(self) -> AsyncIterator[SourceSnapshot]:
        try:
            while True:
                self._trigger.clear()
                snapshot = await self._poll()
                if snapshot is not None:
                    yield snapshot
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._trigger.wait(), timeout=self.interval)
        finally:
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    async def _poll(self) -> SourceSnapshot | None:
        """Fetch, and return a snapshot when the followed ref brings new content."""
        fetch_error: SourceError | None = None
        try:
            sha: str | None = await self._fetch()
        except _FAILURES as exc:
            fetch_error = self._as_source_error(exc)
            sha = await self._cached() if self._emitted is None else None
            if sha is not None:
                log.info("starting from the commit an earlier run fetched", source=self.describe())
        try:
            snapshot = await self._snapshot(sha) if sha is not None else None
        except _FAILURES as exc:
            self._record(self._as_source_error(exc))
            return None
        self._record(fetch_error)
        return snapshot

    def _as_source_error(self, exc: Exception) -> SourceError:
        if isinstance(exc, SourceError):
            return exc
        detail = redact_url(str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc))
        return SourceError(
            f"git clone of {redact_url(self.url)} in {self.clone_dir} unusable: {detail}; "
            "check the state directory (removing the clone makes the next fetch start afresh)"
        )

    async def _fetch(self) -> str:
        repo = await self._open()
        name = await self._ref_name()
        if self.tag:
            refspec, local = f"+refs/tags/{name}:refs/tags/{name}", f"refs/tags/{name}"
        else:
            refspec, local = f"+refs/heads/{name}:refs/remotes/origin/{name}", self._tracking(name)
        await self._network("fetch", "--force", "--no-tags", "origin", refspec, what=name)
        sha = await asyncio.to_thread(_resolve, repo, local)
        if sha is None:
            raise SourceError(f"fetched {name} from {redact_url(self.url)} but it names no commit")
        self.fetches += 1
        self.fetched_revision = f"{name}@sha1:{sha}"
        return sha

    async def _cached(self) -> str | None:
        """The commit an earlier run fetched for the followed ref, if the clone has it."""
        if self._repo is None:
            return None
        name = self.tag or self.branch
        if name is None:
            local = "refs/remotes/origin/HEAD"
        else:
            local = f"refs/tags/{name}" if self.tag else self._tracking(name)
        return await asyncio.to_thread(_resolve, self._repo, local)

    async def _snapshot(self, sha: str) -> SourceSnapshot | None:
        if sha == self._sha:
            return None
        assert self._repo is not None
        ref = self.tag or self.branch or await asyncio.to_thread(self._default_from_clone)
        revision = f"{ref}@sha1:{sha}"
        files = await asyncio.to_thread(_checkout_and_read, self._repo, sha, self.path, revision)
        self._sha = sha
        digest = content_revision(files)
        if digest == self._emitted:
            log.info("new commit changes nothing under the path", revision=revision)
            return None
        self._emitted = digest
        log.info("git source at a new revision", source=self.describe(), revision=revision)
        return SourceSnapshot(
            revision=revision,
            files=tuple((name, decode(data)) for name, data in files),
            root=self.clone_dir,
            source=self.describe(),
        )

    def _record(self, error: SourceError | None) -> None:
        if error is not None and (
            self.last_error is None or self.last_error.message != error.message
        ):
            log.warning("git source unavailable", source=self.describe(), error=error.message)
        elif error is None and self.last_error is not None:
            log.info("git source available again", source=self.describe())
        self.last_error = error

    async def _open(self) -> git.Repo:
        if self._repo is None:
            self._repo = await asyncio.to_thread(_open_clone, self.clone_dir, self.url)
        return self._repo

    async def _ref_name(self) -> str:
        """The branch or tag to fetch; the remote's default branch is asked once per run."""
        if self.tag or self.branch:
            return self.tag or self.branch or ""
        out = await self._network("ls-remote", "--symref", "origin", "HEAD", what="HEAD")
        for line in out.splitlines():
            target, _, ref = line.partition("\t")
            if ref == "HEAD" and target.startswith("ref: refs/heads/"):
                self.branch = target.removeprefix("ref: refs/heads/")
                await self._local(
                    "symbolic-ref", "refs/remotes/origin/HEAD", self._tracking(self.branch)
                )
                return self.branch
        raise SourceError(
            f"cannot tell the default branch of {redact_url(self.url)}: pass --branch"
        )

    def _default_from_clone(self) -> str:
        assert self._repo is not None
        try:
            ref = self._repo.git.symbolic_ref("refs/remotes/origin/HEAD")
        except git.GitCommandError:
            return "HEAD"
        return str(ref).removeprefix("refs/remotes/origin/")

    @staticmethod
    def _tracking(branch: str) -> str:
        return f"refs/remotes/origin/{branch}"

    async def _local(self, *args: str) -> None:
        assert self._repo is not None
        await asyncio.to_thread(self._repo.git.execute, ["git", *args])

    async def _network(self, command: str, *args: str, what: str) -> str:
        """Run a git command that talks to the remote; kill its process group on timeout."""
        proc = await asyncio.create_subprocess_exec(
            "git",
            command,
            *args,
            cwd=self.clone_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_network_env(),
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=self.timeout)
        except TimeoutError:
            await _kill(proc)
            raise SourceError(
                f"git {command} from {redact_url(self.url)} took more than {self.timeout:g}s; "
                "retrying at the next interval"
            ) from None
        except BaseException:
            await _kill(proc)
            raise
        if proc.returncode != 0:
            raise SourceError(self._explain(command, what, err.decode(errors="replace")))
        return out.decode(errors="replace")

    def _explain(self, command: str, what: str, stderr: str) -> str:
        url = redact_url(self.url)
        lines = [ln.strip() for ln in redact_url(stderr).splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        detail = (fatal or lines or [f"git {command} exited with an error"])[0]
        if "couldn't find remote ref" in stderr:
            kind = "tag" if self.tag else "branch"
            return f"{kind} {what!r} not found in {url}: check --{kind} ({detail})"
        return f"git {command} from {url} failed: {detail}; retrying every {self.interval:g}s"


def _network_env() -> dict[str, str]:
    env = {**os.environ, **_NETWORK_ENV}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")  # no passphrase prompts either
    return env


def _open_clone(clone_dir: Path, url: str) -> git.Repo:
    """The clone in clone_dir (created empty when missing or unusable), pointed at url."""
    repo: git.Repo | None = None
    if (clone_dir / ".git").is_dir():
        try:
            repo = git.Repo(clone_dir)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            log.warning("clone unusable; starting a new one", clone=str(clone_dir))
    if repo is None:
        if clone_dir.exists():
            shutil.rmtree(clone_dir)
        clone_dir.mkdir(parents=True)
        repo = git.Repo.init(clone_dir)
    with repo.config_writer() as config:  # not `git remote set-url`: keeps the URL off argv
        config.set_value('remote "origin"', "url", url)
    return repo


def _resolve(repo: git.Repo, ref: str) -> str | None:
    try:
        return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}"))
    except git.GitCommandError:
        return None


def _checkout_and_read(
    repo: git.Repo, sha: str, path: str, revision: str
) -> list[tuple[str, bytes]]:
    """Check sha out detached (discarding local changes) and read its YAML under path."""
    tree = repo.commit(sha).tree
    if path:
        try:
            tree = tree / path
        except KeyError:
            raise SourceError(f"path {path!r} not found in {revision}: check --path") from None
        if tree.type != "tree":
            raise SourceError(f"path {path!r} in {revision} is not a directory: check --path")
    files: list[tuple[str, bytes]] = []
    for item in tree.traverse(prune=lambda i, _d: getattr(i, "name", "").startswith(".")):
        if not isinstance(item, git.Blob) or item.mode == _SYMLINK_MODE:
            continue
        name = str(item.path)
        if is_config_file(name[len(path) + 1 :] if path else name):
            files.append((name, item.data_stream.read()))
    repo.git.checkout("--force", "--detach", sha)
    files.sort()
    return files


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill a network git command and everything it started (remote helpers, ssh)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
