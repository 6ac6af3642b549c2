"""Megatron's largest-deficit rule for interleaving sources' samples, compiled with numba.

At step i every source's deficit is ``weight * max(i, 1) - samples_taken``; the largest deficit takes the
next sample (ties: the lower source index). This is ``build_blending_indices`` of Megatron-LM's
``helpers.cpp``. The weights are the phase's exact per-source sample counts divided by the total, and a
source that has all its samples is passed over, so every source ends with exactly its count.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _largest_deficit(weights, counts, out_source, out_index):  # pragma: no cover - compiled
    current = np.zeros(len(weights), dtype=np.int64)
    for i in range(len(out_source)):
        x = max(float(i), 1.0)
        best = -1
        best_error = -np.inf
        for d in range(len(weights)):
            if current[d] >= counts[d]:
                continue
            error = weights[d] * x - current[d]
            if error > best_error:
                best = d
                best_error = error
        out_source[i] = best
        out_index[i] = current[best]
        current[best] += 1


def interleave(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(source of sample k, index of that sample within its source)`` for ``sum(counts)`` samples."""
    total = int(sum(counts))
    weights = np.asarray(counts, dtype=np.float64) / max(total, 1)
    dtype = np.uint8 if len(counts) <= 256 else np.uint16
    source = np.empty(total, dtype=np.int64)
    index = np.empty(total, dtype=np.int64)
    _largest_deficit(weights, np.asarray(counts, dtype=np.int64), source, index)
    return source.astype(dtype), index


def interleave_reference(counts: list[int]) -> tuple[list[int], list[int]]:
    """The same rule in plain Python (for tests): slow, obviously correct."""
    total = sum(counts)
    weights = [c / total for c in counts]
    current = [0] * len(counts)
    sources, indices = [], []
    for i in range(total):
        x = max(i, 1.0)
        candidates = [(weights[d] * x - current[d], -d) for d in range(len(counts)) if current[d] < counts[d]]
        d = -max(candidates)[1]
        sources.append(d)
        indices.append(current[d])
        current[d] += 1
    return sources, indices
