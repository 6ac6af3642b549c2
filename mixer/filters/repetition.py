"""datatrove's Gopher repetition rules, computed faster with exactly datatrove's results.

Once words are split quickly (:mod:`mixer.filters.english_words`), most of the Gopher repetition filter's
time goes to datatrove's n-gram helpers, which build a string for every n-gram of every size. The helpers
here give the same numbers with less work:

- :func:`top_duplicate_chars` counts n-grams as tuples of words (``Counter`` over ``zip``, in C) instead of
  ``" ".join``-ed strings. The two are the same count as long as no word holds a space (then a tuple and
  its joined string determine each other); a document whose words do falls back to datatrove's helper.
  The top n-gram is the first most frequent one in order of appearance, as ``Counter.most_common(1)``
  picks it.
- :func:`all_duplicate_chars` walks datatrove's loop over slices of the words concatenated once, rather
  than joining ``n`` words at each step: the same strings (datatrove joins without a separator, so
  ``ab|c`` and ``a|bc`` are one n-gram to it, and here too).

``tests/test_repetition.py`` compares both with datatrove's helpers on real text and on crafted cases.
"""

from __future__ import annotations

from collections import Counter
from itertools import accumulate, islice

from datatrove.pipeline.filters.gopher_repetition_filter import (
    find_duplicates,
    find_top_duplicate,
    get_n_grams,
)
from datatrove.utils.text import split_into_words


def top_duplicate_chars(words: list[str], n: int) -> int | None:
    """datatrove's ``find_top_duplicate(get_n_grams(words, n))``: characters of the most frequent n-gram
    times its count; None when there is no n-gram (fewer than ``n`` words)."""
    if len(words) < n:
        return None
    if " ".join(words).count(" ") != len(words) - 1:  # a word holds a space
        return find_top_duplicate(get_n_grams(words, n))
    counts = Counter(zip(*(islice(words, i, None) for i in range(n)), strict=False))
    count = max(counts.values())
    top = next(k for k, c in counts.items() if c == count)  # the first of the most frequent
    return (sum(map(len, top)) + n - 1) * count


def all_duplicate_chars(words: list[str], n: int) -> int:
    """datatrove's ``find_all_duplicate(words, n)``: characters of the n-grams that repeat an earlier one,
    left to right, skipping past each repeat."""
    if len(words) - n + 1 >= LONG:
        return NGramWalk(words).duplicate_chars(n)
    text = "".join(words)
    ends = [0, *accumulate(map(len, words))]
    unique: set[str] = set()
    repeated, idx, last = 0, 0, len(words) - n
    while idx <= last:
        start, end = ends[idx], ends[idx + n]
        n_gram = text[start:end]
        if n_gram in unique:
            repeated += end - start
            idx += n
        else:
            unique.add(n_gram)
            idx += 1
    return repeated


LONG = 256  # n-grams from which NGramWalk's arrays beat the plain loop
_BASE = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


class NGramWalk:
    """:func:`all_duplicate_chars` for long word lists, with the same result.

    The plain walk slices and hashes the string of every n-gram in Python. Here every n-gram gets a 64-bit
    polynomial hash of its characters at once (numpy, arithmetic modulo 2**64), the same for the same string
    wherever it starts; an n-gram whose hash no earlier n-gram has cannot repeat one, so the walk only stops
    at the others, and there compares the strings themselves (a hash collision cannot change the result).
    One instance serves every ``n`` of a document.
    """

    def __init__(self, words: list[str]):
        import numpy as np

        self.words = words
        self.text = "".join(words)
        self.ends = np.concatenate([[0], np.cumsum([len(w) for w in words], dtype=np.int64)])
        chars = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        with np.errstate(over="ignore"):
            powers = np.full(len(chars) + 1, _BASE, dtype=np.uint64)
            powers[0] = 1
            powers = np.cumprod(powers, dtype=np.uint64)  # BASE**i, wrapping
            inverse = np.full(len(chars) + 1, _BASE_INVERSE, dtype=np.uint64)
            inverse[0] = 1
            self.inverse = np.cumprod(inverse, dtype=np.uint64)  # BASE**-i
            self.prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(chars * powers[:-1], dtype=np.uint64)])

    def duplicate_chars(self, n: int) -> int:
        import numpy as np

        starts, stops = self.ends[: len(self.words) - n + 1], self.ends[n:]
        with np.errstate(over="ignore"):
            hashes = (self.prefix[stops] - self.prefix[starts]) * self.inverse[starts]
        _, first, inverse, counts = np.unique(hashes, return_index=True, return_inverse=True, return_counts=True)
        stops_at = np.flatnonzero(first[inverse] < np.arange(len(hashes)))  # an equal hash came before
        if len(stops_at) == 0:
            return 0
        shared = np.flatnonzero(counts[inverse] > 1)  # every n-gram whose hash another one has
        earlier: dict[int, list[int]] = {}
        for position, group in zip(shared.tolist(), inverse[shared].tolist(), strict=True):
            earlier.setdefault(group, []).append(position)
        text, ends = self.text, self.ends.tolist()
        not_added: set[int] = set()  # repeats and the n-grams a repeat skips: never in datatrove's set
        repeated, idx = 0, 0
        for at in stops_at.tolist():
            if at < idx:
                continue  # skipped past by a repeat
            gram = text[ends[at] : ends[at + n]]
            group = earlier[int(inverse[at])]
            if any(j < at and j not in not_added and text[ends[j] : ends[j + n]] == gram for j in group):
                repeated += len(gram)
                not_added.update(range(at, at + n))
                idx = at + n
            else:
                idx = at + 1
        return repeated


def repetition_decision(filt, text: str) -> bool | tuple[bool, str]:
    """``GopherRepetitionFilter.filter`` on ``text`` with the faster helpers: the same checks, in the same
    order, with the same thresholds (``filt``'s)."""
    if not text:
        return False, "empty"
    paragraphs = filt.paragraph_exp.split(text.strip())
    paragraphs_duplicates, char_duplicates = find_duplicates(paragraphs)
    if filt.dup_para_frac and paragraphs_duplicates / len(paragraphs) > filt.dup_para_frac:
        return False, "dup_para_frac"
    if filt.dup_para_char_frac and char_duplicates / len(text) > filt.dup_para_char_frac:
        return False, "dup_para_char_frac"
    lines = filt._line_splitter.split(text)
    line_duplicates, char_duplicates = find_duplicates(lines)
    if filt.dup_line_frac and line_duplicates / len(lines) > filt.dup_line_frac:
        return False, "dup_line_frac"
    if filt.dup_line_char_frac and char_duplicates / len(text) > filt.dup_line_char_frac:
        return False, "dup_line_char_frac"
    words = split_into_words(text, filt.language)
    for n, n_frac in filt.top_n_grams:
        top_chars = top_duplicate_chars(words, n)
        if top_chars is not None and top_chars / len(text) > n_frac:
            return False, f"top_{n}_gram"
    walk = NGramWalk(words) if len(words) >= LONG + max((n for n, _ in filt.dup_n_grams), default=0) else None
    for n, n_frac in filt.dup_n_grams:
        duplicates = walk.duplicate_chars(n) if walk is not None else all_duplicate_chars(words, n)
        if duplicates / len(text) > n_frac:
            return False, f"duplicated_{n}_n_grams"
    return True
