"""Deduplication across all sources: exact (hash of normalised text), then near duplicates (MinHash LSH).

It runs before tokenizing, in three resumable stages under ``work/dedup/<key>/``:

1. **signatures** — per source, a datatrove pipeline ``reader → quality steps → DedupSignature`` with one
   task per input file, so each input file has a *global file id* (the source's offset + file index) and
   every document an ordinal within its file (its position among the documents that pass the quality
   steps). The step writes ``exact/<gid>.npy`` (64-bit hashes of datatrove's ``simplify_text``),
   ``ids/<gid>.json`` (document ids) and, through datatrove's own ``MinhashDedupSignature``, the MinHash
   bucket files ``minhash/bucket_XXX/<gid>.minhash.sig``. datatrove's executor skips finished tasks, so a
   rerun redoes only unfinished files.
2. **candidate pairs** — datatrove's ``MinhashDedupBuckets`` (one task per band) writes ``pairs/*.dups``.
3. **clustering** (one process, here): documents with equal exact hashes form groups (but documents whose
   normalised text is empty, punctuation and whitespace only, are no one's copy); LSH candidate pairs
   whose estimated Jaccard similarity (equal MinHash values over all bands x rows) reaches the threshold are
   joined into clusters (union-find). In each group or cluster the document of the highest-priority source
   is kept — then the lowest file, then the earliest document — and every other one is removed, with its
   kind (exact or near) and the document it duplicates: ``remove/<gid>.npy``, plus ``dedup.json``
   (counts per source, kind and source duplicated) and ``done`` when everything is written.

Once the clusters are decided the build removes the signatures and candidate pairs (:func:`clear_signatures`;
the recipe's ``build.keep_work`` keeps them); the decisions stay, so any source can be tokenized again.

The tokenize pipeline then drops the listed documents (:class:`DedupRemovals`, used by the quality stage),
counting them per file as ``dedup`` drops with the reason ``exact_of_<source>`` or ``near_of_<source>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig, ngrams, simplify_text

from mixer.atomic import write_json_atomic
from mixer.filters.english_words import FastEnglishSplitter
from mixer.recipe import DedupConfig

RULES = 2  # part of the dedup key: decisions made under other rules are not reused (2: empty text kept)
EXACT, NEAR = 1, 2
KINDS = {EXACT: "exact", NEAR: "near"}
REMOVE_DTYPE = np.dtype([("doc", "<u4"), ("kind", "u1"), ("of_gid", "<u4"), ("of_doc", "<u4")])


def minhash_config(cfg: DedupConfig) -> MinhashConfig:
    near = cfg.near
    assert near is not None
    return MinhashConfig(
        n_grams=near.ngram,
        num_buckets=near.bands,
        hashes_per_bucket=near.rows,
        seed=near.seed,
        hash_config=HashConfig(precision=64),
    )


# For ASCII text the diacritics step (NFD, then drop combining marks) changes nothing and costs the most.
_ASCII_NORM = dataclasses.replace(TextNormConfig(), norm_unicode_diacritics=False)


def normalise(text: str) -> str:
    """datatrove's ``simplify_text`` with its default settings (lower case, numbers folded, punctuation and
    repeated whitespace removed, diacritics dropped), skipping the diacritics pass for ASCII text."""
    return simplify_text(text, _ASCII_NORM if text.isascii() else TextNormConfig())


def exact_hash(normalised: str) -> int:
    """64 bits of sha1 over normalised text."""
    return int.from_bytes(hashlib.sha1(normalised.encode("utf-8")).digest()[:8], "little")


# Documents that normalise to nothing (punctuation and whitespace only) are left out of exact dedup: they
# share no text, so they are not copies of each other ("---" and "* * *" would be). Near dedup never pairs
# them: they have no shingles.
NOTHING = exact_hash("")


class _NormalisedSignature(MinhashDedupSignature):
    """datatrove's MinHash signatures over text the caller normalised already (once, for both hashes)."""

    def get_shingles(self, text: str) -> np.ndarray:
        words = self.word_tokenizer.word_tokenize(text)
        return np.fromiter(
            [self._hash_func(" ".join(x)) for x in ngrams(words, self.config.n_grams)], dtype=np.uint64
        ).reshape((-1, 1))


