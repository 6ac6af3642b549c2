"""Verify a Python candidate (a solution and its tests): static checks, then a run in the sandbox.

    with Verifier(Limits(timeout=5), workers=4) as verifier:
        for verdict in verifier.map(candidates):       # in input order
            verdict.passed, verdict.reason, verdict.detail

Before anything runs, both sources are parsed here with :mod:`ast` (parsing executes nothing): syntax
errors, imports of forbidden modules and, in the solution, what the policy forbids (:mod:`mixer.sandbox.policy`)
reject a candidate at once. The tests are then compiled with the harness's hooks
(:mod:`mixer.sandbox.instrument`) and, with the compiled solution and a per-run marker, sent on stdin to
the harness (:mod:`mixer.sandbox.harness`), whose two-line loader is all the sandbox's disk holds. The candidate passes
only when the harness writes the marker: every assert site ran, nothing failed or escaped, nothing the
tests judged was decided by the solution's own dunders, nothing they rely on was changed. Every failure
gets one reason:

- ``failed_test``: an exception (an ``AssertionError`` from a test, a ``NameError`` in the solution,
  ``SystemExit`` with any code, ``SkipTest``), a failed or skipped unittest case, an assert that never
  ran, or an exit before the harness's verdict;
- ``policy``: the static policy, or at run time a judged value whose class the solution made judge
  itself, or a built-in, module or class the tests rely on that the candidate changed;
- ``timeout``: the wall-clock or the CPU-time limit;
- ``memory``: ``MemoryError`` (the address-space limit) or an allocation that failed;
- ``resource_limit``: the file-size, disk, file-count, process or thread limit (a full disk, a fork bomb);
- ``crash``: killed by a signal (a segfault, an abort) or a ``RecursionError`` (a blown stack);
- ``syntax_error`` and ``forbidden_import``: found statically, nothing ran.

Details are the candidate's text: control characters in them are escaped (``\\x1b``) before they reach
a manifest or a terminal.
"""

from __future__ import annotations

import ast
import marshal
import re
import secrets
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from mixer.sandbox import policy as policies
from mixer.sandbox.harness import MAIN
from mixer.sandbox.instrument import instrument_tests
from mixer.sandbox.run import Limits, RunResult, Sandbox, ordered

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
REASONS = (
    "failed_test",
    "policy",
    "timeout",
    "memory",
    "resource_limit",
    "crash",
    "syntax_error",
    "forbidden_import",
)
_HARNESS_FILE = Path(__file__).parent / "harness.py"
HARNESS = marshal.dumps(compile(_HARNESS_FILE.read_text(encoding="utf-8"), "harness.py", "exec"))
# the harness's own verdicts, as the first word of its last stderr line
_HARNESS_REASONS = {
    "untrusted_value:": "policy",
    "tampered:": "policy",
    "not_run:": "failed_test",
    "unittest:": "failed_test",
    "policy:": "policy",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)")
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


def static_check(candidate: Candidate, forbidden: Iterable[str], policy: str = "strict") -> Verdict | None:
    """The verdict when the candidate need not run (syntax, a forbidden import, the policy), else None."""
    verdict, _ = _parse(candidate, tuple(forbidden), policy)
    return verdict


def _parse(
    candidate: Candidate, forbidden: tuple[str, ...], policy: str
) -> tuple[Verdict | None, dict[str, ast.Module]]:
    trees: dict[str, ast.Module] = {}
    found: list[tuple[int, str, str]] = []
    for name, source in (("solution.py", candidate.solution), ("tests.py", candidate.tests)):
        try:
            trees[name] = tree = ast.parse(source, filename=name)
        except SyntaxError as e:
            where = f"{name} line {e.lineno}" if e.lineno else name
            return Verdict(False, "syntax_error", printable(f"{where}: {e.msg}")), trees
        except (ValueError, RecursionError, MemoryError) as e:  # null bytes; absurd nesting
            return Verdict(False, "syntax_error", printable(f"{name}: {type(e).__name__}: {e}")), trees
        found += [
            (line, module, name) for module, line in imported_modules(tree) if _listed(module, forbidden)
        ]
    if found:
        line, module, name = min(found, key=lambda f: (f[2] != "solution.py", f[0]))
        return Verdict(False, "forbidden_import", printable(f"{module} ({name} line {line})")), trees
    violation = policies.check(trees["solution.py"], policy)
    if violation is not None:
        return Verdict(False, "policy", printable(violation.detail())), trees
    return None, trees


