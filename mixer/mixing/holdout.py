"""Held-out validation documents: chosen per source from the recipe seed, written as their own shards."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from mixer.mixing.corpus import SourceCorpus
from mixer.recipe import HoldoutConfig
from mixer.shards import IndexedDatasetWriter


def holdout_count(documents: int, cfg: HoldoutConfig) -> int:
    """How many of a source's documents are held out; a source always keeps one for training."""
    if documents <= 1 or cfg.fraction == 0:
        return 0
    k = max(int(documents * cfg.fraction), cfg.min_documents)
    return min(k, cfg.max_documents, documents - 1)


def holdout_documents(name: str, documents: int, cfg: HoldoutConfig, seed: int) -> np.ndarray:
    """Sorted ids of the held-out documents; depends only on the seed, the source name and its size."""
    k = holdout_count(documents, cfg)
    rng = np.random.default_rng([seed, zlib.crc32(b"holdout"), zlib.crc32(name.encode())])
    return (
        np.sort(rng.choice(documents, size=k, replace=False)).astype(np.int64) if k else np.zeros(0, np.int64)
    )


def write_validation(corpus: SourceCorpus, held: np.ndarray, folder: Path, dtype: np.dtype) -> dict:
    """Copy the held-out documents to ``folder/<source>.bin/.idx``; return their counts."""
    writer = IndexedDatasetWriter(folder / corpus.name, dtype)
    for i in held.tolist():
        writer.add_document(corpus.document(i))
    info = writer.finalize()
    np.save(folder / f"{corpus.name}.docs.npy", held)
    return {"documents": info.documents, "tokens": info.tokens, "bin_sha256": info.bin_sha256}
