"""Verify a Python candidate (a solution and its tests): static checks, then a run in the sandbox.

    with Verifier(Limits(timeout=5), workers=4) as verifier:
        for verdict in verifier.map(candidates):       # in input order
            verdict.passed, verdict.reason, verdict.detail

A candidate passes when its solution and then its tests run to the end in a sandbox (see
:mod:`mixer.sandbox`). Before anything runs, the sources are parsed here with :mod:`ast` (parsing
executes nothing) to reject syntax errors and imports of forbidden modules. The candidate runs under a
small harness that executes ``solution.py`` then ``tests.py`` in one namespace, as a script made of the
two would, and only then writes a marker that the builder handed it on stdin: a program that exits early
with status 0 (``sys.exit()`` in the solution, ``os._exit(0)``) has not passed. The harness shares the
candidate's interpreter, so a candidate written to forge that marker could; the sandbox contains what
the candidate can do to the machine, the verdict is for honest mistakes. Every failure gets one reason:

- ``failed_test``: an exception (an ``AssertionError`` from a test, a ``NameError`` in the solution, ...)
  or an exit before the tests finished;
- ``timeout``: the wall-clock or the CPU-time limit;
- ``memory``: ``MemoryError`` (the address-space limit) or an allocation that failed;
- ``resource_limit``: the file-size, disk, process or thread limit (a full disk, a fork bomb);
- ``crash``: killed by a signal (a segfault, an abort) or a ``RecursionError`` (a blown stack);
- ``syntax_error`` and ``forbidden_import``: found statically, nothing ran.
"""

from __future__ import annotations

import ast
import re
import secrets
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from mixer.sandbox import Limits, RunResult, Sandbox, ordered

# Modules that reach the operating system, the network or native code: verified training code should
# not need them, and a candidate that uses them is more likely to be probing than solving.
DEFAULT_FORBIDDEN_IMPORTS = [
    "_posixsubprocess",
    "ctypes",
    "http",
    "importlib",
    "multiprocessing",
    "os",
    "posix",
    "pty",
    "shutil",
    "signal",
    "socket",
    "subprocess",
    "urllib",
]
REASONS = ("failed_test", "timeout", "memory", "resource_limit", "crash", "syntax_error", "forbidden_import")

HARNESS = """\
def _mixer_harness():
    import os, sys
    marker = sys.stdin.readline().strip()
    scope = globals()  # the candidate runs as __main__, like a script made of solution and tests
    scope["exit"] = scope["quit"] = sys.exit  # what `site` (not loaded: python -S) would provide
    for name in ("solution.py", "tests.py"):
        with open(name, encoding="utf-8") as f:
            code = compile(f.read(), name, "exec")
        try:
            exec(code, scope)
        except SystemExit as e:  # unittest.main() ends a passing run with SystemExit(0)
            if name == "solution.py" or e.code not in (None, 0):
                raise
    sys.stdout.flush()
    os.write(1, ("\\n" + marker + "\\n").encode())
    os._exit(0)  # no atexit hooks or lingering threads of the candidate's after the marker


_mixer_harness()
"""
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s*(.*))?$")
_RESOURCE_ERRORS = (
    "[Errno 27] File too large",
    "[Errno 28] No space left",
    "[Errno 11] Resource temporarily",
)


@dataclass(frozen=True)
class Candidate:
    solution: str
    tests: str


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str | None  # one of REASONS; None when passed
    detail: str  # e.g. "AssertionError: add(2, 2) != 5", "SIGSEGV", "os (solution.py line 3)"
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    isolation: tuple[str, ...] = ()

    def metadata(self) -> dict:
        return {
            "verdict": "passed" if self.passed else self.reason,
            "runtime_s": self.wall_seconds,
            "cpu_s": self.cpu_seconds,
            "isolation": list(self.isolation),
        }


