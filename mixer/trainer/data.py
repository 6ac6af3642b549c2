"""Batches for one training phase, read from the phase blend (memory-mapped, nothing loaded up front).

The data order is the blend's sample order and nothing else: global batch ``b`` is samples
``b * global_batch .. (b + 1) * global_batch - 1``, and rank ``r`` of ``world`` takes the ``r``-th
contiguous slice of it. The position is one number, the samples consumed so far, so a run resumed with
another number of processes sees exactly the samples it would have seen.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from mixer.mixing.reader import BlendReader


@dataclass
class Batch:
    tokens: torch.Tensor  # int64 [micro, seq_len + 1]: the samples (page-locked when read for a GPU)
    sources: list[str]  # the source of each row

    @property
    def inputs(self) -> torch.Tensor:
        """int64 [micro, seq_len]"""
        return self.tokens[:, :-1]

    @property
    def targets(self) -> torch.Tensor:
        """int64 [micro, seq_len]: the inputs shifted by one token"""
        return self.tokens[:, 1:]


@dataclass
class Step:
    """One optimizer step's data for this rank."""

    batches: list[Batch]  # this rank's micro-batches, in order
    crcs: torch.Tensor  # int64: CRC-32 of each of this rank's samples, in order (the step's digest)
    consumed: int  # samples consumed by all ranks once this step is done


class PhaseBatches:
    """Micro-batches of one rank's share of each global batch, from ``consumed`` samples on."""

    def __init__(
        self,
        reader: BlendReader,
        *,
        global_batch: int,
        micro_batch: int,
        rank: int = 0,
        world: int = 1,
        consumed: int = 0,
        pin_memory: bool = False,
    ):
        if global_batch % world:
            raise ValueError(f"global batch of {global_batch} samples does not split over {world} processes")
        per_rank = global_batch // world
        if per_rank % micro_batch:
            raise ValueError(
                f"micro batch {micro_batch} does not divide the {per_rank} samples each process takes per step"
            )
        if consumed % global_batch:
            raise ValueError(
                f"consumed samples {consumed} is not a whole number of global batches of {global_batch}"
            )
        self.reader, self.global_batch, self.micro_batch = reader, global_batch, micro_batch
        self.rank, self.world, self.consumed = rank, world, consumed
        # Page-locked host memory lets a copy to the GPU run asynchronously (non_blocking=True); only for CUDA.
        self.pin_memory = pin_memory

    @property
    def steps(self) -> int:
        """Whole global batches in the phase."""
        return len(self.reader) // self.global_batch

    def step_batches(self) -> list[Batch]:
        """This rank's micro-batches of the next global batch (the caller accumulates over them)."""
        return self.next_step().batches

    def next_step(self) -> Step:
        """The next global batch's share of this rank, with the CRC of every sample; advances the position."""
        if self.consumed + self.global_batch > len(self.reader):
            raise StopIteration
        per_rank = self.global_batch // self.world
        first = self.consumed + self.rank * per_rank
        batches = []
        for start in range(first, first + per_rank, self.micro_batch):
            rows, sources = zip(
                *(self.reader[k] for k in range(start, start + self.micro_batch)), strict=True
            )
            tokens = torch.empty(
                (self.micro_batch, self.reader.seq_len + 1), dtype=torch.int64, pin_memory=self.pin_memory
            )
            np.stack(rows, out=tokens.numpy())
            batches.append(Batch(tokens, list(sources)))
        crcs = torch.tensor(
            [zlib.crc32(row.numpy().tobytes()) for b in batches for row in b.tokens], dtype=torch.int64
        )
        self.consumed += self.global_batch
        return Step(batches, crcs, self.consumed)

    def __iter__(self) -> Iterator[list[Batch]]:
        while self.consumed + self.global_batch <= len(self.reader):
            yield self.step_batches()
