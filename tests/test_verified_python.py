"""The verified_python kind: static checks, verdicts from real sandbox runs, rendering, and a build."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import stdlib_texts, write_jsonl

from mixer.cli import main
from mixer.mixing.corpus import SourceCorpus
from mixer.readers.verified_python import VerifiedPythonReader, render
from mixer.sandbox.boot import SECCOMP
from mixer.sandbox.run import Limits, RunResult
from mixer.sandbox.verifier import DEFAULT_FORBIDDEN_IMPORTS, Candidate, Verifier, classify, static_check
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info, train_bpe
from mixer.sources import InputFile, VerifiedPythonSource
from mixer.sources.verified_python import FORBIDDEN_IMPORTS

ADD = "def add(a, b):\n    return a + b\n"
LAST_LAYER = "seccomp" if os.uname().machine in SECCOMP else "rlimits"


def code(source: str) -> str:
    return textwrap.dedent(source).lstrip()


@pytest.mark.parametrize(
    ("solution", "tests", "forbidden", "expected"),
    [
        (ADD, "assert add(1, 2) == 3", DEFAULT_FORBIDDEN_IMPORTS, None),
        ("import math, itertools\n" + ADD, "import unittest", DEFAULT_FORBIDDEN_IMPORTS, None),
        (
            "x = 1\nimport os\n",
            "pass",
            DEFAULT_FORBIDDEN_IMPORTS,
            ("forbidden_import", "os (solution.py line 2)"),
        ),
        ("from os import path\n", "pass", ["os"], ("forbidden_import", "os (solution.py line 1)")),
        ("import os.path\n", "pass", ["os"], ("forbidden_import", "os.path (solution.py line 1)")),
        (
            "from collections import abc\n",
            "pass",
            ["collections.abc"],
            ("forbidden_import", "collections.abc (solution.py line 1)"),
        ),
        ("import osmosis\n", "pass", ["os"], None),  # a name, not a prefix
        (
            ADD,
            "\n\nm = __import__('subprocess')",
            ["subprocess"],
            ("forbidden_import", "subprocess (tests.py line 3)"),
        ),
        (
            "import importlib\nimportlib.import_module('socket')\n",
            "pass",
            ["socket"],
            ("forbidden_import", "socket (solution.py line 2)"),
        ),
        (
            "import ctypes\n",
            "import os\n",
            DEFAULT_FORBIDDEN_IMPORTS,
            ("forbidden_import", "ctypes (solution.py line 1)"),
        ),
        ("def f(:\n", "pass", [], ("syntax_error", "solution.py line 1: invalid syntax")),
        ("def add(a, b)\n    return a\n", "pass", [], ("syntax_error", "solution.py line 1: expected ':'")),
        (ADD, "assert add(1, 2) ==", [], ("syntax_error", "tests.py line 1: invalid syntax")),
    ],
)
def test_static_checks(solution, tests, forbidden, expected):
    verdict = static_check(Candidate(solution, tests), forbidden)
    assert (verdict if verdict is None else (verdict.reason, verdict.detail)) == expected


def test_the_recipe_default_forbidden_list_is_the_verifiers():
    assert FORBIDDEN_IMPORTS == DEFAULT_FORBIDDEN_IMPORTS


def result(**kw) -> RunResult:
    base = dict(
        exit_code=1, signal=None, timed_out=False, wall_seconds=0.1, cpu_seconds=0.05, stdout=b"", stderr=b"",
        stdout_bytes=0, stderr_bytes=0, cpu_exceeded=False, isolation=("rlimits",),
    )  # fmt: skip
    return RunResult(**{**base, **kw})


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (result(exit_code=0, stdout=b"out\n\nMARK\n"), (True, None, "")),
        (
            result(exit_code=0, stdout=b"out\nMARK"),
            (False, "failed_test", "exited before the harness's verdict"),
        ),
        (
            result(exit_code=None, signal=9, timed_out=True),
            (False, "timeout", "exceeded its wall-clock time"),
        ),
        (result(exit_code=None, signal=24, cpu_exceeded=True), (False, "timeout", "exceeded its CPU time")),
        (result(exit_code=None, signal=6), (False, "crash", "SIGABRT")),
        (
            result(stderr=b'  File "tests.py", line 1\nAssertionError\n'),
            (False, "failed_test", "AssertionError"),
        ),
        (result(stderr=b"Traceback:\nMemoryError\n"), (False, "memory", "MemoryError")),
        (  # syntax errors are found before the run; one at run time is a test's eval()
            result(stderr=b'  File "solution.py", line 2\nSyntaxError: bad\n'),
            (False, "failed_test", "SyntaxError: bad"),
        ),
        (
            result(stderr=b"untrusted_value: the tests judged a E, whose E.__eq__ the solution wrote\n"),
            (False, "policy", "untrusted_value: the tests judged a E, whose E.__eq__ the solution wrote"),
        ),
        (
            result(stderr=b"tampered: math.isclose was changed while the tests ran\n"),
            (False, "policy", "tampered: math.isclose was changed while the tests ran"),
        ),
        (
            result(stderr=b"policy: eval of something other than literal arithmetic (Call)\n"),
            (False, "policy", "policy: eval of something other than literal arithmetic (Call)"),
        ),
        (
            result(stderr=b"not_run: the assert on tests.py line 2 never ran (1 of 1 did not)\n"),
            (False, "failed_test", "not_run: the assert on tests.py line 2 never ran (1 of 1 did not)"),
        ),
        (  # the candidate's text reaches manifests and terminals with its control characters escaped
            result(stderr=b"AssertionError: \x1b]0;PWNED\x07 (in the tests)\n"),
            (False, "failed_test", "AssertionError: \\x1b]0;PWNED\\x07 (in the tests)"),
        ),
        (
            result(stderr=b'  File "<string>", line 1\nSyntaxError: bad\n'),
            (False, "failed_test", "SyntaxError: bad"),
        ),
        (
            result(stderr=b"RuntimeError: can't start new thread\n"),
            (False, "resource_limit", "RuntimeError: can't start new thread"),
        ),
        (result(exit_code=3), (False, "failed_test", "exit status 3")),
    ],
)
def test_classify(run, expected):
    verdict = classify(run, "MARK")
    assert (verdict.passed, verdict.reason, verdict.detail) == expected


CANDIDATES = {
    "correct": (ADD, "assert add(2, 2) == 4\n"),
    "wrong": ("def add(a, b):\n    return a * b + 1\n", "assert add(2, 2) == 4, 'add(2, 2)'\n"),
    "name_error": ("def add(a, b):\n    return undefined\n", "assert add(1, 1) == 2\n"),
    "exits_early": ("import sys\nsys.exit(0)\n", "assert False\n"),  # refused before it runs
    "reads_stdin": ("n = int(input())\n", "assert n\n"),
    "unittest_pass": (
        ADD,
        code("""
            import unittest
            class T(unittest.TestCase):
                def test_add(self):
                    self.assertEqual(add(1, 2), 3)
            unittest.main()
            """),
    ),
    "unittest_fail": (
        ADD,
        code("""
            import unittest
            class T(unittest.TestCase):
                def test_add(self):
                    self.assertEqual(add(1, 2), 4)
            unittest.main()
            """),
    ),
    "exit_in_tests": (ADD, "assert add(1, 1) == 2\nraise SystemExit(0)\n"),
    "threads_after": (
        ADD,
        "import threading, time\nassert add(1, 1) == 2\nthreading.Thread(target=time.sleep, args=(30,)).start()\n",
    ),
    "infinite_loop": ("def add(a, b):\n    while True:\n        pass\n", "add(1, 2)\n"),
    "memory_bomb": ("def grow():\n    return [bytearray(16 << 20) for _ in range(1000)]\n", "grow()\n"),
    "deep_recursion": ("def f(n):\n    return f(n + 1)\n", "f(0)\n"),
    # the rest of the sandbox's cases run from the tests, which the policy does not read
    "segfault": ("x = 1\n", "import ctypes\nctypes.string_at(0)\n"),
    "big_file": ("x = 1\n", "with open('out', 'wb') as f:\n    f.write(b'x' * (2 << 20))\n"),
    "fork_bomb": (
        "x = 1\n",
        code("""
            import os, time
            while True:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
            """),
    ),
    "compile_error": ("return 3\n", "pass\n"),
    "eval_error": (ADD, "eval('1 +')\n"),
}
EXPECTED = {
    "correct": (True, None, ""),
    "wrong": (False, "failed_test", "AssertionError: tests.py line 1: add(2, 2)"),
    "name_error": (False, "failed_test", "NameError: name 'undefined' is not defined (in the tests)"),
    "exits_early": (False, "policy", "exit: sys.exit (solution.py line 2)"),
    "reads_stdin": (False, "failed_test", "EOFError: EOF when reading a line (in the solution)"),
    "unittest_pass": (True, None, ""),
    "unittest_fail": (
        False,
        "failed_test",
        "unittest: 1 failures, first __main__.T.test_add: AssertionError: 3 != 4",
    ),
    "exit_in_tests": (False, "failed_test", "SystemExit: 0 (in the tests)"),
    "threads_after": (True, None, ""),
    "infinite_loop": (False, "timeout", "exceeded its wall-clock time"),
    "memory_bomb": (False, "memory", "MemoryError (in the tests)"),
    "deep_recursion": (False, "crash", "RecursionError: maximum recursion depth exceeded (in the tests)"),
    "segfault": (False, "crash", "SIGSEGV"),
    "big_file": (False, "resource_limit", "OSError: [Errno 27] File too large (in the tests)"),
    "fork_bomb": (
        False,
        "resource_limit",
        "BlockingIOError: [Errno 11] Resource temporarily unavailable (in the tests)",
    ),
    "compile_error": (False, "syntax_error", "solution.py line 1: 'return' outside function"),
    "eval_error": (False, "failed_test", "SyntaxError: invalid syntax (<string>, line 1) (in the tests)"),
}


def test_verdicts_from_sandbox_runs_in_input_order():
    limits = Limits(timeout=2, memory_mb=256, file_size_mb=1, max_processes=16)
    with Verifier(limits, workers=2, forbidden_imports=[]) as verifier:
        verdicts = list(verifier.map(Candidate(*c) for c in CANDIDATES.values()))
    got = {name: (v.passed, v.reason, v.detail) for name, v in zip(CANDIDATES, verdicts, strict=True)}
    assert got == EXPECTED
    correct = verdicts[0]
    assert 0 < correct.wall_seconds < 2 and correct.isolation[-1] == LAST_LAYER


def test_render_is_deterministic():
    assert render("  Add two numbers.\n", "\ndef add(a, b):\r\n    return a + b\n\n") == (
        "Add two numbers.\n\n```python\ndef add(a, b):\n    return a + b\n```\n"
    )
    assert (
        render("", "x = 1", "assert x == 1\n") == "```python\nx = 1\n```\n\n```python\nassert x == 1\n```\n"
    )


def problem(pid: str | None, solution: str, tests, **extra) -> dict:
    record = {"question": f"Problem {pid}: make the tests pass.", "code": solution, "checks": tests, **extra}
    return record if pid is None else {"task_id": pid, **record}


def test_reader_documents_carry_the_verdict(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            problem("a", ADD, "assert add(1, 2) == 3", level="easy"),
            problem("b", ADD, ["assert add(1, 1) == 2", "assert add(0, 0) == 0"]),
            problem("c", ADD, "assert add(1, 1) == 3"),
        ],
    )
    reader = VerifiedPythonReader(
        "synthetic",
        [InputFile(str(path), path.stat().st_size)],
        id_key="task_id",
        prompt_key="question",
        solution_key="code",
        tests_key="checks",
        include_tests=True,
        limits=Limits(timeout=5),
        workers=2,
    )
    docs = list(reader.run())
    assert [d.id for d in docs] == ["a", "b"]
    assert docs[1].text == render(
        "Problem b: make the tests pass.", ADD, "assert add(1, 1) == 2\nassert add(0, 0) == 0"
    )
    meta = docs[0].metadata
    assert {k: meta[k] for k in ("level", "verdict", "source", "origin", "file_index")} == {
        "level": "easy",
        "verdict": "passed",
        "source": "synthetic",
        "origin": f"{path}:1",
        "file_index": 0,
    }
    assert 0 < meta["runtime_s"] < 5 and meta["cpu_s"] > 0 and meta["isolation"][-1] == LAST_LAYER
    [report] = reader.ledger.finished
    assert (report.records, report.documents, report.skipped) == (3, 2, {"failed_test": 1})
    assert report.skip_examples == {"failed_test": [f"{path}:3 (AssertionError: tests.py line 1)"]}


def test_build_keeps_exactly_the_passing_problems(tmp_path):
    data = tmp_path / "data"
    recursion = "def f(n):\n    return f(n + 1)\n"
    write_jsonl(
        data / "a.jsonl",
        [
            problem("p1", ADD, "assert add(2, 3) == 5\n", difficulty="easy"),  # kept
            problem("p2", "def add(a, b):\n    return a - b\n", "assert add(2, 3) == 5\n"),  # failed_test
            problem("p3", ADD, ["assert add(1, 1) == 2", "assert add(-1, 1) == 0"]),  # kept (a list)
            problem("p4", "def add(a, b)\n    return a + b\n", "assert add(1, 1) == 2\n"),  # syntax_error
            problem("p5", "import subprocess\n" + ADD, "assert add(1, 1) == 2\n"),  # forbidden_import
            problem("p6", "def spin():\n    while True:\n        pass\n", "spin()\n"),  # timeout
            {"task_id": "p7", "question": "no code"},  # missing_field
            problem("p8", ADD, 42),  # field_not_a_string
            [1, 2],  # not_an_object
            b"{not json\n",  # malformed_json
            problem("p11", "blob = bytearray(1 << 40)\n", "pass\n"),  # memory
            problem("p12", recursion, "f(0)\n"),  # crash
            problem(None, ADD, "assert add(0, 0) == 0\n"),  # kept, with a generated id
            problem("p14", ADD, "   "),  # empty_field
        ],
    )
    (data / "b.jsonl.gz").write_bytes(
        gzip.compress(
            b"".join(
                json.dumps(r).encode() + b"\n"
                for r in [
                    problem("q1", ADD, "assert add(1, 2) == 3\n"),
                    problem("q2", ADD, "assert add(1, 2) == 4\n"),
                ]
            )
        )
    )
    tokenizer = train_bpe(stdlib_texts(20), vocab_size=300, out_path=tmp_path / "tok" / "tokenizer.json")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""\
name: verified
tokenizer: {tokenizer}
sources:
  synthetic:
    type: verified_python
    paths: ["{data}/*.jsonl", "{data}/*.jsonl.gz"]
    id_key: task_id
    prompt_key: question
    solution_key: code
    tests_key: checks
    timeout: 2
    memory_mb: 256
""")
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out"), "--tasks", "1"])
    assert result.exit_code == 0, result.output
    s = read_manifest(tmp_path / "out")["sources"]["synthetic"]
    assert s["skipped"] == {
        "crash": 1,
        "empty_field": 1,
        "failed_test": 2,
        "field_not_a_string": 1,
        "forbidden_import": 1,
        "malformed_json": 1,
        "memory": 1,
        "missing_field": 1,
        "not_an_object": 1,
        "syntax_error": 1,
        "timeout": 1,
    }
    a, b = data / "a.jsonl", data / "b.jsonl.gz"
    assert s["skip_examples"]["failed_test"] == [
        f"{a}:2 (AssertionError: tests.py line 1)",
        f"{b}:2 (AssertionError: tests.py line 1)",
    ]
    assert s["skip_examples"]["syntax_error"] == [f"{a}:4 (solution.py line 1: expected ':')"]
    assert s["skip_examples"]["forbidden_import"] == [f"{a}:5 (subprocess (solution.py line 1))"]
    assert s["skip_examples"]["timeout"] == [f"{a}:6 (exceeded its wall-clock time)"]
    assert s["skip_examples"]["missing_field"] == [f"{a}:7 (code; keys: task_id, question)"]
    assert s["skip_examples"]["memory"] == [f"{a}:11 (MemoryError (in the solution))"]
    assert s["skip_examples"]["crash"] == [
        f"{a}:12 (RecursionError: maximum recursion depth exceeded (in the tests))"
    ]
    assert (s["records"], s["documents"]) == (16, 4)

    manifest = read_manifest(tmp_path / "out")
    tok = manifest["tokenizer"]
    encoder = Encoder(
        load_tokenizer_info(tmp_path / "out" / tok["path"], eos_token=tok["eos_token"], backend="hf")
    )
    corpus = SourceCorpus(tmp_path / "out", "synthetic")
    texts = [encoder.decode([int(t) for t in corpus.document(i)]) for i in range(len(corpus))]
    kept = ["p1", "p3", "None", "q1"]  # in file order, then line order
    assert texts == [render(f"Problem {pid}: make the tests pass.", ADD) + "<|endoftext|>" for pid in kept]


def test_the_recipe_loads_without_datatrove(tmp_path):
    script = f"""
import sys
sys.modules["datatrove"] = None  # any import of it fails
from mixer.recipe import parse_recipe
recipe = parse_recipe({{
    "name": "x",
    "tokenizer": {{"train": {{"vocab_size": 300}}}},
    "sources": {{"s": {{"type": "verified_python", "paths": ["{tmp_path}/*.jsonl"], "timeout": 3}}}},
}})
print(type(recipe.sources["s"]).__name__, recipe.sources["s"].timeout)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert out.stdout == "VerifiedPythonSource 3.0\n", out.stderr
    assert VerifiedPythonSource.kind == "verified_python"
