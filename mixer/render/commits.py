"""Commits as documents: message clean-up and filters (after OctoPack), and the two text formats.

``commitpack`` (StarCoder / OctoPack's CommitPack): one document per changed file,
``<commit_before>{old file}<commit_msg>{message}<commit_after>{new file}``. ``diff``: one document per
commit, the message, a blank line, then git's unified diff (without its ``index <blob>..<blob>`` lines,
whose hashes carry nothing a model can learn).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Messages that say nothing about the change: matched case-insensitively against the whole cleaned
# message (a subject with an explanatory body is kept), trailing punctuation ignored. After OctoPack's
# CommitPackFT filters: placeholders, merge subjects, GitHub's web-editor defaults ("Update README.md").
DEFAULT_TRIVIAL_MESSAGES = [
    r"(initial|first|init|inital)( commit| import| version| upload)?",
    r"(update|updates|updated|updating|change|changes|changed|fix|fixes|fixed|minor|minor changes|"
    r"minor fixes|cleanup|clean up|refactor|refactoring|tweak|tweaks|misc|stuff|test|testing|tests|tmp|"
    r"temp|typo|wip|work in progress|save|commit|push|done|more|edit|edits|bump|version bump|"
    r"no message|empty|\.+|-+|\?+|asdf\w*)",
    r"(update|create|delete|rename|add|upload) [\w./ -]*\.\w+",
    r"add files via upload",
    r"merge (branch|remote-tracking branch|pull request|tag|commit|changes|remote|origin)\b.*",
    r"merged? \S+ into \S+",
    r"revert \"(update|wip|merge)\b.*\"",
]
# Automated authors, matched case-insensitively as substrings of the author name or e-mail.
DEFAULT_BOT_AUTHORS = [
    "[bot]",
    "dependabot",
    "renovate",
    "greenkeeper",
    "github-actions",
    "snyk-bot",
    "pre-commit-ci",
    "semantic-release-bot",
    "allcontributors",
    "imgbot",
    "pyup-bot",
]

# Identity trailers: "Signed-off-by: Name <e-mail>", "Co-authored-by: ...", any "Key: Name <e-mail>"
_IDENTITY_TRAILER = re.compile(
    r"^(?:[A-Za-z][\w-]*-by:.*|[A-Za-z][\w-]*:.*<[^<>\s]+@[^<>\s]+>|git-svn-id:.*)$"
)
_GITHUB_MERGE_SUBJECT = re.compile(r"^Merge pull request #\d+ from \S+$")


def clean_message(message: str) -> str:
    """The message as documents show it: identity trailers (which carry e-mail addresses) dropped,
    trailing spaces and outer blank lines removed, and GitHub's "Merge pull request #N from user/branch"
    subject replaced by the pull request title that git puts under it."""
    lines = [line.rstrip() for line in message.replace("\r\n", "\n").split("\n")]
    text = "\n".join(line for line in lines if not _IDENTITY_TRAILER.match(line)).strip()
    subject, _, rest = text.partition("\n")
    if _GITHUB_MERGE_SUBJECT.match(subject) and rest.strip():
        text = rest.strip()
    return text


@dataclass
class MessageRules:
    """The message filters of a source, compiled once."""

    min_chars: int
    max_chars: int
    trivial: list[re.Pattern[str]]
    bots: list[str]

    @classmethod
    def build(cls, min_chars: int, max_chars: int, drop_patterns: list[str], bot_authors: list[str]):
        return cls(
            min_chars,
            max_chars,
            [re.compile(p, re.IGNORECASE) for p in drop_patterns],
            [b.lower() for b in bot_authors],
        )

    def verdict(self, message: str, author_name: str, author_email: str) -> str | None:
        """Why a commit with this cleaned ``message`` and author is dropped, or None to keep it."""
        who = f"{author_name}\n{author_email}".lower()
        if any(b in who for b in self.bots):
            return "bot_author"
        bare = message.rstrip(".!?:; ")
        if any(p.fullmatch(bare) or p.fullmatch(message) for p in self.trivial):
            return "trivial_message"
        if len(message) < self.min_chars:
            return "message_too_short"
        if len(message) > self.max_chars:
            return "message_too_long"
        return None


def render_commitpack(message: str, before: str, after: str) -> str:
    return f"<commit_before>{before}<commit_msg>{message}<commit_after>{after}"


_INDEX_LINE = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+(?: \d+)?\n", re.M)


def diff_section_text(section: str) -> str:
    """One file's ``diff --git`` section without its ``index`` line (content lines never start so)."""
    return _INDEX_LINE.sub("", section, count=1)


def render_diff(message: str, sections: list[str]) -> str:
    return f"{message}\n\n" + "".join(diff_section_text(s) for s in sections)
