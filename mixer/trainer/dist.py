"""Which process this is: one plain process, or one rank of a `torchrun` job (NCCL on GPUs, gloo on CPU).

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables; without them the trainer runs as
a single process and never initialises a process group, so the same code path serves a laptop and a node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1 or dist.is_initialized()

    def barrier(self) -> None:
        if dist.is_initialized():
            dist.barrier()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over all ranks (the tensor itself in one process)."""
        if dist.is_initialized():
            value = value.clone()
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
            value /= self.world
        return value

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        if dist.is_initialized():
            value = value.clone()
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def gather(self, value: torch.Tensor) -> torch.Tensor:
        """Every rank's equally shaped `value`, concatenated in rank order along dimension 0."""
        if not dist.is_initialized():
            return value
        parts = [torch.empty_like(value) for _ in range(self.world)]
        dist.all_gather(parts, value)
        return torch.cat(parts)


def setup(device: str | None = None) -> Dist:
    """Join the `torchrun` job if there is one; pick this process's device (`device` overrides)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if dev.type == "cuda" else "gloo", device_id=dev if dev.type == "cuda" else None
        )
    return Dist(rank=rank, world=world, local_rank=local_rank, device=dev)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
