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
  :func:`mixer.samples.prs_from_git.prs_from_git` (they are not real pull requests, and every record says so in
  its ``metadata.synthetic``);
- ``verified/`` Python problems for ``type: verified_python``: the standard library's doctests and a generated
  set in which some solutions are wrong on purpose (:mod:`mixer.samples.doctest_problems`,
  :mod:`mixer.samples.generated_problems`).

The output is a function of the machine alone: traversal is sorted, compressed files carry no timestamps,
ids are content hashes, git snapshots are packed by one thread from a ``file://`` clone (so they hold
the reachable history only, in the same bytes every time), and every file is written under a temporary
name and renamed into place. A machine without git, or a project that is not a git checkout, gets empty
``git/`` and ``prs/`` parts and a note saying why.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import subprocess
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path

import orjson

from mixer.readers.gitcli import GitError, git_env, run_git
from mixer.samples.doctest_problems import doctest_problems
from mixer.samples.files import (
    SHARD_TEXT_BYTES,
    encode_jsonl,
    encode_jsonl_gz,
    encode_jsonl_zst,
    encode_parquet,
    note_file_name,
    readme,
    remove_stale,
    render_pydoc,
    write_atomic,
    write_sharded,
)
from mixer.samples.generated_problems import generated_problems
from mixer.samples.machine import (
    DOC_ROOTS,
    LICENSES_ROOT,
    NOT_STDLIB_DIRS,
    TEST_DIRS,
    NoteSource,
    Repository,
    description_candidates,
    distributions,
    file_loader,
    find_repositories,
    is_prose_name,
    module_name,
    note_sources,
    read_text,
    stdlib_root,
    walk,
)
from mixer.samples.parts import (
    Candidate,
    Gathered,
    SampleCorpusError,
    SampleCorpusSummary,
    SamplePart,
    Skip,
    Tally,
)
from mixer.samples.prs_from_git import prs_from_git

