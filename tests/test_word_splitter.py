"""FastEnglishSplitter against spaCy: exact tokens and sentence spans for chunks chosen to exercise every
rule (expected values produced by spaCy 3.8, hard-coded so the table needs no spaCy), its tables against an
installed spaCy's, and token-for-token agreement with datatrove's SpaCyTokenizer on real text."""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import stdlib_texts

from mixer.filters import english_words as splitter_module
from mixer.filters.english_words import FastEnglishSplitter

# input -> spaCy's tokens (datatrove's SpaCyTokenizer.word_tokenize, spaCy 3.8.18)
WORDS = [
    # prefixes
    ('("Hello', ["(", '"', "Hello"]),
    ("$100", ["$", "100"]),
    ("US$5", ["US$", "5"]),
    ("§12", ["§", "12"]),
    ("...wait", ["...", "wait"]),
    ("+5", ["+5"]),
    ("+x", ["+", "x"]),
    ("«quoted»", ["«", "quoted", "»"]),
    ("#hashtag", ["#", "hashtag"]),
    ("¿Qué?", ["¿", "Qué", "?"]),
    # suffixes
    ("end.)", ["end", ".", ")"]),
    ("hello,", ["hello", ","]),
    ("10km", ["10", "km"]),
    ("5kg.", ["5", "kg", "."]),
    ("25°C.", ["25", "°", "C", "."]),
    ("5$", ["5", "$"]),
    ("U.S.", ["U.S."]),
    ("A.", ["A."]),
    ("US.", ["US", "."]),
    ("cats'", ["cats", "'"]),
    ("Bob's", ["Bob", "'s"]),
    ("3+", ["3", "+"]),
    ("50%", ["50", "%"]),
    # infixes
    ("hello-world", ["hello", "-", "world"]),
    ("a--b", ["a", "--", "b"]),
    ("a/b", ["a", "/", "b"]),
    ("2+3=5", ["2", "+", "3=5"]),
    ("10-20", ["10", "-", "20"]),
    ("e-mail", ["e", "-", "mail"]),
    ("end.Start", ["end", ".", "Start"]),
    ("one,two", ["one", ",", "two"]),
    ("key:value", ["key", ":", "value"]),
    ("a<b", ["a", "<", "b"]),
    ("self-driving/cars", ["self", "-", "driving", "/", "cars"]),
    ("пример-текста", ["пример", "-", "текста"]),
    # contractions and other exceptions
    ("don't", ["do", "n't"]),
    ("Can't", ["Ca", "n't"]),
    ("I'm", ["I", "'m"]),
    ("it's", ["it", "'s"]),
    ("gonna", ["gon", "na"]),
    ("y'all", ["y'", "all"]),
    ("won't've", ["wo", "n't", "'ve"]),
    ("dont", ["do", "nt"]),
    ("cannot", ["can", "not"]),
    ("She'll", ["She", "'ll"]),
    ("they’re", ["they", "’re"]),
    ("Let's", ["Let", "'s"]),
    ("and/or", ["and/or"]),
    ("w/o", ["w/o"]),
    ("Mr.", ["Mr."]),
    ("e.g.", ["e.g."]),
    ("Ph.D.", ["Ph.D."]),
    ("a.m.", ["a.m."]),
    ("5pm", ["5", "pm"]),
    ("10a.m.", ["10", "a.m."]),
    ("°F.", ["°", "F", "."]),
    ("\\n", ["\\n"]),
    # URLs and addresses stay whole
    ("https://example.com/a?b=c&d=e", ["https://example.com/a?b=c&d=e"]),
    ("www.python.org", ["www.python.org"]),
    (
        "(see https://docs.python.org/3/library/re.html).",
        ["(", "see", "https://docs.python.org/3/library/re.html", ")", "."],
    ),
    ("user@example.com", ["user@example.com"]),
    ("localhost:8000", ["localhost:8000"]),
    ("8.8.8.8", ["8.8.8.8"]),
    # numbers
    ("3.14", ["3.14"]),
    ("1,000,000", ["1,000,000"]),
    ("-5", ["-5"]),
    ("1/2", ["1/2"]),
    ("10:30", ["10:30"]),
    ("3rd", ["3rd"]),
    ("1e-5", ["1e-5"]),
    ("v2.0.1", ["v2.0.1"]),
    # ellipses
    ("wait...", ["wait", "..."]),
    ("so…", ["so", "…"]),
    ("a...b", ["a", "...", "b"]),
    ("Hmm....", ["Hmm", "...."]),
    ("……", ["…", "…"]),
    # code-like chunks: split only where a rule says so
    ("x==y", ["x==y"]),
    ("foo(bar", ["foo(bar"]),
    ("x->y", ["x->y"]),
    ("a&&b", ["a&&b"]),
    ("i++", ["i++"]),
    ("C++", ["C++"]),
    ("x*y", ["x*y"]),
    ("a_b", ["a_b"]),
    ("--verbose", ["--verbose"]),
    ("a[i]", ["a[i", "]"]),
    ("obj.method()", ["obj.method", "(", ")"]),
    ("os.path.join(a,", ["os.path.join(a", ","]),
    ("print('hi')", ["print('hi", "'", ")"]),
    ("{key:", ["{", "key", ":"]),
    ("__init__", ["_", "_", "init", "_", "_"]),
    ("$HOME/bin", ["$", "HOME", "/", "bin"]),
    ("k=v", ["k", "=", "v"]),
    ("</div>", ["<", "/div", ">"]),
    ("`code`", ["`", "code", "`"]),
    # split tokens that spell a special case are merged again (spaCy's special-case matcher)
    ("foo():", ["foo", "(", "):"]),
    ("def f(x):", ["def", "f(x", "):"]),
    ("smile:)", ["smile", ":)"]),
    ("''quoted''", ["''", "quoted", "''"]),
    ("St.Louis", ["St.", "Louis"]),
    # whitespace, other scripts, symbols
    ("two  spaces\tand\ttabs\nnew\u00a0line", ["two", "spaces", "and", "tabs", "new", "line"]),
    ("naïve café", ["naïve", "café"]),
    ("日本語。テスト", ["日本語。テスト"]),
    ("😀!", ["😀", "!"]),
    ("“Smart quotes,” she said—twice.", ["“", "Smart", "quotes", ",", "”", "she", "said", "—", "twice", "."]),
]

