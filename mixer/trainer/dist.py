"""Which process this is: one plain process, or one rank of a `torchrun` job (NCCL on GPUs, gloo on CPU).

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables; without them the trainer runs as
a single process and never initialises a process group, so the same code path serves a laptop and a node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mixer.errors import MixerError


class DeviceError(MixerError):
    """`--device` names no device this process can train on; the message says what to pass instead."""


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


def choose_device(requested: str | None, local_rank: int, cuda_available: bool) -> torch.device:
    """The device this process trains on; pure (it asks nothing of CUDA), so it is testable anywhere.

    - None: this rank's GPU (`cuda:<local_rank>`) when CUDA is available, else the CPU;
    - `cuda` without an index: this rank's GPU, so one `--device cuda` serves every process of a torchrun
      job (`torch.cuda.set_device` needs an index: an index-less device is an error there);
    - anything else (`cuda:1`, `cpu`, `mps`) exactly as given.
    """
    if requested is None:
        return torch.device(f"cuda:{local_rank}" if cuda_available else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise DeviceError(
            f"--device {requested!r} is not a torch device; use cuda, cuda:N, cpu (or leave it out)"
        ) from None
    if device.type == "cuda":
        if not cuda_available:
            raise DeviceError(
                f"--device {requested} asks for a GPU, but torch sees none (torch.cuda.is_available() is "
                "False: no driver, no visible GPU, or a CPU-only torch); leave --device out to train on the CPU"
            )
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup(device: str | None = None) -> Dist:
    """Join the `torchrun` job if there is one; pick this process's device (`device` overrides)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = choose_device(device, local_rank, torch.cuda.is_available())
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
