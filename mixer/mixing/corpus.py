"""A source's documents across its shards, addressed 0..D-1 in shard order (reads only the on-disk contract).

Used by the blend reader, and so by the trainer: it imports numpy and :mod:`mixer.shards.format` only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mixer.shards.format import IndexedDataset


class SourceCorpus:
    """The documents of ``sources/<name>/`` in the order of its shards."""

    def __init__(self, output: str | Path, name: str):
        folder = Path(output) / "sources" / name
        marker = folder / "assembled.json"
        if not marker.is_file():
            raise FileNotFoundError(
                f"{folder}: no assembled.json; the source's shards are missing or incomplete"
            )
        summary = json.loads(marker.read_text())
        self.name = name
        self.folder = folder
        self.summary: dict = summary  # counts, skip and drop reasons (see mixer.build.assemble)
        self.fingerprint: str = summary["fingerprint"]
        self.shards = [IndexedDataset(folder / s["name"]) for s in summary["shards"]]
        counts = [len(s) for s in self.shards]
        self.starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self.documents = int(self.starts[-1])
        self.tokens = int(sum(s.num_tokens for s in self.shards))

    def sizes(self) -> np.ndarray:
        """Token count of every document (int64, loaded: 8 bytes a document)."""
        if not self.shards:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.asarray(s.sizes, dtype=np.int64) for s in self.shards])

    def __len__(self) -> int:
        return self.documents

    def document(self, i: int) -> np.ndarray:
        shard = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self.shards[shard][int(i - self.starts[shard])]

    def read_document(self, i: int) -> np.ndarray:
        """Document ``i`` read with ``pread`` into a new array: unlike :meth:`document`, no page of the shard
        stays mapped, and counted in this process's resident memory, afterwards (the kernel maps a whole
        page-cache block, often hundreds of KB, for each document touched through the map)."""
        shard = int(np.searchsorted(self.starts, i, side="right")) - 1
        ds, j = self.shards[shard], int(i - self.starts[shard])
        return np.frombuffer(ds.read_bytes(j, j + 1), dtype=ds.dtype.newbyteorder("<"))
