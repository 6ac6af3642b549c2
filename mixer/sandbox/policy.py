"""The static policy of ``verified_python``: what a solution may not contain, decided with :mod:`ast`.

Verified training code is selected for passing its tests, and a generator selected that way learns the
ways to *seem* to pass: exit before the tests run, replace what the tests call, fake equality, find the
expected answers. The harness (:mod:`mixer.sandbox.harness`) makes the verdict hold at run time; this
policy rejects, before anything runs, the constructs that honest solutions do not need and that those
tricks are made of. A rejected solution is counted under the reason ``policy`` with the rule and line.

Two policies, per source (``policy: strict | standard``):

``standard``
    the rules that protect the verdict: no exiting (``exit``, ``quit``, ``sys.exit``, ``os._exit``,
    ``SystemExit``, ``KeyboardInterrupt``); no reaching the interpreter's machinery (``__builtins__``,
    ``builtins``, ``__import__``, ``globals()``, ``locals()``, ``vars()``, ``breakpoint()``, frames and
    tracebacks' frames, ``sys._getframe``, ``sys.settrace``/``setprofile``, ``sys.monitoring``,
    ``sys.modules``, ``inspect``, ``gc``, ``ctypes``, ``importlib``); no running code made at run time
    (``exec``, ``compile``; ``eval`` is the harness's, which evaluates literal arithmetic only and
    refuses anything else at run time); ``getattr``/``setattr``/``delattr``/``hasattr`` only with a literal,
    non-dunder name; no dunder attribute that leads out of an object (``__class__``, ``__subclasses__``,
    ``__globals__``, ``__code__``, ``__dict__``, ...); no assignment to an attribute of an imported module
    or of something imported from one (``math.isclose = ...``, ``TestCase.assertEqual = ...``); the
    modules ``sys``, ``os``, ``threading``, ``unittest`` and ``types`` only through their attributes,
    never as values passed around or aliased; no name starting with ``_mixer`` (the harness's).
``strict`` (the default)
    all of the above, and: no dunder attribute at all except ``__init__``, ``__name__``, ``__qualname__``
    and ``__doc__``; no module-level definition that shadows a built-in (``def abs``, ``len = ...``,
    ``from x import open``), since the tests would call it; no file access (``open``, ``io.open``,
    ``pathlib``, ``tempfile``, ``fileinput``, ``linecache``, ``mmap``, ``glob``, ``codecs.open``).

The policy reads the solution only: the tests are the judge, checked for syntax and forbidden imports.
It is a filter for data quality with a security purpose, not a sandbox: the sandbox contains whatever
passes it (see docs/sandbox.md).
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

POLICIES = ("strict", "standard")

BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("__"))
EXIT_NAMES = frozenset({"exit", "quit", "SystemExit", "KeyboardInterrupt"})
MACHINERY_NAMES = frozenset({"__builtins__", "__import__", "globals", "locals", "vars", "breakpoint"})
# `eval` is allowed: the harness gives the solution an `eval` of literal arithmetic only
DYNAMIC_CODE_NAMES = frozenset({"exec", "compile"})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
MACHINERY_MODULES = ("builtins", "inspect", "gc", "ctypes", "importlib", "_thread")
# dotted names, after resolving imports: `from sys import exit` makes `exit` mean sys.exit
FORBIDDEN_PATHS = {
    "sys.exit": "exit",
    "os._exit": "exit",
    "posix._exit": "exit",
    "sys._getframe": "machinery",
    "sys._current_frames": "machinery",
    "sys.settrace": "machinery",
    "sys.setprofile": "machinery",
    "sys.monitoring": "machinery",
    "sys.modules": "machinery",
    "sys.meta_path": "machinery",
    "sys.path_hooks": "machinery",
    "sys.addaudithook": "machinery",
    "sys.excepthook": "machinery",
    "sys.displayhook": "machinery",
    "sys.unraisablehook": "machinery",
    "sys.breakpointhook": "machinery",
    "threading.settrace": "machinery",
    "threading.setprofile": "machinery",
    "threading.settrace_all_threads": "machinery",
    "threading.setprofile_all_threads": "machinery",
    "unittest.main": "machinery",
}
# attributes that lead from an object to frames, code, globals or the class graph: never, on anything
ESCAPE_ATTRIBUTES = frozenset({
    "__class__", "__bases__", "__base__", "__mro__", "__subclasses__", "__globals__", "__code__",
    "__closure__", "__builtins__", "__dict__", "__getattribute__", "__reduce__", "__reduce_ex__",
    "__self__", "__func__", "__wrapped__", "__traceback__", "__loader__", "__spec__", "__import__",
    "__defaults__", "__kwdefaults__", "__objclass__", "__getstate__", "__setstate__",
    "tb_frame", "tb_next", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace",
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "cell_contents",
})  # fmt: skip
# names that set what the harness reads to tell the solution's classes from others
IDENTITY_NAMES = frozenset(
    {
        "__module__",
        "__qualname__",
        "__name__",
        "__class__",
        "__dict__",
        "__spec__",
        "__loader__",
        "__package__",
        "__file__",
    }
)
STRICT_DUNDERS = frozenset({"__init__", "__name__", "__qualname__", "__doc__"})
# modules whose objects may only be used through an attribute: `s = sys; s.exit()` is how a rule is dodged
ATTRIBUTE_ONLY_MODULES = frozenset({"sys", "os", "threading", "unittest", "types", "posix"})
FILE_MODULES = ("pathlib", "tempfile", "fileinput", "linecache", "mmap", "glob", "io.FileIO")
FILE_PATHS = frozenset({"io.open", "io.FileIO", "codecs.open", "tokenize.open", "builtins.open"})

RULES = {
    "exit": "exits the interpreter or raises an exit exception",
    "machinery": "reaches the interpreter's machinery (built-ins, frames, tracing, modules, importing)",
    "dynamic_code": "runs code built at run time",
    "attribute_name": "reads or writes an attribute by a computed or dunder name",
    "escape_attribute": "uses an attribute that leads out of an object (class graph, frames, globals)",
    "dunder": "uses a dunder attribute (strict policy)",
    "patch": "assigns to an attribute of an imported module or of something imported from one",
    "module_value": "uses a module object other than through its attributes",
    "harness_name": "uses a name reserved for the harness",
    "dunder_store": "assigns or deletes a dunder attribute, or rebinds a module's or class's identity",
    "shadows_builtin": "defines a module-level name that shadows a built-in (strict policy)",
    "file_access": "opens files (strict policy)",
}


@dataclass(frozen=True)
class Violation:
    rule: str  # a key of RULES
    line: int
    what: str  # the construct, e.g. "sys.exit", "__class__", "def abs"
    columns: tuple[int, int] = (0, 0)  # where it starts and ends on its line: the innermost comes first

    def detail(self, filename: str = "solution.py") -> str:
        return f"{self.rule}: {self.what} ({filename} line {self.line})"


def check(tree: ast.Module, policy: str = "strict") -> Violation | None:
    """The first violation of ``policy`` in the solution's ``tree`` (by line), or None."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    found = _Checker(policy == "strict", _import_bindings(tree)).run(tree)
    return min(found, key=lambda v: (v.line, v.columns)) if found else None


