"""Validation loss and bits per byte per source, on the held-out documents the build wrote to `validation/`.

For each source the evaluation takes whole held-out documents in order until `eval_tokens` would be
exceeded (at least one), concatenates them and cuts the stream into windows of `seq_len + 1` tokens that
overlap by one, so every token after the first is predicted exactly once with up to `seq_len` tokens of
context. The same tokens are evaluated at every pass, by any number of processes (windows are dealt out
round-robin and the sums all-reduced).

- loss: mean cross-entropy in nats over the predicted tokens;
- bits per byte: the summed cross-entropy in bits divided by the UTF-8 bytes of those documents' text
  (`validation/<source>.bytes.npy`, written by the build), so tokenizers of different vocabularies compare.
  The EOS token that ends each document is predicted and counted in the loss but has no bytes.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mixer.shards.format import IndexedDataset
from mixer.trainer.dist import Dist


@dataclass
class ValidationSet:
    source: str
    tokens: np.ndarray  # the selected documents, concatenated (int64)
    bytes: int | None  # their text's UTF-8 bytes; None when the build recorded none
    documents: int


def load_validation(output: Path, sources: list[str], eval_tokens: int) -> dict[str, ValidationSet]:
    """The validation set of every source that has held-out documents."""
    folder = Path(output) / "validation"
    sets = {}
    for source in sources:
        prefix = folder / source
        if not prefix.with_suffix(".idx").is_file():
            continue
        data = IndexedDataset(prefix)
        sizes = np.asarray(data.sizes, dtype=np.int64)
        if len(sizes) == 0:
            continue
        count = max(1, int(np.searchsorted(np.cumsum(sizes), eval_tokens, side="right")))
        tokens = np.concatenate([np.asarray(data[i], dtype=np.int64) for i in range(count)])
        bytes_file = folder / f"{source}.bytes.npy"
        text_bytes = int(np.load(bytes_file)[:count].sum()) if bytes_file.is_file() else None
        sets[source] = ValidationSet(source, tokens, text_bytes, count)
    return sets


@torch.no_grad()
def evaluate(
    model: nn.Module,
    sets: dict[str, ValidationSet],
    seq_len: int,
    micro_batch: int,
    d: Dist,
    autocast: contextlib.AbstractContextManager | None = None,
) -> dict[str, dict[str, float | None]]:
    """`{source: {"loss": nats per token, "bpb": bits per byte or None, "tokens": predicted tokens}}`."""
    was_training = model.training
    model.eval()
    results = {}
    for source, vs in sets.items():
        windows = _windows(vs.tokens, seq_len)
        mine = windows[d.rank :: d.world]
        total = torch.zeros(2, dtype=torch.float64, device=d.device)  # summed nats, predicted tokens
        # every rank runs the same number of forward passes (FSDP's collectives need that): pad with nothing
        passes = -(-len(windows) // d.world)
        for start in range(0, max(passes, 1), micro_batch):
            chunk = mine[start : start + micro_batch]
            if not chunk:
                chunk = [windows[0][:1]]  # a dummy window with no predicted tokens keeps ranks in step
            inputs, targets, mask = _pad(chunk, d.device)
            with autocast or contextlib.nullcontext():
                logits, _ = model(inputs)
            losses = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
            total[0] += (losses * mask.flatten()).sum().double()
            total[1] += mask.sum().double()
        total = d.sum(total)
        nats, count = float(total[0]), int(total[1])
        results[source] = {
            "loss": nats / count if count else float("nan"),
            "bpb": nats / math.log(2) / vs.bytes if vs.bytes else None,
            "tokens": count,
        }
    model.train(was_training)
    return results


def _windows(tokens: np.ndarray, seq_len: int) -> list[np.ndarray]:
    """Windows of up to seq_len + 1 tokens starting every seq_len tokens (the last may be shorter)."""
    return [tokens[s : s + seq_len + 1] for s in range(0, max(len(tokens) - 1, 1), seq_len)]


def _pad(windows: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(w) for w in windows) - 1
    width = max(width, 1)
    inputs = torch.zeros(len(windows), width, dtype=torch.long)
    targets = torch.zeros(len(windows), width, dtype=torch.long)
    mask = torch.zeros(len(windows), width, dtype=torch.float32)
    for i, w in enumerate(windows):
        n = len(w) - 1
        if n <= 0:
            continue
        t = torch.from_numpy(np.asarray(w, dtype=np.int64))
        inputs[i, :n], targets[i, :n], mask[i, :n] = t[:-1], t[1:], 1.0
    return inputs.to(device), targets.to(device), mask.to(device)
