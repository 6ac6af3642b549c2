"""Every rule of the text quality steps as a table: document -> keep, or drop with datatrove's reason.

Each row names one rule and holds a small document that breaks that rule and none checked before it
(datatrove's filters return the first rule that fails), run through the step as a recipe makes it, at
datatrove's default thresholds unless the row sets one. The Gopher, C4 and FineWeb rows run again with
``word_splitter: spacy`` (datatrove's own spaCy splitting), which must give the same result and text: the
tables double as an agreement check of the fast word splitter on documents near each threshold.
c4_badwords has its table in tests/test_quality.py.
"""

from __future__ import annotations

import pytest
from datatrove.data import Document

from mixer.filters.steps import StepSpec, make_step


def kept(text: str, params: dict | None = None, *, id: str = "kept", text_after: str | None = None):
    """A row: the step keeps ``text``, as ``text_after`` where the step rewrites it (C4 drops lines)."""
    return pytest.param(params or {}, text, True, text if text_after is None else text_after, id=id)


def dropped(text: str, reason: str, params: dict | None = None, *, id: str | None = None):
    """A row: the step drops ``text`` for ``reason`` (the row's id unless given) and leaves it as it was."""
    return pytest.param(params or {}, text, (False, reason), text, id=id or reason)


def run_step(name: str, params: dict, text: str, word_splitter: str = "fast") -> tuple:
    """(the step's result, the document's text afterwards)."""
    doc = Document(text=text, id="doc")
    result = make_step(StepSpec(name, {**params, "word_splitter": word_splitter})).filter(doc)
    return result, doc.text


# --- gopher_quality -----------------------------------------------------------------------------------
# 63 words besides punctuation, 4.4 characters a word on average, five distinct stop words
PROSE = (
    "The harbour was quiet in the early morning, and the fishermen walked slowly along the wooden pier "
    "while the gulls circled above the boats. Most of them had worked on the water for many years, and "
    "they knew that the weather could change before noon. They checked their nets, talked about the "
    "prices at the market, and waited for the tide to turn."
)
PIER = "The harbour was quiet in the early morning, and the fishermen walked slowly along the wooden pier"
NETS = "The gulls circled above the boats while most of them checked their nets."
NOON = "They had worked on the water for many years, and they knew that the weather could change before noon"
TIDE = "They talked about the prices at the market and waited for the tide to turn."
# 14 "#" among 98 words: a hashtag is two words, "#" and the tag (Gopher allows 0.1 "#" a word)
HASHTAGS = (
    PROSE
    + "\n#harbour #boats #fishing #tide #gulls #nets #market #weather #morning #pier #sea #salt #sails #rope"
)
# 11 ellipses, "..." or "…", among 99 words (Gopher allows 0.1 a word)
ELLIPSES = (
    PROSE + "\nWell... maybe... soon... perhaps… later... tomorrow... next week... next year... who knows... "
    "some day... one day... never."
)
BULLETS = "\n".join(["- " + PIER + ".", "- " + NETS, "• " + NOON + ".", "- " + TIDE])
# two lines in four end with an ellipsis (at most 30% may); two ellipses among 70 words
END_ELLIPSES = "\n".join([PIER + "...", NETS, NOON + "…", TIDE])
# 66 words of 93 have a letter (at least 80% must): punctuation counts as words here, years have no letter
NUMBERS = (
    PROSE
    + "\nCatches by year: 1998 2001 2004 2007 2010 2013 2016 2019 2022 2025 1999 2002 2005 2008 2011 2014 2017 2020."
)
# no lower-case the, be, to, of, and, that, have, with: Gopher matches its stop words case-sensitively
WITHOUT_STOP_WORDS = (
    "The boats left early. Fishermen walked slowly along wooden piers while gulls circled above. Most men "
    "had worked on boats for many years; they knew how weather could change before noon. They checked "
    "their nets, talked about prices at markets, then waited for tides. Once sunlight rose above hills, a "
    "first boat left harbour, others followed soon after, sails bright against grey water."
)
ONE_STOP_WORD = WITHOUT_STOP_WORDS.replace("on boats", "on the boats")
TWO_STOP_WORDS = ONE_STOP_WORD.replace("about prices", "about prices of fish")

