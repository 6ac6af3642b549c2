"""The git command line, driven as a stream: commits with their changed files, and blob contents.

mixer never reads ``.git`` itself. Every fact comes from git's own output, read incrementally from a pipe:
one ``git log`` process per repository lists the commits with their raw changes (exact paths and blob ids,
``-z``) and their unified diff, and one ``git cat-file --batch`` process serves file contents on request.
So a repository's history never has to fit in memory: one commit (its diff capped) is held at a time.

Every option that user or repository configuration could change and that changes the output is set on
the command line (rename detection, diff algorithm, context, prefixes, encoding), so the same repository
gives the same stream on any machine. This module imports no pipeline code.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

CHUNK = 1 << 16
MAX_MESSAGE_BYTES = 1 << 20  # a longer commit message is cut here (and fails any sane length filter)

# `git -c ...` settings that would otherwise let user configuration change the output
_CONFIG = [
    "-c",
    "core.quotepath=false",
    "-c",
    "log.showSignature=false",
    "-c",
    "log.showRoot=true",
    "-c",
    "diff.renameLimit=1000",
    "-c",
    "diff.suppressBlankEmpty=false",
]
_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat"}

CHANGE_NAMES = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type_changed",
}
_BINARY = re.compile(rb"^(?:Binary files .* differ|GIT binary patch)$", re.M)
_SECTION = re.compile(rb"^diff --git ", re.M)


class GitError(Exception):
    """git failed or printed something this module does not understand."""


def git_command(repo: str, *args: str) -> list[str]:
    return ["git", "--no-pager", *_CONFIG, "-C", repo, *args]


def git_env() -> dict[str, str]:
    return {**os.environ, **_ENV}


def run_git(repo: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run a short git command to completion (plan-time checks, one-off look-ups)."""
    try:
        return subprocess.run(git_command(repo, *args), capture_output=True, env=git_env(), check=False)
    except FileNotFoundError:
        raise GitError("the `git` command is not installed (or not on PATH)") from None


def repository_problem(path: str) -> str | None:
    """Why ``path`` is not the top folder of a git repository (bare or not), or None when it is."""
    if not os.path.isdir(path):
        return "is not a folder"
    out = run_git(path, "rev-parse", "--is-bare-repository", "--absolute-git-dir", "--show-prefix")
    if out.returncode != 0:
        message = out.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"is not a git repository ({message[-1] if message else 'git rev-parse failed'})"
    bare, git_dir, *rest = out.stdout.decode("utf-8", "replace").split("\n")
    prefix = rest[0] if rest else ""
    if bare == "true" and os.path.realpath(git_dir) != os.path.realpath(path):
        return f"is inside the bare repository {git_dir}, not its top folder"
    if prefix:
        top = os.path.dirname(git_dir) if os.path.basename(git_dir) == ".git" else git_dir
        return f"is inside the git repository {top} (at {prefix}), not its top folder"
    return None


def resolve_ref(repo: str, ref: str) -> str | None:
    """The commit id ``ref`` names in ``repo``, or None."""
    out = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    return out.stdout.decode().strip() if out.returncode == 0 else None


def has_commits(repo: str) -> bool:
    out = run_git(repo, "rev-list", "-n", "1", "--all")
    return out.returncode == 0 and bool(out.stdout.strip())


@dataclass
class FileChange:
    """One changed file of a commit, as git's raw diff names it, with its section of the unified diff."""

    status: str  # A M D R C T (U, X: unmerged, unknown)
    old_path: str | None  # None for an addition
    new_path: str | None  # None for a deletion
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str
    patch: bytes | None = None  # this file's `diff --git` section; None when the diff cap cut it off
    binary: bool = False

    @property
    def change(self) -> str:
        return CHANGE_NAMES.get(self.status, "unknown")

    @property
    def path(self) -> str:
        """The path the change leaves behind (the old one for a deletion)."""
        return self.new_path or self.old_path or ""


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author_time: int
    author_date: str  # ISO 8601 with the author's offset
    author_name: str
    author_email: str  # for bot detection only: never put into documents
    message: bytes  # raw, as git printed it (re-encoded to UTF-8 when the commit declares an encoding)
    changes: list[FileChange] = field(default_factory=list)
    diff_bytes: int = 0  # the full length of the commit's unified diff, cut or not
    diff_cut: bool = False  # the diff exceeded the cap; changes past the cut have patch None
    diff_unparsed: bool = False  # the diff's sections did not line up with the raw changes

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


