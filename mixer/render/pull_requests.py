"""Pull requests as documents, in the style of The Stack v2 (StarCoder2, Lozhkov et al. 2024, §5.2).

A record (the schema in docs/github_prs.md) is checked, filtered and rendered as::

    <pr>Title: {title}
    user_1: {description}
    <pr_status>opened
    <pr_base>
    <pr_file>{path}
    <pr_base_code>{the base file, or the lines around the change}
    <pr_diff>
    <pr_file>{path}
    <pr_diff_hunk>{hunk}
    <pr_comment>user_2: {comment}
    <pr_review>user_3: {review}
    <pr_review_state>approved
    <pr_review_comment>
    <pr_file>{path}
    <pr_diff_hunk_comment_line>{line}
    <pr_diff_hunk>{the hunk commented on}
    <pr_comment>user_2: {review comment}
    <pr_status>closed
    <pr_is_merged>True

Unlike The Stack v2, nothing is random: base files appear whole up to ``base_full_file_lines`` lines and
as a window around the changed lines otherwise, and the discussion is one block in time order (the
schema has no per-head-commit history). Participants become ``user_1`` (the author), ``user_2``, ... in
order of first appearance among the participants (the author, then commenters in time order); an
``@login`` mention becomes ``@user_k`` the same way, a login that does not take part getting the next
number when first mentioned (inside Markdown code only participants are rewritten: ``@property`` stays).
The numbering depends on the pull request alone, so it needs no seed and is stable across builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from mixer.render.hunks import changed_span, hunk_ranges, split_lines, window

DEFAULT_BOT_LOGINS = [
    "dependabot",
    "renovate",
    "github-actions",
    "codecov",
    "codecov-io",
    "coveralls",
    "netlify",
    "vercel",
    "mergify",
    "stale",
    "sonarcloud",
    "pre-commit-ci",
    "k8s-ci-robot",
    "googlebot",
    "claassistant",
    "allcontributors",
]
REVIEW_STATES = {
    "APPROVED": "approved",
    "CHANGES_REQUESTED": "changes_requested",
    "COMMENTED": "commented",
    "DISMISSED": "dismissed",
}
EVENT_KINDS = ("comment", "review", "review_comment")


class PRSettings(Protocol):
    """What the renderer needs from a source's recipe block (see mixer.sources.github_prs)."""

    keep: str
    min_title_chars: int
    max_title_chars: int
    min_body_chars: int
    max_body_chars: int
    bot_logins: list[str]
    max_files: int
    max_bytes: int
    base_full_file_lines: int
    base_window_lines: int
    include_repo_name: bool


@dataclass
class Drop:
    """A record that does not become a document: the reason (counted) and a detail (an example)."""

    reason: str
    detail: str = ""


@dataclass
class PRFile:
    filename: str
    status: str
    previous_filename: str | None
    patch: str | None
    base_content: str | None


@dataclass
class PREvent:
    kind: str
    user: str
    body: str
    created_at: str
    state: str | None = None
    path: str | None = None
    diff_hunk: str | None = None
    line: int | None = None


@dataclass
class PullRequest:
    repo: str
    number: int
    title: str
    body: str
    state: str
    merged: bool
    user: str
    files: list[PRFile]
    events: list[PREvent]
    metadata: dict[str, Any] = field(default_factory=dict)


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str):
        self.drop = Drop(reason, detail)


def _get(obj: dict, key: str, where: str, kinds: tuple[type, ...], required: bool = True) -> Any:
    value = obj.get(key)
    if value is None:
        if required:
            raise _Invalid("missing_field", f"{where}{key}")
        return None
    # bool is an int: a field that wants a number must not accept true
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise _Invalid("invalid_field", f"{where}{key}: expected {names}, got {type(value).__name__}")
    return value


def _login(obj: dict, key: str, where: str) -> str:
    value = _get(obj, key, where, (str, dict))
    if isinstance(value, dict):  # the REST API's user object
        value = _get(value, "login", f"{where}{key}.", (str,))
    return value


