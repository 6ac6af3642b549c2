"""Pull-request-shaped records derived from a local git repository's history (demo data, offline).

These are *not* pull requests: git keeps no titles, reviews or discussions of its own. The history is
cut into would-be pull requests along the first-parent chain of ``ref``: each merge commit becomes one
(base: its first parent, head: its second parent, the change: what the merge brought in), and each run
of ``commits_per_pr`` consecutive non-merge commits becomes one (base: the parent of the run's first
commit, head: its last commit). Titles and descriptions come from the commit messages, the author is the
commit's author *name* (never its e-mail), the state is merged, and there are no comments. Every record
says so in its metadata: ``"synthetic": "derived from git history of <name>"``. The records follow the
``github_prs`` schema (docs/github_prs.md) and are a function of the repository alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from mixer.readers.gitcli import (
    BlobReader,
    Commit,
    FileChange,
    GitError,
    diff_trees,
    empty_tree,
    iter_commits,
    resolve_ref,
)
from mixer.render.commits import clean_message

GITHUB_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
_REGULAR_MODES = {"100644", "100755", "100664", "000000"}


def prs_from_git(
    repo: str | os.PathLike[str],
    *,
    ref: str = "HEAD",
    name: str | None = None,
    commits_per_pr: int = 1,
    max_patch_bytes: int = 100_000,
    max_base_bytes: int = 100_000,
) -> Iterator[dict[str, Any]]:
    """Yield one ``github_prs`` record per merge commit or run of commits on ``ref``'s first-parent chain.

    ``name`` is the repository name the records carry (default: the folder's name without ``.git``).
    A file's ``patch`` is left out when it is binary, not UTF-8 or longer than ``max_patch_bytes`` (as
    GitHub leaves it out); its ``base_content`` likewise, or when longer than ``max_base_bytes``.
    Raises :class:`~mixer.readers.gitcli.GitError` when ``repo`` has no commit ``ref``.
    """
    if commits_per_pr < 1:
        raise ValueError("commits_per_pr must be at least 1")
    path = os.fspath(repo)
    tip = resolve_ref(path, ref)
    if tip is None:
        raise GitError(f"{path}: no commit named '{ref}'")
    name = name or os.path.basename(os.path.realpath(path)).removesuffix(".git")
    number = 0
    run: list[Commit] = []
    with BlobReader(path) as blobs:

        def record(base: str, head: str, commits: list[Commit], merge: Commit | None) -> dict[str, Any]:
            nonlocal number
            number += 1
            return _record(
                path, name, number, base, head, commits, merge, blobs, max_patch_bytes, max_base_bytes
            )

        for commit in iter_commits(path, tip, first_parent=True, with_diffs=False):
            if commit.is_merge:
                if run:
                    yield record(_base_of(path, run[0]), run[-1].sha, run, None)
                    run = []
                side = _side_commits(path, commit.parents[0], commit.parents[1])
                yield record(commit.parents[0], commit.parents[1], side, commit)
                continue
            run.append(commit)
            if len(run) == commits_per_pr:
                yield record(_base_of(path, run[0]), run[-1].sha, run, None)
                run = []
        if run:
            yield record(_base_of(path, run[0]), run[-1].sha, run, None)


def _base_of(repo: str, first: Commit) -> str:
    return first.parents[0] if first.parents else empty_tree(repo)


def _side_commits(repo: str, base: str, head: str) -> list[Commit]:
    """The commits a merge brought in (``base..head``), oldest first, without their diffs."""
    return list(iter_commits(repo, f"{base}..{head}", with_diffs=False))


def _record(
    repo: str,
    name: str,
    number: int,
    base: str,
    head: str,
    commits: list[Commit],
    merge: Commit | None,
    blobs: BlobReader,
    max_patch_bytes: int,
    max_base_bytes: int,
) -> dict[str, Any]:
    messages = [clean_message(c.message.decode("utf-8", "replace")) for c in commits]
    if merge is not None:
        merge_message = clean_message(merge.message.decode("utf-8", "replace"))
        title, _, body = merge_message.partition("\n")
        if not body.strip() and messages:
            body = "\n".join(f"- {m.partition(chr(10))[0]}" for m in messages)
    elif len(commits) == 1:
        title, _, body = messages[0].partition("\n")
    else:
        title = messages[0].partition("\n")[0]
        body = "\n".join(f"- {m.partition(chr(10))[0]}" for m in messages)
    last = merge or commits[-1]
    first = commits[0] if commits else last
    files = [_file(c, blobs, max_patch_bytes, max_base_bytes) for c in diff_trees(repo, base, head)]
    return {
        "repo": name,
        "number": number,
        "title": title.strip(),
        "body": body.strip(),
        "state": "closed",
        "merged": True,
        "user": first.author_name,
        "created_at": first.author_date,
        "merged_at": last.author_date,
        "base": {"sha": base},
        "head": {"sha": head},
        "files": files,
        "comments": [],
        "metadata": {
            "synthetic": f"derived from git history of {name}",
            "commits": [c.sha for c in commits] + ([merge.sha] if merge is not None else []),
        },
    }


def _file(change: FileChange, blobs: BlobReader, max_patch_bytes: int, max_base_bytes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"filename": change.path, "status": GITHUB_STATUS.get(change.status, "changed")}
    if change.status in ("R", "C"):
        out["previous_filename"] = change.old_path
    regular = {change.old_mode, change.new_mode} <= _REGULAR_MODES
    patch = _hunks_only(change.patch) if change.patch is not None and regular and not change.binary else None
    if patch is not None and len(patch) <= max_patch_bytes:
        try:
            out["patch"] = patch.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if change.old_path is not None and change.status != "A" and regular and not change.binary:
        data, _ = blobs.read(change.old_blob, max_base_bytes)
        if data is not None and b"\0" not in data[:8000]:
            try:
                out["base_content"] = data.decode("utf-8")
            except UnicodeDecodeError:
                pass
    return out


def _hunks_only(section: bytes) -> bytes | None:
    """A ``diff --git`` section as GitHub's ``patch`` field has it: from the first ``@@`` on."""
    at = section.find(b"\n@@ ")
    return section[at + 1 :] if at >= 0 else None
