"""The verifier's harness: what the sandbox runs for each candidate.

Nothing of the candidate is on its disk. Its ``main.py`` is :data:`MAIN`, two lines that read two
:mod:`marshal` values from stdin and run the first in the second: this module, compiled and marshalled
once by the builder (a fresh interpreter compiling it every time would cost more than the rest of the
harness), and its globals, holding what it needs,
made before the candidate runs: a per-run marker, the solution and the instrumented tests as compiled
code (see :mod:`mixer.sandbox.instrument`), the assert sites' lines and the modules the tests import.
The harness imports those modules, takes its own references to everything it uses, and
only then runs the solution (as module ``solution``) and the tests (as ``__main__``, in a namespace of
their own seeded with the solution's names). It writes the marker on stdout, and exits 0, only when:

- neither the solution nor the tests let an exception escape (``SystemExit`` with any code,
  ``KeyboardInterrupt`` and ``unittest.SkipTest`` included);
- every assert site of the tests ran at least once and none failed, even where a test caught the
  failure;
- no value the tests judged (compared, computed with, tested for truth or membership) is an instance
  of a class of the solution's that implements that judgement itself (see ``_lying_class``);
- the unittest cases the tests define all ran and passed (none failed, errored, was skipped or was an
  expected failure), counted from unittest's own result, not from the process's exit;
- the built-ins, the modules the tests import and their classes are the objects they were before the
  solution ran.

Otherwise it prints why as its last line on stderr and exits 1. This file runs in the candidate's
interpreter with ``-S``: standard library only, and nothing at import time but the call at the end.
"""

MAIN = "import marshal, sys\nexec(marshal.load(sys.stdin.buffer), marshal.load(sys.stdin.buffer))\n"