logger = logging.getLogger(__name__)
_NOTES_BUDGET_BYTES = 4_000_000  # notes/ is a small folder of loose files, not a bulk source


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
    stdlib = stdlib_root()
    dists = distributions()
    notes = note_sources(dists, stdlib, LICENSES_ROOT)
    repositories, repository_notes = find_repositories()
    gathered = {
        "web": _gather_web(out_dir / "web", dists, DOC_ROOTS, max_doc_bytes),
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
    write_atomic(out_dir / "README.md", readme(summary, gathered, stdlib).encode("utf-8"))
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


# --- the four parts -----------------------------------------------------------------------------------


def _gather_web(
    folder: Path,
    dists: Iterable[importlib.metadata.Distribution],
    doc_roots: Iterable[Path],
    max_doc_bytes: int,
    shard_bytes: int = SHARD_TEXT_BYTES,
) -> Gathered:
    """Distribution descriptions, then the prose files under ``doc_roots`` (gzipped ones decompressed)."""
    tally = Tally("web", max_doc_bytes)
    candidates = chain(
        description_candidates(dists, tally.skipped),
        (
            Candidate(file_loader(path, max_doc_bytes), {"origin": str(path)})
            for root in doc_roots
            for path in walk(root, tally.skipped)
            if is_prose_name(path.name[:-3] if path.name.endswith(".gz") else path.name)
        ),
    )
    return write_sharded(folder, "jsonl.gz", encode_jsonl_gz, candidates, tally, shard_bytes)


def _gather_code(
    folder: Path, stdlib: Path, max_doc_bytes: int, shard_bytes: int = SHARD_TEXT_BYTES
) -> Gathered:
    """Every ``*.py`` of the standard library at ``stdlib``, test suites included, installed packages not."""
    tally = Tally("code", max_doc_bytes)
    candidates = (
        Candidate(
            file_loader(path, max_doc_bytes),
            {"path": path.relative_to(stdlib).as_posix(), "language": "python"},
        )
        for path in walk(stdlib, tally.skipped, prune=NOT_STDLIB_DIRS)
        if path.suffix == ".py"
    )
    return write_sharded(folder, "jsonl.zst", encode_jsonl_zst, candidates, tally, shard_bytes)


def _gather_pydoc(
    folder: Path, stdlib: Path, max_doc_bytes: int, shard_bytes: int = SHARD_TEXT_BYTES
) -> Gathered:
    """One document per documented standard-library module (tests excluded), see :func:`render_pydoc`."""
    tally = Tally("pydoc", max_doc_bytes)

    def loader(path: Path, module: str) -> Callable[[], str]:
        def load() -> str:
            source = read_text(path, max_doc_bytes)
            try:
                with warnings.catch_warnings():  # invalid escapes in old modules warn at parse time
                    warnings.simplefilter("ignore")
                    text = render_pydoc(module, source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                raise Skip("syntax-error") from None
            if text is None:
                raise Skip("no-docstrings")
            return text

        return load

    candidates = (
        Candidate(loader(path, module), {"module": module})
        for path in walk(stdlib, tally.skipped, prune=NOT_STDLIB_DIRS | TEST_DIRS)
        if (module := module_name(path.relative_to(stdlib))) is not None
    )
    return write_sharded(folder, "parquet", encode_parquet, candidates, tally, shard_bytes)


def _gather_notes(
    folder: Path, sources: Iterable[NoteSource], max_doc_bytes: int, budget_bytes: int = _NOTES_BUDGET_BYTES
) -> Gathered:
    """Copy prose files, one document each, as ``NNNN-<label>-<name>.<md|rst|txt>``, up to the budget."""
    tally = Tally("notes", max_doc_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    text_bytes = 0
    for source in sources:
        try:
            text = read_text(source.path, max_doc_bytes)
        except Skip as skip:
            tally.skipped[skip.reason] += 1
            continue
        admitted = tally.admit(text)
        if admitted is None:
            continue
        data = admitted[1]
        if text_bytes + len(data) > budget_bytes:
            tally.skipped["over-budget"] += 1
            continue
        path = folder / note_file_name(len(files), source.label, source.path.name)
        write_atomic(path, data)
        files.append(path)
        text_bytes += len(data)
    remove_stale(folder, keep=set(files))
    return Gathered(SamplePart(folder.name, "text", files, len(files), text_bytes), tally.skipped)


def _gather_git(folder: Path, repositories: list[Repository]) -> Gathered:
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
    remove_stale(folder, keep=set(snapshots))
    part = SamplePart(folder.name, "git", snapshots, commits, 0, unit="commits")
    return Gathered(part, skipped)


def _snapshot(repo: Repository, target: Path) -> str | None:
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


def _gather_prs(folder: Path, snapshots: list[Path]) -> Gathered:
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
        write_atomic(path, b"".join(lines))
        files.append(path)
        records += len(lines)
        text_bytes += sum(map(len, lines))
    remove_stale(folder, keep=set(files))
    return Gathered(
        SamplePart(folder.name, "jsonl", files, records, text_bytes, unit="pull requests"), skipped
    )


def _gather_verified(folder: Path, stdlib: Path) -> Gathered:
    """``doctests.jsonl`` (the standard library's doctests) and ``generated.jsonl`` (see mixer.samples.doctest_problems and generated_problems)."""
    folder.mkdir(parents=True, exist_ok=True)
    skipped: Counter[str] = Counter()
    files = [folder / "doctests.jsonl", folder / "generated.jsonl"]
    problems = 0
    text_bytes = 0
    for path, records in zip(
        files, (list(doctest_problems(stdlib, skipped)), generated_problems()), strict=True
    ):
        data = encode_jsonl(records)
        write_atomic(path, data)
        problems += len(records)
        text_bytes += len(data)
    remove_stale(folder, keep=set(files))
    return Gathered(SamplePart(folder.name, "jsonl", files, problems, text_bytes, unit="problems"), skipped)
