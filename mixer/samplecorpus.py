"""Gather the embedded sample corpus from real text and code that every Linux machine with Python has offline.

``mixer sample-corpus`` calls :func:`gather_sample_corpus` to fill a folder (normally ``data/sample/``) with
seven parts, each in a different input format so that every reader can be exercised on real material:

- ``web/``      prose standing in for web text: package descriptions and ``/usr/share/doc``, gzip JSONL;
- ``code/``     the running interpreter's standard-library source, zstandard JSONL;
- ``pydoc/``    the standard library's docstrings, one rendered document per module, Parquet;
- ``notes/``    licences, READMEs and change logs, one plain-text file each;
- ``git/``      bare snapshots of git repositories: this project's own (the repository holding the
  ``mixer`` package, else the one holding the working directory), and those found directly under
  ``/usr/local/src``, ``/usr/src``, ``/opt`` and ``/srv`` (at most four, each at most 20 MB of objects,
  their last 200 commits; the project's keeps its whole history);
- ``prs/``      pull-request-shaped JSONL derived from those snapshots' histories by
  :func:`mixer.prs_from_git.prs_from_git` (they are not real pull requests, and every record says so in
  its ``metadata.synthetic``);
- ``verified/`` Python problems for ``type: verified_python``: the standard library's doctests and a generated
  set in which some solutions are wrong on purpose (:mod:`mixer.sampleproblems`).

The output is a function of the machine alone: traversal is sorted, compressed files carry no timestamps,
ids are content hashes, git snapshots are packed by one thread from a ``file://`` clone (so they hold
the reachable history only, in the same bytes every time), and every file is written under a temporary
name and renamed into place. A machine without git, or a project that is not a git checkout, gets empty
``git/`` and ``prs/`` parts and a note saying why.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.metadata
import io
import logging
import os
import re
import shutil
import stat
import subprocess
import sysconfig
import textwrap
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path, PurePosixPath

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from mixer.gitcli import GitError, git_env, has_commits, repository_problem, run_git
from mixer.prs_from_git import prs_from_git
from mixer.sampleproblems import GENERATED_DEFECTS, doctest_problems, generated_problems

logger = logging.getLogger(__name__)

_SHARD_TEXT_BYTES = 8_000_000  # a shard is closed once it holds this much UTF-8 text
_NOTES_BUDGET_BYTES = 4_000_000  # notes/ is a small folder of loose files, not a bulk source
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 10
_PARQUET_ROW_GROUP_ROWS = 1024

_DOC_ROOTS = (Path("/usr/share/doc"),)
_LICENSES_ROOT = Path("/usr/share/common-licenses")
# Other git repositories: the folders directly under these that are repositories, cloned cheaply.
_GIT_ROOTS = (Path("/usr/local/src"), Path("/usr/src"), Path("/opt"), Path("/srv"))
_MAX_OTHER_REPOSITORIES = 4
_MAX_OTHER_REPOSITORY_BYTES = 20_000_000  # of git objects, as `git count-objects -v` reports them
_OTHER_REPOSITORY_DEPTH = 200  # commits of history cloned from each

_NOT_STDLIB_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__"})
_TEST_DIRS = frozenset({"test", "tests", "idle_test"})
_TEXT_SUFFIXES = frozenset({".txt", ".md", ".rst", ".markdown"})
_NOTE_SUFFIXES = frozenset({".txt", ".md", ".rst"})
# Names that are prose whatever their extension: README.Debian, changelog.gz, LICENSE.APACHE, copyright ...
_PROSE_PREFIXES = (
    "README", "CHANGELOG", "CHANGES", "NEWS", "HISTORY", "AUTHORS", "THANKS", "TODO", "COPYRIGHT",
    "COPYING", "LICENSE", "LICENCE", "NOTICE", "CREDITS", "CONTRIBUTORS", "BUGS", "FAQ",
)  # fmt: skip
_NOT_PROSE_SUFFIXES = frozenset({
    ".py", ".pyi", ".pyc", ".so", ".c", ".h", ".js", ".css", ".html", ".htm", ".json", ".xml", ".png",
    ".jpg", ".gif", ".svg", ".pdf", ".zip", ".bz2", ".xz", ".pem", ".sh", ".pl", ".dat",
})  # fmt: skip

_PYDOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("module", pa.string())])


class SampleCorpusError(RuntimeError):
    """The sample corpus gathered on this machine is smaller than asked for."""


@dataclass(frozen=True)
class SamplePart:
    """One folder of the sample corpus as written: its files and exactly what they hold."""

    name: str
    format: str  # "jsonl.gz" | "jsonl.zst" | "jsonl" | "parquet" | "text" | "git"
    files: list[Path]  # for "git": the bare repositories (folders)
    documents: int  # for "git": commits reachable from the snapshots' HEADs
    text_bytes: int  # UTF-8 bytes of the documents' text before compression; "jsonl": of the JSON; "git": 0
    unit: str = "documents"  # what `documents` counts: documents, commits, pull requests, problems


@dataclass(frozen=True)
class SampleCorpusSummary:
    """What :func:`gather_sample_corpus` wrote: the folder, its parts keyed by name, and their total text."""

    out_dir: Path
    parts: dict[str, SamplePart]
    total_bytes: int  # bytes of text gathered (uncompressed UTF-8)
    notes: tuple[str, ...] = ()  # what could not be gathered on this machine, and why


def gather_sample_corpus(
    out_dir: Path, *, min_bytes: int = 30_000_000, max_doc_bytes: int = 200_000
) -> SampleCorpusSummary:
    """Write the sample corpus (the seven parts of the module docstring and a README) into ``out_dir``.

    Everything comes from this machine: installed distributions' descriptions and licence files,
    ``/usr/share/doc``, ``/usr/share/common-licenses``, the running interpreter's standard library and
    git repositories. Files that cannot be read, are not strict UTF-8, are binary, or are larger than
    ``max_doc_bytes`` are skipped and counted (the README lists the counts), as are empty documents and
    exact duplicates within a part. Rerunning replaces the files of earlier runs and, on the same machine
    (and the same commits), reproduces them byte for byte.

    Raises:
        SampleCorpusError: after writing, when the corpus holds fewer than ``min_bytes`` bytes of text.
    """
    out_dir = Path(out_dir)
    stdlib = _stdlib_root()
    dists = _distributions()
    notes = _note_sources(dists, stdlib, _LICENSES_ROOT)
    repositories, repository_notes = _repositories()
    gathered = {
        "web": _gather_web(out_dir / "web", dists, _DOC_ROOTS, max_doc_bytes),
        "code": _gather_code(out_dir / "code", stdlib, max_doc_bytes),
        "pydoc": _gather_pydoc(out_dir / "pydoc", stdlib, max_doc_bytes),
        "notes": _gather_notes(out_dir / "notes", notes, max_doc_bytes),
        "git": _gather_git(out_dir / "git", repositories),
    }
    gathered["prs"] = _gather_prs(out_dir / "prs", gathered["git"].part.files)
    gathered["verified"] = _gather_verified(out_dir / "verified", stdlib)
    for result in gathered.values():
        part = result.part
        logger.info(
            "sample corpus %s/: %d %s, %d text bytes in %d files; skipped %s",
            part.name, part.documents, part.unit, part.text_bytes, len(part.files),
            dict(sorted(result.skipped.items())),
        )  # fmt: skip
    for note in repository_notes:
        logger.warning("sample corpus git/: %s", note)
    summary = SampleCorpusSummary(
        out_dir=out_dir,
        parts={name: result.part for name, result in gathered.items()},
        total_bytes=sum(result.part.text_bytes for result in gathered.values()),
        notes=tuple(repository_notes),
    )
    _write_atomic(out_dir / "README.md", _readme(summary, gathered, stdlib).encode("utf-8"))
    if summary.total_bytes < min_bytes:
        found = ", ".join(
            f"{p.name}/ {p.text_bytes:,} bytes in {p.documents:,} documents" for p in summary.parts.values()
        )
        raise SampleCorpusError(
            f"the sample corpus in {out_dir} holds {summary.total_bytes:,} bytes of text, fewer than "
            f"min_bytes={min_bytes:,} ({found}); this machine may lack /usr/share/doc or the standard "
            "library's test suite (slim images strip both): install them or pass a smaller min_bytes"
        )
    return summary


# --- gathering one part -------------------------------------------------------------------------------


class _Skip(Exception):
    """A candidate document that is not written; ``reason`` is counted in its part's tally."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Candidate:
    """A document that may join a part: ``load`` returns its text or raises :class:`_Skip`."""

    load: Callable[[], str]
    fields: dict[str, str]  # the record's fields after "id" and "text"


