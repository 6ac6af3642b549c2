"""The ``git_commits`` reader: a repository's history streamed from git, one commit at a time.

Positions in skip counts are commit ordinals (1 = the first commit read, in the source's ``order``),
with the commit id (and the file, for ``commitpack``) in the detail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mixer.readers.base import MixerReader, Skip
from mixer.readers.gitcli import (
    BlobReader,
    Commit,
    FileChange,
    GitError,
    has_commits,
    iter_commits,
    resolve_ref,
)
from mixer.render.commits import MessageRules, clean_message, render_commitpack, render_diff
from mixer.render.hunks import changed_span, hunk_ranges, split_lines, window

if TYPE_CHECKING:
    from mixer.sources.base import InputFile
    from mixer.sources.git_commits import GitCommitsSource

_REGULAR_MODES = {"100644", "100755", "100664", "000000"}
_NULL_BLOB = "0" * 40
_BINARY_SNIFF = 8000  # git's own heuristic: a NUL in the first 8000 bytes means binary


class GitCommitsReader(MixerReader):
    name = "mixer git commits"

    def __init__(self, source: str, files: list[InputFile], *, config: GitCommitsSource):
        super().__init__(source, files)
        self.config = config

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        cfg = self.config
        tip = resolve_ref(path, cfg.ref)
        if tip is None:
            if has_commits(path):
                yield 0, Skip("ref_not_found", 0, f"no commit named '{cfg.ref}'")
            else:
                yield 0, Skip("empty_repository", 0, "no commits")
            return
        m = cfg.messages
        rules = MessageRules.build(m.min_chars, m.max_chars, m.drop_patterns, m.bot_authors)
        commitpack = cfg.format == "commitpack"
        commits = iter_commits(
            path,
            tip,
            first_parent=cfg.merges == "first_parent",
            oldest_first=cfg.order == "oldest_first",
            # commitpack needs only where the changes are (for windows): no context lines
            context_lines=0 if commitpack else cfg.context_lines,
            max_diff_bytes=cfg.max_diff_bytes,
        )
        blobs = BlobReader(path) if commitpack else None
        # A commit is rendered only once git has moved on to the next one or exited cleanly: when git dies
        # mid-way (a corrupt object), the commit it was printing is cut short, and a diff cut short must
        # neither become a document nor be counted under another reason. So two commits are held at most.
        done = 0  # commits rendered
        held: Commit | None = None
        try:
            for n, commit in enumerate(commits, start=1):
                if held is not None:
                    for record in self._commit(path, n - 1, held, rules, blobs):
                        yield n - 1, record
                    done = n - 1
                held = commit
            if held is not None:
                for record in self._commit(path, done + 1, held, rules, blobs):
                    yield done + 1, record
        except GitError as e:  # the rest of the repository, from the commit git could not finish
            yield done + 1, Skip("unreadable_repository", done + 1, str(e))
        finally:
            commits.close()
            if blobs is not None:
                blobs.close()

    def _decode(self, data: bytes) -> str | None:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace") if self.config.non_utf8 == "replace" else None

    def _commit(
        self, repo: str, n: int, commit: Commit, rules: MessageRules, blobs: BlobReader | None
    ) -> Iterator[dict[str, Any] | Skip]:
        cfg, sha = self.config, commit.sha
        if commit.is_merge and cfg.merges == "skip":
            yield Skip("merge_commit", n, sha[:12])
            return
        raw_message = self._decode(commit.message)
        if raw_message is None:
            yield Skip("invalid_utf8", n, f"{sha[:12]} message")
            return
        message = clean_message(raw_message)
        reason = rules.verdict(message, commit.author_name, commit.author_email)
        if reason:
            yield Skip(reason, n, sha[:12])
            return
        if not commit.changes:
            yield Skip("empty_commit", n, sha[:12])
            return
        if len(commit.changes) > cfg.max_files_per_commit:
            yield Skip("too_many_files", n, f"{sha[:12]}: {len(commit.changes)} files")
            return
        if commit.diff_unparsed:
            yield Skip("unparsable_diff", n, sha[:12])
            return
        meta = {"repo": repo, "commit": sha, "author_date": commit.author_date}
        if blobs is None:
            yield self._diff_document(n, commit, message, meta)
        else:
            yield from self._file_documents(n, commit, message, meta, blobs)

    def _diff_document(self, n: int, commit: Commit, message: str, meta: dict[str, Any]) -> dict | Skip:
        """Message + unified diff. A binary file, or one not in UTF-8 under ``non_utf8: skip``, is left out
        of the diff (listed in the ``omitted`` metadata); a commit with nothing left is skipped."""
        sha = commit.sha
        if commit.diff_cut:
            return Skip("diff_too_large", n, f"{sha[:12]}: {commit.diff_bytes} bytes")
        kept: list[tuple[FileChange, str]] = []
        omitted: dict[str, str] = {}
        for c in commit.changes:
            text = None if c.binary else self._decode(c.patch or b"")
            if text is None:
                omitted[c.path] = "binary_file" if c.binary else "invalid_utf8"
            else:
                kept.append((c, text))
        if not kept:
            reason = "binary_file" if "binary_file" in omitted.values() else "invalid_utf8"
            return Skip(reason, n, f"{sha[:12]}: no text file left")
        return {
            "text": render_diff(message, [text for _, text in kept]),
            "id": f"{meta['repo']}:{sha}",
            **meta,
            "paths": [c.path for c, _ in kept],
            "changes": [c.change for c, _ in kept],
            "omitted": omitted,
        }

    def _file_documents(
        self, n: int, commit: Commit, message: str, meta: dict[str, Any], blobs: BlobReader
    ) -> Iterator[dict[str, Any] | Skip]:
        """One document per changed file. The contents of the files that pass the first checks are asked
        of git together and taken one file at a time, so at most one file's two sides are in memory."""
        checks = [(c, self._file_check(c)) for c in commit.changes]
        blobs.request(
            [b for c, why in checks if why is None for b in (c.old_blob, c.new_blob) if b != _NULL_BLOB]
        )
        for c, why in checks:
            where = f"{commit.sha[:12]} {c.path}"
            if why is not None:
                yield Skip(why, n, where)
                continue
            # both sides are taken from the pipe before either is judged, to keep requests and answers in step
            sides = [
                (b"", 0) if b == _NULL_BLOB else blobs.response(self.config.max_file_bytes)
                for b in (c.old_blob, c.new_blob)
            ]
            yield self._file_document(n, commit, c, message, meta, sides, where)

    def _file_check(self, c: FileChange) -> str | None:
        """Why a changed file cannot be a document, judged before its contents are read."""
        if c.status not in ("A", "M", "D", "R", "T") or not {c.old_mode, c.new_mode} <= _REGULAR_MODES:
            return "not_a_regular_file"
        if c.binary:
            return "binary_file"
        if c.old_blob == c.new_blob:
            return "no_content_change"  # a pure rename or mode change
        return None

    def _file_document(
        self,
        n: int,
        commit: Commit,
        c: FileChange,
        message: str,
        meta: dict[str, Any],
        sides: list[tuple[bytes | None, int]],
        where: str,
    ) -> dict | Skip:
        cfg = self.config
        for data, size in sides:
            if data is None and size < 0:
                return Skip("missing_blob", n, where)  # a shallow or partial clone
            if data is None:
                return Skip("file_too_large", n, f"{where}: {size} bytes")
            if b"\0" in data[:_BINARY_SNIFF]:
                return Skip("binary_file", n, where)
        before, after = (self._decode(data or b"") for data, _ in sides)
        if before is None or after is None:
            return Skip("invalid_utf8", n, where)
        old_lines, new_lines = split_lines(before), split_lines(after)
        if max(len(old_lines), len(new_lines)) > cfg.full_file_lines:
            if c.patch is None:
                return Skip("diff_too_large", n, f"{where}: the commit's diff is {commit.diff_bytes} bytes")
            ranges = hunk_ranges(c.patch.decode("utf-8", "replace"))
            old_span, new_span = changed_span(ranges, "old"), changed_span(ranges, "new")
            if old_span is None or new_span is None:
                return Skip("unparsable_diff", n, where)
            before = window(old_lines, old_span, cfg.window_lines)
            after = window(new_lines, new_span, cfg.window_lines)
        return {
            "text": render_commitpack(message, before, after),
            "id": f"{meta['repo']}:{commit.sha}:{c.path}",
            **meta,
            "path": c.path,
            "old_path": c.old_path,
            "change": c.change,
        }
