"""The full quality pipeline — filters, exact and near-duplicate removal, tokenize — in mixer vs datatrove's
defaults.

Same documents (~11 MB: up to a third each of 24 MB from the sample corpus's web, notes and pydoc parts;
the notes hold less), in 4 gzip JSONL files; same tokenizer; 2 worker processes on each side; the same
four filters with their default parameters: Gopher repetition, Gopher quality, C4 quality, FineWeb
quality; then exact duplicate removal (a hash of datatrove's ``simplify_text``), MinHash near-duplicate
removal (5-grams, 14 x 8) and tokenization.

- **datatrove**, built the way its examples build it: (1) reader -> filters -> JsonlWriter, (2) exact
  signatures, (3) exact duplicates, (4) reader -> ExactDedupFilter -> JsonlWriter, (5) MinHash
  signatures, (6) buckets, (7) clusters, (8) reader -> MinhashDedupFilter -> JsonlWriter ->
  DocumentTokenizer; English words split by spaCy (its default).
- **mixer**: one `mixer build` with the filters as quality steps and `dedup: {exact: true, near:
  {threshold: null}}` (LSH candidates only, as datatrove), so the two make the same kind of decisions.

Agreement: the share of documents both pipelines keep or both drop (filtered or deduplicated), and the
same for the filters alone. Where two documents are duplicates, mixer keeps the one in the lowest file
(then the earliest), datatrove may keep the other: both remove one, which counts as two disagreements.

Corpora: ``--corpus sample`` (the default, above) or ``--corpus other-prose``: ~11 MB of prose the project
has never seen (man pages and /usr/share/doc, ``bench/corpus.py``), in 4 files; each corpus gets its own
8,192-id tokenizer trained on it.

    python -m bench.pipeline --corpus other-prose --repeats 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "pipeline"
SAMPLE = ROOT / "data" / "sample"
BUDGET = 24_000_000
FILES = 4
OTHER_PROSE_BYTES = 11_000_000
CORPORA = {
    "sample": "the sample corpus's web, notes and pydoc",
    "other-prose": "man pages and /usr/share/doc (bench/corpus.py)",
}


def sample_texts() -> list[str]:
    """~BUDGET bytes, a third each from the sample's web, notes and pydoc parts, in file order."""
    import pyarrow.parquet as pq

    parts = [
        (
            json.loads(line)["text"]
            for f in sorted(SAMPLE.glob("web/*.jsonl.gz"))
            for line in gzip.open(f, "rt")
        ),
        (p.read_text(errors="replace") for p in sorted(SAMPLE.glob("notes/**/*")) if p.is_file()),
        (
            t
            for f in sorted(SAMPLE.glob("pydoc/*.parquet"))
            for t in pq.read_table(f, columns=["text"])["text"].to_pylist()
        ),
    ]
    texts = []
    for part in parts:
        size = 0
        for t in part:
            if t.strip():
                texts.append(t)
                size += len(t.encode())
            if size >= BUDGET // len(parts):
                break
    return texts


def inputs(corpus: str = "sample") -> tuple[Path, list[str], int]:
    """The input folder (``FILES`` gzip JSONL files), every document's id, and the text's bytes."""
    if corpus == "other-prose":
        from bench.corpus import corpus_files, other_prose

        data = other_prose(OTHER_PROSE_BYTES, FILES)
        ids = [json.loads(line)["id"] for f in corpus_files(data) for line in gzip.open(f, "rt")]
        return data, ids, json.loads((data / "corpus.json").read_text())["bytes"]
    data = OUT / "input"
    texts = sample_texts()
    if not (data / "done").is_file() or (data / "done").read_text() != str(BUDGET):
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        outs = [gzip.open(data / f"{k}.jsonl.gz", "wt") for k in range(FILES)]
        for i, t in enumerate(texts):
            outs[i % FILES].write(json.dumps({"id": f"d{i}", "text": t}) + "\n")
        for f in outs:
            f.close()
        (data / "done").write_text(str(BUDGET))
    return data, [f"d{i}" for i in range(len(texts))], sum(len(t.encode()) for t in texts)


def tokenizer(data: Path, corpus: str = "sample") -> Path:
    """An 8,192-id byte-level BPE trained on ``data``, cached per corpus."""
    path = OUT / ("tokenizer" if corpus == "sample" else f"tokenizer-{corpus}") / "tokenizer.json"
    if not path.is_file():
        from mixer.build.tokenizer_setup import sample_texts
        from mixer.shards.tokenizer import train_bpe
        from mixer.sources import JsonlSource

        src = JsonlSource(paths=[str(data / "*.jsonl.gz")])
        path.parent.mkdir(parents=True, exist_ok=True)
        train_bpe(
            sample_texts([("bench", src, src.resolve("bench").files)], 1_000_000),
            vocab_size=8192,
            out_path=path,
        )
    return path


def simplified_text(doc) -> str:
    """What both pipelines hash for exact duplicates: datatrove's simplify_text with its defaults."""
    from datatrove.utils.text import simplify_text

    return simplify_text(doc.text)