class _NulStream:
    """Tokens separated by NUL bytes from a pipe, read in chunks; long tokens are cut, not held whole."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read1(CHUNK)  # type: ignore[attr-defined]
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> bytes:
        """The next byte, or b"" at the end of the stream."""
        while self.pos >= len(self.buf):
            if not self._fill():
                return b""
        return self.buf[self.pos : self.pos + 1]

    def skip(self) -> None:
        self.peek()
        self.pos += 1

    def token(self, limit: int | None = None) -> tuple[bytes, int, bool]:
        """Bytes up to the next NUL (which is consumed), at most ``limit`` of them kept.

        Returns the kept bytes, the token's full length, and whether a NUL ended it (False: end of stream).
        """
        kept: list[bytes] = []
        room = limit if limit is not None else -1
        total = 0
        while True:
            end = self.buf.find(b"\0", self.pos)
            stop = end if end >= 0 else len(self.buf)
            piece = self.buf[self.pos : stop]
            total += len(piece)
            if room < 0:
                kept.append(piece)
            elif room > 0:
                kept.append(piece[:room])
                room -= min(room, len(piece))
            if end >= 0:
                self.pos = end + 1
                return b"".join(kept), total, True
            self.pos = len(self.buf)
            if not self._fill():
                return b"".join(kept), total, False


def _diff_options(context_lines: int) -> list[str]:
    return [
        "--no-abbrev",
        "-M",
        f"-U{context_lines}",
        "--inter-hunk-context=0",
        "--diff-algorithm=myers",
        "--indent-heuristic",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--submodule=short",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--encoding=UTF-8",
    ]


def log_command(
    repo: str,
    tip: str,
    *,
    first_parent: bool,
    oldest_first: bool,
    context_lines: int,
    with_diffs: bool = True,
) -> list[str]:
    """The `git log` that streams every commit of ``tip`` (a commit or a range ``a..b``) with its raw
    changes and diff (or, without ``with_diffs``, only the commits)."""
    # fields: \0 sha \0 parents \0 author time \0 author date \0 name \0 e-mail \0 message (-z ends it)
    fmt = "%x00%H%x00%P%x00%at%x00%aI%x00%an%x00%ae%x00%B"
    args = ["log", f"--format={fmt}", "-z", "--topo-order"]
    if with_diffs:
        args += ["--raw", "--patch", *_diff_options(context_lines)]
    else:
        args += ["--encoding=UTF-8"]
    if first_parent:
        args += ["--first-parent", "--diff-merges=first-parent"]
    else:
        args += ["--diff-merges=off"]
    if oldest_first:
        args.append("--reverse")
    return git_command(repo, *args, tip, "--")


def iter_commits(
    repo: str,
    tip: str,
    *,
    first_parent: bool = False,
    oldest_first: bool = True,
    context_lines: int = 3,
    max_diff_bytes: int = 1_000_000,
    with_diffs: bool = True,
) -> Iterator[Commit]:
    """Every commit reachable from ``tip`` (a commit id, or a range ``a..b``) in topological order.

        With ``first_parent`` only the first-parent chain is walked and a merge carries its diff against its
        first parent; otherwise merges carry no changes. A commit's diff is kept up to ``max_diff_bytes``
        (``diff_cut`` says when it was longer); without ``with_diffs``, commits come without
    their changes. Stopping the iteration early stops git.
    """
    cmd = log_command(
        repo,
        tip,
        first_parent=first_parent,
        oldest_first=oldest_first,
        context_lines=context_lines,
        with_diffs=with_diffs,
    )
    # stderr goes to a file: git may warn once per commit (rename limits), and a full pipe would block it
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, env=git_env())
        assert proc.stdout is not None
        finished = False
        try:
            yield from _parse_log(_NulStream(proc.stdout), max_diff_bytes)
            finished = True
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise GitError(lines[-1] if lines else f"git log exited with {code}")


def _parse_log(s: _NulStream, max_diff_bytes: int) -> Iterator[Commit]:
    if s.peek() == b"":
        return
    if s.peek() != b"\0":
        raise GitError("unexpected `git log` output: no commit header")
    s.skip()
    while True:
        fields = [s.token()[0] for _ in range(6)]
        message, _, _ = s.token(MAX_MESSAGE_BYTES)
        sha, parents, at, ad, an, ae = (f.decode("utf-8", "replace") for f in fields)
        commit = Commit(
            sha=sha,
            parents=parents.split(),
            author_time=int(at or 0),
            author_date=ad,
            author_name=an,
            author_email=ae,
            message=message,
        )
        nxt = s.peek()
        if nxt == b"":
            yield commit
            return
        if nxt == b"\0":  # no changes listed; the NUL opens the next commit
            s.skip()
            yield commit
            continue
        if nxt != b"\n":
            raise GitError(f"unexpected `git log` output after commit {sha}")
        s.skip()
        while s.peek() == b":":
            commit.changes.append(_raw_change(s))
        if s.peek() == b"\0":  # ends the raw list
            s.skip()
        patch, total, more = s.token(max_diff_bytes)
        commit.diff_bytes = total
        commit.diff_cut = total > len(patch)
        commit.diff_unparsed = not _attach_patches(commit.changes, patch, commit.diff_cut)
        yield commit
        if not more:
            return


def _raw_change(s: _NulStream) -> FileChange:
    meta = s.token()[0].decode("ascii", "replace")
    old_mode, new_mode, old_blob, new_blob, status = meta[1:].split(" ")[:5]
    letter = status[:1]
    first = s.token()[0].decode("utf-8", "replace")
    second = s.token()[0].decode("utf-8", "replace") if letter in ("R", "C") else None
    old_path: str | None = first
    new_path: str | None = second if second is not None else first
    if letter == "A":
        old_path = None
    elif letter == "D":
        new_path = None
    return FileChange(letter, old_path, new_path, old_mode, new_mode, old_blob, new_blob)


def _attach_patches(changes: list[FileChange], patch: bytes, cut: bool) -> bool:
    """Give each change its section of ``patch`` (git lists both in the same order); False if they differ."""
    starts = [m.start() for m in _SECTION.finditer(patch)]
    sections = [patch[a:b] for a, b in zip(starts, [*starts[1:], len(patch)], strict=False)]
    if cut and sections:
        sections.pop()  # the last section is incomplete
    elif len(sections) != len(changes):
        return False
    for change, section in zip(changes, sections, strict=False):
        change.patch = section
        change.binary = _BINARY.search(section) is not None
    return True


def diff_trees(
    repo: str, old: str, new: str, *, context_lines: int = 3, max_diff_bytes: int = 1_000_000
) -> list[FileChange]:
    """The changed files between two commits (or trees), each with its diff section (None past the cap)."""
    cmd = git_command(
        repo, "diff-tree", "-r", "-z", "--raw", "--patch", *_diff_options(context_lines), old, new
    )
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, env=git_env())
        assert proc.stdout is not None
        with proc.stdout:
            s = _NulStream(proc.stdout)
            changes = []
            while s.peek() == b":":
                changes.append(_raw_change(s))
            if s.peek() == b"\0":
                s.skip()
            patch, total, _ = s.token(max_diff_bytes)  # reads to the end, keeping at most the cap
        if proc.wait() != 0:
            errors.seek(0)
            raise GitError(errors.read().decode("utf-8", "replace").strip() or "git diff-tree failed")
    if not _attach_patches(changes, patch, total > len(patch)):
        raise GitError(f"git diff-tree {old} {new}: the diff does not match the list of changed files")
    return changes


def empty_tree(repo: str) -> str:
    """The id of the empty tree (the "parent" of a root commit) in the repository's hash function."""
    out = subprocess.run(
        git_command(repo, "hash-object", "-t", "tree", "--stdin"),
        input=b"",
        capture_output=True,
        env=git_env(),
        check=True,
    )
    return out.stdout.decode().strip()


