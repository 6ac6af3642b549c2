"""Where the sample corpus's material is on this machine: installed distributions' descriptions and
licence files, ``/usr/share/doc``, the running interpreter's standard library, git repositories.
Traversal is sorted, so what is found is a function of the machine alone.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import os
import re
import stat
import sysconfig
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mixer.readers.gitcli import GitError, has_commits, repository_problem, run_git
from mixer.samples.parts import Candidate, Skip

DOC_ROOTS = (Path("/usr/share/doc"),)
LICENSES_ROOT = Path("/usr/share/common-licenses")
# Other git repositories: the folders directly under these that are repositories, cloned cheaply.
GIT_ROOTS = (Path("/usr/local/src"), Path("/usr/src"), Path("/opt"), Path("/srv"))
MAX_OTHER_REPOSITORIES = 4
MAX_OTHER_REPOSITORY_BYTES = 20_000_000  # of git objects, as `git count-objects -v` reports them
OTHER_REPOSITORY_DEPTH = 200  # commits of history cloned from each

NOT_STDLIB_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__"})
TEST_DIRS = frozenset({"test", "tests", "idle_test"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".rst", ".markdown"})
NOTE_SUFFIXES = frozenset({".txt", ".md", ".rst"})
# Names that are prose whatever their extension: README.Debian, changelog.gz, LICENSE.APACHE, copyright ...
PROSE_PREFIXES = (
    "README", "CHANGELOG", "CHANGES", "NEWS", "HISTORY", "AUTHORS", "THANKS", "TODO", "COPYRIGHT",
    "COPYING", "LICENSE", "LICENCE", "NOTICE", "CREDITS", "CONTRIBUTORS", "BUGS", "FAQ",
)  # fmt: skip
NOT_PROSE_SUFFIXES = frozenset({
    ".py", ".pyi", ".pyc", ".so", ".c", ".h", ".js", ".css", ".html", ".htm", ".json", ".xml", ".png",
    ".jpg", ".gif", ".svg", ".pdf", ".zip", ".bz2", ".xz", ".pem", ".sh", ".pl", ".dat",
})  # fmt: skip


@dataclass(frozen=True)
class NoteSource:
    label: str  # where the file came from: a distribution's name, "python-stdlib" or "common-licenses"
    path: Path


# --- git/, prs/ and verified/ -------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    name: str  # the snapshot is git/<name>.git
    path: Path  # the repository's top folder (a working tree's, or a bare repository)
    depth: int | None  # commits of history to clone; None: all of it


def find_repositories() -> tuple[list[Repository], list[str]]:
    """This project's repository, then the others in ``GIT_ROOTS``; and notes on what was left out."""
    notes: list[str] = []
    try:
        project = project_repository()
    except GitError as e:
        return [], [f"no git snapshots: {e}"]
    if project is None:
        notes.append(
            "this project is not a git checkout with commits (neither the folder of the mixer package nor "
            f"the working directory {os.getcwd()} is in one): no snapshot of its history"
        )
    found = [project] if project is not None else []
    names = {project.name} if project is not None else set()
    others: list[Repository] = []
    for child in (child for root in GIT_ROOTS for child in subfolders(root)):
        if len(others) == MAX_OTHER_REPOSITORIES:
            break
        if project is not None and child.resolve() == project.path.resolve():
            continue
        if repository_problem(str(child)) is None and has_commits(str(child)):
            if object_bytes(child) <= MAX_OTHER_REPOSITORY_BYTES:
                name = unique_name(ascii_safe(child.name.removesuffix(".git")), names)
                others.append(Repository(name, child, OTHER_REPOSITORY_DEPTH))
    return found + others, notes