def parse_pull_request(record: Any) -> PullRequest | Drop:
    """The record as a :class:`PullRequest`, or why it cannot be one (naming the field)."""
    if not isinstance(record, dict):
        return Drop("not_an_object", type(record).__name__)
    try:
        state = _get(record, "state", "", (str,))
        if state not in ("open", "closed"):
            raise _Invalid("invalid_field", f"state: expected 'open' or 'closed', got {state!r}")
        files = []
        for i, f in enumerate(_get(record, "files", "", (list,))):
            where = f"files[{i}]."
            if not isinstance(f, dict):
                raise _Invalid("invalid_field", f"files[{i}]: expected an object")
            files.append(
                PRFile(
                    filename=_get(f, "filename", where, (str,)),
                    status=_get(f, "status", where, (str,)),
                    previous_filename=_get(f, "previous_filename", where, (str,), required=False),
                    patch=_get(f, "patch", where, (str,), required=False),
                    base_content=_get(f, "base_content", where, (str,), required=False),
                )
            )
        events = []
        for i, e in enumerate(_get(record, "comments", "", (list,), required=False) or []):
            where = f"comments[{i}]."
            if not isinstance(e, dict):
                raise _Invalid("invalid_field", f"comments[{i}]: expected an object")
            kind = _get(e, "kind", where, (str,))
            if kind not in EVENT_KINDS:
                raise _Invalid("invalid_field", f"{where}kind: expected one of {', '.join(EVENT_KINDS)}")
            events.append(
                PREvent(
                    kind=kind,
                    user=_login(e, "user", where),
                    body=_get(e, "body", where, (str,), required=False) or "",
                    created_at=_get(e, "created_at", where, (str,)),
                    state=_get(e, "state", where, (str,), required=kind == "review"),
                    path=_get(e, "path", where, (str,), required=False),
                    diff_hunk=_get(e, "diff_hunk", where, (str,), required=False),
                    line=_get(e, "line", where, (int,), required=False),
                )
            )
        return PullRequest(
            repo=_get(record, "repo", "", (str,)),
            number=_get(record, "number", "", (int,)),
            title=_get(record, "title", "", (str,)),
            body=_get(record, "body", "", (str,), required=False) or "",
            state=state,
            merged=_get(record, "merged", "", (bool,)),
            user=_login(record, "user", ""),
            files=files,
            events=events,
            metadata=_get(record, "metadata", "", (dict,), required=False) or {},
        )
    except _Invalid as e:
        return e.drop


@dataclass
class RenderedPR:
    text: str
    metadata: dict[str, Any]


