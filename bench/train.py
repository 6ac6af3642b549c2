"""Trainer throughput: `mixer train` on the demo build, tokens/s, MFU and the data loader's share of a step.

Runs the real command (a fresh run folder each time) and reads its `metrics.jsonl`; the first steps are
left out (allocator warm-up, and on a GPU compilation). On a CPU the tiny preset is the CI-visible baseline;
on a GPU pass `--model 125m` or `--model 470m` and `--device cuda` with a recipe at seq_len 2048
(`make train-gpu` runs both).

    python -m bench.train [--recipe recipes/demo.yaml] [--model tiny] [--steps 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "train"


def run_once(recipe: Path, model: str, steps: int, warmup: int, device: str | None, extra: list[str]) -> dict:
    from mixer.trainer.logs import read_metrics

    shutil.rmtree(OUT, ignore_errors=True)
    cmd = [sys.executable, "-m", "mixer.cli", "train", str(recipe), "--phase", "pretrain", "--model", model]
    cmd += ["--out", str(OUT), "--max-steps", str(steps), "--set", "eval_interval=1000000"]
    cmd += ["--set", "checkpoint_interval=1000000", "--set", f"log_interval={steps}"]
    if device:
        cmd += ["--device", device]
    subprocess.run(cmd + extra, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    rows = [r for r in read_metrics(OUT / "pretrain" / "metrics.jsonl") if r["event"] == "step"][warmup:]
    return {
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows),
        "data_share": statistics.median(r["data_share"] for r in rows),
        "mfu": statistics.median(r["mfu"] for r in rows) if "mfu" in rows[0] else None,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    from mixer.report.console import format_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "demo.yaml")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="Steps left out of the medians.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device")
    args, extra = parser.parse_known_args(argv)
    from mixer.recipe import load_recipe

    if not (ROOT / "shards" / load_recipe(args.recipe).name / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "mixer.cli", "build", str(args.recipe)], check=True, cwd=ROOT)
    runs = [
        run_once(args.recipe, args.model, args.steps, args.warmup, args.device, extra)
        for _ in range(args.repeats)
    ]
    best = sorted(runs, key=lambda r: r["tokens_per_s"])[len(runs) // 2]  # the median run
    rows = [
        [
            args.model,
            f"{r['tokens_per_s']:,.0f}",
            f"{r['mfu']:.1%}" if r["mfu"] is not None else "-",
            f"{r['data_share']:.2%}",
        ]
        for r in runs
    ]
    print(
        f"\ntrainer throughput ({args.recipe.name}, {args.steps} steps, median over steps {args.warmup + 1}+)"
    )
    print(format_table(["model", "tokens/s", "MFU", "data share"], rows))
    print(f"median run: {best['tokens_per_s']:,.0f} tokens/s")
    return runs


if __name__ == "__main__":
    main()
