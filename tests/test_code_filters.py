"""CodeQualityFilter: every rule kept and dropped at its threshold, the language lookup, datatrove's run."""

from __future__ import annotations

import pytest
from datatrove.data import Document

from mixer.errors import PlanError
from mixer.filters.code import (
    RULES,
    CodeQualityFilter,
    language_from_path,
    normalise_language,
    visible_html_text,
)

WORDS = "alpha beta gamma delta "  # 23 characters, no base64 run, no hex byte, 82% letters


def words(n: int) -> str:
    """Exactly ``n`` characters of plain words (spaces between, no newline)."""
    return (WORDS * (n // len(WORDS) + 1))[:n]


def lines(n_lines: int, width: int) -> str:
    return "\n".join(words(width) for _ in range(n_lines)) + "\n"


def html_page(visible: int, total: int) -> str:
    """``visible`` letters inside <p>, padded with a hidden comment of words to ``total`` characters."""
    page = "<p>" + "x" * visible + "</p><!--  -->"
    return page.replace("<!--  -->", "<!-- " + words(total - len(page)) + " -->")


def hex_array(n: int) -> str:
    return ", ".join("0x%02x" % (i % 256) for i in range(n))


PY = {"path": "src/pkg/module.py"}
CASES = [
    # (id, text, where (language/path), parameters, expected reason or None)
    # max_line_length: 1000 (Codex / The Stack v1); the lines around it keep the mean under 100
    ("max_line_length keep 1000", words(1000) + "\n" + lines(20, 20), PY, {}, None),
    ("max_line_length drop 1001", words(1001) + "\n" + lines(20, 20), PY, {}, "max_line_length"),
    ("max_line_length markdown 5000 keeps", words(5000) + "\n", {"language": "Markdown"}, {}, None),
    (
        "max_line_length markdown 100001 drops",
        words(100_001),
        {"language": "markdown"},
        {},
        "max_line_length",
    ),
    ("max_line_length parameter", lines(3, 50), PY, {"max_line_length": 49}, "max_line_length"),
    ("max_line_length off", words(2000) + "\n" + lines(40, 20), PY, {"max_line_length": None}, None),
    # mean_line_length: 100
    ("mean_line_length keep 100", lines(10, 100), PY, {}, None),
    ("mean_line_length drop 101", lines(10, 101), PY, {}, "mean_line_length"),
    (
        "mean_line_length not for html",
        lines(10, 300),
        {"path": "site/index.html"},
        {"html_min_visible_fraction": None},
        None,
    ),
    (
        "mean_line_length per language",
        lines(10, 60),
        {"language": "python"},
        {"mean_line_length_by_language": {"Python": 50}},
        "mean_line_length",
    ),
    # max_lines: 100,000; 512 for text, JSON, YAML, OWL, DOT (The Stack v2)
    (
        "max_lines yaml keep 512",
        "ab: cdefg\n" * 512,
        {"path": "conf/a.yaml"},
        {"size_bounds_by_language": {"yaml": (0, 10**6)}},
        None,
    ),
    (
        "max_lines yaml drop 513",
        "ab: cdefg\n" * 513,
        {"path": "conf/a.yml"},
        {"size_bounds_by_language": {"yaml": (0, 10**6)}},
        "max_lines",
    ),
    ("max_lines text drop 513", lines(513, 10), {"path": "notes/todo.txt"}, {}, "max_lines"),
    ("max_lines python keeps 513", lines(513, 10), PY, {}, None),
    ("max_lines python drop 100001", "x = 1\n" * 100_001, PY, {}, "max_lines"),
    # size_bounds: JSON and YAML between 50 and 5,000 characters (StarCoder 3.6)
    ("size_bounds json drop 49", lines(1, 48), {"path": "a.json"}, {}, "size_bounds"),
    ("size_bounds json keep 50", lines(1, 49), {"path": "a.json"}, {}, None),
    ("size_bounds json keep 5000", lines(50, 99), {"path": "a.json"}, {}, None),
    ("size_bounds json drop 5001", lines(50, 99) + "x", {"path": "a.json"}, {}, "size_bounds"),
    ("size_bounds yaml drop 5001", lines(50, 99) + "x", {"language": "YAML"}, {}, "size_bounds"),
    ("size_bounds not for python", lines(1, 20), PY, {}, None),
    # alphanumeric_fraction: 0.25
    ("alphanumeric keep 0.25", "a..." * 25, PY, {}, None),
    ("alphanumeric drop 0.24", "a..." * 24 + "....", PY, {}, "alphanumeric_fraction"),
    # alphabetic_fraction: 0.25; 0.5 for JSON and YAML; off for WebAssembly and 68K assembly
    ("alphabetic keep 0.25", "z1.." * 25, PY, {}, None),
    ("alphabetic drop 0.24", "z1.." * 24 + "11..", PY, {}, "alphabetic_fraction"),
    ("alphabetic json keep 0.5", "zy.." * 20, {"path": "x.json"}, {}, None),
    ("alphabetic json drop 0.49", "zy.." * 19 + "z...", {"path": "x.json"}, {}, "alphabetic_fraction"),
    ("alphabetic wasm off", "12.." * 25, {"path": "m.wat"}, {}, None),
    ("alphabetic 68k off", "12.." * 25, {"language": "Motorola 68K Assembly"}, {}, None),
    (
        "alphabetic 68k alphanumeric still on",
        "1..." * 24 + "....",
        {"language": "Motorola 68K Assembly"},
        {},
        "alphanumeric_fraction",
    ),
    # xml_header: "<?xml" within the first 100 characters of a non-XML file (StarCoder 3.3)
    (
        "xml_header drop at 95",
        words(95) + "<?xml version='1.0'?>\n" + lines(10, 20),
        {"path": "a.sld"},
        {},
        "xml_header",
    ),
    (
        "xml_header keep at 96",
        words(96) + "<?xml version='1.0'?>\n" + lines(10, 20),
        {"path": "a.sld"},
        {},
        None,
    ),
    (
        "xml_header keep for xml",
        "<?xml version='1.0'?>\n<a>" + words(80) + "</a>\n",
        {"path": "a.xml"},
        {},
        None,
    ),
    (
        "xml_header keep for xslt",
        "<?xml version='1.0'?>\n<a>" + words(80) + "</a>\n",
        {"path": "a.xsl"},
        {},
        None,
    ),
    # html_visible_text: visible text at least 100 characters and 20% of the file (StarCoder 3.5)
    ("html keep 100 chars 20%", html_page(100, 500), {"path": "index.html"}, {}, None),
    ("html drop 99 chars", html_page(99, 300), {"path": "index.html"}, {}, "html_visible_text"),
    ("html drop under 20%", html_page(100, 501), {"path": "index.htm"}, {}, "html_visible_text"),
    (
        "html rule only for html",
        html_page(10, 500),
        PY,
        {"max_line_length": None, "mean_line_length": None},
        None,
    ),
    # encoded_data: a base64 / hex / \uXXXX run over 1,024 characters, or runs over 50% (The Stack v2)
    (
        "base64 keep 1024",
        lines(30, 50) + 'x = "' + "A" * 1024 + '"\n',
        PY,
        {"max_line_length": None, "mean_line_length": None},
        None,
    ),
    (
        "base64 drop 1025",
        lines(30, 50) + 'x = "' + "A" * 1025 + '"\n',
        PY,
        {"max_line_length": None, "mean_line_length": None},
        "encoded_data",
    ),
    ("base64 across lines", lines(40, 50) + ("Qk0" * 20 + "\n") * 20, PY, {}, "encoded_data"),
    (
        "hex C array drop",
        "static const char d[] = {\n" + hex_array(200) + "};\n",
        {"path": "d.c"},
        {"max_line_length": None, "mean_line_length": None},
        "encoded_data",
    ),
    (
        "hex short array keep",
        lines(10, 40) + "int d[] = {" + hex_array(20) + "};\n",
        {"path": "d.c"},
        {},
        None,
    ),
    (
        "hex escapes drop",
        lines(10, 40) + 's = b"' + "\\x41\\x42" * 100 + '"\n',
        PY,
        {"max_line_length": None, "mean_line_length": None},
        "encoded_data",
    ),
    (
        "unicode escapes keep 50%",
        words(598) + "\n" + "\\u00e9" * 100 + "\n",
        PY,
        {"max_line_length": None, "mean_line_length": None},
        None,
    ),
    (
        "unicode escapes drop over 50%",
        words(597) + "\n" + "\\u00e9" * 100 + "\n",
        PY,
        {"max_line_length": None, "mean_line_length": None},
        "encoded_data",
    ),
    ("unicode escapes under 8 keep", lines(2, 20) + "\\u00e9" * 7 + "\n", PY, {}, None),
    # auto_generated: a marker in the first 5 lines
    (
        "generated marker line 5",
        "a = 1\n" * 4 + "# Code generated by protoc-gen-go. DO NOT EDIT.\n" + lines(5, 20),
        {"path": "x.go"},
        {},
        "auto_generated",
    ),
    ("generated marker line 6 keeps", "a = 1\n" * 5 + "# generated by hand\n" + lines(5, 20), PY, {}, None),
    (
        "generated autogenerated",
        "// This file is autogenerated\n" + lines(5, 20),
        {"path": "x.ts"},
        {},
        "auto_generated",
    ),
    ("generated @generated", "/* @generated */\n" + lines(5, 20), {"path": "x.js"}, {}, "auto_generated"),
    (
        "generated automatically",
        '"""Automatically generated module."""\n' + lines(5, 20),
        PY,
        {},
        "auto_generated",
    ),
    ("generated do not edit", "# DO NOT EDIT\n" + lines(5, 20), PY, {}, "auto_generated"),
    (
        "generated more lines",
        "a = 1\n" * 6 + "# do not edit\n",
        PY,
        {"generated_marker_lines": 10},
        "auto_generated",
    ),
    # lock_file, minified, vendored_path: by path
    ("lock file", lines(5, 40), {"path": "web/package-lock.json"}, {}, "lock_file"),
    ("lock file Cargo", lines(5, 40), {"path": "Cargo.lock"}, {}, "lock_file"),
    ("lock file pnpm", lines(5, 40), {"path": "a/pnpm-lock.yaml"}, {}, "lock_file"),
    ("not a lock file", lines(5, 40), {"path": "web/package.json"}, {}, None),
    ("minified name", lines(5, 40), {"path": "static/app.min.js"}, {}, "minified"),
    ("minified css name", lines(5, 40), {"path": "static/site-min.css"}, {}, "minified"),
    ("source map", lines(5, 40), {"path": "static/app.js.map"}, {}, "minified"),
    ("js mean 110 is long lines", lines(10, 110), {"path": "app.js"}, {}, "mean_line_length"),
    ("js mean 111 is minified", lines(10, 111), {"path": "app.js"}, {}, "minified"),
    ("python mean 111 is long lines", lines(10, 111), PY, {}, "mean_line_length"),
    ("vendor dir", lines(5, 40), {"path": "vendor/github.com/x/y.go"}, {}, "vendored_path"),
    ("node_modules", lines(5, 40), {"path": "app/node_modules/left-pad/index.js"}, {}, "vendored_path"),
    ("third_party", lines(5, 40), {"path": "src/third_party/zlib/inflate.c"}, {}, "vendored_path"),
    ("windows path", lines(5, 40), {"path": "src\\ThirdParty\\x.c"}, {}, "vendored_path"),
    ("file named vendor keeps", lines(5, 40), {"path": "tools/vendor.py"}, {}, None),
    (
        "vendored dirs parameter",
        lines(5, 40),
        {"path": "ext/x.c"},
        {"vendored_dirs": ["ext"]},
        "vendored_path",
    ),
    # a document with no language or path gets the general rules
    ("no metadata", lines(10, 101), {}, {}, "mean_line_length"),
    ("no metadata keeps", lines(10, 40), {}, {}, None),
]


@pytest.mark.parametrize(
    ("text", "where", "params", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_table(text, where, params, expected):
    f = CodeQualityFilter(**params)
    doc = Document(text=text, id="d", metadata=dict(where))
    result = f.filter(doc)
    assert result == (True if expected is None else (False, expected))


def test_every_rule_has_a_drop_case():
    dropped = {c[4] for c in CASES}
    assert set(RULES) <= dropped


def test_language_from_metadata_wins_over_path():
    f = CodeQualityFilter()
    text = lines(1, 60)  # 61 characters: inside JSON's bounds
    assert f.check(text, language="JSON", path="a.py") is None
    assert f.check("x" * 20, language="JSON", path="a.py") == "size_bounds"
    assert f.check("x" * 20, path="a.json") == "size_bounds"
    assert f.check("x" * 20, path="a.py") is None


def test_lang_and_stack_v1_path_keys():
    f = CodeQualityFilter()
    doc = Document(text="x" * 20, id="d", metadata={"lang": "JSON", "max_stars_repo_path": "src/a.py"})
    assert f.filter(doc) == (False, "size_bounds")
    doc = Document(text=lines(5, 40), id="d", metadata={"max_stars_repo_path": "vendor/a.py"})
    assert f.filter(doc) == (False, "vendored_path")


def test_language_from_path():
    # mixer.sources.languages first (Linguist names, lower-cased), then the data and markup formats it lacks
    assert language_from_path("a/b/Index.HTML") == "html"
    assert language_from_path("x.min.js") == "javascript"
    assert language_from_path("Makefile") == "makefile"
    assert language_from_path("src\\CMakeLists.txt") == "cmake"
    assert language_from_path("notes/todo.txt") == "text"
    assert language_from_path("style.xsl") == "xml"
    assert language_from_path("icon.svg") == "xml"
    assert language_from_path("data.unknown") is None
    assert normalise_language("YML") == "yaml"
    assert normalise_language("cpp") == "c++"
    assert normalise_language("Motorola 68K Assembly") == "motorola-68k-assembly"


def test_skip_rules():
    text = lines(10, 101)
    assert CodeQualityFilter().check(text) == "mean_line_length"
    assert CodeQualityFilter(skip_rules=["mean_line_length"]).check(text) is None
    with pytest.raises(PlanError, match="unknown rules \\['line_length'\\]"):
        CodeQualityFilter(skip_rules=["line_length"])


def test_first_failing_rule_is_the_reason():
    # vendored, a lock file and too long: the path rules come first
    text = lines(10, 200)
    assert CodeQualityFilter().check(text, path="vendor/package-lock.json") == "vendored_path"
    assert (
        CodeQualityFilter(skip_rules=["vendored_path"]).check(text, path="vendor/package-lock.json")
        == "lock_file"
    )


def test_non_ascii_text_counts_characters_not_bytes():
    # 100 characters, 25 of them letters (accented): exactly at the alphabetic threshold
    assert CodeQualityFilter().check("é..." * 25) is None
    assert CodeQualityFilter().check("é..." * 24 + "....") == "alphanumeric_fraction"
    # Unicode white space joins hex bytes too (the pre-check must not skip it)
    text = words(100) + "\n" + "\u00a0".join(["ab"] * 600) + "\n"
    assert CodeQualityFilter(max_line_length=None, mean_line_length=None).check(text) == "encoded_data"


def test_visible_html_text():
    page = "<html><head><style>p {color: red}</style><script>var x = 1;</script></head>\n<body><!-- hidden -->\n  <p>Caf&eacute;   au\n lait</p></body></html>"
    assert visible_html_text(page) == "Café au lait"


def test_run_counts_reasons_in_stats():
    f = CodeQualityFilter()
    docs = [
        Document(text=lines(5, 40), id="keep", metadata={"path": "a.py"}),
        Document(text=lines(5, 40), id="lock", metadata={"path": "yarn.lock"}),
        Document(text=lines(5, 200), id="long", metadata={"path": "b.py"}),
        Document(text=lines(5, 200), id="long2", metadata={"path": "c.py"}),
    ]
    kept = list(f.run(iter(docs)))
    assert [d.id for d in kept] == ["keep"]
    assert f.stats["dropped_lock_file"].total == 1
    assert f.stats["dropped_mean_line_length"].total == 2
    assert f.stats["dropped"].total == 3


def test_encoded_data_prechecks_change_no_match():
    """The windows the hex expression runs in hold exactly the matches it finds in the whole text."""
    import random

    from mixer.filters.code import _HEX, _hex_windows

    rng = random.Random(5)
    good, noise = (
        ["12", "0x1f", "\\xab", "ab", "ff", "Ab", "00"],
        ["1", "123", "g1", "é", "0X", "x", "__", "fff"],
    )
    good_seps, noise_seps = [", ", ",", " ", "\n", "\u00a0", "\t"], ["", ".", "x", ";", "\\", "é", "(", "_"]
    matched = 0
    for _ in range(3000):
        p = rng.choice([0.02, 0.05, 0.1, 0.3])
        parts = []
        for _ in range(rng.randint(1, 40)):
            parts.append(rng.choice(noise) if rng.random() < p else rng.choice(good))
            parts.append(rng.choice(noise_seps) if rng.random() < p else rng.choice(good_seps))
        text = "".join(parts)
        whole = [m.span() for m in _HEX.finditer(text)]
        windows = _hex_windows(text.encode("ascii", "replace"), text.isascii())
        assert [m.span() for lo, hi in windows for m in _HEX.finditer(text, lo, hi)] == whole, text
        matched += bool(whole)
    assert matched > 500
