"""Python problems for the sample corpus's ``verified/`` part from the standard library's doctests.

Each is an ``{id, prompt, solution, tests}`` record for ``type: verified_python`` (docs/sandbox.md).

:func:`doctest_problems` turns the doctest examples of a fixed list of pure-Python standard-library modules
(:data:`DOCTEST_MODULES`) into problems, one per module-level function or class whose docstrings (for a
class, its own and its methods') hold examples. Nothing is imported or run here: each module is parsed
with :mod:`ast` and its docstrings with :class:`doctest.DocTestParser`.

- The *solution* is the definition exactly as the module has it, after the imports it needs: the module's
  own import statement for a name the module imported (``import math``), ``from <module> import <name>``
  for one it defines (a private helper, a constant). It runs wherever that interpreter's library does.
- The *tests* run the examples in order, as doctest would: an expression statement prints its ``repr``,
  and what an example prints must equal its expected output; an expected exception must be raised with
  the same type name (its module path aside) and message. They are plain Python, not strings handed to
  ``exec``, so the verifier's static checks see every import.
- The *prompt* names the definition, its module and the Python version.

A docstring's examples are dropped, all of them (later examples use earlier ones), when any of them cannot
be checked the same way on every machine or at all: a doctest directive (``# doctest: +ELLIPSIS``),
a use of randomness, time, identities, hashes or the machine (``random``, ``time``, ``id``, ``os``, ``sys``,
...), an expected output that shows a memory address or a set (its order depends on string hashing), an
import of the module under test (which would test the library, not the solution), or source that does
not parse. A definition left without a checked example, one whose problem imports a module that
``verified_python`` forbids by default, one longer than :data:`MAX_SOLUTION_CHARS`, and one that uses a name
its module does not bind, are skipped. Each rule is static, so the problems are a function of the standard
library's source; every drop is counted by reason. Examples that pass their rules but still fail in the
sandbox (a version's changed output, a helper's exact repr) are left in: the build rejects them, as it
would any failing solution.

:mod:`mixer.samples.generated_problems` holds the other half of ``verified/``: a fixed set of small problems.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import re
import sys
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mixer.sandbox.verifier import DEFAULT_FORBIDDEN_IMPORTS, Candidate, static_check

# Pure-Python modules whose docstrings hold deterministic examples; modules that reach the network, the
# file system or the GUI, or whose examples are all about one of them, are not listed.
DOCTEST_MODULES = (
    "_pydecimal",
    "collections",
    "datetime",
    "difflib",
    "doctest",
    "enum",
    "fractions",
    "heapq",
    "ipaddress",
    "json.encoder",
    "pickle",
    "pickletools",
    "statistics",
    "textwrap",
    "typing",
)
MAX_SOLUTION_CHARS = 40_000

# Names whose examples print something that differs between runs or machines.
_NONDETERMINISTIC_NAMES = frozenset({
    "random", "secrets", "time", "uuid", "id", "hash", "os", "sys", "platform", "locale", "threading",
    "tempfile", "input", "open", "now", "today", "utcnow", "getpid",
})  # fmt: skip
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+|\b0x[0-9a-fA-F]{8,}")
_SET_DISPLAY = re.compile(r"\b(?:frozen)?set\(|\{[^{}:]*\}")
_BLANKLINE = re.compile(r"(?m)^<BLANKLINE>\s*?$")
_BUILTINS = frozenset(dir(builtins))

_TESTS_PREAMBLE = '''\
class _Example:
    """One doctest example: what it prints must be `want`; or it must raise an exception shown as `raises`."""

    def __init__(self, want="", raises=None):
        self.want, self.raises = want, raises
        self.printed = io.StringIO()
        self.redirect = contextlib.redirect_stdout(self.printed)

    def __enter__(self):
        self.redirect.__enter__()

    def __exit__(self, kind, error, traceback):
        self.redirect.__exit__(kind, error, traceback)
        if kind is None:
            got = "printed " + repr(self.printed.getvalue())
        else:
            got = "raised " + repr(f"{kind.__name__}: {error}" if str(error) else kind.__name__)
        want = "printed " + repr(self.want) if self.raises is None else "raised " + repr(self.raises)
        assert got == want, f"{got}, expected {want}"  # one assert, run by every example
        return kind is not None


def _show(value):
    """What the interactive interpreter prints for an expression statement."""
    if value is not None:
        print(repr(value))
'''


@dataclass(frozen=True)
class _Unit:
    """A module-level function or class with the docstrings that may hold its examples."""

    module: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    source: str  # the definition as written, decorators included

    @property
    def name(self) -> str:
        return self.node.name


def doctest_problems(
    stdlib: Path, skipped: Counter[str], modules: tuple[str, ...] = DOCTEST_MODULES
) -> Iterator[dict[str, str]]:
    """One problem per documented definition of ``modules`` (in order), counting what is left out in ``skipped``."""
    version = ".".join(map(str, sys.version_info[:3]))
    for module in modules:
        path = _module_path(stdlib, module)
        if path is None:
            skipped["missing-module"] += 1
            continue
        try:
            with warnings.catch_warnings():  # invalid escapes in old modules warn at parse time
                warnings.simplefilter("ignore")
                source = path.read_text("utf-8")
                tree = ast.parse(source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            skipped["unreadable-module"] += 1
            continue
        bindings = _module_bindings(tree)
        lines = source.splitlines(keepends=True)
        problems = []
        with warnings.catch_warnings():  # examples' invalid escapes, as above
            warnings.simplefilter("ignore")
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    unit = _Unit(module, node, "".join(lines[start - 1 : node.end_lineno]))
                    problems.append(_problem(unit, bindings, version, skipped))
        yield from (problem for problem in problems if problem is not None)


def _module_path(stdlib: Path, module: str) -> Path | None:
    base = stdlib.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _problem(
    unit: _Unit, bindings: dict[str, str | None], version: str, skipped: Counter[str]
) -> dict[str, str] | None:
    documented: list[ast.AST] = [unit.node]
    if isinstance(unit.node, ast.ClassDef):
        documented += [n for n in unit.node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    texts = [doc for n in documented if (doc := ast.get_docstring(n, clean=False)) and ">>>" in doc]
    if not texts:
        return None  # nothing to test: not counted, most definitions are like this
    if len(unit.source) > MAX_SOLUTION_CHARS:
        skipped["too-long"] += 1
        return None
    solution_names = _free_names(ast.parse(unit.source)) - {unit.name}
    if any(name not in bindings for name in solution_names):
        skipped["unresolved-name"] += 1
        return None
    defined = {unit.name} | solution_names
    blocks: list[str] = []
    test_names: set[str] = set()
    checks = 0
    for text in texts:
        examples = _checked_examples(unit, text, bindings, defined, skipped)
        if examples is not None:
            blocks += examples.code
            test_names |= examples.names
            checks += examples.checks
    if not checks:
        skipped["no-checked-example"] += 1
        return None
    imports = _imports(unit.module, solution_names, bindings)
    solution = (imports + "\n\n\n" if imports else "") + unit.source.rstrip() + "\n"
    head = "\n".join(
        ["import contextlib", "import io", _imports(unit.module, test_names - defined, bindings)]
    )
    tests = "\n\n".join([head.rstrip(), _TESTS_PREAMBLE.rstrip(), *blocks]) + "\n"
    verdict = static_check(Candidate(solution, tests), DEFAULT_FORBIDDEN_IMPORTS)
    if verdict is not None:
        skipped[verdict.reason.replace("_", "-") if verdict.reason else "static-check"] += 1
        return None
    if isinstance(unit.node, ast.ClassDef):
        what = f"the class `{unit.name}`"
    else:
        what = f"`{unit.name}({ast.unparse(unit.node.args)})`"
    prompt = (
        f"Write {what} of the `{unit.module}` module in Python {version}'s standard library, "
        "so that the examples in its docstrings hold."
    )
    return {
        "id": f"doctest-{unit.module}.{unit.name}",
        "prompt": prompt,
        "solution": solution,
        "tests": tests,
        "origin": f"python {version} stdlib doctest",
        "module": unit.module,
    }


@dataclass(frozen=True)
class _Examples:
    code: list[str]  # one block per example
    names: set[str]  # module-level names the examples use and do not bind
    checks: int  # examples whose output or exception is checked


def _checked_examples(
    unit: _Unit, text: str, bindings: dict[str, str | None], defined: set[str], skipped: Counter[str]
) -> _Examples | None:
    """The test code for one docstring's examples, or None when they are left out (counted)."""
    try:
        examples = doctest.DocTestParser().get_examples(text)
    except ValueError:  # inconsistent indentation and the like
        skipped["unparsable-docstring"] += 1
        return None
    code: list[str] = []
    loaded: set[str] = set()
    bound: set[str] = set()
    checks = 0
    for example in examples:
        reason = _example_problem(example, unit.module)
        if reason is not None:
            skipped[f"docstring-{reason}"] += 1
            return None
        tree = ast.parse(example.source)
        loaded |= _loaded_names(tree)
        bound |= _bound_names(tree)
        block, checked = _example_code(example, tree)
        code.append(block)
        checks += checked
    needed = loaded - bound - defined - _BUILTINS - {"_Example", "_show"}
    if any(name not in bindings for name in needed):
        skipped["docstring-unresolved-name"] += 1
        return None
    return _Examples(code, needed, checks)


