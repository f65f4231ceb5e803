"""Reading the YAML files of a path as they were at a git ref, without checking anything out.

Used by `mcp-reconciler diff --against GITREF`: the other side of the diff is read from
the object database of the repository the path lives in, so the working tree is untouched.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import git

from ..core.errors import SourceError
from ..loading.files import is_config_file


def read_tree_files(path_in_repo: Path, ref: str) -> list[tuple[str, str]]:
    """Every .yaml/.yml file under `path_in_repo` at `ref`, as (display name, text).

    The display name is the file's path in the repository with the ref appended
    (`examples/full/servers.yaml@origin/main`), in path order. A path that did not exist
    at the ref gives no files (everything under it is then new). Raises SourceError when
    the path is in no git repository, the ref is unknown, or a file is not UTF-8.
    """
    repo, relative = _open(path_in_repo)
    with repo:
        commit = resolve_commit(repo, ref)
        try:
            obj = commit.tree / relative.as_posix() if relative.parts else commit.tree
        except KeyError:
            return []
        if isinstance(obj, git.Blob):
            blobs = [obj]
            under = PurePosixPath(obj.path).parent
        elif isinstance(obj, git.Tree):
            blobs = [item for item in obj.traverse() if isinstance(item, git.Blob)]
            under = relative
        else:
            blobs = []
            under = relative
        files: list[tuple[str, str]] = []
        for path, blob in sorted((os.fspath(blob.path), blob) for blob in blobs):
            if not is_config_file(PurePosixPath(path).relative_to(under).as_posix()):
                continue
            name = f"{path}@{ref}"
            try:
                text = blob.data_stream.read().decode("utf-8")
            except UnicodeDecodeError:
                raise SourceError(f"{name}: not UTF-8 text; save the file as UTF-8") from None
            files.append((name, text))
        return files


def revision_of(path_in_repo: Path, ref: str) -> str:
    """`<ref>@sha1:<sha>`: the revision string of a ref, as DesiredState.revision spells it."""
    repo, _ = _open(path_in_repo)
    with repo:
        return f"{ref}@sha1:{resolve_commit(repo, ref).hexsha}"


def resolve_commit(repo: git.Repo, ref: str) -> git.Commit:
    """The commit a ref names, or SourceError saying how to find valid refs."""
    try:
        return repo.commit(ref)
    except (git.BadName, git.BadObject, ValueError, git.GitCommandError):
        raise SourceError(
            f"unknown git ref {ref!r} in {repo.working_tree_dir}: "
            "check `git branch -a` / `git log`, or `git fetch` the branch first"
        ) from None


def _open(path_in_repo: Path) -> tuple[git.Repo, PurePosixPath]:
    path = Path(path_in_repo).resolve()
    start = path if path.is_dir() else path.parent
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(
            f"{path_in_repo} is not inside a git repository: pass --against a directory, "
            "or run the command inside the repository"
        ) from None
    if repo.working_tree_dir is None:
        repo.close()
        raise SourceError(f"{path_in_repo}: the repository has no working tree (bare)")
    root = Path(repo.working_tree_dir).resolve()
    try:
        relative = PurePosixPath(path.relative_to(root).as_posix())
    except ValueError:
        repo.close()
        raise SourceError(f"{path_in_repo} is outside the repository at {root}") from None
    return repo, relative
