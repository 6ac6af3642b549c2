"""Near-duplicate detection: recall and precision on planted near-duplicates of known Jaccard similarity.

A synthetic corpus: base documents of 400 words drawn from a vocabulary of ~20,000 random lowercase words, and for each base
variants that replace k of its words at random positions, so that the Jaccard similarity of their word
5-gram sets (datatrove's shingles: normalised text, 5-grams of words) spans 0.5–1.0; plus unrelated
documents. The true similarity of every variant to its base is computed exactly from the shingle sets.
The corpus goes through a real `mixer build` with `dedup:` (defaults: 14 bands x 8 rows, threshold 0.8,
exact dedup on) and `build.keep_rejected`, and every removal is read back with the document it duplicates.

- recall at J >= 0.85: share of (base, variant) pairs with true similarity >= 0.85 that end up in one
  cluster, with one survivor for both (which one is kept is the priority rule's choice);
- precision: share of removed documents whose declared duplicate comes from their own planted group (a
  removal that joins unrelated documents is wrong);
- docs/s: documents through the dedup stage (signatures, candidate pairs, clusters) per second.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "dedup"
BASES, VARIANTS_PER_BASE, SINGLES, WORDS = 1000, 4, 2000, 400


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    from datatrove.utils.text import simplify_text

    from mixer.filters.english_words import FastEnglishSplitter

    words = FastEnglishSplitter().word_tokenize(simplify_text(text))
    return {tuple(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def make_corpus(folder: Path) -> dict[str, tuple[str, float]]:
    """Write the corpus; return variant id -> (base id, true Jaccard)."""
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    # letters only: datatrove's normalisation folds digits, which would make every word alike
    vocab = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(20_000)})
    records, truth = [], {}
    for b in range(BASES):
        base = [rng.choice(vocab) for _ in range(WORDS)]
        base_id = f"base{b}"
        records.append({"id": base_id, "text": " ".join(base)})
        for v in range(VARIANTS_PER_BASE):
            k = rng.choice([1, 2, 3, 5, 8, 12, 18, 25, 35])  # replaced words: similarity ~0.98 .. ~0.5
            words = list(base)
            for p in rng.sample(range(WORDS), k):
                words[p] = rng.choice(vocab)
            vid = f"var{b}_{v}"
            text = " ".join(words)
            records.append({"id": vid, "text": text})
            truth[vid] = (base_id, jaccard(records[-1]["text"], " ".join(base)))
    for s in range(SINGLES):
        records.append({"id": f"single{s}", "text": " ".join(rng.choice(vocab) for _ in range(WORDS))})
    rng.shuffle(records)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = len(records) // 8 + 1
    for i in range(8):
        with gzip.open(folder / f"{i}.jsonl.gz", "wt") as f:
            for r in records[i * per_file : (i + 1) * per_file]:
                f.write(json.dumps(r) + "\n")
    return truth


def run(truth: dict, data: Path) -> dict:
    from mixer.build import BuildOptions, plan_build, run_build
    from mixer.recipe import parse_recipe

    out = OUT / "shards"
    shutil.rmtree(out, ignore_errors=True)
    recipe = parse_recipe(
        {
            "name": "dedup-bench",
            "tokenizer": {"train": {"vocab_size": 300, "sample_bytes": 200_000}},
            "build": {"keep_rejected": True},
            "holdout": {"fraction": 0},
            "dedup": {},
            "sources": {"docs": {"type": "jsonl", "paths": [str(data / "*.jsonl.gz")]}},
        }
    )
    lines: list[str] = []
    run_build(plan_build(recipe, "bench", out), BuildOptions(echo=lines.append))
    seconds = next(
        float(line.rsplit("(", 1)[1].rstrip("s)"))
        for line in lines
        if line.startswith("dedup: ") and "duplicates (" in line
    )
    texts = {}
    for f in sorted(data.glob("*.jsonl.gz")):
        for line in gzip.open(f, "rt"):
            r = json.loads(line)
            texts[r["id"]] = r["text"]
    removed = {}
    for f in sorted((out / "rejected" / "docs").glob("*.jsonl.gz")):
        for line in gzip.open(f, "rt"):
            r = json.loads(line)
            removed[r["id"]] = r["duplicate_of"].split(":", 1)[1]
    def kept(doc_id: str) -> str:  # the survivor of a document's cluster (a removal names it directly)
        return removed.get(doc_id, doc_id)

    # a planted pair is found when base and variant end up in one cluster (one survivor for both)
    should = [(v, base) for v, (base, j) in truth.items() if j >= 0.85]
    recall = sum(kept(v) == kept(base) for v, base in should) / len(should)
    group = {v: base for v, (base, _) in truth.items()} | {base: base for base, _ in truth.values()}
    # a removal is right when the document it duplicates comes from the same planted group
    correct = sum(d in group and group.get(of) == group[d] for d, of in removed.items())
    buckets = {}
    for v, (_, j) in truth.items():
        lo = min(int(j * 10) / 10, 0.9)
        hit, n = buckets.get(lo, (0, 0))
        buckets[lo] = (hit + (kept(v) == kept(truth[v][0])), n + 1)
    return {
        "documents": len(texts),
        "removed": len(removed),
        "recall": recall,
        "precision": correct / len(removed) if removed else 1.0,
        "docs_per_s": len(texts) / seconds,
        "seconds": seconds,
        "by_similarity": {f"{lo:.1f}-{lo + 0.1:.1f}": hit / n for lo, (hit, n) in sorted(buckets.items())},
    }


def main(repeats: int = 3) -> dict:
    from mixer.report.console import format_table

    data = OUT / "data"
    shutil.rmtree(data, ignore_errors=True)
    truth = make_corpus(data)
    runs = [run(truth, data) for _ in range(repeats)]
    speed = statistics.median(r["docs_per_s"] for r in runs)
    r = runs[0]  # the decisions are deterministic: every run removes the same documents
    print(f"\nnear-duplicate detection ({r['documents']:,} documents, {len(truth):,} planted variants)")
    print(
        format_table(
            ["recall at J>=0.85", "precision", "removed", "dedup docs/s (median)"],
            [[f"{r['recall']:.4f}", f"{r['precision']:.4f}", f"{r['removed']:,}", f"{speed:,.0f}"]],
        )
    )
    print(
        format_table(
            ["true Jaccard", "pairs found"], [[k, f"{v:.3f}"] for k, v in r["by_similarity"].items()]
        )
    )
    return {**r, "docs_per_s": speed}


if __name__ == "__main__":
    main()
