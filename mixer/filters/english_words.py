"""A fast English word and sentence splitter that gives spaCy's tokens, without spaCy.

datatrove's Gopher, C4 and FineWeb filters and its MinHash stage split English with spaCy
(``spacy.blank("en")`` and its ``sentencizer``), at about 0.2 MB/s: that splitting dominates their time.
:class:`FastEnglishSplitter` is a datatrove ``WordTokenizer`` (the hook datatrove documents for custom
tokenizers) that applies the same rules — spaCy's English prefix, suffix and infix patterns, its tokenizer
exceptions, its URL pattern and its sentence-final characters — with shortcuts that spare the regexes most
of their calls. ``tests/test_word_splitter.py`` checks the tables against an installed spaCy and the tokens
against spaCy's on real text; ``bench/quality.py`` measures the filters' agreement and speed-up.
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from datatrove.utils.word_tokenizers import WordTokenizer

# --- spaCy's English tokenizer rules -------------------------------------------------------------------
# The tables below follow spaCy 3.8's English punctuation rules (spacy/lang/char_classes.py,
# spacy/lang/punctuation.py, spacy/lang/en/punctuation.py) and tokenizer exceptions
# (spacy/lang/tokenizer_exceptions.py, spacy/lang/en/tokenizer_exceptions.py), copied so that the splitter
# needs no spaCy at run time. tests/test_word_splitter.py checks them against an installed spaCy.

# Letters with case: Latin (with its extensions and phonetic letters), Cyrillic, Greek.
_CASED_LETTERS = (
    r"A-Za-z\uFF21-\uFF3A\uFF41-\uFF5A\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u00FF\u0100-\u017F\u0180-\u01BF"
    r"\u01C4-\u024F\u2C60-\u2C7B\u2C7E\u2C7F\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uA790-\uA7B9\uA7FA"
    r"\uAB30-\uAB5A\uAB60-\uAB64\u0250-\u02AF\u1D00-\u1D25\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1EFF"
    r"ёа-яЁА-ЯәөүҗңһӘӨҮҖҢҺα-ωάέίόώήύΑ-ΩΆΈΊΌΏΉΎа-щюяіїєґА-ЩЮЯІЇЄҐѓѕјљњќѐѝЃЅЈЉЊЌЀЍ"
)
# Scripts without case (Ethiopic, Bengali, Hebrew, Arabic, Sinhala, Devanagari, Kannada, Tamil, Telugu,
# Hangul, kana, CJK): spaCy counts them as both lower and upper case.
_UNCASED_LETTERS = (
    r"\u1200-\u137F\u0980-\u09FF\u0591-\u05F4\uFB1D-\uFB4F\u0620-\u064A\u066E-\u06D5\u06E5-\u06FF"
    r"\u0750-\u077F\u08A0-\u08BD\uFB50-\uFBB1\uFBD3-\uFD3D\uFD50-\uFDC7\uFDF0-\uFDFB\uFE70-\uFEFC"
    r"\U0001EE00-\U0001EEBB\u0D80-\u0DFF\u0900-\u097F\u0C80-\u0CFF\u0B80-\u0BFF\u0C00-\u0C7F\uAC00-\uD7AF"
    r"\u1100-\u11FF\u3040-\u309F\u30A0-\u30FFー\u4E00-\u62FF\u6300-\u77FF\u7800-\u8CFF\u8D00-\u9FFF"
    r"\u3400-\u4DBF\U00020000-\U000215FF\U00021600-\U000230FF\U00023100-\U000245FF\U00024600-\U000260FF"
    r"\U00026100-\U000275FF\U00027600-\U000290FF\U00029100-\U0002A6DF\U0002A700-\U0002B73F"
    r"\U0002B740-\U0002B81F\U0002B820-\U0002CEAF\U0002CEB0-\U0002EBEF\u2E80-\u2EFF\u2F00-\u2FDF"
    r"\u2FF0-\u2FFF\u3000-\u303F\u31C0-\u31EF\u3200-\u32FF\u3300-\u33FF\uF900-\uFAFF\uFE30-\uFE4F"
    r"\U0001F200-\U0001F2FF\U0002F800-\U0002FA1F"
)
# Symbols (Unicode category So as of 2018: dingbats, arrows, emoji).
_ICONS = (
    r"\u00A6\u00A9\u00AE\u00B0\u0482\u058D\u058E\u060E\u060F\u06DE\u06E9\u06FD\u06FE\u07F6\u09FA\u0B70"
    r"\u0BF3-\u0BF8\u0BFA\u0C7F\u0D4F\u0D79\u0F01-\u0F03\u0F13\u0F15-\u0F17\u0F1A-\u0F1F\u0F34\u0F36"
    r"\u0F38\u0FBE-\u0FC5\u0FC7-\u0FCC\u0FCE\u0FCF\u0FD5-\u0FD8\u109E\u109F\u1390-\u1399\u1940"
    r"\u19DE-\u19FF\u1B61-\u1B6A\u1B74-\u1B7C\u2100\u2101\u2103-\u2106\u2108\u2109\u2114\u2116\u2117"
    r"\u211E-\u2123\u2125\u2127\u2129\u212E\u213A\u213B\u214A\u214C\u214D\u214F\u218A\u218B"
    r"\u2195-\u2199\u219C-\u219F\u21A1\u21A2\u21A4\u21A5\u21A7-\u21AD\u21AF-\u21CD\u21D0\u21D1\u21D3"
    r"\u21D5-\u21F3\u2300-\u2307\u230C-\u231F\u2322-\u2328\u232B-\u237B\u237D-\u239A\u23B4-\u23DB"
    r"\u23E2-\u2426\u2440-\u244A\u249C-\u24E9\u2500-\u25B6\u25B8-\u25C0\u25C2-\u25F7\u2600-\u266E"
    r"\u2670-\u2767\u2794-\u27BF\u2800-\u28FF\u2B00-\u2B2F\u2B45\u2B46\u2B4D-\u2B73\u2B76-\u2B95"
    r"\u2B98-\u2BC8\u2BCA-\u2BFE\u2CE5-\u2CEA\u2E80-\u2E99\u2E9B-\u2EF3\u2F00-\u2FD5\u2FF0-\u2FFB"
    r"\u3004\u3012\u3013\u3020\u3036\u3037\u303E\u303F\u3190\u3191\u3196-\u319F\u31C0-\u31E3"
    r"\u3200-\u321E\u322A-\u3247\u3250\u3260-\u327F\u328A-\u32B0\u32C0-\u32FE\u3300-\u33FF"
    r"\u4DC0-\u4DFF\uA490-\uA4C6\uA828-\uA82B\uA836\uA837\uA839\uAA77-\uAA79\uFDFD\uFFE4\uFFE8\uFFED"
    r"\uFFEE\uFFFC\uFFFD\U00010137-\U0001013F\U00010179-\U00010189\U0001018C-\U0001018E"
    r"\U00010190-\U0001019B\U000101A0\U000101D0-\U000101FC\U00010877\U00010878\U00010AC8\U0001173F"
    r"\U00016B3C-\U00016B3F\U00016B45\U0001BC9C\U0001D000-\U0001D0F5\U0001D100-\U0001D126"
    r"\U0001D129-\U0001D164\U0001D16A-\U0001D16C\U0001D183\U0001D184\U0001D18C-\U0001D1A9"
    r"\U0001D1AE-\U0001D1E8\U0001D200-\U0001D241\U0001D245\U0001D300-\U0001D356\U0001D800-\U0001D9FF"
    r"\U0001DA37-\U0001DA3A\U0001DA6D-\U0001DA74\U0001DA76-\U0001DA83\U0001DA85\U0001DA86\U0001ECAC"
    r"\U0001F000-\U0001F02B\U0001F030-\U0001F093\U0001F0A0-\U0001F0AE\U0001F0B1-\U0001F0BF"
    r"\U0001F0C1-\U0001F0CF\U0001F0D1-\U0001F0F5\U0001F110-\U0001F16B\U0001F170-\U0001F1AC"
    r"\U0001F1E6-\U0001F202\U0001F210-\U0001F23B\U0001F240-\U0001F248\U0001F250\U0001F251"
    r"\U0001F260-\U0001F265\U0001F300-\U0001F3FA\U0001F400-\U0001F6D4\U0001F6E0-\U0001F6EC"
    r"\U0001F6F0-\U0001F6F9\U0001F700-\U0001F773\U0001F780-\U0001F7D8\U0001F800-\U0001F80B"
    r"\U0001F810-\U0001F847\U0001F850-\U0001F859\U0001F860-\U0001F887\U0001F890-\U0001F8AD"
    r"\U0001F900-\U0001F90B\U0001F910-\U0001F93E\U0001F940-\U0001F970\U0001F973-\U0001F976\U0001F97A"
    r"\U0001F97C-\U0001F9A2\U0001F9B0-\U0001F9B9\U0001F9C0-\U0001F9C2\U0001F9D0-\U0001F9FF"
    r"\U0001FA60-\U0001FA6D"
)
# Space-separated regex pieces, as in spaCy (the double space in the quotes is spaCy's and yields no piece).
_PUNCT = r"… …… , : ; \! \? ¿ ؟ ¡ \( \) \[ \] \{ \} < > _ # \* & 。 ？ ！ ， 、 ； ： ～ · । ، ۔ ؛ ٪"
_QUOTES = r"\' \" ” “ ` ‘ ´ ’ ‚ , „ » « 「 」 『 』 （ ） 〔 〕 【 】 《 》 〈 〉 〈 〉  ⟦ ⟧"
_HYPHENS = "- – — -- --- —— ~"
_UNITS = (  # "тбكم" lacks its space in spaCy too
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh "
    "mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K % км км² км³ м м² м³ дм дм² дм³ см см² см³ мм мм² мм³ "
    "нм кг г мг м/с км/ч кПа Па мбар Кб КБ кб Мб МБ мб Гб ГБ гб Тб ТБ тбكم كم² كم³ م م² م³ سم سم² سم³ مم "
    "مم² مم³ كم غرام جرام جم كغ ملغ كوب اكواب"
)
_CURRENCY = r"\$ £ € ¥ ฿ US\$ C\$ A\$ ₽ ﷼ ₴ ₠ ₡ ₢ ₣ ₤ ₥ ₦ ₧ ₨ ₩ ₪ ₫ € ₭ ₮ ₯ ₰ ₱ ₲ ₳ ₴ ₵ ₶ ₷ ₸ ₹ ₺ ₻ ₼ ₽ ₾ ₿"


def _char_class(codes: set[int]) -> str:
    """A character-class body (no brackets) matching exactly ``codes``."""
    out, run = [], []
    for c in sorted(codes) + [-2]:
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(f"\\U{run[0]:08X}" + (f"-\\U{run[-1]:08X}" if len(run) > 1 else ""))
        run = [c]
    return "".join(out)


def _class_codes(body: str) -> set[int]:
    """The code points a character-class body of characters, \\u/\\U escapes and ranges matches."""
    found = re.findall(r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|.", body)
    atoms = [int(a[2:], 16) if a.startswith("\\") else ord(a) for a in found]
    codes, i = set(), 0
    while i < len(atoms):
        if i + 2 < len(atoms) and atoms[i + 1] == ord("-"):
            codes.update(range(atoms[i], atoms[i + 2] + 1))
            i += 3
        else:
            codes.add(atoms[i])
            i += 1
    return codes


def _icon_pattern() -> str:
    """``[_ICONS]`` written so that a character outside the BMP is only checked when there is one: ``re``
    tests every range of a class in turn, and the astral ranges made the class the slowest part of every
    pattern."""
    codes = _class_codes(_ICONS)
    bmp = _char_class({c for c in codes if c < 0x10000})
    astral = _char_class({c for c in codes if c >= 0x10000})
    return rf"(?:[{bmp}]|(?=[\U00010000-\U0010FFFF])[{astral}])"


_ICON = _icon_pattern()
_ALPHA = _CASED_LETTERS + _UNCASED_LETTERS
# spaCy lists its lower and upper case letters one by one; they are exactly the cased letters that
# str.islower()/isupper() accept, plus U+0294 (a caseless phonetic letter spaCy counts as lower case) and
# U+03A2 (an unassigned code point inside spaCy's Greek capital range).
_CASED_CODES = _class_codes(_CASED_LETTERS)
_ALPHA_LOWER = _char_class({c for c in _CASED_CODES if chr(c).islower()} | {0x294}) + _UNCASED_LETTERS
_ALPHA_UPPER = _char_class({c for c in _CASED_CODES if chr(c).isupper()} | {0x3A2}) + _UNCASED_LETTERS
_QUOTE_CLASS = _QUOTES.replace(" ", "")
_PUNCT_ALTERNATION = _PUNCT.replace(" ", "|")

_PREFIXES = (
    ["§", "%", "=", "—", "–", r"\+(?![0-9])"]
    + _PUNCT.split(" ")
    + [r"\.\.+", "…"]
    + _QUOTES.split(" ")
    + _CURRENCY.split(" ")
    + [_ICON]
)
# Each pattern that starts with a lookbehind gets a lookahead for the character it then consumes: the same
# matches, but ``re`` turns most positions away with one small test instead of the lookbehind's large class.
_CURRENCY_FIRST = "".join(sorted({c[0] for c in _CURRENCY.replace("\\", "").split()}))
_UNIT_FIRST = "".join(sorted({u[0] for u in _UNITS.split()}))
_CURRENCY_ALTERNATION, _UNIT_ALTERNATION = _CURRENCY.replace(" ", "|"), _UNITS.replace(" ", "|")
_SUFFIXES = (
    _PUNCT.split(" ")
    + [r"\.\.+", "…"]
    + _QUOTES.split(" ")
    + [_ICON]
    + ["'s", "'S", "’s", "’S", "—", "–"]
    + [
        r"(?=\+)(?<=[0-9])\+",
        r"(?=\.)(?<=°[FfCcKk])\.",
        rf"(?=[{re.escape(_CURRENCY_FIRST)}])(?<=[0-9])(?:{_CURRENCY_ALTERNATION})",
        rf"(?=[{re.escape(_UNIT_FIRST)}])(?<=[0-9])(?:{_UNIT_ALTERNATION})",
        # the quote class inside "(?:...)" and the "|"s of the punctuation list end up inside this
        # character class in spaCy as well
        rf"(?=\.)(?<=[0-9{_ALPHA_LOWER}%²\-\+{_PUNCT_ALTERNATION}(?:{_QUOTE_CLASS})])\.",
        rf"(?=\.)(?<=[{_ALPHA_UPPER}][{_ALPHA_UPPER}])\.",
    ]
)
_INFIXES = [
    r"\.\.+",
    "…",
    _ICON,
    r"(?=[+\-\*^])(?<=[0-9])[+\-\*^](?=[0-9-])",
    rf"(?=\.)(?<=[{_ALPHA_LOWER}{_QUOTE_CLASS}])\.(?=[{_ALPHA_UPPER}{_QUOTE_CLASS}])",
    rf"(?=,)(?<=[{_ALPHA}]),(?=[{_ALPHA}])",
    rf"(?=[-–—~])(?<=[{_ALPHA}0-9])(?:{_HYPHENS.replace(' ', '|')})(?=[{_ALPHA}])",
    rf"(?=[:<>=/])(?<=[{_ALPHA}0-9])[:<>=/](?=[{_ALPHA}])",
]


def _single_chars(pieces: list[str]) -> set[str]:
    """The characters that are pieces by themselves (``","``, ``"\\("``)."""
    chars = {piece[1:] if len(piece) == 2 and piece[0] == "\\" else piece for piece in pieces}
    return {c for c in chars if len(c) == 1}


def _suffix_regex() -> re.Pattern:
    """spaCy's suffix regex, ``piece$|piece$|...``, with its one-character pieces merged into one class:
    every piece ends where the string ends, so the leftmost match is the same whichever piece finds it, and
    one class test replaces some eighty alternatives at each position."""
    singles = _single_chars(_SUFFIXES)
    others = [p for p in _SUFFIXES if p.strip() and not _single_chars([p])]
    return re.compile(f"(?:[{re.escape(''.join(sorted(singles)))}]|{'|'.join(others)})$")


_PREFIX_RE = re.compile("|".join("^" + p for p in _PREFIXES if p.strip()))
_SUFFIX_RE = _suffix_regex()
_INFIX_RE = re.compile("|".join(p for p in _INFIXES if p.strip()))
# spaCy's URL_MATCH (after Diego Perini's URL regex): a chunk that is a URL is never split at infixes
_URL_RE = re.compile(
    r"(?u)^(?:(?:[\w\+\-\.]{2,})://)?(?:\S+(?::\S*)?@)?(?:"
    r"(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})"
    r"(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
    r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}"
    r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
    r"|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    r"(?:[" + _ALPHA_LOWER + r"]{2,63}))(?::\d{2,5})?(?:[/?#]\S*)?$"
)

_EMOTICONS = r"""
:) :-) :)) :-)) :))) :-))) (: (-: =) (= :] :-] [: [-: [= =] :o) (o: :} :-} 8) 8-) (-8 ;) ;-) (; (-; :( :-(
:(( :-(( :((( :-((( ): )-: =( >:( :') :'-) :'( :'-( :/ :-/ =/ =| :| :-| ]= =[ :1 :P :-P :p :-p :O :-O :o :-o
:0 :-0 :() >:o :* :-* :3 :-3 =3 :> :-> :X :-X :x :-x :D :-D ;D ;-D =D xD XD xDD XDD 8D 8-D ^_^ ^__^ ^___^
>.< >.> <.< ._. ;_; -_- -__- v.v V.V v_v V_V o_o o_O O_o O_O 0_o o_0 0_0 o.O O.o O.O o.o 0.0 o.0 0.o @_@
<3 <33 <333 </3 (^_^) (-_-) (._.) (>_<) (*_*) (¬_¬) ಠ_ಠ ಠ︵ಠ (ಠ_ಠ) ¯\(ツ)/¯ (╯°□°）╯︵┻━┻ ><(((*>
"""
_STATES_MONTHS = (
    "Mt. Ak. Ala. Apr. Ariz. Ark. Aug. Calif. Colo. Conn. Dec. Del. Feb. Fla. Ga. Ia. Id. Ill. Ind. Jan. Jul. "
    "Jun. Kan. Kans. Ky. La. Mar. Mass. Mich. Minn. Miss. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Nov. "
    "Oct. Okla. Ore. Pa. S.C. Sep. Sept. Tenn. Va. Wash. Wis. 'd a.m. Adm. Bros. co. Co. Corp. D.C. Dr. e.g. "
    "E.g. E.G. Gen. Gov. i.e. I.e. I.E. Inc. Jr. Ltd. Md. Messrs. Mo. Mont. Mr. Mrs. Ms. p.m. Ph.D. Prof. "
    "Rep. Rev. Sen. St. vs. v.s."
)


def _english_special_cases() -> dict[str, tuple[str, ...]]:
    """spaCy's English tokenizer exceptions: chunk -> its tokens (``"don't"`` -> ``("do", "n't")``)."""
    base: dict[str, tuple[str, ...]] = {}
    for orth in [" ", "\t", "\\t", "\n", "\\n", "\u2014", "\u00a0", "'", '\\")', "<space>", "''", "C++"]:
        base[orth] = (orth,)
    for orth in [*(c + "." for c in "abcdefghijklmnopqrstuvwxyzäöü"), *_EMOTICONS.split()]:
        base[orth] = (orth,)
    for unit in "cfkCFK":
        base[f"°{unit}."] = ("°", unit, ".")

    en: dict[str, tuple[str, ...]] = {}

    def add(*parts: str) -> None:
        en["".join(parts)] = parts

    def cases(word: str) -> tuple[str, str]:
        return word, word.title()

    for orth in cases("i"):
        add(orth, "'m"), add(orth, "m"), add(orth, "'m", "a"), add(orth, "m", "a")
    for pron in ["i", "you", "he", "she", "it", "we", "they"]:
        for orth in cases(pron):
            for will, have, would in [("'ll", "'ve", "'d"), ("ll", "ve", "d")]:
                add(orth, will), add(orth, will, have), add(orth, would), add(orth, would, have)
    for pron in ["i", "you", "we", "they"]:
        for orth in cases(pron):
            add(orth, "'ve"), add(orth, "ve")
    for pron in ["you", "we", "they"]:
        for orth in cases(pron):
            add(orth, "'re"), add(orth, "re")
    for pron in ["he", "she", "it"]:
        for orth in cases(pron):
            add(orth, "'s"), add(orth, "s")
    for word in ["who", "what", "when", "where", "why", "how", "there", "that", "this", "these", "those"]:
        for orth in cases(word):
            for apos in ["'", ""]:
                if word not in ("these", "those"):
                    add(orth, apos + "s")
                add(orth, apos + "ll"), add(orth, apos + "ll", apos + "ve")
                if word not in ("that", "this"):
                    add(orth, apos + "re"), add(orth, apos + "ve")
                add(orth, apos + "d"), add(orth, apos + "d", apos + "ve")
    modals = ["ca", "could", "do", "does", "did", "had", "may", "might", "must", "need", "ought", "sha"]
    for verb in [*modals, "should", "wo", "would"]:
        for orth in cases(verb):
            add(orth, "n't"), add(orth, "nt"), add(orth, "n't", "'ve"), add(orth, "nt", "ve")
    for verb in ["could", "might", "must", "should", "would"]:
        for orth in cases(verb):
            add(orth, "'ve"), add(orth, "ve")
    for verb in ["ai", "are", "is", "was", "were", "have", "has", "dare"]:
        for orth in cases(verb):
            add(orth, "n't"), add(orth, "nt")
    for word in ["doin", "goin", "nothin", "nuthin", "ol", "somethin"]:
        for orth in cases(word):
            add(orth), add(orth + "'")
    for word in ["em", "ll", "nuff"]:
        add(word), add("'" + word)
    for hour in range(1, 13):
        for period in ["a.m.", "am", "p.m.", "pm"]:
            add(str(hour), period)
    for parts in [
        ("y'", "all"), ("y", "all"), ("how", "'d", "'y"), ("How", "'d", "'y"), ("not", "'ve"), ("not", "ve"),
        ("Not", "'ve"), ("Not", "ve"), ("can", "not"), ("Can", "not"), ("gon", "na"), ("Gon", "na"),
        ("got", "ta"), ("Got", "ta"), ("let", "'s"), ("Let", "'s"), ("c'm", "on"), ("C'm", "on"),
    ]:  # fmt: skip
        add(*parts)
    for orth in ["'S", "'s", "\u2018S", "\u2018s", "and/or", "w/o", "'re", "'bout", "ma'am", "Ma'am"]:
        add(orth)
    for orth in ["o'clock", "O'clock", *(a + b for a in ["'C", "'c"] for b in ["ause", "os", "oz", "uz"])]:
        add(orth)
    for word in ["lovin", "havin", "doin", "goin"]:
        for orth in cases(word):
            add(orth + "'"), add(orth)
    for orth in _STATES_MONTHS.split():
        add(orth)
    for word in ["ill", "its", "hell", "shell", "shed", "were", "well", "whore"]:
        for orth in cases(word):
            en.pop(orth, None)
    cases_ = {**base, **en}
    # every exception with a straight apostrophe also holds with a typographic one
    for orth, parts in list(cases_.items()):
        if "'" in orth:
            cases_[orth.replace("'", "’")] = tuple(p.replace("'", "’") for p in parts)
    return cases_


_SPECIAL_CASES = _english_special_cases()
# Shortcuts that spare the regexes most of their calls, each giving the regex's own answer. A prefix starts
# with, a suffix ends with (besides "'s" and units or currencies after a digit), an infix starts with one of:
_ICON_CHARS = frozenset(map(chr, _class_codes(_ICONS)))
_BMP_ICON_CHARS = frozenset(c for c in _ICON_CHARS if c < "\U00010000")
_PREFIX_FIRST = _ICON_CHARS | _single_chars(_PREFIXES) | {".", "+", "U", "C", "A"}
_SUFFIX_LAST = _ICON_CHARS | _single_chars(_SUFFIXES) | {".", "+"}
_SUFFIX_AFTER_DIGIT_LAST = frozenset(u[-1] for u in (_UNITS + " " + _CURRENCY.replace("\\", "")).split())
_INFIX_FIRST = _ICON_CHARS | set(".…+-*^,–—~:<>=/")
# A prefix (suffix) of exactly one character, as no longer piece starts (ends) with it:
_ONE_CHAR_PREFIX = (_BMP_ICON_CHARS | _single_chars(_PREFIXES)) - {".", "+", "U", "C", "A"}
_ONE_CHAR_SUFFIX = (_BMP_ICON_CHARS | _single_chars(_SUFFIXES)) - _SUFFIX_AFTER_DIGIT_LAST - {"…", ".", "+"}
_LOWER_OR_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")  # "." after these is a suffix
# how a string ends for a suffix longer than one character to be possible (with units after a digit)
_LONG_SUFFIX_ENDS = ("..", "……", "'s", "'S", "’s", "’S")
# where an infix may start; all of the astral plane as one range, which is cheaper than its icons
_INFIX_CANDIDATE = re.compile(
    "[" + re.escape("".join(sorted(c for c in _INFIX_FIRST if c < "\U00010000"))) + "\U00010000-\U0010ffff]"
)
_DIGIT = re.compile("[0-9]")
_SUFFIX_WINDOW = 8  # longer than any suffix but a run of dots

# sentence-final characters of spaCy's sentencizer
_SENTENCE_FINAL = frozenset(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈"
    "⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆"
    "𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯"
    "𖫵𖬷𖬸𖭄𛲟𝪈｡。"
)
_SENTENCE_FINAL_CHAR = re.compile("[" + re.escape("".join(sorted(_SENTENCE_FINAL))) + "]")
# the same without the characters beyond the BMP, which make a class slow in ``re``: for texts without any
_SENTENCE_FINAL_BMP_CHAR = re.compile(
    "[" + re.escape("".join(sorted(c for c in _SENTENCE_FINAL if c < "\U00010000"))) + "]"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASCII_WORD = re.compile(r"[A-Za-z]+|[0-9]+")
_SPACES = re.compile(r"\s*")
_NON_SPACES = re.compile(r"\S*")


def _find_prefix(string: str) -> int:
    """The length of the prefix spaCy would split off ``string`` (0: none)."""
    first = string[0]
    if first in _ONE_CHAR_PREFIX:
        return 1
    if first not in _PREFIX_FIRST:
        return 0
    m = _PREFIX_RE.match(string)
    return m.end() if m else 0


def _find_suffix(string: str) -> int:
    """The length of the suffix spaCy would split off ``string`` (0: none)."""
    last = string[-1]
    if last in _ONE_CHAR_SUFFIX or (last == "." and string[-2:-1] in _LOWER_OR_DIGIT):  # "word." "2."
        return 1
    if string.endswith(_LONG_SUFFIX_ENDS) or (last in _SUFFIX_AFTER_DIGIT_LAST and _DIGIT.search(string)):
        window = max(0, len(string) - _SUFFIX_WINDOW)
        m = _SUFFIX_RE.search(string, window)
        if m and window and m.start() == window:  # may be a run of dots that starts further left
            m = _SUFFIX_RE.search(string)
    elif last in _SUFFIX_LAST:
        m = _SUFFIX_RE.search(string, len(string) - 1)  # only a one-character suffix is possible
    else:
        return 0
    return m.end() - m.start() if m else 0


def _find_infixes(string: str) -> list[tuple[int, int]]:
    """The spans ``_INFIX_RE.finditer`` finds, trying the pattern only where an infix can start."""
    spans: list[tuple[int, int]] = []
    end = 0
    for candidate in _INFIX_CANDIDATE.finditer(string):
        if candidate.start() >= end:
            m = _INFIX_RE.match(string, candidate.start())
            if m:
                spans.append(m.span())
                end = m.end()
    return spans


def _split_affixes(string: str, specials: dict | None) -> tuple[list[str], str, list[str]]:
    """spaCy's Tokenizer._split_affixes: strip prefixes and suffixes until none is left or a special case
    is reached."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = 0
    while string and len(string) != last_size:
        if specials is not None and string in specials:
            break
        last_size = len(string)
        first = string[0]  # (the one-character cases of _find_prefix and _find_suffix inlined)
        pre_len = 1 if first in _ONE_CHAR_PREFIX else _find_prefix(string) if first in _PREFIX_FIRST else 0
        if pre_len:
            prefix, minus_pre = string[:pre_len], string[pre_len:]
            if not minus_pre:
                prefixes.append(prefix)
                return prefixes, minus_pre, suffixes
            if specials is not None and minus_pre in specials:
                prefixes.append(prefix)
                string = minus_pre
                break
        suf_len = 1 if string[-1] in _ONE_CHAR_SUFFIX else _find_suffix(string[pre_len:])
        if suf_len:
            suffix, minus_suf = string[-suf_len:], string[:-suf_len]
            if minus_suf and specials is not None and minus_suf in specials:
                suffixes.append(suffix)
                string = minus_suf
                break
        if pre_len and suf_len and pre_len + suf_len <= len(string):
            prefixes.append(prefix)
            suffixes.append(suffix)
            string = string[pre_len:-suf_len]
        elif pre_len:
            prefixes.append(prefix)
            string = minus_pre
        elif suf_len:
            suffixes.append(suffix)
            string = minus_suf
    return prefixes, string, suffixes


def _split_chunk(chunk: str, specials: dict | None) -> list[str]:
    """spaCy's Tokenizer._tokenize on one whitespace-free chunk, before its special-case matcher."""
    prefixes, string, suffixes = _split_affixes(chunk, specials)
    tokens = prefixes
    if string:
        if specials is not None and string in specials:
            tokens.extend(specials[string])
        else:
            # spaCy checks for a URL first, but without infixes the string stays whole either way
            infixes = () if _INFIX_FIRST.isdisjoint(string) else _find_infixes(string)
            if not infixes or _URL_RE.match(string):
                tokens.append(string)
            else:
                start = 0
                for infix_start, infix_end in infixes:
                    if infix_start == 0:  # an infix at the very start does not split
                        continue
                    if infix_start != start:
                        tokens.append(string[start:infix_start])
                    tokens.append(string[infix_start:infix_end])
                    start = infix_end
                if start < len(string):
                    tokens.append(string[start:])
    tokens.extend(reversed(suffixes))
    return tokens


def _special_patterns() -> dict[tuple[str, ...], str]:
    """The special cases that spaCy also looks for across tokens (its tokenizer's PhraseMatcher): the
    tokens a special case splits into without special cases -> the special case. (A pattern of one token
    would only replace that token by itself.)"""
    patterns = {}
    for orth in _SPECIAL_CASES:
        if not orth.isspace() and (
            _PREFIX_RE.match(orth) or _SUFFIX_RE.search(orth) or _INFIX_RE.search(orth)
        ):
            pattern = tuple(_split_chunk(orth, None))
            if len(pattern) > 1 or _SPECIAL_CASES[orth] != pattern:
                patterns[pattern] = orth
    return patterns


_SPECIAL_PATTERNS = _special_patterns()
_SPECIAL_PATTERN_FIRST = frozenset(p[0] for p in _SPECIAL_PATTERNS)
# the first two tokens of a pattern -> the lengths of the patterns that start so
_SPECIAL_PATTERN_STARTS: dict[tuple[str, str], set[int]] = {}
for _pattern in _SPECIAL_PATTERNS:
    _SPECIAL_PATTERN_STARTS.setdefault(_pattern[:2], set()).add(len(_pattern))


def _merge_special_patterns(tokens: list[str]) -> list[str]:
    """Merge runs of tokens that spell a special case, as spaCy's matcher does after splitting
    (``"foo():"`` splits into ``foo ( ) :``, and ``):`` is an emoticon)."""
    if len(tokens) < 2 or _SPECIAL_PATTERN_FIRST.isdisjoint(tokens):
        return tokens
    matches = []
    for i in range(len(tokens) - 1):
        for length in _SPECIAL_PATTERN_STARTS.get((tokens[i], tokens[i + 1]), ()):
            if i + length <= len(tokens):
                orth = _SPECIAL_PATTERNS.get(tuple(tokens[i : i + length]))
                if orth is not None:
                    matches.append((i, i + length, orth))
    if not matches:
        return tokens
    # longest first, then leftmost; a match whose first or last token is taken is dropped, as in spaCy
    taken: set[int] = set()
    kept = {}
    for i, j, orth in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
        if i not in taken and j - 1 not in taken:
            kept[i] = (j, orth)
        taken.update(range(i, j))
    out, i = [], 0
    while i < len(tokens):
        if i in kept:
            j, orth = kept[i]
            out.extend(_SPECIAL_CASES[orth])
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return out


class FastEnglishSplitter(WordTokenizer):
    """spaCy's English tokenizer and sentencizer as datatrove uses them (``spacy.blank("en")`` plus the
    ``sentencizer`` pipe, tokens and sentences stripped of whitespace), reimplemented without spaCy.

    Words: the text is cut at whitespace and each chunk is split by spaCy's English prefix, suffix and
    infix rules, tokenizer exceptions and URL pattern (tables above). A chunk is split once and then looked
    up, which makes repeated words cheap; the lookup table is shared by every splitter in the process (the
    filters of a pipeline split the same texts) and emptied when it reaches ``CACHE_SIZE`` chunks.
    Sentences: a sentence ends after a token in spaCy's sentence-final set (``. ! ?`` and their
    counterparts in other scripts) once a token follows that is neither punctuation nor another such end.
    """

    CACHE_SIZE = 100_000
    _chunks: ClassVar[dict[str, tuple[str, ...]]] = {}
    _punct: ClassVar[dict[str, bool]] = {}

    def __init__(self) -> None:
        super().__init__("en")

    @classmethod
    def clear_cache(cls) -> None:
        """Forget every chunk split so far (a benchmark's runs then each start from nothing)."""
        cls._chunks.clear()
        cls._punct.clear()

    def _chunk_tokens(self, chunk: str) -> tuple[str, ...]:
        tokens = self._chunks.get(chunk)
        if tokens is None:
            if chunk in _SPECIAL_CASES:
                tokens = _SPECIAL_CASES[chunk]
            elif _ASCII_WORD.fullmatch(chunk):
                tokens = (chunk,)
            else:
                tokens = tuple(_merge_special_patterns(_split_chunk(chunk, _SPECIAL_CASES)))
            chunks = self._chunks
            if len(chunks) >= self.CACHE_SIZE:  # forget the older half
                for old in list(chunks)[: len(chunks) // 2]:
                    del chunks[old]
            chunks[chunk] = tokens
        return tokens

    def _is_punct(self, token: str) -> bool:
        """spaCy's Token.is_punct: every character is in a Unicode punctuation category."""
        value = self._punct.get(token)
        if value is None:
            value = all(unicodedata.category(c)[0] == "P" for c in token)
            if len(self._punct) >= self.CACHE_SIZE:
                self._punct.clear()
            self._punct[token] = value
        return value

    def word_tokenize(self, text: str) -> list[str]:
        out: list[str] = []
        extend, chunks = out.extend, self._chunks
        for chunk in text.split():
            tokens = chunks.get(chunk)
            extend(tokens if tokens is not None else self._chunk_tokens(chunk))
        return out

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        # spaCy's tokens: every non-space chunk's tokens, and every whitespace run as one token, except a
        # single " " after a chunk (spaCy stores that as the chunk's trailing space). Only chunks with a
        # sentence-final character and the tokens right after them can end a sentence, so only they are
        # walked.
        n = len(text)
        if not n:
            return []
        spans: list[tuple[int, int]] = []
        sent_start = 0  # the first token starts at 0, whether it is a chunk or leading whitespace
        done = 0
        finals = (
            _SENTENCE_FINAL_CHAR if not text.isascii() and _ASTRAL.search(text) else _SENTENCE_FINAL_BMP_CHAR
        )
        last_end = 0
        for m in finals.finditer(text):
            i = m.start()
            if i < done:
                continue
            # back to the start of the chunk: after the last " " or newline, unless other whitespace is closer
            start = max(text.rfind(" ", done, i), text.rfind("\n", done, i), done - 1) + 1
            if _NON_SPACES.match(text, start).end() < i:
                start = i
                while start > 0 and not text[start - 1].isspace():
                    start -= 1
            i = start
            seen_final = False
            while True:
                j = _NON_SPACES.match(text, i).end()
                for token in self._chunk_tokens(text[i:j]):
                    if token in _SENTENCE_FINAL:
                        seen_final = True
                    elif seen_final and not self._is_punct(token):
                        spans.append((sent_start, last_end))
                        sent_start, seen_final = i, False
                    i += len(token)
                    last_end = i
                done = j
                if not seen_final or j == n:
                    break
                k = _SPACES.match(text, j).end()
                space_start = j + 1 if text[j] == " " else j
                if space_start < k:  # a whitespace token: not punctuation, so it starts the next sentence
                    spans.append((sent_start, j))
                    sent_start = space_start
                    break
                if k == n:
                    break
                i = k  # a single space: the next chunk decides
        stripped = text.rstrip()
        if not stripped or len(text) - len(stripped) != 1 or text[-1] != " ":
            end = n  # text ends in a chunk or in a whitespace token
        else:
            end = n - 1  # a single trailing space belongs to the last chunk
        spans.append((sent_start, end))
        return spans

    def sent_tokenize(self, text: str) -> list[str]:
        return [s for s in (text[a:b].strip() for a, b in self.span_tokenize(text)) if s]