class PRRenderer:
    """Filters and renders pull requests with one source's settings."""

    def __init__(self, settings: PRSettings):
        self.s = settings
        self.bots = {b.lower() for b in settings.bot_logins}

    def is_bot(self, login: str) -> bool:
        low = login.lower()
        return low.endswith("[bot]") or low in self.bots or low.removesuffix("[bot]") in self.bots

    def render(self, record: Any) -> RenderedPR | Drop:
        pr = parse_pull_request(record)
        if isinstance(pr, Drop):
            return pr
        s = self.s
        if self.is_bot(pr.user):
            return Drop("bot_author", f"{pr.repo}#{pr.number}")
        events = [e for e in pr.events if not self.is_bot(e.user)]
        bots_removed = len(pr.events) - len(events)
        approved = any(e.kind == "review" and (e.state or "").upper() == "APPROVED" for e in events)
        if s.keep == "merged" and not pr.merged:
            return Drop("not_merged", f"{pr.repo}#{pr.number}")
        if s.keep == "merged_or_approved" and not (pr.merged or approved):
            return Drop("not_merged_or_approved", f"{pr.repo}#{pr.number}")
        for name, value, low, high in (
            ("title", pr.title.strip(), s.min_title_chars, s.max_title_chars),
            ("body", pr.body.strip(), s.min_body_chars, s.max_body_chars),
        ):
            if len(value) < low:
                return Drop(f"{name}_too_short", f"{pr.repo}#{pr.number}: {len(value)} characters")
            if len(value) > high:
                return Drop(f"{name}_too_long", f"{pr.repo}#{pr.number}: {len(value)} characters")
        if len(pr.files) > s.max_files:
            return Drop("too_many_files", f"{pr.repo}#{pr.number}: {len(pr.files)} files")
        if not any(f.patch for f in pr.files):
            return Drop("no_diff", f"{pr.repo}#{pr.number}")
        events.sort(key=lambda e: e.created_at)  # stable: equal times keep the record's order
        text = self._text(pr, events, with_base=True)
        base_dropped = False
        if len(text.encode()) > s.max_bytes:
            text, base_dropped = self._text(pr, events, with_base=False), True
            if len(text.encode()) > s.max_bytes:
                return Drop("pr_too_large", f"{pr.repo}#{pr.number}: {len(text.encode())} bytes")
        metadata = {
            **pr.metadata,
            "repo": pr.repo,
            "number": pr.number,
            "state": pr.state,
            "merged": pr.merged,
            "approved": approved,
            "files": len(pr.files),
            "comments": len(events),
            "bot_comments_removed": bots_removed,
            "base_code_dropped": base_dropped,
        }
        return RenderedPR(text, metadata)

    def _text(self, pr: PullRequest, events: list[PREvent], with_base: bool) -> str:
        s = self.s
        names: dict[str, str] = {}
        for login in [pr.user, *(e.user for e in events)]:
            names.setdefault(login.lower(), f"user_{len(names) + 1}")
        anon = _Pseudonyms(names).rewrite

        def who(login: str) -> str:
            return names[login.lower()]

        out = [f"<pr>Title: {anon(pr.title.strip())}"]
        if pr.body.strip():
            out.append(f"{who(pr.user)}: {anon(_strip(pr.body))}")
        out.append("<pr_status>opened")
        if s.include_repo_name:
            out.append(f"<repo_name>{pr.repo}")
        base = [(f, self._base_code(f)) for f in pr.files] if with_base else []
        base = [(f, code) for f, code in base if code is not None]
        if base:
            out.append("<pr_base>")
            for f, code in base:
                out += [f"<pr_file>{f.previous_filename or f.filename}", f"<pr_base_code>{_strip(code)}"]
        out.append("<pr_diff>")
        for f in pr.files:
            if f.patch:
                out.append(f"<pr_file>{f.filename}")
                out += [f"<pr_diff_hunk>{_strip(h)}" for h in _hunks(f.patch)]
        for e in events:
            body = anon(_strip(e.body))
            if e.kind == "comment" and body:
                out.append(f"<pr_comment>{who(e.user)}: {body}")
            elif e.kind == "review":
                state = (e.state or "").upper()
                if state == "PENDING" or (state == "COMMENTED" and not body):
                    continue  # unsubmitted, or the empty wrapper of review comments
                out.append(f"<pr_review>{who(e.user)}: {body}" if body else f"<pr_review>{who(e.user)}")
                out.append(f"<pr_review_state>{REVIEW_STATES.get(state, state.lower())}")
            elif e.kind == "review_comment" and body:
                out.append("<pr_review_comment>")
                if e.path:
                    out.append(f"<pr_file>{e.path}")
                if e.line is not None:
                    out.append(f"<pr_diff_hunk_comment_line>{e.line}")
                if e.diff_hunk:
                    out.append(f"<pr_diff_hunk>{_strip(e.diff_hunk)}")
                out.append(f"<pr_comment>{who(e.user)}: {body}")
        if pr.state == "closed":
            out += ["<pr_status>closed", f"<pr_is_merged>{pr.merged}"]
        return "\n".join(out)

    def _base_code(self, f: PRFile) -> str | None:
        """The base file whole when short, else the lines the patch touches with context; None if unknown."""
        if f.base_content is None or f.status == "added":
            return None
        lines = split_lines(f.base_content)
        if len(lines) <= self.s.base_full_file_lines:
            return f.base_content
        span = changed_span(hunk_ranges(f.patch or ""), "old")
        if span is None:
            return None
        return window(lines, span, self.s.base_window_lines)


def _strip(text: str) -> str:
    """Text without trailing newlines and spaces (each rendered item ends its own line)."""
    return text.replace("\r\n", "\n").rstrip()


def _hunks(patch: str) -> list[str]:
    starts = [m.start() for m in re.finditer(r"^@@ ", patch, re.M)]
    return [patch[a:b] for a, b in zip(starts, [*starts[1:], len(patch)], strict=False)]


# An @mention: a GitHub login (letters, digits, single hyphens) not glued to a word before it (e-mail
# addresses) nor followed by a word or ".word" (decorators such as @pytest.fixture, package scopes).
_MENTION = re.compile(r"(?<![\w@./-])@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})(?![\w-]|\.\w)")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)


class _Pseudonyms:
    """Rewrites @mentions: participants keep their number, other logins get the next ones as met.

    Inside Markdown code (fenced blocks, `spans`) only participants' logins are rewritten, since an @word
    there is more likely a decorator than a person.
    """

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.participants = set(names)

    def _sub(self, match: re.Match[str], in_code: bool) -> str:
        login = match.group(1).lower()
        if in_code and login not in self.participants:
            return match.group(0)
        return "@" + self.names.setdefault(login, f"user_{len(self.names) + 1}")

    def rewrite(self, text: str) -> str:
        out, pos = [], 0
        for code in _CODE.finditer(text):
            out.append(_MENTION.sub(lambda m: self._sub(m, False), text[pos : code.start()]))
            out.append(_MENTION.sub(lambda m: self._sub(m, True), code.group(0)))
            pos = code.end()
        out.append(_MENTION.sub(lambda m: self._sub(m, False), text[pos:]))
        return "".join(out)
