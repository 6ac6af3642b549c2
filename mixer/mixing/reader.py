"""Read a phase blend: sample k as ``seq_len + 1`` token ids and the source it came from.

Imports numpy and :mod:`mixer.shards.format` only, so the trainer can use it without the build stack. Every
index array is memory-mapped; nothing is loaded up front.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mixer.mixing.corpus import SourceCorpus


class BlendReader:
    """The samples of ``phases/<phase>/`` under a build's output folder, in training order."""

    def __init__(self, output: str | Path, phase: str):
        self.output = Path(output)
        self.folder = self.output / "phases" / phase
        blend_file = self.folder / "blend.json"
        if not blend_file.is_file():
            raise FileNotFoundError(f"{blend_file}: no such phase blend; run `mixer mix` (or `mixer build`)")
        self.blend = json.loads(blend_file.read_text())
        self.phase = phase
        self.seq_len = int(self.blend["seq_len"])
        self.sources = list(self.blend["source_order"])
        self._source = np.load(self.folder / "blend_source.npy", mmap_mode="r")
        self._sample = np.load(self.folder / "blend_sample.npy", mmap_mode="r")
        self._orders = {s: np.load(self.folder / f"{s}.order.npy", mmap_mode="r") for s in self.sources}
        self._starts = {s: np.load(self.folder / f"{s}.samples.npy", mmap_mode="r") for s in self.sources}
        self._corpora: dict[str, SourceCorpus] = {}

    def __len__(self) -> int:
        return len(self._source)

    def corpus(self, source: str) -> SourceCorpus:
        if source not in self._corpora:
            self._corpora[source] = SourceCorpus(self.output, source)
        return self._corpora[source]

    def source_sample(self, source: str, j: int) -> np.ndarray:
        """Sample ``j`` of one source's stream: ``seq_len + 1`` tokens across document boundaries."""
        order, corpus = self._orders[source], self.corpus(source)
        position, offset = (int(v) for v in self._starts[source][j])
        need = self.seq_len + 1
        pieces = []
        while need > 0:
            doc = corpus.document(int(order[position]))[offset:]
            piece = doc[:need]
            pieces.append(piece)
            need -= len(piece)
            position += 1
            offset = 0
        return np.concatenate(pieces).astype(np.int64)

    def __getitem__(self, k: int) -> tuple[np.ndarray, str]:
        """``(tokens, source)`` of global sample ``k``."""
        if not 0 <= k < len(self):
            raise IndexError(f"sample {k} out of range for {len(self)} samples in phase '{self.phase}'")
        source = self.sources[int(self._source[k])]
        return self.source_sample(source, int(self._sample[k])), source