def _import_bindings(tree: ast.Module) -> dict[str, str]:
    """Names bound by imports anywhere in the tree -> the dotted path they stand for."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _listed(path: str, modules: tuple[str, ...]) -> bool:
    return any(path == m or path.startswith(m + ".") for m in modules)


class _Checker(ast.NodeVisitor):
    def __init__(self, strict: bool, imports: dict[str, str]):
        self.strict = strict
        self.imports = imports
        self.found: list[Violation] = []
        self._attribute_bases: set[int] = set()  # ids of Name nodes that are the base of an attribute

    def run(self, tree: ast.Module) -> list[Violation]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                self._attribute_bases.add(id(node.value))
        self.visit(tree)
        if self.strict:
            self._module_level_shadowing(tree)
        return self.found

    def flag(self, rule: str, node: ast.AST, what: str) -> None:
        columns = (getattr(node, "col_offset", 0), getattr(node, "end_col_offset", 0) or 0)
        self.found.append(Violation(rule, getattr(node, "lineno", 0), what, columns))

    # --- names and paths ----------------------------------------------------------------------------

    def _path(self, node: ast.expr) -> str | None:
        """``a.b.c`` with ``a`` resolved through the imports, or None when the base is not imported."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.imports:
            return None
        return ".".join([self.imports[node.id], *reversed(parts)])

    def _check_path(self, node: ast.expr) -> None:
        path = self._path(node)
        if path is None:
            return
        if path in FORBIDDEN_PATHS:
            self.flag(FORBIDDEN_PATHS[path], node, path)
        elif _listed(path, MACHINERY_MODULES):
            self.flag("machinery", node, path)
        elif self.strict and (path in FILE_PATHS or _listed(path, FILE_MODULES)):
            self.flag("file_access", node, path)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("_mixer") or name.startswith("__mixer"):
            self.flag("harness_name", node, name)
        elif name in EXIT_NAMES and isinstance(node.ctx, ast.Load):
            self.flag("exit", node, name)
        elif name in MACHINERY_NAMES:
            self.flag("machinery", node, name)
        elif name in DYNAMIC_CODE_NAMES and isinstance(node.ctx, ast.Load):
            self.flag("dynamic_code", node, name)
        elif name in IDENTITY_NAMES and isinstance(node.ctx, (ast.Store, ast.Del)):
            self.flag("dunder_store", node, name)
        elif self.strict and name == "open":
            self.flag("file_access", node, name)
        elif name in self.imports:
            self._check_path(node)
            module = self.imports[name]
            if (
                module in ATTRIBUTE_ONLY_MODULES
                and isinstance(node.ctx, ast.Load)
                and id(node) not in self._attribute_bases
            ):
                self.flag("module_value", node, name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        dunder = attr.startswith("__") and attr.endswith("__")
        if attr in ESCAPE_ATTRIBUTES:
            self.flag("escape_attribute", node, attr)
        elif dunder and isinstance(node.ctx, (ast.Store, ast.Del)):
            self.flag("dunder_store", node, attr)
        elif self.strict and dunder and attr not in STRICT_DUNDERS:
            self.flag("dunder", node, attr)
        self._check_path(node)
        if isinstance(node.ctx, (ast.Store, ast.Del)) and self._imported_base(node.value):
            self.flag("patch", node, ast.unparse(node))
        self.generic_visit(node)

    def _imported_base(self, node: ast.expr) -> bool:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.imports

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ATTRIBUTE_FUNCTIONS:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self.flag("attribute_name", node, f"{func.id} with a computed name")
            elif name.value.startswith("__") or name.value in ESCAPE_ATTRIBUTES:
                self.flag("attribute_name", node, f"{func.id}(..., {name.value!r})")
            elif func.id in ("setattr", "delattr") and node.args and self._imported_base(node.args[0]):
                self.flag("patch", node, f"{func.id}({ast.unparse(node.args[0])}, {name.value!r})")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            self._check_module(node, node.module)
            for alias in node.names:
                path = f"{node.module}.{alias.name}"
                if path in FORBIDDEN_PATHS:
                    self.flag(FORBIDDEN_PATHS[path], node, path)
                elif self.strict and path in FILE_PATHS:
                    self.flag("file_access", node, path)
                elif alias.name.startswith("__") or alias.name in ESCAPE_ATTRIBUTES:
                    self.flag("escape_attribute", node, path)

    def _check_module(self, node: ast.AST, module: str) -> None:
        if _listed(module, MACHINERY_MODULES):
            self.flag("machinery", node, f"import {module}")
        elif self.strict and _listed(module, FILE_MODULES):
            self.flag("file_access", node, f"import {module}")

    # --- strict: module-level names the tests would see -----------------------------------------------

    def _module_level_shadowing(self, tree: ast.Module) -> None:
        for node in _module_level_statements(tree.body):
            for name, where in _bound_names(node):
                if name in BUILTIN_NAMES:
                    self.flag("shadows_builtin", where, name)


def _module_level_statements(body: list[ast.stmt]):
    """Statements that run at module level: into if/try/with/for/while blocks, not into definitions."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                yield from _module_level_statements(inner)
        for handler in getattr(node, "handlers", []) or []:
            yield from _module_level_statements(handler.body)


def _bound_names(node: ast.stmt):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name, node
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0], node
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.With)):
        targets = (
            node.targets if isinstance(node, ast.Assign)
            else [item.optional_vars for item in node.items if item.optional_vars] if isinstance(node, ast.With)
            else [node.target]
        )  # fmt: skip
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                    yield name.id, name
    elif isinstance(node, ast.Global):
        for name in node.names:
            yield name, node
