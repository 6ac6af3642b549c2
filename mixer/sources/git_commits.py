"""The ``git_commits`` kind: local git repositories, one document per changed file or per commit.

Each repository is one unit of work. Its history is streamed from the git command line (see
:mod:`mixer.readers.gitcli`); a path that is not the top folder of a git repository is an error at plan time
(naming the path), since a mistyped path should not silently shrink a source. A repository without
commits, or without the configured ``ref``, is read as a counted skip.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from mixer.render.commits import DEFAULT_BOT_AUTHORS, DEFAULT_TRIVIAL_MESSAGES
from mixer.sources.base import InputFile, ResolvedInputs, SourceConfig, StrictModel, register_source

if TYPE_CHECKING:
    pass


class CommitMessageFilter(StrictModel):
    """Which commits are worth a document, judged by message and author (after OctoPack's filters)."""

    min_chars: int = Field(default=8, ge=0, description="Drop commits whose cleaned message is shorter.")
    max_chars: int = Field(default=10_000, gt=0, description="Drop commits whose cleaned message is longer.")
    drop_patterns: list[str] = Field(
        default=DEFAULT_TRIVIAL_MESSAGES,
        description="Regular expressions; a message matching one whole (case-insensitive, trailing "
        "punctuation ignored) says nothing about its change ('update', 'wip', 'Merge branch ...') and is "
        "dropped. Set [] to keep all.",
    )
    bot_authors: list[str] = Field(
        default=DEFAULT_BOT_AUTHORS,
        description="Case-insensitive substrings of an author's name or e-mail that mark an automated "
        "author (dependabot, renovate, '[bot]'); their commits are dropped.",
    )

    @field_validator("drop_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        import re

        for p in patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"'{p}' is not a regular expression ({e})") from None
        return patterns


@register_source
class GitCommitsSource(SourceConfig):
    """Local git repositories (bare or not): commits rendered CommitPack-style or as message + diff."""

    kind: ClassVar[str] = "git_commits"
    reader_class: ClassVar[str] = "mixer.readers.git_commits:GitCommitsReader"
    type: Literal["git_commits"] = "git_commits"
    paths: list[str] = Field(
        min_length=1,
        description="Repository folders or glob patterns matching them ('repos/*/', 'mirrors/*.git'). "
        "Taken in pattern order, sorted within a pattern; every match must be a repository's top folder.",
    )
    format: Literal["commitpack", "diff"] = Field(
        default="commitpack",
        description="commitpack: one document per (commit, changed file), "
        "<commit_before>old<commit_msg>message<commit_after>new; diff: one document per commit, "
        "the message then the unified diff.",
    )
    ref: str = Field(default="HEAD", description="The commit (branch, tag, id) whose history is read.")
    order: Literal["oldest_first", "newest_first"] = Field(
        default="oldest_first",
        description="Topological order from the root (git log --topo-order --reverse) or from `ref`. "
        "newest_first lets git stream without first listing the history.",
    )
    merges: Literal["skip", "first_parent"] = Field(
        default="skip",
        description="skip: every commit reachable from `ref` is read and merge commits are dropped "
        "(counted); first_parent: only the first-parent chain is read and a merge is rendered as its "
        "diff against its first parent, so a merged branch appears once, as its merge.",
    )
    messages: CommitMessageFilter = Field(
        default_factory=CommitMessageFilter, description="Message and author filters."
    )
    non_utf8: Literal["skip", "replace"] = Field(
        default="skip",
        description="A message or file that is not UTF-8: skip it (counted as invalid_utf8), or decode "
        "it with U+FFFD replacement characters.",
    )
    full_file_lines: int = Field(
        default=1000,
        gt=0,
        description="commitpack: files with at most this many lines (before and after) appear whole; "
        "longer ones are cut to the changed span plus `window_lines` either side.",
    )
    window_lines: int = Field(
        default=20, ge=0, description="commitpack: context lines around the change span."
    )
    context_lines: int = Field(default=3, ge=0, description="diff: context lines of the unified diff.")
    max_file_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="commitpack: a file larger than this (before or after) is skipped.",
    )
    max_diff_bytes: int = Field(
        default=200_000,
        gt=0,
        description="A commit whose unified diff is larger is skipped (diff), or its files that need the "
        "diff for a window are (commitpack).",
    )
    max_files_per_commit: int = Field(
        default=100,
        gt=0,
        description="A commit that changes more files (mass renames, vendoring) is skipped.",
    )

    def resolve(self, name: str) -> ResolvedInputs:
        from mixer.errors import PlanError
        from mixer.readers.gitcli import GitError, repository_problem
        from mixer.sources.locations import is_url

        seen: set[str] = set()
        files: list[InputFile] = []
        warnings: list[str] = []
        for i, pattern in enumerate(self.paths):
            if is_url(pattern):
                raise PlanError(
                    f"sources.{name}.paths[{i}]: '{pattern}' is a URL; git repositories are read from the "
                    "local disk: clone them here (a bare clone will do) and list their folders"
                )
            local = os.path.expanduser(pattern)  # an existing folder is taken literally, never as a pattern
            matches = [local] if os.path.lexists(local) else sorted(glob.glob(local, recursive=True))
            if not matches:
                warnings.append(f"sources.{name}.paths[{i}]: '{pattern}' matched nothing")
            for match in matches:
                path = match.rstrip("/") or match
                try:
                    problem = repository_problem(path)
                except GitError as e:
                    raise PlanError(f"source '{name}' (type: git_commits): {e}") from None
                if problem:
                    raise PlanError(
                        f"source '{name}': {path} (from sources.{name}.paths[{i}] '{pattern}') {problem}; "
                        "list repository folders only (a bare repository or the folder that holds .git)"
                    )
                real = os.path.realpath(path)
                if real not in seen:
                    seen.add(real)
                    files.append(InputFile(path=path, bytes=-1))
        if not files:
            raise PlanError(
                f"source '{name}': none of its paths matched a repository ({', '.join(map(repr, self.paths))}); "
                f"check sources.{name}.paths (relative paths are taken from the working directory {os.getcwd()})"
            )
        return ResolvedInputs(files=files, warnings=warnings)