def static_check(candidate: Candidate, forbidden: Iterable[str]) -> Verdict | None:
    """The verdict when the candidate need not run (a syntax error, a forbidden import), else None."""
    forbidden = tuple(forbidden)
    found: list[tuple[int, str, str]] = []
    for name, source in (("solution.py", candidate.solution), ("tests.py", candidate.tests)):
        try:
            tree = ast.parse(source, filename=name)
        except SyntaxError as e:
            where = f"{name} line {e.lineno}" if e.lineno else name
            return Verdict(False, "syntax_error", f"{where}: {e.msg}")
        except (ValueError, RecursionError, MemoryError) as e:  # null bytes; absurd nesting
            return Verdict(False, "syntax_error", f"{name}: {type(e).__name__}: {e}")
        found += [
            (line, module, name) for module, line in imported_modules(tree) if _listed(module, forbidden)
        ]
    if found:
        line, module, name = min(found, key=lambda f: (f[2] != "solution.py", f[0]))
        return Verdict(False, "forbidden_import", f"{module} ({name} line {line})")
    return None


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """``(module, line)`` for every import: statements, and ``__import__``/``import_module`` of a literal."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and _is_dynamic_import(node.func):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                out.append((arg.value, node.lineno))
    return sorted(out, key=lambda m: m[1])


def _is_dynamic_import(func: ast.expr) -> bool:
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in ("__import__", "import_module")


def _listed(module: str, forbidden: tuple[str, ...]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def classify(result: RunResult, marker: str) -> Verdict:
    """The verdict on one harness run."""
    timing = {
        "wall_seconds": result.wall_seconds,
        "cpu_seconds": result.cpu_seconds,
        "isolation": result.isolation,
    }
    if result.timed_out or result.cpu_exceeded:
        what = "CPU time" if result.cpu_exceeded else "wall-clock time"
        return Verdict(False, "timeout", f"exceeded its {what}", **timing)
    if result.signal is not None:
        return Verdict(False, "crash", _signal_name(result.signal), **timing)
    if result.exit_code == 0:
        if f"\n{marker}\n".encode() in result.stdout:  # its tail: the harness writes it last
            return Verdict(True, None, "", **timing)
        return Verdict(False, "failed_test", "exited before its tests finished", **timing)
    error = _last_exception(result.stderr)
    kind = _EXCEPTION_LINE.match(error)
    name = kind.group(1).rsplit(".", 1)[-1] if kind else ""
    if name == "MemoryError" or "[Errno 12] Cannot allocate memory" in error:
        reason = "memory"
    elif name == "RecursionError":
        reason = "crash"
    elif name in ("SyntaxError", "IndentationError", "TabError") and _failed_file(result.stderr) in (
        "solution.py",
        "tests.py",
    ):  # what only the compiler sees ('return' outside a function), not an eval() in a test
        reason = "syntax_error"
    elif any(e in error for e in _RESOURCE_ERRORS) or error.startswith(
        "RuntimeError: can't start new thread"
    ):
        reason = "resource_limit"
    else:
        reason = "failed_test"
    return Verdict(False, reason, error or f"exit status {result.exit_code}", **timing)


def _last_exception(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def _failed_file(stderr: bytes) -> str:
    files = re.findall(rb'File "([^"]*)", line', stderr)
    return files[-1].decode(errors="replace") if files else ""


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class Verifier:
    """Static checks in this process, runs in a :class:`~mixer.sandbox.Sandbox` pool of ``workers``."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        workers: int | None = None,
        forbidden_imports: Iterable[str] = DEFAULT_FORBIDDEN_IMPORTS,
        isolate: bool = True,
    ):
        self.sandbox = Sandbox(limits, workers=workers, isolate=isolate)
        self.forbidden = tuple(forbidden_imports)

    @property
    def workers(self) -> int:
        return self.sandbox.workers

    def submit(self, candidate: Candidate) -> Future[Verdict]:
        static = static_check(candidate, self.forbidden)
        if static is not None:
            done: Future[Verdict] = Future()
            done.set_result(static)
            return done
        marker = f"mixer-tests-passed-{secrets.token_hex(16)}"
        files = {"main.py": HARNESS, "solution.py": candidate.solution, "tests.py": candidate.tests}
        run = self.sandbox.submit(files, stdin=(marker + "\n").encode())
        verdict: Future[Verdict] = Future()

        def finish(f: Future[RunResult]) -> None:
            try:
                verdict.set_result(classify(f.result(), marker))
            except BaseException as e:  # a SandboxError reaches whoever waits on the verdict
                verdict.set_exception(e)

        run.add_done_callback(finish)
        return verdict

    def verify(self, candidate: Candidate) -> Verdict:
        return self.submit(candidate).result()

    def map(self, candidates: Iterable[Candidate]) -> Iterator[Verdict]:
        """Verdicts in input order, ``workers`` candidates running at a time."""
        yield from ordered((self.submit(c) for c in candidates), 2 * self.workers)

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