class DedupSignature(PipelineStep):
    """Signatures of one input file per task (see the module docstring); the last step of the pipeline."""

    name = "mixer dedup signatures"
    type = "🫂 - DEDUP"

    def __init__(self, folder: str, offset: int, cfg: DedupConfig):
        super().__init__()
        self.folder = folder
        self.offset = offset
        self.cfg = cfg

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> None:
        gid = self.offset + rank
        folder = Path(self.folder)
        ids: list[str] = []
        hashes: list[int] = []

        def tap() -> DocumentsPipeline:
            for doc in data:
                ids.append(doc.id)
                with self.track_time():
                    text = normalise(doc.text)
                if self.cfg.exact:
                    hashes.append(exact_hash(text))
                yield Document(text=text, id=doc.id)

        if self.cfg.near is not None:
            minhash = _NormalisedSignature(
                str(folder / "minhash"), minhash_config(self.cfg), language=FastEnglishSplitter()
            )
            with self.track_time():
                minhash.run(tap(), rank=gid)
        else:
            for _ in tap():
                pass
        (folder / "exact").mkdir(parents=True, exist_ok=True)
        tmp = folder / "exact" / f".{gid}.tmp.npy"
        np.save(tmp, np.asarray(hashes, dtype=np.uint64))
        os.replace(tmp, folder / "exact" / f"{gid}.npy")
        write_json_atomic(folder / "ids" / f"{gid}.json", ids)
        self.stat_update("documents", value=len(ids))


def candidate_pairs_step(folder: Path, cfg: DedupConfig) -> MinhashDedupBuckets:
    return MinhashDedupBuckets(str(folder / "minhash"), str(folder / "pairs"), config=minhash_config(cfg))


@dataclass
class FileIds:
    """Global file ids: source ``s`` holds ``offset[s] .. offset[s] + files[s] - 1``."""

    sources: list[str]
    offsets: list[int]
    files: list[int]

    def source_of(self, gid: int) -> int:
        return int(np.searchsorted(self.offsets, gid, side="right")) - 1

    @property
    def total(self) -> int:
        return self.offsets[-1] + self.files[-1] if self.offsets else 0


SIGNATURES = ("exact", "minhash", "pairs")  # what only clustering reads


def clear_signatures(folder: Path) -> None:
    """Remove the signatures and candidate pairs of a finished dedup (what the build keeps is its decisions:
    ``remove/``, ``ids/``, ``decisions/`` and ``dedup.json``, enough to tokenize any source again)."""
    if (folder / "done").is_file():
        for name in SIGNATURES:
            shutil.rmtree(folder / name, ignore_errors=True)


def cluster(folder: Path, ids: FileIds, cfg: DedupConfig, priority: list[str]) -> dict[str, Any]:
    """Stage 3: decide what each file loses; write ``remove/`` and ``dedup.json``; return the summary."""
    rank_of_source = {name: priority.index(name) for name in ids.sources}
    gids, docs, hashes = [], [], []
    for gid in range(ids.total):
        h = np.load(folder / "exact" / f"{gid}.npy") if cfg.exact else None
        n = len(json.loads((folder / "ids" / f"{gid}.json").read_text()))
        gids.append(np.full(n, gid, dtype=np.int64))
        docs.append(np.arange(n, dtype=np.int64))
        if h is not None:
            hashes.append(h)
    gid_all = np.concatenate(gids) if gids else np.zeros(0, np.int64)
    doc_all = np.concatenate(docs) if docs else np.zeros(0, np.int64)
    source_rank = np.asarray(
        [rank_of_source[ids.sources[ids.source_of(g)]] for g in range(ids.total)], np.int64
    )
    prio_all = source_rank[gid_all] if len(gid_all) else np.zeros(0, np.int64)
    # document number of (file, position): documents are numbered file after file
    first_of_file = np.concatenate([[0], np.cumsum([len(d) for d in docs], dtype=np.int64)])

    def number(doc: tuple[int, int]) -> int:
        return int(first_of_file[doc[0]]) + doc[1]

    # the keep preference: priority, then file, then position
    preference = np.lexsort((doc_all, gid_all, prio_all))
    rank_of = np.empty(len(preference), np.int64)
    rank_of[preference] = np.arange(len(preference))

    removed: dict[int, tuple[int, int]] = {}  # document number -> (kind, kept document number)
    if cfg.exact and len(gid_all):
        h_all = np.concatenate(hashes)
        by = np.lexsort((rank_of, h_all))
        same = np.concatenate([[False], h_all[by][1:] == h_all[by][:-1]]) & (h_all[by] != NOTHING)
        keeper = by[0]
        for i, dup in zip(by.tolist(), same.tolist(), strict=False):
            if dup:
                removed[i] = (EXACT, int(keeper))
            else:
                keeper = i
    if cfg.near is not None:
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while parent.get(x, x) != root:
                parent[x], x = root, parent[x]
            return root

        signatures = _Signatures(folder, minhash_config(cfg)) if cfg.near.threshold is not None else None
        for a, b in _pairs(folder / "pairs"):
            if signatures is not None and signatures.similarity(a, b) < cfg.near.threshold:
                continue
            ra, rb = find(number(a)), find(number(b))
            if ra != rb:
                parent[max(ra, rb, key=lambda k: rank_of[k])] = min(ra, rb, key=lambda k: rank_of[k])
        clusters: dict[int, list[int]] = {}
        for node in list(parent):
            clusters.setdefault(find(node), []).append(node)
        for root, members in clusters.items():
            members = sorted(set(members) | {root}, key=lambda k: rank_of[k])
            alive = [m for m in members if m not in removed]
            if not alive:
                continue
            keep = alive[0]
            for m in alive[1:]:
                removed[m] = (NEAR, keep)

    per_gid: dict[int, list[tuple[int, int, int, int]]] = {}
    summary: dict[str, dict[str, int]] = {name: {} for name in ids.sources}
    for i, (kind, kept) in removed.items():
        g, d = int(gid_all[i]), int(doc_all[i])
        kg, kd = int(gid_all[kept]), int(doc_all[kept])
        per_gid.setdefault(g, []).append((d, kind, kg, kd))
        reason = f"{KINDS[kind]}_of_{ids.sources[ids.source_of(kg)]}"
        counts = summary[ids.sources[ids.source_of(g)]]
        counts[reason] = counts.get(reason, 0) + 1
    out = folder / "remove"
    out.mkdir(parents=True, exist_ok=True)
    for g in range(ids.total):
        rows = sorted(per_gid.get(g, []))
        np.save(out / f"{g}.npy", np.asarray(rows, dtype=REMOVE_DTYPE) if rows else np.zeros(0, REMOVE_DTYPE))
    result = {
        "documents": int(len(gid_all)),
        "removed": {name: dict(sorted(c.items())) for name, c in summary.items()},
    }
    write_json_atomic(folder / "dedup.json", result)
    (folder / "done").write_text("")
    return result


