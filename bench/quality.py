"""The English text filters with the fast word splitter vs spaCy: same keep/drop decisions, how much faster.

Input: the sample corpus's prose, all of it: ``web/*.jsonl.gz`` (field ``text``), ``pydoc/*.parquet``
(column ``text``) and the ``notes/`` text files. Each of Gopher quality, Gopher repetition, C4 quality and
FineWeb quality (mixer's wrappers, default parameters) runs over every document in this one process with
``word_splitter: fast`` (three times, fresh filter each time, median) and with ``word_splitter: spacy``
(once: spaCy splits ~0.2 MB/s, so this run takes minutes). So does the chain gopher_quality ->
gopher_repetition -> c4_quality -> fineweb_quality, where a document is kept only if every step keeps it
and C4 passes on the text it rewrote, as in a pipeline. Agreement is the share of documents on which the
two splitters make the same keep/drop decision; the documents they disagree on are listed.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from pathlib import Path

from datatrove.data import Document

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
FILTERS = ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"]


def sample_documents() -> list[tuple[str, str]]:
    """(id, text) of every non-empty web, pydoc and notes document of the sample corpus, in file order."""
    import pyarrow.parquet as pq

    if not (SAMPLE / "web").is_dir():
        raise SystemExit(f"{SAMPLE} has no sample corpus; create it with: mixer sample-corpus data/sample")
    docs = []
    for path in sorted(SAMPLE.glob("web/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            docs += [(f"web/{r['id']}", r["text"]) for r in map(json.loads, f)]
    for path in sorted(SAMPLE.glob("pydoc/*.parquet")):
        table = pq.read_table(path, columns=["id", "text"]).to_pydict()
        docs += [(f"pydoc/{i}", t) for i, t in zip(table["id"], table["text"], strict=True)]
    for path in sorted(p for p in SAMPLE.glob("notes/**/*") if p.is_file()):
        docs.append((f"notes/{path.relative_to(SAMPLE / 'notes')}", path.read_text(errors="replace")))
    return [(i, t) for i, t in docs if t.strip()]


def make_steps(name: str, splitter: str) -> list:
    from mixer.filters.text import C4Quality, FineWebQuality, GopherQuality, GopherRepetition

    classes = {
        "gopher_quality": GopherQuality,
        "gopher_repetition": GopherRepetition,
        "c4_quality": C4Quality,
        "fineweb_quality": FineWebQuality,
    }
    names = FILTERS if name == "chain" else [name]
    return [(n, classes[n](word_splitter=splitter)) for n in names]


def run(name: str, splitter: str, docs: list[tuple[str, str]]) -> tuple[float, list[str]]:
    """Seconds for one pass, and per document "kept" or the step and reason that dropped it."""
    from mixer.filters.english_words import FastEnglishSplitter

    FastEnglishSplitter.clear_cache()  # every run starts with no chunk split yet
    steps = make_steps(name, splitter)
    batch = [Document(text=t, id=i) for i, t in docs]
    outcomes = []
    start = time.perf_counter()
    for doc in batch:
        outcome = "kept"
        for step_name, step in steps:
            result = step.filter(doc)
            if result is not True:
                reason = result[1] if isinstance(result, tuple) else "dropped"
                outcome = f"{step_name}: {reason}" if len(steps) > 1 else reason
                break
        outcomes.append(outcome)
    return time.perf_counter() - start, outcomes


def main(repeats: int = 3, limit: int | None = None) -> dict:
    """``limit``: only the first that many documents (a quick look; the figures are for all of them)."""
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    from mixer.report.console import format_table

    docs = sample_documents()[:limit]
    mb = sum(len(t.encode("utf-8")) for _, t in docs) / 1e6
    load_word_tokenizer("en").word_tokenize("Load spaCy before the clock starts.")
    results = {}
    for name in [*FILTERS, "chain"]:
        fast = [run(name, "fast", docs) for _ in range(repeats)]
        spacy_seconds, spacy_outcomes = run(name, "spacy", docs)
        fast_outcomes = fast[0][1]
        differ = [
            (docs[k][0], f, s)
            for k, (f, s) in enumerate(zip(fast_outcomes, spacy_outcomes, strict=True))
            if (f == "kept") != (s == "kept")
        ]
        results[name] = {
            "documents": len(docs),
            "agreement": 1 - len(differ) / len(docs),
            "kept_fast": fast_outcomes.count("kept"),
            "kept_spacy": spacy_outcomes.count("kept"),
            "fast_seconds": statistics.median(s for s, _ in fast),
            "spacy_seconds": spacy_seconds,
            "differ": differ,
        }
    rows = []
    for name, r in results.items():
        fast_s, spacy_s = r["fast_seconds"], r["spacy_seconds"]
        rows.append(
            [
                name,
                f"{r['documents']:,}",
                f"{r['kept_fast']:,} / {r['kept_spacy']:,}",
                f"{r['agreement']:.2%}",
                f"{len(docs) / fast_s:,.0f}",
                f"{mb / fast_s:.2f}",
                f"{len(docs) / spacy_s:,.1f}",
                f"{mb / spacy_s:.2f}",
                f"{spacy_s / fast_s:.0f}x",
            ]
        )
    print(
        f"\nText filters, word_splitter fast vs spacy, on the sample's web + pydoc + notes ({len(docs):,} "
        f"documents, {mb:.1f} MB), one process; fast: median of {repeats} runs, spacy: one run"
    )
    headers = ["filter", "documents", "kept fast / spacy", "agreement", "fast docs/s", "fast MB/s"]
    print(format_table([*headers, "spacy docs/s", "spacy MB/s", "speed-up"], rows))
    for name, r in results.items():
        for doc_id, f, s in r["differ"][:10]:
            print(f"  {name} differs on {doc_id}: fast {f}, spacy {s}")
    return results


if __name__ == "__main__":
    main()
