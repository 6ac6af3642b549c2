"""Tokenization throughput: the bare backends, datatrove's DocumentTokenizer pipeline, and `mixer build`.

All three run on the same documents (the sample corpus's web and code parts) with the same
GPT-2-style byte-level BPE (trained once on the sample and cached), using the same number of processes.
Each variant runs in a fresh subprocess so its peak memory (max RSS of any one process) is its own.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "tokenize"
SAMPLE = ROOT / "data" / "sample"
INPUTS = ["web/*.jsonl.gz", "code/*.jsonl.zst"]
VOCAB = 50257


def tokenizer_path() -> Path:
    path = OUT / "gpt2-style" / "tokenizer.json"
    if not path.is_file():
        from mixer.build.tokenizer_setup import sample_texts
        from mixer.shards.tokenizer import train_bpe
        from mixer.sources import JsonlSource

        files = JsonlSource(paths=[str(SAMPLE / p) for p in INPUTS]).resolve("bench").files
        src = JsonlSource(paths=[str(SAMPLE / p) for p in INPUTS])
        path.parent.mkdir(parents=True, exist_ok=True)
        train_bpe(sample_texts([("bench", src, files)], 20_000_000), vocab_size=VOCAB, out_path=path)
    return path


def input_files(copies: int) -> list[str]:
    """The sample's web and code documents, dealt round-robin into 16 gzip JSONL files per copy.

    Equal-sized files let every variant spread the work evenly over its processes (mixer and datatrove
    both parallelise by file). ``copies`` repeats the whole set, to grow the input for the memory check.
    """
    import glob
    import gzip

    folder = OUT / f"input-x{copies}"
    if not (folder / "done").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        texts = load_texts(sorted(f for p in INPUTS for f in glob.glob(str(SAMPLE / p))))
        for c in range(copies):
            outs = [gzip.open(folder / f"{c:03d}-{k:02d}.jsonl.gz", "wt", compresslevel=1) for k in range(16)]
            for i, t in enumerate(texts):
                outs[i % 16].write(json.dumps({"id": f"{c}-{i}", "text": t}) + "\n")
            for f in outs:
                f.close()
        (folder / "done").touch()
    return sorted(str(p) for p in folder.glob("*.jsonl.gz"))


def load_texts(files: list[str]) -> list[str]:
    from mixer.readers.jsonl import JsonlSourceReader
    from mixer.sources.base import InputFile

    reader = JsonlSourceReader("bench", [InputFile(f, 0) for f in files])
    return [r["text"] for f in files for _, r in reader.records(f) if isinstance(r, dict)]


# --- variants, each run as `python -m bench.tokenize VARIANT WORKERS COPIES` in its own process -------------


def run_bare(backend: str, workers: int, files: list[str]) -> tuple[int, float]:
    """The encoder alone on in-memory texts, split across ``workers`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    from mixer.shards.tokenizer import load_tokenizer_info

    info = load_tokenizer_info(tokenizer_path(), backend=backend)
    chunks = [files[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        # untimed: read the texts and build the encoder in every worker
        texts_loaded = list(pool.map(_bare_load, chunks, [info] * workers))
        start = time.perf_counter()
        tokens = sum(pool.map(_bare_encode, [info] * workers, range(workers)))
        elapsed = time.perf_counter() - start
    del texts_loaded
    return tokens, elapsed


_TEXTS: list[str] = []


def _bare_load(files: list[str], info) -> int:
    from mixer.shards.tokenizer import Encoder

    _TEXTS[:] = load_texts(files)
    Encoder(info).encode_with_eos(_TEXTS[:1])  # loads and caches the backend in this process
    return len(_TEXTS)


def _bare_encode(info, _rank: int) -> int:
    from mixer.shards.tokenizer import Encoder

    encoder = Encoder(info)
    tokens = 0
    batch, size = [], 0
    for t in _TEXTS:
        batch.append(t)
        size += len(t)
        if size >= 4_000_000:
            tokens += len(encoder.encode_with_eos(batch)[0])
            batch, size = [], 0
    if batch:
        tokens += len(encoder.encode_with_eos(batch)[0])
    return tokens


def run_datatrove(workers: int, files: list[str]) -> tuple[int, float]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    from mixer.build.engine import quiet_datatrove_console

    quiet_datatrove_console()
    out = OUT / "run-datatrove"
    shutil.rmtree(out, ignore_errors=True)
    paths_file = OUT / "paths.txt"
    paths_file.write_text("\n".join(os.path.relpath(f, "/") for f in files) + "\n")
    pipeline = [
        JsonlReader("/", paths_file=str(paths_file)),
        DocumentTokenizer(
            output_folder=str(out / "tokens"),
            tokenizer_name_or_path=str(tokenizer_path()),
            eos_token="<|endoftext|>",
            shuffle_documents=False,  # mixer does not shuffle at build time either
        ),
    ]
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline, tasks=workers, workers=workers, logging_dir=str(out / "logs")).run()
    elapsed = time.perf_counter() - start
    tokens = 0
    for stats in (out / "logs" / "stats").glob("*.json"):
        for step in json.loads(stats.read_text()):
            if "tokens" in step.get("stats", {}):
                tokens += step["stats"]["tokens"]["total"]
    return tokens, elapsed


def run_mixer(workers: int, files: list[str]) -> tuple[int, float]:
    from mixer.build import BuildOptions, plan_build, run_build
    from mixer.recipe import parse_recipe

    out = OUT / "run-mixer"
    shutil.rmtree(out, ignore_errors=True)
    recipe = parse_recipe(
        {
            "name": "bench",
            "tokenizer": {"path": str(tokenizer_path())},
            "sources": {"text": {"type": "jsonl", "paths": files}},
            "executor": {"tasks": workers, "workers": workers},
        }
    )
    plan = plan_build(recipe, "<bench>", out)
    start = time.perf_counter()
    manifest = run_build(plan, BuildOptions(echo=lambda s: None))
    elapsed = time.perf_counter() - start
    return manifest["totals"]["tokens"], elapsed


def child(variant: str, workers: int, copies: int) -> None:
    files = input_files(copies)
    if variant in ("tiktoken", "hf"):
        tokens, elapsed = run_bare(variant, workers, files)
    elif variant == "datatrove":
        tokens, elapsed = run_datatrove(workers, files)
    else:
        tokens, elapsed = run_mixer(workers, files)
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps({"tokens": tokens, "seconds": elapsed, "peak_rss_mb": max(rss_self, rss_children) / 1024})
    )


def measure(variant: str, workers: int, copies: int = 1) -> dict:
    env = dict(os.environ)
    if variant in ("hf", "tiktoken"):  # one thread per process, like a datatrove or mixer worker
        env["TOKENIZERS_PARALLELISM"] = "false"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.tokenize", variant, str(workers), str(copies)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(repeats: int = 3, workers: int = 2, copies: int = 3) -> list[dict]:
    from mixer.report.console import format_table

    tokenizer_path()
    input_files(copies)
    results = {}
    order = ["tiktoken", "hf", "datatrove", "mixer"]
    runs: dict[str, list[dict]] = {v: [] for v in order}
    for _ in range(repeats):  # interleaved, so machine noise hits every variant alike
        for v in order:
            runs[v].append(measure(v, workers, copies))
    for v in order:
        rates = [r["tokens"] / r["seconds"] for r in runs[v]]
        results[v] = {
            "tokens": runs[v][0]["tokens"],
            "rate": statistics.median(rates),
            "rss": statistics.median(r["peak_rss_mb"] for r in runs[v]),
        }
    names = {
        "tiktoken": "bare tiktoken (mixer's backend)",
        "hf": "bare HF tokenizers",
        "datatrove": "datatrove JsonlReader + DocumentTokenizer",
        "mixer": "mixer build",
    }
    rows = [
        [
            names[v],
            f"{results[v]['tokens']:,}",
            f"{results[v]['rate'] / 1e6:.2f}",
            f"{results[v]['rate'] / results['datatrove']['rate']:.2f}x",
            f"{results[v]['rss']:.0f}",
        ]
        for v in order
    ]
    print(
        f"\nTokenization of the sample's web+code text x{copies}, {workers} processes, "
        f"median of {repeats} runs, vocab {VOCAB}; end to end (process start, tokenizer checks included)"
    )
    print(format_table(["variant", "tokens", "M tokens/s", "vs datatrove", "peak RSS MB"], rows))
    print(f"mixer build / its bare backend: {results['mixer']['rate'] / results['tiktoken']['rate']:.0%}")

    grow = [measure("mixer", workers, 1), measure("mixer", workers, 10)]
    print("\nmixer build peak memory as input grows")
    print(
        format_table(
            ["input", "tokens", "M tokens/s", "peak RSS MB"],
            [
                [
                    f"{c}x",
                    f"{g['tokens']:,}",
                    f"{g['tokens'] / g['seconds'] / 1e6:.2f}",
                    f"{g['peak_rss_mb']:.0f}",
                ]
                for c, g in zip((1, 10), grow, strict=False)
            ],
        )
    )
    return [results, grow]


if __name__ == "__main__":
    if len(sys.argv) == 4:
        child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