GOPHER_QUALITY = [
    kept(PROSE),
    dropped("The boat left the harbour early and the fishermen waited for the tide.", "gopher_short_doc"),
    # the default ceiling is 100,000 words: a ceiling under PROSE's 63 stands in for a huge document
    dropped(PROSE, "gopher_long_doc", {"max_doc_words": 60}),
    dropped("It is a cat and a dog. " * 8, "gopher_below_avg_threshold"),
    dropped(
        "Extraordinarily comprehensive internationalization documentation. " * 13,
        "gopher_above_avg_threshold",
    ),
    dropped(HASHTAGS, "gopher_too_many_hashes"),
    dropped(ELLIPSES, "gopher_too_many_ellipsis"),
    dropped(BULLETS, "gopher_too_many_bullets"),
    dropped(END_ELLIPSES, "gopher_too_many_end_ellipsis"),
    dropped(NUMBERS, "gopher_below_alpha_threshold"),
    dropped(WITHOUT_STOP_WORDS, "gopher_enough_stop_words"),
    dropped(ONE_STOP_WORD, "gopher_enough_stop_words", id="one_stop_word_is_not_enough"),
    kept(TWO_STOP_WORDS, id="two_stop_words_are_enough"),
]


@pytest.mark.parametrize(("params", "text", "expected", "text_after"), GOPHER_QUALITY)
def test_gopher_quality(params, text, expected, text_after):
    assert run_step("gopher_quality", params, text) == (expected, text_after)


# --- gopher_repetition --------------------------------------------------------------------------------
PIER_SENTENCE = PIER + "."
YEARS = "Most of them had worked on the water for many years."
NETS_SENTENCE = "They checked their nets and waited for the tide to turn."
SUNRISE = "When the sun rose above the hills, the first boat left and the others followed it out to sea."

# The n-gram rules: the most frequent 2-, 3- or 4-gram's characters times its count, and the characters of
# every 5- to 10-gram seen before, over the document's characters. A phrase that comes back also repeats
# its shorter n-grams, checked first: each document below is long enough for those to stay under their
# limits and short enough for its own rule to fail.
BUY_NOW = "Buy now, buy now, buy now! Prices this low will not last, so buy now, buy now and buy now again."
# "fresh fish daily" three times is 27% of the characters (at most 18% may be); "fresh fish", 17% (20%)
FRESH_FISH_DAILY = (
    "We sell fresh fish daily. Ask for fresh fish daily at the pier, or order fresh fish daily online "
    "before noon. Our boats go out each morning while most people are still asleep."
)
FRESH_FISH_FOR_SALE = (
    "Every morning we have fresh fish for sale at the harbour. Come early, because fresh fish for sale goes "
    "quickly, and the best fresh fish for sale is gone by nine. Our small boats leave before dawn and return "
    "when the tide turns, loaded with cod and mackerel."
)
# "old keeper painted his wooden door bright blue every spring" twice: its two duplicated 5-grams are 18%
# of the characters (at most 15% may be). In TEN_WORDS_TWICE, longer, the duplicated 5-grams are 12% and
# so is the duplicated 10-gram (at most 10% may be)
TEN_WORDS_TWICE_SHORT = (
    "The old keeper painted his wooden door bright blue every spring before the first storms came. "
    "Visitors still say the old keeper painted his wooden door bright blue every spring, although nobody "
    "has seen him for years. His cottage stands empty now, and its little garden is overgrown with nettles."
)
# the 6- and 7-word phrases come three times, so that their characters count twice as duplicates and their
# 4-grams three times: with the phrase only twice, the 4-grams would reach their limit first
SIX_WORDS_THRICE = (
    "Our shop sells Norwegian salmon at a reasonable price. Ask the fishmonger for Norwegian salmon at a "
    "reasonable price, or order Norwegian salmon at a reasonable price by telephone before noon. Deliveries "
    "leave the harbour twice a week, on Tuesdays and Fridays, and reach most villages along the coast within "
    "a day. Customers who live further inland can collect their orders from the station, where a "
    "refrigerated van waits every afternoon."
)
SEVEN_WORDS_THRICE = (
    "In March the fishermen caught a hundred enormous mackerel near the cape. By April the fishermen caught "
    "a hundred enormous mackerel every morning, and in May the fishermen caught a hundred enormous mackerel "
    "before breakfast. The market could hardly keep up: traders drove down from the capital, restaurants "
    "changed their menus, and the cannery hired forty extra workers for the season. Older residents said "
    "they had never seen such a year, and some of them worried that the shoals would not return next spring."
)
EIGHT_WORDS_TWICE = (
    "Last summer the keeper painted the door of the lighthouse bright red. Sailors passing by the cape at "
    "dusk could see it from far away. This year the keeper painted the door of the lighthouse again, but in "
    "green. Nobody in our small fishing village knows which colour he will choose next spring."
)
NINE_WORDS_TWICE = (
    "Last summer the old keeper painted the door of the lighthouse bright red. Sailors passing by the cape "
    "at dusk could see it from far away. This year the old keeper painted the door of the lighthouse again, "
    "but in green. Nobody in our village knows which colour he will choose next spring."
)
TEN_WORDS_TWICE = (
    "Last summer the old keeper painted the door of the lighthouse bright red. Sailors passing by the cape "
    "at dusk could see it from far away, and children on the beach waved at him. This year the old keeper "
    "painted the door of the lighthouse bright green instead. Nobody in our small village knows which colour "
    "he will choose next spring, but everyone has an opinion about it, and most of them bet on yellow."
)