def _pairs(folder: Path):
    """Candidate pairs ``((gid, doc), (gid, doc))`` from datatrove's ``.dups`` files."""
    for file in sorted(folder.glob("*.dups")):
        data = np.fromfile(file, dtype="<u4").reshape(-1, 4)
        for g1, d1, g2, d2 in data.tolist():
            yield (g1, d1), (g2, d2)


class _Signatures:
    """Every document's full MinHash signature (all bands), read back from the bucket files on demand."""

    def __init__(self, folder: Path, config: MinhashConfig):
        self.folder = folder / "minhash"
        self.config = config
        self._cache: dict[int, dict[int, np.ndarray]] = {}

    def _load(self, gid: int) -> dict[int, np.ndarray]:
        if gid not in self._cache:
            rows = self.config.hashes_per_bucket
            fmt = self.config.hash_config.struct_format
            record = struct.calcsize(f"<{rows}{fmt}I")
            per_doc: dict[int, list[np.ndarray]] = {}
            for b in range(self.config.num_buckets):
                raw = (self.folder / f"bucket_{b:03d}" / f"{gid:05d}.minhash.sig").read_bytes()
                dtype = np.dtype([("h", f"<{fmt}", (rows,)), ("doc", "<u4")])
                assert len(raw) % record == 0
                arr = np.frombuffer(raw, dtype=dtype)
                for h, doc in zip(arr["h"], arr["doc"].tolist(), strict=False):
                    per_doc.setdefault(doc, []).append(h)
            if len(self._cache) >= 8:  # pairs mostly repeat the same few files: keep a handful
                self._cache.pop(next(iter(self._cache)))
            self._cache[gid] = {d: np.concatenate(v) for d, v in per_doc.items()}
        return self._cache[gid]

    def similarity(self, a: tuple[int, int], b: tuple[int, int]) -> float:
        sa = self._load(a[0])[a[1]]
        sb = self._load(b[0])[b[1]]
        return float(np.mean(sa == sb))


class DedupRemovals:
    """The documents the tokenize pipeline drops as duplicates, file by file (see the module docstring)."""

    def __init__(self, folder: str, offset: int, sources: list[str], offsets: list[int]):
        self.folder = folder
        self.offset = offset
        self.ids = FileIds(sources, offsets, [0] * len(offsets))
        self._file: int | None = None
        self._ordinal = 0
        self._remove: dict[int, tuple[int, int, int]] = {}
        self._ids: dict[int, list[str]] = {}

    def check(self, file_index: int) -> tuple[str, str] | None:
        """Call once per document that passed the quality steps: (reason, duplicated id) or None to keep."""
        if file_index != self._file:
            self._file, self._ordinal = file_index, 0
            rows = np.load(Path(self.folder) / "remove" / f"{self.offset + file_index}.npy")
            self._remove = {int(r["doc"]): (int(r["kind"]), int(r["of_gid"]), int(r["of_doc"])) for r in rows}
        ordinal = self._ordinal
        self._ordinal += 1
        hit = self._remove.get(ordinal)
        if hit is None:
            return None
        kind, of_gid, of_doc = hit
        source = self.ids.sources[self.ids.source_of(of_gid)]
        if of_gid not in self._ids:
            self._ids[of_gid] = json.loads((Path(self.folder) / "ids" / f"{of_gid}.json").read_text())
        return f"{KINDS[kind]}_of_{source}", f"{source}:{self._ids[of_gid][of_doc]}"
