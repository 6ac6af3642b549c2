"""Tests for mixer.samples.problems: doctest problems from a hand-written module, the generated set, a build."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from conftest import stdlib_texts, write_jsonl

from mixer.cli import main
from mixer.samples.doctest_problems import _TESTS_PREAMBLE, doctest_problems
from mixer.samples.generated_problems import GENERATED_DEFECTS, generated_problems
from mixer.samples.machine import stdlib_root as _stdlib_root
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import train_bpe

TOY = '''\
"""Toy module."""

import math
from fractions import Fraction as F

SCALE = 10


class ToyError(ValueError):
    pass


def _helper(x):
    return x * SCALE


def scaled(x):
    """Scale x.

    >>> scaled(2)
    20
    >>> scaled(-1)
    Traceback (most recent call last):
      ...
    toy.ToyError: negative
    """
    if x < 0:
        raise ToyError("negative")
    return _helper(x) + math.floor(0.5)


def noisy():
    """>>> import random; random.random()
    0.5
    """


def addresses():
    """>>> addresses()
    <object object at 0x7f00aa00bb00>
    """
    return object()


def letters():
    """>>> letters()
    {'b', 'a'}
    """
    return set("ab")


def directive():
    """>>> directive()  # doctest: +SKIP
    1
    """


def undocumented():
    return 1


def uses_os():
    """>>> uses_os()
    True
    """
    import os

    return bool(os.sep)


def self_import():
    """>>> from toy import scaled
    >>> scaled(1)
    10
    """


def setup_only():
    """>>> x = setup_only()"""
    return 1


class Box:
    """A box.

    >>> b = Box(F(1, 2))
    >>> b.value
    Fraction(1, 2)
    """

    def __init__(self, value):
        self.value = value

    def double(self):
        """Double it.

        >>> Box(2).double().value
        4
        >>> for n in (3, 4):
        ...     print(Box(n).double().value)
        ...     n
        6
        3
        8
        4
        >>> Box(None).double()
        Traceback (most recent call last):
        TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'
        >>> print(Box(1).value); print()
        1
        <BLANKLINE>
        """
        return Box(self.value * 2)


def unknown():
    """>>> unknown()
    1
    """
    return not_defined_anywhere


def example_unknown():
    """>>> example_unknown() + nowhere
    1
    """
    return 1
'''


def test_doctest_problems_from_a_module(tmp_path: Path) -> None:
    (tmp_path / "toy.py").write_text(TOY)
    skipped: Counter[str] = Counter()

    problems = list(doctest_problems(tmp_path, skipped, ("toy", "absent")))

    assert [p["id"] for p in problems] == ["doctest-toy.scaled", "doctest-toy.Box"]
    scaled, box = problems
    assert list(scaled) == ["id", "prompt", "solution", "tests", "origin", "module"]
    assert scaled["prompt"].startswith("Write `scaled(x)` of the `toy` module in Python 3.")
    assert scaled["prompt"].endswith("'s standard library, so that the examples in its docstrings hold.")
    assert box["prompt"].startswith("Write the class `Box` of the `toy` module in Python 3.")
    assert (scaled["module"], scaled["origin"][:10]) == ("toy", "python 3.1")
    # the module's own import for a module name, "from toy import" for what it defines
    assert (
        scaled["solution"]
        == "import math\nfrom toy import ToyError, _helper\n\n\n"
        + TOY[TOY.index("def scaled") : TOY.index("\n\ndef noisy")]
    )
    assert scaled["tests"] == "import contextlib\nimport io\n\n" + _TESTS_PREAMBLE + textwrap.dedent("""
        with _Example('20\\n'):
            _show(scaled(2))

        with _Example(raises='ToyError: negative'):
            _show(scaled(-1))
        """)
    assert box["solution"] == TOY[TOY.index("class Box") : TOY.index("\n\ndef unknown")]
    assert box["tests"] == "import contextlib\nimport io\nfrom fractions import Fraction as F\n\n" + (
        _TESTS_PREAMBLE
        + textwrap.dedent("""
        b = Box(F(1, 2))

        with _Example('Fraction(1, 2)\\n'):
            _show(b.value)

        with _Example('4\\n'):
            _show(Box(2).double().value)

        with _Example('6\\n3\\n8\\n4\\n'):
            for n in (3, 4):
                _show(print(Box(n).double().value))
                _show(n)

        with _Example(raises="TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'"):
            _show(Box(None).double())

        with _Example('1\\n\\n'):
            _show(print(Box(1).value))
            _show(print())
        """)
    )
    assert skipped == Counter({
        "missing-module": 1,  # absent
        "docstring-nondeterministic": 3,  # noisy (random), addresses, letters (a set)
        "docstring-directive": 1,
        "docstring-imports-its-module": 1,  # self_import
        "docstring-unresolved-name": 1,  # example_unknown
        "no-checked-example": 7,  # those five, and setup_only (nothing printed)
        "forbidden-import": 1,  # uses_os
        "unresolved-name": 1,  # unknown
    })  # fmt: skip


def test_generated_problems_and_their_defects() -> None:
    problems = generated_problems()
    assert len(problems) == 32
    assert len({p["id"] for p in problems}) == 32
    assert GENERATED_DEFECTS == {
        "generated-02-sum-to": "failed_test",
        "generated-04-rectangle-area": "failed_test",
        "generated-07-factorial": "crash",
        "generated-10-count-digits": "timeout",
        "generated-13-is-ipv4": "forbidden_import",
        "generated-16-zeroed-buffer": "memory",
        "generated-20-fetch-all": "resource_limit",
        "generated-24-median-of-three": "syntax_error",
    }
    for p in problems:
        keys = ["id", "prompt", "solution", "tests", "origin"] + (
            ["defect"] if p["id"] in GENERATED_DEFECTS else []
        )
        assert list(p) == keys and p["origin"] == "generated"
        assert p["prompt"].startswith("Write `") and p["solution"].endswith("\n") and "assert" in p["tests"]


def test_build_keeps_the_right_solutions_and_rejects_each_wrong_one_for_its_reason(tmp_path: Path) -> None:
    """The generated set and three real doctest problems, verified in the sandbox by a real build."""
    wanted = ["doctest-difflib.ndiff", "doctest-statistics.median", "doctest-statistics.mode"]
    modules = ("difflib", "statistics")
    doctests = [p for p in doctest_problems(_stdlib_root(), Counter(), modules) if p["id"] in wanted]
    assert [p["id"] for p in doctests] == wanted
    data = tmp_path / "verified"
    write_jsonl(data / "doctests.jsonl", doctests)
    write_jsonl(data / "generated.jsonl", generated_problems())
    tokenizer = train_bpe(stdlib_texts(10), vocab_size=300, out_path=tmp_path / "tok" / "tokenizer.json")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""\
name: verified
tokenizer: {tokenizer}
sources:
  synthetic:
    type: verified_python
    paths: ["{data}"]
    timeout: 2
""")
    out = tmp_path / "out"

    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(out), "--tasks", "1"])

    assert result.exit_code == 0, result.output
    s = read_manifest(out)["sources"]["synthetic"]
    assert (s["records"], s["documents"]) == (35, 3 + 32 - 8)
    assert s["skipped"] == {
        "crash": 1,
        "failed_test": 2,
        "forbidden_import": 1,
        "memory": 1,
        "resource_limit": 1,
        "syntax_error": 1,
        "timeout": 1,
    }
    lines = {p["id"]: n for n, p in enumerate(generated_problems(), start=1)}
    by_reason: dict[str, list[str]] = {}
    for pid, reason in GENERATED_DEFECTS.items():
        by_reason.setdefault(reason, []).append(f"{data}/generated.jsonl:{lines[pid]}")
    examples = {reason: [e.split(" (")[0] for e in found] for reason, found in s["skip_examples"].items()}
    assert examples == by_reason
