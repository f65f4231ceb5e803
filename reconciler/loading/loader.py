"""Loading YAML files and directories into a DesiredState, keeping file and line of each field.

A load is all or nothing: `LoadResult.state` is None as soon as one error is found, and
`LoadResult.problems` lists every error of the run (not just the first), each with the
file, line, resource and field it is about. The steps, per document: YAML (`yamlnodes`),
envelope (`apiVersion`, `kind`), schema (the pydantic models, errors worded by
`schemaerrors`), unique names; then, over the whole state, cross-references
(`validation.check_references`). The line of each field is found only when asked for
(`Origin.line_of`), which a load does only for the files it has a problem to report in.

Files come from disk (`load_paths`) or from anywhere else as `(name, text)` pairs
(`load_documents`), e.g. blobs of a git tree at some revision.
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.desired import DesiredState, Origin
from ..core.errors import Problem
from ..core.models import API_VERSION, DEFAULT_NAMESPACE, KINDS, Resource, ResourceKey
from .files import content_revision, is_config_file
from .pieces import Piece, cut_documents
from .schemaerrors import field_errors
from .validation import check_references
from .yamlnodes import Document, FieldLines, YamlSyntaxError, read_documents
from .yamlsubset import read_piece


@dataclass
class LoadResult:
    """What a load produced: the state (only when there is no error) and every problem."""

    state: DesiredState | None
    problems: list[Problem] = field(default_factory=list)
    documents: int = 0
    """Resource documents read, valid or not."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.state is not None and not self.errors


