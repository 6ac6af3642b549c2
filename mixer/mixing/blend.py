"""Write one phase's blend: per-source document orders and sample starts, the interleaving, blend.json.

Files in ``phases/<phase>/`` (all ``.npy``, memory-mappable):

``<source>.order.npy``    document ids (within the source) in stream order: whole shuffled epochs of the
                          training documents, cut after the last document a sample touches
``<source>.samples.npy``  int64 ``[samples, 2]``: where sample j starts, as (position in order, token
                          offset in that document); sample j is the stream's tokens
                          ``[j * seq_len, j * seq_len + seq_len + 1)``
``blend_source.npy``      for global sample k, the index of its source (in ``blend.json``'s order)
``blend_sample.npy``      for global sample k, its index j within that source
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mixer.mixing.interleave import interleave
from mixer.mixing.targets import PhaseTargets


def source_stream(
    sizes: np.ndarray, training: np.ndarray, samples: int, seq_len: int, rng_key: list[int]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Document order and sample starts for one source; returns (order, starts, epochs used).

    Works one epoch at a time, so memory is a few bytes per document of one epoch plus the outputs.
    """
    doc_dtype = np.uint32 if len(sizes) < 2**32 else np.int64
    if samples == 0:
        return np.zeros(0, doc_dtype), np.zeros((0, 2), np.int64), 0
    needed = samples * seq_len + 1
    orders, starts = [], []
    consumed = 0  # stream tokens before this epoch
    position = 0  # documents before this epoch
    epoch = 0
    next_sample = 0
    while consumed < needed:
        rng = np.random.default_rng([*rng_key, epoch])
        order = training[rng.permutation(len(training))]
        ends = consumed + np.cumsum(sizes[order])
        # keep the documents up to the one holding stream token needed - 1
        last = int(np.searchsorted(ends, needed, side="left")) if ends[-1] >= needed else len(order) - 1
        order, ends = order[: last + 1], ends[: last + 1]
        # the samples starting inside this epoch's documents: stream offsets j * seq_len < ends[-1]
        last_sample = min(samples, -(-int(ends[-1]) // seq_len))
        inside = np.arange(next_sample, last_sample, dtype=np.int64) * seq_len
        doc = np.searchsorted(ends, inside, side="right")
        doc_start = np.where(doc > 0, ends[np.maximum(doc - 1, 0)], consumed)
        starts.append(np.stack([position + doc, inside - doc_start], axis=1))
        next_sample += len(inside)
        orders.append(order.astype(doc_dtype))
        consumed = int(ends[-1])
        position += len(order)
        epoch += 1
    order = np.concatenate(orders) if orders else np.zeros(0, doc_dtype)
    sample_starts = np.concatenate(starts) if starts else np.zeros((0, 2), np.int64)
    return order, sample_starts.astype(np.int64), epoch


def write_phase(
    folder: Path,
    targets: PhaseTargets,
    seed: int,
    sizes: dict[str, np.ndarray],
    training: dict[str, np.ndarray],
    fingerprint: str,
) -> dict[str, Any]:
    """Write the phase's blend into ``folder`` (an empty temporary folder); return blend.json's content."""
    names = [t.name for t in targets.sources]
    summary_sources = {}
    total_weight = sum(t.weight for t in targets.sources)
    for t in targets.sources:
        key = [seed, zlib.crc32(targets.phase.encode()), zlib.crc32(t.name.encode())]
        order, starts, epochs = source_stream(
            sizes[t.name], training[t.name], t.samples, targets.seq_len, key
        )
        np.save(folder / f"{t.name}.order.npy", order)
        np.save(folder / f"{t.name}.samples.npy", starts)
        summary_sources[t.name] = {
            "weight": t.weight,
            "target_share": t.weight / total_weight,
            "samples": t.samples,
            "tokens": t.samples * targets.seq_len,
            "realised_share": t.samples / targets.samples if targets.samples else 0.0,
            "training_tokens_available": t.tokens_available,
            "stream_tokens": t.tokens_needed,
            "repetition": round(t.repetition, 6) if t.samples else 0.0,
            "epochs_started": epochs,
            "documents_in_order": int(len(order)),
        }
    source, index = interleave([t.samples for t in targets.sources])
    np.save(folder / "blend_source.npy", source)
    np.save(folder / "blend_sample.npy", index)
    blend = {
        "phase": targets.phase,
        "seq_len": targets.seq_len,
        "samples": targets.samples,
        "tokens": targets.samples * targets.seq_len,
        "seed": seed,
        "fingerprint": fingerprint,
        "sources": summary_sources,
        "source_order": names,
    }
    (folder / "blend.json").write_text(json.dumps(blend, indent=1) + "\n")
    return blend


def megatron_args(output: Path, blend: dict[str, Any], shard_tokens: dict[str, list[tuple[str, int]]]) -> str:
    """A Megatron-LM ``--data-args-path`` file: ``weight prefix`` pairs reproducing the phase's shares.

    A source's share is split over its shards by their token counts. Megatron builds its own samples
    and its own validation split, so it does not see mixer's held-out documents as held out.
    """
    lines = []
    for name, s in blend["sources"].items():
        total = sum(t for _, t in shard_tokens[name])
        for prefix, tokens in shard_tokens[name]:
            if tokens and s["samples"]:
                lines.append(f"{s['realised_share'] * tokens / total:.10f} {(output / prefix).resolve()}")
    return "\n".join(lines) + "\n"
