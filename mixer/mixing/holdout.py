"""Held-out validation documents: chosen per source from the recipe seed, written as their own shards."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mixer.mixing.corpus import SourceCorpus
from mixer.recipe import HoldoutConfig
from mixer.shards.format import IndexedDatasetWriter


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


def write_validation(
    corpus: SourceCorpus,
    held: np.ndarray,
    folder: Path,
    dtype: np.dtype,
    text_bytes: Callable[[np.ndarray], int] | None = None,
) -> dict:
    """Copy the held-out documents to ``folder/<source>.bin/.idx``; return their counts.

    With ``text_bytes`` (a document's tokens -> the UTF-8 bytes of its text), also write each document's
    byte count to ``<source>.bytes.npy``: the trainer's bits-per-byte divides by these.
    """
    writer = IndexedDatasetWriter(folder / corpus.name, dtype)
    sizes = []
    for i in held.tolist():
        # read, not mapped: the held-out set grows with the source (up to 1,000 documents), and each document
        # read through the map would stay resident, so the build's peak memory would grow with its input
        doc = corpus.read_document(i)
        writer.add_document(doc)
        if text_bytes is not None:
            sizes.append(text_bytes(doc))
    info = writer.finalize()
    np.save(folder / f"{corpus.name}.docs.npy", held)
    summary = {"documents": info.documents, "tokens": info.tokens, "bin_sha256": info.bin_sha256}
    if text_bytes is not None:
        np.save(folder / f"{corpus.name}.bytes.npy", np.asarray(sizes, dtype=np.int64))
        summary["bytes"] = int(sum(sizes))
    return summary