def _mixer_harness(payload: dict):  # noqa: C901  (one closure: nothing at module level to reach)
    import builtins
    import sys
    from posix import _exit, write  # not os: its import costs each candidate more than the harness

    marker = payload["marker"]
    sites = payload["sites"]  # the line of each assert site

    # The harness's own references: whatever the candidate rebinds later, these stay.
    _type, _isinstance, _id, _len, _bool = type, isinstance, id, len, bool
    _exec, _eval, _compile = exec, eval, compile
    _BaseException, _AssertionError, _issubclass = BaseException, AssertionError, issubclass
    _type_module = type.__dict__["__module__"].__get__
    _type_dict = type.__dict__["__dict__"].__get__
    _type_mro = type.__dict__["__mro__"].__get__
    _list_iter, _tuple_iter = list.__iter__, tuple.__iter__
    _set_iter, _frozenset_iter, _dict_items = set.__iter__, frozenset.__iter__, dict.items
    _proxy_items = _type(type.__dict__).items  # a class's __dict__ is a mappingproxy
    _function = _type(_mixer_harness)
    _IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: no attribute of such a class can be set
    _method_types = (staticmethod, classmethod)

    for name in payload["modules"]:
        try:
            __import__(name)
        except _BaseException:  # noqa: B036  (the tests' own import will fail and say why)
            pass
    unittest = sys.modules.get("unittest")
    guarded = {"builtins": builtins}
    guarded.update((n, sys.modules[n]) for n in payload["modules"] if n in sys.modules)

    def snapshot() -> dict:
        """Every guarded module's names and, for the classes it defines, their attributes."""
        out = {}
        for name, module in guarded.items():
            namespace = dict(vars(module))
            out[name] = namespace
            for key, value in namespace.items():
                # any class (unittest.TestCase lives in unittest.case) but the immutable built-in types
                if _isinstance(value, type) and not value.__flags__ & _IMMUTABLE_TYPE:
                    out[f"{name}.{key}"] = dict(_type_dict(value))
        return out

    def changed(before: dict, after: dict) -> str | None:
        for where, names in before.items():
            now = after.get(where, {})
            for key in names.keys() | now.keys():
                if names.get(key, now) is not now.get(key, names):
                    return f"{where}.{key}"
        return None

    # --- what the tests may judge ---------------------------------------------------------------------

    judged = frozenset({
        "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__", "__contains__",
        "__hash__", "__abs__", "__neg__", "__pos__", "__invert__", "__round__", "__trunc__", "__floor__",
        "__ceil__", "__float__", "__int__", "__index__", "__complex__", "__instancecheck__",
        "__subclasscheck__",
    } | {
        f"__{p}{op}__" for op in (
            "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow", "lshift",
            "rshift", "and", "or", "xor",
        ) for p in ("", "r", "i")
    })  # fmt: skip
    scalars = frozenset({type(None), bool, int, float, complex, str, bytes, bytearray, range, type(...)})
    verdicts: dict = {}

    def _lying_class(cls) -> str | None:
        """The dunder by which a class of the solution's decides a judgement itself, or None.

        A class is the solution's when its module is ``solution`` (the name its namespace runs under,
        which the policy does not let it change). It decides a judgement when its own dict holds one of
        the dunders above as a function written in the solution, or as anything but a plain function
        (a callable object, a built-in put in its place), except ``None``.
        """
        if cls in verdicts:
            return verdicts[cls]
        found = None
        for klass in _type_mro(cls):
            if _type_module(klass) != "solution":
                continue
            for key, value in _proxy_items(_type_dict(klass)):
                if key not in judged or value is None:
                    continue
                if _isinstance(value, _method_types):
                    value = value.__func__
                if _type(value) is not _function or value.__code__.co_filename == "solution.py":
                    found = f"{klass.__qualname__}.{key}"
                    break
            if found:
                break
        if found is None and _type(cls) is not type:
            found = _lying_class(_type(cls))  # a metaclass of the solution's judges classes
        verdicts[cls] = found
        return found

    state = {"failed": None, "ran": bytearray(_len(sites))}

    def fail_once(message: str) -> None:
        if state["failed"] is None:
            state["failed"] = message

    def mixer_value(value):
        """``value`` itself, after checking that nothing in it judges for the solution."""
        stack, seen = [value], set()
        while stack:
            item = stack.pop()
            cls = _type(item)
            if cls in scalars:
                continue
            lying = _lying_class(cls)
            if lying is not None:
                message = f"untrusted_value: the tests judged a {cls.__qualname__}, whose {lying} the solution wrote"
                fail_once(message)
                raise _AssertionError(message)
            if _id(item) in seen:
                continue
            seen.add(_id(item))
            if _isinstance(item, dict):
                for key, val in _dict_items(item):
                    stack += (key, val)
            elif _isinstance(item, list):
                stack += _list_iter(item)
            elif _isinstance(item, tuple):
                stack += _tuple_iter(item)
            elif _isinstance(item, set):
                stack += _set_iter(item)
            elif _isinstance(item, frozenset):
                stack += _frozenset_iter(item)
        return value

    def mixer_assert(site: int, value) -> bool:
        state["ran"][site] = 1
        return _bool(mixer_value(value))

    def mixer_failed(site: int, message=None):
        fail_once(
            f"AssertionError: tests.py line {sites[site]}" + ("" if message is None else f": {message}")
        )
        return _AssertionError(message) if message is not None else _AssertionError()

    def mixer_site(site: int, method):
        state["ran"][site] = 1
        return method

    # --- unittest: its own result decides, not the process's exit -------------------------------------

    cases_run: list = []

    def run_cases(namespace: dict) -> None:
        loader, suite = unittest.TestLoader(), unittest.TestSuite()
        for value in list(namespace.values()):
            if (
                _isinstance(value, type)
                and _issubclass(value, unittest.TestCase)
                and _type_module(value) != "solution"
                and value not in cases_run
            ):
                cases_run.append(value)
                suite.addTests(loader.loadTestsFromTestCase(value))
        result = unittest.TestResult()
        suite.run(result)
        for kind in ("failures", "errors", "skipped", "expectedFailures"):
            problems = getattr(result, kind)
            if problems:
                test, text = problems[0]
                last = [ln for ln in str(text).splitlines() if ln.strip()][-1:] or [kind]
                fail_once(f"unittest: {_len(problems)} {kind}, first {test.id()}: {last[0]}")
        if result.unexpectedSuccesses:
            fail_once(f"unittest: unexpected success of {result.unexpectedSuccesses[0].id()}")
        state["unittest_runs"] = state.get("unittest_runs", 0) + result.testsRun

    tests_namespace: dict = {}
    if unittest is not None:
        unittest.main = lambda *args, **kwargs: run_cases(tests_namespace)

    before = snapshot()

    def finish(where: str, error: BaseException | None = None) -> None:
        if error is not None:
            try:
                text = f"{_type(error).__name__}: {error}" if str(error) else _type(error).__name__
            except _BaseException:  # noqa: B036  (its __str__ is the candidate's)
                text = _type(error).__name__
            try:
                import traceback

                traceback.print_exception(_type(error), error, error.__traceback__)
            except _BaseException:  # noqa: B036
                pass
            fail_once(f"{text} (in {where})")
        message = state["failed"]
        if message is None:
            tampered = changed(before, snapshot())
            if tampered is not None:
                message = f"tampered: {tampered} was changed while {where} ran"
        if message is None and where == "the tests":
            missing = [sites[i] for i in range(_len(sites)) if not state["ran"][i]]
            if missing:
                message = f"not_run: the assert on tests.py line {missing[0]} never ran ({_len(missing)} of {_len(sites)} did not)"
            elif not sites and not state.get("unittest_runs"):
                message = "not_run: the tests checked nothing (no assert ran, no unittest case)"
        if message is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            write(2, ("\n" + message.replace("\n", " ") + "\n").encode("utf-8", "backslashreplace"))
            _exit(1)
        if where == "the tests":
            try:
                sys.stdout.flush()
            except _BaseException:  # noqa: B036
                pass
            write(1, ("\n" + marker + "\n").encode())
            _exit(0)  # no atexit hook or lingering thread of the candidate's runs after the verdict

    # `eval` in the solution is arithmetic on literals only: the policy cannot see what a string will hold
    arithmetic = None

    def mixer_eval(source, globals=None, locals=None):
        nonlocal arithmetic
        import ast

        if arithmetic is None:
            arithmetic = (
                ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Tuple,
                ast.List, ast.Set, ast.Dict, ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
            )  # fmt: skip
        text = source if _isinstance(source, str) else None
        try:
            tree = ast.parse(text.strip(), "<eval>", "eval") if text is not None else None
        except SyntaxError:
            raise
        except _BaseException:  # noqa: B036  (absurd nesting and the like: refused below)
            tree = None
        bad = None if tree is not None else _type(source).__name__
        for node in ast.walk(tree) if tree is not None else ():
            if not _isinstance(node, arithmetic):
                bad = _type(node).__name__
                break
        if bad is not None:
            message = f"policy: eval of something other than literal arithmetic ({bad})"
            fail_once(message)
            raise ValueError(message)
        return _eval(_compile(tree, "<eval>", "eval"), {"__builtins__": {}})

    # a module of its own, as an imported module would be (dataclasses and pickle look classes up there)
    solution_module = _type(sys)("solution")
    sys.modules["solution"] = solution_module
    solution_namespace = vars(solution_module)
    solution_namespace["__builtins__"] = dict(vars(builtins), eval=mixer_eval)
    try:
        _exec(payload["solution"], solution_namespace)
    except _BaseException as error:  # noqa: B036
        finish("the solution", error)
    finish("the solution")
    tests_namespace.update((k, v) for k, v in solution_namespace.items() if not k.startswith("__"))
    tests_namespace.update(
        __name__="__main__",
        __builtins__=builtins,
        _mixer_value=mixer_value,
        _mixer_assert=mixer_assert,
        _mixer_failed=mixer_failed,
        _mixer_site=mixer_site,
    )
    try:
        _exec(payload["tests"], tests_namespace)
        if unittest is not None:
            run_cases(tests_namespace)  # cases that unittest.main() did not run
    except _BaseException as error:  # noqa: B036
        finish("the tests", error)
    finish("the tests")


if __name__ == "mixer_harness":  # run by MAIN, not when the builder imports this module
    _mixer_harness(globals().pop("_mixer_payload"))