def _example_problem(example: doctest.Example, module: str) -> str | None:
    """Why an example cannot be checked the same way everywhere, or None."""
    if example.options:
        return "directive"
    try:
        tree = ast.parse(example.source)
    except (SyntaxError, ValueError):
        return "syntax-error"
    names = _loaded_names(tree) | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    want = example.exc_msg or example.want
    if names & _NONDETERMINISTIC_NAMES or _ADDRESS.search(want) or _SET_DISPLAY.search(want):
        return "nondeterministic"
    for node in ast.walk(tree):
        imported = (
            [a.name for a in node.names] if isinstance(node, ast.Import)
            else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )  # fmt: skip
        if any(m == module or m.startswith(module + ".") for m in imported):
            return "imports-its-module"
    return None


class _ShowExpressions(ast.NodeTransformer):
    """``expr`` -> ``_show(expr)`` where the interactive interpreter would print it (not inside definitions)."""

    def __init__(self) -> None:
        self.shown = False

    def visit_Expr(self, node: ast.Expr) -> ast.Expr:
        self.shown = True
        call = ast.Call(func=ast.Name("_show", ast.Load()), args=[node.value], keywords=[])
        return ast.copy_location(ast.Expr(call), node)

    def visit_FunctionDef(self, node: ast.AST) -> ast.AST:
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef


def _example_code(example: doctest.Example, tree: ast.Module) -> tuple[str, bool]:
    """The example as test code, and whether it checks anything (set-up examples print nothing)."""
    show = _ShowExpressions()
    body = ast.unparse(ast.fix_missing_locations(show.visit(tree)))
    want = _BLANKLINE.sub("", example.want)
    if example.exc_msg is not None:
        name, colon, message = example.exc_msg.rstrip("\n").partition(":")
        raises = name.rsplit(".", 1)[-1] + colon + message
        head = f"with _Example(raises={raises!r}):"  # what it printed before raising is not compared
    elif want or show.shown:  # an expression that shows nothing (None) is checked to show nothing
        head = f"with _Example({want!r}):"
    else:
        return body, False  # an assignment, an import, a definition
    return head + "\n" + textwrap.indent(body, "    "), True


# --- names --------------------------------------------------------------------------------------------


def _module_bindings(tree: ast.Module) -> dict[str, str | None]:
    """Names bound at the module's top level: the import statement that binds one, or None when the module
    itself defines it (a def, a class, an assignment, an import inside ``try``/``if``)."""
    out: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                out[alias.asname or alias.name.split(".")[0]] = ast.unparse(ast.Import([alias]))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
            for alias in node.names:
                if alias.name != "*":
                    out[alias.asname or alias.name] = ast.unparse(ast.ImportFrom(node.module, [alias], 0))
        else:
            for name in _bound_names(node, descend=False):
                out.setdefault(name, None)
    return out


def _imports(module: str, names: set[str], bindings: dict[str, str | None]) -> str:
    """Import lines for ``names``: the module's own statements, then the names it defines, sorted."""
    statements = sorted({bindings[n] for n in names if bindings[n] is not None})  # type: ignore[misc]
    own = sorted(n for n in names if bindings[n] is None)
    if own:
        statements.append(f"from {module} import {', '.join(own)}")
    return "\n".join(statements)


def _free_names(tree: ast.AST) -> set[str]:
    """Names a definition reads but never binds (an approximation of Python's scoping: enough here)."""
    declared_global = {n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names}
    return _loaded_names(tree) - (_bound_names(tree) - declared_global) - _BUILTINS


def _loaded_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound_names(tree: ast.AST, descend: bool = True) -> set[str]:
    """Names bound anywhere in ``tree`` (or, without ``descend``, by it and not inside its definitions)."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
            if not descend:
                continue
        elif not descend and isinstance(node, (ast.Lambda, ast.comprehension)):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return out