# text -> spaCy's sentence spans (datatrove's SpaCyTokenizer.span_tokenize: spacy.blank("en") + sentencizer)
SENTENCES = [
    ("Hello world. This is it.", [(0, 12), (13, 24)]),
    ("Is it? Yes! No...", [(0, 6), (7, 11), (12, 17)]),
    ('(Hello!) And. "Quote." Next', [(0, 8), (9, 15), (15, 22), (23, 27)]),
    ("e.g. this. That", [(0, 10), (11, 15)]),
    ("Hi.\n\nNext line", [(0, 3), (3, 14)]),
    ("One.  Two", [(0, 4), (5, 9)]),
    ("End. ", [(0, 4)]),
    ("Hi.\n", [(0, 3), (3, 4)]),
    ("3.14 is pi. Right", [(0, 11), (12, 17)]),
    ("Wait... what?! OK", [(0, 14), (15, 17)]),
    ("no final punctuation", [(0, 20)]),
    ("  leading space. x", [(0, 16), (17, 18)]),
    ("", []),
]


@pytest.mark.parametrize(("text", "tokens"), WORDS, ids=[w for w, _ in WORDS])
def test_words_as_spacy_splits_them(text: str, tokens: list[str]) -> None:
    assert FastEnglishSplitter().word_tokenize(text) == tokens


@pytest.mark.parametrize(("text", "spans"), SENTENCES)
def test_sentences_as_spacy_splits_them(text: str, spans: list[tuple[int, int]]) -> None:
    splitter = FastEnglishSplitter()
    assert splitter.span_tokenize(text) == spans
    assert splitter.sent_tokenize(text) == [text[a:b].strip() for a, b in spans if text[a:b].strip()]


def test_whole_text_words() -> None:
    text = "Don't panic: see https://example.com/faq (or e-mail us)... It's 5pm, Mr. Smith!"
    assert FastEnglishSplitter().word_tokenize(text) == [
        "Do", "n't", "panic", ":", "see", "https://example.com/faq", "(", "or", "e", "-", "mail", "us", ")",
        "...", "It", "'s", "5", "pm", ",", "Mr.", "Smith", "!",
    ]  # fmt: skip


