"""The ``github_prs`` kind: JSON Lines of pull requests (schema in docs/github_prs.md), one document each.

Records are rendered in the style of The Stack v2 (see :mod:`mixer.render.pull_requests`): title and
description, base file context, diff hunks, then the discussion in time order, with participants
replaced by ``user_1``, ``user_2``, ... Every pull request that is dropped is a counted skip with its
reason; a record missing a required field is a skip that names the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from mixer.render.pull_requests import DEFAULT_BOT_LOGINS
from mixer.sources.base import GlobSource, register_source

if TYPE_CHECKING:
    pass


@register_source
class GithubPRsSource(GlobSource):
    """Pull requests, one JSON object per line (plain, .gz or .zst)."""

    kind: ClassVar[str] = "github_prs"
    reader_class: ClassVar[str] = "mixer.readers.github_prs:GithubPRsReader"
    type: Literal["github_prs"] = "github_prs"
    directory_suffixes: ClassVar[tuple[str, ...]] = (
        ".jsonl",
        ".jsonl.gz",
        ".jsonl.zst",
        ".jsonl.bz2",
        ".jsonl.xz",
        ".ndjson",
    )
    keep: Literal["merged_or_approved", "merged", "all"] = Field(
        default="merged_or_approved",
        description="Which pull requests become documents: merged ones or ones with an approving "
        "review (by a non-bot), merged ones only, or all.",
    )
    min_title_chars: int = Field(default=5, ge=0, description="Drop pull requests with a shorter title.")
    max_title_chars: int = Field(default=300, gt=0, description="Drop pull requests with a longer title.")
    min_body_chars: int = Field(default=0, ge=0, description="Drop pull requests with a shorter description.")
    max_body_chars: int = Field(
        default=20_000, gt=0, description="Drop pull requests with a longer description."
    )
    bot_logins: list[str] = Field(
        default=DEFAULT_BOT_LOGINS,
        description="Logins (case-insensitive) of automated accounts, besides any login ending in "
        "'[bot]': their comments and reviews are removed, their pull requests dropped.",
    )
    max_files: int = Field(default=50, gt=0, description="Drop pull requests that change more files.")
    max_bytes: int = Field(
        default=200_000,
        gt=0,
        description="A rendered pull request larger than this loses its base code; if still larger, "
        "it is dropped (pr_too_large).",
    )
    base_full_file_lines: int = Field(
        default=200,
        gt=0,
        description="Base files with at most this many lines appear whole; longer ones as the lines "
        "the patch touches plus `base_window_lines` either side.",
    )
    base_window_lines: int = Field(
        default=32, ge=0, description="Context lines around a long base file's change."
    )
    include_repo_name: bool = Field(
        default=False,
        description="Add <repo_name>owner/name after the status line. Off by default: the owner is "
        "often a person's login, which the pseudonyms would otherwise keep out of the text.",
    )
