"""Tokenization throughput: the bare backends, datatrove's DocumentTokenizer pipeline, and `mixer build`.

All three run on the same documents with the same GPT-2-style byte-level BPE (50,257 ids, trained once on
the sample and cached), using the same number of processes. Each variant runs in a fresh subprocess so its
peak memory (max RSS of any one process) is its own.

- ``python -m bench.tokenize``: the sample corpus's web and code parts (the tokenizer's own training text);
  throughput measured inside the child process.
- ``python -m bench.tokenize --corpus unseen [--sizes 18M,170M] [--repeats 3]``: text the tokenizer has
  never seen (``bench/corpus.py``: man pages, /usr/share/doc, Python and C sources, half prose and half
  code) at ~18M and ~170M tokens, timed as the child's whole process wall time, from the parent.

Child protocol: ``python -m bench.tokenize VARIANT WORKERS COPIES [CORPUS_FOLDER]`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def child(variant: str, workers: int, copies: int, folder: str | None = None) -> None:
    """Run one variant and print its tokens, in-process seconds and peak RSS as one JSON line.

    ``folder`` is a corpus of ``bench/corpus.py`` (``copies`` is then ignored); without it, the sample's
    documents ``copies`` times.
    """
    if folder is None:
        files = input_files(copies)
    else:
        from bench.corpus import corpus_files

        files = corpus_files(Path(folder))
    if variant in ("tiktoken", "hf"):
        tokens, elapsed = run_bare(variant, workers, files)
    elif variant == "datatrove":
        tokens, elapsed = run_datatrove(workers, files)
    else:
        tokens, elapsed = run_mixer(workers, files)
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {"tokens": tokens, "seconds": elapsed, "peak_rss_mb": max(peak_rss_kb(), rss_children) / 1024}
        )
    )


def peak_rss_kb() -> int:
    """This process's own peak resident set, in KiB.

    Not ``getrusage(RUSAGE_SELF)``: subprocess starts this process with vfork, and Linux then carries the
    parent's peak over into the child's ``ru_maxrss``, so a parent that once held a corpus in memory would
    show up in every variant. ``VmHWM`` counts only the memory of this process's own program.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(variant: str, workers: int, copies: int = 1, folder: Path | None = None) -> dict:
    """One run of ``variant`` in a fresh process: the child's report plus ``wall``, its whole process time."""
    env = dict(os.environ)
    if variant in ("hf", "tiktoken"):  # one thread per process, like a datatrove or mixer worker
        env["TOKENIZERS_PARALLELISM"] = "false"
    if variant == "mixer-first":  # no verdict of the tokenizer check, no tiktoken conversion kept yet
        env["MIXER_CACHE_DIR"] = tempfile.mkdtemp(prefix="mixer-cache-")
        variant = "mixer"
    # the previous run's output goes before the clock starts (a fresh folder: no cached tokenizer verdict)
    shutil.rmtree(OUT / f"run-{variant}", ignore_errors=True)
    args = [sys.executable, "-m", "bench.tokenize", variant, str(workers), str(copies)]
    if folder is not None:
        args.append(str(folder))
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]) | {"wall": wall}


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


# --- text the tokenizer has never seen, timed as whole processes --------------------------------------------

# corpus bytes (half prose, half code) for about this many tokens: the bench's tokenizer makes ~3.75 bytes
# a token of this text (42 MB gave 11.3M tokens), so these sizes match the sample's x1 and x10 runs
SIZES = {"18M": 68_000_000, "170M": 640_000_000}
UNSEEN = ["tiktoken", "datatrove", "mixer-first", "mixer"]
UNSEEN_NAMES = {
    "tiktoken": "bare tiktoken",
    "datatrove": "datatrove JsonlReader + DocumentTokenizer",
    "mixer-first": "mixer build, first with this tokenizer (empty user cache)",
    "mixer": "mixer build",
}