GOPHER_REPETITION = [
    kept("\n\n".join([PIER_SENTENCE, YEARS, NETS_SENTENCE, SUNRISE])),
    dropped("", "empty"),
    # one paragraph in three repeats (more than 30%)
    dropped("\n\n".join([PIER_SENTENCE, YEARS, PIER_SENTENCE]), "dup_para_frac"),
    # one paragraph in four repeats (at most 30% may), but it is 32% of the characters (at most 20% may be)
    dropped("\n\n".join([PIER_SENTENCE, YEARS, NETS_SENTENCE, PIER_SENTENCE]), "dup_para_char_frac"),
    # the same with lines of one paragraph
    dropped("\n".join([PIER_SENTENCE, YEARS, PIER_SENTENCE]), "dup_line_frac"),
    dropped("\n".join([PIER_SENTENCE, YEARS, NETS_SENTENCE, PIER_SENTENCE]), "dup_line_char_frac"),
    dropped(BUY_NOW, "top_2_gram"),
    dropped(FRESH_FISH_DAILY, "top_3_gram"),
    dropped(FRESH_FISH_FOR_SALE, "top_4_gram"),
    dropped(TEN_WORDS_TWICE_SHORT, "duplicated_5_n_grams"),
    dropped(SIX_WORDS_THRICE, "duplicated_6_n_grams"),
    dropped(SEVEN_WORDS_THRICE, "duplicated_7_n_grams"),
    dropped(EIGHT_WORDS_TWICE, "duplicated_8_n_grams"),
    dropped(NINE_WORDS_TWICE, "duplicated_9_n_grams"),
    dropped(TEN_WORDS_TWICE, "duplicated_10_n_grams"),
]


@pytest.mark.parametrize(("params", "text", "expected", "text_after"), GOPHER_REPETITION)
def test_gopher_repetition(params, text, expected, text_after):
    assert run_step("gopher_repetition", params, text) == (expected, text_after)