def printable(text: str) -> str:
    """``text`` with control characters escaped, so that no candidate's text drives a terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
        if result.stdout.endswith(f"\n{marker}\n".encode()):  # the harness writes it last, then exits
            return Verdict(True, None, "", **timing)
        return Verdict(False, "failed_test", "exited before the harness's verdict", **timing)
    error = _last_exception(result.stderr)
    detail = printable(error or f"exit status {result.exit_code}")
    own = next((r for prefix, r in _HARNESS_REASONS.items() if error.startswith(prefix)), None)
    if own is not None:
        return Verdict(False, own, detail, **timing)
    kind = _EXCEPTION_LINE.match(error)
    name = kind.group(1).rsplit(".", 1)[-1] if kind else ""
    if name == "MemoryError" or "[Errno 12] Cannot allocate memory" in error:
        reason = "memory"
    elif name == "RecursionError":
        reason = "crash"
    elif any(e in error for e in _RESOURCE_ERRORS) or error.startswith(
        "RuntimeError: can't start new thread"
    ):
        reason = "resource_limit"
    else:
        reason = "failed_test"
    return Verdict(False, reason, detail, **timing)


def _last_exception(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class Verifier:
    """Static checks in this process, runs in a :class:`~mixer.sandbox.run.Sandbox` pool of ``workers``."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        workers: int | None = None,
        forbidden_imports: Iterable[str] = DEFAULT_FORBIDDEN_IMPORTS,
        policy: str = "strict",
        isolate: bool = True,
    ):
        if policy not in policies.POLICIES:
            raise ValueError(f"unknown policy {policy!r}; use one of {', '.join(policies.POLICIES)}")
        self.sandbox = Sandbox(limits, workers=workers, isolate=isolate)
        self.forbidden = tuple(forbidden_imports)
        self.policy = policy

    @property
    def workers(self) -> int:
        return self.sandbox.workers

    def submit(self, candidate: Candidate) -> Future[Verdict]:
        static, payload = self.prepare(candidate)
        if static is not None:
            done: Future[Verdict] = Future()
            done.set_result(static)
            return done
        marker = payload["marker"]
        stdin = HARNESS + marshal.dumps({"__name__": "mixer_harness", "_mixer_payload": payload})
        run = self.sandbox.submit({"main.py": MAIN}, stdin=stdin)
        verdict: Future[Verdict] = Future()

        def finish(f: Future[RunResult]) -> None:
            try:
                verdict.set_result(classify(f.result(), marker))
            except BaseException as e:  # a SandboxError reaches whoever waits on the verdict
                verdict.set_exception(e)

        run.add_done_callback(finish)
        return verdict

    def prepare(self, candidate: Candidate) -> tuple[Verdict | None, dict]:
        """The static verdict, or the harness's payload: a fresh marker and the compiled sources."""
        static, trees = _parse(candidate, self.forbidden, self.policy)
        if static is not None:
            return static, {}
        try:
            solution = compile(trees["solution.py"], "solution.py", "exec")
            tests = instrument_tests(candidate.tests)
        except SyntaxError as e:  # what only the compiler sees: 'return' outside a function, ...
            where = f"{e.filename} line {e.lineno}" if e.lineno else str(e.filename)
            return Verdict(False, "syntax_error", printable(f"{where}: {e.msg}")), {}
        except (ValueError, RecursionError, MemoryError) as e:
            return Verdict(False, "syntax_error", printable(f"{type(e).__name__}: {e}")), {}
        return None, {
            "marker": f"mixer-tests-passed-{secrets.token_hex(16)}",
            "solution": solution,
            "tests": tests.code,
            "sites": tests.sites,
            "modules": tests.modules,
        }

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
