"""Wrong solutions of the kinds a generator learns when it is selected on passing tests are all dropped.

Each case is a wrong solution (every test here expects ``add(2, 3) == 5`` or the like) that used to be
kept, or a variant of the same family, run through the real verifier and sandbox: exiting before the
tests, replacing what the tests call, faking equality, finding the expected answers, patching the test
framework, leaving the tests nothing to check. Each is dropped with its exact reason and detail; honest
solutions in the same shapes pass. The static rules alone are in tests/test_policy.py.
"""

from __future__ import annotations

import textwrap

import pytest

from mixer.sandbox.run import Limits
from mixer.sandbox.verifier import Candidate, Verifier

ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
UNITTEST_TESTS = textwrap.dedent("""\
    import unittest

    class TestAdd(unittest.TestCase):
        def test_add(self):
            self.assertEqual(add(2, 3), 5)

    if __name__ == "__main__":
        unittest.main()
    """)


def code(source: str) -> str:
    return textwrap.dedent(source).lstrip()


# name -> (policy, solution, tests, (passed, reason, detail))
CASES = {
    # --- exits: a SystemExit(0) during the tests used to be taken for unittest's clean end -------------
    "exit_builtin": (
        "strict",
        "def add(a, b):\n    exit()\n",
        ADD_TESTS,
        (False, "policy", "exit: exit (solution.py line 2)"),
    ),
    "quit_builtin": (
        "standard",
        "def add(a, b):\n    quit()\n",
        ADD_TESTS,
        (False, "policy", "exit: quit (solution.py line 2)"),
    ),
    "sys_exit": (
        "standard",
        "import sys\n\ndef add(a, b):\n    sys.exit(0)\n",
        ADD_TESTS,
        (False, "policy", "exit: sys.exit (solution.py line 4)"),
    ),
    "from_sys_import_exit": (
        "standard",
        "from sys import exit as done\n\ndef add(a, b):\n    done(0)\n",
        ADD_TESTS,
        (False, "policy", "exit: sys.exit (solution.py line 1)"),
    ),
    "raise_system_exit": (
        "standard",
        "def add(a, b):\n    raise SystemExit(0)\n",
        ADD_TESTS,
        (False, "policy", "exit: SystemExit (solution.py line 2)"),
    ),
    "keyboard_interrupt": (
        "standard",
        "def add(a, b):\n    raise KeyboardInterrupt\n",
        ADD_TESTS,
        (False, "policy", "exit: KeyboardInterrupt (solution.py line 2)"),
    ),
    "os_exit": (
        "standard",
        "import os\n\ndef add(a, b):\n    os._exit(0)\n",
        ADD_TESTS,
        (False, "policy", "exit: os._exit (solution.py line 4)"),
    ),
    "sys_module_alias": (
        "standard",
        "import sys\nmodule = sys\n\ndef add(a, b):\n    return module.exit(0)\n",
        ADD_TESTS,
        (False, "policy", "module_value: sys (solution.py line 2)"),
    ),
    "skip_test_from_the_solution": (
        "strict",
        "import unittest\n\ndef add(a, b):\n    raise unittest.SkipTest('not today')\n",
        ADD_TESTS,
        (False, "failed_test", "SkipTest: not today (in the tests)"),
    ),
    "skip_test_under_unittest": (
        "strict",
        "import unittest\n\ndef add(a, b):\n    raise unittest.SkipTest('not today')\n",
        UNITTEST_TESTS,
        (False, "failed_test", "unittest: 1 skipped, first __main__.TestAdd.test_add: not today"),
    ),
    "trace_function": (
        "standard",
        code("""
            import sys

            def stop(frame, event, arg):
                raise SystemExit(0)

            sys.settrace(stop)

            def add(a, b):
                return 0
            """),
        ADD_TESTS,
        (False, "policy", "exit: SystemExit (solution.py line 4)"),
    ),
    "trace_function_without_exit": (
        "standard",
        "import threading\nthreading.settrace(print)\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "policy", "machinery: threading.settrace (solution.py line 2)"),
    ),
    # --- replacing what the harness or the tests call -------------------------------------------------
    "defines_exec": (
        "strict",
        "def exec(*args, **kwargs):\n    pass\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "policy", "shadows_builtin: exec (solution.py line 1)"),
    ),
    "defines_exec_standard": (  # allowed by the standard policy, and useless: the harness has its own
        "standard",
        "def exec(*args, **kwargs):\n    pass\n\ncompile = print\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "failed_test", "AssertionError: tests.py line 1"),
    ),
    "defines_abs": (
        "strict",
        "def abs(x):\n    return 0\n\ndef add(a, b):\n    return 0\n",
        "assert abs(add(2, 3) - 5) < 1e-9\n",
        (False, "policy", "shadows_builtin: abs (solution.py line 1)"),
    ),
    "patches_builtins_open": (
        "standard",
        "import builtins\nbuiltins.open = lambda *a, **k: None\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "policy", "machinery: import builtins (solution.py line 1)"),
    ),
    "dunder_builtins": (
        "standard",
        "__builtins__['len'] = lambda x: 0\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "policy", "machinery: __builtins__ (solution.py line 1)"),
    ),
    "overwrites_the_tests": (  # the tests are not on the sandbox's disk: compiled before the solution ran
        "standard",
        "with open('tests.py', 'w') as f:\n    f.write('')\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "failed_test", "AssertionError: tests.py line 1"),
    ),
    "links_the_tests_to_dev_null": (
        "standard",
        "import os\nos.symlink('/dev/null', 'tests.py')\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "failed_test", "AssertionError: tests.py line 1"),
    ),
    "patches_assert_equal": (
        "strict",
        "import unittest\nunittest.TestCase.assertEqual = lambda *args: None\n\ndef add(a, b):\n    return 0\n",
        UNITTEST_TESTS,
        (False, "policy", "patch: unittest.TestCase.assertEqual (solution.py line 2)"),
    ),
    "patches_assert_equal_with_setattr": (
        "standard",
        "from unittest import TestCase\nsetattr(TestCase, 'assertEqual', print)\n\ndef add(a, b):\n    return 0\n",
        UNITTEST_TESTS,
        (False, "policy", "patch: setattr(TestCase, 'assertEqual') (solution.py line 2)"),
    ),
    "patches_assert_equal_through_an_alias": (  # past the static rule: the harness sees the change
        "standard",
        code("""
            import unittest

            case = unittest.TestCase
            case.assertEqual = lambda *args: None

            def add(a, b):
                return 0
            """),
        UNITTEST_TESTS,
        (False, "policy", "tampered: unittest.TestCase.assertEqual was changed while the solution ran"),
    ),
    "patches_math_through_an_alias": (
        "standard",
        "import math\nm = math\nm.isclose = lambda *a, **k: True\n\ndef area(r):\n    return 0.0\n",
        "import math\nassert math.isclose(area(1.0), 3.14159, rel_tol=1e-4)\n",
        (False, "policy", "tampered: math.isclose was changed while the solution ran"),
    ),
    "patches_the_harness": (
        "standard",
        "_mixer_value = lambda value: value\n\ndef add(a, b):\n    return 0\n",
        ADD_TESTS,
        (False, "policy", "harness_name: _mixer_value (solution.py line 1)"),
    ),
    # --- faking equality -----------------------------------------------------------------------------
    "always_equal": (
        "strict",
        "class Anything:\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Anything()\n",
        ADD_TESTS,
        (
            False,
            "policy",
            "untrusted_value: the tests judged a Anything, whose Anything.__eq__ the solution wrote",
        ),
    ),
    "always_equal_int_subclass": (
        "standard",
        "class Five(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\ndef add(a, b):\n    return Five(5)\n",
        ADD_TESTS,
        (False, "policy", "untrusted_value: the tests judged a Five, whose Five.__eq__ the solution wrote"),
    ),
    "always_equal_made_with_type": (
        "standard",
        "Anything = type('Anything', (), {'__eq__': lambda self, other: True})\n\ndef add(a, b):\n    return Anything()\n",
        ADD_TESTS,
        (
            False,
            "policy",
            "untrusted_value: the tests judged a Anything, whose Anything.__eq__ the solution wrote",
        ),
    ),
    "always_equal_inside_a_list": (
        "standard",
        "class Anything:\n    def __eq__(self, other):\n        return True\n\ndef pair():\n    return [Anything(), 2]\n",
        "assert pair() == [1, 2]\n",
        (
            False,
            "policy",
            "untrusted_value: the tests judged a Anything, whose Anything.__eq__ the solution wrote",
        ),
    ),
    "always_close": (  # abs(expected - result) < tol, decided by a reflected subtraction
        "standard",
        "class Zero:\n    def __rsub__(self, other):\n        return 0\n\ndef area(r):\n    return Zero()\n",
        "assert abs(3.14159 - area(1.0)) < 1e-6\n",
        (False, "policy", "untrusted_value: the tests judged a Zero, whose Zero.__rsub__ the solution wrote"),
    ),
    "always_contains": (
        "standard",
        "class Everything:\n    def __contains__(self, item):\n        return True\n\ndef primes():\n    return Everything()\n",
        "assert 7 in primes()\n",
        (
            False,
            "policy",
            "untrusted_value: the tests judged a Everything, whose Everything.__contains__ the solution wrote",
        ),
    ),
    "always_true_via_a_helper": (  # a comparison outside the assert is judged as well
        "standard",
        "class Anything:\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Anything()\n",
        "ok = add(2, 3) == 5\nassert ok\n",
        (
            False,
            "policy",
            "untrusted_value: the tests judged a Anything, whose Anything.__eq__ the solution wrote",
        ),
    ),
    "equality_from_a_builtin": (
        "standard",
        "class Anything:\n    __eq__ = max\n\ndef add(a, b):\n    return Anything()\n",
        ADD_TESTS,
        (
            False,
            "policy",
            "untrusted_value: the tests judged a Anything, whose Anything.__eq__ the solution wrote",
        ),
    ),
    "claims_a_builtin_module": (
        "standard",
        "class Anything:\n    __module__ = 'builtins'\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Anything()\n",
        ADD_TESTS,
        (False, "policy", "dunder_store: __module__ (solution.py line 2)"),
    ),
    # --- finding the expected answers ----------------------------------------------------------------
    "reads_the_tests": (
        "strict",
        "import re\nANSWERS = re.findall(r'== (\\d+)', open('tests.py').read())\n\ndef add(a, b):\n    return int(ANSWERS.pop(0))\n",
        ADD_TESTS,
        (False, "policy", "file_access: open (solution.py line 2)"),
    ),
    "reads_the_tests_standard": (  # allowed to open files, but the tests are not on its disk
        "standard",
        "import re\nANSWERS = re.findall(r'== (\\d+)', open('tests.py').read())\n\ndef add(a, b):\n    return int(ANSWERS.pop(0))\n",
        ADD_TESTS,
        (
            False,
            "failed_test",
            "FileNotFoundError: [Errno 2] No such file or directory: 'tests.py' (in the solution)",
        ),
    ),
    "reads_the_callers_frame": (
        "standard",
        "import sys\n\ndef add(a, b):\n    return sys._getframe(1).f_locals\n",
        ADD_TESTS,
        (False, "policy", "machinery: sys._getframe (solution.py line 4)"),
    ),
    "walks_the_heap": (
        "standard",
        "import gc\n\ndef add(a, b):\n    return len(gc.get_objects())\n",
        ADD_TESTS,
        (False, "policy", "machinery: import gc (solution.py line 1)"),
    ),
    "class_graph_escape": (
        "standard",
        "def add(a, b):\n    return ().__class__.__base__.__subclasses__()\n",
        ADD_TESTS,
        (False, "policy", "escape_attribute: __class__ (solution.py line 2)"),
    ),
    "computed_attribute_name": (
        "standard",
        "def add(a, b):\n    return getattr(a, '__cl' + 'ass__')\n",
        ADD_TESTS,
        (False, "policy", "attribute_name: getattr with a computed name (solution.py line 2)"),
    ),
    "eval_escape": (  # the policy cannot read the string; the harness's eval refuses it at run time
        "standard",
        "def add(a, b):\n    return eval(\"__import__('gc').get_objects()\")\n",
        ADD_TESTS,
        (False, "policy", "policy: eval of something other than literal arithmetic (Call)"),
    ),
    "exec": (
        "standard",
        "def add(a, b):\n    exec('a = 5')\n    return a\n",
        ADD_TESTS,
        (False, "policy", "dynamic_code: exec (solution.py line 2)"),
    ),
    # --- leaving the tests nothing to check ------------------------------------------------------------
    "empty_result_skips_the_loop": (
        "strict",
        "def squares(n):\n    return []\n",
        "for got, want in zip(squares(3), [0, 1, 4]):\n    assert got == want\n",
        (False, "failed_test", "not_run: the assert on tests.py line 2 never ran (1 of 1 did not)"),
    ),
    "no_checks_at_all": (
        "strict",
        "def add(a, b):\n    return 0\n",
        "add(2, 3)\n",
        (False, "failed_test", "not_run: the tests checked nothing (no assert ran, no unittest case)"),
    ),
    "caught_assertion": (  # a test that swallows its own failure still fails the candidate
        "strict",
        "def add(a, b):\n    return 0\n",
        "try:\n    assert add(2, 3) == 5, 'add'\nexcept AssertionError:\n    pass\n",
        (False, "failed_test", "AssertionError: tests.py line 2: add"),
    ),
    "escape_sequence_in_the_error": (
        "strict",
        "def add(a, b):\n    raise AssertionError('\\x1b]0;PWNED\\x07')\n",
        ADD_TESTS,
        (False, "failed_test", "AssertionError: \\x1b]0;PWNED\\x07 (in the tests)"),
    ),
    # --- honest solutions of the same shapes pass -----------------------------------------------------
    "honest": ("strict", "def add(a, b):\n    return a + b\n", ADD_TESTS, (True, None, "")),
    "honest_unittest": ("strict", "def add(a, b):\n    return a + b\n", UNITTEST_TESTS, (True, None, "")),
    "honest_loop": (
        "strict",
        "def squares(n):\n    return [i * i for i in range(n)]\n",
        "for got, want in zip(squares(3), [0, 1, 4]):\n    assert got == want\n",
        (True, None, ""),
    ),
    "honest_class": (  # a class of the solution's is fine where the tests judge built-in values
        "strict",
        code("""
            class Stack:
                def __init__(self):
                    self.items = []

                def push(self, item):
                    self.items.append(item)

                def pop(self):
                    return self.items.pop()
            """),
        "s = Stack()\ns.push(1)\ns.push(2)\nassert s.pop() == 2\nassert s.items == [1]\n",
        (True, None, ""),
    ),
    "honest_dataclass_equality": (  # __eq__ generated by dataclasses, not written in the solution
        "strict",
        "from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n\ndef origin():\n    return Point(0, 0)\n",
        "assert origin() == Point(0, 0)\n",
        (True, None, ""),
    ),
    "honest_eval_of_arithmetic": (
        "strict",
        "def calc(expression):\n    return eval(expression)\n",
        "assert calc('2 + 3 * 4') == 14\nassert calc('(1 - 5) // 2') == -2\n",
        (True, None, ""),
    ),
}


@pytest.fixture(scope="module")
def verdicts():
    out = {}
    limits = Limits(timeout=10)
    for policy in ("strict", "standard"):
        names = [name for name, case in CASES.items() if case[0] == policy]
        # forbidden_imports=[]: the policy, not the import list, must stop these
        with Verifier(limits, workers=2, forbidden_imports=[], policy=policy) as verifier:
            results = verifier.map(Candidate(CASES[n][1], CASES[n][2]) for n in names)
            out.update(zip(names, results, strict=True))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_verdict(verdicts, name):
    verdict = verdicts[name]
    assert (verdict.passed, verdict.reason, verdict.detail) == CASES[name][3]