@dataclass(frozen=True)
class _Gathered:
    part: SamplePart
    skipped: Counter[str]


@dataclass
class _Tally:
    """Decides which texts join a part (non-empty, small enough, not seen before) and counts the rest."""

    part: str
    max_doc_bytes: int
    skipped: Counter[str] = field(default_factory=Counter)
    seen: set[bytes] = field(default_factory=set)

    def admit(self, text: str) -> tuple[str, bytes] | None:
        """Return ``(id, UTF-8 bytes)`` for a new document, else count why ``text`` is skipped; None."""
        if not text.strip():
            self.skipped["empty"] += 1
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from metadata decoded with surrogateescape
            self.skipped["not-utf8"] += 1
            return None
        if len(data) > self.max_doc_bytes:
            self.skipped["oversized"] += 1
            return None
        digest = hashlib.sha256(data).digest()
        if digest in self.seen:
            self.skipped["duplicate"] += 1
            return None
        self.seen.add(digest)
        # Ids are content hashes, so they do not shift when a file is added elsewhere on the machine.
        return f"{self.part}-{digest.hex()[:16]}", data


class _ShardWriter:
    """Writes a part's records into ``<stem>-00000.<ext>``, ``<stem>-00001.<ext>``, ... by text size."""

    def __init__(
        self, folder: Path, extension: str, encode: Callable[[list[dict[str, str]]], bytes], shard_bytes: int
    ) -> None:
        self.folder, self.extension, self.encode, self.shard_bytes = folder, extension, encode, shard_bytes
        self.files: list[Path] = []
        self.documents = 0
        self.text_bytes = 0
        self._records: list[dict[str, str]] = []
        self._pending_bytes = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, record: dict[str, str], text_bytes: int) -> None:
        self._records.append(record)
        self._pending_bytes += text_bytes
        self.documents += 1
        self.text_bytes += text_bytes
        if self._pending_bytes >= self.shard_bytes:
            self._flush()

    def close(self) -> list[Path]:
        if self._records:
            self._flush()
        _remove_stale(self.folder, keep=set(self.files))
        return list(self.files)

    def _flush(self) -> None:
        path = self.folder / f"{self.folder.name}-{len(self.files):05d}.{self.extension}"
        _write_atomic(path, self.encode(self._records))
        self.files.append(path)
        self._records, self._pending_bytes = [], 0