def subfolders(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:  # missing or unreadable
        return []


def project_repository() -> Repository | None:
    """The repository holding the mixer package (named ``mixer``), else the one holding the working
    directory (named after its folder); None when neither is a git repository with commits."""
    for folder, name in ((Path(__file__).resolve().parent, "mixer"), (Path.cwd(), None)):
        out = run_git(str(folder), "rev-parse", "--show-toplevel")
        if out.returncode == 0:
            top = Path(out.stdout.decode("utf-8", "surrogateescape").strip())
            if has_commits(str(top)):
                return Repository(name or ascii_safe(top.name), top, None)
    return None


def object_bytes(repo: Path) -> int:
    out = run_git(str(repo), "count-objects", "-v")
    sizes = dict(line.split(": ", 1) for line in out.stdout.decode().splitlines() if ": " in line)
    try:
        return (int(sizes.get("size", 0)) + int(sizes.get("size-pack", 0))) * 1024
    except ValueError:
        return 0


# --- sources ------------------------------------------------------------------------------------------


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def distributions() -> list[importlib.metadata.Distribution]:
    """Installed distributions sorted by name and version (``distributions()`` follows directory order)."""

    def key(dist: importlib.metadata.Distribution) -> tuple[str, str]:
        try:
            return (dist.metadata["Name"] or "").lower(), dist.version or ""
        except (OSError, ValueError):  # unreadable or non-UTF-8 METADATA; description_candidates counts it
            return "", ""

    return sorted(importlib.metadata.distributions(), key=key)


def description_candidates(
    dists: Iterable[importlib.metadata.Distribution], skipped: Counter[str]
) -> Iterator[Candidate]:
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
        text = body if isinstance(body, str) and body.strip() else unfold_description(header)
        if text.strip() == "UNKNOWN":  # what old setuptools wrote when there was no description
            text = ""
        yield Candidate(lambda text=text: text, {"origin": name})


def unfold_description(header: str) -> str:
    """Undo the folding of a metadata 1.x ``Description`` header (continuation lines start ``        |``)."""
    lines = header.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if line.startswith("        |"):
            lines[i] = line[9:]
        elif line.startswith("        "):
            lines[i] = line[8:]
    return "\n".join(lines)


def note_sources(
    dists: Iterable[importlib.metadata.Distribution], stdlib: Path, licenses_root: Path
) -> Iterator[NoteSource]:
    """Common licences first (a licence repeated by a package keeps its canonical name), stdlib, packages."""
    ignored: Counter[str] = Counter()  # walk errors here only shrink an optional folder
    for path in walk(licenses_root, ignored):
        if not path.is_symlink():  # GPL -> GPL-3: keep the file under its versioned name
            yield NoteSource("common-licenses", path)
    for path in walk(stdlib, ignored, prune=NOT_STDLIB_DIRS | TEST_DIRS):
        if is_prose_name(path.name):
            yield NoteSource("python-stdlib", path)
    for dist in dists:
        try:
            name = dist.metadata["Name"]
            files = sorted(dist.files or [], key=str)
        except (OSError, ValueError):
            continue
        for file in files:
            if name and is_package_note(file.parts):
                yield NoteSource(name, Path(file.locate()))


def is_package_note(parts: tuple[str, ...]) -> bool:
    """README/LICENSE-like files outside tests; other Markdown/reST only in dist-info or docs folders."""
    dirs, name = parts[:-1], parts[-1]
    if any(d.lower() in TEST_DIRS for d in dirs):
        return False
    if has_prose_prefix(name):
        return True
    in_metadata = bool(dirs) and dirs[0].endswith((".dist-info", ".egg-info"))
    in_docs = any(d.lower() in ("doc", "docs") for d in dirs)
    return PurePosixPath(name).suffix.lower() in {".md", ".rst"} and (in_metadata or in_docs)


def is_prose_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in TEXT_SUFFIXES or has_prose_prefix(name)


def has_prose_prefix(name: str) -> bool:
    suffix = PurePosixPath(name).suffix.lower()
    return name.upper().startswith(PROSE_PREFIXES) and suffix not in NOT_PROSE_SUFFIXES


def module_name(relative: Path) -> str | None:
    """``json/decoder.py`` -> ``json.decoder``, ``json/__init__.py`` -> ``json``; None for non-modules."""
    if relative.suffix != ".py":
        return None
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(part.isidentifier() for part in parts):
        return None  # e.g. config-3.11-x86_64-linux-gnu/python-config.py
    return ".".join(parts)


# --- files --------------------------------------------------------------------------------------------


def walk(root: Path, skipped: Counter[str], prune: frozenset[str] = frozenset()) -> Iterator[Path]:
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


def file_loader(path: Path, max_doc_bytes: int) -> Callable[[], str]:
    return lambda: read_text(path, max_doc_bytes, gunzip=path.name.endswith(".gz"))


def read_text(path: Path, max_doc_bytes: int, *, gunzip: bool = False) -> str:
    """Read a regular file as strict UTF-8 text of at most ``max_doc_bytes`` bytes, else raise ``Skip``."""
    try:
        info = path.stat()  # follows symlinks: a dangling link or a link loop raises here
    except OSError:
        raise Skip("unreadable") from None
    if not stat.S_ISREG(info.st_mode):  # FIFOs, sockets and devices could block or never end
        raise Skip("not-a-file")
    if not gunzip and info.st_size > max_doc_bytes:
        raise Skip("oversized")
    try:
        with gzip.open(path, "rb") if gunzip else open(path, "rb") as f:
            data = f.read(max_doc_bytes + 1)  # bounded, so a growing file or a gzip bomb stops here
    except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
        raise Skip("unreadable") from None
    if len(data) > max_doc_bytes:
        raise Skip("oversized")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Skip("not-utf8") from None
    if "\x00" in text:
        raise Skip("binary")
    return text


def unique_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def ascii_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "file"