class DocumentMemo:
    """The resources of documents read without a problem, by the exact text of the document.

    Given to several loads (`diff` loads both sides with one), it spares a load reading
    and validating again a document another load read: the resource is the same object
    in both states, so it must not be changed. Only what is found in the document alone
    is reused; names, duplicates and references are checked by every load.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Resource, int]] = {}

    def get(self, text: str) -> tuple[Resource, int] | None:
        """The resource of a document with this text, and the line of its content in it."""
        return self._known.get(text)

    def remember(self, text: str, resource: Resource, line: int) -> None:
        self._known[text] = (resource, line)


def load_documents(
    files: Iterable[tuple[str, str]],
    *,
    revision: str | None = None,
    memo: DocumentMemo | None = None,
) -> LoadResult:
    """Load `(display name, YAML text)` pairs and validate schema and cross-references.

    No document at all is a valid, empty state here: the caller decides what an emptied
    source means (the controller refuses to prune everything unless told to).
    """
    files = list(files)
    load = _Load(memo=memo)
    with _cycle_collection_paused():
        for name, text in files:
            load.add_file(name, text)
        return load.result(revision if revision is not None else content_revision(files))


def load_paths(
    paths: Sequence[str | Path],
    *,
    revision: str | None = None,
    memo: DocumentMemo | None = None,
) -> LoadResult:
    """Load every YAML file under the paths and validate schema and cross-references.

    Directories are read recursively in sorted order; only `.yaml`/`.yml` files count,
    and hidden files and directories (`.git`, Kubernetes' `..data`) are skipped. A file
    named explicitly is read whatever its suffix. A path that yields no resource is an
    error, so that an emptied source is never taken for "delete everything".
    """
    with _cycle_collection_paused():
        return _load_paths(paths, revision=revision, memo=memo)


def _load_paths(
    paths: Sequence[str | Path], *, revision: str | None, memo: DocumentMemo | None
) -> LoadResult:
    load = _Load(memo=memo)
    if not paths:
        load.report(Problem("no paths given: name the YAML files or directories to load"))
    seen: dict[str, int] = {}
    """Real path -> documents it held, so a file reached twice is read once."""
    texts: list[tuple[str, str]] = []
    for root in map(Path, paths):
        found = _files_under(root, load)
        if found is None:
            continue
        documents, problems_before = 0, len(load.problems)
        for path, relative in found:
            real = os.path.realpath(path)
            if real not in seen:
                text = _read_text(path, load)
                seen[real] = 0 if text is None else load.add_file(str(path), text)
                if text is not None:
                    texts.append((relative if len(paths) == 1 else str(path), text))
            documents += seen[real]
        if documents == 0 and len(load.problems) == problems_before:
            where = "under" if root.is_dir() else "in"
            load.report(
                Problem(
                    f"no resources found {where} {root}: expected .yaml or .yml files with "
                    f"apiVersion: {API_VERSION}",
                    file=str(root),
                )
            )
    return load.result(revision if revision is not None else content_revision(texts))


@contextlib.contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Pause the cycle collector during a load.

    A load allocates hundreds of thousands of small acyclic objects (nodes, dicts,
    models) that stay alive until it ends; the collector would rescan them again and
    again, which costs a third of the time of a 10,000-resource load. Reference counting
    still frees everything as usual. After a large load, what it left alive (mostly the
    state, which lives until the next load) goes straight to the oldest generation
    (`freeze` then `unfreeze`): full collections look at it as they would anyway, and
    the young collection that would scan it all at once, a tenth of such a load, is
    spared.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > _PROMOTE_ABOVE:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


_PROMOTE_ABOVE = 100_000
"""New objects tracked by the collector (about 50 a resource) above which a load's are
promoted: below it, the young collection is short, and promoting is left to it."""


def _files_under(root: Path, load: _Load) -> list[tuple[Path, str]] | None:
    """`(path, path relative to root)` of the files to read under root, sorted; None on error."""
    try:
        mode = root.stat().st_mode
    except OSError as exc:
        message = "no such file or directory" if not root.is_symlink() else "broken symlink"
        if not isinstance(exc, FileNotFoundError):
            message = f"cannot read: {exc.strerror or type(exc).__name__}"
        load.report(Problem(message, file=str(root)))
        return None
    if stat.S_ISREG(mode):
        return [(root, root.name)]
    if not stat.S_ISDIR(mode):
        load.report(Problem("not a regular file or directory", file=str(root)))
        return None
    found: list[tuple[Path, str]] = []

    def unreadable(exc: OSError) -> None:
        where = exc.filename or str(root)
        load.report(Problem(f"cannot read directory: {exc.strerror}", file=str(where)))

    for directory, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not is_config_file(name):
                continue
            path = Path(directory, name)
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    continue
            except OSError:
                pass  # a broken symlink: reading it reports the problem
            found.append((path, path.relative_to(root).as_posix()))
    found.sort(key=lambda item: Path(item[1]).parts)
    return found


def _read_text(path: Path, load: _Load) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = "broken symlink" if path.is_symlink() and not path.exists() else exc.strerror
        load.report(Problem(f"cannot read: {reason}", file=str(path)))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        load.report(Problem("not UTF-8 text; save the file as UTF-8", file=str(path), line=line))
        return None


@dataclass(frozen=True, slots=True)
class _Declared:
    resource: Resource
    origin: Origin


@dataclass
class _Load:
    """Problems, resources and documents gathered over the files of one load."""

    problems: list[Problem] = field(default_factory=list)
    declared: dict[ResourceKey, _Declared] = field(default_factory=dict)
    invalid: set[ResourceKey] = field(default_factory=set)
    """Keys of documents that failed validation: references to them are not errors too."""
    documents: int = 0
    file_order: dict[str, int] = field(default_factory=dict)
    memo: DocumentMemo | None = None

    def report(self, problem: Problem) -> None:
        """Record a problem found outside any document (a path, a file that cannot be read)."""
        if problem.file is not None:
            self.file_order.setdefault(problem.file, len(self.file_order))
        self.problems.append(problem)

    def add_file(self, name: str, text: str) -> int:
        """Read every document of one file; return how many there were."""
        self.file_order.setdefault(name, len(self.file_order))
        lines = FieldLines(text)
        pieces = cut_documents(text)
        read = self._read_pieces(pieces) if pieces is not None else None
        if read is not None:
            for piece, document, known in read:
                lines.starts[piece.position] = document.line
                if known is None:
                    self._add_document(name, document, lines, piece=piece)
                else:
                    origin = Origin(name, document.line, source=lines, document=piece.position)
                    self._declare(known, origin)
            self.documents += len(read)
            return len(read)
        count = 0
        try:
            for document in read_documents(text):
                count += 1
                lines.starts[document.index] = document.line
                self._add_document(name, document, lines)
        except YamlSyntaxError as exc:
            self.problems.append(Problem(exc.message, file=name, line=exc.line))
            count += 1  # the broken document is a document: the file is not "empty"
        self.documents += count
        return count

    def _read_pieces(
        self, pieces: list[Piece]
    ) -> list[tuple[Piece, Document, Resource | None]] | None:
        """Each non-empty document, with its resource when the memo knows its text; None
        when the quick reader declines one (the file is then read whole, by libyaml)."""
        read: list[tuple[Piece, Document, Resource | None]] = []
        for piece in pieces:
            known = self.memo.get(piece.text) if self.memo is not None else None
            if known is not None:
                resource, line = known
                document = Document(None, piece.line + line + 1, None, piece.position)
                read.append((piece, document, resource))
                continue
            try:
                quick = read_piece(piece.text)
            except Exception:  # the quick reader's own fault: libyaml decides
                return None
            if quick is None:
                return None
            data, line = quick
            if data is not None:
                document = Document(data, piece.line + line + 1, None, piece.position)
                read.append((piece, document, None))
        return read

    def _add_document(
        self, file: str, document: Document, lines: FieldLines, *, piece: Piece | None = None
    ) -> None:
        data = document.data
        problems: list[Problem] = []
        if document.problems:  # the resource is named only when there is a problem to report
            label = _label(data) if isinstance(data, dict) else None
            problems = [
                Problem(p.message, file=file, line=p.line, resource=label, field=p.path or None)
                for p in document.problems
            ]
        if not isinstance(data, dict):
            if data is not None:
                message = "document is not a mapping: expected apiVersion, kind, metadata and spec"
                problems.append(Problem(message, file=file, line=document.line))
            self.problems.extend(problems)
            return
        origin = Origin(
            file, document.line, document.field_lines, source=lines, document=document.index
        )
        resource = _validate(data, origin, problems, skip=[p.path for p in document.problems])
        self.problems.extend(problems)
        if resource is None or problems:
            key = _key(data)
            if key is not None and key not in self.declared:
                self.invalid.add(key)
            return
        if piece is not None and self.memo is not None:
            self.memo.remember(piece.text, resource, document.line - 1 - piece.line)
        self._declare(resource, origin)

    def _declare(self, resource: Resource, origin: Origin) -> None:
        key = resource.key
        first = self.declared.get(key)
        if first is not None:
            name_line = origin.line_of("metadata.name")
            where = f"{first.origin.file}:{first.origin.line_of('metadata.name')}"
            self.problems.append(
                Problem(
                    f"duplicate of {where}: names are unique per kind and namespace",
                    file=origin.file,
                    line=name_line,
                    resource=str(key),
                    field="metadata.name",
                )
            )
            return
        self.declared[key] = _Declared(resource, origin)

    def result(self, revision: str) -> LoadResult:
        state = DesiredState(revision=revision)
        for key, declared in self.declared.items():
            state.resources[key] = declared.resource
            state.origins[key] = declared.origin
        problems = self.problems + check_references(state, invalid=self.invalid)
        order = self.file_order
        problems.sort(key=lambda p: (order.get(p.file or "", len(order)), p.line or 0))
        failed = any(p.severity == "error" for p in problems)
        return LoadResult(None if failed else state, problems, self.documents)


def _validate(
    data: dict[Any, Any],
    origin: Origin,
    problems: list[Problem],
    *,
    skip: list[str],
) -> Resource | None:
    """Check envelope and schema of one document; append each problem; the resource if valid."""

    def report(message: str, path: str, line_path: str | None = None) -> None:
        if any(path == s or path.startswith(f"{s}.") for s in skip if s):
            return
        line = origin.line_of(line_path if line_path is not None else path)
        problems.append(Problem(message, origin.file, line, _label(data), path or None))

    api_version = data.get("apiVersion")
    if api_version is None:
        report(f"missing apiVersion; add apiVersion: {API_VERSION}", "apiVersion")
    elif api_version != API_VERSION:
        report(f"unknown apiVersion {_shown(api_version)}; expected {API_VERSION}", "apiVersion")
    kind = data.get("kind")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        report(_kind_message(kind), "kind")
        return None
    try:
        resource = cls.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        for error in field_errors(cls, exc, present=origin.field_lines):
            if error.field != "apiVersion":
                report(error.message, error.field, error.line_field)
        return None
    return resource


def _kind_message(kind: object) -> str:
    import difflib  # only for a wrong kind

    kinds = list(KINDS)
    if kind is None:
        return f"missing kind; add one of {', '.join(kinds)}"
    if not isinstance(kind, str):
        return f"kind must be a string, one of {', '.join(kinds)}"
    by_lower = {k.lower(): k for k in kinds}
    close = [by_lower[kind.lower()]] if kind.lower() in by_lower else []
    close = close or difflib.get_close_matches(kind, kinds, n=1, cutoff=0.5)
    if close:
        return f"unknown kind {_shown(kind)}; did you mean {close[0]}?"
    return f"unknown kind {_shown(kind)}; expected one of {', '.join(kinds)}"


def _shown(value: object) -> str:
    """A short quoted rendering of an envelope value (apiVersion or kind, never a secret)."""
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _names(data: dict[Any, Any]) -> tuple[str | None, str | None, str]:
    kind = data.get("kind")
    metadata = data.get("metadata")
    name = namespace = None
    if isinstance(metadata, dict):
        name, namespace = metadata.get("name"), metadata.get("namespace")
    return (
        kind if isinstance(kind, str) else None,
        name if isinstance(name, str) else None,
        namespace if isinstance(namespace, str) and namespace else DEFAULT_NAMESPACE,
    )


def _label(data: dict[Any, Any]) -> str | None:
    """`Kind/name` (`Kind/namespace/name` outside the default namespace), as far as known."""
    kind, name, namespace = _names(data)
    if name is None:
        return kind
    return str(ResourceKey(kind or "?", namespace, name))


def _key(data: dict[Any, Any]) -> ResourceKey | None:
    kind, name, namespace = _names(data)
    return ResourceKey(kind, namespace, name) if kind in KINDS and name else None