def _write_sharded(
    folder: Path,
    fmt: str,
    encode: Callable[[list[dict[str, str]]], bytes],
    candidates: Iterable[_Candidate],
    tally: _Tally,
    shard_bytes: int,
) -> _Gathered:
    writer = _ShardWriter(folder, fmt, encode, shard_bytes)
    for candidate in candidates:
        try:
            text = candidate.load()
        except _Skip as skip:
            tally.skipped[skip.reason] += 1
            continue
        admitted = tally.admit(text)
        if admitted is not None:
            doc_id, data = admitted
            writer.add({"id": doc_id, "text": text, **candidate.fields}, len(data))
    files = writer.close()
    part = SamplePart(folder.name, fmt, files, writer.documents, writer.text_bytes)
    return _Gathered(part, tally.skipped)


def _encode_jsonl(records: list[dict[str, str]]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def _encode_jsonl_gz(records: list[dict[str, str]]) -> bytes:
    buffer = io.BytesIO()
    # mtime=0 and an empty file name keep the gzip header identical from run to run.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=_GZIP_LEVEL, mtime=0) as gz:
        gz.write(_encode_jsonl(records))
    return buffer.getvalue()


def _encode_jsonl_zst(records: list[dict[str, str]]) -> bytes:
    return zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_checksum=True).compress(_encode_jsonl(records))


def _encode_parquet(records: list[dict[str, str]]) -> bytes:
    table = pa.Table.from_pylist(records, schema=_PYDOC_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=_PARQUET_ROW_GROUP_ROWS, compression="zstd")
    return sink.getvalue().to_pybytes()


# --- the four parts -----------------------------------------------------------------------------------


def _gather_web(
    folder: Path,
    dists: Iterable[importlib.metadata.Distribution],
    doc_roots: Iterable[Path],
    max_doc_bytes: int,
    shard_bytes: int = _SHARD_TEXT_BYTES,
) -> _Gathered:
    """Distribution descriptions, then the prose files under ``doc_roots`` (gzipped ones decompressed)."""
    tally = _Tally("web", max_doc_bytes)
    candidates = chain(
        _description_candidates(dists, tally.skipped),
        (
            _Candidate(_file_loader(path, max_doc_bytes), {"origin": str(path)})
            for root in doc_roots
            for path in _walk(root, tally.skipped)
            if _is_prose_name(path.name[:-3] if path.name.endswith(".gz") else path.name)
        ),
    )
    return _write_sharded(folder, "jsonl.gz", _encode_jsonl_gz, candidates, tally, shard_bytes)