def test_importable_and_working_without_spacy() -> None:
    code = (
        "import sys; sys.modules['spacy'] = None\n"
        "from mixer.filters.english_words import FastEnglishSplitter\n"
        'print(FastEnglishSplitter().word_tokenize("Don\'t stop."))'
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['Do', \"n't\", 'stop', '.']"


# --- against an installed spaCy (a dev dependency) ------------------------------------------------------


@pytest.fixture(scope="module")
def spacy_tokenizer():
    pytest.importorskip("spacy")
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    return SpaCyTokenizer("en")


def test_special_cases_are_spacys(spacy_tokenizer) -> None:
    from spacy.symbols import ORTH

    rules = spacy_tokenizer.tokenizer.tokenizer.rules
    assert splitter_module._SPECIAL_CASES == {k: tuple(t[ORTH] for t in v) for k, v in rules.items()}


def test_character_classes_are_spacys(spacy_tokenizer) -> None:
    from spacy.lang import char_classes as cc

    codes = splitter_module._class_codes
    assert codes(splitter_module._ALPHA) == codes(cc.ALPHA)
    assert codes(splitter_module._ALPHA_LOWER) == codes(cc.ALPHA_LOWER)
    assert codes(splitter_module._ALPHA_UPPER) == codes(cc.ALPHA_UPPER)
    assert codes(splitter_module._ICONS) == codes(cc._other_symbols)


def test_sentence_ends_are_spacys(spacy_tokenizer) -> None:
    from spacy.pipeline import Sentencizer

    assert splitter_module._SENTENCE_FINAL == set(Sentencizer.default_punct_chars)


def _docstring_texts(count: int, max_chars: int) -> list[str]:
    """Prose: the docstrings of the first ``count`` standard-library modules (sorted), one text each."""
    out = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef))]
        docs = [d for d in (ast.get_docstring(n, clean=False) for n in nodes) if d]
        if docs:
            out.append("\n\n".join(docs)[:max_chars])
        if len(out) == count:
            break
    return out


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    return _docstring_texts(120, 5000) + stdlib_texts(40, 4000)


# chunks at the edges of the splitter's shortcuts around the regexes (one-character affixes, suffixes that
# need a digit or an apostrophe, runs of dots, characters beyond the BMP)
PROBES = (
    "5m/s 5km/h US$ 5US$ C$5 A$ $ 5$ 5€ 5mbar 5غرام x² 5m² 5% %5 3+ x+ + ++ +5 'S IT'S it’s s 's ’s . .. ... "
    "x. x.. x... a…… …… … …x °C. 25°C. °c. A. aB. AB. ÀÉ. é. 1. 1.. (.) 🀄. 🀄 x🀄 🀄x 😀😀 — –x x— ¿x ¡x! "
    "U USA Us CA x' 'x '' ‘x’ «x» x, x; x: x!? (x) [x] {x} <x> x_ _x #x x# *x* &x x& ·x x· 。x x。"
).split()


def test_rules_match_spacys_on_every_chunk(spacy_tokenizer, real_texts) -> None:
    tok = spacy_tokenizer.tokenizer.tokenizer
    chunks = sorted({c for t in [*real_texts, *(w for w, _ in WORDS), *PROBES] for c in t.split()})
    for chunk in chunks:
        assert splitter_module._find_prefix(chunk) == tok.find_prefix(chunk), chunk
        assert splitter_module._find_suffix(chunk) == tok.find_suffix(chunk), chunk
        infixes = splitter_module._find_infixes(chunk)
        assert infixes == [m.span() for m in tok.find_infix(chunk)], chunk
        assert bool(splitter_module._URL_RE.match(chunk)) == bool(tok.url_match(chunk)), chunk


def test_agrees_with_spacy_on_real_text(spacy_tokenizer, real_texts) -> None:
    fast = FastEnglishSplitter()
    words = [t for t in real_texts if fast.word_tokenize(t) != spacy_tokenizer.word_tokenize(t)]
    spans = [t for t in real_texts if fast.span_tokenize(t) != spacy_tokenizer.span_tokenize(t)]
    # the documented goal is 99% of documents; on this corpus the splitters agree on all of them
    assert len(words) <= len(real_texts) // 100, [t[:200] for t in words]
    assert len(spans) <= len(real_texts) // 100, [t[:200] for t in spans]
