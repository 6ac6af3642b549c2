"""Trainer throughput: `mixer train` on a build, tokens/s, MFU, the data loader's share of a step, peak GPU
memory, and what evaluation and checkpoints cost at the recipe's intervals.

Runs the real command (a fresh run folder each time) and reads its `metrics.jsonl`; the first `--warmup`
steps are left out of the medians (allocator warm-up, and on a GPU compilation), and so are profiled steps.
On a CPU the tiny preset is the CI-visible baseline; on a GPU pass `--model 125m` or `--model 470m` and
`--device cuda` with a recipe at seq_len 2048 (`make train-gpu` runs both). Any option it does not know
(`--set KEY=VALUE`, ...) goes to `mixer train` as it is.

    python -m bench.train [--recipe recipes/demo.yaml] [--model tiny] [--steps 30] [--repeats 3]
    python -m bench.train --recipe recipes/train-gpu.yaml --model 470m --steps 30 --warmup 10 --repeats 1 \\
        --device cuda --profile-step 30 --costs

`--costs` keeps the evaluation at the start and the end of the run at the recipe's `eval_tokens`, and the
final checkpoint, and reports each as a share of the training time between two of them at the recipe's
`eval_interval` and `checkpoint_interval`. `--profile-step N` profiles step N with torch.profiler and prints
the ops and kernels that took the most device time. `--json FILE` appends one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "train"
NEVER = "1000000000"  # an interval no bench run reaches


def run_once(
    recipe: Path,
    model: str,
    steps: int,
    warmup: int,
    device: str | None,
    extra: list[str],
    *,
    out: Path = OUT,
    shards: Path | None = None,
    costs: bool = False,
    profile_step: int | None = None,
    show_output: bool = False,
) -> dict[str, Any]:
    """One `mixer train` run of `steps` steps; its medians over the steps after `warmup`, and its costs."""
    from mixer.trainer.logs import read_metrics

    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "mixer.cli", "train", str(recipe), "--phase", "pretrain", "--model", model]
    cmd += ["--out", str(out), "--max-steps", str(steps), "--set", f"eval_interval={NEVER}"]
    cmd += ["--set", f"checkpoint_interval={NEVER}", "--set", f"log_interval={max(1, steps // 5)}"]
    if not costs:  # one evaluation window per source at the start and the end, and no checkpoint
        cmd += ["--set", "eval_tokens=1", "--set", "save_checkpoints=false"]
    if profile_step is not None:
        cmd += ["--set", f"profile_at={profile_step}", "--set", "profile_steps=1"]
    if shards is not None:
        cmd += ["--shards", str(shards)]
    if device:
        cmd += ["--device", device]
    cmd += extra
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=None if show_output else subprocess.DEVNULL)
    records = read_metrics(out / "pretrain" / "metrics.jsonl")
    result = summarize(records, model, warmup)
    if costs:
        result.update(_costs(recipe, records, result["step_s"], extra))
    profile = out / "pretrain" / "profile" / "top-rank0.json"
    if profile_step is not None and profile.is_file():
        profiled = next(r for r in records if r["event"] == "step" and r.get("profiled"))
        result["profile"] = {"step_s": profiled["step_s"], "top": json.loads(profile.read_text())}
        result["profile_table"] = str(profile.with_suffix(".txt"))
    return result


def summarize(records: list[dict[str, Any]], model: str, warmup: int) -> dict[str, Any]:
    """The medians of a run's logged steps after the first `warmup` (profiled steps left out)."""
    all_steps = [r for r in records if r["event"] == "step"]
    rows = [r for r in all_steps[warmup:] if not r.get("profiled")]
    if not rows:
        raise SystemExit(f"bench.train: no step left after --warmup {warmup} of {len(all_steps)} steps")
    return {
        "model": model,
        "steps": len(all_steps),
        "measured_steps": len(rows),
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows),
        "step_s": statistics.median(r["step_s"] for r in rows),
        "data_share": statistics.median(r["data_share"] for r in rows),
        "mfu": statistics.median(r["mfu"] for r in rows) if "mfu" in rows[0] else None,
        "first_step_s": all_steps[0]["step_s"],  # with compilation, on a GPU
        "max_memory_gib": max((r.get("max_memory_gib", 0.0) for r in all_steps), default=0.0) or None,
        "loss": [all_steps[0]["loss"], all_steps[-1]["loss"]],
    }


def _costs(recipe: Path, records: list[dict], step_s: float, extra: list[str]) -> dict[str, Any]:
    """The last evaluation's and the final checkpoint's seconds, as shares of the training time between two
    of them at the recipe's intervals (`--set` overrides of the intervals given to this bench count)."""
    from mixer.recipe import load_recipe
    from mixer.trainer.settings import parse_overrides, resolve_settings

    sets = [extra[i + 1] for i, a in enumerate(extra[:-1]) if a == "--set"]
    overrides = {
        k: v for k, v in parse_overrides(sets).items() if k in ("eval_interval", "checkpoint_interval")
    }
    settings = resolve_settings(load_recipe(recipe), "pretrain", overrides=overrides)
    evals = [r for r in records if r["event"] == "eval"]
    saves = [r for r in records if r["event"] == "checkpoint"]
    out: dict[str, Any] = {
        "eval_interval": settings.eval_interval,
        "checkpoint_interval": settings.checkpoint_interval,
    }
    if evals:
        seconds = evals[-1]["seconds"]  # the first one also warms up the eager kernels
        out["eval_s"] = seconds
        out["eval_tokens"] = sum(s["tokens"] for s in evals[-1]["sources"].values())
        out["eval_share"] = seconds / (seconds + settings.eval_interval * step_s)
    if saves:
        seconds = saves[-1]["seconds"]
        out["checkpoint_s"] = seconds
        out["checkpoint_share"] = seconds / (seconds + settings.checkpoint_interval * step_s)
    return out


