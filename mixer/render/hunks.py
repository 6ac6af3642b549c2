"""Unified-diff hunks: where a change touches a file, and a window of lines around it."""

from __future__ import annotations

import re

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.M)


def hunk_ranges(patch: str) -> list[tuple[int, int, int, int]]:
    """``(old_start, old_lines, new_start, new_lines)`` of every ``@@`` header in ``patch``."""
    return [(int(a), int(b) if b else 1, int(c), int(d) if d else 1) for a, b, c, d in _HUNK.findall(patch)]


def changed_span(ranges: list[tuple[int, int, int, int]], side: str) -> tuple[int, int] | None:
    """The 1-based line span (first, last) the hunks cover on the ``old`` or ``new`` side.

    A hunk that removes nothing on a side (``-5,0``) marks the position after line 5 there, so the span
    is never empty when there are hunks: ``last`` is at least ``first - 1``.
    """
    if not ranges:
        return None
    spans = []
    for old_start, old_len, new_start, new_len in ranges:
        start, length = (old_start, old_len) if side == "old" else (new_start, new_len)
        spans.append((start + 1, start) if length == 0 else (start, start + length - 1))
    return min(s for s, _ in spans), max(e for _, e in spans)


def split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` (git's notion of a line: ``\\r`` and other breaks do not split)."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def window(lines: list[str], span: tuple[int, int], context: int) -> str:
    """The lines of ``span`` (1-based, inclusive) with ``context`` lines either side."""
    first, last = span
    return "".join(lines[max(first - 1 - context, 0) : max(last, first - 1) + context])
