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
    for n, n_frac in filt.dup_n_grams:
        if all_duplicate_chars(words, n) / len(text) > n_frac:
            return False, f"duplicated_{n}_n_grams"
    return True
