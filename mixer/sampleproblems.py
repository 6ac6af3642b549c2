"""Python problems for the sample corpus's ``verified/`` part: the standard library's doctests, and a generated set.

Both are ``{id, prompt, solution, tests}`` records for ``type: verified_python`` (docs/sandbox.md).

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

:func:`generated_problems` is a fixed set of small problems; the solutions named in :data:`GENERATED_DEFECTS`
are deliberately wrong, one kind of mistake for each reason the verifier rejects a candidate with.
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

from mixer.verify import DEFAULT_FORBIDDEN_IMPORTS, Candidate, static_check

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


# --- the generated set --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Generated:
    name: str
    prompt: str
    solution: str
    tests: str
    defect: tuple[str, str] | None = None  # (the verifier's reason, the mistake) for a deliberately wrong one


def _g(
    name: str, prompt: str, solution: str, tests: str, defect: tuple[str, str] | None = None
) -> _Generated:
    return _Generated(
        name, prompt, textwrap.dedent(solution).lstrip("\n"), textwrap.dedent(tests).lstrip("\n"), defect
    )


# fmt: off
_GENERATED = (
    _g("add", "Write `add(a, b)`: return the sum of two numbers.", """
        def add(a, b):
            return a + b
        """, """
        assert add(2, 3) == 5
        assert add(-1, 1) == 0
        assert add(0.5, 0.25) == 0.75
        """),
    _g("sum-to", "Write `sum_to(n)`: return 1 + 2 + ... + n, and 0 when n is 0.", """
        def sum_to(n):
            return sum(range(n))
        """, """
        assert sum_to(0) == 0
        assert sum_to(1) == 1
        assert sum_to(10) == 55
        """, ("failed_test", "off by one: range(n) stops before n")),
    _g("is-palindrome", "Write `is_palindrome(text)`: whether `text` reads the same backwards, ignoring case "
       "and everything but letters and digits.", """
        def is_palindrome(text):
            kept = [c.lower() for c in text if c.isalnum()]
            return kept == kept[::-1]
        """, """
        assert is_palindrome("A man, a plan, a canal: Panama")
        assert is_palindrome("")
        assert not is_palindrome("mixer")
        """),
    _g("rectangle-area", "Write `rectangle_area(width, height)`: the area of a rectangle.", """
        def rectangle_area(width, height):
            return width + height
        """, """
        assert rectangle_area(2, 2) == 4
        assert rectangle_area(3, 4) == 12
        assert rectangle_area(0, 7) == 0
        """, ("failed_test", "wrong operator: + instead of *")),
    _g("reverse-words", "Write `reverse_words(sentence)`: the words of `sentence` in reverse order, "
       "separated by single spaces.", """
        def reverse_words(sentence):
            return " ".join(reversed(sentence.split()))
        """, """
        assert reverse_words("the quick  brown fox") == "fox brown quick the"
        assert reverse_words("   ") == ""
        """),
    _g("count-vowels", "Write `count_vowels(text)`: how many of the letters in `text` are vowels (a, e, i, o, "
       "u, either case).", """
        def count_vowels(text):
            return sum(1 for c in text.lower() if c in "aeiou")
        """, """
        assert count_vowels("Hello, World") == 3
        assert count_vowels("rhythm") == 0
        assert count_vowels("AEIOU") == 5
        """),
    _g("factorial", "Write `factorial(n)`: n! for n >= 0.", """
        def factorial(n):
            if n == 1:
                return 1
            return n * factorial(n - 1)
        """, """
        assert factorial(5) == 120
        assert factorial(1) == 1
        assert factorial(0) == 1
        """, ("crash", "wrong base case: factorial(0) recurses without end (RecursionError)")),
    _g("fizzbuzz", "Write `fizzbuzz(n)`: the list of the numbers 1 to n as strings, with multiples of 3 "
       'replaced by "Fizz", of 5 by "Buzz" and of both by "FizzBuzz".', """
        def fizzbuzz(n):
            out = []
            for i in range(1, n + 1):
                word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
                out.append(word or str(i))
            return out
        """, """
        assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]
        assert fizzbuzz(15)[-1] == "FizzBuzz"
        assert fizzbuzz(0) == []
        """),
    _g("gcd", "Write `gcd(a, b)`: the greatest common divisor of two non-negative integers (gcd(0, 0) is 0).",
       """
        def gcd(a, b):
            while b:
                a, b = b, a % b
            return a
        """, """
        assert gcd(12, 18) == 6
        assert gcd(17, 5) == 1
        assert gcd(0, 9) == 9
        assert gcd(0, 0) == 0
        """),
    _g("count-digits", "Write `count_digits(n)`: how many decimal digits the integer `n` has, ignoring its "
       "sign (0 has one).", """
        def count_digits(n):
            count = 1
            n //= 10
            while n != 0:
                count += 1
                n //= 10
            return count
        """, """
        assert count_digits(0) == 1
        assert count_digits(12345) == 5
        assert count_digits(-45) == 2
        """, ("timeout", "negative numbers never reach 0 by floor division (-1 // 10 == -1): an endless loop")),
    _g("is-prime", "Write `is_prime(n)`: whether the integer `n` is a prime number.", """
        def is_prime(n):
            if n < 2:
                return False
            i = 2
            while i * i <= n:
                if n % i == 0:
                    return False
                i += 1
            return True
        """, """
        assert [n for n in range(20) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19]
        assert is_prime(7919)
        assert not is_prime(-7)
        """),
    _g("fibonacci", "Write `fibonacci(n)`: the n-th Fibonacci number, with fibonacci(0) == 0 and "
       "fibonacci(1) == 1.", """
        def fibonacci(n):
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a
        """, """
        assert [fibonacci(n) for n in range(10)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
        assert fibonacci(90) == 2880067194370816120
        """),
    _g("is-ipv4", "Write `is_ipv4(address)`: whether `address` is a dotted-quad IPv4 address such as "
       '"192.168.0.1".', """
        import socket


        def is_ipv4(address):
            try:
                socket.inet_aton(address)
            except OSError:
                return False
            return True
        """, """
        assert is_ipv4("192.168.0.1")
        assert not is_ipv4("256.1.1.1")
        assert not is_ipv4("1.2.3")
        """, ("forbidden_import", "imports socket (which would also accept '1.2.3')")),
    _g("flatten", "Write `flatten(items)`: the non-list elements of a nested list, in order.", """
        def flatten(items):
            out = []
            for item in items:
                if isinstance(item, list):
                    out.extend(flatten(item))
                else:
                    out.append(item)
            return out
        """, """
        assert flatten([1, [2, [3, 4]], [], 5]) == [1, 2, 3, 4, 5]
        assert flatten([]) == []
        assert flatten([["a"], "bc"]) == ["a", "bc"]
        """),
    _g("chunks", "Write `chunks(items, size)`: `items` cut into lists of `size` elements (the last one "
       "may be shorter).", """
        def chunks(items, size):
            return [items[i : i + size] for i in range(0, len(items), size)]
        """, """
        assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
        assert chunks([], 3) == []
        """),
    _g("zeroed-buffer", "Write `zeroed_buffer(kib)`: a bytearray of `kib` kibibytes, all zero.", """
        def zeroed_buffer(kib):
            return bytearray(kib * 1024 ** 3)
        """, """
        assert len(zeroed_buffer(2)) == 2048
        assert zeroed_buffer(1).count(0) == 1024
        """, ("memory", "wrong unit: 1024 ** 3 (GiB) instead of 1024 bytes per KiB")),
    _g("celsius-to-fahrenheit", "Write `celsius_to_fahrenheit(c)`: the temperature `c` in degrees Celsius, "
       "in degrees Fahrenheit.", """
        def celsius_to_fahrenheit(c):
            return c * 9 / 5 + 32
        """, """
        assert celsius_to_fahrenheit(0) == 32
        assert celsius_to_fahrenheit(100) == 212
        assert celsius_to_fahrenheit(-40) == -40
        """),
    _g("word-frequencies", "Write `word_frequencies(text)`: a dict from each lower-cased word of `text` "
       "(runs of letters) to how often it occurs, in order of first occurrence.", """
        import re


        def word_frequencies(text):
            counts = {}
            for word in re.findall(r"[a-z]+", text.lower()):
                counts[word] = counts.get(word, 0) + 1
            return counts
        """, """
        assert word_frequencies("The cat and the hat.") == {"the": 2, "cat": 1, "and": 1, "hat": 1}
        assert list(word_frequencies("b a b")) == ["b", "a"]
        assert word_frequencies("") == {}
        """),
    _g("binary-search", "Write `binary_search(items, target)`: the index of `target` in the sorted list "
       "`items`, or -1 when it is not there.", """
        def binary_search(items, target):
            lo, hi = 0, len(items) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                if items[mid] == target:
                    return mid
                if items[mid] < target:
                    lo = mid + 1
                else:
                    hi = mid - 1
            return -1
        """, """
        items = [1, 3, 5, 7, 9, 11]
        assert [binary_search(items, x) for x in items] == [0, 1, 2, 3, 4, 5]
        assert binary_search(items, 4) == -1
        assert binary_search([], 1) == -1
        """),
    _g("fetch-all", "Write `fetch_all(keys, fetch)`: `fetch(key)` for every key, called concurrently "
       "(fetch may be slow), the results in the order of `keys`.", """
        import threading


        def fetch_all(keys, fetch):
            results = [None] * len(keys)

            def work(i, key):
                results[i] = fetch(key)

            threads = [threading.Thread(target=work, args=(i, key)) for i, key in enumerate(keys)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return results
        """, """
        import time


        def slow_square(x):
            time.sleep(0.2)
            return x * x


        assert fetch_all([1, 2, 3], slow_square) == [1, 4, 9]
        assert fetch_all(list(range(100)), slow_square) == [x * x for x in range(100)]
        """, ("resource_limit", "one thread per key: 100 keys need more threads than the sandbox allows")),
    _g("dedupe", "Write `dedupe(items)`: `items` without repeated elements, keeping the first occurrence "
       "of each.", """
        def dedupe(items):
            seen = set()
            out = []
            for item in items:
                if item not in seen:
                    seen.add(item)
                    out.append(item)
            return out
        """, """
        assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]
        assert dedupe("mississippi") == ["m", "i", "s", "p"]
        """),
    _g("is-anagram", "Write `is_anagram(a, b)`: whether the two words use the same letters the same number "
       "of times, ignoring case.", """
        def is_anagram(a, b):
            return sorted(a.lower()) == sorted(b.lower())
        """, """
        assert is_anagram("Listen", "Silent")
        assert not is_anagram("abc", "abd")
        """),
    _g("roman", "Write `roman(n)`: the integer 1 <= n <= 3999 in Roman numerals.", """
        def roman(n):
            numerals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
            out = []
            for value, letters in numerals:
                count, n = divmod(n, value)
                out.append(letters * count)
            return "".join(out)
        """, """
        assert roman(1994) == "MCMXCIV"
        assert roman(3999) == "MMMCMXCIX"
        assert roman(4) == "IV"
        """),
    _g("median-of-three", "Write `median_of_three(a, b, c)`: the middle one of three numbers.", """
        def median_of_three(a, b, c)
            return sorted([a, b, c])[1]
        """, """
        assert median_of_three(3, 1, 2) == 2
        assert median_of_three(5, 5, 1) == 5
        """, ("syntax_error", "the def line lacks its colon")),
    _g("caesar", "Write `caesar(text, shift)`: `text` with every ASCII letter moved `shift` places along "
       "the alphabet (wrapping around, keeping case); other characters unchanged.", """
        def caesar(text, shift):
            out = []
            for c in text:
                if c.isascii() and c.isalpha():
                    base = ord("A") if c.isupper() else ord("a")
                    c = chr(base + (ord(c) - base + shift) % 26)
                out.append(c)
            return "".join(out)
        """, """
        assert caesar("Hello, World!", 3) == "Khoor, Zruog!"
        assert caesar(caesar("mixer", 11), -11) == "mixer"
        assert caesar("xyz", 3) == "abc"
        """),
    _g("max-subarray", "Write `max_subarray(numbers)`: the largest sum of a non-empty run of consecutive "
       "elements of `numbers`.", """
        def max_subarray(numbers):
            best = current = numbers[0]
            for x in numbers[1:]:
                current = max(x, current + x)
                best = max(best, current)
            return best
        """, """
        assert max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6
        assert max_subarray([-3, -1, -2]) == -1
        """),
    _g("merge-sorted", "Write `merge_sorted(a, b)`: one sorted list of the elements of the sorted lists "
       "`a` and `b`.", """
        def merge_sorted(a, b):
            out, i, j = [], 0, 0
            while i < len(a) and j < len(b):
                if a[i] <= b[j]:
                    out.append(a[i])
                    i += 1
                else:
                    out.append(b[j])
                    j += 1
            return out + a[i:] + b[j:]
        """, """
        assert merge_sorted([1, 4, 9], [2, 3, 10, 11]) == [1, 2, 3, 4, 9, 10, 11]
        assert merge_sorted([], [1]) == [1]
        """),
    _g("is-leap-year", "Write `is_leap_year(year)`: whether `year` is a leap year in the Gregorian calendar.",
       """
        def is_leap_year(year):
            return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        """, """
        assert is_leap_year(2024) and is_leap_year(2000)
        assert not is_leap_year(1900) and not is_leap_year(2023)
        """),
    _g("digit-sum", "Write `digit_sum(n)`: the sum of the decimal digits of the integer `n` (its sign "
       "ignored).", """
        def digit_sum(n):
            return sum(int(d) for d in str(abs(n)))
        """, """
        assert digit_sum(12345) == 15
        assert digit_sum(-909) == 18
        assert digit_sum(0) == 0
        """),
    _g("transpose", "Write `transpose(matrix)`: the transpose of a matrix given as a list of equally long "
       "rows.", """
        def transpose(matrix):
            return [list(column) for column in zip(*matrix)]
        """, """
        assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]
        assert transpose([]) == []
        """),
    _g("balanced", "Write `balanced(text)`: whether the brackets (), [] and {} in `text` are balanced and "
       "properly nested.", """
        def balanced(text):
            pairs = {")": "(", "]": "[", "}": "{"}
            stack = []
            for c in text:
                if c in "([{":
                    stack.append(c)
                elif c in pairs:
                    if not stack or stack.pop() != pairs[c]:
                        return False
            return not stack
        """, """
        assert balanced("f(a[1], {b: (2)})")
        assert not balanced("(]")
        assert not balanced("((")
        assert balanced("")
        """),
    _g("run-length", "Write `run_length(text)`: the run-length encoding of `text` as a list of "
       "(character, count) pairs.", """
        def run_length(text):
            out = []
            for c in text:
                if out and out[-1][0] == c:
                    out[-1] = (c, out[-1][1] + 1)
                else:
                    out.append((c, 1))
            return out
        """, """
        assert run_length("aaabccdddd") == [("a", 3), ("b", 1), ("c", 2), ("d", 4)]
        assert run_length("") == []
        """),
)
# fmt: on

# The deliberately wrong solutions of :func:`generated_problems`: id -> the reason the verifier rejects it.
GENERATED_DEFECTS = {
    f"generated-{i:02d}-{p.name}": p.defect[0] for i, p in enumerate(_GENERATED, start=1) if p.defect
}


def generated_problems() -> list[dict[str, str]]:
    """A fixed set of small problems; the solutions in :data:`GENERATED_DEFECTS` are wrong on purpose.

    Each wrong one carries ``defect`` (the mistake) besides ``origin``; the others pass their tests.
    """
    out = []
    for i, p in enumerate(_GENERATED, start=1):
        record = {"id": f"generated-{i:02d}-{p.name}", "prompt": p.prompt, "solution": p.solution}
        record.update(tests=p.tests, origin="generated")
        if p.defect:
            record["defect"] = p.defect[1]
        out.append(record)
    return out
