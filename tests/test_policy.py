"""The static policy (mixer.sandbox.policy): each rule, for each policy, as a table of solution -> first violation."""

from __future__ import annotations

import ast

import pytest

from mixer.sandbox import policy

# (solution, strict's violation, standard's violation); a violation is "rule: what (line)" or None
TABLE = [
    # exits
    ("exit()", "exit: exit (1)", "exit: exit (1)"),
    ("import sys\nsys.exit(1)", "exit: sys.exit (2)", "exit: sys.exit (2)"),
    ("from sys import exit\n", "exit: sys.exit (1)", "exit: sys.exit (1)"),
    ("import os as o\no._exit(0)", "exit: os._exit (2)", "exit: os._exit (2)"),
    ("raise SystemExit", "exit: SystemExit (1)", "exit: SystemExit (1)"),
    (
        "try:\n    pass\nexcept KeyboardInterrupt:\n    pass",
        "exit: KeyboardInterrupt (3)",
        "exit: KeyboardInterrupt (3)",
    ),
    ("SystemExit = 3", "shadows_builtin: SystemExit (1)", None),  # a store is not an exit
    # the interpreter's machinery
    ("import builtins", "machinery: import builtins (1)", "machinery: import builtins (1)"),
    ("x = __builtins__", "machinery: __builtins__ (1)", "machinery: __builtins__ (1)"),
    ("g = globals()", "machinery: globals (1)", "machinery: globals (1)"),
    ("def f():\n    return vars()", "machinery: vars (2)", "machinery: vars (2)"),
    ("import inspect", "machinery: import inspect (1)", "machinery: import inspect (1)"),
    ("from gc import get_objects", "machinery: import gc (1)", "machinery: import gc (1)"),
    ("import importlib.util", "machinery: import importlib.util (1)", "machinery: import importlib.util (1)"),
    ("import sys\nsys.settrace(None)", "machinery: sys.settrace (2)", "machinery: sys.settrace (2)"),
    ("import sys\nm = sys.modules['os']", "machinery: sys.modules (2)", "machinery: sys.modules (2)"),
    ("import unittest\nunittest.main()", "machinery: unittest.main (2)", "machinery: unittest.main (2)"),
    ("m = __import__('os')", "machinery: __import__ (1)", "machinery: __import__ (1)"),
    # code made at run time
    ("exec('x = 1')", "dynamic_code: exec (1)", "dynamic_code: exec (1)"),
    ("c = compile('1', 'f', 'eval')", "dynamic_code: compile (1)", "dynamic_code: compile (1)"),
    ("x = eval('1 + 2')", None, None),  # the harness's eval: literal arithmetic only, checked when run
    # attributes by name
    (
        "def f(o, n):\n    return getattr(o, n)",
        "attribute_name: getattr with a computed name (2)",
        "attribute_name: getattr with a computed name (2)",
    ),
    (
        "def f(o):\n    return getattr(o, '__dict__')",
        "attribute_name: getattr(..., '__dict__') (2)",
        "attribute_name: getattr(..., '__dict__') (2)",
    ),
    ("def f(o):\n    return getattr(o, 'name', None)", None, None),
    # attributes that lead out of an object
    (
        "def f(o):\n    return o.__class__",
        "escape_attribute: __class__ (2)",
        "escape_attribute: __class__ (2)",
    ),
    (
        "def f(g):\n    return g.gi_frame.f_back",
        "escape_attribute: gi_frame (2)",
        "escape_attribute: gi_frame (2)",
    ),
    (
        "def f(fn):\n    return fn.__globals__",
        "escape_attribute: __globals__ (2)",
        "escape_attribute: __globals__ (2)",
    ),
    # dunders: strict refuses all but a few; standard the escaping ones and every store
    (
        "class A:\n    def __init__(self):\n        super().__init__()\n        self.n = type(self).__name__",
        None,
        None,
    ),
    ("class A:\n    def __new__(cls):\n        return object.__new__(cls)", "dunder: __new__ (3)", None),
    ("def f(a, b):\n    return a.__add__(b)", "dunder: __add__ (2)", None),
    (
        "class A:\n    pass\nA.__eq__ = lambda s, o: True",
        "dunder_store: __eq__ (3)",
        "dunder_store: __eq__ (3)",
    ),
    ("class A:\n    __module__ = 'builtins'", "dunder_store: __module__ (2)", "dunder_store: __module__ (2)"),
    ("__name__ = 'tests'", "dunder_store: __name__ (1)", "dunder_store: __name__ (1)"),
    ("class A:\n    def __eq__(self, other):\n        return True", None, None),  # judged at run time
    # patching what was imported
    ("import math\nmath.pi = 3", "patch: math.pi (2)", "patch: math.pi (2)"),
    (
        "from unittest import TestCase as T\nT.assertTrue = print",
        "patch: T.assertTrue (2)",
        "patch: T.assertTrue (2)",
    ),
    (
        "import math\nsetattr(math, 'tau', 6)",
        "patch: setattr(math, 'tau') (2)",
        "patch: setattr(math, 'tau') (2)",
    ),
    ("import collections\nd = collections.defaultdict(int)\nd['a'] = 1", None, None),
    # modules only through their attributes
    ("import sys\nalias = sys", "module_value: sys (2)", "module_value: sys (2)"),
    ("import os\ndef f(m=os):\n    return m", "module_value: os (2)", "module_value: os (2)"),
    ("import math\nm = math", None, None),  # not a module the rule is for: changes are caught when run
    ("import sys\nlimit = sys.getrecursionlimit()", None, None),
    # the harness's names
    ("_mixer_value = None", "harness_name: _mixer_value (1)", "harness_name: _mixer_value (1)"),
    # strict only: shadowing built-ins the tests would call, and files
    ("def len(x):\n    return 0", "shadows_builtin: len (1)", None),
    ("max = 3", "shadows_builtin: max (1)", None),
    ("if True:\n    from math import pow", "shadows_builtin: pow (2)", None),
    ("for sum in range(3):\n    pass", "shadows_builtin: sum (1)", None),
    ("def f(list):\n    sum = 0\n    return sum", None, None),  # local names do not reach the tests
    ("data = open('x').read()", "file_access: open (1)", None),
    ("import pathlib", "file_access: import pathlib (1)", None),
    ("import io\nf = io.open('x')", "file_access: io.open (2)", None),
    ("import io\nbuf = io.StringIO()", None, None),
    # the first violation by line, then the innermost on it
    ("import sys\nsys._getframe(1).f_locals", "machinery: sys._getframe (2)", "machinery: sys._getframe (2)"),
    (
        "x = ().__class__.__base__.__subclasses__()",
        "escape_attribute: __class__ (1)",
        "escape_attribute: __class__ (1)",
    ),
]


@pytest.mark.parametrize(("source", "strict", "standard"), TABLE)
def test_policy(source, strict, standard):
    tree = ast.parse(source)
    for name, want in (("strict", strict), ("standard", standard)):
        found = policy.check(tree, name)
        got = None if found is None else f"{found.rule}: {found.what} ({found.line})"
        assert got == want, name


def test_every_rule_has_a_description_and_is_shown():
    rules = {row[1].split(":")[0] for row in TABLE if row[1]} | {
        row[2].split(":")[0] for row in TABLE if row[2]
    }
    assert rules == set(policy.RULES)


def test_an_unknown_policy_is_an_error():
    with pytest.raises(ValueError, match="unknown policy 'lax'; use one of strict, standard"):
        policy.check(ast.parse("x = 1"), "lax")
