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
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mixer.mixing.interleave import interleave
from mixer.mixing.targets import PhaseTargets, target_shares

SAMPLE_INDEX_BYTES = 8 + 16  # per sample: blend_sample.npy (int64) and <source>.samples.npy (2 x int64)


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
    shares = dict(zip(names, target_shares([t.weight for t in targets.sources]), strict=True))
    for t in targets.sources:
        key = [seed, zlib.crc32(targets.phase.encode()), zlib.crc32(t.name.encode())]
        order, starts, epochs = source_stream(
            sizes[t.name], training[t.name], t.samples, targets.seq_len, key
        )
        np.save(folder / f"{t.name}.order.npy", order)
        np.save(folder / f"{t.name}.samples.npy", starts)
        summary_sources[t.name] = {
            "weight": t.weight,
            "target_share": shares[t.name],
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


def index_bytes(samples: int, sources: int, documents_in_order: int = 0) -> int:
    """Bytes of a phase's index files (headers aside): per sample its source (1 byte, 2 beyond 256
    sources), its index within the source and its start (24 bytes); per document in the streams' orders,
    4 bytes."""
    return samples * (SAMPLE_INDEX_BYTES + (1 if sources <= 256 else 2)) + 4 * documents_in_order


def phase_cost(targets: PhaseTargets, training_documents: dict[str, int]) -> dict[str, int]:
    """What writing the phase's blend costs, before it is written: samples, shuffled epochs of the most
    repeated source, and an upper bound of the index bytes (every started epoch counted whole)."""
    epochs = {t.name: -(-t.tokens_needed // t.tokens_available) if t.samples else 0 for t in targets.sources}
    documents = sum(epochs[n] * training_documents[n] for n in epochs)
    return {
        "samples": targets.samples,
        "epochs": max(epochs.values(), default=0),
        "documents_in_order": documents,
        "index_bytes": index_bytes(targets.samples, len(targets.sources), documents),
    }


def megatron_args(
    output: Path,
    blend: dict[str, Any],
    shard_tokens: dict[str, list[tuple[str, int]]],
    data_root: str | None = None,
) -> str:
    """A Megatron-LM ``--data-args-path`` file: ``weight prefix`` pairs reproducing the phase's shares.

    Each prefix is the shard's absolute path (through ``output``), or, with ``data_root``, its path inside
    the build folder joined to ``data_root`` (``.`` gives paths relative to the build folder; a folder names
    where a copied build lies). A source's share is split over its shards by their token counts. Megatron
    builds its own samples and its own validation split, so it does not see mixer's held-out documents as
    held out.
    """
    lines = []
    for name, s in blend["sources"].items():
        total = sum(t for _, t in shard_tokens[name])
        for prefix, tokens in shard_tokens[name]:
            if tokens and s["samples"]:
                if data_root is None:
                    path = str((output / prefix).resolve())
                else:
                    path = os.path.normpath(os.path.join(data_root, prefix))
                lines.append(f"{s['realised_share'] * tokens / total:.10f} {path}")
    return "\n".join(lines) + "\n"
