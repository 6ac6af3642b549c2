"""Disk footprint of a build: the output's size, the peak while building, and what `work/` keeps after.

A build runs as `mixer build` in a subprocess while this process walks its output folder every 50 ms and
sums the space its files take (allocated blocks, so sparse or hard-linked files are not counted twice).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "footprint"
OUTPUT_PARTS = ("sources", "validation", "phases", "tokenizer", "rejected")


def disk_usage(folder: Path) -> int:
    """Bytes allocated to the files under ``folder`` (each inode once)."""
    seen: set[int] = set()
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # renamed or removed while we walk
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def measure_build(recipe: Path, out: Path, *args: str) -> dict[str, int | float]:
    """Build ``recipe`` into a fresh ``out``; return its output size, peak disk and ``work/`` after."""
    shutil.rmtree(out, ignore_errors=True)
    command = [str(ROOT / ".venv" / "bin" / "mixer"), "build", str(recipe), "-o", str(out), "-q", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, disk_usage(out) if out.exists() else 0)
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"mixer build {recipe} failed:\n{proc.stderr.read()[-3000:]}")
    output = sum(disk_usage(out / part) for part in OUTPUT_PARTS if (out / part).exists())
    total = disk_usage(out)
    return {
        "output": output,
        "sources": disk_usage(out / "sources"),
        "peak": max(peak, total),
        "work": disk_usage(out / "work"),
        "seconds": seconds,
    }


def large_recipe(folder: Path, files: list[str], tokenizer: Path) -> Path:
    """A recipe that only tokenizes ``files`` (no filters, no dedup, one phase)."""
    import json

    recipe = folder / "footprint-large.yaml"
    paths = json.dumps(files)
    recipe.write_text(
        f"name: footprint-large\ntokenizer: {{path: {tokenizer}}}\n"
        f"sources:\n  text: {{type: jsonl, paths: {paths}}}\n"
        "executor: {tasks: 2, workers: 2}\n"
        "phases:\n  pretrain: {tokens: 1000000, seq_len: 2048, weights: {text: 1}}\n"
    )
    return recipe


def main(large: bool = True) -> list[dict]:
    from mixer.report.console import format_table

    rows, results = [], []
    runs = [("demo (`recipes/demo.yaml`)", ROOT / "recipes" / "demo.yaml")]
    if large:
        from bench.corpus import corpus_files, prose_and_code
        from bench.tokenize import SIZES, tokenizer_path

        files = corpus_files(prose_and_code(SIZES["170M"]))
        with tempfile.TemporaryDirectory() as tmp:
            recipe = large_recipe(Path(tmp), [str(f) for f in files], tokenizer_path())
            runs.append(("unseen prose and code (bench/corpus.py), 174M tokens", recipe))
            results = [_measure(name, recipe) for name, recipe in runs]
    else:
        results = [_measure(name, recipe) for name, recipe in runs]
    for r in results:
        rows.append(
            [
                r["name"],
                _mb(r["sources"]),
                _mb(r["output"]),
                _mb(r["peak"]),
                f"{r['peak'] / r['output']:.2f}",
                _mb(r["work"]),
                f"{r['seconds']:.1f}",
            ]
        )
    print("\nDisk footprint of a build (a fresh output folder each; sampled every 50 ms)")
    print(
        format_table(
            ["build", "sources/ MB", "output MB", "peak MB", "peak / output", "work/ after MB", "s"], rows
        )
    )
    return results


def _measure(name: str, recipe: Path) -> dict:
    result = measure_build(recipe, OUT / recipe.stem)
    shutil.rmtree(OUT / recipe.stem, ignore_errors=True)
    return {"name": name, **result}


def _mb(n: int | float) -> str:
    return f"{n / 1e6:.1f}"


if __name__ == "__main__":
    main(large="--demo-only" not in sys.argv)