# --- c4_quality ---------------------------------------------------------------------------------------
# five sentences (C4 wants at least five) on three lines that every line rule keeps
FIVE_SENTENCES = (
    "The harbour was quiet in the early morning. The fishermen walked slowly along the pier.\n"
    "Gulls circled above the boats. Most of them were hungry.\n"
    "The first boat left at noon."
)
FOUR_SENTENCES = FIVE_SENTENCES.removesuffix("\nThe first boat left at noon.")
EVERY_LINE_RULE = "\n".join(
    [
        "The harbour was quiet in the early morning. The fishermen walked slowly along the pier.",
        "Please enable JavaScript to see the tide tables.",  # javascript
        "This site uses cookies to improve your experience.",  # policy
        "Read our Privacy Policy before you book a trip.",  # policy, in any case
        "Share this page",  # no terminal punctuation
        "Thanks!",  # fewer than 3 words
        "They waited for the tide to turn...",  # an ellipsis is no terminal punctuation
        "Download the chart: " + "w" * 1001 + ".",  # a word over 1000 characters
        # stripped, then its citations cut: the line ends with its full stop
        "   Gulls circled above the boats.[1] Most of them were hungry.[citation needed]   ",
        # a citation after a space leaves the space at the end: no terminal punctuation
        "The first boat left at noon. [2]",
        '"We leave at noon," said the captain.',  # a closing quote is terminal punctuation
    ]
)
# sentences are counted on the lines that are kept
FIVE_SENTENCES_ONE_ON_A_JAVASCRIPT_LINE = FIVE_SENTENCES.replace(
    "at noon.", "at noon, see the JavaScript map."
)
LOREM_IPSUM = FIVE_SENTENCES.replace("Most of them", "Lorem ipsum dolor sit amet. Most of them")

C4_QUALITY = [
    kept(FIVE_SENTENCES),
    kept(
        EVERY_LINE_RULE,
        id="line_rules_drop_lines",
        text_after="The harbour was quiet in the early morning. The fishermen walked slowly along the pier.\n"
        "Gulls circled above the boats. Most of them were hungry.\n"
        '"We leave at noon," said the captain.',
    ),
    dropped(FOUR_SENTENCES, "too_few_sentences"),
    dropped(
        FIVE_SENTENCES_ONE_ON_A_JAVASCRIPT_LINE, "too_few_sentences", id="too_few_sentences_on_kept_lines"
    ),
    dropped(LOREM_IPSUM, "lorem_ipsum"),
    dropped(FIVE_SENTENCES + "\nFill in {name} and press send.", "curly_bracket"),
    # the document rules (lorem ipsum, curly bracket) see only the lines that earlier line rules keep
    kept(
        FIVE_SENTENCES + "\nLorem ipsum dolor sit amet",
        id="lorem_ipsum_unpunctuated",
        text_after=FIVE_SENTENCES,
    ),
    kept(
        FIVE_SENTENCES + "\nJavaScript needs {braces}.",
        id="curly_bracket_on_javascript_line",
        text_after=FIVE_SENTENCES,
    ),
    dropped(
        FIVE_SENTENCES + "\nOur {cookie policy} applies.", "curly_bracket", id="curly_bracket_on_policy_line"
    ),
    # split_paragraph: false applies the line rules to sentences and joins the kept ones with spaces
    kept(
        "The harbour was quiet. Please enable JavaScript to see the tide tables. The fishermen walked along the "
        "pier. Gulls circled above the boats. They waited for the tide.\nThe first boat left at noon.",
        {"split_paragraph": False},
        id="sentences_instead_of_lines",
        text_after="The harbour was quiet. The fishermen walked along the pier. Gulls circled above the boats. "
        "They waited for the tide. The first boat left at noon.",
    ),
    kept(
        "Gulls circled above the boats.\nShare this page",
        {"min_num_sentences": -1},
        id="sentence_count_off",
        text_after="Gulls circled above the boats.",
    ),
]


@pytest.mark.parametrize(("params", "text", "expected", "text_after"), C4_QUALITY)
def test_c4_quality(params, text, expected, text_after):
    assert run_step("c4_quality", params, text) == (expected, text_after)