class BlobReader:
    """File contents by blob id from one long-lived ``git cat-file --batch`` process.

    Ids can be queued with :meth:`request` and their contents taken in the same order with
    :meth:`response`; up to ``WINDOW`` requests are sent at a time, which saves a round trip per file
    while the ids in flight still fit in a pipe buffer (so neither side can block the other).
    """

    WINDOW = 64

    def __init__(self, repo: str):
        self.proc = subprocess.Popen(
            git_command(repo, "cat-file", "--batch"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(),
        )
        self.queued: deque[str] = deque()
        self.in_flight: deque[str] = deque()

    def request(self, blobs: list[str]) -> None:
        self.queued.extend(blobs)

    def response(self, max_bytes: int) -> tuple[bytes | None, int]:
        """The next requested blob's bytes (None when larger than ``max_bytes`` or missing) and its size
        (-1: missing)."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        if not self.in_flight:
            if not self.queued:
                raise ValueError("no blob was requested")
            for _ in range(min(self.WINDOW, len(self.queued))):
                self.in_flight.append(self.queued.popleft())
            stdin.write("".join(f"{b}\n" for b in self.in_flight).encode())
            stdin.flush()
        blob = self.in_flight.popleft()
        header = stdout.readline().split()
        if len(header) != 3:  # "<id> missing" (or git died: an empty line)
            if not header:
                raise GitError(f"git cat-file stopped while reading {blob}")
            return None, -1
        size = int(header[2])
        if size > max_bytes:
            left = size + 1
            while left:
                chunk = stdout.read(min(left, CHUNK))
                if not chunk:
                    raise GitError(f"git cat-file stopped while reading {blob}")
                left -= len(chunk)
            return None, size
        data = stdout.read(size + 1)[:size]  # the trailing newline is git's, not the file's
        return data, size

    def read(self, blob: str, max_bytes: int) -> tuple[bytes | None, int]:
        """One blob, when no other request is pending: see :meth:`response`."""
        if self.queued or self.in_flight:
            raise ValueError("read() while other requests are pending")
        self.request([blob])
        return self.response(max_bytes)

    def close(self) -> None:
        # Its output pipe first: git blocked writing answers nobody will read (a reader that stopped early)
        # gets EPIPE and exits at once, instead of waiting for an end of input it cannot reach.
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
            except BrokenPipeError:  # git already gone
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