def main_unseen(sizes: tuple[str, ...] = ("18M", "170M"), repeats: int = 3, workers: int = 2) -> dict:
    """datatrove vs ``mixer build`` (and bare tiktoken) on unseen text, by whole-process wall time.

    Every run is a fresh process; variants are interleaved so machine noise hits them alike; each figure
    is the median of ``repeats`` runs. datatrove and mixer must count the same tokens.
    """
    from bench.corpus import prose_and_code
    from mixer.report.console import format_table

    tokenizer_path()
    # built in a process of their own: this one stays small while it times the others
    build = f"from bench.corpus import prose_and_code\nfor size in {[SIZES[s] for s in sizes]}: prose_and_code(size)"
    subprocess.run([sys.executable, "-c", build], cwd=ROOT, check=True)
    folders = {size: prose_and_code(SIZES[size]) for size in sizes}
    results: dict[str, dict[str, list[dict]]] = {}
    rows = []
    for size in sizes:
        runs: dict[str, list[dict]] = {v: [] for v in UNSEEN}
        for _ in range(repeats):
            for v in UNSEEN:
                runs[v].append(measure(v, workers, 1, folders[size]))
                print(f"{size} {v}: {runs[v][-1]['wall']:.1f} s", file=sys.stderr, flush=True)
        results[size] = runs
        counts = {v: {r["tokens"] for r in runs[v]} for v in UNSEEN}
        if len(counts["mixer"] | counts["mixer-first"] | counts["datatrove"]) != 1:
            raise SystemExit(
                f"{size}: token counts differ: mixer {sorted(counts['mixer'])}, "
                f"datatrove {sorted(counts['datatrove'])} ({folders[size]})"
            )
        base = statistics.median(r["wall"] for r in runs["datatrove"])
        for v in UNSEEN:
            tokens = runs[v][0]["tokens"]
            wall = statistics.median(r["wall"] for r in runs[v])
            rows.append(
                [
                    size,
                    UNSEEN_NAMES[v],
                    f"{tokens:,}" + ("" if counts[v] == counts["datatrove"] else " (!)"),
                    f"{wall:.1f}",
                    ", ".join(f"{r['wall']:.1f}" for r in runs[v]),
                    f"{tokens / wall / 1e6:.2f}",
                    f"{base / wall:.2f}x",
                    f"{statistics.median(r['seconds'] for r in runs[v]):.1f}",
                    f"{max(r['peak_rss_mb'] for r in runs[v]):.0f}",
                ]
            )
    print(
        f"\nTokenization of unseen text (bench/corpus.py: man pages, /usr/share/doc, Python and C sources; "
        f"half prose, half code), {workers} processes, median of {repeats}; wall = the whole process, "
        f"timed from the parent; in-process = the child's own timer (bare tiktoken: encoding only, texts "
        f"already in memory)"
    )
    print(
        format_table(
            [
                "size",
                "variant",
                "tokens",
                "median wall s",
                "runs (s)",
                "M tokens/s",
                "vs datatrove",
                "in-process s",
                "peak RSS MB",
            ],
            rows,
        )
    )
    print("(!) marks a token count that differs from datatrove's")
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tokenize",
        description="Tokenization throughput: bare backends, datatrove and mixer build.",
        epilog="Example: python -m bench.tokenize --corpus unseen --sizes 18M --repeats 1",
    )
    parser.add_argument("--corpus", choices=["sample", "unseen"], default="sample")
    parser.add_argument("--sizes", default="18M,170M", help=f"unseen only: some of {', '.join(SIZES)}")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every variant (median)")
    args = parser.parse_args(argv)
    args.sizes = tuple(s.strip() for s in args.sizes.split(",") if s.strip())
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    return args


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and not sys.argv[1].startswith("-"):  # a child run
        child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        args = parse_args(sys.argv[1:])
        if args.corpus == "unseen":
            main_unseen(args.sizes, args.repeats)
        else:
            main(args.repeats)
