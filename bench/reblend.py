"""Re-blending speed: a 100B-token phase over existing source shards (index files only, no tokens).

The shards are synthetic and *sparse*: real ``.idx`` files describing 26B tokens in ~15M documents, and
``.bin`` files of the right length that occupy no disk (the blend never reads tokens). Then ``mix`` is
timed as ``mixer mix`` runs it: holdout selection, per-source shuffled epochs, sample starts, the
largest-deficit interleave, and writing every index file.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "reblend"
SOURCES = {"web": (10_000_000, 2000), "code": (5_000_000, 1300)}  # documents, mean tokens per document


def make_sparse_source(output: Path, name: str, documents: int, mean: int, seed: int) -> int:
    from mixer.shards.format import encode_index

    folder = output / "sources" / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = np.maximum(rng.geometric(1 / mean, size=documents), 2).astype(np.int32)
    (folder / "00000.idx").write_bytes(encode_index(np.uint16, sizes))
    with open(folder / "00000.bin", "wb") as f:
        f.truncate(int(sizes.sum(dtype=np.int64)) * 2)  # sparse: no blocks written
    (folder / "assembled.json").write_text(
        json.dumps(
            {
                "fingerprint": f"bench-{name}",
                "shards": [
                    {"name": "00000", "documents": documents, "tokens": int(sizes.sum(dtype=np.int64))}
                ],
            }
        )
    )
    return int(sizes.sum(dtype=np.int64))


def main(repeats: int = 3) -> dict:
    from mixer.mixing.mix import mix
    from mixer.recipe import parse_recipe
    from mixer.report.console import format_table

    output = OUT / "shards"
    if not (output / "sources" / "code" / "assembled.json").is_file():
        shutil.rmtree(output, ignore_errors=True)
        for i, (name, (docs, mean)) in enumerate(SOURCES.items()):
            make_sparse_source(output, name, docs, mean, i)
    available = {
        n: json.loads((output / "sources" / n / "assembled.json").read_text())["shards"][0]["tokens"]
        for n in SOURCES
    }
    times = []
    for seed in range(repeats):  # a new seed each time: nothing can be reused
        recipe = parse_recipe(
            {
                "name": "reblend",
                "seed": seed,
                "tokenizer": "unused.json",
                "sources": {n: {"type": "jsonl", "paths": ["unused"]} for n in SOURCES},
                "phases": {
                    "pretrain": {
                        "tokens": 100_000_000_000,
                        "seq_len": 2048,
                        "weights": {"web": 3, "code": 1},
                        "max_repetition": 4,
                    }
                },
            }
        )
        start = time.perf_counter()
        manifest = mix(output, recipe, "uint16", echo=lambda s: None)
        times.append(time.perf_counter() - start)
    blend = manifest["phases"]["pretrain"]
    size = sum(f.stat().st_size for f in (output / "phases" / "pretrain").iterdir())
    print(
        f"\nRe-blend of a 100B-token phase ({blend['samples']:,} samples of 2049 tokens) over "
        f"{sum(available.values()) / 1e9:.1f}B tokens in {sum(d for d, _ in SOURCES.values()):,} documents, "
        f"{os.cpu_count()} cores, {repeats} runs"
    )
    rows = [
        [n, f"{available[n] / 1e9:.2f}B", f"{s['samples']:,}", f"{s['repetition']:.2f}", s["epochs_started"]]
        for n, s in blend["sources"].items()
    ]
    print(format_table(["source", "tokens available", "samples", "epochs", "epochs started"], rows))
    print(
        f"median {statistics.median(times):.1f} s (runs: {', '.join(f'{t:.1f}' for t in times)}); "
        f"index files {size / 1e9:.2f} GB"
    )
    return {"median_s": statistics.median(times), "runs": times}


if __name__ == "__main__":
    main()