def print_runs(runs: list[dict[str, Any]], title: str) -> None:
    from mixer.report.console import format_table

    rows = [
        [
            r.get("label", r["model"]),
            f"{r['tokens_per_s']:,.0f}",
            f"{r['mfu']:.1%}" if r["mfu"] is not None else "-",
            f"{r['step_s']:.3f}",
            f"{r['data_share']:.3%}",
            f"{r['max_memory_gib']:.1f}" if r["max_memory_gib"] else "-",
            f"{r['first_step_s']:.1f}",
        ]
        for r in runs
    ]
    print(title)
    print(format_table(["run", "tokens/s", "MFU", "step s", "data share", "peak GiB", "step 1 s"], rows))
    for r in runs:
        if "eval_s" in r:
            print(
                f"{r.get('label', r['model'])}: validation pass {r['eval_s']:.2f} s ({r['eval_tokens']:,} tokens) = "
                f"{r['eval_share']:.2%} of training at eval_interval {r['eval_interval']}"
            )
        if "checkpoint_s" in r:
            print(
                f"{r.get('label', r['model'])}: checkpoint save {r['checkpoint_s']:.2f} s = "
                f"{r['checkpoint_share']:.2%} of training at checkpoint_interval {r['checkpoint_interval']}"
            )
        if "profile" in r:
            print_profile(r)


def print_profile(r: dict[str, Any], rows: int = 15) -> None:
    from mixer.report.console import format_table

    step_ms = r["profile"]["step_s"] * 1e3
    top = r["profile"]["top"][:rows]
    on_device = any(t["self_device_ms"] > 0 for t in top)
    key = "self_device_ms" if on_device else "self_cpu_ms"
    table = [[t["name"][:90], str(t["calls"]), f"{t[key]:.1f}", f"{t[key] / step_ms:.1%}"] for t in top]
    where = "device (CUDA)" if on_device else "CPU"
    print(
        f"\n{r.get('label', r['model'])}: top ops and kernels by self {where} time in one profiled step "
        f"({step_ms:,.0f} ms); full table {r['profile_table']}"
    )
    print(format_table(["op / kernel", "calls", "ms", "of step"], table))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "demo.yaml")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="Steps left out of the medians.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device")
    parser.add_argument("--shards", type=Path, help="The build's output folder [shards/<recipe name>].")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Run folder, emptied first [{OUT}].")
    parser.add_argument("--label", help="Name of the run in the tables and the JSON line.")
    parser.add_argument(
        "--costs", action="store_true", help="Time the validation pass and the final checkpoint save too."
    )
    parser.add_argument("--profile-step", type=int, help="Profile this step (1-based) with torch.profiler.")
    parser.add_argument("--json", type=Path, help="Append one JSON line per run to this file.")
    parser.add_argument("--show-output", action="store_true", help="Show mixer train's progress lines.")
    args, extra = parser.parse_known_args(argv)
    if args.profile_step is not None and not 0 < args.profile_step <= args.steps:
        parser.error(f"--profile-step must be a step of the run (1..{args.steps})")
    shards = args.shards
    if shards is None:
        from mixer.recipe import load_recipe

        shards = ROOT / "shards" / load_recipe(args.recipe).name
        if not (shards / "manifest.json").is_file():
            subprocess.run(
                [sys.executable, "-m", "mixer.cli", "build", str(args.recipe)], check=True, cwd=ROOT
            )
    runs = []
    for _ in range(args.repeats):
        run = run_once(
            args.recipe,
            args.model,
            args.steps,
            args.warmup,
            args.device,
            extra,
            out=args.out,
            shards=shards,
            costs=args.costs,
            profile_step=args.profile_step,
            show_output=args.show_output,
        )
        run["kind"] = "run"
        run["label"] = args.label or args.model
        run["settings"] = [extra[i + 1] for i, a in enumerate(extra[:-1]) if a == "--set"]
        runs.append(run)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(run) + "\n")
    best = sorted(runs, key=lambda r: r["tokens_per_s"])[len(runs) // 2]  # the median run
    print_runs(
        runs,
        f"\ntrainer throughput ({args.recipe.name}, {args.steps} steps, median over steps "
        f"{args.warmup + 1}+{', profiled step left out' if args.profile_step else ''})",
    )
    print(f"median run: {best['tokens_per_s']:,.0f} tokens/s")
    return runs


if __name__ == "__main__":
    main()