def run_datatrove(data: Path, tok: Path) -> tuple[float, set[str], set[str]]:
    """Seconds, the ids kept at the end, the ids the filters kept."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    from mixer.build.engine import quiet_datatrove_console

    quiet_datatrove_console()
    out = OUT / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    config = MinhashConfig(hash_config=HashConfig(precision=64))
    exact = ExactDedupConfig(content_getter=simplified_text)

    def run(pipeline, tasks, name):
        LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=min(2, tasks), logging_dir=str(out / "logs" / name)
        ).run()

    started = time.perf_counter()
    run(
        [
            JsonlReader(str(data), glob_pattern="*.jsonl.gz"),
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            JsonlWriter(str(out / "filtered")),
        ],
        FILES,
        "filter",
    )
    run([JsonlReader(str(out / "filtered")), ExactDedupSignature(str(out / "esigs"), exact)], FILES, "esigs")
    run([ExactFindDedups(str(out / "esigs"), str(out / "edups"), exact)], 1, "edups")
    run(
        [
            JsonlReader(str(out / "filtered")),
            ExactDedupFilter(str(out / "edups"), exact),
            JsonlWriter(str(out / "exact")),
        ],
        FILES,
        "exact",
    )
    run(
        [JsonlReader(str(out / "exact")), MinhashDedupSignature(str(out / "sigs"), config=config)],
        FILES,
        "sigs",
    )
    run(
        [MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=config)],
        config.num_buckets,
        "buckets",
    )
    run([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=config)], 1, "cluster")
    run(
        [
            JsonlReader(str(out / "exact")),
            MinhashDedupFilter(str(out / "remove")),
            JsonlWriter(str(out / "final")),
            DocumentTokenizer(
                str(out / "tokens"), tokenizer_name_or_path=str(tok), eos_token="<|endoftext|>"
            ),
        ],
        FILES,
        "final",
    )
    seconds = time.perf_counter() - started

    def ids_in(folder: str) -> set[str]:
        return {
            json.loads(line)["id"] for f in (out / folder).glob("*.jsonl.gz") for line in gzip.open(f, "rt")
        }

    return seconds, ids_in("final"), ids_in("filtered")


def run_mixer(data: Path, tok: Path, ids: list[str]) -> tuple[float, set[str], set[str]]:
    """Seconds, the ids kept at the end, the ids the filters kept."""
    from mixer.build import BuildOptions, plan_build, run_build
    from mixer.recipe import parse_recipe

    out = OUT / "mixer"
    shutil.rmtree(out, ignore_errors=True)
    recipe = parse_recipe(
        {
            "name": "pipeline-bench",
            "tokenizer": {"path": str(tok)},
            "build": {"keep_rejected": True},
            "executor": {"workers": 2},
            "holdout": {"fraction": 0},
            "dedup": {"exact": True, "near": {"threshold": None}},
            "sources": {
                "web": {
                    "type": "jsonl",
                    "paths": [str(data / "*.jsonl.gz")],
                    "filters": ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"],
                }
            },
        }
    )
    started = time.perf_counter()
    run_build(plan_build(recipe, "bench", out), BuildOptions(echo=lambda _: None))
    seconds = time.perf_counter() - started
    rejected = [
        json.loads(line) for f in (out / "rejected" / "web").glob("*.jsonl.gz") for line in gzip.open(f, "rt")
    ]
    filtered = {r["id"] for r in rejected if r["step"] != "dedup"}
    return seconds, set(ids) - {r["id"] for r in rejected}, set(ids) - filtered


def main(repeats: int = 3, corpus: str = "sample") -> dict:
    from mixer.report.console import format_table

    data, ids, size = inputs(corpus)
    if len(set(ids)) != len(ids):  # the agreement counts documents by id
        raise SystemExit(f"{data}: document ids are not unique")
    tok = tokenizer(data, corpus)
    mixer_runs, datatrove_runs = [], []
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        mixer_runs.append(run_mixer(data, tok, ids))
        datatrove_runs.append(run_datatrove(data, tok))
    (_, m_kept, m_passed), (_, d_kept, d_passed) = mixer_runs[0], datatrove_runs[0]
    agree = sum((i in m_kept) == (i in d_kept) for i in ids) / len(ids)
    filters_agree = sum((i in m_passed) == (i in d_passed) for i in ids) / len(ids)
    m_s = statistics.median(r[0] for r in mixer_runs)
    d_s = statistics.median(r[0] for r in datatrove_runs)
    print(
        f"\nfull quality pipeline on {CORPORA[corpus]} ({len(ids):,} documents, {size / 1e6:.1f} MB, "
        f"2 workers, median of {repeats})"
    )
    print(
        format_table(
            ["pipeline", "seconds", "MB/s", "kept"],
            [
                ["datatrove defaults", f"{d_s:.1f}", f"{size / 1e6 / d_s:.3f}", f"{len(d_kept):,}"],
                ["mixer", f"{m_s:.1f}", f"{size / 1e6 / m_s:.3f}", f"{len(m_kept):,}"],
            ],
        )
    )
    print(
        f"mixer / datatrove throughput: {d_s / m_s:.2f}x (runs: mixer "
        f"{', '.join(f'{r[0]:.1f}' for r in mixer_runs)} s, datatrove "
        f"{', '.join(f'{r[0]:.1f}' for r in datatrove_runs)} s); keep/drop agreement {agree:.4f} "
        f"(the filters alone: {filters_agree:.4f}; the rest is which copy of a duplicate each keeps)"
    )
    return {
        "mixer_s": m_s,
        "datatrove_s": d_s,
        "speedup": d_s / m_s,
        "agreement": agree,
        "filters_agreement": filters_agree,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description="The full quality pipeline: mixer build vs datatrove's defaults.",
        epilog="Example: python -m bench.pipeline --corpus other-prose --repeats 1",
    )
    parser.add_argument("--corpus", choices=list(CORPORA), default="sample")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each pipeline, interleaved (median)")
    args = parser.parse_args()
    main(args.repeats, args.corpus)