# --- fineweb_quality ----------------------------------------------------------------------------------
PROSE_LINES = "\n".join(
    [
        PIER_SENTENCE,
        "Most of them had worked on the water for many years, and they knew that the weather could change "
        "before noon.",
        "They checked their nets, talked about the prices at the market, and waited for the tide to turn.",
    ]
)
# no line ends with terminal punctuation (at least 12% must), and all are short
MENU = "Home\nAbout the harbour\nTide tables and weather\nContact the harbour master"
# three lines in four have at most 30 characters (at most 67% may)
SHORT_LINES = "Tides.\nWeather.\nBoats.\n" + PIER_SENTENCE
# one repeated line: its characters are 24% of the document's (at most 1% may be)
REPEATED_LINE = PROSE_LINES + "\n" + PIER_SENTENCE
# 4 line breaks to 11 words (at most 0.3 a word): a link is one word
LINKS = (
    "Tide tables:\nhttps://harbour.example.org/tides/may\nhttps://harbour.example.org/tides/june\n"
    "https://harbour.example.org/tides/july\nAll times are local."
)

FINEWEB_QUALITY = [
    kept(PROSE_LINES),
    dropped("", "empty"),
    dropped("\n  \n", "empty", id="blank_lines"),
    dropped(MENU, "line_punct_ratio"),
    # line_punct_exclude_zero exempts a document with no punctuated line at all
    dropped(MENU, "short_line_ratio", {"line_punct_exclude_zero": True}, id="line_punct_exclude_zero"),
    dropped(SHORT_LINES, "short_line_ratio"),
    dropped(REPEATED_LINE, "char_dup_ratio"),
    dropped(LINKS, "list_ratio"),
]


@pytest.mark.parametrize(("params", "text", "expected", "text_after"), FINEWEB_QUALITY)
def test_fineweb_quality(params, text, expected, text_after):
    assert run_step("fineweb_quality", params, text) == (expected, text_after)


# --- the fast word splitter against spaCy -------------------------------------------------------------
AGREEMENT = [
    pytest.param(name, *row.values, id=f"{name}-{row.id}")
    for name, table in [
        ("gopher_quality", GOPHER_QUALITY),
        ("gopher_repetition", GOPHER_REPETITION),
        ("c4_quality", C4_QUALITY),
        ("fineweb_quality", FINEWEB_QUALITY),
    ]
    for row in table
]


@pytest.mark.parametrize(("name", "params", "text", "expected", "text_after"), AGREEMENT)
def test_spacy_word_splitter_gives_the_same_result(name, params, text, expected, text_after):
    pytest.importorskip("spacy")  # a dev dependency
    assert run_step(name, params, text, word_splitter="spacy") == (expected, text_after)


# --- language -----------------------------------------------------------------------------------------
ENGLISH = "The harbour was quiet in the early morning, and the fishermen walked slowly along the wooden pier."
FRENCH = (
    "Le port était calme au petit matin, et les pêcheurs marchaient lentement le long de la jetée en bois."
)

# The language filter drops with a bare False (no reason): a build counts that under the step's name,
# "language". Every document it sees, kept or not, gets the top language and that language's score.
LANGUAGE = [
    pytest.param({"languages": ["en"]}, ENGLISH, True, "en", 0.98, id="english_kept"),
    pytest.param({"languages": ["en"]}, FRENCH, False, "fr", 0.97, id="french_dropped"),
    pytest.param({"languages": ["en", "fr"]}, FRENCH, True, "fr", 0.97, id="french_listed"),
    pytest.param({}, FRENCH, True, "fr", 0.97, id="no_list_keeps_any_language"),
    # under the 0.65 default threshold for every language
    pytest.param({}, "Hello", False, "en", 0.23, id="below_language_threshold"),
    pytest.param({"language_threshold": 0.2}, "Hello", True, "en", 0.23, id="language_threshold"),
    pytest.param({"languages": ["en"], "label_only": True}, FRENCH, True, "fr", 0.97, id="label_only"),
]


@pytest.mark.parametrize(("params", "text", "expected", "language", "score"), LANGUAGE)
def test_language(params, text, expected, language, score):
    doc = Document(text=text, id="doc")
    assert make_step(StepSpec("language", params)).filter(doc) is expected
    assert doc.metadata == {"language": language, "language_score": pytest.approx(score, abs=0.01)}
