"""mixer's Gopher repetition helpers give exactly datatrove's numbers: crafted cases (ties, words holding
spaces, n-grams that are equal only once joined without a separator) and real text."""

from __future__ import annotations

import random

import pytest
from conftest import stdlib_texts
from datatrove.data import Document
from datatrove.pipeline.filters.gopher_repetition_filter import (
    GopherRepetitionFilter,
    find_all_duplicate,
    find_top_duplicate,
    get_n_grams,
)

from mixer.filters.english_words import FastEnglishSplitter
from mixer.filters.repetition import all_duplicate_chars, top_duplicate_chars
from mixer.filters.text import GopherRepetition

CASES = {
    "empty": [],
    "one word": ["a"],
    "no repeats": "the quick brown fox jumps over the lazy dog".split(),
    "a repeated phrase": "buy now buy now buy now and save".split(),
    # a tie between "a b" (2 times, 3 characters) and "xyz w" (2 times, 5): the first one counts
    "tie, shorter first": "a b xyz w a b xyz w".split(),
    "tie, longer first": "xyz w a b xyz w a b".split(),
    # datatrove joins the words of its duplicate n-grams without a separator: ab|c == a|bc
    "equal once joined": ["ab", "c", "d", "e", "f", "a", "bc", "d", "e", "f"],
    # a word holding a space: " ".join no longer tells the words apart
    "a word with a space": ["a b", "c", "a", "b c", "a b", "c"],
    "overlapping repeats": ["x"] * 23,
}


@pytest.mark.parametrize("words", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 10])
def test_the_helpers_match_datatrove_on_crafted_words(words, n):
    n_grams = get_n_grams(words, n)
    assert top_duplicate_chars(words, n) == (find_top_duplicate(n_grams) if n_grams else None)
    assert all_duplicate_chars(words, n) == find_all_duplicate(words, n)


def test_the_helpers_match_datatrove_on_shuffled_small_vocabularies():
    rng = random.Random(3)
    for _ in range(300):
        vocabulary = ["a", "b", "ab", "ba", "c", "a b"][: rng.randint(1, 6)]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 40))]
        for n in (2, 3, 4, 5, 6):
            n_grams = get_n_grams(words, n)
            assert top_duplicate_chars(words, n) == (find_top_duplicate(n_grams) if n_grams else None), words
            assert all_duplicate_chars(words, n) == find_all_duplicate(words, n), words


def test_the_filter_decides_as_datatrove_on_real_text():
    splitter = FastEnglishSplitter()
    reference = GopherRepetitionFilter(language=splitter)  # datatrove's filter, the same word splitter
    ours = GopherRepetition()
    texts = stdlib_texts(200, 6000) + ["spam spam spam eggs\n" * 40, "one line\n\n" * 10, ""]
    decisions = [ours.filter(Document(text=t, id=str(i))) for i, t in enumerate(texts)]
    assert decisions == [reference.filter(Document(text=t, id=str(i))) for i, t in enumerate(texts)]
    assert {d if d is True else d[1] for d in decisions} >= {True, "dup_line_frac", "empty"}


@pytest.mark.parametrize("seed", range(6))
def test_the_long_walk_matches_datatrove_on_long_repetitive_words(seed):
    """Word lists long enough for NGramWalk, from small vocabularies (many repeats, skips and n-grams that
    are equal once joined), from real text, and both mixed."""
    from mixer.filters.repetition import LONG, NGramWalk

    rng = random.Random(seed)
    vocabulary = ["a", "b", "ab", "ba", "c", "a b", "é", "\U0001f600", "the", "x"][: 3 + seed]
    real = " ".join(stdlib_texts(3, 3000)).split()
    for length in (LONG + 10, 700, 2000):
        small = [rng.choice(vocabulary) for _ in range(length)]
        mixed = [w if rng.random() < 0.7 else rng.choice(vocabulary) for w in real[:length]]
        for words in (small, real[:length], mixed, small[: length // 2] * 2):
            walk = NGramWalk(words)
            for n in (2, 5, 6, 8, 10):
                assert walk.duplicate_chars(n) == find_all_duplicate(words, n), (seed, length, n)
                assert all_duplicate_chars(words, n) == find_all_duplicate(words, n)