def _gather_code(
    folder: Path, stdlib: Path, max_doc_bytes: int, shard_bytes: int = _SHARD_TEXT_BYTES
) -> _Gathered:
    """Every ``*.py`` of the standard library at ``stdlib``, test suites included, installed packages not."""
    tally = _Tally("code", max_doc_bytes)
    candidates = (
        _Candidate(
            _file_loader(path, max_doc_bytes),
            {"path": path.relative_to(stdlib).as_posix(), "language": "python"},
        )
        for path in _walk(stdlib, tally.skipped, prune=_NOT_STDLIB_DIRS)
        if path.suffix == ".py"
    )
    return _write_sharded(folder, "jsonl.zst", _encode_jsonl_zst, candidates, tally, shard_bytes)


def _gather_pydoc(
    folder: Path, stdlib: Path, max_doc_bytes: int, shard_bytes: int = _SHARD_TEXT_BYTES
) -> _Gathered:
    """One document per documented standard-library module (tests excluded), see :func:`_render_pydoc`."""
    tally = _Tally("pydoc", max_doc_bytes)

    def loader(path: Path, module: str) -> Callable[[], str]:
        def load() -> str:
            source = _read_text(path, max_doc_bytes)
            try:
                with warnings.catch_warnings():  # invalid escapes in old modules warn at parse time
                    warnings.simplefilter("ignore")
                    text = _render_pydoc(module, source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                raise _Skip("syntax-error") from None
            if text is None:
                raise _Skip("no-docstrings")
            return text

        return load

    candidates = (
        _Candidate(loader(path, module), {"module": module})
        for path in _walk(stdlib, tally.skipped, prune=_NOT_STDLIB_DIRS | _TEST_DIRS)
        if (module := _module_name(path.relative_to(stdlib))) is not None
    )
    return _write_sharded(folder, "parquet", _encode_parquet, candidates, tally, shard_bytes)


@dataclass(frozen=True)
class _NoteSource:
    label: str  # where the file came from: a distribution's name, "python-stdlib" or "common-licenses"
    path: Path


def _gather_notes(
    folder: Path, sources: Iterable[_NoteSource], max_doc_bytes: int, budget_bytes: int = _NOTES_BUDGET_BYTES
) -> _Gathered:
    """Copy prose files, one document each, as ``NNNN-<label>-<name>.<md|rst|txt>``, up to the budget."""
    tally = _Tally("notes", max_doc_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    text_bytes = 0
    for source in sources:
        try:
            text = _read_text(source.path, max_doc_bytes)
        except _Skip as skip:
            tally.skipped[skip.reason] += 1
            continue
        admitted = tally.admit(text)
        if admitted is None:
            continue
        data = admitted[1]
        if text_bytes + len(data) > budget_bytes:
            tally.skipped["over-budget"] += 1
            continue
        path = folder / _note_file_name(len(files), source.label, source.path.name)
        _write_atomic(path, data)
        files.append(path)
        text_bytes += len(data)
    _remove_stale(folder, keep=set(files))
    return _Gathered(SamplePart(folder.name, "text", files, len(files), text_bytes), tally.skipped)


# --- git/, prs/ and verified/ -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Repository:
    name: str  # the snapshot is git/<name>.git
    path: Path  # the repository's top folder (a working tree's, or a bare repository)
    depth: int | None  # commits of history to clone; None: all of it


def _repositories() -> tuple[list[_Repository], list[str]]:
    """This project's repository, then the others in ``_GIT_ROOTS``; and notes on what was left out."""
    notes: list[str] = []
    try:
        project = _project_repository()
    except GitError as e:
        return [], [f"no git snapshots: {e}"]
    if project is None:
        notes.append(
            "this project is not a git checkout with commits (neither the folder of the mixer package nor "
            f"the working directory {os.getcwd()} is in one): no snapshot of its history"
        )
    found = [project] if project is not None else []
    names = {project.name} if project is not None else set()
    others: list[_Repository] = []
    for child in (child for root in _GIT_ROOTS for child in _subfolders(root)):
        if len(others) == _MAX_OTHER_REPOSITORIES:
            break
        if project is not None and child.resolve() == project.path.resolve():
            continue
        if repository_problem(str(child)) is None and has_commits(str(child)):
            if _object_bytes(child) <= _MAX_OTHER_REPOSITORY_BYTES:
                name = _unique(_ascii_safe(child.name.removesuffix(".git")), names)
                others.append(_Repository(name, child, _OTHER_REPOSITORY_DEPTH))
    return found + others, notes


def _subfolders(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:  # missing or unreadable
        return []


def _project_repository() -> _Repository | None:
    """The repository holding the mixer package (named ``mixer``), else the one holding the working
    directory (named after its folder); None when neither is a git repository with commits."""
    for folder, name in ((Path(__file__).resolve().parent, "mixer"), (Path.cwd(), None)):
        out = run_git(str(folder), "rev-parse", "--show-toplevel")
        if out.returncode == 0:
            top = Path(out.stdout.decode("utf-8", "surrogateescape").strip())
            if has_commits(str(top)):
                return _Repository(name or _ascii_safe(top.name), top, None)
    return None


def _object_bytes(repo: Path) -> int:
    out = run_git(str(repo), "count-objects", "-v")
    sizes = dict(line.split(": ", 1) for line in out.stdout.decode().splitlines() if ": " in line)
    try:
        return (int(sizes.get("size", 0)) + int(sizes.get("size-pack", 0))) * 1024
    except ValueError:
        return 0


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _gather_git(folder: Path, repositories: list[_Repository]) -> _Gathered:
    """A bare snapshot ``<name>.git`` of each repository: its HEAD branch, no tags, no hooks."""
    folder.mkdir(parents=True, exist_ok=True)
    skipped: Counter[str] = Counter()
    snapshots: list[Path] = []
    commits = 0
    for repo in repositories:
        target = folder / f"{repo.name}.git"
        error = _snapshot(repo, target)
        if error is not None:
            logger.warning("sample corpus git/: could not clone %s: %s", repo.path, error)
            skipped["clone-failed"] += 1
            continue
        snapshots.append(target)
        commits += int(run_git(str(target), "rev-list", "--count", "HEAD").stdout.decode().strip() or 0)
    _remove_stale(folder, keep=set(snapshots))
    part = SamplePart(folder.name, "git", snapshots, commits, 0, unit="commits")
    return _Gathered(part, skipped)


def _snapshot(repo: _Repository, target: Path) -> str | None:
    """Clone ``repo`` bare into ``target`` (replacing it); None, or git's complaint."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # file:// (not a local path) makes git pack the reachable objects instead of copying the object store,
    # which may hold unreachable ones; one packing thread makes the pack the same bytes every time.
    command = [
        "git", "-c", "pack.threads=1", "clone", "--quiet", "--bare", "--no-hardlinks", "--single-branch",
        "--no-tags", "--template=", *(["--depth", str(repo.depth)] if repo.depth else []),
        repo.path.resolve().as_uri(), str(tmp),
    ]  # fmt: skip
    try:
        out = subprocess.run(command, capture_output=True, env=git_env(), check=False)
    except FileNotFoundError:
        return "the `git` command is not installed"
    if out.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        lines = out.stderr.decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"git clone exited with {out.returncode}"
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return None


def _gather_prs(folder: Path, snapshots: list[Path]) -> _Gathered:
    """``<name>.jsonl``: :func:`prs_from_git` over each snapshot, one record per commit of its HEAD chain."""
    folder.mkdir(parents=True, exist_ok=True)
    skipped: Counter[str] = Counter()
    files: list[Path] = []
    records = text_bytes = 0
    for snapshot in snapshots:
        name = snapshot.name.removesuffix(".git")
        try:
            lines = [orjson.dumps(record) + b"\n" for record in prs_from_git(snapshot, name=name)]
        except GitError:
            skipped["unreadable-repository"] += 1
            continue
        path = folder / f"{name}.jsonl"
        _write_atomic(path, b"".join(lines))
        files.append(path)
        records += len(lines)
        text_bytes += sum(map(len, lines))
    _remove_stale(folder, keep=set(files))
    return _Gathered(
        SamplePart(folder.name, "jsonl", files, records, text_bytes, unit="pull requests"), skipped
    )


def _gather_verified(folder: Path, stdlib: Path) -> _Gathered:
    """``doctests.jsonl`` (the standard library's doctests) and ``generated.jsonl`` (see mixer.sampleproblems)."""
    folder.mkdir(parents=True, exist_ok=True)
    skipped: Counter[str] = Counter()
    files = [folder / "doctests.jsonl", folder / "generated.jsonl"]
    problems = 0
    text_bytes = 0
    for path, records in zip(
        files, (list(doctest_problems(stdlib, skipped)), generated_problems()), strict=True
    ):
        data = _encode_jsonl(records)
        _write_atomic(path, data)
        problems += len(records)
        text_bytes += len(data)
    _remove_stale(folder, keep=set(files))
    return _Gathered(SamplePart(folder.name, "jsonl", files, problems, text_bytes, unit="problems"), skipped)


# --- sources ------------------------------------------------------------------------------------------


def _stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _distributions() -> list[importlib.metadata.Distribution]:
    """Installed distributions sorted by name and version (``distributions()`` follows directory order)."""

    def key(dist: importlib.metadata.Distribution) -> tuple[str, str]:
        try:
            return (dist.metadata["Name"] or "").lower(), dist.version or ""
        except (OSError, ValueError):  # unreadable or non-UTF-8 METADATA; _description_candidates counts it
            return "", ""

    return sorted(importlib.metadata.distributions(), key=key)


def _description_candidates(
    dists: Iterable[importlib.metadata.Distribution], skipped: Counter[str]
) -> Iterator[_Candidate]:
    for dist in dists:
        try:
            metadata = dist.metadata
            name = metadata["Name"]
            body = metadata.get_payload()
            header = metadata.get("Description") or ""
        except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
            skipped["unreadable"] += 1
            continue
        if not name:
            skipped["unreadable"] += 1
            continue
        text = body if isinstance(body, str) and body.strip() else _unfold_description(header)
        if text.strip() == "UNKNOWN":  # what old setuptools wrote when there was no description
            text = ""
        yield _Candidate(lambda text=text: text, {"origin": name})


def _unfold_description(header: str) -> str:
    """Undo the folding of a metadata 1.x ``Description`` header (continuation lines start ``        |``)."""
    lines = header.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if line.startswith("        |"):
            lines[i] = line[9:]
        elif line.startswith("        "):
            lines[i] = line[8:]
    return "\n".join(lines)


def _note_sources(
    dists: Iterable[importlib.metadata.Distribution], stdlib: Path, licenses_root: Path
) -> Iterator[_NoteSource]:
    """Common licences first (a licence repeated by a package keeps its canonical name), stdlib, packages."""
    ignored: Counter[str] = Counter()  # walk errors here only shrink an optional folder
    for path in _walk(licenses_root, ignored):
        if not path.is_symlink():  # GPL -> GPL-3: keep the file under its versioned name
            yield _NoteSource("common-licenses", path)
    for path in _walk(stdlib, ignored, prune=_NOT_STDLIB_DIRS | _TEST_DIRS):
        if _is_prose_name(path.name):
            yield _NoteSource("python-stdlib", path)
    for dist in dists:
        try:
            name = dist.metadata["Name"]
            files = sorted(dist.files or [], key=str)
        except (OSError, ValueError):
            continue
        for file in files:
            if name and _is_package_note(file.parts):
                yield _NoteSource(name, Path(file.locate()))


def _is_package_note(parts: tuple[str, ...]) -> bool:
    """README/LICENSE-like files outside tests; other Markdown/reST only in dist-info or docs folders."""
    dirs, name = parts[:-1], parts[-1]
    if any(d.lower() in _TEST_DIRS for d in dirs):
        return False
    if _has_prose_prefix(name):
        return True
    in_metadata = bool(dirs) and dirs[0].endswith((".dist-info", ".egg-info"))
    in_docs = any(d.lower() in ("doc", "docs") for d in dirs)
    return PurePosixPath(name).suffix.lower() in {".md", ".rst"} and (in_metadata or in_docs)


def _is_prose_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in _TEXT_SUFFIXES or _has_prose_prefix(name)


def _has_prose_prefix(name: str) -> bool:
    suffix = PurePosixPath(name).suffix.lower()
    return name.upper().startswith(_PROSE_PREFIXES) and suffix not in _NOT_PROSE_SUFFIXES


def _module_name(relative: Path) -> str | None:
    """``json/decoder.py`` -> ``json.decoder``, ``json/__init__.py`` -> ``json``; None for non-modules."""
    if relative.suffix != ".py":
        return None
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(part.isidentifier() for part in parts):
        return None  # e.g. config-3.11-x86_64-linux-gnu/python-config.py
    return ".".join(parts)


# --- the pydoc renderer -------------------------------------------------------------------------------


def _render_pydoc(module: str, source: str) -> str | None:
    """Render a module's docstrings as plain text without importing it; None when nothing is documented.

    The document is ``Module <name>``, the module docstring, then each public class and function (methods
    and nested classes indented below their class) as its decorators and signature followed by its
    docstring. Undocumented functions are left out; a class is kept when it or one of its members is
    documented. Private names (``_x``, but not ``__dunder__``) are left out with everything inside them.
    """
    tree = ast.parse(source)
    module_doc = ast.get_docstring(tree)
    blocks = [block for node in tree.body for block in _render_definition(node, depth=0)]
    if not module_doc and not blocks:
        return None
    head = f"Module {module}" + (f"\n\n{module_doc}" if module_doc else "")
    return "\n\n".join([head, *blocks]) + "\n"


def _render_definition(node: ast.stmt, depth: int) -> list[str]:
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or _is_private(node.name):
        return []
    indent = "    " * depth
    doc = ast.get_docstring(node)
    decorators = "".join(f"{indent}@{ast.unparse(d)}\n" for d in node.decorator_list)
    if isinstance(node, ast.ClassDef):
        members = [block for child in node.body for block in _render_definition(child, depth + 1)]
        if not doc and not members:
            return []
        bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        signature = f"class {node.name}" + (f"({', '.join(bases)})" if bases else "") + ":"
    else:
        if not doc:
            return []
        members = []
        keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        signature = f"{keyword} {node.name}({ast.unparse(node.args)}){returns}:"
    block = decorators + indent + signature
    if doc:
        block += "\n" + textwrap.indent(doc, indent + "    ")
    return [block, *members]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


# --- files --------------------------------------------------------------------------------------------


def _walk(root: Path, skipped: Counter[str], prune: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield the files under ``root`` in sorted order, skipping folders named in ``prune``.

    Directory symlinks are never followed, so a link loop cannot trap the walk; file symlinks are yielded
    and resolved when read. A missing root or an unreadable folder is counted, not raised.
    """
    if not root.is_dir():
        skipped["missing-root"] += 1
        return

    def count_error(error: OSError) -> None:
        skipped["unreadable"] += 1

    for dirpath, dirnames, filenames in os.walk(root, onerror=count_error):
        dirnames[:] = sorted(d for d in dirnames if d not in prune)
        for name in sorted(filenames):
            yield Path(dirpath, name)


def _file_loader(path: Path, max_doc_bytes: int) -> Callable[[], str]:
    return lambda: _read_text(path, max_doc_bytes, gunzip=path.name.endswith(".gz"))


def _read_text(path: Path, max_doc_bytes: int, *, gunzip: bool = False) -> str:
    """Read a regular file as strict UTF-8 text of at most ``max_doc_bytes`` bytes, else raise ``_Skip``."""
    try:
        info = path.stat()  # follows symlinks: a dangling link or a link loop raises here
    except OSError:
        raise _Skip("unreadable") from None
    if not stat.S_ISREG(info.st_mode):  # FIFOs, sockets and devices could block or never end
        raise _Skip("not-a-file")
    if not gunzip and info.st_size > max_doc_bytes:
        raise _Skip("oversized")
    try:
        with gzip.open(path, "rb") if gunzip else open(path, "rb") as f:
            data = f.read(max_doc_bytes + 1)  # bounded, so a growing file or a gzip bomb stops here
    except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
        raise _Skip("unreadable") from None
    if len(data) > max_doc_bytes:
        raise _Skip("oversized")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Skip("not-utf8") from None
    if "\x00" in text:
        raise _Skip("binary")
    return text


def _note_file_name(index: int, label: str, name: str) -> str:
    """``0007``, ``numpy``, ``LICENSE.txt`` -> ``0007-numpy-LICENSE.txt``; ASCII, keeps .md/.rst/.txt."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _NOTE_SUFFIXES:
        name = name[: -len(suffix)]
    else:
        suffix = ".txt"
    return f"{index:04d}-{_ascii_safe(label)[:40]}-{_ascii_safe(name)[:60]}{suffix}"


def _ascii_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "file"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _remove_stale(folder: Path, keep: set[Path]) -> None:
    """Delete files (and git snapshots) of earlier runs, and their leftover temporaries, that this run did
    not write."""
    for entry in folder.iterdir():
        if entry in keep:
            continue
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
        elif entry.is_dir() and entry.name.endswith((".git", ".git.tmp")):
            shutil.rmtree(entry)


# --- README -------------------------------------------------------------------------------------------

_PART_DESCRIPTIONS = {
    "web": (
        "Prose standing in for web text: the long description of every installed Python distribution "
        "(its METADATA body), then the plain-text, Markdown and reStructuredText documentation under "
        "/usr/share/doc (README*, changelogs, copyright files; gzipped ones decompressed). "
        'Gzip JSONL, one `{"id", "text", "origin"}` record per line; origin is the package name or file path.'
    ),
    "code": (
        "The running interpreter's standard-library source (every `*.py` under {stdlib}, test suites "
        'included, site-packages excluded). Zstandard JSONL, one `{"id", "text", "path", "language"}` record '
        "per line; path is relative to the standard-library root and text is the file's exact content."
    ),
    "pydoc": (
        "Prose documentation of the standard library, extracted without importing anything: each module "
        "(tests excluded) is parsed with `ast` and its module, class and function docstrings are rendered "
        "with their signatures into one plain-text document. Parquet with string columns id, text, module."
    ),
    "notes": (
        "Loose text files, one document each: /usr/share/common-licenses, the standard library's own "
        "README/NEWS/LICENSE and .txt/.md/.rst files, and installed packages' README, LICENSE, AUTHORS "
        "and CHANGES files. Named `NNNN-<origin>-<file name>` with the extension kept (.md, .rst, else .txt)."
    ),
    "git": (
        "Bare git repositories for `type: git_commits`, cloned (`git clone --bare --single-branch --no-tags`, "
        "from a file:// URL, packed by one thread) from this project's own repository (`mixer.git`: the "
        "repository holding the mixer package, else the one holding the working directory, with its whole "
        "history) and from at most four repositories found directly under /usr/local/src, /usr/src, /opt "
        "and /srv (at most 20 MB of objects each; their last 200 commits). Documents counts commits."
    ),
    "prs": (
        "Pull-request-shaped records for `type: github_prs`, one JSONL file per snapshot in git/. They are "
        "**not** real pull requests: `mixer.prs_from_git` cuts the first-parent history of HEAD into one "
        "would-be pull request per commit (a merge: per merge), with title and description from the commit "
        "message, the author's name, the diff and the base files, state merged and no discussion; every "
        'record says `"metadata": {"synthetic": "derived from git history of <name>", ...}`.'
    ),
    "verified": (
        "Python problems `{id, prompt, solution, tests}` for `type: verified_python` (see "
        "`mixer/sampleproblems.py`). `doctests.jsonl`: one problem per function or class of a fixed list "
        "of pure-Python standard-library modules whose docstrings hold examples; the solution is the "
        "definition as the module has it (with the imports it needs), the tests run its examples as "
        "doctest would. Examples that depend on the machine, time, randomness, identities or set order, "
        "that use doctest directives or import the module under test, are left out by static rules (the "
        "skipped counts). `generated.jsonl`: a fixed set of small problems of which these are wrong on "
        "purpose, so that a build shows every rejection: {defects}."
    ),
}


def _readme(summary: SampleCorpusSummary, gathered: dict[str, _Gathered], stdlib: Path) -> str:
    lines = [
        "# Sample corpus",
        "",
        "Generated by `mixer sample-corpus` from material already on this machine; nothing was downloaded.",
        "Regenerate it rather than edit it: a rerun on the same machine and environment reproduces every",
        "file byte for byte and removes the files of earlier runs. Ids are content hashes; exact duplicate",
        "texts are kept once per part.",
        "",
        f"Total: {summary.total_bytes:,} bytes of UTF-8 text (JSONL for prs/ and verified/).",
        "",
        "| part | format | files | documents | text bytes | skipped |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, result in gathered.items():
        part = result.part
        skipped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(result.skipped.items())) or "-"
        documents = f"{part.documents:,}" + ("" if part.unit == "documents" else f" {part.unit}")
        text_bytes = f"{part.text_bytes:,}" if part.format != "git" else "-"
        lines.append(
            f"| `{name}/` | {part.format} | {len(part.files)} | {documents} | {text_bytes} | {skipped} |"
        )
    lines += [f"\nNote: {note}" for note in summary.notes]
    defects = ", ".join(f"`{pid}` ({reason})" for pid, reason in GENERATED_DEFECTS.items())
    for name in gathered:
        description = _PART_DESCRIPTIONS[name].replace("{stdlib}", str(stdlib)).replace("{defects}", defects)
        lines += ["", f"## `{name}/`", "", description]
    return "\n".join(lines) + "\n"
