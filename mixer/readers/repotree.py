"""Walking one repository folder: its source files in a fixed order, and every entry left out with a reason.

The walk never follows a symbolic link, so it can neither leave the repository nor go round in circles;
each link is reported with what kind it is (into the tree, out of it, a loop, broken). Folders of version
control data and of vendored or generated code are left out whole, without being entered. Files are
judged by name and size here; their content (binary, UTF-8, empty) is judged by :func:`read_source`.

Order: depth first, each folder's entries in code-point order of their names, so ``a/z.py`` comes before
``a.py`` and ``b.py``: the order of ``sorted(paths, key=lambda p: p.split("/"))``, the same on every machine.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass

from mixer.sources.languages import detect_language

# version control metadata: always left out (a `.git` *file* marks a worktree or submodule)
VCS_NAMES = frozenset({".git", ".hg", ".svn", ".bzr", "CVS", "_darcs", ".pijul", ".jj", ".fslckout"})

# dependency, vendored, cache and build-output folders (names or fnmatch patterns): the default of the
# recipe's `skip_folders`
DEFAULT_SKIP_FOLDERS: tuple[str, ...] = (
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "third_party",
    "thirdparty",
    "3rdparty",
    "site-packages",
    "dist-packages",
    ".venv",
    "venv",
    "virtualenv",
    ".tox",
    ".nox",
    ".eggs",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    "dist",
    "build",
    "Pods",
    "Carthage",
    "DerivedData",
    ".gradle",
    ".bundle",
    ".next",
    ".nuxt",
    ".terraform",
)

BINARY_SNIFF = 8192  # a NUL byte in the first 8 KB marks a binary file (git looks at 8000)


@dataclass(frozen=True)
class RepoFile:
    """A file the walk keeps: its path inside the repository ('/'-separated), on disk, size and language."""

    rel: str
    path: str
    size: int
    language: str


@dataclass(frozen=True)
class RepoSkip:
    """An entry the walk leaves out: the reason, its path inside the repository, and a detail."""

    reason: str
    rel: str
    detail: str = ""


class FolderRules:
    """Which folder names are left out: exact names and fnmatch patterns (case-sensitive)."""

    def __init__(self, names: list[str] | tuple[str, ...]):
        self.exact = frozenset(n for n in names if not _is_pattern(n))
        self.patterns = tuple(n for n in names if _is_pattern(n))

    def skips(self, name: str) -> bool:
        return name in self.exact or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)


def _is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


def walk_repository(
    root: str,
    *,
    skip_folders: FolderRules,
    max_file_bytes: int,
    languages: frozenset[str] | None = None,
) -> Iterator[RepoFile | RepoSkip]:
    """Every entry of the repository at ``root`` in walk order: a :class:`RepoFile` to read, or a
    :class:`RepoSkip`. ``languages`` is the allow-list (None: every detected language).

    Raises :class:`OSError` (at the call, not during the walk) when ``root`` itself cannot be listed.
    """
    top = _entries(root)
    return _walk(top, os.path.realpath(root), skip_folders, max_file_bytes, languages)


def _walk(
    top: list[os.DirEntry],
    root_real: str,
    skip_folders: FolderRules,
    max_file_bytes: int,
    languages: frozenset[str] | None,
) -> Iterator[RepoFile | RepoSkip]:
    stack: list[tuple[str, Iterator[os.DirEntry]]] = [("", iter(top))]
    while stack:
        prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        rel = prefix + entry.name
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:  # os.scandir kept the undecodable bytes as surrogates
            printable = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield RepoSkip("invalid_utf8_name", printable)
            continue
        try:
            if entry.is_symlink():
                reason, target = _symlink_kind(entry.path, root_real)
                yield RepoSkip(reason, rel, f"-> {target}")
            elif entry.name in VCS_NAMES:
                yield RepoSkip("vcs_folder", rel)
            elif entry.is_dir(follow_symlinks=False):
                if skip_folders.skips(entry.name):
                    yield RepoSkip("vendored_folder", rel)
                    continue
                try:
                    stack.append((rel + "/", iter(_entries(entry.path))))
                except OSError as e:
                    yield RepoSkip("unreadable_path", rel, e.strerror or str(e))
            elif not entry.is_file(follow_symlinks=False):
                yield RepoSkip("not_a_regular_file", rel)
            else:
                language = detect_language(entry.name)
                if language is None:
                    yield RepoSkip("unknown_language", rel)
                    continue
                if languages is not None and language not in languages:
                    yield RepoSkip("language_not_allowed", rel, language)
                    continue
                size = entry.stat(follow_symlinks=False).st_size
                if size > max_file_bytes:
                    yield RepoSkip("file_too_large", rel, f"{size} bytes")
                    continue
                yield RepoFile(rel, entry.path, size, language)
        except OSError as e:  # the entry vanished or cannot be inspected
            yield RepoSkip("unreadable_path", rel, e.strerror or str(e))


def _entries(folder: str) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _symlink_kind(path: str, root_real: str) -> tuple[str, str]:
    """Why a symbolic link is left out: it points into the tree (its target is read where it lies), out
    of it, at a folder that contains it (following it would go round in circles), or nowhere."""
    target = os.readlink(path)
    try:
        os.stat(path)  # follows the link
    except OSError as e:
        return ("symlink_loop" if e.errno == errno.ELOOP else "broken_symlink"), target
    real = os.path.realpath(path)
    if not _inside(real, root_real):
        return "symlink_outside_repo", target
    if os.path.isdir(real) and _inside(os.path.realpath(os.path.dirname(path)), real):
        return "symlink_loop", target
    return "symlink_in_repo", target


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def read_source(path: str, max_file_bytes: int) -> str | RepoSkip:
    """The text of a source file, or why it cannot be a document (binary, not UTF-8, empty, too large).

    The returned skip's ``rel`` is empty; the caller knows the path.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(max_file_bytes + 1)
    except OSError as e:
        return RepoSkip("unreadable_path", "", e.strerror or str(e))
    return decode_source(data, max_file_bytes)


def decode_source(data: bytes, max_file_bytes: int) -> str | RepoSkip:
    """Judge raw file bytes as :func:`read_source` does."""
    if len(data) > max_file_bytes:
        return RepoSkip("file_too_large", "", f"over {max_file_bytes} bytes")
    if b"\0" in data[:BINARY_SNIFF]:
        return RepoSkip("binary_file", "")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return RepoSkip("invalid_utf8", "", f"byte {e.start}")
    if not text.strip():
        return RepoSkip("empty_file", "")
    return text


def tree_bytes(
    root: str, *, skip_folders: FolderRules, max_file_bytes: int, languages: frozenset[str] | None
) -> int:
    """Total size of the files a walk of ``root`` would read (names and sizes only; -1 if unreadable)."""
    try:
        return sum(
            e.size
            for e in walk_repository(
                root, skip_folders=skip_folders, max_file_bytes=max_file_bytes, languages=languages
            )
            if isinstance(e, RepoFile)
        )
    except OSError:
        return -1
