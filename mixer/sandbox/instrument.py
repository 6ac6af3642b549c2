"""Compile a candidate's tests so that the harness sees every judgement they make and every assert that ran.

The builder does this before the candidate runs (compiling executes nothing); the harness
(:mod:`mixer.sandbox.harness`) receives the code object. In the tests:

- every ``assert test, message`` becomes ``if not _mixer_assert(SITE, test): raise _mixer_failed(SITE,
  message)``: the harness marks the site as run, judges the value, and records a failure even when a
  test catches the ``AssertionError``;
- the operands of every comparison (but ``is``), arithmetic and boolean operation, unary operation and
  augmented assignment, and the condition of every ``if``, ``while``, conditional expression and
  comprehension filter, pass through ``_mixer_value``, which refuses an instance of a class of the
  solution's that implements that judgement itself;
- a unittest assertion method called on ``self`` (``self.assertEqual(...)``) is a site too, and the
  arguments of the ones that compare pass through ``_mixer_value``.
"""

from __future__ import annotations

import ast
import types
from dataclasses import dataclass

# unittest methods whose arguments are compared by the candidate's own dunders unless judged first
COMPARING_ASSERTS = frozenset({
    "assertEqual", "assertEquals", "assertNotEqual", "assertNotEquals", "assertTrue", "assertFalse",
    "assert_", "assertAlmostEqual", "assertNotAlmostEqual", "assertGreater", "assertGreaterEqual",
    "assertLess", "assertLessEqual", "assertIn", "assertNotIn", "assertCountEqual", "assertListEqual",
    "assertTupleEqual", "assertDictEqual", "assertSetEqual", "assertSequenceEqual",
    "assertMultiLineEqual", "assertRegex", "assertNotRegex",
})  # fmt: skip


@dataclass(frozen=True)
class InstrumentedTests:
    code: types.CodeType
    sites: list[int]  # the line of each assert site, by site number
    modules: list[str]  # modules the tests import, for the harness to import and guard first


def instrument_tests(source: str, filename: str = "tests.py") -> InstrumentedTests:
    """The tests compiled with the harness's hooks (raises SyntaxError like ``compile``)."""
    tree = ast.parse(source, filename=filename)
    modules = imported_module_names(tree)
    instrumenter = _Instrumenter()
    tree = ast.fix_missing_locations(instrumenter.visit(tree))
    return InstrumentedTests(compile(tree, filename, "exec"), instrumenter.sites, modules)


def imported_module_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return sorted(set(names))


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _judge(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Constant):  # a literal cannot be the solution's
        return node
    return ast.copy_location(_call("_mixer_value", node), node)


class _Instrumenter(ast.NodeTransformer):
    def __init__(self) -> None:
        self.sites: list[int] = []

    def _site(self, node: ast.AST) -> ast.Constant:
        self.sites.append(node.lineno)
        return ast.Constant(len(self.sites) - 1)

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        self.generic_visit(node)
        site = self._site(node)
        check = _call("_mixer_assert", site, node.test)  # judges the value itself
        failed = _call("_mixer_failed", site, node.msg or ast.Constant(None))
        guard = ast.If(test=ast.UnaryOp(ast.Not(), check), body=[ast.Raise(exc=failed)], orelse=[])
        return ast.copy_location(guard, node)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        identity = [isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops]
        # an operand is judged unless every comparison it takes part in is an identity test
        judged = [
            not all(identity[j] for j in (i - 1, i) if 0 <= j < len(identity)) for i in range(len(operands))
        ]
        operands = [_judge(o) if j else o for o, j in zip(operands, judged, strict=True)]
        node.left, node.comparators = operands[0], operands[1:]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        node.left, node.right = _judge(node.left), _judge(node.right)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        node.operand = _judge(node.operand)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        node.values = [_judge(v) for v in node.values]
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        node.value = _judge(node.value)
        return node

    def _judge_test(self, node):
        self.generic_visit(node)
        node.test = _judge(node.test)
        return node

    visit_If = visit_While = visit_IfExp = _judge_test

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.ifs = [_judge(test) for test in node.ifs]
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
            and func.attr.startswith("assert")
        ):
            return node
        if func.attr in COMPARING_ASSERTS:
            node.args = [_judge(a) for a in node.args]
            node.keywords = [
                k if k.arg == "msg" else ast.keyword(k.arg, _judge(k.value)) for k in node.keywords
            ]
        node.func = ast.copy_location(_call("_mixer_site", self._site(node), func), func)
        return node
